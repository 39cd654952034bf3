"""Wards and beds: wards, beds, inpatient admissions and bed assignments (transfer history)

Revision ID: 6b2d4f8a0c31
Revises: 4b7e1c2d9a10
Create Date: 2026-11-26 00:00:00

Two partial unique indexes are the guards (SQLite and PostgreSQL both support them): one open
bed assignment per bed, one active admission per patient.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "6b2d4f8a0c31"
down_revision: str | None = "4b7e1c2d9a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_ward_name"),
    )
    with op.batch_alter_table("ward", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ward_department_id"), ["department_id"], unique=False)

    op.create_table(
        "bed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ward_id", sa.Integer(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status_since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status_note", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["ward_id"],
            ["ward.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ward_id", "label", name="uq_bed_ward_label"),
    )
    with op.batch_alter_table("bed", schema=None) as batch_op:
        batch_op.create_index("ix_bed_ward_status", ["ward_id", "status"], unique=False)

    op.create_table(
        "admission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=True),
        sa.Column("ward_id", sa.Integer(), nullable=False),
        sa.Column("admitted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("discharged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("admitted_by", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("discharged_by", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column("discharge_disposition", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.ForeignKeyConstraint(
            ["encounter_id"],
            ["encounter.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ward_id"],
            ["ward.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("admission", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admission_encounter_id"), ["encounter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_admission_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_admission_status_admitted", ["status", "admitted_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_admission_ward_id"), ["ward_id"], unique=False)
        batch_op.create_index(
            "uq_admission_active_patient",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "bed_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("admission_id", sa.Integer(), nullable=False),
        sa.Column("bed_id", sa.Integer(), nullable=False),
        sa.Column("from_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("to_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("moved_by", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["admission_id"],
            ["admission.id"],
        ),
        sa.ForeignKeyConstraint(
            ["bed_id"],
            ["bed.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bed_assignment", schema=None) as batch_op:
        batch_op.create_index("ix_bed_assignment_admission", ["admission_id", "from_at"], unique=False)
        batch_op.create_index(
            "uq_bed_assignment_open_bed",
            ["bed_id"],
            unique=True,
            sqlite_where=sa.text("to_at IS NULL"),
            postgresql_where=sa.text("to_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("bed_assignment", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_bed_assignment_open_bed",
            sqlite_where=sa.text("to_at IS NULL"),
            postgresql_where=sa.text("to_at IS NULL"),
        )
        batch_op.drop_index("ix_bed_assignment_admission")

    op.drop_table("bed_assignment")
    with op.batch_alter_table("admission", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_admission_active_patient",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_admission_ward_id"))
        batch_op.drop_index("ix_admission_status_admitted")
        batch_op.drop_index(batch_op.f("ix_admission_patient_id"))
        batch_op.drop_index(batch_op.f("ix_admission_encounter_id"))

    op.drop_table("admission")
    with op.batch_alter_table("bed", schema=None) as batch_op:
        batch_op.drop_index("ix_bed_ward_status")

    op.drop_table("bed")
    with op.batch_alter_table("ward", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ward_department_id"))

    op.drop_table("ward")
