"""The staff board of home readings (/home-readings): patients' home measurements beyond their
alert limits, newest first, paged in SQL; clearing one with a note; and, for one patient, their
readings and the limits that raise the alerts. It follows the live topic "readings": a reading a
patient enters in the portal appears without a reload.

Opening the board is audited (it names patients); a live refresh is not, like the other boards'.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.cds import home_readings as rules
from hms_app.clock import format_local
from hms_app.errors import DomainError, InvalidFields
from hms_app.services.home_readings import (
    LIVE_TOPIC,
    REVIEW,
    AlertBoard,
    AlertLine,
    LimitLine,
    ReadingLine,
    alert_board,
    clear_alert,
    patient_limits,
    readings_page,
    set_limits,
)
from hms_app.services.home_readings.alerts import SHOWS
from hms_app.state.boards.common import WATCH_REASON, now_label, shared_read
from hms_app.state.forms import form_fields, form_text
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, pages_for, public, requires, turn_page

PAGE_SIZE = 15
PATIENT_PAGE_SIZE = 8


def _limits_note() -> str:
    """The default alert limits in words, as the board states them under its table."""
    parts, without = [], []
    for measure in rules.MEASURES.values():
        low, high = measure.default_low, measure.default_high
        if low is not None and high is not None:
            parts.append(f"{measure.label.lower()} {low:g}–{high:g} {measure.unit}")
        elif low is not None:
            parts.append(f"{measure.label.lower()} from {low:g} {measure.unit}")
        elif high is not None:
            parts.append(f"{measure.label.lower()} up to {high:g} {measure.unit}")
        else:
            without.append(measure.label.lower())
    note = (
        "Patients enter these readings themselves in the portal. Without limits of their own, the defaults "
        f"apply: {', '.join(parts)}"
    )
    return note + (f"; no default for {', '.join(without)}." if without else ".")


DEFAULT_LIMITS_NOTE = _limits_note()


@dataclass(frozen=True)
class BoardLine:
    id: int = 0
    patient_id: int = 0
    patient_name: str = ""
    mrn: str = ""
    kind: str = ""
    value_text: str = ""
    crossed: str = ""
    measured: str = ""
    entered: str = ""
    open: bool = True
    cleared: str = ""  # "06 Dec 14:05 by nurse.joy: called, rechecked 128/82"


def board_line(line: AlertLine) -> BoardLine:
    cleared = ""
    if line.status == "cleared":
        cleared = (
            f"{format_local(line.cleared_at, '%d %b %H:%M')} by {line.cleared_by}: {line.cleared_note or ''}"
        )
    return BoardLine(
        id=line.reading_id,
        patient_id=line.patient_id,
        patient_name=line.patient_name,
        mrn=line.mrn,
        kind=line.kind_label,
        value_text=line.values,
        crossed=line.crossed,
        measured=format_local(line.measured_at, "%d %b %H:%M"),
        entered=format_local(line.entered_at, "%d %b %H:%M"),
        open=line.status == "open",
        cleared=cleared,
    )


def _board_lines(board: AlertBoard) -> tuple[list[BoardLine], int, int, int]:
    return [board_line(line) for line in board.rows], board.total, board.open_count, board.patients_open


class ReadingsBoardState(SessionState):
    show: str = "open"
    rows: list[BoardLine] = []
    total: int = 0
    open_count: int = 0
    patients_open: int = 0
    page: int = 1
    page_count: int = 1
    loaded: bool = False
    version: int = 0
    updated_at: str = ""
    # The clear dialog
    clearing_id: int = 0
    clearing_label: str = ""
    clear_error: str = ""
    clearing: bool = False

    _opened: bool = False

    def _take(self, answer: tuple[list[BoardLine], int, int, int]) -> None:
        self.rows, self.total, self.open_count, self.patients_open = answer
        self.page_count = pages_for(self.total, PAGE_SIZE)
        self.loaded, self._opened = True, True
        self.version += 1
        self.updated_at = now_label()

    async def _reload(self, *, shared: bool = False):
        try:
            if shared:
                answer = await shared_read(
                    ("home-readings", self.show, self.page),
                    alert_board,
                    build=_board_lines,
                    actor=self.acting(),
                    show=self.show,
                    page=self.page,
                    page_size=PAGE_SIZE,
                    audit=False,
                )
            else:
                board = await self._read(alert_board, show=self.show, page=self.page, page_size=PAGE_SIZE)
                answer = _board_lines(board)
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        self._take(answer)
        if self.page > self.page_count:  # the last row of the last page was cleared
            self.page = self.page_count
            return await self._reload(shared=shared)
        return None

    @rx.event
    @requires(REVIEW)
    async def load(self):
        self.page, self.clearing_id = 1, 0
        return await self._reload()

    @rx.event
    @requires(REVIEW)
    async def refresh(self):
        if not self._opened:
            return None
        return await self._reload(shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, LIVE_TOPIC, permission=REVIEW):
            yield ReadingsBoardState.refresh

    @rx.event
    @requires(REVIEW)
    async def set_show(self, show: str | list[str]):
        if not isinstance(show, str) or show not in SHOWS:
            return rx.toast.error("Choose open or cleared alerts.")
        self.show, self.page = show, 1
        return await self._reload()

    @rx.event
    @requires(REVIEW)
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload)

    @rx.event
    @requires(REVIEW)
    async def start_clear(self, reading_id: int):
        try:
            wanted = browser_id(reading_id, "reading")
        except DomainError as error:
            return rx.toast.error(str(error))
        line = next((row for row in self.rows if row.id == wanted and row.open), None)
        if line is None:
            return rx.toast.error("That alert is no longer open.")
        self.clearing_id, self.clear_error = line.id, ""
        self.clearing_label = f"{line.patient_name} · {line.kind} {line.value_text}"
        return None

    @rx.event
    @requires(REVIEW)
    async def cancel_clear(self):
        self.clearing_id, self.clear_error = 0, ""

    @rx.event
    @requires(REVIEW)
    async def clear_dialog_change(self, is_open: bool):
        if is_open is not True:
            self.clearing_id, self.clear_error = 0, ""

    @rx.event
    @requires(REVIEW)
    async def clear(self, form: dict):
        if not self.clearing_id:
            return
        try:
            note = form_text(form, "note", limit=1000, label="note")
        except DomainError as error:
            self.clear_error = str(error)
            return
        self.clearing, self.clear_error = True, ""
        yield
        try:
            await self._run(clear_alert, reading_id=self.clearing_id, note=note)
        except DomainError as error:
            self.clearing, self.clear_error = False, str(error)
            return
        self.clearing, self.clearing_id = False, 0
        yield rx.toast.success("Alert cleared.", id="reading-cleared")
        yield await self._reload()


@dataclass(frozen=True)
class PatientReadingLine:
    id: int = 0
    when: str = ""
    kind: str = ""
    value_text: str = ""
    entered_as: str = ""
    alert: str = ""  # open | cleared | ""
    crossed: str = ""


@dataclass(frozen=True)
class LimitRow:
    measure: str = ""
    label: str = ""
    unit: str = ""
    low: str = ""
    high: str = ""
    source: str = ""  # "default" or "set by nurse.joy 06 Dec"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def limit_row(line: LimitLine) -> LimitRow:
    source = "default" if line.is_default else f"{line.set_by}, {format_local(line.set_at, '%d %b %Y')}"
    return LimitRow(line.measure, line.label, line.unit, _number(line.low), _number(line.high), source)


def patient_line(line: ReadingLine) -> PatientReadingLine:
    return PatientReadingLine(
        id=line.id,
        when=format_local(line.measured_at, "%d %b %Y %H:%M"),
        kind=line.kind_label,
        value_text=line.values,
        entered_as=line.entered_text,
        alert=line.alert_status,
        crossed=line.alert_text,
    )


class ReadingsPatientState(SessionState):
    """One patient's home readings and alert limits, opened from a row of the board."""

    patient_id: int = 0
    patient_name: str = ""
    mrn: str = ""
    rows: list[PatientReadingLine] = []
    total: int = 0
    page: int = 1
    page_count: int = 1
    limits: list[LimitRow] = []
    limit_errors: dict[str, str] = {}
    limits_key: int = 0
    saving: bool = False

    async def _reload(self):
        try:
            answer = await self._run(
                readings_page, patient_id=self.patient_id, page=self.page, page_size=PATIENT_PAGE_SIZE
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        self.patient_name, self.mrn = answer.patient_name, answer.mrn
        self.rows = [patient_line(line) for line in answer.rows]
        self.total, self.page_count = answer.total, pages_for(answer.total, PATIENT_PAGE_SIZE)
        return None

    async def _load_limits(self):
        try:
            lines = await self._run(patient_limits, patient_id=self.patient_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.limits = [limit_row(line) for line in lines]
        self.limits_key += 1  # the form's boxes show the limits just read
        return None

    @rx.event
    @requires(REVIEW)
    async def open_patient(self, patient_id: int):
        try:
            self.patient_id = browser_id(patient_id, "patient")
        except DomainError as error:
            return rx.toast.error(str(error))
        self.page, self.limit_errors = 1, {}
        failed = await self._reload()
        if failed is not None:
            self.patient_id = 0
            return failed
        return await self._load_limits()

    @rx.event
    @requires(REVIEW)
    async def close_patient(self):
        self.patient_id, self.rows, self.limits, self.limit_errors = 0, [], [], {}

    @rx.event
    @requires(REVIEW)
    async def move(self, step: int):
        if not self.patient_id:
            return None
        return await turn_page(self, "page", step, self.page_count, self._reload)

    @rx.event
    @requires(REVIEW)
    async def save_limits(self, form: dict):
        if not self.patient_id:
            return
        names = tuple(f"{row.measure}_{side}" for row in self.limits for side in ("low", "high"))
        self.limit_errors = {}
        try:
            fields = form_fields(form, (*names, "reason"), limit=300)
        except DomainError as error:
            self.limit_errors = {error.field or "": str(error)}
            return
        reason = fields.pop("reason")
        self.saving = True
        yield
        try:
            changed = await self._run(set_limits, patient_id=self.patient_id, limits=fields, reason=reason)
        except InvalidFields as errors:
            self.saving, self.limit_errors = False, dict(errors.errors)
            return
        except DomainError as error:
            self.saving, self.limit_errors = False, {error.field or "": str(error)}
            return
        self.saving = False
        yield rx.toast.success(f"Alert limits saved ({', '.join(changed)}).", id="limits-saved")
        yield await self._load_limits()
