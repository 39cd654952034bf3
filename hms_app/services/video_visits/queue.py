"""The flow board's video waiting room: today's video visits waiting to be admitted or in their call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.models.patients import Patient
from hms_app.models.scheduling import Appointment
from hms_app.models.video_visits import VideoVisit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.video_visits.access import provider_user_ids
from hms_app.services.video_visits.visits import QueueEntry

QUEUE_LIMIT = 50


def video_queue(
    session: Session, *, actor: Actor, department_id: int | None = None, now: datetime | None = None
) -> list[QueueEntry]:
    """Video visits whose patient waits or is in the call (first waiting first); ``mine`` marks the
    ones the signed-in clinician is booked on (they admit and join those)."""
    authorize(actor, "appointment.read")
    now = now or utcnow()
    statement = (
        select(
            VideoVisit, Appointment.reference, Appointment.start_at, Patient.given_name, Patient.family_name
        )
        .join(Appointment, Appointment.id == VideoVisit.appointment_id)
        .join(Patient, Patient.id == VideoVisit.patient_id)
        .where(VideoVisit.status.in_(("waiting", "admitted")), Appointment.status.in_(("arrived", "in_room")))
        .order_by(VideoVisit.status.desc(), VideoVisit.waiting_since, VideoVisit.id)
        .limit(QUEUE_LIMIT)
    )
    if department_id is not None:
        statement = statement.where(VideoVisit.department_id == department_id)
    entries = []
    for visit, reference, start_at, given, family in session.execute(statement):
        mine = actor.can("telehealth.conduct") and actor.user_id in provider_user_ids(
            session, visit.appointment_id
        )
        entries.append(
            QueueEntry(
                visit.appointment_id,
                reference,
                f"{given} {family}",
                format_local(start_at, "%H:%M"),
                visit.status,
                visit.waiting_since if visit.status == "waiting" else visit.admitted_at,
                mine,
            )
        )
    return entries
