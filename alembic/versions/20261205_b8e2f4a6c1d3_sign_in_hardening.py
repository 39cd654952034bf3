"""Sign-in hardening (issue 11, items 1, 12 and 13): second-factor failures counted on their own
and per pending sign-in, TOTP secrets encrypted at rest, a must-change-password flag.

A branch of its own (label ``sign_in_hardening``) off the platform revision. Existing plaintext
TOTP secrets are encrypted here with the key (``HMS_SECRET_KEY`` or ``data/secret.key``, created
if absent), the same way the server encrypts new ones.

Revision ID: b8e2f4a6c1d3
Revises: 175eecaaff8b
Create Date: 2026-12-05 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "b8e2f4a6c1d3"
down_revision: str | None = "175eecaaff8b"
branch_labels: str | Sequence[str] | None = ("sign_in_hardening",)
depends_on: str | Sequence[str] | None = None

FERNET_PREFIX = "gAAAAA"  # every Fernet token starts so (version byte 0x80, then the time)


def _rewrite_secrets(change) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, mfa_secret FROM app_user WHERE mfa_secret IS NOT NULL")).all()
    for user_id, secret in rows:
        new = change(secret)
        if new != secret:
            bind.execute(
                sa.text("UPDATE app_user SET mfa_secret = :secret WHERE id = :id"),
                {"secret": new, "id": user_id},
            )


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mfa_failed_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.alter_column(
            "mfa_secret",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            type_=sqlmodel.sql.sqltypes.AutoString(length=255),
            existing_nullable=True,
        )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_codes", sa.Integer(), nullable=False, server_default="0"))

    from hms_app.secret_box import seal_secret

    _rewrite_secrets(lambda secret: secret if secret.startswith(FERNET_PREFIX) else seal_secret(secret))


def downgrade() -> None:
    from hms_app.secret_box import open_secret

    _rewrite_secrets(lambda secret: open_secret(secret) if secret.startswith(FERNET_PREFIX) else secret)
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_column("failed_codes")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.alter_column(
            "mfa_secret",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=255),
            type_=sqlmodel.sql.sqltypes.AutoString(length=64),
            existing_nullable=True,
        )
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("mfa_failed_attempts")
