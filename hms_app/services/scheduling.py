"""Scheduling: free slots, booking, the visit flow, cancellations, the waitlist, and setup.

How a double booking is made impossible: every appointment that holds time (offered, booked,
arrived, in room, completed) owns one ``resource_block`` row per 5 minutes per resource it
uses, inserted in the same transaction as the appointment. UNIQUE(resource_id, starts_at)
lets exactly one of two overlapping bookings commit, whatever their lengths; the loser gets
``SlotTaken`` and reloads the free times. Cancelling and no-shows delete the blocks.

Free slots are derived by pure functions (``rule_windows``, ``subtract``, ``free_starts``)
from the weekly rules (hospital local time, DST-aware), the exceptions and the blocks of
one day, read with a few indexed queries.

Which resources a visit uses: the *primary* resource is a provider linked to the service
(or, for a service without providers such as "MRI scan", a piece of equipment). A visit type
that ``needs_room`` also takes one of the rooms linked to the service, and one that
``needs_equipment`` takes linked equipment of that capability. A room or piece of equipment
with no availability rules at all is open whenever its department works (only its bookings
and exceptions constrain it); a primary resource needs rules to be bookable.
"""

from __future__ import annotations

import secrets
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import and_, case, delete, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.errors import Conflict, DomainError, NotFound, ValidationError
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    BLOCK_MINUTES,
    EXCEPTION_KINDS,
    HOLDING_STATUSES,
    RESOURCE_KINDS,
    VISIT_MODES,
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    HealthcareService,
    Resource,
    ResourceBlock,
    ResourceService,
    WaitlistEntry,
)
from hms_app.models.security import AppUser
from hms_app.services import billing, live, reminders
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.permissions import SYSTEM_ACTOR, Actor, authorize
from hms_app.settings import get_settings

Interval = tuple[datetime, datetime]
BLOCK = timedelta(minutes=BLOCK_MINUTES)
SLOT_TAKEN_MESSAGE = "That time was just taken by someone else. Here are the free times now."
REFERENCE_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY34679"  # no look-alikes (0/O, 1/I, 5/S, 8/B, 2/Z)


class SlotTaken(Conflict):
    """Someone else booked (part of) this time first: reload the free slots."""

    def __init__(self, message: str = SLOT_TAKEN_MESSAGE):
        super().__init__(message, field="start_at")


class RecurrenceConflict(Conflict):
    """Some occurrences of a recurring booking are not free; nothing was booked."""

    def __init__(self, moments: list[datetime]):
        self.moments = moments
        days = ", ".join(format_local(m, "%a %d %b %H:%M") for m in moments[:6])
        more = f" and {len(moments) - 6} more" if len(moments) > 6 else ""
        super().__init__(
            f"Not free on {days}{more}. Nothing was booked; choose another time or fewer visits."
        )


# --- policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulingPolicy:
    cancel_cutoff_hours: int = 2  # patients may not cancel or move a visit closer to its start
    offer_minutes: int = 30  # how long a waitlist offer holds a freed time
    reminder_lead_hours: tuple[int, ...] = (24, 2)
    slot_step_minutes: int = 15  # offered start times: every 15 minutes (shorter visits: their length)


def policy() -> SchedulingPolicy:
    """The clinic's scheduling policy (settings when the operator set them, else the defaults)."""
    settings = get_settings()
    return SchedulingPolicy(
        cancel_cutoff_hours=settings.cancel_cutoff_hours,
        offer_minutes=settings.waitlist_offer_minutes,
        reminder_lead_hours=settings.reminder_lead_hours,
        slot_step_minutes=SchedulingPolicy().slot_step_minutes,
    )


# --- pure slot derivation -----------------------------------------------------------------


@dataclass(frozen=True)
class RuleWindow:
    weekday: int
    start_time: time
    end_time: time
    valid_from: date
    valid_to: date | None = None


def local_moment(day: date, wall: time, tz: tzinfo) -> datetime:
    """A wall-clock time on a local day, as UTC.

    On the spring-forward night a wall time inside the gap (02:30) does not exist; zoneinfo
    reads it with the offset before the jump, which lands after the gap (03:30), so a rule
    spanning the jump is simply an hour shorter. On the fall-back night the first of the
    two 01:30s is used, and a rule spanning it is an hour longer: people work wall-clock hours.
    """
    return datetime.combine(day, wall).replace(tzinfo=tz).astimezone(UTC)


def day_bounds(day: date, tz: tzinfo) -> Interval:
    """Local midnight to the next local midnight, in UTC (23 or 25 hours on DST days)."""
    return local_moment(day, time(0), tz), local_moment(day + timedelta(days=1), time(0), tz)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping and touching intervals joined."""
    out: list[list[datetime]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(a, b) for a, b in out]


def subtract(windows: Iterable[Interval], busy: Iterable[Interval]) -> list[Interval]:
    """The parts of ``windows`` not covered by ``busy``."""
    busy = merge(busy)
    out: list[Interval] = []
    for start, end in merge(windows):
        cursor = start
        for b_start, b_end in busy:
            if b_end <= cursor or b_start >= end:
                continue
            if b_start > cursor:
                out.append((cursor, b_start))
            cursor = max(cursor, b_end)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
    return out


def rule_windows(day: date, rules: Iterable[RuleWindow], tz: tzinfo) -> list[Interval]:
    """The working windows the weekly rules give on one local day."""
    weekday = day.weekday()
    return merge(
        (local_moment(day, r.start_time, tz), local_moment(day, r.end_time, tz))
        for r in rules
        if r.weekday == weekday and r.valid_from <= day and (r.valid_to is None or day <= r.valid_to)
    )


def blocks_to_busy(starts: Iterable[datetime], minutes: int = BLOCK_MINUTES) -> list[Interval]:
    """Held 5-minute blocks as merged busy intervals."""
    step = timedelta(minutes=minutes)
    return merge((s, s + step) for s in starts)


def _ceil_to(moment: datetime, anchor: datetime, step: timedelta) -> datetime:
    steps = -((anchor - moment) // step)  # ceil((moment - anchor) / step)
    return anchor + steps * step


def step_for(duration: timedelta, slot_step_minutes: int = 15) -> timedelta:
    """Offered starts are every ``slot_step_minutes``, or every visit length when shorter."""
    return min(duration, timedelta(minutes=slot_step_minutes))


def free_starts(
    free: Sequence[Interval],
    duration: timedelta,
    *,
    anchor: datetime,
    step: timedelta,
    not_before: datetime | None = None,
) -> list[datetime]:
    """Start times where a visit of ``duration`` fits in a free interval.

    Starts lie on the ``step`` grid counted from ``anchor`` (local midnight), plus the first
    5-minute mark of each free interval, so that a gap left by a visit of another length is
    used from its beginning. Nothing starts before ``not_before``.
    """
    out: list[datetime] = []
    for start, end in free:
        if not_before is not None and start < not_before:
            start = not_before
        first = _ceil_to(start, anchor, BLOCK)
        candidates = {first}
        moment = _ceil_to(first, anchor, step)
        while moment + duration <= end:
            candidates.add(moment)
            moment += step
        out.extend(c for c in candidates if c + duration <= end)
    return sorted(set(out))


def fits(free: Sequence[Interval], start: datetime, end: datetime) -> bool:
    """Whether [start, end) lies inside one free interval."""
    return any(a <= start and end <= b for a, b in free)


def block_starts(start: datetime, end: datetime) -> list[datetime]:
    """The 5-minute blocks an interval holds."""
    out, moment = [], start
    while moment < end:
        out.append(moment)
        moment += BLOCK
    return out


def on_grid(moment: datetime) -> bool:
    return moment.second == 0 and moment.microsecond == 0 and moment.minute % BLOCK_MINUTES == 0


# --- small parsers (browsers send strings) --------------------------------------------------


def _as_int(value, *, field: str, label: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(f"Choose the {label}.", field=field) from None


def _as_date(value, *, field: str, label: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError(f"Enter the {label} as a date (YYYY-MM-DD).", field=field) from None


def _as_time(value, *, field: str, label: str) -> time:
    if isinstance(value, time):
        return value
    try:
        parsed = time.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError(f"Enter the {label} as a time such as 08:30.", field=field) from None
    return parsed


def _as_moment(value, *, field: str = "start_at", label: str = "start time") -> datetime:
    """An aware UTC moment; a naive one (or text) is read as hospital local time."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value or "").strip())
        except ValueError:
            raise ValidationError(f"Enter the {label} as a date and time.", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=get_settings().tz)
    return moment.astimezone(UTC)


