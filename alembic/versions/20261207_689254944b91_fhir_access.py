"""FHIR access: registered system clients, their bearer tokens (hashes only) and spent assertions;
the integration role that FHIR clients act under, with read grants

Revision ID: 689254944b91
Revises: b3f9c1d27e40
A branch of its own (label ``fhir_access``) off the interop module's first revision, so that the
FHIR API's own revisions and these never have to be ordered against each other.
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from hms_app.migrations import add_roles_and_grants

# Frozen here on purpose: later changes to the defaults in code must not rewrite history.
NEW_ROLES = {"integration": "System integration (FHIR clients)"}
NEW_GRANTS = {
    "integration": ["patient.read", "appointment.read", "lab.read", "medication.read", "imaging.read"]
}

revision: str = "689254944b91"
down_revision: str | None = "b3f9c1d27e40"
branch_labels: str | Sequence[str] | None = ("fhir_access",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fhir_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("service_user_id", sa.Integer(), nullable=False),
        sa.Column("jwks", sa.Text(), nullable=False),
        sa.Column("allowed_scopes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_token_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"]),
        sa.ForeignKeyConstraint(["service_user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_user_id"),
    )
    with op.batch_alter_table("fhir_client", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fhir_client_name"), ["name"], unique=True)
    op.create_table(
        "fhir_access_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("scopes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["fhir_client.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("fhir_access_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fhir_access_token_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fhir_access_token_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_fhir_access_token_patient_id"), ["patient_id"], unique=False)
    op.create_table(
        "fhir_used_assertion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("jti", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["fhir_client.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id", "jti", name="uq_fhir_used_assertion"),
    )
    with op.batch_alter_table("fhir_used_assertion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fhir_used_assertion_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_fhir_used_assertion_expires_at"), ["expires_at"], unique=False)
    add_roles_and_grants(op.get_bind(), NEW_ROLES, NEW_GRANTS)


def downgrade() -> None:
    bind = op.get_bind()
    # Only the integration role's own grants go: the permissions it holds are other roles' too.
    role_id = bind.execute(sa.text("SELECT id FROM role WHERE name = 'integration'")).scalar()
    if role_id is not None:
        bind.execute(sa.text("DELETE FROM role_permission WHERE role_id = :r"), {"r": role_id})
        bind.execute(sa.text("DELETE FROM user_role WHERE role_id = :r"), {"r": role_id})
        bind.execute(sa.text("DELETE FROM role WHERE id = :r"), {"r": role_id})
    with op.batch_alter_table("fhir_used_assertion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_used_assertion_expires_at"))
        batch_op.drop_index(batch_op.f("ix_fhir_used_assertion_client_id"))
    op.drop_table("fhir_used_assertion")
    with op.batch_alter_table("fhir_access_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_access_token_patient_id"))
        batch_op.drop_index(batch_op.f("ix_fhir_access_token_expires_at"))
        batch_op.drop_index(batch_op.f("ix_fhir_access_token_client_id"))
    op.drop_table("fhir_access_token")
    with op.batch_alter_table("fhir_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_client_name"))
    op.drop_table("fhir_client")
