"""Issuing stock (/inventory/issue): to a patient on the ward (found by search, or picked from the
patients admitted to the wards the store serves) or to a department with the reason; the item by
scanning its barcode or by name; first expiry first out unless a lot is named (a scanned box names
its own). A chargeable item issued to a patient shows the charge it posted. Recent issues of the
store can be returned (part or all), which lowers or cancels their charge.

Ids the browser sends back (a patient, an item, a lot, an issue) are looked up among those shown.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory.barcodes import MAX_SCAN, identify_scan
from hms_app.services.inventory.catalogue_views import catalogue_choices, item_detail, list_items, store_stock
from hms_app.services.inventory.issue_views import IssueLine, recent_issues, ward_patients
from hms_app.services.inventory.ledger import issue_stock
from hms_app.services.inventory.moves import return_stock
from hms_app.services.patients import find_living
from hms_app.state.forms import value_text
from hms_app.state.inventory.stock_common import StorePicker, money, text
from hms_app.state.session import SessionState, browser_id, requires

ISSUE = "inventory.issue"
FIFO = "fifo"
ISSUE_FIELDS = ("patient", "department_id", "reason", "item", "quantity", "pack", "lot_id")
RETURN_FIELDS = ("quantity", "reason")


@dataclass(frozen=True)
class Choice:
    value: str = ""
    label: str = ""
    detail: str = ""


@dataclass(frozen=True)
class IssueRow:
    move_id: int = 0
    when: str = ""
    item: str = ""
    quantity: str = ""
    left_to_return: int = 0
    lot: str = ""
    recipient: str = ""  # the patient (MRN) or the department
    charge: str = ""  # "SUP-SYR $4.50 (open)", "" when none
    by: str = ""


def _issue_row(line: IssueLine) -> IssueRow:
    to = (
        f"{line.patient} · {line.mrn}"
        if line.patient
        else line.department + (f": {line.reason}" if line.reason else "")
    )
    charge = f"{line.charge_code} {money(line.charge_cents)} ({line.charge_status})" if line.charge_id else ""
    returned = f" ({line.returned:,} returned)" if line.returned else ""
    return IssueRow(
        line.move_id,
        format_local(line.moved_at, "%d %b %H:%M"),
        line.item,
        f"{line.quantity:,} {line.base_unit}{returned}",
        line.quantity - line.returned,
        line.lot,
        to,
        charge,
        line.moved_by,
    )


class IssueState(StorePicker, SessionState):
    """One issue being entered at a store, its outcome, and the store's recent issues."""

    loading: bool = True
    target: str = "patient"  # patient | department
    can_search_patients: bool = False
    ward_patients: list[Choice] = []
    patient_query: str = ""
    patient_options: list[Choice] = []
    patient_id: int = 0
    patient_label: str = ""
    departments: list[Choice] = []
    scans: int = 0
    scan_error: str = ""
    item_id: int = 0
    item_label: str = ""
    unit: str = ""
    chargeable: bool = False
    packs: list[Choice] = []
    pack: str = ""
    lots: list[Choice] = []
    lot: str = FIFO
    serial: str = ""
    item_query: str = ""
    item_options: list[Choice] = []
    error_text: str = ""
    error_field: str = ""
    saving: bool = False
    outcome: str = ""  # what the last issue did, in words
    outcome_charge: str = ""
    recent: list[IssueRow] = []
    # The return dialog.
    returning: IssueRow = IssueRow()
    return_open: bool = False
    return_error: str = ""
    return_error_field: str = ""

    async def _reload_store(self) -> None:
        store = self._store()
        self.ward_patients, self.recent = [], []
        if not store:
            return
        rows = await self._read(ward_patients, location_id=store)
        self.ward_patients = [
            Choice(str(p.id), f"{p.name} · {p.mrn}", " · ".join(x for x in (p.ward, p.bed) if x))
            for p in rows
        ]
        await self._reload_recent()

    async def _reload_recent(self) -> None:
        if self._store():
            self.recent = [
                _issue_row(line) for line in await self._read(recent_issues, location_id=self._store())
            ]

    def _clear_item(self) -> None:
        self.item_id, self.item_label, self.unit, self.chargeable = 0, "", "", False
        self.packs, self.pack, self.lots, self.lot, self.serial = [], "", [], FIFO, ""
        self.item_query, self.item_options, self.scan_error = "", [], ""
        self.scans += 1

    @rx.event
    @requires(ISSUE)
    async def load(self):
        self.loading, self.outcome, self.outcome_charge = True, "", ""
        yield
        try:
            self.can_search_patients = self.acting().can("patient.read")
            choices = await self._read(catalogue_choices)
            self.departments = [Choice(str(i), name) for i, name in choices.departments]
            await self._load_stores("issue")
            wanted = self.router.url.query_parameters.get("patient", "") if self.router else ""
            await self._reload_store()
            if isinstance(wanted, str) and wanted in {p.value for p in self.ward_patients}:
                chosen = next(p for p in self.ward_patients if p.value == wanted)
                self.patient_id, self.patient_label = int(chosen.value), chosen.label
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires(ISSUE)
    async def select_store(self, store_id: str):
        try:
            self._pick_store(store_id)
            self._clear_item()
            self.patient_id, self.patient_label, self.outcome = 0, "", ""
            await self._reload_store()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires(ISSUE)
    async def set_target(self, value: str | list[str]):
        if value in ("patient", "department"):
            self.target, self.error_text, self.error_field = value, "", ""

    # ------------------------------------------------------------------ the patient

    @rx.event
    @requires(ISSUE)
    async def search_patients(self, value: str):
        if not isinstance(value, str) or len(value) > 100:
            return rx.toast.error("Search for at most 100 characters.")
        self.patient_query = value
        if len(value.strip()) < 2 or not self.can_search_patients:
            self.patient_options = []
            return None
        try:
            rows = await self._read(find_living, query=value, limit=8)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.patient_options = [
            Choice(str(r.id), f"{r.name} · {r.mrn}", f"born {r.birth_date:%d %b %Y}") for r in rows
        ]
        return None

    @rx.event
    @requires(ISSUE)
    async def choose_patient(self, patient_id: str):
        try:
            wanted = str(browser_id(patient_id, "patient"))
        except ValidationError as error:
            return rx.toast.error(str(error))
        chosen = next((p for p in [*self.ward_patients, *self.patient_options] if p.value == wanted), None)
        if chosen is None:
            return rx.toast.error("Choose a patient from the list.")
        self.patient_id, self.patient_label = int(chosen.value), chosen.label
        self.patient_query, self.patient_options = "", []
        if self.error_field == "patient":
            self.error_text = self.error_field = ""
        return rx.set_focus("issue-scan")

    @rx.event
    @requires(ISSUE)
    async def clear_patient(self):
        self.patient_id, self.patient_label = 0, ""

    # ------------------------------------------------------------------ the item

    async def _show_item(self, item_id: int, *, pack: str = "", lot_id: int | None = None) -> None:
        detail = await self._read(item_detail, item_id=item_id)
        item = detail.item
        rows, _ = await self._read(store_stock, location_id=self._store(), query=item.code, limit=50)
        held = next((r for r in rows if r.item_id == item.id), None)
        usable = [lot for lot in (held.lots if held else []) if not lot.expired]
        self.item_id, self.item_label, self.unit = item.id, f"{item.code} · {item.name}", item.base_unit
        self.chargeable = item.chargeable
        self.packs = [Choice(item.base_unit, item.base_unit)] + [
            Choice(p.name, f"{p.name} of {p.base_quantity:,}") for p in detail.packs
        ]
        self.pack = pack if pack in {c.value for c in self.packs} else item.base_unit
        in_stock = sum(lot.quantity for lot in usable)
        self.lots = [Choice(FIFO, f"First expiry first out ({in_stock:,} {item.base_unit} usable)")] + [
            Choice(
                str(lot.lot_id),
                f"Lot {lot.lot_number}"
                + (f", expires {lot.expiry_date:%d %b %Y}" if lot.expiry_date else ""),
                f"{lot.quantity:,} {item.base_unit}",
            )
            for lot in usable
            if lot.lot_number
        ]
        self.lot = str(lot_id) if lot_id is not None and str(lot_id) in {c.value for c in self.lots} else FIFO

    @rx.event
    @requires(ISSUE)
    async def scan(self, form: dict):
        self.scan_error = ""
        try:
            if not self._store():
                raise ValidationError("Choose the store you issue from.")
            raw = value_text(
                form.get("scan", "") if isinstance(form, dict) else "", "scan", limit=MAX_SCAN + 20
            )
            match = await self._read(identify_scan, text=raw)
            await self._show_item(match.item_id, pack=match.pack, lot_id=match.lot_id)
        except DomainError as error:
            self.scan_error = str(error)
            return [rx.toast.error(str(error)), rx.set_focus("issue-scan")]
        if match.lot_number and self.lot == FIFO:
            self.scan_error = (
                f"Lot {match.lot_number} is not in stock here: the first-expiring lot will be issued."
            )
        self.serial = match.serial
        self.scans += 1
        return rx.set_focus("issue-quantity")

    @rx.event
    @requires(ISSUE)
    async def search_items(self, value: str):
        if not isinstance(value, str) or len(value) > 60:
            return rx.toast.error("Search for at most 60 characters.")
        self.item_query = value
        if len(value.strip()) < 2:
            self.item_options = []
            return None
        try:
            rows, _ = await self._read(list_items, query=value, include_inactive=False, limit=8)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.item_options = [
            Choice(str(r.id), f"{r.code} · {r.name}", f"{r.on_hand:,} {r.base_unit} in all stores")
            for r in rows
        ]
        return None

    @rx.event
    @requires(ISSUE)
    async def choose_item(self, item_id: str):
        try:
            wanted = str(browser_id(item_id, "item"))
            if wanted not in {o.value for o in self.item_options}:
                raise ValidationError("Choose an item from the search results.")
            await self._show_item(int(wanted))
        except DomainError as error:
            return rx.toast.error(str(error))
        self.item_query, self.item_options, self.serial = "", [], ""
        self.scans += 1
        return rx.set_focus("issue-quantity")

    @rx.event
    @requires(ISSUE)
    async def clear_item(self):
        self._clear_item()
        return rx.set_focus("issue-scan")

    # ------------------------------------------------------------------ issuing

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        self.error_text = str(error)
        self.error_field = error.field if error.field in ISSUE_FIELDS else ""

    def _issue_arguments(self, form: dict) -> dict:
        if not self._store():
            raise ValidationError("Choose the store you issue from.")
        if not self.item_id:
            raise ValidationError("Scan the item or find it by name first.", field="item")
        pack = text(form, "pack", 20) or self.unit
        if pack not in {c.value for c in self.packs}:
            raise ValidationError("Choose the pack the quantity is counted in.", field="pack")
        lot = text(form, "lot_id", 20) or FIFO
        if lot not in {c.value for c in self.lots}:
            raise ValidationError("Choose the lot to issue, or first expiry first out.", field="lot_id")
        arguments = {
            "item_id": self.item_id,
            "location_id": self._store(),
            "quantity": text(form, "quantity", 12),
            "pack": pack,
            "lot_id": None if lot == FIFO else int(lot),
            "serial": self.serial or None,
        }
        if self.target == "patient":
            if not self.patient_id:
                raise ValidationError("Choose the patient the item is for.", field="patient")
            arguments["patient_id"] = self.patient_id
        else:
            department = text(form, "department_id", 12)
            if department not in {c.value for c in self.departments}:
                raise ValidationError("Choose the department that takes it.", field="department_id")
            arguments["department_id"] = int(department)
            arguments["reason"] = text(form, "reason")
        return arguments

    @rx.event
    @requires(ISSUE)
    async def issue(self, form: dict):
        if self.saving:
            return None
        self.saving, self.error_text, self.error_field = True, "", ""
        try:
            arguments = self._issue_arguments(form)
            moves = await self._run(issue_stock, **arguments)
            lines = await self._read(recent_issues, location_id=self._store(), move_ids=[m.id for m in moves])
        except DomainError as error:
            self._fail(error)
            return None
        self.saving = False
        taken = -sum(m.quantity for m in moves)
        lots = ", ".join(line.lot for line in reversed(lines) if line.lot)
        whom = (
            self.patient_label
            if self.target == "patient"
            else next(c.label for c in self.departments if c.value == str(arguments["department_id"]))
        )
        self.outcome = f"Issued {taken:,} {self.unit} of {self.item_label} to {whom}" + (
            f" from lot {lots}." if lots else "."
        )
        charged = next((line for line in lines if line.charge_id), None)
        self.outcome_charge = (
            f"Charged {charged.charge_code} {money(charged.charge_cents)} to {charged.patient}'s account."
            if charged
            else (
                "Not charged: the patient's account is not billed for this item."
                if self.target == "patient"
                else ""
            )
        )
        self._clear_item()
        try:
            await self._reload_recent()
        except DomainError as error:
            return rx.toast.error(str(error))
        return [rx.toast.success(self.outcome), rx.set_focus("issue-scan")]

    # ------------------------------------------------------------------ returns

    @rx.event
    @requires(ISSUE)
    async def open_return(self, move_id: int):
        try:
            wanted = browser_id(move_id, "issue")
        except ValidationError as error:
            return rx.toast.error(str(error))
        row = next((r for r in self.recent if r.move_id == wanted), None)
        if row is None or row.left_to_return <= 0:
            return rx.toast.error("Choose an issue from the list that has something left to return.")
        self.returning, self.return_open = row, True
        self.return_error = self.return_error_field = ""
        return None

    @rx.event
    @requires(ISSUE)
    async def set_return_open(self, is_open: bool):
        if not is_open:
            self.return_open, self.return_error, self.return_error_field = False, "", ""

    @rx.event
    @requires(ISSUE)
    async def submit_return(self, form: dict):
        if not self.return_open or not self.returning.move_id:
            return None
        try:
            move = await self._run(
                return_stock,
                move_id=self.returning.move_id,
                quantity=text(form, "quantity", 12),
                reason=text(form, "reason"),
            )
            await self._reload_recent()
        except DomainError as error:
            self.return_error = str(error)
            self.return_error_field = error.field if error.field in RETURN_FIELDS else ""
            return None
        self.return_open = False
        return rx.toast.success(f"{move.quantity:,} of {self.returning.item} back in stock.")