def _resource_id(resource_id) -> int | None:
    """The chosen resource, or None when the caller left the choice open."""
    if resource_id in (None, "", 0, "0"):
        return None
    return _as_int(resource_id, field="resource_id", label="resource")


def make_reference(prefix: str = "AP", rng=None) -> str:
    """A short readable code such as AP-7K3QX9 (``rng``: a random.Random for seeders)."""
    choice = rng.choice if rng is not None else secrets.choice
    return f"{prefix}-" + "".join(choice(REFERENCE_ALPHABET) for _ in range(6))


# --- reading one day: rules, exceptions and blocks -------------------------------------------


@dataclass
class _Day:
    day: date
    bounds: Interval
    windows: dict[int, list[Interval]]  # resource -> working windows
    busy: dict[int, list[Interval]]  # resource -> blocks and exceptions
    open_all_day: set[int]  # supporting resources without any rules
    _free: dict[int, list[Interval]] = field(default_factory=dict)

    def free(self, resource_id: int) -> list[Interval]:
        found = self._free.get(resource_id)
        if found is None:
            windows = [self.bounds] if resource_id in self.open_all_day else self.windows.get(resource_id, [])
            found = self._free[resource_id] = subtract(windows, self.busy.get(resource_id, []))
        return found


def _load_day(
    session: Session,
    day: date,
    resources: Sequence[Resource],
    *,
    open_without_rules: Iterable[int] = (),
    ignore_appointment_id: int | None = None,
    with_blocks: bool = True,
) -> _Day:
    tz = get_settings().tz
    bounds = day_bounds(day, tz)
    ids = [r.id for r in resources]
    windows: dict[int, list[Interval]] = {}
    busy: dict[int, list[Interval]] = defaultdict(list)
    if not ids:
        return _Day(day, bounds, windows, busy, set())
    rules = session.execute(
        select(AvailabilityRule).where(
            AvailabilityRule.resource_id.in_(ids),
            AvailabilityRule.weekday == day.weekday(),
            AvailabilityRule.valid_from <= day,
            or_(AvailabilityRule.valid_to.is_(None), AvailabilityRule.valid_to >= day),
        )
    ).scalars()
    by_resource: dict[int, list[RuleWindow]] = defaultdict(list)
    for r in rules:
        by_resource[r.resource_id].append(
            RuleWindow(r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_to)
        )
    for rid, rws in by_resource.items():
        windows[rid] = rule_windows(day, rws, tz)
    open_all_day: set[int] = set()
    candidates = [rid for rid in open_without_rules if rid in ids]
    if candidates:
        with_rules = set(
            session.execute(
                select(AvailabilityRule.resource_id)
                .where(AvailabilityRule.resource_id.in_(candidates))
                .distinct()
            ).scalars()
        )
        open_all_day = set(candidates) - with_rules
    departments = {r.department_id for r in resources}
    exceptions = session.execute(
        select(AvailabilityException).where(
            AvailabilityException.starts_at < bounds[1],
            AvailabilityException.ends_at > bounds[0],
            or_(
                AvailabilityException.resource_id.in_(ids),
                and_(
                    AvailabilityException.resource_id.is_(None),
                    or_(
                        AvailabilityException.department_id.is_(None),
                        AvailabilityException.department_id.in_(departments),
                    ),
                ),
            ),
        )
    ).scalars()
    for ex in exceptions:
        span = (ex.starts_at, ex.ends_at)
        for r in resources:
            if ex.resource_id == r.id or (
                ex.resource_id is None and ex.department_id in (None, r.department_id)
            ):
                busy[r.id].append(span)
    query = select(ResourceBlock.resource_id, ResourceBlock.starts_at).where(
        ResourceBlock.resource_id.in_(ids),
        ResourceBlock.starts_at >= bounds[0],
        ResourceBlock.starts_at < bounds[1],
    )
    if ignore_appointment_id is not None:
        query = query.where(ResourceBlock.appointment_id != ignore_appointment_id)
    if not with_blocks:
        query = query.where(false())
    starts: dict[int, list[datetime]] = defaultdict(list)
    for rid, start in session.execute(query):
        starts[rid].append(start)
    for rid, values in starts.items():
        busy[rid].extend(blocks_to_busy(values))
    return _Day(day, bounds, windows, busy, open_all_day)


@dataclass(frozen=True)
class _Pools:
    primaries: list[Resource]
    rooms: list[Resource]  # empty unless the visit type needs a room
    equipment: list[Resource]  # empty unless the visit type needs equipment

    @property
    def all(self) -> list[Resource]:
        return [*self.primaries, *self.rooms, *self.equipment]


def _pools(
    session: Session, service: HealthcareService, vtype: AppointmentType, resource_id: int | None
) -> _Pools:
    linked = (
        session.execute(
            select(Resource)
            .join(ResourceService, ResourceService.resource_id == Resource.id)
            .where(ResourceService.service_id == service.id, Resource.active.is_(True))
            .order_by(Resource.name, Resource.id)
        )
        .scalars()
        .all()
    )
    providers = [r for r in linked if r.kind == "provider"]
    equipment = [r for r in linked if r.kind == "equipment"]
    primaries = providers or [r for r in equipment if r.capability != vtype.needs_equipment]
    if resource_id is not None:
        primaries = [r for r in primaries if r.id == resource_id]
        if not primaries:
            raise ValidationError("That resource does not offer this service.", field="resource_id")
    rooms = [r for r in linked if r.kind == "room"] if vtype.needs_room else []
    needed_equipment = (
        [r for r in equipment if r.capability == vtype.needs_equipment and r not in primaries]
        if vtype.needs_equipment
        else []
    )
    return _Pools(primaries, rooms, needed_equipment)


def _assign(
    day: _Day, pools: _Pools, primary: Resource, start: datetime, end: datetime
) -> list[Resource] | None:
    """The resources a visit at [start, end) with ``primary`` would use, or None when one is missing."""
    if not fits(day.free(primary.id), start, end):
        return None
    chosen = [primary]
    for group, needed in ((pools.rooms, bool(pools.rooms)), (pools.equipment, bool(pools.equipment))):
        if not needed:
            continue
        found = next((r for r in group if fits(day.free(r.id), start, end)), None)
        if found is None:
            return None
        chosen.append(found)
    return chosen


def _needs_unavailable(vtype: AppointmentType, pools: _Pools) -> bool:
    return (vtype.needs_room and not pools.rooms) or (bool(vtype.needs_equipment) and not pools.equipment)


# --- reading: services, slots ---------------------------------------------------------------


def _is_portal(actor: Actor | None) -> bool:
    return actor is not None and actor.patient_id is not None


def _authorize_change(actor: Actor | None, patient_id: int | None = None) -> Actor:
    """Portal users change their own bookings; staff need appointment.book."""
    if _is_portal(actor):
        return authorize(actor, "portal.self", patient_id=patient_id)
    return authorize(actor, "appointment.book", patient_id=patient_id)


def _authorize_read(actor: Actor | None, patient_id: int | None = None) -> Actor:
    if _is_portal(actor):
        return authorize(actor, "portal.self", patient_id=patient_id)
    return authorize(actor, "appointment.read", patient_id=patient_id)


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


