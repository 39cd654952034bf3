"""FHIR Bulk Data export jobs (``GET /fhir/$export``): who started each, its state and its files' counts

Revision ID: c9576f33cfd7
Revises: b3f9c1d27e40
A branch of its own (label ``fhir_export``) off the interop module's first revision.
Create Date: 2026-12-06 20:34:40.562918
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "c9576f33cfd7"
down_revision: str | None = "b3f9c1d27e40"
branch_labels: str | Sequence[str] | None = ("fhir_export",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fhir_export_job",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("client_name", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("request", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("types", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("progress", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("transaction_time", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("heartbeat_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fhir_export_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fhir_export_job_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_fhir_export_job_requested_by"), ["requested_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_fhir_export_job_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fhir_export_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_export_job_status"))
        batch_op.drop_index(batch_op.f("ix_fhir_export_job_requested_by"))
        batch_op.drop_index(batch_op.f("ix_fhir_export_job_created_at"))

    op.drop_table("fhir_export_job")
