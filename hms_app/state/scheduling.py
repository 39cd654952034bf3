"""The staff scheduling screens: the calendar (/schedule), its booking dialog, the no-show
rates (/schedule/stats) and the set-up of resources, services and availability (/schedule/setup).

The calendar keeps only what is on screen: one day (or one week) of one department's
appointments, laid out here as blocks with their pixel positions so that the page only draws.
Every read and write is one call of ``hms_app.services.scheduling``; ids the browser sends back
are checked against what it was shown, and the services check permission and rules again.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.clock import format_local, to_local, utcnow
from hms_app.errors import DomainError, ValidationError
from hms_app.services import calendar_views as views
from hms_app.services import live
from hms_app.services import patients as patient_svc
from hms_app.services import scheduling as svc
from hms_app.services.permissions import Actor
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires

# ====================================================================== layout (pure)

PX_PER_MINUTE = 1.6  # a 15-minute visit is 24 px tall: one line of text and a token
WINDOW_START_HOUR = 7
WINDOW_END_HOUR = 19
GRID_MINUTES = 15  # clickable empty cells; bookings themselves are on the 5-minute grid


def px(minutes: int) -> int:
    return round(minutes * PX_PER_MINUTE)


@dataclass
class Placed:
    """Where a block sits in its column: from the window's top, and which side-by-side lane."""

    start: int  # minutes since local midnight
    end: int
    lane: int = 0
    lanes: int = 1


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

    def close() -> None:
        for i in cluster:
            placed[i].lanes = max(1, len(lane_ends))

    for i in order:
        start, end = spans[i]
        if start >= cluster_end and cluster:
            close()
            cluster, lane_ends = [], []
        for lane, lane_end in enumerate(lane_ends):
            if lane_end <= start:
                lane_ends[lane] = end
                break
        else:
            lane = len(lane_ends)
            lane_ends.append(end)
        placed[i] = Placed(start, end, lane)
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


STATUS_LABELS = {
    "offered": "Offered (waitlist)",
    "booked": "Booked",
    "arrived": "Arrived",
    "in_room": "In room",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
}
STATUS_COLORS = {
    "offered": "cyan",
    "booked": "blue",
    "arrived": "amber",
    "in_room": "violet",
    "completed": "green",
    "cancelled": "gray",
    "no_show": "red",
}
BAND_COLORS = {"off": "gray", "leave": "amber", "holiday": "crimson", "closure": "crimson"}
KIND_LABELS = {"provider": "Provider", "room": "Room", "equipment": "Equipment"}
VIEWS = ("day", "week")
MAX_TEXT = 300
MAX_QUERY = 100
PATIENT_OPTIONS = 8
WATCH_REASON = "only waits for change notices and reads no data; the refresh it triggers is guarded"
ANY = "any"  # a select item cannot have the empty value: "any resource"


def _today() -> date:
    return to_local(utcnow()).date()


def _parse_day(value) -> date:
    """A day the browser sent (YYYY-MM-DD), within five years of today."""
    if not isinstance(value, str) or len(value) > 10:
        raise ValidationError("Choose a day.", field="day")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError("Choose a day.", field="day") from None
    if abs((day - _today()).days) > 5 * 366:
        raise ValidationError("Choose a day within five years of today.", field="day")
    return day


def _form_text(form, key: str, limit: int = MAX_TEXT) -> str:
    value = form.get(key, "") if isinstance(form, dict) else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if not isinstance(value, str):
        raise ValidationError("This value could not be read; enter it again.", field=key)
    if len(value) > limit:
        raise ValidationError(f"Keep this under {limit} characters.", field=key)
    return value.strip()


def _local_minutes(moment: datetime, day: date) -> int:
    """Minutes since the local midnight of ``day`` (a visit past midnight is cut at 24:00)."""
    local = to_local(moment)
    if local.date() < day:
        return 0
    if local.date() > day:
        return 24 * 60
    return minutes_of(local)


@dataclass
class Option:
    id: str = ""
    label: str = ""
    kind: str = ""


@dataclass
class Detail:
    """The appointment in the side panel."""

    id: int = 0
    reference: str = ""
    patient_id: int = 0
    patient: str = ""
    mrn: str = ""
    service_id: int = 0
    type_id: int = 0
    service: str = ""
    visit: str = ""
    virtual: bool = False
    day: str = ""  # ISO
    day_label: str = ""
    time: str = ""
    status: str = ""
    status_label: str = ""
    color: str = "gray"
    token: str = ""
    resources: str = ""
    primary_id: int = 0
    series: str = ""
    cancel_reason: str = ""
    booked_via: str = ""
    started: bool = False  # its start has passed (a no-show can be recorded)
    is_today: bool = False


@dataclass
class SeriesLine:
    reference: str = ""
    when: str = ""
    status: str = ""
    status_label: str = ""
    color: str = "gray"
    current: bool = False


@dataclass
class SlotLine:
    key: str = ""
    time: str = ""  # "09:15"
    label: str = ""  # "Wed 25 Nov 09:15"
    resources: str = ""
    start_iso: str = ""
    resource_id: int = 0
    preferred: bool = False  # at (or just after) the time the clerk clicked


def _slot_lines(slots: list[svc.FreeSlot], prefer_minute: int = -1) -> list[SlotLine]:
    lines = [
        SlotLine(
            str(i),
            format_local(s.start_at, "%H:%M"),
            s.label,
            ", ".join(s.resource_names),
            s.start_at.isoformat(),
            s.resource_ids[0],
        )
        for i, s in enumerate(slots)
    ]
    if prefer_minute >= 0:
        for line, slot in zip(lines, slots, strict=True):
            if minutes_of(to_local(slot.start_at)) >= prefer_minute:
                line.preferred = True
                break
    return lines


def _detail(row: svc.AppointmentRow, now: datetime) -> Detail:
    local_start = to_local(row.start_at)
    return Detail(
        id=row.id,
        reference=row.reference,
        patient_id=row.patient_id,
        patient=row.patient_name,
        mrn=row.mrn,
        service_id=row.service_id,
        type_id=row.appointment_type_id,
        service=row.service_name,
        visit=row.visit_type,
        virtual=row.mode == "virtual",
        day=local_start.date().isoformat(),
        day_label=row.day_label,
        time=f"{row.start_label}–{format_local(row.end_at, '%H:%M')}",
        status=row.status,
        status_label=STATUS_LABELS.get(row.status, row.status),
        color=STATUS_COLORS.get(row.status, "gray"),
        token=row.queue_token or "",
        resources=", ".join(row.resource_names),
        primary_id=row.resource_ids[0] if row.resource_ids else 0,
        series=row.series_id or "",
        cancel_reason=row.cancel_reason or "",
        booked_via=row.booked_via,
        started=row.start_at <= now,
        is_today=local_start.date() == to_local(now).date(),
    )


@dataclass
class CalendarData:
    departments: list
    department_id: int | None  # the department shown (the user's own when none was chosen)
    resources: list
    rows: list
    availability: dict