def list_services(
    session: Session, *, actor: Actor, include_inactive: bool = False, self_bookable_only: bool = False
) -> list[ServiceOption]:
    """Services with their visit types (portal users: the self-bookable ones only)."""
    _authorize_read(actor)
    if _is_portal(actor):
        self_bookable_only, include_inactive = True, False
    query = select(HealthcareService, Department.name).join(
        Department, Department.id == HealthcareService.department_id
    )
    if not include_inactive:
        query = query.where(HealthcareService.active.is_(True))
    if self_bookable_only:
        query = query.where(HealthcareService.self_bookable.is_(True))
    services = session.execute(query.order_by(Department.name, HealthcareService.name)).all()
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
            s.id, s.code, s.name, s.department_id, dept, s.self_bookable, s.active, tuple(types[s.id])
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
    _authorize_read(actor)
    query = select(Resource)
    if service_id is not None:
        query = query.join(ResourceService, ResourceService.resource_id == Resource.id).where(
            ResourceService.service_id == service_id
        )
    if department_id is not None:
        query = query.where(Resource.department_id == department_id)
    if kind is not None:
        query = query.where(Resource.kind == kind)
    if not include_inactive or _is_portal(actor):
        query = query.where(Resource.active.is_(True))
    rows = session.execute(query.order_by(Resource.kind, Resource.name)).scalars()
    return [
        ResourceOption(r.id, r.kind, r.name, r.department_id, r.capability, r.user_id, r.active) for r in rows
    ]


@dataclass(frozen=True)
class FreeSlot:
    start_at: datetime
    end_at: datetime
    resource_ids: tuple[int, ...]  # primary first, then room / equipment
    resource_names: tuple[str, ...]
    label: str  # local "Mon 03 Dec 09:15"

    @property
    def provider_id(self) -> int:
        return self.resource_ids[0]

    @property
    def provider_name(self) -> str:
        return self.resource_names[0]


def _service_and_type(
    session: Session, service_id, appointment_type_id, *, actor: Actor | None = None
) -> tuple[HealthcareService, AppointmentType]:
    service = session.get(HealthcareService, _as_int(service_id, field="service_id", label="service"))
    if service is None or not service.active:
        raise ValidationError("Choose the service.", field="service_id")
    if _is_portal(actor) and not service.self_bookable:
        raise ValidationError(
            "This service cannot be booked online; please call the clinic.", field="service_id"
        )
    vtype = session.get(
        AppointmentType, _as_int(appointment_type_id, field="appointment_type_id", label="visit type")
    )
    if vtype is None or vtype.service_id != service.id or not vtype.active:
        raise ValidationError("Choose the visit type.", field="appointment_type_id")
    return service, vtype


def _day_slots(
    session: Session,
    day: date,
    pools: _Pools,
    duration: timedelta,
    *,
    not_before: datetime | None,
    limit: int,
) -> list[FreeSlot]:
    support = [r.id for r in (*pools.rooms, *pools.equipment)]
    loaded = _load_day(session, day, pools.all, open_without_rules=support)
    step = step_for(duration, policy().slot_step_minutes)
    found: list[FreeSlot] = []
    for primary in pools.primaries:
        free = loaded.free(primary.id)
        for start in free_starts(free, duration, anchor=loaded.bounds[0], step=step, not_before=not_before):
            chosen = _assign(loaded, pools, primary, start, start + duration)
            if chosen is None:
                continue
            found.append(
                FreeSlot(
                    start,
                    start + duration,
                    tuple(r.id for r in chosen),
                    tuple(r.name for r in chosen),
                    format_local(start, "%a %d %b %H:%M"),
                )
            )
    found.sort(key=lambda s: (s.start_at, s.resource_names))
    return found[:limit]


def find_free_slots(
    session: Session,
    *,
    actor: Actor,
    service_id: int,
    appointment_type_id: int,
    day: date | str | None = None,
    end_day: date | str | None = None,
    resource_id: int | None = None,
    limit: int = 60,
    now: datetime | None = None,
) -> list[FreeSlot]:
    """Free times for a visit type on a day (or the days up to ``end_day``), earliest first."""
    _authorize_read(actor)
    service, vtype = _service_and_type(session, service_id, appointment_type_id, actor=actor)
    now = now or utcnow()
    tz = get_settings().tz
    first = _as_date(day, field="day", label="day") if day else now.astimezone(tz).date()
    last = _as_date(end_day, field="end_day", label="last day") if end_day else first
    if last < first or (last - first).days > 62:
        raise ValidationError("Search at most two months at a time.", field="end_day")
    limit = max(1, min(int(limit), 500))
    rid = _resource_id(resource_id)
    pools = _pools(session, service, vtype, rid)
    if not pools.primaries or _needs_unavailable(vtype, pools):
        return []
    duration = timedelta(minutes=vtype.duration_minutes)
    out: list[FreeSlot] = []
    current = first
    while current <= last and len(out) < limit:
        out.extend(_day_slots(session, current, pools, duration, not_before=now, limit=limit - len(out)))
        current += timedelta(days=1)
    return out


def day_is_full(
    session: Session, *, actor: Actor, service_id: int, appointment_type_id: int, day: date | str, now=None
) -> bool:
    """Whether a day has no free time left for a visit type (the portal then offers the waitlist)."""
    return not find_free_slots(
        session,
        actor=actor,
        service_id=service_id,
        appointment_type_id=appointment_type_id,
        day=day,
        limit=1,
        now=now,
    )


# --- writing appointments ---------------------------------------------------------------------


def _choose_resources(
    session: Session,
    service: HealthcareService,
    vtype: AppointmentType,
    start: datetime,
    end: datetime,
    resource_id: int | None,
    *,
    ignore_appointment_id: int | None = None,
    count_bookings: bool = True,
) -> list[Resource] | None:
    pools = _pools(session, service, vtype, resource_id)
    if not pools.primaries or _needs_unavailable(vtype, pools):
        return None
    tz = get_settings().tz
    day = start.astimezone(tz).date()
    support = [r.id for r in (*pools.rooms, *pools.equipment)]
    loaded = _load_day(
        session,
        day,
        pools.all,
        open_without_rules=support,
        ignore_appointment_id=ignore_appointment_id,
        with_blocks=count_bookings,
    )
    if end > loaded.bounds[1]:
        return None  # visits do not run past midnight
    for primary in pools.primaries:
        chosen = _assign(loaded, pools, primary, start, end)
        if chosen is not None:
            return chosen
    return None


def _not_free(
    session: Session,
    service: HealthcareService,
    vtype: AppointmentType,
    start: datetime,
    end: datetime,
    resource_id: int | None,
) -> DomainError:
    """Why a time cannot be booked: taken by another booking, or nobody works then."""
    open_at_all = _choose_resources(session, service, vtype, start, end, resource_id, count_bookings=False)
    session.rollback()
    if open_at_all is None:
        return ValidationError(
            "Nobody offers this visit at that time (outside working hours, leave or a holiday).",
            field="start_at",
        )
    return SlotTaken()


def _hold(session: Session, appointment: Appointment, resources: Sequence[Resource]) -> None:
    """Participants and blocks for an appointment; raises SlotTaken if any block is taken."""
    rows = [
        {"resource_id": r.id, "starts_at": s, "appointment_id": appointment.id}
        for r in resources
        for s in block_starts(appointment.start_at, appointment.end_at)
    ]
    # One order for every writer, so that two bookings can never wait on each other in a cycle.
    rows.sort(key=lambda row: (row["resource_id"], row["starts_at"]))
    try:
        # Multi-row VALUES statements: one round trip each (at most 96 blocks per resource).
        session.execute(
            insert(AppointmentParticipant.__table__).values(
                [{"appointment_id": appointment.id, "resource_id": r.id} for r in resources]
            )
        )
        session.execute(insert(ResourceBlock.__table__).values(rows))
    except (IntegrityError, OperationalError) as error:
        if isinstance(error, OperationalError) and "deadlock" not in str(error).lower():
            raise
        session.rollback()
        raise SlotTaken() from None


def _release(session: Session, appointment_id: int) -> None:
    session.execute(delete(ResourceBlock).where(ResourceBlock.appointment_id == appointment_id))


def _new_reference(session: Session) -> str:
    while True:
        reference = make_reference()
        if not session.execute(select(Appointment.id).where(Appointment.reference == reference)).first():
            return reference


