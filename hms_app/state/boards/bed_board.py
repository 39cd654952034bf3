"""The ward bed board (/wards): one ward's beds, its figures, and the admit, transfer, discharge
and out-of-service dialogs.

The board keeps only what is on screen and reloads it through its own guarded ``refresh`` when a
change notice arrives (``live_changes``): no browser polls the database. ``version`` counts the
reloads; the page puts it on the board as ``data-version`` so that browser tests and the
benchmark can see a board change without guessing at its text.

Ids the browser sends back (a bed, a patient in a search result, a ward tab) are looked up in
what this tab was shown; the services check permission and rules again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import reflex as rx

from hms_app.clock import format_local, local_today, to_local
from hms_app.errors import DomainError, ValidationError
from hms_app.plurals import counted
from hms_app.services import live
from hms_app.services.patients import find_living
from hms_app.services.wards.admissions import (
    DISCHARGE_DISPOSITIONS,
    admit_patient,
    discharge_patient,
    transfer_patient,
)
from hms_app.services.wards.beds import mark_bed_clean, return_bed_to_service, set_bed_out_of_service
from hms_app.services.wards.board import (
    BED_LABELS,
    BedBoard,
    BedTile,
    WardScreen,
    WardSummary,
    admission_in_bed,
    bed_board,
    free_beds,
    length_of_stay_label,
    list_wards,
    ward_screen,
)
from hms_app.state.boards.common import WATCH_REASON, now_label, shared_read
from hms_app.state.forms import form_text
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires

FORM_LIMIT = 300  # the dialogs' text boxes take 300 characters
MAX_QUERY = 100
PATIENT_OPTIONS = 8


def _since(moment: datetime | None) -> str:
    """'since 14:20' today, 'since 12 Mar 14:20' on an earlier day."""
    if moment is None:
        return ""
    local, today = to_local(moment), local_today()
    return "since " + (local.strftime("%H:%M") if local.date() == today else local.strftime("%d %b %H:%M"))


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
    late_doses: int = 0  # scheduled doses past their window with nothing on the MAR
    late_doses_label: str = ""


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
LATE_CHECK_SECONDS = 60.0
DISPOSITION_OPTIONS = [DispositionOption(code, label) for code, label in DISCHARGE_DISPOSITIONS.items()]
BED_DIALOG_FIELDS = ("reason", "bed_id", "disposition", "patient")


def _ward_tab(ward: WardSummary) -> WardTab:
    return WardTab(ward.id, ward.name, ward.occupied, ward.beds, ward.occupancy_percent)


def _stay(hours: int) -> str:
    """The length of stay as a card shows it: a narrow card wraps "3 d / 4 h", never "3 d 4 / h"."""
    return re.sub(r"(\d) ([dh])\b", "\\1\u00a0\\2", length_of_stay_label(hours))


def _card(tile: BedTile) -> BedCard:
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
            "late_doses": tile.late_doses,
            "late_doses_label": counted(tile.late_doses, "late dose") if tile.late_doses else "",
        }
    return BedCard(
        id=tile.id,
        label=tile.label,
        status=tile.status,
        status_label=BED_LABELS.get(tile.status, tile.status),
        since=_since(tile.status_since),
        note=tile.status_note,
        **patient,
    )


@dataclass(frozen=True)
class _WardView:
    """One ward's board as the screen shows it; built once per change and shared by its boards
    (which is why the cards and tabs are frozen: no tab can change another's)."""

    tabs: tuple[WardTab, ...]
    board: BedBoard
    cards: tuple[BedCard, ...]
    average_stay: str


def _ward_view(screen: WardScreen) -> _WardView:
    board = screen.board
    return _WardView(
        tabs=tuple(_ward_tab(w) for w in screen.wards),
        board=board,
        cards=tuple(_card(tile) for tile in board.beds),
        average_stay=_stay(board.average_los_hours) if board.ward.occupied else "–",
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
                    ("ward", self.ward_id),
                    ward_screen,
                    build=_ward_view,
                    actor=self.acting(),
                    ward_id=self.ward_id,
                )
                return self._show(view)
            wards = await self._read(list_wards)
            self.wards = [_ward_tab(w) for w in wards]
            if not self.wards:
                self.loaded, self.problem, self.beds = True, "No wards are set up yet.", []
                return None
            if self.ward_id not in {w.id for w in self.wards}:
                self.ward_id = self.wards[0].id
            board = await self._read(bed_board, ward_id=self.ward_id, audit=audit)
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        return self._show(_ward_view(WardScreen(wards, board)))

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
        self.updated_at = now_label()
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
        # Doses turn late as the clock passes, with no change to announce: the board also refreshes
        # once a minute.
        async for _ in live_changes(self, live.BEDS, permission="patient.read", every=LATE_CHECK_SECONDS):
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
            rows = await self._run(find_living, query=value, limit=PATIENT_OPTIONS)
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
            reason = form_text(form, "reason", limit=FORM_LIMIT)
            await self._run(
                admit_patient, patient_id=self.chosen_patient_id, bed_id=self._bed_id, reason=reason
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
            free = await self._run(free_beds)
        except DomainError as error:
            return rx.toast.error(str(error))
        self._close()
        self.dialog, self._bed_id = "transfer", card.id
        self.dialog_bed, self.dialog_patient = f"{self.ward_name} · bed {card.label}", card.patient_name
        self.bed_options = [BedOption(str(b.id), f"{b.ward} · {b.label}") for b in free]
        return None

    @rx.event
    @requires("ward.manage")
    async def submit_transfer(self, form: dict):
        if self.dialog != "transfer" or not self._bed_id:
            self._close()
            return None
        self.saving = True
        try:
            target = form_text(form, "bed_id", limit=20)
            if target not in {option.id for option in self.bed_options}:
                raise ValidationError("Choose the bed to move the patient to.", field="bed_id")
            admission_id = await self._run(
                admission_in_bed, ward_id=self._opened_ward_id, bed_id=self._bed_id
            )
            await self._run(
                transfer_patient,
                admission_id=admission_id,
                bed_id=int(target),
                reason=form_text(form, "reason", limit=FORM_LIMIT),
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
            disposition = form_text(form, "disposition", limit=20)
            admission_id = await self._run(
                admission_in_bed, ward_id=self._opened_ward_id, bed_id=self._bed_id
            )
            await self._run(
                discharge_patient,
                admission_id=admission_id,
                disposition=disposition,
                note=form_text(form, "note", limit=FORM_LIMIT),
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
            await self._run(mark_bed_clean, bed_id=card.id)
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
                set_bed_out_of_service,
                bed_id=self._bed_id,
                reason=form_text(form, "reason", limit=FORM_LIMIT),
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
            await self._run(return_bed_to_service, bed_id=card.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done(f"Bed {card.label} is back in service; clean it before the next patient.")
