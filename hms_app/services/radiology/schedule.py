"""Booking an imaging order on a scanner: the free times of the scanners of the order's modality,
and the booking itself, made through the scheduling module's own steps so that the scanner's time
is really held (its 5-minute blocks, under the same unique constraint as every other booking).

Which scheduling service and visit type an examination books:

* the service is the modality's (``MODALITY_SERVICES``: MR on "MRI", CT on "CT", US on "US",
  radiographs on "XR"), whose linked equipment is the scanner;
* the visit type is the one whose code is the examination's code (the seeder adds one per
  examination, with its length and no price: the exam is charged once, by the report), else the
  service's type billing the examination's charge code, else the service's first active type.

Booking an order already scheduled moves it: the old time is freed in the same transaction. The
imaging permission (``imaging.order`` for the orderer, ``radiology.work`` for the department's
desk) is what allows this, not ``appointment.book``: radiology books its own scanners.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.radiology import ImagingProcedure
from hms_app.models.scheduling import AppointmentType, HealthcareService
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.inputs import actor_name
from hms_app.services.permissions import Actor
from hms_app.services.radiology.catalogue import authorize_any
from hms_app.services.radiology.common import ORDER, TOPIC, WORK
from hms_app.services.radiology.orders import get_order, release_appointment
from hms_app.services.scheduling.appointments import (
    audit_appointment,
    bookable_patient,
    insert_appointment,
    patient_overlaps,
    publish_change,
)
from hms_app.services.scheduling.parsing import as_moment, optional_resource_id
from hms_app.services.scheduling.policy import SlotTaken
from hms_app.services.scheduling.slots import FreeSlot, choose_resources, find_free_slots, on_grid
from hms_app.settings import get_settings

MODALITY_SERVICES = {"MR": "MRI", "CT": "CT", "US": "US", "CR": "XR", "DX": "XR"}
SCHEDULABLE = ("requested", "scheduled")
MAX_DAYS = 14


@dataclass(frozen=True)
class ScannerSlot:
    start_at: datetime
    resource_id: int
    scanner: str
    label: str  # "Mon 03 Dec 09:15"


def _service_and_type(
    session: Session, procedure: ImagingProcedure
) -> tuple[HealthcareService, AppointmentType]:
    code = MODALITY_SERVICES.get(procedure.modality)
    service = (
        session.execute(
            select(HealthcareService).where(
                HealthcareService.code == code, HealthcareService.active.is_(True)
            )
        ).scalar_one_or_none()
        if code
        else None
    )
    if service is None:
        raise ValidationError(
            f"No scanner is bookable for {procedure.name}: ask the radiology desk to book it.",
            field="start_at",
        )
    types = list(
        session.execute(
            select(AppointmentType)
            .where(AppointmentType.service_id == service.id, AppointmentType.active.is_(True))
            .order_by(AppointmentType.id)
        ).scalars()
    )
    chosen = (
        next((t for t in types if t.code == procedure.code), None)
        or next((t for t in types if procedure.charge_code and t.price_code == procedure.charge_code), None)
        or (types[0] if types else None)
    )
    if chosen is None:
        raise ValidationError(f"{service.name} has no visit type to book.", field="start_at")
    return service, chosen


def _slot_actor(actor: Actor) -> Actor:
    # The scheduling module reads free times for ``appointment.read``; the imaging permission the
    # caller was checked for stands in for it on the scanners' services only.
    return replace(actor, permissions=actor.permissions | {"appointment.read"})


def free_slots(
    session: Session,
    *,
    actor: Actor,
    order_id,
    day: date | str | None = None,
    days: int = 7,
    limit: int = 40,
    now: datetime | None = None,
) -> list[ScannerSlot]:
    """Free times on the scanners of the order's modality, from ``day`` (today) for ``days`` days,
    earliest first (``imaging.order`` or ``radiology.work``)."""
    authorize_any(actor, (ORDER, WORK))
    order = get_order(session, order_id)
    authorize_any(actor, (ORDER, WORK), patient_id=order.patient_id)
    if order.status not in SCHEDULABLE:
        raise Conflict(f"{order.accession} is {order.status.replace('_', ' ')}: it can no longer be booked.")
    procedure = session.get(ImagingProcedure, order.procedure_id)
    service, vtype = _service_and_type(session, procedure)
    days = days if isinstance(days, int) and not isinstance(days, bool) else 7
    days = max(1, min(days, MAX_DAYS))
    now = now or utcnow()
    first = day or now.astimezone(get_settings().tz).date()
    if isinstance(first, str):
        try:
            first = date.fromisoformat(first)
        except ValueError:
            raise ValidationError("Choose a day.", field="day") from None
    found: list[FreeSlot] = find_free_slots(
        session,
        actor=_slot_actor(actor),
        service_id=service.id,
        appointment_type_id=vtype.id,
        day=first,
        end_day=first + timedelta(days=days - 1),
        limit=max(1, min(int(limit), 200)),
        now=now,
    )
    return [ScannerSlot(s.start_at, s.resource_ids[0], s.resource_names[0], s.label) for s in found]


def schedule_order(
    session: Session,
    *,
    actor: Actor,
    order_id,
    start_at,
    resource_id=None,
    now: datetime | None = None,
) -> ScannerSlot:
    """Book the order on a scanner at ``start_at`` (``imaging.order`` or ``radiology.work``): the
    scanner's time is held by a scheduling appointment, whose id and time the order keeps. An
    order already booked is moved (its old time freed). SlotTaken when someone was faster."""
    authorize_any(actor, (ORDER, WORK))
    now = now or utcnow()
    order = get_order(session, order_id, lock=True)
    authorize_any(actor, (ORDER, WORK), patient_id=order.patient_id)
    if order.status not in SCHEDULABLE:
        raise Conflict(f"{order.accession} is {order.status.replace('_', ' ')}: it can no longer be booked.")
    start = as_moment(start_at)
    if not on_grid(start):
        raise ValidationError("Choose one of the free times offered.", field="start_at")
    if start < now - timedelta(minutes=1):
        raise ValidationError("That time has already passed.", field="start_at")
    procedure = session.get(ImagingProcedure, order.procedure_id)
    service, vtype = _service_and_type(session, procedure)
    patient = bookable_patient(session, order.patient_id)
    rid = optional_resource_id(resource_id)
    end = start + timedelta(minutes=vtype.duration_minutes)
    old_department = None
    moved_from = order.scheduled_at
    if order.appointment_id is not None:
        old_department = release_appointment(session, order, f"Imaging order {order.accession} moved", now)
        session.flush()
    if patient_overlaps(session, patient.id, start, end, None):
        session.rollback()
        raise Conflict("The patient already has an appointment at that time.", field="start_at")
    resources = choose_resources(session, service, vtype, start, end, rid)
    if resources is None:
        session.rollback()
        raise SlotTaken("That time is no longer free. Here are the free times now.")
    appointment = insert_appointment(
        session,
        actor,
        patient=patient,
        service=service,
        vtype=vtype,
        start=start,
        resources=resources,
        note=f"Imaging {order.accession}: {procedure.name}"[:300],
        now=now,
    )
    audit_appointment(
        session,
        actor,
        "appointment.book",
        appointment,
        f"{appointment.reference} {service.code}/{vtype.code} {format_local(start)} for {order.accession}",
    )
    order.appointment_id, order.scheduled_at = appointment.id, start
    order.status, order.status_changed_at, order.status_changed_by = "scheduled", now, actor_name(actor)
    session.add(order)
    scanner = resources[0].name
    record_audit(
        session,
        actor,
        "imaging.order_scheduled",
        patient_id=order.patient_id,
        target_type="imaging_order",
        target_id=order.id,
        detail=f"{order.accession} on {scanner} at {format_local(start)}"
        + (f" (moved from {format_local(moved_from)})" if moved_from else ""),
    )
    session.commit()
    live.publish(TOPIC, order.id)
    publish_change(*(d for d in (service.department_id, old_department) if d is not None))
    return ScannerSlot(start, resources[0].id, scanner, format_local(start, "%a %d %b %H:%M"))
