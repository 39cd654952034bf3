"""Receiving a delivery (/inventory/receive) by scanning: the scan box takes what a barcode scanner
types (a GS1 DataMatrix or GS1-128 code, ended by Enter) and fills the line's item, pack, lot,
expiry and serial; the storekeeper adds the quantity (and unit cost) and puts the line on the
delivery. "Receive" posts each line through the ledger and says per line what happened; a line that
fails stays on screen with its message, so nothing typed is lost. Without a scanner the item is
found by its code or name.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.money import parse_money
from hms_app.services.inventory.barcodes import MAX_SCAN, identify_scan
from hms_app.services.inventory.catalogue_views import item_detail, list_items
from hms_app.services.inventory.common import whole_number
from hms_app.services.inventory.ledger import receive_stock
from hms_app.state.forms import value_text
from hms_app.state.inventory.stock_common import StorePicker, day, money, text
from hms_app.state.session import SessionState, browser_id, requires

KEEP = "inventory.keep"
LINE_FIELDS = ("item", "quantity", "pack", "lot_number", "expiry_date", "unit_cost", "serial")
ITEM_OPTIONS = 8
MAX_LINES = 60
_keys = itertools.count(1)


@dataclass(frozen=True)
class Choice:
    value: str = ""
    label: str = ""


@dataclass(frozen=True)
class ReceiptLine:
    key: str = ""
    item_id: int = 0
    item: str = ""  # "SYR-10 · Syringe 10 ml"
    unit: str = ""
    pack: str = ""
    quantity: int = 0
    base_quantity: int = 0
    lot: str = ""
    expiry: str = ""  # ISO, as sent to the service
    expiry_label: str = ""
    serial: str = ""
    cost_cents: int = 0
    cost: str = ""
    status: str = "ready"  # ready | done | failed
    message: str = ""


class ReceiveState(StorePicker, SessionState):
    """A delivery being received into one store: the line being entered and the lines so far."""

    loading: bool = True
    reference: str = ""
    scan_error: str = ""
    scans: int = 0  # bumped on every scan or choice: the line form shows its new values
    # The line being entered.
    item_id: int = 0
    item_label: str = ""
    unit: str = ""
    track_lots: bool = True
    packs: list[Choice] = []
    pack: str = ""
    lot: str = ""
    expiry: str = ""
    serial: str = ""
    quantity_text: str = ""  # a line taken back from the delivery to be corrected
    cost_text: str = ""
    line_error: str = ""
    line_error_field: str = ""
    item_query: str = ""
    item_options: list[Choice] = []
    # The delivery.
    lines: list[ReceiptLine] = []
    receiving: bool = False

    _pack_sizes: dict[str, int] = {}

    @rx.var
    def ready_count(self) -> int:
        return len([line for line in self.lines if line.status != "done"])

    def _clear_line(self) -> None:
        self.item_id, self.item_label, self.unit, self.track_lots = 0, "", "", True
        self.packs, self.pack, self.lot, self.expiry, self.serial = [], "", "", "", ""
        self.quantity_text = self.cost_text = ""
        self.line_error = self.line_error_field = ""
        self.item_query, self.item_options = "", []
        self._pack_sizes = {}
        self.scans += 1

    async def _show_item(self, item_id: int, pack: str = "") -> None:
        detail = await self._read(item_detail, item_id=item_id)
        item = detail.item
        if not item.active:
            raise ValidationError(f"{item.name} is no longer stocked.", field="item")
        self.item_id, self.item_label, self.unit = item.id, f"{item.code} · {item.name}", item.base_unit
        self.track_lots = item.track_lots
        self.packs = [Choice(item.base_unit, f"{item.base_unit} (1)")] + [
            Choice(p.name, f"{p.name} of {p.base_quantity:,} {item.base_unit}") for p in detail.packs
        ]
        self._pack_sizes = {item.base_unit: 1, **{p.name: p.base_quantity for p in detail.packs}}
        self.pack = pack if pack in self._pack_sizes else item.base_unit

    @rx.event
    @requires(KEEP)
    async def load(self):
        self.loading = True
        yield
        try:
            await self._load_stores("keep")
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires(KEEP)
    async def select_store(self, store_id: str):
        try:
            self._pick_store(store_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires(KEEP)
    async def scan(self, form: dict):
        """One scan: the scanner typed the code and Enter."""
        self.scan_error = ""
        try:
            raw = value_text(
                form.get("scan", "") if isinstance(form, dict) else "", "scan", limit=MAX_SCAN + 20
            )
            match = await self._read(identify_scan, text=raw)
            await self._show_item(match.item_id, match.pack)
        except DomainError as error:
            self.scan_error = str(error)
            return [rx.toast.error(str(error)), rx.set_focus("scan-box")]
        self.lot, self.serial = match.lot_number, match.serial
        self.expiry = match.expiry_date.isoformat() if match.expiry_date else ""
        self.line_error = self.line_error_field = ""
        self.item_query, self.item_options = "", []
        self.scans += 1
        return rx.set_focus("line-quantity")

    @rx.event
    @requires(KEEP)
    async def search_items(self, value: str):
        if not isinstance(value, str) or len(value) > 60:
            return rx.toast.error("Search for at most 60 characters.")
        self.item_query = value
        if len(value.strip()) < 2:
            self.item_options = []
            return None
        try:
            rows, _ = await self._read(list_items, query=value, include_inactive=False, limit=ITEM_OPTIONS)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.item_options = [Choice(str(r.id), f"{r.code} · {r.name}") for r in rows]
        return None

    @rx.event
    @requires(KEEP)
    async def choose_item(self, item_id: str):
        try:
            wanted = str(browser_id(item_id, "item"))
            if wanted not in {o.value for o in self.item_options}:
                raise ValidationError("Choose an item from the search results.")
            await self._show_item(int(wanted))
        except DomainError as error:
            return rx.toast.error(str(error))
        self.lot = self.expiry = self.serial = self.scan_error = ""
        self.quantity_text = self.cost_text = ""
        self.item_query, self.item_options = "", []
        self.line_error = self.line_error_field = ""
        self.scans += 1
        return rx.set_focus("line-quantity")

    @rx.event
    @requires(KEEP)
    async def clear_line(self):
        self._clear_line()
        return rx.set_focus("scan-box")

    def _read_line(self, form: dict) -> ReceiptLine:
        if not self.item_id:
            raise ValidationError("Scan the item's barcode or find the item first.", field="item")
        pack = text(form, "pack", 20) or self.unit
        if pack not in self._pack_sizes:
            raise ValidationError("Choose the pack the quantity is counted in.", field="pack")
        quantity = whole_number(text(form, "quantity", 12), field="quantity", label="Quantity")
        lot, expiry = text(form, "lot_number", 40), text(form, "expiry_date", 10)
        if self.track_lots and not lot:
            raise ValidationError("Enter the lot number printed on the pack.", field="lot_number")
        if self.track_lots and not expiry:
            raise ValidationError("Enter the expiry date printed on the pack.", field="expiry_date")
        cost_text = text(form, "unit_cost", 20)
        cost = parse_money(
            cost_text, field="unit_cost", label="the unit cost", allow_zero=True, blank_is_zero=True
        )
        expiry_label = ""
        if expiry:
            from datetime import date

            try:
                expiry_label = day(date.fromisoformat(expiry))
            except ValueError:
                raise ValidationError("The expiry date must be a date.", field="expiry_date") from None
        return ReceiptLine(
            key=f"line-{next(_keys)}",
            item_id=self.item_id,
            item=self.item_label,
            unit=self.unit,
            pack=pack,
            quantity=quantity,
            base_quantity=quantity * self._pack_sizes[pack],
            lot=lot if self.track_lots else "",
            expiry=expiry if self.track_lots else "",
            expiry_label=expiry_label if self.track_lots else "",
            serial=text(form, "serial", 40),
            cost_cents=cost,
            cost=money(cost) if cost else "",
        )

    @rx.event
    @requires(KEEP)
    async def add_line(self, form: dict):
        if len(self.lines) >= MAX_LINES:
            return rx.toast.error(f"Receive these {MAX_LINES} lines first, then go on.")
        try:
            line = self._read_line(form)
        except DomainError as error:
            self.line_error = str(error)
            self.line_error_field = error.field if error.field in LINE_FIELDS else ""
            return None
        self.lines = [*self.lines, line]
        self._clear_line()
        self.scan_error = ""
        return rx.set_focus("scan-box")

    @rx.event
    @requires(KEEP)
    async def edit_line(self, key: str):
        """Take a line not yet received back into the form to correct it (a wrong lot, expiry ...)."""
        line = next((x for x in self.lines if x.key == key and x.status != "done"), None)
        if line is None:
            return rx.toast.error("Choose a line of the delivery that is not received yet.")
        try:
            await self._show_item(line.item_id, line.pack)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.lines = [x for x in self.lines if x.key != key]
        self.lot, self.expiry, self.serial = line.lot, line.expiry, line.serial
        self.quantity_text = str(line.quantity)
        self.cost_text = f"{line.cost_cents / 100:.2f}" if line.cost_cents else ""
        self.line_error = line.message if line.status == "failed" else ""
        self.line_error_field = ""
        self.scans += 1
        return rx.set_focus("line-quantity")

    @rx.event
    @requires(KEEP)
    async def remove_line(self, key: str):
        self.lines = [line for line in self.lines if line.key != key or line.status == "done"]

    @rx.event
    @requires(KEEP)
    async def clear_received(self):
        self.lines = [line for line in self.lines if line.status != "done"]

    @rx.event
    @requires(KEEP)
    async def receive(self, form: dict):
        """Post every line not yet received, one receipt each; say per line what happened."""
        if self.receiving:
            return
        store = self._store()
        pending = [line for line in self.lines if line.status != "done"]
        if not store or not pending:
            yield rx.toast.error("Add a line to the delivery first." if store else "Choose the store.")
            return
        self.reference = text(form, "reference", 40)
        self.receiving = True
        yield
        done = failed = 0
        for line in pending:
            try:
                await self._run(
                    receive_stock,
                    item_id=line.item_id,
                    location_id=store,
                    quantity=line.quantity,
                    pack=line.pack,
                    lot_number=line.lot or None,
                    expiry_date=line.expiry or None,
                    unit_cost_cents=line.cost_cents,
                    reference=self.reference or None,
                    serial=line.serial or None,
                )
            except DomainError as error:
                failed += 1
                updated = replace(line, status="failed", message=str(error))
            else:
                done += 1
                lot = f", lot {line.lot}" if line.lot else ""
                updated = replace(
                    line,
                    status="done",
                    message=f"Received {line.base_quantity:,} {line.unit} into {self.store_name}{lot}.",
                )
            self.lines = [updated if other.key == line.key else other for other in self.lines]
            yield
        self.receiving = False
        if failed:
            yield rx.toast.error(
                f"{done} of {done + failed} lines received; {failed} could not be: see the message on each."
            )
        else:
            yield rx.toast.success(
                f"{done} {'line' if done == 1 else 'lines'} received into {self.store_name}."
            )
