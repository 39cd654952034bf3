"""Reads for the staff calendar, its booking dialog and the set-up screen: the departments that
schedule, each resource's working hours and time off on the days shown, which resources offer
which service, and everything one of those screens shows, read in one session. Nothing here
writes; every function checks ``appointment.read`` first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlmodel import Session

from hms_app.clock import local_today
from hms_app.models.organization import Department
from hms_app.models.scheduling import (
    HOLDING_STATUSES,
    Appointment,
    AvailabilityException,
    AvailabilityRule,
    HealthcareService,
    Resource,
    ResourceService,
)
from hms_app.models.security import AppUser
from hms_app.services.audit import audit_read
from hms_app.services.permissions import Actor, authorize
from hms_app.services.scheduling.lists import (
    AppointmentRow,
    ResourceOption,
    ServiceOption,
    list_day,
    list_resources,
    list_services,
    list_week,
)
from hms_app.services.scheduling.setup import ExceptionRow, list_exceptions
from hms_app.services.scheduling.slots import RuleWindow, applies_to, day_bounds, rule_windows, time_off_query
from hms_app.settings import get_settings

MAX_DAYS = 14
MAX_RESOURCES = 60


@dataclass(frozen=True)
class CalendarDepartment:
    id: int
    code: str
    name: str


def list_departments(
    session: Session, *, actor: Actor, bookable_only: bool = True
) -> list[CalendarDepartment]:
    """Active departments by name; by default only those with something bookable (a service or a resource)."""
    authorize(actor, "appointment.read")
    query = select(Department.id, Department.code, Department.name).where(Department.active.is_(True))
    if bookable_only:
        has_service = select(HealthcareService.department_id).where(HealthcareService.active.is_(True))
        has_resource = select(Resource.department_id).where(Resource.active.is_(True))
        query = query.where(or_(Department.id.in_(has_service), Department.id.in_(has_resource)))
    rows = session.execute(query.order_by(Department.name)).all()
    return [CalendarDepartment(i, c, n) for i, c, n in rows]


def home_department_id(session: Session, *, actor: Actor) -> int | None:
    """The department the signed-in staff member works in (where their calendar opens)."""
    authorize(actor, "appointment.read")
    return session.execute(
        select(AppUser.department_id).where(AppUser.id == actor.user_id)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class TimeOff:
    starts_at: datetime
    ends_at: datetime
    kind: str  # leave | holiday | closure
    reason: str
    shared: bool  # the department's or the whole hospital's, not only this resource's


@dataclass(frozen=True)
class DayAvailability:
    """One resource on one local day: its working windows (UTC) and the time off that touches it."""

    resource_id: int
    day: date
    has_rules: bool  # False: no weekly template at all (a room open whenever the department works)
    windows: tuple[tuple[datetime, datetime], ...]
    time_off: tuple[TimeOff, ...]


def day_availability(
    session: Session, *, actor: Actor, resource_ids: Sequence[int], first_day: date, days: int = 1
) -> dict[tuple[int, date], DayAvailability]:
    """Working windows and time off for each resource on each of ``days`` local days from ``first_day``.

    Two queries whatever the number of resources and days: the rules of the resources, and the
    exceptions overlapping the span (their own, their departments', the whole hospital's).
    """
    authorize(actor, "appointment.read")
    ids = sorted({int(r) for r in resource_ids})[:MAX_RESOURCES]
    days = max(1, min(int(days), MAX_DAYS))
    if not ids:
        return {}
    tz = get_settings().tz
    span = (day_bounds(first_day, tz)[0], day_bounds(first_day + timedelta(days=days - 1), tz)[1])
    department_of = dict(
        session.execute(select(Resource.id, Resource.department_id).where(Resource.id.in_(ids))).all()
    )
    rules: dict[int, list[RuleWindow]] = defaultdict(list)
    for r in session.execute(select(AvailabilityRule).where(AvailabilityRule.resource_id.in_(ids))).scalars():
        rules[r.resource_id].append(RuleWindow(r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_to))
    departments = set(department_of.values())
    exceptions = list(
        session.execute(
            time_off_query(ids, departments, span).order_by(AvailabilityException.starts_at).limit(500)
        ).scalars()
    )
    out: dict[tuple[int, date], DayAvailability] = {}
    for n in range(days):
        day = first_day + timedelta(days=n)
        bounds = day_bounds(day, tz)
        for rid in ids:
            if rid not in department_of:
                continue
            off = tuple(
                TimeOff(
                    max(e.starts_at, bounds[0]),
                    min(e.ends_at, bounds[1]),
                    e.kind,
                    e.reason,
                    e.resource_id is None,
                )
                for e in exceptions
                if e.starts_at < bounds[1]
                and e.ends_at > bounds[0]
                and applies_to(e, rid, department_of[rid])
            )
            out[(rid, day)] = DayAvailability(
                rid, day, bool(rules.get(rid)), tuple(rule_windows(day, rules.get(rid, []), tz)), off
            )
    return out


@dataclass(frozen=True)
class LinkedResource:
    service_id: int
    resource_id: int
    name: str
    kind: str


def service_links(
    session: Session, *, actor: Actor, service_ids: Sequence[int] | None = None
) -> dict[int, list[LinkedResource]]:
    """Which resources offer which service (one query), resource names in kind then name order."""
    authorize(actor, "appointment.read")
    query = select(ResourceService.service_id, Resource.id, Resource.name, Resource.kind).join(
        Resource, Resource.id == ResourceService.resource_id
    )
    if service_ids is not None:
        query = query.where(ResourceService.service_id.in_([int(s) for s in service_ids]))
    out: dict[int, list[LinkedResource]] = defaultdict(list)
    for sid, rid, name, kind in session.execute(query.order_by(Resource.kind, Resource.name).limit(5000)):
        out[sid].append(LinkedResource(sid, rid, name, kind))
    return dict(out)


@dataclass(frozen=True)
class SeriesVisit:
    id: int
    reference: str
    start_at: datetime
    status: str


def series_visits(session: Session, *, actor: Actor, series_id: str, limit: int = 60) -> list[SeriesVisit]:
    """Every visit of a recurring series, cancelled ones included, in date order: a series never
    silently loses a visit from view."""
    authorize(actor, "appointment.read")
    text = str(series_id or "").strip()[:12]
    if not text:
        return []
    rows = session.execute(
        select(Appointment.id, Appointment.reference, Appointment.start_at, Appointment.status)
        .where(Appointment.series_id == text)
        .order_by(Appointment.start_at, Appointment.id)
        .limit(max(1, min(int(limit), 200)))
    ).all()
    return [SeriesVisit(*row) for row in rows]


@dataclass(frozen=True)
class CalendarData:
    """Everything one calendar screen shows."""

    departments: list[CalendarDepartment]
    department_id: int | None  # the department shown (the user's own when none was chosen)
    resources: list[ResourceOption]
    rows: list[AppointmentRow]
    availability: dict[tuple[int, date], DayAvailability]


def read_calendar(
    session: Session,
    *,
    actor: Actor,
    department_id: int | None,
    first_day: date,
    days: int,
    resource_id: int | None,
    show_cancelled: bool,
    with_departments: bool,
) -> CalendarData:
    """Everything one calendar screen shows (one day, or seven from ``first_day``), in one session."""
    authorize(actor, "appointment.read")
    departments = list_departments(session, actor=actor) if with_departments else []
    if department_id is None and departments:
        home = home_department_id(session, actor=actor)
        department_id = home if home in {d.id for d in departments} else departments[0].id
    if department_id is None:
        return CalendarData(departments, None, [], [], {})
    resources = list_resources(session, actor=actor, department_id=department_id)
    if days == 1:
        statuses = None if show_cancelled else [*HOLDING_STATUSES, "no_show"]
        rows = list_day(
            session,
            actor=actor,
            day=first_day,
            department_id=department_id,
            resource_id=resource_id,
            statuses=statuses,
            limit=500,
        ).rows
    else:
        rows = list_week(
            session,
            actor=actor,
            week_start=first_day,
            department_id=department_id,
            resource_id=resource_id,
            include_cancelled=show_cancelled,
        ).rows
    wanted = [resource_id] if resource_id else [r.id for r in resources]
    availability = day_availability(session, actor=actor, resource_ids=wanted, first_day=first_day, days=days)
    result = CalendarData(departments, department_id, resources, rows, availability)
    audit_read(
        session,
        actor,
        "calendar.read",
        detail=f"{first_day.isoformat()} for {days} days: {len(rows)} visits shown",
    )
    return result


@dataclass(frozen=True)
class BookingOptions:
    """What the staff booking dialog offers in one department."""

    services: list[ServiceOption]  # with their visit types
    primaries: dict[int, list[LinkedResource]]  # per service: whom (or what) a visit can be booked with


def booking_options(session: Session, *, actor: Actor, department_id: int) -> BookingOptions:
    """A department's services and, per service, the resources a visit is booked with: its
    providers, or its equipment when it has no provider (a scan)."""
    services = [s for s in list_services(session, actor=actor) if s.department_id == department_id]
    links = service_links(session, actor=actor, service_ids=[s.id for s in services])
    primaries = {
        service_id: [r for r in linked if r.kind == "provider"]
        or [r for r in linked if r.kind == "equipment"]
        for service_id, linked in links.items()
    }
    return BookingOptions(services, primaries)


EXCEPTION_LOOKBACK_DAYS = 7
EXCEPTION_AHEAD_DAYS = 365


@dataclass(frozen=True)
class SetupData:
    """Everything the set-up screen lists: inactive resources, services and visit types included."""

    departments: list[CalendarDepartment]
    resources: list[ResourceOption]
    services: list[ServiceOption]
    links: dict[int, list[LinkedResource]]
    exceptions: list[ExceptionRow]  # from a week ago to a year ahead


def read_setup(session: Session, *, actor: Actor, today: date | None = None) -> SetupData:
    """Everything the set-up screen lists, in one session."""
    today = today or local_today()
    return SetupData(
        list_departments(session, actor=actor, bookable_only=False),
        list_resources(session, actor=actor, include_inactive=True),
        list_services(session, actor=actor, include_inactive=True),
        service_links(session, actor=actor),
        list_exceptions(
            session,
            actor=actor,
            start_day=today - timedelta(days=EXCEPTION_LOOKBACK_DAYS),
            end_day=today + timedelta(days=EXCEPTION_AHEAD_DAYS),
        ),
    )
