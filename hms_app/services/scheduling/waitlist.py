"""The waitlist: patients wait for a full day; a freed time is offered to the first of them,
held for ``policy().offer_minutes``, and goes to the next one when declined or left to expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    Appointment,
    AppointmentType,
    HealthcareService,
    Resource,
    WaitlistEntry,
)
from hms_app.services import reminders
from hms_app.services.audit import audit_read, record_audit
from hms_app.services.permissions import SYSTEM_ACTOR, Actor, authorize
from hms_app.services.rows import returns_frozen
from hms_app.services.scheduling.appointments import (
    audit_appointment,
    bookable_patient,
    enqueue_reminders,
    insert_appointment,
    locked_appointment,
    participant_ids,
    patient_overlaps,
    publish_change,
    release_blocks,
)
from hms_app.services.scheduling.parsing import as_date, as_int, as_moment, optional_resource_id
from hms_app.services.scheduling.policy import (
    APPOINTMENT_MISSING,
    SlotTaken,
    authorize_change,
    booking_patient_id,
    is_portal,
    policy,
)
from hms_app.services.scheduling.slots import (
    choose_resources,
    find_free_slots,
    resource_pools,
    service_and_type,
)
from hms_app.settings import get_settings


@dataclass(frozen=True)
class WaitlistRow:
    id: int
    patient_id: int
    patient_name: str
    service_name: str
    visit_type: str
    resource_name: str | None
    wanted_date: date
    status: str
    created_at: datetime
    offered_appointment_id: int | None


@returns_frozen
def join_waitlist(
    session: Session,
    *,
    actor: Actor,
    service_id: int,
    appointment_type_id: int,
    wanted_date: date | str,
    patient_id: int | None = None,
    resource_id: int | None = None,
    now: datetime | None = None,
) -> WaitlistEntry:
    """Put a patient on the waitlist for a day; patients may join only when the day is full."""
    patient_id = booking_patient_id(actor, patient_id)
    now = now or utcnow()
    patient = bookable_patient(session, patient_id)
    service, vtype = service_and_type(session, actor, service_id, appointment_type_id)
    wanted = as_date(wanted_date, field="wanted_date", label="day")
    if wanted < now.astimezone(get_settings().tz).date():
        raise ValidationError("That day has passed.", field="wanted_date")
    rid = optional_resource_id(resource_id)
    if rid is not None:
        resource_pools(session, service, vtype, rid)  # validates that the resource offers the service
    if is_portal(actor) and find_free_slots(
        session,
        actor=actor,
        service_id=service.id,
        appointment_type_id=vtype.id,
        day=wanted,
        resource_id=rid,
        limit=1,
        now=now,
    ):
        raise Conflict("There are still free times that day: please book one of them.")
    already = session.execute(
        select(WaitlistEntry.id).where(
            WaitlistEntry.patient_id == patient.id,
            WaitlistEntry.service_id == service.id,
            WaitlistEntry.wanted_date == wanted,
            WaitlistEntry.status.in_(("waiting", "offered")),
        )
    ).first()
    if already:
        raise Conflict("The patient is already on the waitlist for that day.")
    entry = WaitlistEntry(
        patient_id=patient.id,
        service_id=service.id,
        appointment_type_id=vtype.id,
        resource_id=rid,
        wanted_date=wanted,
        created_at=now,
        created_by=actor.username,
    )
    session.add(entry)
    session.flush()
    record_audit(
        session,
        actor,
        "waitlist.join",
        patient_id=patient.id,
        target_type="waitlist_entry",
        target_id=entry.id,
        detail=f"{service.code} on {wanted.isoformat()}",
    )
    session.commit()
    return entry


@returns_frozen
def leave_waitlist(session: Session, *, actor: Actor, entry_id: int) -> WaitlistEntry:
    """Take a patient off the waitlist."""
    authorize_change(actor)
    entry = session.get(WaitlistEntry, as_int(entry_id, field="entry_id", label="waitlist entry"))
    if entry is None:
        raise NotFound("That waitlist entry does not exist.")
    if is_portal(actor):
        authorize(actor, "portal.self", patient_id=entry.patient_id)
    else:
        authorize(actor, "appointment.book", patient_id=entry.patient_id)
    if entry.status != "waiting":
        raise Conflict("This waitlist entry is no longer waiting.")
    entry.status = "cancelled"
    session.add(entry)
    record_audit(
        session,
        actor,
        "waitlist.leave",
        patient_id=entry.patient_id,
        target_type="waitlist_entry",
        target_id=entry.id,
    )
    session.commit()
    return entry


def list_waitlist(
    session: Session,
    *,
    actor: Actor,
    service_id: int | None = None,
    day: date | str | None = None,
    patient_id: int | None = None,
    statuses: Sequence[str] = ("waiting", "offered"),
    limit: int = 100,
) -> list[WaitlistRow]:
    """Waitlist entries, first come first (portal users: their own)."""
    if is_portal(actor):
        authorize(actor, "portal.self")
        patient_id = actor.patient_id
    else:
        authorize(actor, "appointment.read")
    query = (
        select(
            WaitlistEntry,
            Patient.given_name,
            Patient.family_name,
            HealthcareService.name,
            AppointmentType.name,
            Resource.name,
        )
        .join(Patient, Patient.id == WaitlistEntry.patient_id)
        .join(HealthcareService, HealthcareService.id == WaitlistEntry.service_id)
        .join(AppointmentType, AppointmentType.id == WaitlistEntry.appointment_type_id)
        .outerjoin(Resource, Resource.id == WaitlistEntry.resource_id)
        .where(WaitlistEntry.status.in_(list(statuses)))
    )
    if service_id:
        query = query.where(
            WaitlistEntry.service_id == as_int(service_id, field="service_id", label="service")
        )
    if day:
        query = query.where(WaitlistEntry.wanted_date == as_date(day, field="day", label="day"))
    if patient_id:
        query = query.where(
            WaitlistEntry.patient_id == as_int(patient_id, field="patient_id", label="patient")
        )
    query = query.order_by(WaitlistEntry.wanted_date, WaitlistEntry.created_at, WaitlistEntry.id)
    result = [
        WaitlistRow(
            e.id,
            e.patient_id,
            f"{g} {f}",
            s,
            t,
            r,
            e.wanted_date,
            e.status,
            e.created_at,
            e.offered_appointment_id,
        )
        for e, g, f, s, t, r in session.execute(query.limit(max(1, min(int(limit), 500))))
    ]
    audit_read(session, actor, "waitlist.listed", patient_id=patient_id, detail=f"{len(result)} entries")
    return result


def close_waitlist_offer(session: Session, appointment_id: int, status: str) -> None:
    """Close the waitlist entry an offered appointment came from."""
    session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.offered_appointment_id == appointment_id, WaitlistEntry.status == "offered")
        .values(status=status)
    )


def _offer_slot(
    session: Session,
    *,
    service_id: int,
    start: datetime,
    resource_ids: Sequence[int],
    exclude_patient_id: int | None,
    now: datetime,
    reason: str,
) -> Appointment | None:
    """Offer a freed time to the first patient waiting for that service and day (own transaction)."""
    tz = get_settings().tz
    if start <= now:
        return None
    service = session.get(HealthcareService, service_id)
    if service is None or not service.active:
        return None
    entries = (
        session.execute(
            select(WaitlistEntry)
            .where(
                WaitlistEntry.service_id == service_id,
                WaitlistEntry.wanted_date == start.astimezone(tz).date(),
                WaitlistEntry.status == "waiting",
            )
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
            .limit(20)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    offer_minutes = policy().offer_minutes
    for entry in entries:
        if entry.patient_id == exclude_patient_id:
            continue
        if entry.resource_id is not None and entry.resource_id not in resource_ids:
            continue
        vtype = session.get(AppointmentType, entry.appointment_type_id)
        patient = session.get(Patient, entry.patient_id)
        if vtype is None or not vtype.active or patient is None or not patient.active:
            continue
        end = start + timedelta(minutes=vtype.duration_minutes)
        if patient_overlaps(session, patient.id, start, end, None):
            continue
        preferred = entry.resource_id or (resource_ids[0] if resource_ids else None)
        chosen = choose_resources(session, service, vtype, start, end, preferred)
        if chosen is None and entry.resource_id is None:
            chosen = choose_resources(session, service, vtype, start, end, None)
        if chosen is None:
            continue
        try:
            appointment = insert_appointment(
                session,
                SYSTEM_ACTOR,
                patient=patient,
                service=service,
                vtype=vtype,
                start=start,
                resources=chosen,
                status="offered",
                booked_via="waitlist",
                offer_expires_at=min(now + timedelta(minutes=offer_minutes), start),
                now=now,
            )
        except SlotTaken:
            return None  # someone booked the freed time first: nothing to offer
        entry.status, entry.offered_appointment_id = "offered", appointment.id
        session.add(entry)
        reminders.enqueue_offer_notice(session, appointment, patient, service_name=service.name)
        audit_appointment(
            session,
            SYSTEM_ACTOR,
            "appointment.offer",
            appointment,
            f"{appointment.reference} {format_local(start)} offered from the waitlist ({reason}) "
            f"until {format_local(appointment.offer_expires_at, '%H:%M')}",
        )
        session.commit()
        publish_change(appointment.department_id)
        return appointment
    session.commit()
    return None


def offer_after_release(
    session: Session, appointment: Appointment, start: datetime, resource_ids: Sequence[int], *, now: datetime
) -> Appointment | None:
    """Offer the time an appointment freed to the next patient waiting, not to its own patient."""
    return _offer_slot(
        session,
        service_id=appointment.service_id,
        start=start,
        resource_ids=resource_ids,
        exclude_patient_id=appointment.patient_id,
        now=now,
        reason=f"{appointment.reference} freed",
    )


@returns_frozen
def offer_freed_slot(
    session: Session,
    *,
    actor: Actor,
    service_id: int,
    start_at: datetime | str,
    resource_ids: Sequence[int] = (),
    now: datetime | None = None,
) -> Appointment | None:
    """Offer a free time to the first patient waiting (done automatically after every cancellation)."""
    authorize(actor, "appointment.book")
    return _offer_slot(
        session,
        service_id=as_int(service_id, field="service_id", label="service"),
        start=as_moment(start_at),
        resource_ids=list(resource_ids),
        exclude_patient_id=None,
        now=now or utcnow(),
        reason=f"offered by {actor.username}",
    )


def _offered(session: Session, actor: Actor, appointment_id) -> Appointment:
    authorize_change(actor)
    appointment = locked_appointment(session, appointment_id)
    authorize_change(actor, patient_id=appointment.patient_id, missing=APPOINTMENT_MISSING)
    if appointment.status != "offered":
        raise Conflict("This offer is no longer open.")
    return appointment


@returns_frozen
def accept_offer(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """The patient takes the offered time: it becomes a booked appointment."""
    now = now or utcnow()
    appointment = _offered(session, actor, appointment_id)
    if appointment.offer_expires_at is not None and appointment.offer_expires_at <= now:
        session.rollback()
        expire_offers(session, actor=SYSTEM_ACTOR, now=now)
        raise Conflict("This offer has expired and the time was offered to the next patient.")
    appointment.status, appointment.updated_at, appointment.offer_expires_at = "booked", now, None
    session.add(appointment)
    close_waitlist_offer(session, appointment.id, "accepted")
    service = session.get(HealthcareService, appointment.service_id)
    patient = session.get(Patient, appointment.patient_id)
    reminders.cancel_reminders(session, appointment.id)
    enqueue_reminders(session, appointment, patient, service, now)
    audit_appointment(
        session, actor, "appointment.offer_accept", appointment, f"{appointment.reference} offered -> booked"
    )
    session.commit()
    publish_change(appointment.department_id)
    return appointment


def _end_offer(
    session: Session, actor: Actor, appointment: Appointment, *, outcome: str, now: datetime
) -> None:
    resource_ids = participant_ids(session, appointment.id)
    release_blocks(session, appointment.id)
    appointment.status, appointment.cancelled_at, appointment.updated_at = "cancelled", now, now
    appointment.cancel_reason = (
        "Waitlist offer declined" if outcome == "declined" else "Waitlist offer expired"
    )
    session.add(appointment)
    close_waitlist_offer(session, appointment.id, "cancelled" if outcome == "declined" else "expired")
    reminders.cancel_reminders(session, appointment.id)
    audit_appointment(
        session,
        actor,
        "appointment.offer_decline" if outcome == "declined" else "appointment.offer_expire",
        appointment,
        f"{appointment.reference} offered -> cancelled ({outcome})",
    )
    session.commit()
    publish_change(appointment.department_id)
    offer_after_release(session, appointment, appointment.start_at, resource_ids, now=now)


@returns_frozen
def decline_offer(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """The patient does not want the offered time: it goes to the next patient waiting."""
    now = now or utcnow()
    appointment = _offered(session, actor, appointment_id)
    _end_offer(session, actor, appointment, outcome="declined", now=now)
    return appointment


def expire_offers(session: Session, *, actor: Actor, now: datetime | None = None, limit: int = 100) -> int:
    """Release offers nobody accepted in time and offer each time to the next patient (run periodically)."""
    authorize(actor, "appointment.book")
    now = now or utcnow()
    due = (
        session.execute(
            select(Appointment.id)
            .where(Appointment.status == "offered", Appointment.offer_expires_at <= now)
            .order_by(Appointment.offer_expires_at)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    session.commit()
    expired = 0
    for appointment_id in due:
        appointment = locked_appointment(session, appointment_id)
        if appointment.status != "offered":  # accepted or expired by another worker meanwhile
            session.commit()
            continue
        _end_offer(session, actor, appointment, outcome="expired", now=now)
        expired += 1
    return expired
