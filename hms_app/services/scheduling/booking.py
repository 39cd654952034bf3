"""Booking, moving and cancelling visits, one at a time or as a series.

A freed time (a move or a cancellation) is offered to the first patient on the waitlist
after the change has committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.errors import Conflict, DomainError, NotFound, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    HealthcareService,
    Resource,
)
from hms_app.services import reminders
from hms_app.services.permissions import Actor, authorize, authorize_owner
from hms_app.services.rows import returns_frozen
from hms_app.services.scheduling.appointments import (
    audit_appointment,
    bookable_patient,
    enqueue_reminders,
    hold_blocks,
    insert_appointment,
    locked_appointment,
    make_reference,
    participant_ids,
    patient_overlaps,
    publish_change,
    release_blocks,
)
from hms_app.services.scheduling.parsing import as_int, as_moment, optional_resource_id
from hms_app.services.scheduling.policy import (
    APPOINTMENT_MISSING,
    RecurrenceConflict,
    SlotTaken,
    booking_patient_id,
    is_portal,
    policy,
)
from hms_app.services.scheduling.slots import (
    choose_resources,
    local_moment,
    on_grid,
    out_of_use_refusal,
    service_and_type,
)
from hms_app.services.scheduling.virtual import close_video_visit, publish_closed
from hms_app.services.scheduling.waitlist import close_waitlist_offer, offer_after_release
from hms_app.settings import get_settings


def _not_free(
    session: Session,
    service: HealthcareService,
    vtype: AppointmentType,
    start: datetime,
    end: datetime,
    resource_id: int | None,
) -> DomainError:
    """Why a time cannot be booked: taken by another booking, or nobody works then."""
    open_at_all = choose_resources(session, service, vtype, start, end, resource_id, count_bookings=False)
    out_of_use = out_of_use_refusal(session, service, vtype, resource_id) if open_at_all is None else None
    session.rollback()
    if out_of_use:
        return ValidationError(out_of_use, field="resource_id" if resource_id else "start_at")
    if open_at_all is None:
        return ValidationError(
            "Nobody offers this visit at that time (outside working hours, leave or a holiday).",
            field="start_at",
        )
    return SlotTaken()


def _validate_start(start: datetime, now: datetime) -> None:
    if not on_grid(start):
        raise ValidationError("Appointments start on a 5-minute mark.", field="start_at")
    if start < now - timedelta(minutes=1):
        raise ValidationError("That time has already passed.", field="start_at")


@returns_frozen
def book_appointment(
    session: Session,
    *,
    actor: Actor,
    service_id: int,
    appointment_type_id: int,
    start_at: datetime | str,
    patient_id: int | None = None,
    resource_id: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book a visit; every resource it uses is held, or SlotTaken is raised and nothing is written."""
    patient_id = booking_patient_id(actor, patient_id)
    now = now or utcnow()
    patient = bookable_patient(session, patient_id)
    service, vtype = service_and_type(session, actor, service_id, appointment_type_id)
    start = as_moment(start_at)
    _validate_start(start, now)
    end = start + timedelta(minutes=vtype.duration_minutes)
    rid = optional_resource_id(resource_id)
    note = (note or "").strip()[:300] or None
    if patient_overlaps(session, patient.id, start, end, None):
        raise Conflict("The patient already has an appointment at that time.", field="start_at")
    resources = choose_resources(session, service, vtype, start, end, rid)
    if resources is None:
        raise _not_free(session, service, vtype, start, end, rid)
    appointment = insert_appointment(
        session,
        actor,
        patient=patient,
        service=service,
        vtype=vtype,
        start=start,
        resources=resources,
        booked_via="portal" if is_portal(actor) else "staff",
        note=note,
        now=now,
    )
    audit_appointment(
        session,
        actor,
        "appointment.book",
        appointment,
        f"{appointment.reference} {service.code}/{vtype.code} {format_local(start)} "
        f"with {', '.join(r.name for r in resources)}",
    )
    session.commit()
    publish_change(appointment.department_id)
    return appointment


