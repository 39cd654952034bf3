"""The visit flow: check-in with a queue token, calling in, completion (with its charge),
no-shows, and the waiting room's queue with predicted waits.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    Appointment,
    AppointmentType,
    HealthcareService,
)
from hms_app.services import billing, live, reminders
from hms_app.services.counters import take_numbers
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen
from hms_app.services.scheduling.appointments import (
    audit_appointment,
    locked_appointment,
    publish_change,
    release_blocks,
)
from hms_app.services.scheduling.parsing import as_date, as_int
from hms_app.services.scheduling.slots import day_bounds
from hms_app.services.scheduling.virtual import CALL_IN_REFUSED, close_video_visit, is_virtual, publish_closed
from hms_app.settings import get_settings


def _transition(
    session: Session,
    *,
    actor: Actor,
    appointment_id,
    allowed: tuple[str, ...],
    status: str,
    action: str,
    now: datetime,
) -> Appointment:
    authorize(actor, "appointment.flow")
    appointment = locked_appointment(session, appointment_id)
    if appointment.status not in allowed:
        raise Conflict(
            f"This appointment is {appointment.status.replace('_', ' ')}; it cannot be marked "
            f"{status.replace('_', ' ')}."
        )
    previous = appointment.status
    appointment.status, appointment.updated_at = status, now
    session.add(appointment)
    audit_appointment(session, actor, action, appointment, f"{appointment.reference} {previous} -> {status}")
    return appointment


@returns_frozen
def check_in(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """The patient has arrived: mark it and give a queue token (e.g. C-014) for the waiting room."""
    authorize(actor, "appointment.flow")
    now = now or utcnow()
    tz = get_settings().tz
    appointment = locked_appointment(session, appointment_id)
    local_day = appointment.start_at.astimezone(tz).date()
    if appointment.status == "booked" and local_day != now.astimezone(tz).date():
        raise Conflict(f"This appointment is on {format_local(appointment.start_at, '%d %b %Y')}, not today.")
    appointment = _transition(
        session,
        actor=actor,
        appointment_id=appointment.id,
        allowed=("booked",),
        status="arrived",
        action="appointment.check_in",
        now=now,
    )
    department = session.get(Department, appointment.department_id)
    (number,) = take_numbers(session, f"queue:{department.id}:{local_day:%Y%m%d}")
    appointment.queue_token = f"{(department.code or 'Q')[0].upper()}-{number:03d}"
    appointment.arrived_at = now
    session.add(appointment)
    session.commit()
    publish_change(appointment.department_id, queue=True)
    return appointment


@returns_frozen
def call_patient(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """Call the patient in: the visit starts (in room). Not a video visit: its clinician admits
    the patient from the video waiting room (the call, the encounter and the note go with it)."""
    authorize(actor, "appointment.flow")
    now = now or utcnow()
    appointment = locked_appointment(session, appointment_id)
    if is_virtual(session, appointment):
        raise Conflict(CALL_IN_REFUSED)
    appointment = _transition(
        session,
        actor=actor,
        appointment_id=appointment.id,
        allowed=("arrived",),
        status="in_room",
        action="appointment.call",
        now=now,
    )
    appointment.in_room_at = now
    session.add(appointment)
    session.commit()
    publish_change(appointment.department_id, queue=True)
    return appointment


start_visit = call_patient


@returns_frozen
def complete_appointment(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """The visit is over (completed)."""
    now = now or utcnow()
    appointment = _transition(
        session,
        actor=actor,
        appointment_id=appointment_id,
        allowed=("arrived", "in_room"),
        status="completed",
        action="appointment.complete",
        now=now,
    )
    appointment.completed_at = now
    if appointment.in_room_at is None:
        appointment.in_room_at = now
    session.add(appointment)
    video_closed = close_video_visit(session, actor, appointment, now=now, why="completed")
    # The visit's charge commits with the visit: a completed visit is never left unbilled, and a
    # retried completion cannot charge twice (post_charge is idempotent per appointment and code).
    visit_type = session.get(AppointmentType, appointment.appointment_type_id)
    if visit_type is not None and visit_type.price_code:
        try:
            billing.post_charge(
                session,
                actor=actor,
                patient_id=appointment.patient_id,
                code=visit_type.price_code,
                source_type="appointment",
                source_id=appointment.id,
                department_id=appointment.department_id,
                commit=False,
            )
        except ValidationError as error:
            session.rollback()
            raise ValidationError(
                f"This visit could not be completed: its visit type bills the code {visit_type.price_code}, "
                f"which is not an active service in the billing catalogue. Ask billing to add it, or correct "
                f"the visit type in Schedule setup. Nothing was changed."
            ) from error
    session.commit()
    publish_change(appointment.department_id, queue=True)
    live.publish(live.BILLING, appointment.patient_id)
    if video_closed:
        publish_closed(appointment.id)
    return appointment


@returns_frozen
def mark_no_show(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """The patient did not come: counted in the no-show rates; the time is freed."""
    authorize(actor, "appointment.flow")
    now = now or utcnow()
    appointment = locked_appointment(session, appointment_id)
    if appointment.status == "booked" and appointment.start_at > now:
        raise Conflict("The appointment has not started yet; it cannot be a no-show.")
    appointment = _transition(
        session,
        actor=actor,
        appointment_id=appointment.id,
        allowed=("booked",),
        status="no_show",
        action="appointment.no_show",
        now=now,
    )
    release_blocks(session, appointment.id)
    reminders.cancel_reminders(session, appointment.id)
    video_closed = close_video_visit(session, actor, appointment, now=now, why="not attended")
    session.commit()
    publish_change(appointment.department_id, queue=True)
    if video_closed:
        publish_closed(appointment.id)
    return appointment


@dataclass(frozen=True)
class QueueRow:
    appointment_id: int
    token: str
    patient_name: str
    service_name: str
    status: str  # arrived | in_room
    arrived_at: datetime | None
    in_room_at: datetime | None
    waited_minutes: int
    predicted_wait_minutes: int | None  # for those still waiting


@dataclass(frozen=True)
class QueueStatus:
    department_id: int
    waiting: list[QueueRow]
    called: list[QueueRow]  # most recently called first
    now_serving: str | None
    median_wait_minutes: int | None  # arrived -> in room, recent visits of the department


def queue_status(
    session: Session,
    *,
    actor: Actor,
    department_id: int,
    day: date | str | None = None,
    now: datetime | None = None,
) -> QueueStatus:
    """The waiting room of a department today: tokens waiting, tokens called, predicted waits."""
    authorize(actor, "appointment.read")
    now = now or utcnow()
    tz = get_settings().tz
    the_day = as_date(day, field="day", label="day") if day else now.astimezone(tz).date()
    start, end = day_bounds(the_day, tz)
    department_id = as_int(department_id, field="department_id", label="department")
    base = (
        select(Appointment, Patient.given_name, Patient.family_name, HealthcareService.name)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(HealthcareService, HealthcareService.id == Appointment.service_id)
        .where(
            Appointment.department_id == department_id,
            Appointment.start_at >= start,
            Appointment.start_at < end,
        )
    )
    waiting_rows = session.execute(
        base.where(Appointment.status == "arrived")
        .order_by(Appointment.arrived_at, Appointment.id)
        .limit(200)
    ).all()
    called_rows = session.execute(
        base.where(Appointment.status == "in_room").order_by(Appointment.in_room_at.desc()).limit(20)
    ).all()
    recent = session.execute(
        select(Appointment.arrived_at, Appointment.in_room_at)
        .where(
            Appointment.department_id == department_id,
            Appointment.in_room_at.is_not(None),
            Appointment.arrived_at.is_not(None),
            Appointment.start_at >= start - timedelta(days=14),
            Appointment.start_at < end,
        )
        .order_by(Appointment.start_at.desc())
        .limit(500)
    ).all()
    waits = [max(0.0, (b - a).total_seconds() / 60) for a, b in recent]
    median = round(statistics.median(waits)) if waits else None

    def row(a: Appointment, given: str, family: str, service_name: str) -> QueueRow:
        waited = int(((a.in_room_at or now) - (a.arrived_at or now)).total_seconds() // 60)
        predicted = None
        if a.status == "arrived" and median is not None:
            predicted = max(0, median - waited)
        return QueueRow(
            a.id,
            a.queue_token or "",
            f"{given} {family}",
            service_name,
            a.status,
            a.arrived_at,
            a.in_room_at,
            max(0, waited),
            predicted,
        )

    waiting = [row(*r) for r in waiting_rows]
    called = [row(*r) for r in called_rows]
    return QueueStatus(department_id, waiting, called, called[0].token if called else None, median)
