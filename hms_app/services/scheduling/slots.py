"""Free time: which start times a visit type can still be booked at.

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

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import and_, false, or_, select
from sqlmodel import Session

from hms_app.clock import format_local, local_today, utcnow
from hms_app.errors import ValidationError
from hms_app.models.inventory import Equipment
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    BLOCK_MINUTES,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    HealthcareService,
    Resource,
    ResourceBlock,
    ResourceService,
)
from hms_app.services.inventory.equipment import UNBOOKABLE_STATUSES, status_label
from hms_app.services.permissions import Actor
from hms_app.services.scheduling.parsing import as_date, as_int, optional_resource_id
from hms_app.services.scheduling.policy import authorize_read, eligibility_refusal, is_portal, policy
from hms_app.settings import get_settings

Interval = tuple[datetime, datetime]
BLOCK = timedelta(minutes=BLOCK_MINUTES)


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


def time_off_query(resource_ids: Iterable[int], department_ids: Iterable[int], span: Interval):
    """Leave, closures and holidays overlapping ``span`` that may touch these resources: their own,
    their departments' and the whole hospital's."""
    return select(AvailabilityException).where(
        AvailabilityException.starts_at < span[1],
        AvailabilityException.ends_at > span[0],
        or_(
            AvailabilityException.resource_id.in_(list(resource_ids)),
            and_(
                AvailabilityException.resource_id.is_(None),
                or_(
                    AvailabilityException.department_id.is_(None),
                    AvailabilityException.department_id.in_(list(department_ids)),
                ),
            ),
        ),
    )


def applies_to(exception: AvailabilityException, resource_id: int, department_id: int) -> bool:
    """Whether time off is a resource's: its own leave, its department's closure, or a holiday."""
    return exception.resource_id == resource_id or (
        exception.resource_id is None and exception.department_id in (None, department_id)
    )


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
    for ex in session.execute(time_off_query(ids, departments, bounds)).scalars():
        for r in resources:
            if applies_to(ex, r.id, r.department_id):
                busy[r.id].append((ex.starts_at, ex.ends_at))
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
    out_of_use: tuple[str, ...] = ()  # equipment it would use that is not in service, as words

    @property
    def all(self) -> list[Resource]:
        return [*self.primaries, *self.rooms, *self.equipment]


def resource_pools(
    session: Session, service: HealthcareService, vtype: AppointmentType, resource_id: int | None
) -> _Pools:
    """The resources a visit type of a service can use: primaries (one chosen, or all), rooms, equipment."""
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
    down = equipment_out_of_use(session, [r.id for r in linked if r.kind == "equipment"])
    if resource_id is not None and resource_id in down:
        name = next(r.name for r in linked if r.id == resource_id)
        raise ValidationError(f"{name} {_not_bookable(down[resource_id])}.", field="resource_id")
    providers = [r for r in linked if r.kind == "provider"]
    equipment = [r for r in linked if r.kind == "equipment" and r.id not in down]
    primaries = providers or [r for r in equipment if r.capability != vtype.needs_equipment]
    # The out-of-use equipment this visit would have used: the scanner it is booked on (a service
    # without providers), or the equipment of the capability the visit type needs.
    wanted = [
        r
        for r in linked
        if r.id in down
        and (not providers or (bool(vtype.needs_equipment) and r.capability == vtype.needs_equipment))
    ]
    out_of_use = tuple(f"{r.name} {_not_bookable(down[r.id])}" for r in wanted)
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
    return _Pools(primaries, rooms, needed_equipment, out_of_use)


def equipment_out_of_use(session: Session, resource_ids: list[int]) -> dict[int, str]:
    """The scheduling resources among these that are equipment under maintenance, out of service
    or retired on the equipment register, with that status: they are not offered or booked."""
    if not resource_ids:
        return {}
    rows = session.execute(
        select(Equipment.resource_id, Equipment.status).where(
            Equipment.resource_id.in_(resource_ids), Equipment.status.in_(UNBOOKABLE_STATUSES)
        )
    ).all()
    return {int(rid): status for rid, status in rows}


def _not_bookable(status: str) -> str:
    return f"is {status_label(status).lower()} and cannot be booked until it is back in service"


def out_of_use_refusal(
    session: Session, service: HealthcareService, vtype: AppointmentType, resource_id: int | None
) -> str | None:
    """Why a visit cannot be booked at all when the equipment it needs is out of use, else None."""
    try:
        pools = resource_pools(session, service, vtype, resource_id)
    except ValidationError as error:
        return str(error)
    if pools.out_of_use and (not pools.primaries or _needs_unavailable(vtype, pools)):
        return "; ".join(pools.out_of_use) + "."
    return None


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


def service_and_type(
    session: Session, actor: Actor, service_id, appointment_type_id
) -> tuple[HealthcareService, AppointmentType]:
    """The active service and visit type chosen (portal users: services bookable online only)."""
    service = session.get(HealthcareService, as_int(service_id, field="service_id", label="service"))
    if service is None or not service.active:
        raise ValidationError("Choose the service.", field="service_id")
    if is_portal(actor) and not service.self_bookable:
        raise ValidationError(
            "This service cannot be booked online; please call the clinic.", field="service_id"
        )
    if is_portal(actor):
        patient = session.get(Patient, actor.patient_id)
        refusal = patient and eligibility_refusal(
            service.min_age,
            service.max_age,
            service.for_sex,
            sex=patient.sex,
            birth_date=patient.birth_date,
            on=local_today(),
        )
        if refusal:
            raise ValidationError(refusal, field="service_id")
    vtype = session.get(
        AppointmentType, as_int(appointment_type_id, field="appointment_type_id", label="visit type")
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
    authorize_read(actor)
    service, vtype = service_and_type(session, actor, service_id, appointment_type_id)
    now = now or utcnow()
    tz = get_settings().tz
    first = as_date(day, field="day", label="day") if day else now.astimezone(tz).date()
    last = as_date(end_day, field="end_day", label="last day") if end_day else first
    if last < first or (last - first).days > 62:
        raise ValidationError("Search at most two months at a time.", field="end_day")
    limit = max(1, min(int(limit), 500))
    rid = optional_resource_id(resource_id)
    pools = resource_pools(session, service, vtype, rid)
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
    session: Session,
    *,
    actor: Actor,
    service_id: int,
    appointment_type_id: int,
    day: date | str,
    resource_id: int | None = None,
    now=None,
) -> bool:
    """Whether a day has no free time left for a visit type (the portal then offers the waitlist)."""
    return not find_free_slots(
        session,
        actor=actor,
        service_id=service_id,
        appointment_type_id=appointment_type_id,
        day=day,
        resource_id=resource_id,
        limit=1,
        now=now,
    )


def choose_resources(
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
    """The resources a visit at [start, end) would use, or None when the time is not free."""
    pools = resource_pools(session, service, vtype, resource_id)
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