def _read_calendar(
    session,
    *,
    actor: Actor,
    department_id: int | None,
    first_day: date,
    days: int,
    resource_id: int | None,
    show_cancelled: bool,
    with_departments: bool,
) -> CalendarData:
    """Everything one calendar screen shows, read in one worker thread and one session."""
    departments = views.list_departments(session, actor=actor) if with_departments else []
    if department_id is None and departments:
        home = views.home_department_id(session, actor=actor)
        department_id = home if home in {d.id for d in departments} else departments[0].id
    if department_id is None:
        return CalendarData(departments, None, [], [], {})
    resources = svc.list_resources(session, actor=actor, department_id=department_id)
    if days == 1:
        statuses = None if show_cancelled else [*svc.HOLDING_STATUSES, "no_show"]
        rows = svc.list_day(
            session,
            actor=actor,
            day=first_day,
            department_id=department_id,
            resource_id=resource_id,
            statuses=statuses,
            limit=500,
        ).rows
    else:
        rows = svc.list_week(
            session,
            actor=actor,
            week_start=first_day,
            department_id=department_id,
            resource_id=resource_id,
            include_cancelled=show_cancelled,
        ).rows
    wanted = [resource_id] if resource_id else [r.id for r in resources]
    availability = views.day_availability(
        session, actor=actor, resource_ids=wanted, first_day=first_day, days=days
    )
    return CalendarData(departments, department_id, resources, rows, availability)


def _bands(
    avail: views.DayAvailability | None, window: tuple[int, int], kind: str, shared_only: bool = False
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


def _blocks(rows: list[svc.AppointmentRow], day: date, window: tuple[int, int]) -> list[Block]:
    spans = [(_local_minutes(r.start_at, day), _local_minutes(r.end_at, day)) for r in rows]
    placed = assign_lanes(spans)
    out = []
    for row, p in zip(rows, placed, strict=True):
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
                left=round(100 * p.lane / p.lanes, 2),
                width=round(100 / p.lanes, 2),
                series=bool(row.series_id),
                virtual=row.mode == "virtual",
                compact=height < 36,
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
                    blocks=_blocks(mine, first_day, window),
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
                    blocks=_blocks(mine, day, window),
                    bands=_bands(data.availability.get((resource.id, day)), window, resource.kind)
                    if resource
                    else _bands(data.availability.get((any_resource, day)), window, "", shared_only=True),
                )
            )
    return columns, window


# ====================================================================== the calendar (/schedule)


