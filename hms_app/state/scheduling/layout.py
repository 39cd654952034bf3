"""The calendar's layout, as pure functions: blocks with their pixel positions and lanes, shaded
bands for hours off and time off, and the columns of a day or a week, so that the page only draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hms_app.clock import format_local, to_local
from hms_app.services.scheduling.calendar import CalendarData, DayAvailability
from hms_app.services.scheduling.lists import AppointmentRow
from hms_app.state.scheduling.common import KIND_LABELS, STATUS_COLORS

PX_PER_MINUTE = 1.6  # a 15-minute visit is 24 px tall: one line of text and a token
WINDOW_START_HOUR = 7
WINDOW_END_HOUR = 19
GRID_MINUTES = 15  # clickable empty cells; bookings themselves are on the 5-minute grid
# A week column is a seventh of the screen (under 100 px on a tablet): side by side, two visits
# would each be a sliver too narrow for a name, so a week column shows the first visit of an
# overlapping cluster at full width with a "+N" chip on it that opens the day.
WEEK_MAX_LANES = 1


def px(minutes: int) -> int:
    return round(minutes * PX_PER_MINUTE)


@dataclass
class Placed:
    """Where a block sits in its column: from the window's top, and which side-by-side lane."""

    start: int  # minutes since local midnight
    end: int
    lane: int = 0
    lanes: int = 1
    cluster: int = 0  # blocks that overlap, directly or through others, share a cluster


def assign_lanes(spans: list[tuple[int, int]]) -> list[Placed]:
    """Side-by-side lanes for overlapping spans (in the input order), like a desk diary.

    Overlapping blocks form a cluster; each takes the first free lane; every block of a cluster
    shares the cluster's lane count so the widths line up.
    """
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1]))
    placed: list[Placed | None] = [None] * len(spans)
    cluster: list[int] = []
    lane_ends: list[int] = []
    cluster_end = -1

    clusters = 0

    def close() -> None:
        for i in cluster:
            placed[i].lanes = max(1, len(lane_ends))

    for i in order:
        start, end = spans[i]
        if start >= cluster_end and cluster:
            close()
            cluster, lane_ends = [], []
            clusters += 1
        for lane, lane_end in enumerate(lane_ends):
            if lane_end <= start:
                lane_ends[lane] = end
                break
        else:
            lane = len(lane_ends)
            lane_ends.append(end)
        placed[i] = Placed(start, end, lane, cluster=clusters)
        cluster.append(i)
        cluster_end = max(cluster_end, end)
    if cluster:
        close()
    return [p for p in placed if p is not None]


