"""The live boards: the ward bed board (/wards), the clinic flow board (/boards/flow) and the
waiting-room screen (/boards/waiting).

Each board keeps only what is on screen and reloads it through its own guarded ``refresh``
when a change notice arrives (``live_changes``): no browser polls the database. ``version``
counts the reloads; the page puts it on the board as ``data-version`` so that browser tests and
the benchmark can see a board change without guessing at its text.

Ids the browser sends back (a bed, a patient in a search result, a ward tab) are looked up in
what this tab was shown; the services check permission and rules again.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime

import reflex as rx

from hms_app.clock import format_local, to_local, utcnow
from hms_app.errors import DomainError, ValidationError
from hms_app.models.wards import DISCHARGE_DISPOSITIONS
from hms_app.services import boards as board_svc
from hms_app.services import live
from hms_app.services import patients as patient_svc
from hms_app.services import scheduling as scheduling_svc
from hms_app.services import wards as ward_svc
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, call_service_read, public, requires, shared_task

FORM_LIMIT = 300
MAX_QUERY = 100
PATIENT_OPTIONS = 8
WATCH_REASON = "only waits for change notices and reads no data; the refresh it triggers is guarded"


def _form_text(form: dict, key: str, limit: int = FORM_LIMIT) -> str:
    value = form.get(key, "") if isinstance(form, dict) else ""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("This value could not be read; enter it again.", field=key)
    if len(value) > limit:
        raise ValidationError(f"Keep this under {limit} characters.", field=key)
    return value


def _clock(moment: datetime | None) -> str:
    return format_local(moment, "%H:%M") if moment else ""


def _since(moment: datetime | None) -> str:
    """'since 14:20' today, 'since 12 Mar 14:20' on an earlier day."""
    if moment is None:
        return ""
    local, today = to_local(moment), to_local(utcnow()).date()
    return "since " + (local.strftime("%H:%M") if local.date() == today else local.strftime("%d %b %H:%M"))


def _now_label() -> str:
    return format_local(utcnow(), "%H:%M:%S")


# One read per change per worker. When a notice wakes the boards open on a worker, every board
# that shows the same thing (a ward, a department) shares one read instead of each querying the
# database: the read is keyed by what it shows and by how many notices this worker had heard when
# it started, so a later notice makes the next refresh read again. Only live refreshes share;
# opening a board (audited) and a writer's own reload after its change always read fresh. The
# guard has already checked each tab's permission before it asks; the rows are the same for all.
# The read runs on a read-only session: on SQLite it never takes the write lock, so a hundred
# refreshes never queue behind (or ahead of) a nurse's admission.
SHARED_READ_MAX_AGE_S = 5.0
_shared_reads: dict[tuple, tuple[float, int, asyncio.Task]] = {}


async def shared_read(key: tuple, fn, /, **kwargs):
    """``fn(session, **kwargs)`` on a read-only session, shared with the other refreshes of ``key``
    since this worker's last notice."""
    _, result = await shared_task(
        _shared_reads,
        key,
        lambda: call_service_read(fn, **kwargs),
        max_age=SHARED_READ_MAX_AGE_S,
        tag=live.hub().delivered,
    )
    return result


# ====================================================================== ward bed board


@dataclass(frozen=True)
class WardTab:
    id: int = 0
    name: str = ""
    occupied: int = 0
    beds: int = 0
    occupancy: int = 0


@dataclass(frozen=True)
class BedCard:
    id: int = 0
    label: str = ""
    status: str = "free"
    status_label: str = ""
    since: str = ""
    note: str = ""
    patient_id: int = 0
    patient_name: str = ""
    mrn: str = ""
    age_sex: str = ""
    reason: str = ""
    admitted: str = ""
    los: str = ""
    long_stay: bool = False  # a week or more: the ward round looks at these first


@dataclass
class PatientOption:
    id: int = 0
    mrn: str = ""
    name: str = ""
    birth_date: str = ""


@dataclass
class BedOption:
    id: str = ""
    label: str = ""


@dataclass
class DispositionOption:
    code: str = ""
    label: str = ""


