"""FHIR API: the versions of each resource written through it (elements HMS does not model are
kept with them) and the identifiers clients gave them; the permissions to manage FHIR clients and to import outside data

Revision ID: b3f9c1d27e40
Revises: f1c7a2e9d305
A branch of its own (label ``interop``) off the laboratory's critical-alert revision, the newest
head that the patients and users tables it points at come before.
Create Date: 2026-12-06 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from hms_app.migrations import add_roles_and_grants, remove_roles_and_grants

# Frozen here on purpose: later changes to the defaults in code must not rewrite history.
NEW_GRANTS = {"admin": ["fhir.client.manage", "data.import"]}
NEW_PERMISSIONS = ["fhir.client.manage", "data.import"]

revision: str = "b3f9c1d27e40"
down_revision: str | None = "f1c7a2e9d305"
branch_labels: str | Sequence[str] | None = ("interop",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fhir_resource_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("resource_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("projection", sa.Text(), nullable=True),
        sa.Column("written_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("written_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"]),
        sa.ForeignKeyConstraint(["written_by"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resource_type", "resource_id", "version_id"),
    )
    with op.batch_alter_table("fhir_resource_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fhir_resource_version_patient_id"), ["patient_id"], unique=False)
    op.create_table(
        "fhir_identifier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("system", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fhir_identifier", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_identifier_lookup", ["resource_type", "system", "value"], unique=False)
        batch_op.create_index(batch_op.f("ix_fhir_identifier_row_id"), ["row_id"], unique=False)
    add_roles_and_grants(op.get_bind(), {}, NEW_GRANTS)


def downgrade() -> None:
    remove_roles_and_grants(op.get_bind(), {}, NEW_PERMISSIONS)
    with op.batch_alter_table("fhir_identifier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_identifier_row_id"))
        batch_op.drop_index("ix_fhir_identifier_lookup")
    op.drop_table("fhir_identifier")
    with op.batch_alter_table("fhir_resource_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_resource_version_patient_id"))
    op.drop_table("fhir_resource_version")
