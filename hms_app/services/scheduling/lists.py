"""Read lists for the screens: services with their visit types, resources, and appointments
by day, by week, by patient or one at a time. Each list pages or limits in SQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlmodel import Session

from hms_app.clock import format_local, local_today, utcnow
from hms_app.errors import NotFound
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    HOLDING_STATUSES,
    RESOURCE_KINDS,
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    HealthcareService,
    Resource,
    ResourceService,
)
from hms_app.services.audit import audit_read, record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.scheduling.parsing import as_date, as_int
from hms_app.services.scheduling.policy import (
    APPOINTMENT_MISSING,
    authorize_read,
    eligibility_label,
    eligibility_refusal,
    is_portal,
)
from hms_app.services.scheduling.slots import day_bounds
from hms_app.settings import get_settings


@dataclass(frozen=True)
class VisitTypeOption:
    id: int
    code: str
    name: str
    duration_minutes: int
    mode: str
    price_code: str | None
    needs_room: bool
    needs_equipment: str | None
    active: bool


@dataclass(frozen=True)
class ServiceOption:
    id: int
    code: str
    name: str
    department_id: int
    department_name: str
    self_bookable: bool
    active: bool
    visit_types: tuple[VisitTypeOption, ...]
    min_age: int | None = None
    max_age: int | None = None
    for_sex: str | None = None

    @property
    def eligibility(self) -> str:
        """Who it is for, in words ("" for anyone)."""
        return eligibility_label(self.min_age, self.max_age, self.for_sex)


def list_services(
    session: Session, *, actor: Actor, include_inactive: bool = False, self_bookable_only: bool = False
) -> list[ServiceOption]:
    """Services with their visit types (portal users: the self-bookable ones that fit their age
    and sex today)."""
    authorize_read(actor)
    patient = None
    if is_portal(actor):
        self_bookable_only, include_inactive = True, False
        patient = session.get(Patient, actor.patient_id)
    query = select(HealthcareService, Department.name).join(
        Department, Department.id == HealthcareService.department_id
    )
    if not include_inactive:
        query = query.where(HealthcareService.active.is_(True))
    if self_bookable_only:
        query = query.where(HealthcareService.self_bookable.is_(True))
    services = session.execute(query.order_by(Department.name, HealthcareService.name)).all()
    if patient is not None:
        today = local_today()
        services = [
            (s, dept)
            for s, dept in services
            if eligibility_refusal(
                s.min_age, s.max_age, s.for_sex, sex=patient.sex, birth_date=patient.birth_date, on=today
            )
            is None
        ]
    types_query = select(AppointmentType).where(AppointmentType.service_id.in_([s.id for s, _ in services]))
    if not include_inactive:
        types_query = types_query.where(AppointmentType.active.is_(True))
    types: dict[int, list[VisitTypeOption]] = defaultdict(list)
    for t in session.execute(
        types_query.order_by(AppointmentType.duration_minutes, AppointmentType.name)
    ).scalars():
        types[t.service_id].append(
            VisitTypeOption(
                t.id,
                t.code,
                t.name,
                t.duration_minutes,
                t.mode,
                t.price_code,
                t.needs_room,
                t.needs_equipment,
                t.active,
            )
        )
    return [
        ServiceOption(
            s.id,
            s.code,
            s.name,
            s.department_id,
            dept,
            s.self_bookable,
            s.active,
            tuple(types[s.id]),
            s.min_age,
            s.max_age,
            s.for_sex,
        )
        for s, dept in services
    ]


@dataclass(frozen=True)
class ResourceOption:
    id: int
    kind: str
    name: str
    department_id: int
    capability: str | None
    user_id: int | None
    active: bool


def list_resources(
    session: Session,
    *,
    actor: Actor,
    department_id: int | None = None,
    service_id: int | None = None,
    kind: str | None = None,
    include_inactive: bool = False,
) -> list[ResourceOption]:
    """Bookable resources, optionally of one department, service or kind."""
    authorize_read(actor)
    query = select(Resource)
    if service_id is not None:
        query = query.join(ResourceService, ResourceService.resource_id == Resource.id).where(
            ResourceService.service_id == service_id
        )
    if department_id is not None:
        query = query.where(Resource.department_id == department_id)
    if kind is not None:
        query = query.where(Resource.kind == kind)
    if not include_inactive or is_portal(actor):
        query = query.where(Resource.active.is_(True))
    rows = session.execute(query.order_by(Resource.kind, Resource.name)).scalars()
    return [
        ResourceOption(r.id, r.kind, r.name, r.department_id, r.capability, r.user_id, r.active) for r in rows
    ]


@dataclass(frozen=True)
class AppointmentRow:
    id: int
    reference: str
    patient_id: int
    patient_name: str
    mrn: str
    service_id: int
    service_name: str
    visit_type: str
    mode: str
    department_id: int
    start_at: datetime
    end_at: datetime
    start_label: str  # local "09:15"
    day_label: str  # local "Mon 03 Dec 2026"
    status: str
    booked_via: str
    queue_token: str | None
    resource_ids: tuple[int, ...] = ()
    resource_names: tuple[str, ...] = ()
    offer_expires_at: datetime | None = None
    cancel_reason: str | None = None
    series_id: str | None = None
    appointment_type_id: int = 0


def _rows(session: Session, query) -> list[AppointmentRow]:
    found = session.execute(query).all()
    ids = [a.id for a, *_ in found]
    names: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    if ids:
        for appointment_id, rid, name, kind in session.execute(
            select(AppointmentParticipant.appointment_id, Resource.id, Resource.name, Resource.kind)
            .join(Resource, Resource.id == AppointmentParticipant.resource_id)
            .where(AppointmentParticipant.appointment_id.in_(ids))
        ):
            names[appointment_id].append((RESOURCE_KINDS.index(kind), rid, name))
    rows = []
    for a, given, family, mrn, service_name, type_name, mode in found:
        resources = sorted(names[a.id])
        rows.append(
            AppointmentRow(
                a.id,
                a.reference,
                a.patient_id,
                f"{given} {family}",
                mrn,
                a.service_id,
                service_name,
                type_name,
                mode,
                a.department_id,
                a.start_at,
                a.end_at,
                format_local(a.start_at, "%H:%M"),
                format_local(a.start_at, "%a %d %b %Y"),
                a.status,
                a.booked_via,
                a.queue_token,
                tuple(r[1] for r in resources),
                tuple(r[2] for r in resources),
                a.offer_expires_at,
                a.cancel_reason,
                a.series_id,
                a.appointment_type_id,
            )
        )
    return rows


def _row_query():
    return (
        select(
            Appointment,
            Patient.given_name,
            Patient.family_name,
            Patient.mrn,
            HealthcareService.name,
            AppointmentType.name,
            AppointmentType.mode,
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(HealthcareService, HealthcareService.id == Appointment.service_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
    )


@dataclass(frozen=True)
class DayPage:
    rows: list[AppointmentRow]
    total: int


def _range_query(
    start: datetime,
    end: datetime,
    department_id: int | None,
    resource_id: int | None,
    statuses: Sequence[str] | None,
):
    query = _row_query().where(Appointment.start_at >= start, Appointment.start_at < end)
    count = (
        select(func.count())
        .select_from(Appointment)
        .where(Appointment.start_at >= start, Appointment.start_at < end)
    )
    if department_id:
        query = query.where(Appointment.department_id == department_id)
        count = count.where(Appointment.department_id == department_id)
    if resource_id:
        held = select(AppointmentParticipant.appointment_id).where(
            AppointmentParticipant.resource_id == resource_id
        )
        query = query.where(Appointment.id.in_(held))
        count = count.where(Appointment.id.in_(held))
    if statuses:
        query = query.where(Appointment.status.in_(list(statuses)))
        count = count.where(Appointment.status.in_(list(statuses)))
    return query, count


def list_day(
    session: Session,
    *,
    actor: Actor,
    day: date | str,
    department_id: int | None = None,
    resource_id: int | None = None,
    statuses: Sequence[str] | None = None,
    limit: int = 200,
    offset: int = 0,
) -> DayPage:
    """One day's appointments of a department or resource, in start order, one page at a time."""
    authorize(actor, "appointment.read")
    start, end = day_bounds(as_date(day, field="day", label="day"), get_settings().tz)
    query, count = _range_query(start, end, department_id, resource_id, statuses)
    limit, offset = max(1, min(int(limit), 500)), max(0, int(offset))
    rows = _rows(session, query.order_by(Appointment.start_at, Appointment.id).limit(limit).offset(offset))
    return DayPage(rows, session.execute(count).scalar_one())