LONG_STAY_HOURS = 7 * 24
DISPOSITION_OPTIONS = [DispositionOption(code, label) for code, label in DISCHARGE_DISPOSITIONS.items()]
BED_DIALOG_FIELDS = ("reason", "bed_id", "disposition", "patient")


def _stay(hours: int) -> str:
    """The length of stay as a card shows it: a narrow card wraps "3 d / 4 h", never "3 d 4 / h"."""
    return re.sub(r"(\d) ([dh])\b", "\\1\u00a0\\2", ward_svc.length_of_stay_label(hours))


def _card(tile: ward_svc.BedTile) -> BedCard:
    patient = {}
    if tile.patient_id is not None:
        patient = {
            "patient_id": tile.patient_id,
            "patient_name": tile.patient_name,
            "mrn": tile.mrn,
            "age_sex": f"{tile.age} {tile.sex[:1].upper()}" if tile.age is not None else "",
            "reason": tile.reason,
            "admitted": format_local(tile.admitted_at, "%d %b %H:%M"),
            "los": _stay(tile.los_hours),
            "long_stay": tile.los_hours >= LONG_STAY_HOURS,
        }
    return BedCard(
        id=tile.id,
        label=tile.label,
        status=tile.status,
        status_label=ward_svc.BED_LABELS.get(tile.status, tile.status),
        since=_since(tile.status_since),
        note=tile.status_note,
        **patient,
    )


@dataclass(frozen=True)
class _WardView:
    """One ward's board as the screen shows it; built once per change and shared by its boards
    (which is why the cards and tabs are frozen: no tab can change another's)."""

    tabs: tuple[WardTab, ...]
    board: ward_svc.BedBoard
    cards: tuple[BedCard, ...]
    average_stay: str


def _ward_view(wards: list[ward_svc.WardSummary], board: ward_svc.BedBoard) -> _WardView:
    return _WardView(
        tabs=tuple(WardTab(w.id, w.name, w.occupied, w.beds, w.occupancy_percent) for w in wards),
        board=board,
        cards=tuple(_card(tile) for tile in board.beds),
        average_stay=_stay(board.average_los_hours) if board.ward.occupied else "–",
    )


def _ward_screen(session, *, actor, ward_id: int) -> _WardView:
    """The ward tabs and one ward's board, in one session: what a live refresh shows."""
    return _ward_view(
        ward_svc.list_wards(session, actor=actor),
        ward_svc.bed_board(session, actor=actor, ward_id=ward_id, audit=False),
    )


