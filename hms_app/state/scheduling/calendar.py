"""The staff calendar (/schedule): one day (or one week) of one department's appointments, and the
side panel of the appointment chosen in it (check-in, call, complete, no-show, cancel, move).

The state keeps only what is on screen. Every read and write is one service call; ids the
browser sends back are checked against what it was shown, and the services check permission
and rules again.
"""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

import reflex as rx

from hms_app.clock import format_local, local_today, to_local, utcnow
from hms_app.errors import DomainError, ValidationError
from hms_app.services import live
from hms_app.services.scheduling import booking, flow, waitlist
from hms_app.services.scheduling.calendar import read_calendar, series_visits
from hms_app.services.scheduling.lists import AppointmentRow, get_appointment
from hms_app.services.scheduling.slots import find_free_slots
from hms_app.state.live import live_changes
from hms_app.state.scheduling.appointment_panel import Detail, SeriesLine, SlotLine, detail_of, slot_lines
from hms_app.state.scheduling.common import (
    ANY,
    KIND_LABELS,
    STATUS_COLORS,
    STATUS_LABELS,
    Option,
    form_value,
    parse_day,
)
from hms_app.state.scheduling.layout import (
    GRID_MINUTES,
    WINDOW_START_HOUR,
    Cell,
    Column,
    HourMark,
    build_columns,
    minutes_of,
    px,
    week_of,
)
from hms_app.state.session import SessionState, browser_id, public, requires

VIEWS = ("day", "week")
WATCH_REASON = (
    "subscribes only after live_changes has checked the permission the board needs; reads no data, "
    "and the refresh it triggers is guarded"
)


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
        day = date.fromisoformat(self.day) if self.day else local_today()
        return week_of(day)[0] if self.view == "week" else day

    async def _reload(self) -> None:
        first = self._first_day()
        data = await self._run(
            read_calendar,
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
        today = local_today()
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
        row = await self._run(get_appointment, appointment_id=self.detail.id)
        self._show(row)

    def _show(self, row: AppointmentRow) -> None:
        self.detail = detail_of(row, utcnow())
        self.series = []

    async def _load_series(self) -> None:
        visits = await self._run(series_visits, series_id=self.detail.series) if self.detail.series else []
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
                self.day = parse_day(wanted_day).isoformat()
        if not self.day:
            self.day = local_today().isoformat()
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
        async for _ in live_changes(self, live.APPOINTMENTS, permission="appointment.read"):
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
            self.day = parse_day(value).isoformat()
        except ValidationError as error:
            return rx.toast.error(str(error))
        return await self._safe_reload()

    @rx.event
    @requires("appointment.read")
    async def step(self, direction: int):
        if direction not in (-1, 0, 1):
            return rx.toast.error("Choose the previous or next day.")
        if direction == 0:
            self.day = local_today().isoformat()
        else:
            days = 7 if self.view == "week" else 1
            self.day = (
                date.fromisoformat(self.day or local_today().isoformat()) + timedelta(days=days * direction)
            ).isoformat()
        return await self._safe_reload()

    @rx.event
    @requires("appointment.read")
    async def open_day(self, day: str):
        """From the week view: a day's column header opens that day."""
        try:
            self.day = parse_day(day).isoformat()
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
            row = await self._run(get_appointment, appointment_id=wanted)
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
        return await self._act(flow.check_in, "Checked in: queue token {token}.")

    @rx.event
    @requires("appointment.flow")
    async def call_in(self):
        return await self._act(flow.call_patient, "{reference}: the patient is in the room.")

    @rx.event
    @requires("appointment.flow")
    async def complete(self):
        return await self._act(flow.complete_appointment, "{reference} completed.")

    @rx.event
    @requires("appointment.flow")
    async def no_show(self):
        return await self._act(
            flow.mark_no_show, "{reference} recorded as a no-show; the time is free again."
        )

    @rx.event
    @requires("appointment.book")
    async def accept_offer(self):
        """The patient said yes (on the phone, at the desk) to the time the waitlist offered them."""
        return await self._act(waitlist.accept_offer, "{reference}: the offered time is booked.")

    @rx.event
    @requires("appointment.book")
    async def decline_offer(self):
        return await self._act(
            waitlist.decline_offer, "{reference}: offer declined; the time goes to the next patient."
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
            reason = form_value(form, "reason")
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
                booking.cancel_appointment, appointment_id=self.detail.id, reason=reason
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
            find_free_slots,
            service_id=self.detail.service_id,
            appointment_type_id=self.detail.type_id,
            day=self.move_day,
            resource_id=self.detail.primary_id
            if self.move_same_resource and self.detail.primary_id
            else None,
            limit=80,
        )
        self.move_slots = slot_lines(slots)

    @rx.event
    @requires("appointment.book")
    async def ask_move(self):
        if not self.detail.id:
            return None
        self.panel, self.panel_error = "move", ""
        self.move_day = max(self.detail.day, local_today().isoformat())
        try:
            await self._load_move_slots()
        except DomainError as error:
            self.panel_error, self.move_slots = str(error), []
        return None

    @rx.event
    @requires("appointment.book")
    async def set_move_day(self, value: str):
        try:
            self.move_day = parse_day(value).isoformat()
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
        if wanted < local_today():
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
                booking.reschedule_appointment,
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