def list_week(
    session: Session,
    *,
    actor: Actor,
    week_start: date | str,
    department_id: int | None = None,
    resource_id: int | None = None,
    include_cancelled: bool = False,
    limit: int = 1000,
) -> DayPage:
    """Seven days from ``week_start`` (cancelled visits left out unless asked), in start order."""
    authorize(actor, "appointment.read")
    tz = get_settings().tz
    first = as_date(week_start, field="week_start", label="week")
    start, end = day_bounds(first, tz)[0], day_bounds(first + timedelta(days=6), tz)[1]
    statuses = None if include_cancelled else [*HOLDING_STATUSES, "no_show"]
    query, count = _range_query(start, end, department_id, resource_id, statuses)
    rows = _rows(
        session, query.order_by(Appointment.start_at, Appointment.id).limit(max(1, min(int(limit), 2000)))
    )
    return DayPage(rows, session.execute(count).scalar_one())


def get_appointment(session: Session, *, actor: Actor, appointment_id: int) -> AppointmentRow:
    """One appointment (portal users: their own only)."""
    authorize_read(actor)
    appointment = session.get(
        Appointment, as_int(appointment_id, field="appointment_id", label="appointment")
    )
    if appointment is None:
        raise NotFound(APPOINTMENT_MISSING)
    authorize_read(actor, patient_id=appointment.patient_id, missing=APPOINTMENT_MISSING)
    result = _rows(session, _row_query().where(Appointment.id == appointment.id))[0]
    audit_read(
        session,
        actor,
        "appointment.read",
        patient_id=appointment.patient_id,
        target_type="appointment",
        target_id=appointment.id,
    )
    return result


