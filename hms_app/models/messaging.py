"""Secure messaging (telehealth): threads between a patient and the care team, their messages
(FHIR Communication), files attached to messages and invitations to book sent in a thread.

Only the thread points at the patient: a patient merge moves the thread, and its messages,
attachments and invitations follow it. Attachment files live with the patients' documents,
outside the public upload folder, and are served only by an authorized route.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow

SUBJECT_MAX = 120
BODY_MAX = 4000


class MessageThread(SQLModel, table=True):
    """A conversation about one subject between a patient and the care team."""

    __tablename__ = "message_thread"
    __table_args__ = (
        # The team inbox: open threads newest first, by whom they are assigned to.
        Index("ix_message_thread_inbox", "status", "assigned_to_id", "last_message_at"),
        Index("ix_message_thread_patient", "patient_id", "last_message_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    subject: str = Field(max_length=SUBJECT_MAX)
    status: str = Field(default="open", max_length=10)  # open | closed
    assigned_to_id: int | None = Field(default=None, foreign_key="app_user.id")
    started_by_id: int = Field(foreign_key="app_user.id")
    started_by_patient: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_message_at: datetime = Field(default_factory=utcnow)
    # Whose turn it is: the last message came from the patient (the team owes an answer).
    last_from_patient: bool = Field(default=True)
    closed_at: datetime | None = Field(default=None)
    closed_by_id: int | None = Field(default=None, foreign_key="app_user.id")


class SecureMessage(SQLModel, table=True):
    """One message of a thread (FHIR Communication); read_at is when the other side first opened it."""

    __tablename__ = "secure_message"
    __table_args__ = (
        Index("ix_secure_message_thread", "thread_id", "id"),
        Index("ix_secure_message_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(foreign_key="message_thread.id")
    author_id: int = Field(foreign_key="app_user.id")
    from_patient: bool = Field(default=False)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = Field(default=None)
    read_by_id: int | None = Field(default=None, foreign_key="app_user.id")


class MessageAttachment(SQLModel, table=True):
    """A PDF or image attached to a message; the file is kept outside the public upload folder."""

    __tablename__ = "message_attachment"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="secure_message.id", index=True)
    filename: str = Field(max_length=120)
    content_type: str = Field(max_length=60)
    size_bytes: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class BookingInvitation(SQLModel, table=True):
    """An invitation, sent in a thread, to book a service's visit type in the portal."""

    __tablename__ = "booking_invitation"

    id: int | None = Field(default=None, primary_key=True)
    thread_id: int = Field(foreign_key="message_thread.id", index=True)
    message_id: int = Field(foreign_key="secure_message.id", index=True)
    service_id: int = Field(foreign_key="healthcare_service.id")
    appointment_type_id: int = Field(foreign_key="appointment_type.id")
    status: str = Field(default="open", max_length=10)  # open | booked | withdrawn
    created_by_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id")
    booked_at: datetime | None = Field(default=None)