def _patient(session: Session, patient_id) -> Patient:
    patient = session.get(Patient, _as_int(patient_id, field="patient_id", label="patient"))
    if patient is None or not patient.active or patient.merged_into_id is not None:
        raise ValidationError("Choose the patient.", field="patient_id")
    return patient


def _patient_overlap(
    session: Session, patient_id: int, start: datetime, end: datetime, ignore: int | None
) -> bool:
    query = select(Appointment.id).where(
        Appointment.patient_id == patient_id,
        Appointment.status.in_(("booked", "arrived", "in_room")),
        Appointment.start_at < end,
        Appointment.end_at > start,
    )
    if ignore is not None:
        query = query.where(Appointment.id != ignore)
    return session.execute(query.limit(1)).first() is not None


def _booking_patient_id(actor: Actor, patient_id) -> int:
    if _is_portal(actor):
        authorize(
            actor,
            "portal.self",
            patient_id=None
            if patient_id in (None, "")
            else _as_int(patient_id, field="patient_id", label="patient"),
        )
        return actor.patient_id  # the portal user's own record, whatever the browser sent
    authorize(actor, "appointment.book")
    return _as_int(patient_id, field="patient_id", label="patient")


def _enqueue_reminders(
    session: Session, appointment: Appointment, patient: Patient, service: HealthcareService, now: datetime
) -> None:
    reminders.enqueue_reminders(
        session,
        appointment,
        patient,
        service_name=service.name,
        lead_hours=policy().reminder_lead_hours,
        now=now,
    )


def _audit_appointment(
    session: Session, actor: Actor, action: str, appointment: Appointment, detail: str
) -> None:
    record_audit(
        session,
        actor,
        action,
        patient_id=appointment.patient_id,
        target_type="appointment",
        target_id=appointment.id,
        detail=detail,
    )


