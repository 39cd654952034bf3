"""Scheduling: bookable resources, services and visit types, availability, appointments, waitlist, reminders

Revision ID: 5a1c3e7f9b20
Revises: 4b7e1c2d9a10
Create Date: 2026-11-26 00:00:00

``resource_block`` with UNIQUE(resource_id, starts_at) is the database's guard against
double booking (see hms_app/models/scheduling.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "5a1c3e7f9b20"
down_revision: str | None = "4b7e1c2d9a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "healthcare_service",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("self_bookable", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("healthcare_service", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_healthcare_service_department_id"), ["department_id"], unique=False
        )

    op.create_table(
        "appointment_type",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("price_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("needs_room", sa.Boolean(), nullable=False),
        sa.Column("needs_equipment", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["healthcare_service.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id", "code", name="uq_appointment_type_service_code"),
    )
    with op.batch_alter_table("appointment_type", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointment_type_service_id"), ["service_id"], unique=False)

    op.create_table(
        "resource",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("capability", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.create_index("ix_resource_department_kind", ["department_id", "kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_resource_user_id"), ["user_id"], unique=False)

    op.create_table(
        "appointment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("appointment_type_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("start_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("end_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("booked_via", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("series_id", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("cancel_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("queue_token", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("arrived_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("in_room_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("completed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("offer_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_type.id"],
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["healthcare_service.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.create_index("ix_appointment_department_start", ["department_id", "start_at"], unique=False)
        batch_op.create_index("ix_appointment_patient_start", ["patient_id", "start_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointment_series_id"), ["series_id"], unique=False)
        batch_op.create_index("ix_appointment_status_start", ["status", "start_at"], unique=False)

    op.create_table(
        "availability_exception",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ends_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("availability_exception", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_availability_exception_resource_id"), ["resource_id"], unique=False
        )
        batch_op.create_index("ix_availability_exception_span", ["starts_at", "ends_at"], unique=False)

    op.create_table(
        "availability_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("availability_rule", schema=None) as batch_op:
        batch_op.create_index(
            "ix_availability_rule_resource_weekday", ["resource_id", "weekday"], unique=False
        )

    op.create_table(
        "resource_service",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["healthcare_service.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resource_id", "service_id", name="uq_resource_service"),
    )
    with op.batch_alter_table("resource_service", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_service_service_id"), ["service_id"], unique=False)

    op.create_table(
        "appointment_participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("appointment_id", "resource_id", name="uq_appointment_participant"),
    )
    with op.batch_alter_table("appointment_participant", schema=None) as batch_op:
        batch_op.create_index("ix_appointment_participant_resource", ["resource_id"], unique=False)

    op.create_table(
        "reminder_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reminder_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reminder_message_appointment_id"), ["appointment_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reminder_message_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_reminder_message_status_due", ["status", "due_at"], unique=False)

    op.create_table(
        "resource_block",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resource_id", "starts_at", name="uq_resource_block_slot"),
    )
    with op.batch_alter_table("resource_block", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resource_block_appointment_id"), ["appointment_id"], unique=False
        )

    op.create_table(
        "waitlist_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("appointment_type_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=True),
        sa.Column("wanted_date", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("offered_appointment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_type_id"],
            ["appointment_type.id"],
        ),
        sa.ForeignKeyConstraint(
            ["offered_appointment_id"],
            ["appointment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resource.id"],
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["healthcare_service.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("waitlist_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_entry_match", ["service_id", "wanted_date", "status", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_waitlist_entry_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("waitlist_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_waitlist_entry_patient_id"))
        batch_op.drop_index("ix_waitlist_entry_match")

    op.drop_table("waitlist_entry")
    with op.batch_alter_table("resource_block", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_block_appointment_id"))

    op.drop_table("resource_block")
    with op.batch_alter_table("reminder_message", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_message_status_due")
        batch_op.drop_index(batch_op.f("ix_reminder_message_patient_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_message_appointment_id"))

    op.drop_table("reminder_message")
    with op.batch_alter_table("appointment_participant", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_participant_resource")

    op.drop_table("appointment_participant")
    with op.batch_alter_table("resource_service", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_service_service_id"))

    op.drop_table("resource_service")
    with op.batch_alter_table("availability_rule", schema=None) as batch_op:
        batch_op.drop_index("ix_availability_rule_resource_weekday")

    op.drop_table("availability_rule")
    with op.batch_alter_table("availability_exception", schema=None) as batch_op:
        batch_op.drop_index("ix_availability_exception_span")
        batch_op.drop_index(batch_op.f("ix_availability_exception_resource_id"))

    op.drop_table("availability_exception")
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_index("ix_appointment_status_start")
        batch_op.drop_index(batch_op.f("ix_appointment_series_id"))
        batch_op.drop_index("ix_appointment_patient_start")
        batch_op.drop_index("ix_appointment_department_start")

    op.drop_table("appointment")
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_user_id"))
        batch_op.drop_index("ix_resource_department_kind")

    op.drop_table("resource")
    with op.batch_alter_table("appointment_type", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_type_service_id"))

    op.drop_table("appointment_type")
    with op.batch_alter_table("healthcare_service", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcare_service_department_id"))

    op.drop_table("healthcare_service")