class ScheduleState(SessionState):
    """One day or week of one department's appointments, and the appointment chosen in it."""

    departments: list[Option] = []
    department_id: str = ""
    resources: list[Option] = []
    resource_id: str = ANY
    view: str = "day"
    day: str = ""  # ISO: the day shown, or any day of the week shown
    kinds: list[str] = ["provider"]
    show_cancelled: bool = False

    columns: list[Column] = []
    hours: list[HourMark] = []
    cells: list[Cell] = []
    grid_height: int = 0
    now_top: int = -1
    title: str = ""
    counts: dict[str, int] = {}
    loaded: bool = False
    version: int = 0  # bumped on every reload: browser tests see the calendar change

    # The side panel.
    detail: Detail = Detail()
    panel: str = ""  # "" | details | cancel | move
    panel_error: str = ""
    busy: bool = False
    move_day: str = ""
    move_same_resource: bool = True
    move_slots: list[SlotLine] = []
    series: list[SeriesLine] = []

    _window_start: int = WINDOW_START_HOUR * 60

    # ------------------------------------------------------------------ reading

    def _department(self) -> int | None:
        return int(self.department_id) if self.department_id.isdigit() else None

    def _resource(self) -> int | None:
        return int(self.resource_id) if self.resource_id.isdigit() else None

    def _first_day(self) -> date:
        day = date.fromisoformat(self.day) if self.day else _today()
        return week_of(day)[0] if self.view == "week" else day

    async def _reload(self) -> None:
        first = self._first_day()
        data = await self._run(
            _read_calendar,
            department_id=self._department(),
            first_day=first,
            days=1 if self.view == "day" else 7,
            resource_id=self._resource(),
            show_cancelled=self.show_cancelled,
            with_departments=not self.departments,
        )
        if data.departments:
            self.departments = [Option(str(d.id), d.name) for d in data.departments]
        if not self.department_id and data.department_id is not None:
            self.department_id = str(data.department_id)
        self.resources = [Option(str(r.id), r.name, r.kind) for r in data.resources]
        if self.resource_id != ANY and self.resource_id not in {r.id for r in self.resources}:
            self.resource_id = ANY
        today = _today()
        columns, window = build_columns(
            data,
            view=self.view,
            first_day=first,
            resource_id=self._resource(),
            kinds=tuple(self.kinds),
            today=today,
        )
        self.columns = columns
        self._window_start = window[0]
        self.grid_height = px(window[1] - window[0])
        self.hours = [
            HourMark(f"{h:02d}:00", px(h * 60 - window[0])) for h in range(window[0] // 60, window[1] // 60)
        ]
        self.cells = [
            Cell(m, px(m - window[0]), f"{m // 60:02d}:{m % 60:02d}", m % 60 == 0)
            for m in range(window[0], window[1], GRID_MINUTES)
        ]
        now_minutes = minutes_of(to_local(utcnow()))
        shows_today = any(c.is_today for c in columns)
        self.now_top = (
            px(now_minutes - window[0]) if shows_today and window[0] <= now_minutes < window[1] else -1
        )
        counts: dict[str, int] = {}
        for row in data.rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        self.counts = counts
        if self.view == "day":
            self.title = first.strftime("%A %d %B %Y")
        else:
            last = first + timedelta(days=6)
            self.title = f"{first.strftime('%d %b')} – {last.strftime('%d %b %Y')}"
        self.loaded = True
        self.version += 1
        if self.detail.id and self.panel:
            await self._refresh_detail()

    async def _safe_reload(self):
        try:
            await self._reload()
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        return None

    def _shown_ids(self) -> set[int]:
        return {b.id for c in self.columns for b in c.blocks}

    async def _refresh_detail(self) -> None:
        row = await self._run(svc.get_appointment, appointment_id=self.detail.id)
        self._show(row)

    def _show(self, row: svc.AppointmentRow) -> None:
        self.detail = _detail(row, utcnow())
        self.series = []

    async def _load_series(self) -> None:
        visits = (
            await self._run(views.series_visits, series_id=self.detail.series) if self.detail.series else []
        )
        self.series = [
            SeriesLine(
                v.reference,
                format_local(v.start_at, "%a %d %b %Y %H:%M"),
                v.status,
                STATUS_LABELS.get(v.status, v.status),
                STATUS_COLORS.get(v.status, "gray"),
                v.id == self.detail.id,
            )
            for v in visits
        ]

    @rx.event
    @requires("appointment.read")
    async def load(self):
        params = self.router.url.query_parameters if self.router else {}
        wanted_day, wanted_dept = params.get("day", ""), params.get("department", "")
        if isinstance(wanted_day, str) and wanted_day:
            with contextlib.suppress(ValidationError):  # a stale link: show today instead
                self.day = _parse_day(wanted_day).isoformat()
        if not self.day:
            self.day = _today().isoformat()
        if isinstance(wanted_dept, str) and wanted_dept.isdigit() and len(wanted_dept) < 10:
            self.department_id = wanted_dept
        self.departments = []  # read again: a department may have been set up since
        return await self._safe_reload()

    @rx.event
    @requires("appointment.read")
    async def refresh(self):
        if not self.loaded:
            return None
        return await self._safe_reload()

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        # No key: the department shown can change while the page is open; refresh reads it.
        async for _ in live_changes(self, live.APPOINTMENTS):
            yield ScheduleState.refresh

    # ------------------------------------------------------------------ navigation

    @rx.event
    @requires("appointment.read")
    async def set_department(self, value: str):
        try:
            wanted = str(browser_id(value, "department"))
        except ValidationError as error:
            return rx.toast.error(str(error))
        if wanted not in {d.id for d in self.departments}:
            return rx.toast.error("Choose a department from the list.")
        self.department_id, self.resource_id = wanted, ANY
        self._close_panel()
        return await self._safe_reload()

    @rx.event
    @requires("appointment.read")
    async def set_resource(self, value: str):
        if value != ANY and value not in {r.id for r in self.resources}:
            return rx.toast.error("Choose a resource from the list.")
        self.resource_id = value
        return await self._safe_reload()

    @rx.event
    @requires("appointment.read")
    async def set_view(self, value: str | list[str]):
        if not isinstance(value, str) or value not in VIEWS:
            return rx.toast.error("Choose day or week.")
        self.view = value
        return await self._safe_reload()

    @rx.event
    @requires("appointment.read")
    async def toggle_kind(self, kind: str):
        if kind not in KIND_LABELS:
            return rx.toast.error("Choose providers, rooms or equipment.")
        kinds = [k for k in self.kinds if k != kind] if kind in self.kinds else [*self.kinds, kind]
        self.kinds = [k for k in KIND_LABELS if k in kinds] or ["provider"]
        return await self._safe_reload()

    @rx.event
    @requires("appointment.read")
    async def set_show_cancelled(self, value: bool):
        self.show_cancelled = bool(value)
        return await self._safe_reload()

    @rx.event
    @requires("appointment.read")
    async def set_day(self, value: str):
        try:
            self.day = _parse_day(value).isoformat()
        except ValidationError as error:
            return rx.toast.error(str(error))
        return await self._safe_reload()

    @rx.event
    @requires("appointment.read")
    async def step(self, direction: int):
        if direction not in (-1, 0, 1):
            return rx.toast.error("Choose the previous or next day.")
        if direction == 0:
            self.day = _today().isoformat()
        else:
            days = 7 if self.view == "week" else 1
            self.day = (
                date.fromisoformat(self.day or _today().isoformat()) + timedelta(days=days * direction)
            ).isoformat()
        return await self._safe_reload()

    @rx.event
    @requires("appointment.read")
    async def open_day(self, day: str):
        """From the week view: a day's column header opens that day."""
        try:
            self.day = _parse_day(day).isoformat()
        except ValidationError as error:
            return rx.toast.error(str(error))
        self.view = "day"
        return await self._safe_reload()

    # ------------------------------------------------------------------ the side panel

    def _close_panel(self) -> None:
        self.panel, self.panel_error, self.busy = "", "", False
        self.detail, self.move_slots, self.move_day, self.series = Detail(), [], "", []

    @rx.event
    @requires("appointment.read")
    async def select(self, appointment_id: int):
        try:
            wanted = browser_id(appointment_id, "appointment")
            if wanted not in self._shown_ids():
                raise ValidationError("Choose an appointment on the calendar.")
            row = await self._run(svc.get_appointment, appointment_id=wanted)
        except DomainError as error:
            return rx.toast.error(str(error))
        self._show(row)
        self.panel, self.panel_error, self.move_slots = "details", "", []
        return None

    @rx.event
    @requires("appointment.read")
    async def show_series(self):
        if not self.detail.series:
            return None
        try:
            await self._load_series()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("appointment.read")
    async def close_panel(self):
        self._close_panel()

    @rx.event
    @requires("appointment.read")
    async def back_to_details(self):
        self.panel, self.panel_error, self.move_slots = "details", "", []

    async def _act(self, fn, done: str):
        if not self.detail.id:
            return rx.toast.error("Choose an appointment on the calendar.")
        self.busy = True
        try:
            appointment = await self._run(fn, appointment_id=self.detail.id)
        except DomainError as error:
            self.busy = False
            await self._safe_reload()
            return rx.toast.error(str(error))
        self.busy, self.panel = False, "details"
        await self._safe_reload()
        await self._refresh_detail()
        message = done.format(token=appointment.queue_token or "", reference=appointment.reference)
        return rx.toast.success(message)

    @rx.event
    @requires("appointment.flow")
    async def check_in(self):
        return await self._act(svc.check_in, "Checked in: queue token {token}.")

    @rx.event
    @requires("appointment.flow")
    async def call_in(self):
        return await self._act(svc.call_patient, "{reference}: the patient is in the room.")

    @rx.event
    @requires("appointment.flow")
    async def complete(self):
        return await self._act(svc.complete_appointment, "{reference} completed.")

    @rx.event
    @requires("appointment.flow")
    async def no_show(self):
        return await self._act(svc.mark_no_show, "{reference} recorded as a no-show; the time is free again.")

    @rx.event
    @requires("appointment.book")
    async def accept_offer(self):
        """The patient said yes (on the phone, at the desk) to the time the waitlist offered them."""
        return await self._act(svc.accept_offer, "{reference}: the offered time is booked.")

    @rx.event
    @requires("appointment.book")
    async def decline_offer(self):
        return await self._act(
            svc.decline_offer, "{reference}: offer declined; the time goes to the next patient."
        )

    @rx.event
    @requires("appointment.book")
    async def ask_cancel(self):
        if not self.detail.id:
            return None
        self.panel, self.panel_error = "cancel", ""
        return None

    @rx.event
    @requires("appointment.book")
    async def confirm_cancel(self, form: dict):
        try:
            reason = _form_text(form, "reason")
        except ValidationError as error:
            self.panel_error = str(error)
            return None
        if len(reason) < 3:
            self.panel_error = "Say why the appointment is cancelled (at least 3 characters)."
            return None
        if not self.detail.id:
            return None
        self.busy = True
        try:
            appointment = await self._run(
                svc.cancel_appointment, appointment_id=self.detail.id, reason=reason
            )
        except DomainError as error:
            self.busy, self.panel_error = False, str(error)
            return None
        self.busy, self.panel, self.panel_error = False, "details", ""
        await self._safe_reload()
        await self._refresh_detail()
        return rx.toast.success(f"{appointment.reference} cancelled. The time is free for others.")

    async def _load_move_slots(self) -> None:
        slots = await self._run(
            svc.find_free_slots,
            service_id=self.detail.service_id,
            appointment_type_id=self.detail.type_id,
            day=self.move_day,
            resource_id=self.detail.primary_id
            if self.move_same_resource and self.detail.primary_id
            else None,
            limit=80,
        )
        self.move_slots = _slot_lines(slots)

    @rx.event
    @requires("appointment.book")
    async def ask_move(self):
        if not self.detail.id:
            return None
        self.panel, self.panel_error = "move", ""
        self.move_day = max(self.detail.day, _today().isoformat())
        try:
            await self._load_move_slots()
        except DomainError as error:
            self.panel_error, self.move_slots = str(error), []
        return None

    @rx.event
    @requires("appointment.book")
    async def set_move_day(self, value: str):
        try:
            self.move_day = _parse_day(value).isoformat()
            self.panel_error = ""
            await self._load_move_slots()
        except DomainError as error:
            self.panel_error, self.move_slots = str(error), []
        return None

    @rx.event
    @requires("appointment.book")
    async def move_day_step(self, direction: int):
        if direction not in (-1, 1) or not self.move_day:
            return None
        wanted = date.fromisoformat(self.move_day) + timedelta(days=direction)
        if wanted < _today():
            return None
        return await ScheduleState.set_move_day.fn(self, wanted.isoformat())

    @rx.event
    @requires("appointment.book")
    async def set_move_same_resource(self, value: bool):
        self.move_same_resource = bool(value)
        try:
            await self._load_move_slots()
        except DomainError as error:
            self.panel_error, self.move_slots = str(error), []
        return None

    @rx.event
    @requires("appointment.book")
    async def move_to(self, key: str):
        slot = next((s for s in self.move_slots if s.key == key), None)
        if slot is None or not self.detail.id:
            return rx.toast.error("Choose one of the free times shown.")
        self.busy = True
        try:
            appointment = await self._run(
                svc.reschedule_appointment,
                appointment_id=self.detail.id,
                start_at=slot.start_iso,
                resource_id=slot.resource_id,
            )
        except DomainError as error:
            self.busy, self.panel_error = False, str(error)
            try:
                await self._load_move_slots()  # a time taken meanwhile disappears from the list
            except DomainError:
                self.move_slots = []
            return None
        self.busy, self.panel, self.panel_error, self.move_slots = False, "details", "", []
        moved_to = to_local(appointment.start_at).date()
        if moved_to not in self._days_shown():
            self.day = moved_to.isoformat()  # follow the appointment to its new day
        await self._safe_reload()
        await self._refresh_detail()
        return rx.toast.success(
            f"{appointment.reference} moved to {format_local(appointment.start_at, '%a %d %b %H:%M')}."
        )

    def _days_shown(self) -> set[date]:
        return {date.fromisoformat(c.day) for c in self.columns if c.day}


# ====================================================================== the booking dialog


@dataclass
class PatientPick:
    id: int = 0
    name: str = ""
    mrn: str = ""
    born: str = ""


@dataclass
class TypeChoice:
    id: str = ""
    label: str = ""  # "Follow-up · 15 min · virtual"


@dataclass
class ServiceChoice:
    id: str = ""
    name: str = ""
    types: list[TypeChoice] = field(default_factory=list)


# The time clicked on the calendar is chosen in the list of free times: bring it into view.
SHOW_CHOSEN_SLOT = rx.call_script(
    """setTimeout(() => {
  const el = document.querySelector("[data-testid=booking-slots] [data-chosen=true]");
  if (el) el.scrollIntoView({block: "nearest"});
}, 250)"""
)

BOOKING_FIELDS = (
    "patient_id",
    "service_id",
    "appointment_type_id",
    "resource_id",
    "day",
    "start_at",
    "count",
    "every_days",
)


def _read_booking_options(session, *, actor: Actor, department_id: int) -> tuple[list, dict]:
    services = [s for s in svc.list_services(session, actor=actor) if s.department_id == department_id]
    links = views.service_links(session, actor=actor, service_ids=[s.id for s in services])
    return services, links


class BookingState(SessionState):
    """The booking dialog: patient, service, visit type, resource, day, free times, repeat."""

    open: bool = False
    department_id: int = 0
    patient_query: str = ""
    patient_hits: list[PatientPick] = []
    patient_id: int = 0
    patient_label: str = ""
    services: list[ServiceChoice] = []
    service_id: str = ""
    type_id: str = ""
    resource_options: list[Option] = []
    resource_id: str = ANY
    day: str = ""
    prefer_minute: int = -1
    slots: list[SlotLine] = []
    slot_key: str = ""
    searched: bool = False  # the slots answer the current choices
    repeat: bool = False
    every_days: str = "7"
    count: str = "4"
    error_field: str = ""
    error_text: str = ""
    saving: bool = False
    waitlisted: str = ""  # a confirmation after adding the patient to the waitlist

    _links: dict[int, list[tuple[int, str, str]]] = {}
    _wanted_resource: int = 0  # the column clicked: preselected once a service it offers is chosen

    @rx.var
    def type_choices(self) -> list[TypeChoice]:
        for service in self.services:
            if service.id == self.service_id:
                return service.types
        return []

    @rx.var
    def chosen_slot(self) -> SlotLine:
        return next((s for s in self.slots if s.key == self.slot_key), SlotLine())

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        self.error_text = str(error)
        self.error_field = error.field if error.field in BOOKING_FIELDS else ""

    def _reset_form(self) -> None:
        self.patient_query, self.patient_hits, self.patient_id, self.patient_label = "", [], 0, ""
        self.service_id = self.type_id = ""
        self.resource_options, self.resource_id = [], ANY
        self.slots, self.slot_key, self.searched = [], "", False
        self.repeat, self.every_days, self.count = False, "7", "4"
        self.error_field = self.error_text = self.waitlisted = ""
        self.saving, self.prefer_minute = False, -1

    async def _open(self, day: str, resource_id: int, minute: int):
        schedule = await self.get_state(ScheduleState)
        department = schedule._department()
        if department is None:
            return rx.toast.error("Choose a department first.")
        self._reset_form()
        self.department_id = department
        try:
            services, links = await self._run(_read_booking_options, department_id=department)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.services = [
            ServiceChoice(
                str(s.id),
                s.name,
                [
                    TypeChoice(
                        str(t.id),
                        f"{t.name} · {t.duration_minutes} min"
                        + (" · virtual" if t.mode == "virtual" else ""),
                    )
                    for t in s.visit_types
                ],
            )
            for s in services
            if s.visit_types
        ]
        self._links = {sid: [(r.resource_id, r.name, r.kind) for r in rows] for sid, rows in links.items()}
        self.day = day or schedule.day or _today().isoformat()
        if date.fromisoformat(self.day) < _today():
            self.day = _today().isoformat()
        self.prefer_minute = minute
        self._wanted_resource = resource_id
        if len(self.services) == 1:
            self._choose_service(self.services[0].id)
        self.open = True
        return None

    def _choose_service(self, service_id: str) -> None:
        self.service_id = service_id
        choice = next(s for s in self.services if s.id == service_id)
        self.type_id = choice.types[0].id if len(choice.types) == 1 else ""
        linked = self._links.get(int(service_id), [])
        primaries = [r for r in linked if r[2] == "provider"] or [r for r in linked if r[2] == "equipment"]
        self.resource_options = [Option(str(rid), name, kind) for rid, name, kind in primaries]
        wanted = str(self._wanted_resource)
        self.resource_id = wanted if wanted in {o.id for o in self.resource_options} else ANY
        self.slots, self.slot_key, self.searched = [], "", False

    async def _search(self) -> None:
        self.slots, self.slot_key, self.searched, self.waitlisted = [], "", False, ""
        if not (self.service_id and self.type_id and self.day):
            return
        slots = await self._run(
            svc.find_free_slots,
            service_id=int(self.service_id),
            appointment_type_id=int(self.type_id),
            day=self.day,
            resource_id=None if self.resource_id == ANY else int(self.resource_id),
            limit=120,
        )
        self.slots = _slot_lines(slots, self.prefer_minute)
        preferred = next((s for s in self.slots if s.preferred), None)
        self.slot_key = preferred.key if preferred else ""
        self.searched = True

    async def _search_or_fail(self):
        try:
            await self._search()
        except DomainError as error:
            self._fail(error)
        return None

    @rx.event
    @requires("appointment.book")
    async def open_new(self):
        schedule = await self.get_state(ScheduleState)
        resource = schedule._resource() or 0
        return await self._open(schedule.day if schedule.view == "day" else "", resource, -1)

    @rx.event
    @requires("appointment.book")
    async def open_at(self, day: str, resource_id: int, minute: int):
        try:
            wanted_day = _parse_day(day).isoformat()
        except ValidationError as error:
            return rx.toast.error(str(error))
        if not isinstance(minute, int) or isinstance(minute, bool) or not 0 <= minute < 24 * 60:
            return rx.toast.error("Choose a time on the calendar.")
        schedule = await self.get_state(ScheduleState)
        rid = (
            resource_id
            if isinstance(resource_id, int) and str(resource_id) in {r.id for r in schedule.resources}
            else 0
        )
        response = await self._open(wanted_day, rid, minute)
        if response is None and self.service_id and self.type_id:
            await self._search_or_fail()
            if self.slot_key:
                return SHOW_CHOSEN_SLOT
        return response

    @rx.event
    @requires("appointment.book")
    async def close(self):
        self.open = False
        self._reset_form()

    @rx.event
    @requires("appointment.book")
    async def on_open_change(self, is_open: bool):
        if not is_open:
            self.open = False
            self._reset_form()

    @rx.event
    @requires("patient.read")
    async def set_patient_query(self, value: str):
        if not isinstance(value, str) or len(value) > MAX_QUERY:
            return rx.toast.error(f"Search for at most {MAX_QUERY} characters.")
        self.patient_query = value
        if len(value.strip()) < 2:
            self.patient_hits = []
            return None
        try:
            rows = await self._run(patient_svc.find_living, query=value, limit=PATIENT_OPTIONS)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.patient_hits = [PatientPick(r.id, r.name, r.mrn, r.birth_date.isoformat()) for r in rows]
        return None

    @rx.event
    @requires("appointment.book")
    async def pick_patient(self, patient_id: int):
        chosen = next((p for p in self.patient_hits if p.id == patient_id), None)
        if chosen is None:
            return rx.toast.error("Choose a patient from the search results.")
        self.patient_id, self.patient_label = chosen.id, f"{chosen.name} · {chosen.mrn} · born {chosen.born}"
        self.patient_hits, self.patient_query = [], ""
        if self.error_field == "patient_id":
            self.error_field = self.error_text = ""
        return None

    @rx.event
    @requires("appointment.book")
    async def clear_patient(self):
        self.patient_id, self.patient_label = 0, ""

    @rx.event
    @requires("appointment.book")
    async def set_service(self, value: str):
        if value not in {s.id for s in self.services}:
            return rx.toast.error("Choose a service from the list.")
        self._choose_service(value)
        self.error_field = self.error_text = ""
        await self._search_or_fail()
        return SHOW_CHOSEN_SLOT if self.slot_key else None

    @rx.event
    @requires("appointment.book")
    async def set_type(self, value: str):
        if value not in {t.id for t in self.type_choices}:
            return rx.toast.error("Choose a visit type from the list.")
        self.type_id = value
        self.error_field = self.error_text = ""
        await self._search_or_fail()
        return SHOW_CHOSEN_SLOT if self.slot_key else None

    @rx.event
    @requires("appointment.book")
    async def set_booking_resource(self, value: str):
        if value != ANY and value not in {o.id for o in self.resource_options}:
            return rx.toast.error("Choose a resource from the list.")
        self.resource_id = value
        return await self._search_or_fail()

    @rx.event
    @requires("appointment.book")
    async def set_booking_day(self, value: str):
        try:
            wanted = _parse_day(value)
        except ValidationError as error:
            self._fail(error)
            return None
        if wanted < _today():
            self._fail(ValidationError("That day has passed.", field="day"))
            return None
        self.day, self.error_field, self.error_text = wanted.isoformat(), "", ""
        return await self._search_or_fail()

    @rx.event
    @requires("appointment.book")
    async def booking_day_step(self, direction: int):
        if direction not in (-1, 1) or not self.day:
            return None
        wanted = date.fromisoformat(self.day) + timedelta(days=direction)
        if wanted < _today():
            return None
        self.day = wanted.isoformat()
        return await self._search_or_fail()

    @rx.event
    @requires("appointment.book")
    async def pick_slot(self, key: str):
        if key not in {s.key for s in self.slots}:
            return rx.toast.error("Choose one of the free times shown.")
        self.slot_key = key
        if self.error_field == "start_at":
            self.error_field = self.error_text = ""
        return None

    @rx.event
    @requires("appointment.book")
    async def set_repeat(self, value: bool):
        self.repeat = bool(value)

    @rx.event
    @requires("appointment.book")
    async def set_every_days(self, value: str):
        # Kept as typed; the service says what is allowed (every 1 to 91 days) when booking.
        if not isinstance(value, str) or len(value) > 3:
            return rx.toast.error("Enter every how many days the visit repeats.")
        self.every_days = value
        return None

    @rx.event
    @requires("appointment.book")
    async def set_count(self, value: str):
        if not isinstance(value, str) or len(value) > 3:
            return rx.toast.error("Enter the number of visits.")
        self.count = value
        return None

    async def _after_write(self):
        schedule = await self.get_state(ScheduleState)
        await schedule._safe_reload()

    @rx.event
    @requires("appointment.book")
    async def book(self):
        if not self.patient_id:
            self._fail(ValidationError("Choose the patient.", field="patient_id"))
            return
        slot = self.chosen_slot
        if not slot.key:
            self._fail(ValidationError("Choose one of the free times.", field="start_at"))
            return
        self.saving, self.error_field, self.error_text = True, "", ""
        yield
        try:
            if self.repeat:
                booked = await self._run(
                    svc.book_recurring,
                    patient_id=self.patient_id,
                    service_id=int(self.service_id),
                    appointment_type_id=int(self.type_id),
                    first_start_at=slot.start_iso,
                    count=self.count,
                    every_days=self.every_days,
                    resource_id=None if self.resource_id == ANY else int(self.resource_id),
                )
            else:
                booked = [
                    await self._run(
                        svc.book_appointment,
                        patient_id=self.patient_id,
                        service_id=int(self.service_id),
                        appointment_type_id=int(self.type_id),
                        start_at=slot.start_iso,
                        resource_id=slot.resource_id,
                    )
                ]
        except DomainError as error:
            self._fail(error)
            if isinstance(error, svc.SlotTaken):
                await self._search_or_fail()  # the clear message stays; the list shows what is free now
                self.error_text, self.error_field = str(error), "start_at"
            return
        first = booked[0]
        when = format_local(first.start_at, "%a %d %b %H:%M")
        if len(booked) > 1:
            message = f"Booked {len(booked)} visits from {when} (series {first.series_id}); first {first.reference}."
        else:
            message = f"Booked {first.reference} on {when}."
        self.open = False
        self._reset_form()
        await self._after_write()
        yield rx.toast.success(message, id="booked")

    @rx.event
    @requires("appointment.book")
    async def add_to_waitlist(self):
        if not self.patient_id:
            self._fail(ValidationError("Choose the patient.", field="patient_id"))
            return None
        if not (self.service_id and self.type_id and self.day):
            self._fail(ValidationError("Choose the service, visit type and day.", field="service_id"))
            return None
        try:
            await self._run(
                svc.join_waitlist,
                patient_id=self.patient_id,
                service_id=int(self.service_id),
                appointment_type_id=int(self.type_id),
                wanted_date=self.day,
                resource_id=None if self.resource_id == ANY else int(self.resource_id),
            )
        except DomainError as error:
            self._fail(error)
            return None
        day = date.fromisoformat(self.day).strftime("%a %d %b")
        self.waitlisted = (
            f"On the waitlist for {day}: the first time freed that day is offered to the patient."
        )
        return rx.toast.success("Added to the waitlist.")


# ====================================================================== no-show rates (/schedule/stats)


@dataclass
class RateLine:
    id: int = 0
    name: str = ""
    appointments: int = 0
    no_shows: int = 0
    rate: str = ""  # "12.5 %"
    high: bool = False


PERIODS = {"30": 30, "90": 90, "365": 365}
HIGH_RATE = 0.2  # a provider or patient above this is flagged on the screen


def _rate_line(row: svc.NoShowRate) -> RateLine:
    return RateLine(
        row.id, row.name, row.appointments, row.no_shows, f"{row.rate * 100:.1f} %", row.rate >= HIGH_RATE
    )


class NoShowState(SessionState):
    """No-show rates per provider and per patient over a period, for one department or all."""

    departments: list[Option] = []
    department_id: str = ANY
    period: str = "90"
    providers: list[RateLine] = []
    patients: list[RateLine] = []
    overall: str = ""
    figure: go.Figure = EMPTY_FIGURE
    loaded: bool = False

    async def _reload(self):
        from hms_app.analytics import scheduling as charts

        end = _today()
        start = end - timedelta(days=PERIODS[self.period] - 1)
        department = int(self.department_id) if self.department_id.isdigit() else None
        try:
            result = await self._run(
                charts.no_show_report, start_day=start, end_day=end, department_id=department
            )
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        self.departments = [Option(str(d.id), d.name) for d in result.departments]
        self.providers = [_rate_line(r) for r in result.providers]
        self.patients = [_rate_line(r) for r in result.patients]
        self.overall = result.overall
        self.figure = charts.no_show_figure(result.providers)
        self.loaded = True
        return None

    @rx.event
    @requires("appointment.read")
    async def load(self):
        return await self._reload()

    @rx.event
    @requires("appointment.read")
    async def set_period(self, value: str):
        if value not in PERIODS:
            return rx.toast.error("Choose a period from the list.")
        self.period = value
        return await self._reload()

    @rx.event
    @requires("appointment.read")
    async def set_department(self, value: str):
        if value != ANY and value not in {d.id for d in self.departments}:
            return rx.toast.error("Choose a department from the list.")
        self.department_id = value
        return await self._reload()


# ====================================================================== set-up (/schedule/setup)


@dataclass
class ResourceLine:
    id: int = 0
    kind: str = ""
    kind_label: str = ""
    name: str = ""
    department_id: str = ""
    department: str = ""
    capability: str = ""
    active: bool = True


@dataclass
class TypeLine:
    id: int = 0
    service_id: int = 0
    code: str = ""
    name: str = ""
    minutes: int = 0
    mode: str = "in_person"
    price_code: str = ""
    needs_room: bool = False
    needs_equipment: str = ""
    active: bool = True


@dataclass
class ServiceLine:
    id: int = 0
    code: str = ""
    name: str = ""
    department_id: str = ""
    department: str = ""
    self_bookable: bool = False
    active: bool = True
    types: list[TypeLine] = field(default_factory=list)
    linked: list[Option] = field(default_factory=list)


@dataclass
class RuleLine:
    id: int = 0
    weekday: int = 0
    weekday_label: str = ""
    hours: str = ""
    valid: str = ""


@dataclass
class ExceptionLine:
    id: int = 0
    kind: str = ""
    scope: str = ""
    when: str = ""
    reason: str = ""


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SETUP_TABS = ("resources", "services", "templates", "exceptions")
SETUP_DIALOGS = ("resource", "service", "type")
SETUP_FIELDS = (
    "kind",
    "name",
    "department_id",
    "capability",
    "code",
    "duration_minutes",
    "mode",
    "price_code",
    "needs_equipment",
    "service_id",
    "resource_id",
    "weekday",
    "start_time",
    "end_time",
    "valid_from",
    "valid_to",
    "starts_at",
    "ends_at",
    "reason",
)
EXCEPTION_LOOKBACK_DAYS = 7
EXCEPTION_AHEAD_DAYS = 365


@dataclass
class SetupData:
    departments: list
    resources: list
    services: list
    links: dict
    exceptions: list


def _read_setup(session, *, actor: Actor) -> SetupData:
    today = _today()
    return SetupData(
        views.list_departments(session, actor=actor, bookable_only=False),
        svc.list_resources(session, actor=actor, include_inactive=True),
        svc.list_services(session, actor=actor, include_inactive=True),
        views.service_links(session, actor=actor),
        svc.list_exceptions(
            session,
            actor=actor,
            start_day=today - timedelta(days=EXCEPTION_LOOKBACK_DAYS),
            end_day=today + timedelta(days=EXCEPTION_AHEAD_DAYS),
        ),
    )


def _checked(form, key: str) -> bool:
    return _form_text(form, key).lower() in ("on", "true", "1", "yes")


def _exception_when(row: svc.ExceptionRow) -> str:
    start, end = to_local(row.starts_at), to_local(row.ends_at)
    if start.time() == end.time() == datetime.min.time():
        last = end.date() - timedelta(days=1)
        return start.strftime("%a %d %b %Y") + (
            "" if last == start.date() else " – " + last.strftime("%a %d %b %Y")
        )
    if start.date() == end.date():
        return f"{start:%a %d %b %Y} {start:%H:%M}–{end:%H:%M}"
    return f"{start:%a %d %b %Y %H:%M} – {end:%a %d %b %Y %H:%M}"


class ScheduleSetupState(SessionState):
    """Resources, services with visit types, weekly templates and exceptions."""

    tab: str = "resources"
    departments: list[Option] = []
    resources: list[ResourceLine] = []
    services: list[ServiceLine] = []
    exceptions: list[ExceptionLine] = []
    loaded: bool = False

    # The edit dialogs (resource, service, visit type): what the form starts with.
    dialog: str = ""
    form: dict[str, str] = {}
    error_field: str = ""
    error_text: str = ""
    saving: bool = False

    # Weekly template of one resource.
    rules_resource_id: str = ""
    rules: list[RuleLine] = []
    rule_form_version: int = 0
    # Exceptions.
    exception_scope: str = "resource"  # resource | department | hospital
    exception_form_version: int = 0
    exception_warning: str = ""

    _editing_id: int = 0
    _pending_exception: dict = {}

    async def _reload(self) -> None:
        data = await self._run(_read_setup)
        names = {d.id: d.name for d in data.departments}
        self.departments = [Option(str(d.id), d.name) for d in data.departments]
        self.resources = [
            ResourceLine(
                r.id,
                r.kind,
                KIND_LABELS.get(r.kind, r.kind),
                r.name,
                str(r.department_id),
                names.get(r.department_id, ""),
                (r.capability or "").upper(),
                r.active,
            )
            for r in sorted(data.resources, key=lambda r: (names.get(r.department_id, ""), r.kind, r.name))
        ]
        self.services = [
            ServiceLine(
                s.id,
                s.code,
                s.name,
                str(s.department_id),
                s.department_name,
                s.self_bookable,
                s.active,
                [
                    TypeLine(
                        t.id,
                        s.id,
                        t.code,
                        t.name,
                        t.duration_minutes,
                        t.mode,
                        t.price_code or "",
                        t.needs_room,
                        t.needs_equipment or "",
                        t.active,
                    )
                    for t in s.visit_types
                ],
                [Option(str(link.resource_id), link.name, link.kind) for link in data.links.get(s.id, [])],
            )
            for s in data.services
        ]
        self.exceptions = [
            ExceptionLine(e.id, e.kind, e.scope, _exception_when(e), e.reason) for e in data.exceptions
        ]
        if self.rules_resource_id and self.rules_resource_id not in {str(r.id) for r in self.resources}:
            self.rules_resource_id, self.rules = "", []
        if not self.rules_resource_id and self.resources:
            self.rules_resource_id = str(self.resources[0].id)
        if self.rules_resource_id:
            await self._reload_rules()
        self.loaded = True

    async def _reload_rules(self) -> None:
        rows = await self._run(svc.list_rules, resource_id=int(self.rules_resource_id))
        self.rules = [
            RuleLine(
                r.id,
                r.weekday,
                WEEKDAYS[r.weekday],
                f"{r.start_time:%H:%M}–{r.end_time:%H:%M}",
                f"from {r.valid_from:%d %b %Y}" + (f" to {r.valid_to:%d %b %Y}" if r.valid_to else ""),
            )
            for r in rows
        ]

    async def _safe_reload(self):
        try:
            await self._reload()
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        return None

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        self.error_text = str(error)
        self.error_field = error.field if error.field in SETUP_FIELDS else ""

    def _clear_errors(self) -> None:
        self.error_field = self.error_text = ""
        self.saving = False

    @rx.event
    @requires("schedule.manage")
    async def load(self):
        self.dialog = ""
        self._clear_errors()
        return await self._safe_reload()

    @rx.event
    @requires("schedule.manage")
    async def set_tab(self, value: str):
        if value not in SETUP_TABS:
            return None
        self.tab = value
        self._clear_errors()
        self.exception_warning, self._pending_exception = "", {}
        return None

    # ------------------------------------------------------------------ the edit dialogs

    @rx.event
    @requires("schedule.manage")
    async def open_resource(self, resource_id: int):
        line = next((r for r in self.resources if r.id == resource_id), None)
        if resource_id and line is None:
            return rx.toast.error("Choose a resource from the list.")
        self._editing_id = resource_id if line else 0
        self.form = (
            {
                "kind": line.kind,
                "name": line.name,
                "department_id": line.department_id,
                "capability": line.capability.lower(),
                "active": "on" if line.active else "",
            }
            if line
            else {"kind": "provider", "name": "", "department_id": "", "capability": "", "active": "on"}
        )
        self.dialog = "resource"
        self._clear_errors()
        return None

    @rx.event
    @requires("schedule.manage")
    async def open_service(self, service_id: int):
        line = next((s for s in self.services if s.id == service_id), None)
        if service_id and line is None:
            return rx.toast.error("Choose a service from the list.")
        self._editing_id = service_id if line else 0
        self.form = (
            {
                "code": line.code,
                "name": line.name,
                "department_id": line.department_id,
                "self_bookable": "on" if line.self_bookable else "",
                "active": "on" if line.active else "",
            }
            if line
            else {"code": "", "name": "", "department_id": "", "self_bookable": "", "active": "on"}
        )
        self.dialog = "service"
        self._clear_errors()
        return None

    @rx.event
    @requires("schedule.manage")
    async def open_type(self, service_id: int, type_id: int):
        service = next((s for s in self.services if s.id == service_id), None)
        if service is None:
            return rx.toast.error("Choose a service from the list.")
        line = next((t for t in service.types if t.id == type_id), None)
        if type_id and line is None:
            return rx.toast.error("Choose a visit type from the list.")
        self._editing_id = type_id if line else 0
        self.form = {
            "service_id": str(service.id),
            "service": service.name,
            "code": line.code if line else "",
            "name": line.name if line else "",
            "duration_minutes": str(line.minutes) if line else "15",
            "mode": line.mode if line else "in_person",
            "price_code": line.price_code if line else "",
            "needs_room": "on" if line and line.needs_room else "",
            "needs_equipment": line.needs_equipment if line else "",
            "active": "on" if (line is None or line.active) else "",
        }
        self.dialog = "type"
        self._clear_errors()
        return None

    @rx.event
    @requires("schedule.manage")
    async def close_dialog(self):
        self.dialog = ""
        self._clear_errors()

    @rx.event
    @requires("schedule.manage")
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self.dialog = ""
            self._clear_errors()

    @rx.event
    @requires("schedule.manage")
    async def save_dialog(self, form: dict):
        if self.dialog not in SETUP_DIALOGS:
            return None
        try:
            if self.dialog == "resource":
                data = {k: _form_text(form, k) for k in ("kind", "name", "department_id", "capability")}
                data["active"] = _checked(form, "active")
                fn, key = svc.save_resource, "resource_id"
            elif self.dialog == "service":
                data = {k: _form_text(form, k) for k in ("code", "name", "department_id")}
                data["self_bookable"], data["active"] = (
                    _checked(form, "self_bookable"),
                    _checked(form, "active"),
                )
                fn, key = svc.save_service, "service_id"
            else:
                data = {
                    k: _form_text(form, k)
                    for k in ("code", "name", "duration_minutes", "mode", "price_code", "needs_equipment")
                }
                data["service_id"] = self.form.get("service_id", "")
                data["needs_room"], data["active"] = _checked(form, "needs_room"), _checked(form, "active")
                fn, key = svc.save_appointment_type, "appointment_type_id"
        except ValidationError as error:
            self._fail(error)
            return None
        self.saving, self.error_field, self.error_text = True, "", ""
        try:
            await self._run(fn, data=data, **{key: self._editing_id or None})
            await self._reload()
        except DomainError as error:
            self._fail(error)
            return None
        what = {"resource": "Resource", "service": "Service", "type": "Visit type"}[self.dialog]
        self.dialog, self.saving = "", False
        return rx.toast.success(f"{what} saved.")

    # ------------------------------------------------------------------ links

    @rx.event
    @requires("schedule.manage")
    async def link(self, service_id: int, resource_id: str):
        return await self._link(service_id, resource_id, True)

    @rx.event
    @requires("schedule.manage")
    async def unlink(self, service_id: int, resource_id: str):
        return await self._link(service_id, resource_id, False)

    async def _link(self, service_id, resource_id, linked: bool):
        service = next((s for s in self.services if s.id == service_id), None)
        if (
            service is None
            or not isinstance(resource_id, str)
            or resource_id not in {str(r.id) for r in self.resources}
        ):
            return rx.toast.error("Choose a service and a resource from the lists.")
        try:
            await self._run(
                svc.link_resource_service, resource_id=int(resource_id), service_id=service.id, linked=linked
            )
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        name = next(r.name for r in self.resources if str(r.id) == resource_id)
        verb = "now offers" if linked else "no longer offers"
        return rx.toast.success(f"{name} {verb} {service.name}.")

    # ------------------------------------------------------------------ weekly templates

    @rx.event
    @requires("schedule.manage")
    async def set_rules_resource(self, value: str):
        if value not in {str(r.id) for r in self.resources}:
            return rx.toast.error("Choose a resource from the list.")
        self.rules_resource_id = value
        self._clear_errors()
        try:
            await self._reload_rules()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("schedule.manage")
    async def add_rule(self, form: dict):
        if not self.rules_resource_id:
            return rx.toast.error("Choose a resource first.")
        try:
            data = {
                k: _form_text(form, k)
                for k in ("weekday", "start_time", "end_time", "valid_from", "valid_to")
            }
        except ValidationError as error:
            self._fail(error)
            return None
        data["resource_id"] = self.rules_resource_id
        try:
            await self._run(svc.add_availability_rule, data=data)
            await self._reload_rules()
        except DomainError as error:
            self._fail(error)
            return None
        self._clear_errors()
        self.rule_form_version += 1
        day = WEEKDAYS[int(data["weekday"])] if data["weekday"].isdigit() and int(data["weekday"]) < 7 else ""
        return rx.toast.success(f"{day} {data['start_time']}–{data['end_time']} added.")

    @rx.event
    @requires("schedule.manage")
    async def delete_rule(self, rule_id: int):
        if rule_id not in {r.id for r in self.rules}:
            return rx.toast.error("Choose a line of the template shown.")
        try:
            await self._run(svc.delete_availability_rule, rule_id=rule_id)
            await self._reload_rules()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success("Template line removed. Booked appointments stay as they are.")

    # ------------------------------------------------------------------ exceptions

    @rx.event
    @requires("schedule.manage")
    async def set_exception_scope(self, value: str):
        if value in ("resource", "department", "hospital"):
            self.exception_scope = value
            self.exception_warning, self._pending_exception = "", {}
            self._clear_errors()

    def _exception_data(self, form) -> dict:
        data = {k: _form_text(form, k) for k in ("kind", "reason", "starts_at", "ends_at")}
        # Checked before the warning about booked visits, so the clerk fixes the form first;
        # the service checks everything again when it records.
        for key, message in (
            ("starts_at", "Enter when the time off starts."),
            ("ends_at", "Enter when the time off ends."),
            ("reason", "Enter the reason (3 to 200 characters)."),
        ):
            if len(data[key]) < (3 if key == "reason" else 1):
                raise ValidationError(message, field=key)
        for key in ("starts_at", "ends_at"):
            if len(data[key]) == 10:  # a date alone: from the start of that day / to the end of that day
                try:
                    day = date.fromisoformat(data[key])
                except ValueError:
                    raise ValidationError("Enter a date and time.", field=key) from None
                data[key] = (day + timedelta(days=1 if key == "ends_at" else 0)).isoformat() + "T00:00"
        if self.exception_scope == "resource":
            data["resource_id"] = _form_text(form, "resource_id")
            if not data["resource_id"]:
                raise ValidationError("Choose the resource.", field="resource_id")
        elif self.exception_scope == "department":
            data["department_id"] = _form_text(form, "department_id")
            if not data["department_id"]:
                raise ValidationError("Choose the department.", field="department_id")
        return data

    @rx.event
    @requires("schedule.manage")
    async def add_exception(self, form: dict):
        try:
            data = self._exception_data(form)
        except ValidationError as error:
            self._fail(error)
            return None
        # Leave over booked visits is allowed, but only once the clerk has seen how many there are.
        if data != self._pending_exception:
            try:
                clashing = await self._run(
                    svc.appointments_during,
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    resource_id=int(data["resource_id"]) if data.get("resource_id", "").isdigit() else None,
                    department_id=int(data["department_id"])
                    if data.get("department_id", "").isdigit()
                    else None,
                )
            except DomainError as error:
                self._fail(error)
                return None
            if clashing:
                self._pending_exception = data
                self.exception_warning = (
                    f"{clashing} booked appointment{'s' if clashing != 1 else ''} fall in this time. They stay "
                    "booked: move or cancel them from the calendar. Press Add again to record the time off."
                )
                self._clear_errors()
                return None
        try:
            await self._run(svc.add_availability_exception, data=data)
            await self._reload()
        except DomainError as error:
            self._fail(error)
            return None
        self._clear_errors()
        self.exception_warning, self._pending_exception = "", {}
        self.exception_form_version += 1
        return rx.toast.success(f"{data['kind'].title()} recorded.")

    @rx.event
    @requires("schedule.manage")
    async def delete_exception(self, exception_id: int):
        if exception_id not in {e.id for e in self.exceptions}:
            return rx.toast.error("Choose an exception from the list.")
        try:
            await self._run(svc.delete_availability_exception, exception_id=exception_id)
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success("Exception removed: the template applies again.")