def _insert_appointment(
    session: Session,
    *,
    actor: Actor,
    patient: Patient,
    service: HealthcareService,
    vtype: AppointmentType,
    start: datetime,
    resources: Sequence[Resource],
    status: str = "booked",
    booked_via: str = "staff",
    series_id: str | None = None,
    note: str | None = None,
    offer_expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Appointment:
    now = now or utcnow()
    appointment = Appointment(
        reference=_new_reference(session),
        patient_id=patient.id,
        service_id=service.id,
        appointment_type_id=vtype.id,
        department_id=service.department_id,
        start_at=start,
        end_at=start + timedelta(minutes=vtype.duration_minutes),
        status=status,
        booked_via=booked_via,
        series_id=series_id,
        note=note,
        offer_expires_at=offer_expires_at,
        created_at=now,
        created_by=actor.username,
        updated_at=now,
    )
    session.add(appointment)
    session.flush()
    _hold(session, appointment, resources)
    if status == "booked":
        _enqueue_reminders(session, appointment, patient, service, now)
    return appointment


def _validate_start(start: datetime, now: datetime) -> None:
    if not on_grid(start):
        raise ValidationError("Appointments start on a 5-minute mark.", field="start_at")
    if start < now - timedelta(minutes=1):
        raise ValidationError("That time has already passed.", field="start_at")


def _publish(*department_ids: int, queue: bool = False) -> None:
    for department_id in sorted(set(department_ids)):
        live.publish(live.APPOINTMENTS, department_id)
        if queue:
            live.publish(live.QUEUE, department_id)


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
    patient_id = _booking_patient_id(actor, patient_id)
    now = now or utcnow()
    patient = _patient(session, patient_id)
    service, vtype = _service_and_type(session, service_id, appointment_type_id, actor=actor)
    start = _as_moment(start_at)
    _validate_start(start, now)
    end = start + timedelta(minutes=vtype.duration_minutes)
    rid = _resource_id(resource_id)
    note = (note or "").strip()[:300] or None
    if _patient_overlap(session, patient.id, start, end, None):
        raise Conflict("The patient already has an appointment at that time.", field="start_at")
    resources = _choose_resources(session, service, vtype, start, end, rid)
    if resources is None:
        raise _not_free(session, service, vtype, start, end, rid)
    appointment = _insert_appointment(
        session,
        actor=actor,
        patient=patient,
        service=service,
        vtype=vtype,
        start=start,
        resources=resources,
        booked_via="portal" if _is_portal(actor) else "staff",
        note=note,
        now=now,
    )
    _audit_appointment(
        session,
        actor,
        "appointment.book",
        appointment,
        f"{appointment.reference} {service.code}/{vtype.code} {format_local(start)} "
        f"with {', '.join(r.name for r in resources)}",
    )
    session.commit()
    _publish(appointment.department_id)
    return appointment


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
    patient = _patient(session, patient_id)
    service, vtype = _service_and_type(session, service_id, appointment_type_id, actor=actor)
    count = _as_int(count, field="count", label="number of visits")
    every_days = _as_int(every_days, field="every_days", label="interval")
    if not 2 <= count <= 52:
        raise ValidationError("A series has 2 to 52 visits.", field="count")
    if not 1 <= every_days <= 91:
        raise ValidationError("Repeat every 1 to 91 days.", field="every_days")
    first = _as_moment(first_start_at, field="first_start_at")
    _validate_start(first, now)
    rid = _resource_id(resource_id)
    tz = get_settings().tz
    local_first = first.astimezone(tz)
    duration = timedelta(minutes=vtype.duration_minutes)
    plan: list[tuple[datetime, list[Resource]]] = []
    clashes: list[datetime] = []
    for n in range(count):
        local_day = local_first.date() + timedelta(days=n * every_days)
        start = local_moment(local_day, local_first.time().replace(tzinfo=None), tz)
        chosen = _choose_resources(session, service, vtype, start, start + duration, rid)
        if chosen is None or _patient_overlap(session, patient.id, start, start + duration, None):
            clashes.append(start)
        else:
            plan.append((start, chosen))
    if clashes:
        session.rollback()
        raise RecurrenceConflict(clashes)
    series_id = make_reference("RS")
    booked = [
        _insert_appointment(
            session,
            actor=actor,
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
        _audit_appointment(
            session,
            actor,
            "appointment.book",
            appointment,
            f"{appointment.reference} series {series_id} {format_local(appointment.start_at)}",
        )
    session.commit()
    _publish(service.department_id)
    return booked


def _locked(session: Session, appointment_id) -> Appointment:
    appointment_id = _as_int(appointment_id, field="appointment_id", label="appointment")
    appointment = session.execute(
        select(Appointment).where(Appointment.id == appointment_id).with_for_update()
    ).scalar_one_or_none()
    if appointment is None:
        raise NotFound("That appointment does not exist.")
    return appointment


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
    if not _is_portal(actor):
        return
    authorize(actor, "portal.self", patient_id=appointment.patient_id)
    refusal = _portal_refusal(appointment, service, now)
    if refusal:
        raise Conflict(refusal)


def portal_change_refusal(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> str | None:
    """Why a patient may not cancel or move this appointment online (None: they may)."""
    authorize(actor, "portal.self")
    appointment = session.get(
        Appointment, _as_int(appointment_id, field="appointment_id", label="appointment")
    )
    if appointment is None:
        raise NotFound("That appointment does not exist.")
    authorize(actor, "portal.self", patient_id=appointment.patient_id)
    service = session.get(HealthcareService, appointment.service_id)
    return _portal_refusal(appointment, service, now or utcnow())


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
    if not _is_portal(actor):
        authorize(actor, "appointment.book")
    now = now or utcnow()
    appointment = _locked(session, appointment_id)
    service = session.get(HealthcareService, appointment.service_id)
    _check_portal_change(actor, appointment, service, now)
    if appointment.status != "booked":
        raise Conflict("Only a booked appointment can be moved.")
    vtype = session.get(AppointmentType, appointment.appointment_type_id)
    start = _as_moment(start_at)
    _validate_start(start, now)
    if _is_portal(actor) and start - now < timedelta(hours=policy().cancel_cutoff_hours):
        raise ValidationError("Choose a time further ahead.", field="start_at")
    end = start + timedelta(minutes=vtype.duration_minutes)
    rid = _resource_id(resource_id)
    if _patient_overlap(session, appointment.patient_id, start, end, appointment.id):
        raise Conflict("The patient already has an appointment at that time.", field="start_at")
    resources = _choose_resources(
        session, service, vtype, start, end, rid, ignore_appointment_id=appointment.id
    )
    if resources is None:
        raise _not_free(session, service, vtype, start, end, rid)
    old = (appointment.start_at, appointment.end_at)
    old_resources = _participant_ids(session, appointment.id)
    _release(session, appointment.id)
    session.execute(
        delete(AppointmentParticipant).where(AppointmentParticipant.appointment_id == appointment.id)
    )
    appointment.start_at, appointment.end_at, appointment.updated_at = start, end, now
    session.add(appointment)
    session.flush()
    _hold(session, appointment, resources)
    reminders.cancel_reminders(session, appointment.id)
    patient = session.get(Patient, appointment.patient_id)
    _enqueue_reminders(session, appointment, patient, service, now)
    _audit_appointment(
        session,
        actor,
        "appointment.reschedule",
        appointment,
        f"{appointment.reference} from {format_local(old[0])} to {format_local(start)}",
    )
    session.commit()
    _publish(appointment.department_id)
    if old[0] > now:
        _offer_after_release(session, appointment, old[0], old_resources, now=now)
    return appointment


def cancel_appointment(
    session: Session, *, actor: Actor, appointment_id: int, reason: str, now: datetime | None = None
) -> Appointment:
    """Cancel a booked (or offered) visit with a reason; its time goes to the first patient waiting."""
    if not _is_portal(actor):
        authorize(actor, "appointment.book")
    now = now or utcnow()
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Say why the appointment is cancelled.", field="reason")
    appointment = _locked(session, appointment_id)
    service = session.get(HealthcareService, appointment.service_id)
    _check_portal_change(actor, appointment, service, now)
    if appointment.status not in ("booked", "offered"):
        raise Conflict(
            f"This appointment is {appointment.status.replace('_', ' ')} and can no longer be cancelled."
        )
    resource_ids = _participant_ids(session, appointment.id)
    _release(session, appointment.id)
    was_offer = appointment.status == "offered"
    appointment.status, appointment.cancel_reason = "cancelled", reason[:300]
    appointment.cancelled_at = appointment.updated_at = now
    session.add(appointment)
    reminders.cancel_reminders(session, appointment.id)
    if was_offer:
        _close_waitlist_offer(session, appointment.id, "cancelled")
    _audit_appointment(
        session, actor, "appointment.cancel", appointment, f"{appointment.reference}: {reason[:200]}"
    )
    session.commit()
    _publish(appointment.department_id)
    if appointment.start_at > now:
        _offer_after_release(session, appointment, appointment.start_at, resource_ids, now=now)
    return appointment


# --- the visit flow ------------------------------------------------------------------------


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
    appointment = _locked(session, appointment_id)
    if appointment.status not in allowed:
        raise Conflict(
            f"This appointment is {appointment.status.replace('_', ' ')}; it cannot be marked "
            f"{status.replace('_', ' ')}."
        )
    previous = appointment.status
    appointment.status, appointment.updated_at = status, now
    session.add(appointment)
    _audit_appointment(session, actor, action, appointment, f"{appointment.reference} {previous} -> {status}")
    return appointment


def check_in(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """The patient has arrived: mark it and give a queue token (e.g. C-014) for the waiting room."""
    authorize(actor, "appointment.flow")
    now = now or utcnow()
    tz = get_settings().tz
    appointment = _locked(session, appointment_id)
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
    _publish(appointment.department_id, queue=True)
    return appointment


def call_patient(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """Call the patient in: the visit starts (in room)."""
    now = now or utcnow()
    appointment = _transition(
        session,
        actor=actor,
        appointment_id=appointment_id,
        allowed=("arrived",),
        status="in_room",
        action="appointment.call",
        now=now,
    )
    appointment.in_room_at = now
    session.add(appointment)
    session.commit()
    _publish(appointment.department_id, queue=True)
    return appointment


start_visit = call_patient


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
    _publish(appointment.department_id, queue=True)
    live.publish(live.BILLING, appointment.patient_id)
    return appointment


def mark_no_show(
    session: Session, *, actor: Actor, appointment_id: int, now: datetime | None = None
) -> Appointment:
    """The patient did not come: counted in the no-show rates; the time is freed."""
    authorize(actor, "appointment.flow")
    now = now or utcnow()
    appointment = _locked(session, appointment_id)
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
    _release(session, appointment.id)
    reminders.cancel_reminders(session, appointment.id)
    session.commit()
    _publish(appointment.department_id, queue=True)
    return appointment


# --- lists for calendars, the portal and the waiting room -----------------------------------


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


def _participant_ids(session: Session, appointment_id: int) -> list[int]:
    return list(
        session.execute(
            select(AppointmentParticipant.resource_id).where(
                AppointmentParticipant.appointment_id == appointment_id
            )
        ).scalars()
    )


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
    start, end = day_bounds(_as_date(day, field="day", label="day"), get_settings().tz)
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
    first = _as_date(week_start, field="week_start", label="week")
    start, end = day_bounds(first, tz)[0], day_bounds(first + timedelta(days=6), tz)[1]
    statuses = None if include_cancelled else [*HOLDING_STATUSES, "no_show"]
    query, count = _range_query(start, end, department_id, resource_id, statuses)
    rows = _rows(
        session, query.order_by(Appointment.start_at, Appointment.id).limit(max(1, min(int(limit), 2000)))
    )
    return DayPage(rows, session.execute(count).scalar_one())


def get_appointment(session: Session, *, actor: Actor, appointment_id: int) -> AppointmentRow:
    """One appointment (portal users: their own only)."""
    _authorize_read(actor)
    appointment = session.get(
        Appointment, _as_int(appointment_id, field="appointment_id", label="appointment")
    )
    if appointment is None:
        raise NotFound("That appointment does not exist.")
    _authorize_read(actor, patient_id=appointment.patient_id)
    return _rows(session, _row_query().where(Appointment.id == appointment.id))[0]


def patient_appointments(
    session: Session,
    *,
    actor: Actor,
    patient_id: int | None = None,
    upcoming: bool = True,
    limit: int = 20,
    offset: int = 0,
    now: datetime | None = None,
) -> DayPage:
    """A patient's upcoming (soonest first) or past (latest first) appointments; the read is audited."""
    if _is_portal(actor):
        authorize(
            actor,
            "portal.self",
            patient_id=None
            if patient_id is None
            else _as_int(patient_id, field="patient_id", label="patient"),
        )
        patient_id = actor.patient_id
    else:
        authorize(actor, "appointment.read")
        patient_id = _as_int(patient_id, field="patient_id", label="patient")
        authorize(actor, "appointment.read", patient_id=patient_id)
    now = now or utcnow()
    where = [Appointment.patient_id == patient_id]
    if upcoming:
        where += [
            Appointment.end_at >= now,
            Appointment.status.in_(("offered", "booked", "arrived", "in_room")),
        ]
        order = (Appointment.start_at, Appointment.id)
    else:
        where += [
            or_(Appointment.end_at < now, Appointment.status.in_(("completed", "cancelled", "no_show")))
        ]
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
        detail="upcoming appointments" if upcoming else "past appointments",
    )
    session.commit()
    return DayPage(rows, total)


@dataclass(frozen=True)
class NoShowRate:
    id: int
    name: str
    appointments: int  # visits that were due (completed, no-show, or still in the flow)
    no_shows: int

    @property
    def rate(self) -> float:
        return self.no_shows / self.appointments if self.appointments else 0.0


def no_show_rates(
    session: Session,
    *,
    actor: Actor,
    start_day: date | str,
    end_day: date | str,
    by: str = "provider",
    department_id: int | None = None,
    min_appointments: int = 1,
    limit: int = 50,
) -> list[NoShowRate]:
    """No-show rate per provider or per patient over local days [start_day, end_day], highest first."""
    authorize(actor, "appointment.read")
    if by not in ("provider", "patient"):
        raise ValidationError("Group by provider or by patient.", field="by")
    tz = get_settings().tz
    start = day_bounds(_as_date(start_day, field="start_day", label="first day"), tz)[0]
    end = day_bounds(_as_date(end_day, field="end_day", label="last day"), tz)[1]
    due = Appointment.status.in_(("arrived", "in_room", "completed", "no_show"))
    no_show = func.sum(case((Appointment.status == "no_show", 1), else_=0))
    total = func.count(Appointment.id)
    if by == "provider":
        query = (
            select(Resource.id, Resource.name, total, no_show)
            .select_from(Appointment)
            .join(AppointmentParticipant, AppointmentParticipant.appointment_id == Appointment.id)
            .join(
                Resource, and_(Resource.id == AppointmentParticipant.resource_id, Resource.kind == "provider")
            )
            .group_by(Resource.id, Resource.name)
        )
    else:
        name = Patient.given_name + " " + Patient.family_name
        query = (
            select(Patient.id, name, total, no_show)
            .select_from(Appointment)
            .join(Patient, Patient.id == Appointment.patient_id)
            .group_by(Patient.id, Patient.given_name, Patient.family_name)
        )
    query = query.where(due, Appointment.start_at >= start, Appointment.start_at < end)
    if department_id:
        query = query.where(Appointment.department_id == department_id)
    query = (
        query.having(total >= max(1, int(min_appointments)))
        .order_by((no_show * 1.0 / total).desc(), total.desc())
        .limit(max(1, min(int(limit), 500)))
    )
    return [NoShowRate(i, n, int(t), int(s or 0)) for i, n, t, s in session.execute(query)]


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
    the_day = _as_date(day, field="day", label="day") if day else now.astimezone(tz).date()
    start, end = day_bounds(the_day, tz)
    department_id = _as_int(department_id, field="department_id", label="department")
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


# --- the waitlist -------------------------------------------------------------------------------


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
    patient_id = _booking_patient_id(actor, patient_id)
    now = now or utcnow()
    patient = _patient(session, patient_id)
    service, vtype = _service_and_type(session, service_id, appointment_type_id, actor=actor)
    wanted = _as_date(wanted_date, field="wanted_date", label="day")
    if wanted < now.astimezone(get_settings().tz).date():
        raise ValidationError("That day has passed.", field="wanted_date")
    rid = _resource_id(resource_id)
    if rid is not None:
        _pools(session, service, vtype, rid)  # validates that the resource offers the service
    if _is_portal(actor) and find_free_slots(
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


def leave_waitlist(session: Session, *, actor: Actor, entry_id: int) -> WaitlistEntry:
    """Take a patient off the waitlist."""
    _authorize_change(actor)
    entry = session.get(WaitlistEntry, _as_int(entry_id, field="entry_id", label="waitlist entry"))
    if entry is None:
        raise NotFound("That waitlist entry does not exist.")
    if _is_portal(actor):
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
    if _is_portal(actor):
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
            WaitlistEntry.service_id == _as_int(service_id, field="service_id", label="service")
        )
    if day:
        query = query.where(WaitlistEntry.wanted_date == _as_date(day, field="day", label="day"))
    if patient_id:
        query = query.where(
            WaitlistEntry.patient_id == _as_int(patient_id, field="patient_id", label="patient")
        )
    query = query.order_by(WaitlistEntry.wanted_date, WaitlistEntry.created_at, WaitlistEntry.id)
    return [
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


def _close_waitlist_offer(session: Session, appointment_id: int, status: str) -> None:
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
        if _patient_overlap(session, patient.id, start, end, None):
            continue
        preferred = entry.resource_id or (resource_ids[0] if resource_ids else None)
        chosen = _choose_resources(session, service, vtype, start, end, preferred)
        if chosen is None and entry.resource_id is None:
            chosen = _choose_resources(session, service, vtype, start, end, None)
        if chosen is None:
            continue
        try:
            appointment = _insert_appointment(
                session,
                actor=SYSTEM_ACTOR,
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
        _audit_appointment(
            session,
            SYSTEM_ACTOR,
            "appointment.offer",
            appointment,
            f"{appointment.reference} {format_local(start)} offered from the waitlist ({reason}) "
            f"until {format_local(appointment.offer_expires_at, '%H:%M')}",
        )
        session.commit()
        _publish(appointment.department_id)
        return appointment
    session.commit()
    return None


def _offer_after_release(
    session: Session, appointment: Appointment, start: datetime, resource_ids: Sequence[int], *, now: datetime
) -> Appointment | None:
    return _offer_slot(
        session,
        service_id=appointment.service_id,
        start=start,
        resource_ids=resource_ids,
        exclude_patient_id=appointment.patient_id,
        now=now,
        reason=f"{appointment.reference} freed",
    )


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
        service_id=_as_int(service_id, field="service_id", label="service"),
        start=_as_moment(start_at),
        resource_ids=list(resource_ids),
        exclude_patient_id=None,
        now=now or utcnow(),
        reason=f"offered by {actor.username}",
    )


def _offered(session: Session, actor: Actor, appointment_id) -> Appointment:
    _authorize_change(actor)
    appointment = _locked(session, appointment_id)
    _authorize_change(actor, patient_id=appointment.patient_id)
    if appointment.status != "offered":
        raise Conflict("This offer is no longer open.")
    return appointment


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
    _close_waitlist_offer(session, appointment.id, "accepted")
    service = session.get(HealthcareService, appointment.service_id)
    patient = session.get(Patient, appointment.patient_id)
    reminders.cancel_reminders(session, appointment.id)
    _enqueue_reminders(session, appointment, patient, service, now)
    _audit_appointment(
        session, actor, "appointment.offer_accept", appointment, f"{appointment.reference} offered -> booked"
    )
    session.commit()
    _publish(appointment.department_id)
    return appointment


def _end_offer(
    session: Session, actor: Actor, appointment: Appointment, *, outcome: str, now: datetime
) -> None:
    resource_ids = _participant_ids(session, appointment.id)
    _release(session, appointment.id)
    appointment.status, appointment.cancelled_at, appointment.updated_at = "cancelled", now, now
    appointment.cancel_reason = (
        "Waitlist offer declined" if outcome == "declined" else "Waitlist offer expired"
    )
    session.add(appointment)
    _close_waitlist_offer(session, appointment.id, "cancelled" if outcome == "declined" else "expired")
    reminders.cancel_reminders(session, appointment.id)
    _audit_appointment(
        session,
        actor,
        "appointment.offer_decline" if outcome == "declined" else "appointment.offer_expire",
        appointment,
        f"{appointment.reference} offered -> cancelled ({outcome})",
    )
    session.commit()
    _publish(appointment.department_id)
    _offer_after_release(session, appointment, appointment.start_at, resource_ids, now=now)


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
        appointment = _locked(session, appointment_id)
        if appointment.status != "offered":  # accepted or expired by another worker meanwhile
            session.commit()
            continue
        _end_offer(session, actor, appointment, outcome="expired", now=now)
        expired += 1
    return expired


# --- setup: resources, services, visit types, availability (schedule.manage) -------------------


def _text(value, *, field: str, label: str, low: int = 2, high: int = 120) -> str:
    text = str(value or "").strip()
    if not low <= len(text) <= high:
        raise ValidationError(f"Enter the {label} ({low} to {high} characters).", field=field)
    return text


def _department(session: Session, department_id) -> Department:
    department = session.get(Department, _as_int(department_id, field="department_id", label="department"))
    if department is None or not department.active:
        raise ValidationError("Choose the department.", field="department_id")
    return department


def _audit_setup(
    session: Session, actor: Actor, action: str, target_type: str, target_id, detail: str
) -> None:
    record_audit(session, actor, action, target_type=target_type, target_id=target_id, detail=detail)
    session.commit()


def save_resource(session: Session, *, actor: Actor, data: dict, resource_id: int | None = None) -> Resource:
    """Create or edit a bookable resource (provider, room or equipment)."""
    authorize(actor, "schedule.manage")
    kind = str(data.get("kind") or "").strip()
    if kind not in RESOURCE_KINDS:
        raise ValidationError("Choose provider, room or equipment.", field="kind")
    name = _text(data.get("name"), field="name", label="name")
    department = _department(session, data.get("department_id"))
    user_id = data.get("user_id") or None
    if kind == "provider" and user_id is not None:
        user = session.get(AppUser, _as_int(user_id, field="user_id", label="staff member"))
        if user is None:
            raise ValidationError("Choose the staff member.", field="user_id")
        user_id = user.id
    elif kind != "provider":
        user_id = None
    capability = str(data.get("capability") or "").strip().lower() or None
    if kind == "equipment" and capability is None:
        raise ValidationError("Say what the equipment is (e.g. mri, ct, ultrasound).", field="capability")
    if resource_id is None:
        resource = Resource(
            kind=kind, name=name, department_id=department.id, user_id=user_id, capability=capability
        )
    else:
        resource = session.get(Resource, _as_int(resource_id, field="resource_id", label="resource"))
        if resource is None:
            raise NotFound("That resource does not exist.")
        resource.kind, resource.name, resource.department_id = kind, name, department.id
        resource.user_id, resource.capability = user_id, capability
    if "active" in data:
        resource.active = bool(data["active"])
    session.add(resource)
    session.flush()
    _audit_setup(
        session,
        actor,
        "schedule.resource_save",
        "resource",
        resource.id,
        f"{kind} {name} ({department.code})",
    )
    return resource


def save_service(
    session: Session, *, actor: Actor, data: dict, service_id: int | None = None
) -> HealthcareService:
    """Create or edit a service; whether patients may book it online is set here."""
    authorize(actor, "schedule.manage")
    code = _text(data.get("code"), field="code", label="code", low=2, high=30).upper()
    name = _text(data.get("name"), field="name", label="name")
    department = _department(session, data.get("department_id"))
    clash = session.execute(
        select(HealthcareService.id).where(HealthcareService.code == code)
    ).scalar_one_or_none()
    if clash is not None and clash != service_id:
        raise Conflict("Another service has this code.", field="code")
    if service_id is None:
        service = HealthcareService(code=code, name=name, department_id=department.id)
    else:
        service = session.get(HealthcareService, _as_int(service_id, field="service_id", label="service"))
        if service is None:
            raise NotFound("That service does not exist.")
        service.code, service.name, service.department_id = code, name, department.id
    service.self_bookable = bool(data.get("self_bookable", service.self_bookable))
    if "active" in data:
        service.active = bool(data["active"])
    session.add(service)
    session.flush()
    _audit_setup(
        session,
        actor,
        "schedule.service_save",
        "healthcare_service",
        service.id,
        f"{code} {name} self_bookable={service.self_bookable} active={service.active}",
    )
    return service


def save_appointment_type(
    session: Session, *, actor: Actor, data: dict, appointment_type_id: int | None = None
) -> AppointmentType:
    """Create or edit a visit type: length (5 to 480 minutes in steps of 5), price code, mode, needs."""
    authorize(actor, "schedule.manage")
    service = session.get(
        HealthcareService, _as_int(data.get("service_id"), field="service_id", label="service")
    )
    if service is None:
        raise ValidationError("Choose the service.", field="service_id")
    code = _text(data.get("code"), field="code", label="code", low=2, high=30).upper()
    name = _text(data.get("name"), field="name", label="name")
    duration = _as_int(data.get("duration_minutes"), field="duration_minutes", label="length")
    if not (5 <= duration <= 480 and duration % BLOCK_MINUTES == 0):
        raise ValidationError("The length is 5 to 480 minutes, in steps of 5.", field="duration_minutes")
    mode = str(data.get("mode") or "in_person")
    if mode not in VISIT_MODES:
        raise ValidationError("Choose in person or virtual.", field="mode")
    price_code = str(data.get("price_code") or "").strip().upper() or None
    if price_code is not None and len(price_code) > 30:
        raise ValidationError("The price code has at most 30 characters.", field="price_code")
    needs_room = bool(data.get("needs_room")) and mode == "in_person"
    needs_equipment = str(data.get("needs_equipment") or "").strip().lower() or None
    clash = session.execute(
        select(AppointmentType.id).where(
            AppointmentType.service_id == service.id, AppointmentType.code == code
        )
    ).scalar_one_or_none()
    if clash is not None and clash != appointment_type_id:
        raise Conflict("This service already has a visit type with this code.", field="code")
    if appointment_type_id is None:
        vtype = AppointmentType(service_id=service.id, code=code, name=name, duration_minutes=duration)
    else:
        vtype = session.get(
            AppointmentType, _as_int(appointment_type_id, field="appointment_type_id", label="visit type")
        )
        if vtype is None:
            raise NotFound("That visit type does not exist.")
        vtype.service_id, vtype.code, vtype.name, vtype.duration_minutes = service.id, code, name, duration
    vtype.mode, vtype.price_code, vtype.needs_room, vtype.needs_equipment = (
        mode,
        price_code,
        needs_room,
        needs_equipment,
    )
    if "active" in data:
        vtype.active = bool(data["active"])
    session.add(vtype)
    session.flush()
    _audit_setup(
        session,
        actor,
        "schedule.visit_type_save",
        "appointment_type",
        vtype.id,
        f"{service.code}/{code} {duration} min {mode}",
    )
    return vtype


def link_resource_service(
    session: Session, *, actor: Actor, resource_id: int, service_id: int, linked: bool = True
) -> None:
    """Say that a resource offers (or no longer offers) a service."""
    authorize(actor, "schedule.manage")
    rid = _as_int(resource_id, field="resource_id", label="resource")
    sid = _as_int(service_id, field="service_id", label="service")
    if session.get(Resource, rid) is None or session.get(HealthcareService, sid) is None:
        raise NotFound("That resource or service does not exist.")
    existing = session.execute(
        select(ResourceService).where(ResourceService.resource_id == rid, ResourceService.service_id == sid)
    ).scalar_one_or_none()
    if linked and existing is None:
        session.add(ResourceService(resource_id=rid, service_id=sid))
    elif not linked and existing is not None:
        session.delete(existing)
    else:
        return
    session.flush()
    _audit_setup(
        session, actor, "schedule.link" if linked else "schedule.unlink", "resource", rid, f"service {sid}"
    )


@dataclass(frozen=True)
class RuleRow:
    id: int
    resource_id: int
    weekday: int
    start_time: time
    end_time: time
    valid_from: date
    valid_to: date | None


def list_rules(session: Session, *, actor: Actor, resource_id: int) -> list[RuleRow]:
    """A resource's weekly template, Monday first."""
    authorize(actor, "appointment.read")
    rows = session.execute(
        select(AvailabilityRule)
        .where(AvailabilityRule.resource_id == _as_int(resource_id, field="resource_id", label="resource"))
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time, AvailabilityRule.valid_from)
    ).scalars()
    return [
        RuleRow(r.id, r.resource_id, r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_to)
        for r in rows
    ]


def add_availability_rule(session: Session, *, actor: Actor, data: dict) -> AvailabilityRule:
    """Add a line to a resource's weekly template; lines of one weekday may not overlap."""
    authorize(actor, "schedule.manage")
    resource = session.get(Resource, _as_int(data.get("resource_id"), field="resource_id", label="resource"))
    if resource is None:
        raise ValidationError("Choose the resource.", field="resource_id")
    weekday = _as_int(data.get("weekday"), field="weekday", label="weekday")
    if not 0 <= weekday <= 6:
        raise ValidationError("Choose the weekday.", field="weekday")
    start = _as_time(data.get("start_time"), field="start_time", label="start")
    end = _as_time(data.get("end_time"), field="end_time", label="end")
    for value, name in ((start, "start_time"), (end, "end_time")):
        if value.second or value.microsecond or value.minute % BLOCK_MINUTES:
            raise ValidationError("Times are on 5-minute marks (08:00, 08:05, ...).", field=name)
    if end <= start:
        raise ValidationError("The end is after the start.", field="end_time")
    valid_from = _as_date(data.get("valid_from") or utcnow().date(), field="valid_from", label="first day")
    valid_to = (
        _as_date(data["valid_to"], field="valid_to", label="last day") if data.get("valid_to") else None
    )
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError("The last day is after the first day.", field="valid_to")
    overlapping = session.execute(
        select(AvailabilityRule.id).where(
            AvailabilityRule.resource_id == resource.id,
            AvailabilityRule.weekday == weekday,
            AvailabilityRule.start_time < end,
            AvailabilityRule.end_time > start,
            or_(AvailabilityRule.valid_to.is_(None), AvailabilityRule.valid_to >= valid_from),
            *([AvailabilityRule.valid_from <= valid_to] if valid_to is not None else []),
        )
    ).first()
    if overlapping:
        raise Conflict("This overlaps another line of the same weekday.", field="start_time")
    rule = AvailabilityRule(
        resource_id=resource.id,
        weekday=weekday,
        start_time=start,
        end_time=end,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    session.add(rule)
    session.flush()
    _audit_setup(
        session,
        actor,
        "schedule.rule_add",
        "availability_rule",
        rule.id,
        f"{resource.name} weekday {weekday} {start:%H:%M}-{end:%H:%M} from {valid_from}",
    )
    return rule


def delete_availability_rule(session: Session, *, actor: Actor, rule_id: int) -> None:
    """Remove a line of a weekly template (booked appointments stay)."""
    authorize(actor, "schedule.manage")
    rule = session.get(AvailabilityRule, _as_int(rule_id, field="rule_id", label="rule"))
    if rule is None:
        raise NotFound("That availability line does not exist.")
    detail = (
        f"resource {rule.resource_id} weekday {rule.weekday} {rule.start_time:%H:%M}-{rule.end_time:%H:%M}"
    )
    session.delete(rule)
    session.flush()
    _audit_setup(session, actor, "schedule.rule_delete", "availability_rule", rule_id, detail)


@dataclass(frozen=True)
class ExceptionRow:
    id: int
    kind: str
    reason: str
    starts_at: datetime
    ends_at: datetime
    resource_id: int | None
    department_id: int | None
    scope: str  # the resource's or department's name, or "Whole hospital"


def add_availability_exception(session: Session, *, actor: Actor, data: dict) -> AvailabilityException:
    """Leave for a resource, a closure of a department, or a holiday for everyone."""
    authorize(actor, "schedule.manage")
    kind = str(data.get("kind") or "")
    if kind not in EXCEPTION_KINDS:
        raise ValidationError("Choose leave, holiday or closure.", field="kind")
    reason = _text(data.get("reason"), field="reason", label="reason", low=3, high=200)
    starts = _as_moment(data.get("starts_at"), field="starts_at", label="start")
    ends = _as_moment(data.get("ends_at"), field="ends_at", label="end")
    if ends <= starts:
        raise ValidationError("The end is after the start.", field="ends_at")
    resource_id = data.get("resource_id") or None
    department_id = data.get("department_id") or None
    if resource_id is not None:
        resource = session.get(Resource, _as_int(resource_id, field="resource_id", label="resource"))
        if resource is None:
            raise ValidationError("Choose the resource.", field="resource_id")
        resource_id, department_id = resource.id, None
    elif department_id is not None:
        department_id = _department(session, department_id).id
    if kind == "leave" and resource_id is None:
        raise ValidationError("Leave is for one resource: choose it.", field="resource_id")
    exception = AvailabilityException(
        resource_id=resource_id,
        department_id=department_id,
        starts_at=starts,
        ends_at=ends,
        kind=kind,
        reason=reason,
        created_by=actor.username,
    )
    session.add(exception)
    session.flush()
    _audit_setup(
        session,
        actor,
        "schedule.exception_add",
        "availability_exception",
        exception.id,
        f"{kind} {format_local(starts)} - {format_local(ends)}: {reason}",
    )
    return exception


def delete_availability_exception(session: Session, *, actor: Actor, exception_id: int) -> None:
    """Remove leave, a closure or a holiday."""
    authorize(actor, "schedule.manage")
    exception = session.get(
        AvailabilityException, _as_int(exception_id, field="exception_id", label="exception")
    )
    if exception is None:
        raise NotFound("That exception does not exist.")
    detail = f"{exception.kind} {format_local(exception.starts_at)}: {exception.reason}"
    session.delete(exception)
    session.flush()
    _audit_setup(session, actor, "schedule.exception_delete", "availability_exception", exception_id, detail)


def list_exceptions(
    session: Session, *, actor: Actor, start_day: date | str, end_day: date | str, limit: int = 200
) -> list[ExceptionRow]:
    """Leave, closures and holidays overlapping local days [start_day, end_day]."""
    authorize(actor, "appointment.read")
    tz = get_settings().tz
    start = day_bounds(_as_date(start_day, field="start_day", label="first day"), tz)[0]
    end = day_bounds(_as_date(end_day, field="end_day", label="last day"), tz)[1]
    rows = session.execute(
        select(AvailabilityException, Resource.name, Department.name)
        .outerjoin(Resource, Resource.id == AvailabilityException.resource_id)
        .outerjoin(Department, Department.id == AvailabilityException.department_id)
        .where(AvailabilityException.starts_at < end, AvailabilityException.ends_at > start)
        .order_by(AvailabilityException.starts_at)
        .limit(max(1, min(int(limit), 1000)))
    ).all()
    return [
        ExceptionRow(
            e.id,
            e.kind,
            e.reason,
            e.starts_at,
            e.ends_at,
            e.resource_id,
            e.department_id,
            r or d or "Whole hospital",
        )
        for e, r, d in rows
    ]


def appointments_during(
    session: Session,
    *,
    actor: Actor,
    starts_at: datetime | str,
    ends_at: datetime | str,
    resource_id: int | None = None,
    department_id: int | None = None,
) -> int:
    """How many booked visits fall in a span (to warn before adding leave or a closure)."""
    authorize(actor, "appointment.read")
    starts, ends = _as_moment(starts_at, field="starts_at"), _as_moment(ends_at, field="ends_at")
    query = (
        select(func.count())
        .select_from(Appointment)
        .where(Appointment.status == "booked", Appointment.start_at < ends, Appointment.end_at > starts)
    )
    if resource_id:
        query = query.where(
            Appointment.id.in_(
                select(AppointmentParticipant.appointment_id).where(
                    AppointmentParticipant.resource_id
                    == _as_int(resource_id, field="resource_id", label="resource")
                )
            )
        )
    if department_id:
        query = query.where(
            Appointment.department_id == _as_int(department_id, field="department_id", label="department")
        )
    return session.execute(query).scalar_one()


__all__ = [
    "AppointmentRow",
    "DayPage",
    "ExceptionRow",
    "FreeSlot",
    "NoShowRate",
    "QueueRow",
    "QueueStatus",
    "RecurrenceConflict",
    "ResourceOption",
    "RuleRow",
    "RuleWindow",
    "SchedulingPolicy",
    "ServiceOption",
    "SlotTaken",
    "VisitTypeOption",
    "WaitlistRow",
    "accept_offer",
    "add_availability_exception",
    "add_availability_rule",
    "appointments_during",
    "block_starts",
    "blocks_to_busy",
    "book_appointment",
    "book_recurring",
    "call_patient",
    "cancel_appointment",
    "check_in",
    "complete_appointment",
    "day_bounds",
    "day_is_full",
    "decline_offer",
    "delete_availability_exception",
    "delete_availability_rule",
    "expire_offers",
    "find_free_slots",
    "fits",
    "free_starts",
    "get_appointment",
    "join_waitlist",
    "leave_waitlist",
    "link_resource_service",
    "list_day",
    "list_exceptions",
    "list_resources",
    "list_rules",
    "list_services",
    "list_waitlist",
    "list_week",
    "local_moment",
    "make_reference",
    "mark_no_show",
    "merge",
    "no_show_rates",
    "offer_freed_slot",
    "patient_appointments",
    "policy",
    "portal_change_refusal",
    "queue_status",
    "reschedule_appointment",
    "rule_windows",
    "save_appointment_type",
    "save_resource",
    "save_service",
    "start_visit",
    "step_for",
    "subtract",
]
