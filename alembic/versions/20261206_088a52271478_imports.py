"""Imports: the map of imported records (outside id -> HMS row), performed procedures, and
conditions that keep a non-ICD-10-CM code (SNOMED CT, up to 18 digits) with its code system

Revision ID: 088a52271478
Revises: b3f9c1d27e40
A branch of its own (label ``imports``) off the interop module's revision.
Create Date: 2026-12-06 20:05:02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "088a52271478"
down_revision: str | None = "b3f9c1d27e40"
branch_labels: str | Sequence[str] | None = ("imports",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imported_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("resource_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("imported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "resource_type", "external_id", name="uq_imported_record_external"),
    )
    with op.batch_alter_table("imported_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_imported_record_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_imported_record_row_id"), ["row_id"], unique=False)

    op.create_table(
        "procedure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=True),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("code_system", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("display", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("performed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("performed_end_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("recorded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["encounter_id"],
            ["encounter.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("procedure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedure_encounter_id"), ["encounter_id"], unique=False)
        batch_op.create_index("ix_procedure_patient_performed", ["patient_id", "performed_at"], unique=False)

    with op.batch_alter_table("condition", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "code_system",
                sqlmodel.sql.sqltypes.AutoString(length=12),
                server_default="icd-10-cm",
                nullable=False,
            )
        )
        batch_op.alter_column(
            "code",
            existing_type=sa.VARCHAR(length=10),
            type_=sqlmodel.sql.sqltypes.AutoString(length=20),
            existing_nullable=False,
        )


def downgrade() -> None:
    # A SNOMED code does not fit the narrower column, and only imports wrote them.
    op.execute("DELETE FROM condition WHERE code_system <> 'icd-10-cm'")
    with op.batch_alter_table("condition", schema=None) as batch_op:
        batch_op.alter_column(
            "code",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=20),
            type_=sa.VARCHAR(length=10),
            existing_nullable=False,
        )
        batch_op.drop_column("code_system")

    with op.batch_alter_table("procedure", schema=None) as batch_op:
        batch_op.drop_index("ix_procedure_patient_performed")
        batch_op.drop_index(batch_op.f("ix_procedure_encounter_id"))

    op.drop_table("procedure")
    with op.batch_alter_table("imported_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_imported_record_row_id"))
        batch_op.drop_index(batch_op.f("ix_imported_record_patient_id"))

    op.drop_table("imported_record")
