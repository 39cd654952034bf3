"""Sign-in throttle for unknown usernames and mailed portal sign-up links (issue 11, item 10).

A branch of its own (label ``enumeration_guards``) off the platform revision: neither table has a
foreign key, so they need nothing but the base.

Revision ID: b3e9d1f0a7c2
Revises: 175eecaaff8b
Create Date: 2026-12-05 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "b3e9d1f0a7c2"
down_revision: str | None = "175eecaaff8b"
branch_labels: str | Sequence[str] | None = ("enumeration_guards",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    with op.batch_alter_table("sign_in_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_throttle_updated_at"), ["updated_at"], unique=False)
    op.create_table(
        "signup_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("form", sa.Text(), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("signup_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signup_request_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signup_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signup_request_expires_at"))
    op.drop_table("signup_request")
    with op.batch_alter_table("sign_in_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_throttle_updated_at"))
    op.drop_table("sign_in_throttle")