def window_for(spans: list[tuple[int, int]]) -> tuple[int, int]:
    """The hours shown: 07:00-19:00, widened to whole hours around anything outside it."""
    start, end = WINDOW_START_HOUR * 60, WINDOW_END_HOUR * 60
    for a, b in spans:
        start = min(start, (a // 60) * 60)
        end = max(end, -(-b // 60) * 60)
    return max(0, start), min(24 * 60, end)


def week_of(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


def minutes_of(moment: datetime) -> int:
    return moment.hour * 60 + moment.minute


@dataclass
class Block:
    """One appointment drawn in one column."""

    id: int = 0
    reference: str = ""
    patient: str = ""
    visit: str = ""
    status: str = "booked"
    color: str = "blue"
    token: str = ""
    start: str = ""  # "09:15"
    time: str = ""  # "09:15–09:30"
    top: int = 0
    height: int = 0
    left: float = 0.0  # percent of the column
    width: float = 100.0
    series: bool = False
    virtual: bool = False
    compact: bool = False  # too short for a second line
    more: int = 0  # not a visit: a chip standing for this many visits folded away (opens the day)
    day: str = ""  # ISO: the column's day, for the chip to open


@dataclass
class Band:
    """A shaded stretch of a column: outside working hours, or an exception (leave, closure)."""

    top: int = 0
    height: int = 0
    kind: str = "off"  # off | leave | holiday | closure
    label: str = ""
    color: str = "gray"


@dataclass
class Column:
    key: str = ""
    day: str = ""  # ISO date
    resource_id: int = 0  # 0: the department as a whole
    title: str = ""
    subtitle: str = ""
    is_today: bool = False
    blocks: list[Block] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)


@dataclass
class HourMark:
    label: str = ""
    top: int = 0


@dataclass
class Cell:
    """An empty 15-minute stretch of the grid: clicking it opens the booking dialog at that time."""

    minute: int = 0  # minutes since local midnight
    top: int = 0
    label: str = ""
    hour: bool = False  # starts a full hour: drawn with a stronger line


BAND_COLORS = {"off": "gray", "leave": "amber", "holiday": "crimson", "closure": "crimson"}


def _local_minutes(moment: datetime, day: date) -> int:
    """Minutes since the local midnight of ``day`` (a visit past midnight is cut at 24:00)."""
    local = to_local(moment)
    if local.date() < day:
        return 0
    if local.date() > day:
        return 24 * 60
    return minutes_of(local)


def _bands(
    avail: DayAvailability | None, window: tuple[int, int], kind: str, shared_only: bool = False
) -> list[Band]:
    """Shaded stretches of one column: hours outside the template, then time off on top.

    ``shared_only`` (a column for the whole department): only holidays and closures.
    """
    if avail is None:
        return []
    start, end = window
    out: list[Band] = []
    if not shared_only and (avail.has_rules or kind == "provider"):
        cursor = start
        for a, b in avail.windows:
            a_min, b_min = _local_minutes(a, avail.day), _local_minutes(b, avail.day)
            if a_min > cursor:
                out.append(Band(px(cursor - start), px(min(a_min, end) - cursor), "off", ""))
            cursor = max(cursor, b_min)
        if cursor < end:
            label = "" if avail.windows else "Not working"
            out.append(Band(px(cursor - start), px(end - cursor), "off", label))
    for off in avail.time_off:
        if shared_only and not off.shared:
            continue
        a_min = max(start, _local_minutes(off.starts_at, avail.day))
        b_min = min(end, _local_minutes(off.ends_at, avail.day))
        if b_min > a_min:
            out.append(
                Band(
                    px(a_min - start),
                    px(b_min - a_min),
                    off.kind,
                    f"{off.kind.title()}: {off.reason}",
                    BAND_COLORS.get(off.kind, "gray"),
                )
            )
    return [b for b in out if b.height > 0]


def column_blocks(
    rows: list[AppointmentRow], day: date, window: tuple[int, int], max_lanes: int | None = None
) -> list[Block]:
    """The column's blocks. With ``max_lanes``, a cluster wider than that keeps its first
    ``max_lanes`` lanes and folds the rest into one "+N" chip drawn at its top right."""
    spans = [(_local_minutes(r.start_at, day), _local_minutes(r.end_at, day)) for r in rows]
    placed = assign_lanes(spans)
    out = []
    folded: dict[int, list[Placed]] = {}
    for row, p in zip(rows, placed, strict=True):
        left, width = 100 * p.lane / p.lanes, 100 / p.lanes
        if max_lanes is not None and p.lanes > max_lanes:
            if p.lane >= max_lanes:
                folded.setdefault(p.cluster, []).append(p)
                continue
            width = 100 / max_lanes
            left = p.lane * width
        height = max(px(p.end - p.start), 14)
        out.append(
            Block(
                id=row.id,
                reference=row.reference,
                patient=row.patient_name,
                visit=row.visit_type,
                status=row.status,
                color=STATUS_COLORS.get(row.status, "gray"),
                token=row.queue_token or "",
                start=row.start_label,
                time=f"{row.start_label}–{format_local(row.end_at, '%H:%M')}",
                top=px(p.start - window[0]),
                height=height,
                left=round(left, 2),
                width=round(width, 2),
                series=bool(row.series_id),
                virtual=row.mode == "virtual",
                compact=height < 36,
                day=day.isoformat(),
            )
        )
    for cluster, hidden in folded.items():
        first = min(p.start for p in hidden)
        out.append(
            Block(
                reference=f"more-{day.isoformat()}-{cluster}",
                patient=f"+{len(hidden)}",
                visit=f"{len(hidden)} more {'visit' if len(hidden) == 1 else 'visits'} at this time: open the day",
                color="gray",
                top=px(first - window[0]),
                height=18,
                compact=True,
                more=len(hidden),
                day=day.isoformat(),
            )
        )
    return out


def build_columns(
    data: CalendarData,
    *,
    view: str,
    first_day: date,
    resource_id: int | None,
    kinds: tuple[str, ...],
    today: date,
) -> tuple[list[Column], tuple[int, int]]:
    """The columns of the calendar and the hours they span, from one read of the data."""
    by_id = {r.id: r for r in data.resources}
    rows = list(data.rows)
    local_day = {row.id: to_local(row.start_at).date() for row in rows}
    window = window_for(
        [
            (_local_minutes(r.start_at, local_day[r.id]), _local_minutes(r.end_at, local_day[r.id]))
            for r in rows
        ]
    )
    columns: list[Column] = []
    if view == "day":
        shown = (
            [by_id[resource_id]] if resource_id in by_id else [r for r in data.resources if r.kind in kinds]
        )
        for resource in shown:
            mine = [r for r in rows if resource.id in r.resource_ids]
            columns.append(
                Column(
                    key=f"{first_day.isoformat()}:{resource.id}",
                    day=first_day.isoformat(),
                    resource_id=resource.id,
                    title=resource.name,
                    subtitle=KIND_LABELS.get(resource.kind, resource.kind)
                    + (f" · {resource.capability.upper()}" if resource.capability else ""),
                    is_today=first_day == today,
                    blocks=column_blocks(mine, first_day, window),
                    bands=_bands(data.availability.get((resource.id, first_day)), window, resource.kind),
                )
            )
    else:
        resource = by_id.get(resource_id) if resource_id else None
        any_resource = data.resources[0].id if data.resources else 0  # holidays apply to all alike
        for day in week_of(first_day):
            mine = [r for r in rows if local_day[r.id] == day]
            columns.append(
                Column(
                    key=day.isoformat(),
                    day=day.isoformat(),
                    resource_id=resource.id if resource else 0,
                    title=day.strftime("%a %d"),
                    subtitle=day.strftime("%b"),
                    is_today=day == today,
                    blocks=column_blocks(mine, day, window, WEEK_MAX_LANES),
                    bands=_bands(data.availability.get((resource.id, day)), window, resource.kind)
                    if resource
                    else _bands(data.availability.get((any_resource, day)), window, "", shared_only=True),
                )
            )
    return columns, window
