"""Video visits (telehealth): one row per virtual appointment that someone joined, and the
signalling messages relayed between its two browsers while the call is being set up.

Nothing of the media is stored: the browsers exchange audio and video directly (WebRTC). A
``video_signal`` row is an offer, an answer or a network candidate on its way from one side to
the other; the rows of a call are deleted when it ends, and the ``video_signals_purged`` job
deletes any left behind (a call nobody ended).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow

VIDEO_STATUSES = ("waiting", "admitted", "ended")
SIDES = ("patient", "clinician")


class VideoVisit(SQLModel, table=True):
    """The video side of a virtual appointment: the waiting room, the call, and its measures."""

    __tablename__ = "video_visit"
    __table_args__ = (
        UniqueConstraint("appointment_id", name="uq_video_visit_appointment"),
        Index("ix_video_visit_status_waiting", "status", "waiting_since"),
        Index("ix_video_visit_started", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="appointment.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    clinician_user_id: int | None = Field(default=None, foreign_key="app_user.id")  # who admitted
    encounter_id: int | None = Field(default=None, foreign_key="encounter.id")  # holds the visit note
    status: str = Field(default="waiting", max_length=12)  # waiting | admitted | ended
    waiting_since: datetime | None = Field(default=None)  # the patient entered the waiting room
    admitted_at: datetime | None = Field(default=None)
    started_at: datetime | None = Field(default=None)  # first time both sides were connected
    media_flowing_at: datetime | None = Field(default=None)  # first time both browsers received media
    ended_at: datetime | None = Field(default=None)
    # Admitted -> media flowing on both sides, and the browsers' own measure of the connection setup.
    join_delay_ms: int | None = Field(default=None)
    setup_ms: int | None = Field(default=None)
    reconnects: int = Field(default=0)  # channels reopened after media had flowed
    # When each browser first received the other's media; both set: media flows both ways.
    patient_media_at: datetime | None = Field(default=None)
    clinician_media_at: datetime | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)


class VideoSignal(SQLModel, table=True):
    """One signalling message on its way between the two browsers of a call (relay only)."""

    __tablename__ = "video_signal"
    __table_args__ = (Index("ix_video_signal_visit_id", "visit_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)  # increasing: the order messages are read in
    visit_id: int = Field(foreign_key="video_visit.id")
    sender: str = Field(max_length=10)  # patient | clinician
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