def patient_appointments(
    session: Session,
    *,
    actor: Actor,
    patient_id: int | None = None,
    upcoming: bool = True,
    limit: int = 20,
    offset: int = 0,
    now: datetime | None = None,
    cancelled: bool = False,
) -> DayPage:
    """A patient's upcoming (soonest first) or past (latest first) appointments; the read is audited.

    Past is what has happened: visits whose time is over, and visits completed or missed. A visit
    cancelled before its time is neither upcoming nor past: ``cancelled=True`` lists those
    (soonest first)."""
    if is_portal(actor):
        authorize(
            actor,
            "portal.self",
            patient_id=None
            if patient_id is None
            else as_int(patient_id, field="patient_id", label="patient"),
        )
        patient_id = actor.patient_id
    else:
        authorize(actor, "appointment.read")
        patient_id = as_int(patient_id, field="patient_id", label="patient")
        authorize(actor, "appointment.read", patient_id=patient_id)
    now = now or utcnow()
    where = [Appointment.patient_id == patient_id]
    if cancelled:
        where += [Appointment.end_at >= now, Appointment.status == "cancelled"]
        order = (Appointment.start_at, Appointment.id)
    elif upcoming:
        where += [
            Appointment.end_at >= now,
            Appointment.status.in_(("offered", "booked", "arrived", "in_room")),
        ]
        order = (Appointment.start_at, Appointment.id)
    else:
        where += [or_(Appointment.end_at < now, Appointment.status.in_(("completed", "no_show")))]
        order = (Appointment.start_at.desc(), Appointment.id.desc())
    limit, offset = max(1, min(int(limit), 200)), max(0, int(offset))
    rows = _rows(session, _row_query().where(*where).order_by(*order).limit(limit).offset(offset))
    total = session.execute(select(func.count()).select_from(Appointment).where(*where)).scalar_one()
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient_id,
        target_type="appointment",
        detail="cancelled appointments"
        if cancelled
        else ("upcoming appointments" if upcoming else "past appointments"),
    )
    session.commit()
    return DayPage(rows, total)