@returns_frozen
def book_recurring(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    service_id: int,
    appointment_type_id: int,
    first_start_at: datetime | str,
    count: int,
    every_days: int = 7,
    resource_id: int | None = None,
    now: datetime | None = None,
) -> list[Appointment]:
    """Book a series (every N days, ``count`` visits): all of them, or none with the dates that clash.

    The series keeps the same local wall-clock time across DST changes.
    """
    authorize(actor, "appointment.book")  # staff only: a series is arranged at the desk
    now = now or utcnow()
    patient = bookable_patient(session, patient_id)
    service, vtype = service_and_type(session, actor, service_id, appointment_type_id)
    count = as_int(count, field="count", label="number of visits")
    every_days = as_int(every_days, field="every_days", label="interval")
    if not 2 <= count <= 52:
        raise ValidationError("A series has 2 to 52 visits.", field="count")
    if not 1 <= every_days <= 91:
        raise ValidationError("Repeat every 1 to 91 days.", field="every_days")
    first = as_moment(first_start_at, field="first_start_at")
    _validate_start(first, now)
    rid = optional_resource_id(resource_id)
    tz = get_settings().tz
    local_first = first.astimezone(tz)
    duration = timedelta(minutes=vtype.duration_minutes)
    plan: list[tuple[datetime, list[Resource]]] = []
    clashes: list[datetime] = []
    for n in range(count):
        local_day = local_first.date() + timedelta(days=n * every_days)
        start = local_moment(local_day, local_first.time().replace(tzinfo=None), tz)
        chosen = choose_resources(session, service, vtype, start, start + duration, rid)
        if chosen is None or patient_overlaps(session, patient.id, start, start + duration, None):
            clashes.append(start)
        else:
            plan.append((start, chosen))
    if clashes:
        session.rollback()
        raise RecurrenceConflict(clashes)
    series_id = make_reference("RS")
    booked = [
        insert_appointment(
            session,
            actor,
            patient=patient,
            service=service,
            vtype=vtype,
            start=start,
            resources=chosen,
            series_id=series_id,
            now=now,
        )
        for start, chosen in plan
    ]
    for appointment in booked:
        audit_appointment(
            session,
            actor,
            "appointment.book",
            appointment,
            f"{appointment.reference} series {series_id} {format_local(appointment.start_at)}",
        )
    session.commit()
    publish_change(service.department_id)
    return booked


def _portal_refusal(appointment: Appointment, service: HealthcareService, now: datetime) -> str | None:
    if not service.self_bookable:
        return "Please call the clinic to change this appointment."
    if appointment.status not in ("booked", "offered"):
        return f"This appointment is {appointment.status.replace('_', ' ')} and can no longer be changed."
    cutoff = policy().cancel_cutoff_hours
    if appointment.start_at - now < timedelta(hours=cutoff):
        return f"Appointments can be changed online until {cutoff} hours before they start. Please call the clinic."
    return None


def _check_portal_change(
    actor: Actor, appointment: Appointment, service: HealthcareService, now: datetime
) -> None:
    """Patients change their own bookings only, of online services, and not too close to the start."""
    if not is_portal(actor):
        return
    authorize_owner(actor, "portal.self", patient_id=appointment.patient_id, missing=APPOINTMENT_MISSING)
    refusal = _portal_refusal(appointment, service, now)
    if refusal:
        raise Conflict(refusal)