class BedBoardState(SessionState):
    """The ward bed board: one ward's beds, its figures, and the admit/transfer/discharge dialogs."""

    wards: list[WardTab] = []
    ward_id: int = 0
    ward_name: str = ""
    beds: list[BedCard] = []
    occupied: int = 0
    free: int = 0
    cleaning: int = 0
    out_of_service: int = 0
    occupancy: int = 0
    average_stay: str = ""
    admitted_today: int = 0
    discharged_today: int = 0
    loaded: bool = False
    problem: str = ""
    version: int = 0
    updated_at: str = ""

    dialog: str = ""  # "" | admit | transfer | discharge | out_of_service
    dialog_bed: str = ""
    dialog_patient: str = ""
    dialog_error: str = ""
    dialog_error_field: str = ""
    saving: bool = False
    patient_query: str = ""
    patient_options: list[PatientOption] = []
    chosen_patient_id: int = 0
    chosen_patient: str = ""
    bed_options: list[BedOption] = []
    disposition_options: list[DispositionOption] = DISPOSITION_OPTIONS

    # Kept on the server: what the open dialog acts on, and the ward this tab has opened (audited).
    _bed_id: int = 0
    _opened_ward_id: int = 0

    async def _reload(self, *, audit: bool, shared: bool = False):
        try:
            if shared:
                view = await shared_read(
                    ("ward", self.ward_id), _ward_screen, actor=self.acting(), ward_id=self.ward_id
                )
                return self._show(view)
            wards = await self._run(ward_svc.list_wards)
            self.wards = [WardTab(w.id, w.name, w.occupied, w.beds, w.occupancy_percent) for w in wards]
            if not self.wards:
                self.loaded, self.problem, self.beds = True, "No wards are set up yet.", []
                return None
            if self.ward_id not in {w.id for w in self.wards}:
                self.ward_id = self.wards[0].id
            board = await self._run(ward_svc.bed_board, ward_id=self.ward_id, audit=audit)
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        return self._show(_ward_view(wards, board))

    def _show(self, view: _WardView):
        # The cards may be shared with other tabs' boards: they are replaced, never changed in place.
        board, ward = view.board, view.board.ward
        self.wards = list(view.tabs)
        self._opened_ward_id = self.ward_id
        self.ward_name = ward.name
        self.beds = list(view.cards)
        self.occupied, self.free, self.cleaning = ward.occupied, ward.free, ward.cleaning
        self.out_of_service, self.occupancy = ward.out_of_service, ward.occupancy_percent
        self.average_stay = view.average_stay
        self.admitted_today, self.discharged_today = board.admitted_today, board.discharged_today
        self.loaded, self.problem = True, ""
        self.version += 1
        self.updated_at = _now_label()
        return None

    @rx.event
    @requires("patient.read")
    async def load(self):
        """Open the board (audited): the ward named in ?ward=, else the one shown last, else the first."""
        self._close()
        wanted = self.router.url.query_parameters.get("ward", "") if self.router else ""
        if isinstance(wanted, str) and wanted.isdigit() and len(wanted) < 10:
            self.ward_id = int(wanted)
        return await self._reload(audit=True)

    @rx.event
    @requires("patient.read")
    async def refresh(self):
        """Reload the ward this tab already opened (a live change); not audited again."""
        if not self._opened_ward_id:
            return None
        self.ward_id = self._opened_ward_id
        return await self._reload(audit=False, shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, live.BEDS):
            yield BedBoardState.refresh

    @rx.event
    @requires("patient.read")
    async def select_ward(self, ward_id: str):
        try:
            wanted = browser_id(ward_id, "ward")
        except ValidationError as error:
            return rx.toast.error(str(error))
        if wanted not in {w.id for w in self.wards}:
            return rx.toast.error("Choose a ward from the tabs.")
        self._close()
        self.ward_id = wanted
        return await self._reload(audit=True)

    # ------------------------------------------------------------------ dialogs

    def _close(self) -> None:
        self.dialog = self.dialog_bed = self.dialog_patient = ""
        self.dialog_error = self.dialog_error_field = ""
        self.saving = False
        self.patient_query, self.patient_options = "", []
        self.chosen_patient_id, self.chosen_patient = 0, ""
        self.bed_options = []
        self._bed_id = 0

    def _dialog_fail(self, error: DomainError) -> None:
        self.saving = False
        self.dialog_error = str(error)
        self.dialog_error_field = error.field if error.field in BED_DIALOG_FIELDS else ""

    def _shown_bed(self, bed_id, status: str | tuple[str, ...]) -> BedCard:
        wanted = browser_id(bed_id, "bed")
        statuses = (status,) if isinstance(status, str) else status
        for card in self.beds:
            if card.id == wanted:
                if card.status not in statuses:
                    raise ValidationError(f"Bed {card.label} is {card.status_label.lower()} now.")
                return card
        raise ValidationError("Choose a bed on the board.")

    async def _done(self, message: str):
        self._close()
        problem = await self._reload(audit=False)
        return problem or rx.toast.success(message)

    @rx.event
    @requires("ward.manage")
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self._close()

    @rx.event
    @requires("ward.manage")
    async def close_dialog(self):
        self._close()

    @rx.event
    @requires("ward.manage")
    async def open_admit(self, bed_id: str):
        try:
            card = self._shown_bed(bed_id, "free")
        except ValidationError as error:
            return rx.toast.error(str(error))
        self._close()
        self.dialog, self.dialog_bed, self._bed_id = "admit", f"{self.ward_name} · bed {card.label}", card.id
        return None

    @rx.event
    @requires("ward.manage")
    async def search_admit_patient(self, value: str):
        if self.dialog != "admit":
            return None
        if not isinstance(value, str) or len(value) > MAX_QUERY:
            return rx.toast.error(f"Search for at most {MAX_QUERY} characters.")
        self.patient_query = value
        if len(value.strip()) < 2:
            self.patient_options = []
            return None
        try:
            rows = await self._run(patient_svc.find_living, query=value, limit=PATIENT_OPTIONS)
        except DomainError as error:
            self._dialog_fail(error)
            return None
        self.patient_options = [PatientOption(r.id, r.mrn, r.name, r.birth_date.isoformat()) for r in rows]
        return None

    @rx.event
    @requires("ward.manage")
    async def choose_patient(self, patient_id: str):
        try:
            wanted = browser_id(patient_id, "patient")
        except ValidationError as error:
            return rx.toast.error(str(error))
        for option in self.patient_options:
            if option.id == wanted:
                self.chosen_patient_id, self.chosen_patient = option.id, f"{option.name} · {option.mrn}"
                self.dialog_error = self.dialog_error_field = ""
                return None
        return rx.toast.error("Choose a patient from the search results.")

    @rx.event
    @requires("ward.manage")
    async def clear_chosen_patient(self):
        self.chosen_patient_id, self.chosen_patient = 0, ""

    @rx.event
    @requires("ward.manage")
    async def submit_admit(self, form: dict):
        if self.dialog != "admit" or not self._bed_id:
            self._close()
            return None
        if not self.chosen_patient_id:
            self._dialog_fail(ValidationError("Find and choose the patient to admit.", field="patient"))
            return None
        self.saving = True
        try:
            reason = _form_text(form, "reason")
            await self._run(
                ward_svc.admit_patient, patient_id=self.chosen_patient_id, bed_id=self._bed_id, reason=reason
            )
        except DomainError as error:
            self._dialog_fail(error)
            return None
        return await self._done(f"{self.chosen_patient.split(' · ')[0]} admitted to {self.dialog_bed}.")

    @rx.event
    @requires("ward.manage")
    async def open_transfer(self, bed_id: str):
        try:
            card = self._shown_bed(bed_id, "occupied")
            free = await self._run(ward_svc.free_beds)
        except DomainError as error:
            return rx.toast.error(str(error))
        self._close()
        self.dialog, self._bed_id = "transfer", card.id
        self.dialog_bed, self.dialog_patient = f"{self.ward_name} · bed {card.label}", card.patient_name
        self.bed_options = [BedOption(str(b.id), f"{b.ward} · {b.label}") for b in free]
        return None

    async def _admission_in(self, bed_id: int) -> int:
        """The admission in a bed of this ward, read from the board (not from the browser)."""
        board = await self._run(ward_svc.bed_board, ward_id=self._opened_ward_id, audit=False)
        for tile in board.beds:
            if tile.id == bed_id and tile.admission_id:
                return tile.admission_id
        raise ValidationError("The patient is no longer in this bed. The board shows it now.")

    @rx.event
    @requires("ward.manage")
    async def submit_transfer(self, form: dict):
        if self.dialog != "transfer" or not self._bed_id:
            self._close()
            return None
        self.saving = True
        try:
            target = _form_text(form, "bed_id", 20)
            if target not in {option.id for option in self.bed_options}:
                raise ValidationError("Choose the bed to move the patient to.", field="bed_id")
            admission_id = await self._admission_in(self._bed_id)
            await self._run(
                ward_svc.transfer_patient,
                admission_id=admission_id,
                bed_id=int(target),
                reason=_form_text(form, "reason"),
            )
        except DomainError as error:
            self._dialog_fail(error)
            return None
        label = next(o.label for o in self.bed_options if o.id == target)
        return await self._done(f"{self.dialog_patient} moved to {label}.")

    @rx.event
    @requires("ward.manage")
    async def open_discharge(self, bed_id: str):
        try:
            card = self._shown_bed(bed_id, "occupied")
        except ValidationError as error:
            return rx.toast.error(str(error))
        self._close()
        self.dialog, self._bed_id = "discharge", card.id
        self.dialog_bed, self.dialog_patient = f"{self.ward_name} · bed {card.label}", card.patient_name
        return None

    @rx.event
    @requires("ward.manage")
    async def submit_discharge(self, form: dict):
        if self.dialog != "discharge" or not self._bed_id:
            self._close()
            return None
        self.saving = True
        try:
            disposition = _form_text(form, "disposition", 20)
            admission_id = await self._admission_in(self._bed_id)
            await self._run(
                ward_svc.discharge_patient,
                admission_id=admission_id,
                disposition=disposition,
                note=_form_text(form, "note"),
            )
        except DomainError as error:
            self._dialog_fail(error)
            return None
        return await self._done(f"{self.dialog_patient} discharged; the bed is to be cleaned.")

    @rx.event
    @requires("ward.manage")
    async def mark_clean(self, bed_id: str):
        try:
            card = self._shown_bed(bed_id, "cleaning")
            await self._run(ward_svc.mark_bed_clean, bed_id=card.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done(f"Bed {card.label} is clean and free.")

    @rx.event
    @requires("ward.manage")
    async def open_out_of_service(self, bed_id: str):
        try:
            card = self._shown_bed(bed_id, ("free", "cleaning"))
        except ValidationError as error:
            return rx.toast.error(str(error))
        self._close()
        self.dialog, self._bed_id = "out_of_service", card.id
        self.dialog_bed = f"{self.ward_name} · bed {card.label}"
        return None

    @rx.event
    @requires("ward.manage")
    async def submit_out_of_service(self, form: dict):
        if self.dialog != "out_of_service" or not self._bed_id:
            self._close()
            return None
        self.saving = True
        try:
            await self._run(
                ward_svc.set_bed_out_of_service, bed_id=self._bed_id, reason=_form_text(form, "reason")
            )
        except DomainError as error:
            self._dialog_fail(error)
            return None
        return await self._done(f"{self.dialog_bed} is out of service.")

    @rx.event
    @requires("ward.manage")
    async def return_to_service(self, bed_id: str):
        try:
            card = self._shown_bed(bed_id, "out_of_service")
            await self._run(ward_svc.return_bed_to_service, bed_id=card.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done(f"Bed {card.label} is back in service; clean it before the next patient.")


# ====================================================================== clinic flow board


@dataclass(frozen=True)
class DepartmentChoice:
    id: str = ""
    label: str = ""


@dataclass(frozen=True)
class FlowCardView:
    id: int = 0
    token: str = ""
    time: str = ""
    patient: str = ""
    provider: str = ""
    service: str = ""
    department: str = ""
    status: str = ""
    waited: str = ""  # "waiting 12 min", "in room 8 min", "done 10:42"
    late: bool = False


@dataclass(frozen=True)
class FlowColumn:
    status: str = ""
    title: str = ""
    count: int = 0
    cards: list[FlowCardView] = field(default_factory=list)


@dataclass(frozen=True)
class CountRow:
    department_id: int = 0
    department: str = ""
    booked: int = 0
    arrived: int = 0
    in_room: int = 0
    completed: int = 0
    no_show: int = 0
    cancelled: int = 0
    total: int = 0


LATE_MINUTES = 10


def _flow_card(card: board_svc.FlowCard, now: datetime) -> FlowCardView:
    minutes = int((now - card.since).total_seconds() // 60) if card.since else 0
    waited = {
        "arrived": f"waiting {max(0, minutes)} min",
        "in_room": f"in room {max(0, minutes)} min",
        "completed": f"done {_clock(card.since)}",
    }.get(card.status, "")
    late = card.status == "booked" and (now - card.start_at).total_seconds() > LATE_MINUTES * 60
    return FlowCardView(
        card.id,
        card.token,
        _clock(card.start_at),
        card.patient,
        card.provider,
        card.service,
        card.department,
        card.status,
        waited,
        late,
    )


@dataclass(frozen=True)
class _FlowView:
    """The flow board as the screen shows it; built once per change and shared by its boards."""

    departments: tuple[DepartmentChoice, ...]
    rows: tuple[CountRow, ...]
    columns: tuple[FlowColumn, ...]
    counts: dict[str, int]
    day: str


def _flow_view(options: list, board: board_svc.FlowBoard) -> _FlowView:
    now = utcnow()
    return _FlowView(
        departments=(
            DepartmentChoice("all", "All departments"),
            *(DepartmentChoice(str(o.id), f"{o.name} ({o.today})") for o in options),
        ),
        rows=tuple(
            CountRow(
                d.department_id, d.department, *(d.counts.get(s, 0) for s in board_svc.FLOW_STATUSES), d.total
            )
            for d in board.departments
        ),
        columns=tuple(
            FlowColumn(
                status,
                board_svc.STATUS_LABELS[status],
                board.counts.get(status, 0),
                [_flow_card(card, now) for card in board.columns.get(status, [])],
            )
            for status in board_svc.FLOW_COLUMNS
        ),
        counts=dict(board.counts),
        day=board.day.strftime("%A %d %B %Y"),
    )


def _flow_screen(session, *, actor, department_id: int | None) -> _FlowView:
    """The department filter's options and the flow board, in one session (a live refresh)."""
    return _flow_view(
        board_svc.board_departments(session, actor=actor),
        board_svc.flow_board(session, actor=actor, department_id=department_id, audit=False),
    )


class FlowBoardState(SessionState):
    """Today's appointments by status: one column per step of the visit, counts per department."""

    department: str = ""  # "" = every department; else a department id
    departments: list[DepartmentChoice] = []
    rows: list[CountRow] = []
    columns: list[FlowColumn] = []
    no_show: int = 0
    cancelled: int = 0
    total: int = 0
    day: str = ""
    loaded: bool = False
    version: int = 0
    updated_at: str = ""

    _opened: bool = False

    async def _reload(self, *, audit: bool, shared: bool = False):
        department_id = int(self.department) if self.department else None
        try:
            if shared:
                view = await shared_read(
                    ("flow", department_id), _flow_screen, actor=self.acting(), department_id=department_id
                )
            else:
                view = _flow_view(
                    await self._run(board_svc.board_departments),
                    await self._run(board_svc.flow_board, department_id=department_id, audit=audit),
                )
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        # The rows and cards may be shared with other tabs' boards: replaced, never changed in place.
        self._opened = True
        self.departments, self.rows, self.columns = (
            list(view.departments),
            list(view.rows),
            list(view.columns),
        )
        self.no_show, self.cancelled = view.counts.get("no_show", 0), view.counts.get("cancelled", 0)
        self.total = sum(n for s, n in view.counts.items() if s != "cancelled")
        self.day = view.day
        self.loaded = True
        self.version += 1
        self.updated_at = _now_label()
        return None

    @rx.event
    @requires("appointment.read")
    async def load(self):
        wanted = self.router.url.query_parameters.get("department", "") if self.router else ""
        if isinstance(wanted, str) and wanted.isdigit() and len(wanted) < 10:
            self.department = wanted
        return await self._reload(audit=True)

    @rx.event
    @requires("appointment.read")
    async def refresh(self):
        if not self._opened:
            return None
        return await self._reload(audit=False, shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        # No key: the department filter can change while the board is open; refresh reads it.
        async for _ in live_changes(self, live.APPOINTMENTS):
            yield FlowBoardState.refresh

    @rx.event
    @requires("appointment.read")
    async def set_department(self, value: str):
        if value in ("", "all"):
            self.department = ""
        else:
            try:
                self.department = str(browser_id(value, "department"))
            except ValidationError as error:
                return rx.toast.error(str(error))
        return await self._reload(audit=True)

    # ------------------------------------------------------------------ moving a patient on

    def _shown_card(self, appointment_id, status: str) -> FlowCardView:
        wanted = browser_id(appointment_id, "appointment")
        for column in self.columns:
            for card in column.cards:
                if card.id == wanted:
                    if card.status != status:
                        raise ValidationError(
                            "This appointment has moved on; the board shows where it is now."
                        )
                    return card
        raise ValidationError("Choose an appointment on the board.")

    async def _advance(self, appointment_id, status: str, service, message: str):
        try:
            card = self._shown_card(appointment_id, status)
            appointment = await self._run(service, appointment_id=card.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        token = getattr(appointment, "queue_token", None) or card.token
        problem = await self._reload(audit=False)
        return problem or rx.toast.success(message.format(patient=card.patient, token=token))

    @rx.event
    @requires("appointment.flow")
    async def check_in(self, appointment_id: str):
        return await self._advance(
            appointment_id, "booked", scheduling_svc.check_in, "{patient} checked in: token {token}."
        )

    @rx.event
    @requires("appointment.flow")
    async def call_in(self, appointment_id: str):
        return await self._advance(
            appointment_id, "arrived", scheduling_svc.call_patient, "{token} called in."
        )

    @rx.event
    @requires("appointment.flow")
    async def complete(self, appointment_id: str):
        return await self._advance(
            appointment_id, "in_room", scheduling_svc.complete_appointment, "{patient}'s visit is complete."
        )

    @rx.event
    @requires("appointment.flow")
    async def mark_no_show(self, appointment_id: str):
        return await self._advance(
            appointment_id, "booked", scheduling_svc.mark_no_show, "{patient} marked as not attended."
        )


# ====================================================================== waiting-room screen


@dataclass
class CalledView:
    token: str = ""
    where: str = ""
    at: str = ""


@dataclass
class WaitingView:
    token: str = ""
    initials: str = ""
    position: int = 0
    wait: str = ""


def wait_label(minutes: int) -> str:
    """What a TV says about a wait: 'under 5 min', else rounded up to 5 minutes."""
    if minutes < 5:
        return "under 5 min"
    return f"about {-(-minutes // 5) * 5} min"


class WaitingRoomState(SessionState):
    """The public waiting-room screen of one department: tokens and initials only."""

    department_id: int = 0
    department: str = ""
    calling: list[CalledView] = []
    waiting: list[WaitingView] = []
    waiting_total: int = 0
    service_minutes: int = 0
    sample_size: int = 0
    problem: str = ""
    loaded: bool = False
    version: int = 0
    updated_at: str = ""
    choices: list[DepartmentChoice] = []

    async def _reload(self, *, shared: bool = False):
        if not self.department_id:
            options = await self._run(board_svc.board_departments)
            self.choices = [DepartmentChoice(str(o.id), o.name) for o in options]
            self.loaded, self.problem = True, "Choose the department this screen shows."
            return None
        try:
            if shared:
                room = await shared_read(
                    ("waiting", self.department_id),
                    board_svc.waiting_room,
                    actor=self.acting(),
                    department_id=self.department_id,
                )
            else:
                room = await self._run(board_svc.waiting_room, department_id=self.department_id)
        except DomainError as error:
            self.department_id = 0  # an address naming no department: offer the list instead
            await self._reload()
            self.problem = f"{error} Choose the department this screen shows."
            return None
        self.department = room.department
        self.calling = [CalledView(c.token, c.where, _clock(c.called_at)) for c in room.calling]
        self.waiting = [
            WaitingView(w.token, w.initials, w.position, wait_label(w.predicted_minutes))
            for w in room.waiting
        ]
        self.waiting_total, self.service_minutes, self.sample_size = (
            room.waiting_total,
            room.service_minutes,
            room.sample_size,
        )
        self.loaded, self.problem = True, ""
        self.version += 1
        self.updated_at = _now_label()
        return None

    @rx.event
    @requires("appointment.read")
    async def load(self):
        wanted = self.router.url.query_parameters.get("department", "") if self.router else ""
        try:
            self.department_id = browser_id(wanted, "department") if wanted else 0
        except ValidationError:
            self.department_id = 0
        return await self._reload()

    @rx.event
    @requires("appointment.read")
    async def refresh(self):
        return await self._reload(shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async with self:
            department_id = self.department_id
        # The department is fixed by the address for the life of the screen: follow only it.
        async for _ in live_changes(self, live.QUEUE, [department_id or None]):
            yield WaitingRoomState.refresh
