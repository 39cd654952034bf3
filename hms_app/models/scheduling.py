"""Scheduling tables: resources, services and visit types, availability, appointments, waitlist, reminders.

Named after FHIR R4 where a resource exists (HealthcareService, Appointment, AppointmentParticipant).
The guard against double booking is ``resource_block``: an appointment holds one row per
5 minutes per resource it uses, and UNIQUE(resource_id, starts_at) lets exactly one of two
concurrent bookings of the same time commit, whatever the lengths of the two visits.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow

BLOCK_MINUTES = 5  # the grid every appointment starts and ends on

RESOURCE_KINDS = ("provider", "room", "equipment")
VISIT_MODES = ("in_person", "virtual")
APPOINTMENT_STATUSES = ("offered", "booked", "arrived", "in_room", "completed", "cancelled", "no_show")
# Statuses that occupy their resources (hold ``resource_block`` rows).
HOLDING_STATUSES = ("offered", "booked", "arrived", "in_room", "completed")
EXCEPTION_KINDS = ("leave", "holiday", "closure")
WAITLIST_STATUSES = ("waiting", "offered", "accepted", "expired", "cancelled")
REMINDER_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


class HealthcareService(SQLModel, table=True):
    """Something the hospital offers to book (FHIR HealthcareService): GP consultation, MRI scan."""

    __tablename__ = "healthcare_service"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=30, unique=True)
    name: str = Field(max_length=120)
    department_id: int = Field(foreign_key="department.id", index=True)
    self_bookable: bool = Field(default=False)  # patients may book it in the portal
    active: bool = Field(default=True)
    # Who it is for (None: anyone): completed years of age on the day, and female or male.
    min_age: int | None = Field(default=None)
    max_age: int | None = Field(default=None)
    for_sex: str | None = Field(default=None, max_length=10)


class AppointmentType(SQLModel, table=True):
    """A visit type of a service: its length, billing code, in person or virtual, what it needs."""

    __tablename__ = "appointment_type"
    __table_args__ = (UniqueConstraint("service_id", "code", name="uq_appointment_type_service_code"),)

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="healthcare_service.id", index=True)
    code: str = Field(max_length=30)
    name: str = Field(max_length=120)
    duration_minutes: int
    price_code: str | None = Field(default=None, max_length=30)  # a billing catalogue code
    mode: str = Field(default="in_person", max_length=12)  # in_person | virtual
    needs_room: bool = Field(default=False)
    needs_equipment: str | None = Field(default=None, max_length=30)  # a Resource.capability
    active: bool = Field(default=True)


class Resource(SQLModel, table=True):
    """Anything that can be booked: a provider, a room, a piece of equipment (a scanner)."""

    __tablename__ = "resource"
    __table_args__ = (Index("ix_resource_department_kind", "department_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=12)  # provider | room | equipment
    name: str = Field(max_length=120)
    department_id: int = Field(foreign_key="department.id")
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)  # providers
    capability: str | None = Field(default=None, max_length=30)  # equipment: "mri", "ct", ...
    active: bool = Field(default=True)


class ResourceService(SQLModel, table=True):
    """Which resources offer (or serve) which services."""

    __tablename__ = "resource_service"
    __table_args__ = (UniqueConstraint("resource_id", "service_id", name="uq_resource_service"),)

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id")
    service_id: int = Field(foreign_key="healthcare_service.id", index=True)


class AvailabilityRule(SQLModel, table=True):
    """A weekly template line: resource R works on weekday W from start to end (hospital local time)."""

    __tablename__ = "availability_rule"
    __table_args__ = (Index("ix_availability_rule_resource_weekday", "resource_id", "weekday"),)

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id")
    weekday: int  # 0 = Monday ... 6 = Sunday
    start_time: time
    end_time: time
    valid_from: date
    valid_to: date | None = Field(default=None)


class AvailabilityException(SQLModel, table=True):
    """Time off the templates: leave (one resource), a closure (a department), a holiday (everyone)."""

    __tablename__ = "availability_exception"
    __table_args__ = (Index("ix_availability_exception_span", "starts_at", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int | None = Field(default=None, foreign_key="resource.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    starts_at: datetime
    ends_at: datetime
    kind: str = Field(max_length=12)  # leave | holiday | closure
    reason: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=60)


class Appointment(SQLModel, table=True):
    """A booked visit (FHIR Appointment)."""

    __tablename__ = "appointment"
    __table_args__ = (
        Index("ix_appointment_department_start", "department_id", "start_at"),
        Index("ix_appointment_patient_start", "patient_id", "start_at"),
        Index("ix_appointment_status_start", "status", "start_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=12, unique=True)  # "AP-7K3QX9": what a patient reads out
    patient_id: int = Field(foreign_key="patient.id")
    service_id: int = Field(foreign_key="healthcare_service.id")
    appointment_type_id: int = Field(foreign_key="appointment_type.id")
    department_id: int = Field(foreign_key="department.id")
    start_at: datetime
    end_at: datetime
    status: str = Field(default="booked", max_length=12)
    booked_via: str = Field(default="staff", max_length=12)  # staff | portal | waitlist
    series_id: str | None = Field(default=None, max_length=12, index=True)  # recurring bookings
    note: str | None = Field(default=None, max_length=300)
    cancel_reason: str | None = Field(default=None, max_length=300)
    queue_token: str | None = Field(default=None, max_length=12)
    arrived_at: datetime | None = Field(default=None)
    in_room_at: datetime | None = Field(default=None)
    completed_at: datetime | None = Field(default=None)
    cancelled_at: datetime | None = Field(default=None)
    offer_expires_at: datetime | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=60)
    updated_at: datetime = Field(default_factory=utcnow)


class AppointmentParticipant(SQLModel, table=True):
    """A resource an appointment uses (FHIR Appointment.participant): the provider, the room, the scanner."""

    __tablename__ = "appointment_participant"
    __table_args__ = (
        UniqueConstraint("appointment_id", "resource_id", name="uq_appointment_participant"),
        Index("ix_appointment_participant_resource", "resource_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id")
    resource_id: int = Field(foreign_key="resource.id")


class ResourceBlock(SQLModel, table=True):
    """One 5-minute step of one resource held by one appointment: the database's double-booking guard."""

    __tablename__ = "resource_block"
    __table_args__ = (UniqueConstraint("resource_id", "starts_at", name="uq_resource_block_slot"),)

    id: int | None = Field(default=None, primary_key=True)
    resource_id: int = Field(foreign_key="resource.id")
    starts_at: datetime
    appointment_id: int = Field(foreign_key="appointment.id", index=True)


class WaitlistEntry(SQLModel, table=True):
    """A patient waiting for a time on a full day; a freed slot is offered to the first one waiting."""

    __tablename__ = "waitlist_entry"
    __table_args__ = (Index("ix_waitlist_entry_match", "service_id", "wanted_date", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    service_id: int = Field(foreign_key="healthcare_service.id")
    appointment_type_id: int = Field(foreign_key="appointment_type.id")
    resource_id: int | None = Field(default=None, foreign_key="resource.id")  # None: any provider
    wanted_date: date
    status: str = Field(default="waiting", max_length=12)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=60)
    offered_appointment_id: int | None = Field(default=None, foreign_key="appointment.id")


class ReminderMessage(SQLModel, table=True):
    """The outbox: a message to a patient, written with the booking and sent once when due."""

    __tablename__ = "reminder_message"
    __table_args__ = (Index("ix_reminder_message_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    kind: str = Field(default="reminder", max_length=12)  # reminder | offer
    channel: str = Field(max_length=8)  # email | sms
    recipient: str = Field(max_length=200)
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    due_at: datetime
    status: str = Field(default="pending", max_length=12)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=300)
    sent_at: datetime | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)