def portal_change_refusal(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> str | None:
    """Why a patient may not cancel or move this appointment online (None: they may)."""
    authorize(actor, "portal.self")
    appointment = session.get(
        Appointment, as_int(appointment_id, field="appointment_id", label="appointment")
    )
    if appointment is None:
        raise NotFound(APPOINTMENT_MISSING)
    authorize_owner(actor, "portal.self", patient_id=appointment.patient_id, missing=APPOINTMENT_MISSING)
    service = session.get(HealthcareService, appointment.service_id)
    return _portal_refusal(appointment, service, now or utcnow())


@returns_frozen
def reschedule_appointment(
    session: Session,
    *,
    actor: Actor,
    appointment_id: int,
    start_at: datetime | str,
    resource_id: int | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Move a booked visit to another free time (same reference); the old time is offered to the waitlist."""
    if not is_portal(actor):
        authorize(actor, "appointment.book")
    now = now or utcnow()
    appointment = locked_appointment(session, appointment_id)
    service = session.get(HealthcareService, appointment.service_id)
    _check_portal_change(actor, appointment, service, now)
    if appointment.status != "booked":
        raise Conflict("Only a booked appointment can be moved.")
    vtype = session.get(AppointmentType, appointment.appointment_type_id)
    start = as_moment(start_at)
    _validate_start(start, now)
    if is_portal(actor) and start - now < timedelta(hours=policy().cancel_cutoff_hours):
        raise ValidationError("Choose a time further ahead.", field="start_at")
    end = start + timedelta(minutes=vtype.duration_minutes)
    rid = optional_resource_id(resource_id)
    if patient_overlaps(session, appointment.patient_id, start, end, appointment.id):
        raise Conflict("The patient already has an appointment at that time.", field="start_at")
    resources = choose_resources(
        session, service, vtype, start, end, rid, ignore_appointment_id=appointment.id
    )
    if resources is None:
        raise _not_free(session, service, vtype, start, end, rid)
    old = (appointment.start_at, appointment.end_at)
    old_resources = participant_ids(session, appointment.id)
    release_blocks(session, appointment.id)
    session.execute(
        delete(AppointmentParticipant).where(AppointmentParticipant.appointment_id == appointment.id)
    )
    appointment.start_at, appointment.end_at, appointment.updated_at = start, end, now
    session.add(appointment)
    session.flush()
    hold_blocks(session, appointment, resources)
    reminders.cancel_reminders(session, appointment.id)
    patient = session.get(Patient, appointment.patient_id)
    enqueue_reminders(session, appointment, patient, service, now)
    audit_appointment(
        session,
        actor,
        "appointment.reschedule",
        appointment,
        f"{appointment.reference} from {format_local(old[0])} to {format_local(start)}",
    )
    session.commit()
    publish_change(appointment.department_id)
    if old[0] > now:
        offer_after_release(session, appointment, old[0], old_resources, now=now)
    return appointment


@returns_frozen
def cancel_appointment(
    session: Session, *, actor: Actor, appointment_id: int, reason: str, now: datetime | None = None
) -> Appointment:
    """Cancel a booked (or offered) visit with a reason; its time goes to the first patient waiting."""
    if not is_portal(actor):
        authorize(actor, "appointment.book")
    now = now or utcnow()
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Say why the appointment is cancelled.", field="reason")
    appointment = locked_appointment(session, appointment_id)
    service = session.get(HealthcareService, appointment.service_id)
    _check_portal_change(actor, appointment, service, now)
    if appointment.status not in ("booked", "offered"):
        raise Conflict(
            f"This appointment is {appointment.status.replace('_', ' ')} and can no longer be cancelled."
        )
    resource_ids = participant_ids(session, appointment.id)
    release_blocks(session, appointment.id)
    was_offer = appointment.status == "offered"
    appointment.status, appointment.cancel_reason = "cancelled", reason[:300]
    appointment.cancelled_at = appointment.updated_at = now
    session.add(appointment)
    reminders.cancel_reminders(session, appointment.id)
    if was_offer:
        close_waitlist_offer(session, appointment.id, "cancelled")
    audit_appointment(
        session, actor, "appointment.cancel", appointment, f"{appointment.reference}: {reason[:200]}"
    )
    video_closed = close_video_visit(session, actor, appointment, now=now, why="cancelled")
    session.commit()
    publish_change(appointment.department_id)
    if video_closed:
        publish_closed(appointment.id)
    if appointment.start_at > now:
        offer_after_release(session, appointment, appointment.start_at, resource_ids, now=now)
    return appointment
