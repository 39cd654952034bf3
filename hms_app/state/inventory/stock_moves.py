"""The store screen's dialogs (/inventory): transfer an item to another store, adjust a lot up or down
with the reason, and write off an expired lot. Only for those who keep the store (``inventory.keep``
at their own department's stores, a storekeeper anywhere); the services check it again.

Lots and stores the browser sends back are looked up among those the dialog offered.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory.catalogue_views import list_stores
from hms_app.services.inventory.moves import adjust_stock, transfer_stock, write_off_expired
from hms_app.state.inventory.stock import StockState
from hms_app.state.inventory.stock_common import LotLine, StockLine, text
from hms_app.state.session import requires

KEEP = "inventory.keep"
FIFO = "fifo"  # the lot choice "first expiry first out"
MOVE_FIELDS = ("quantity", "lot_id", "to_location_id", "reason", "change")


@dataclass(frozen=True)
class Choice:
    value: str = ""
    label: str = ""


def _lot_label(lot: LotLine, unit: str) -> str:
    name = f"Lot {lot.number}" if lot.number else "Untracked stock"
    expiry = f", expires {lot.expiry}" if lot.expiry else ""
    return f"{name}{expiry} · {lot.quantity:,} {unit}" + (" · EXPIRED" if lot.expired else "")


class StockMovesState(StockState):
    """The transfer, adjustment and write-off dialogs of the store screen."""

    dialog: str = ""  # "" | transfer | adjust | write_off
    dialog_item: str = ""
    dialog_unit: str = ""
    lot_choices: list[Choice] = []
    store_choices: list[Choice] = []
    default_lot: str = ""  # the lot the dialog's choice starts on
    write_off_lot: str = ""  # the expired lot, in words
    error_field: str = ""
    error_text: str = ""
    saving: bool = False

    _item_id: int = 0
    _lot_id: int = 0

    def _open(self, name: str, line: StockLine | None = None) -> None:
        self.dialog, self.error_field, self.error_text, self.saving = name, "", "", False
        self._item_id = line.item_id if line else 0
        self._lot_id = 0
        self.dialog_item = f"{line.code} · {line.name}" if line else ""
        self.dialog_unit = line.unit if line else ""

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        self.error_text = str(error)
        self.error_field = error.field if error.field in MOVE_FIELDS else ""

    def _chosen(self, form: dict, key: str, choices: list[Choice], message: str) -> str:
        value = text(form, key, 20)
        if value not in {c.value for c in choices}:
            raise ValidationError(message, field=key)
        return value

    async def _done(self, message: str):
        self._open("")
        try:
            await self._reload()
        except DomainError as error:
            return [rx.toast.success(message), rx.toast.error(str(error))]
        return rx.toast.success(message)

    @rx.event
    @requires(KEEP)
    async def close_dialog(self):
        self._open("")

    @rx.event
    @requires(KEEP)
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self._open("")

    @rx.event
    @requires(KEEP)
    async def open_transfer(self, item_id: int):
        try:
            line = self._shown(item_id)
            stores = await self._read(list_stores)
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open("transfer", line)
        usable = [lot for lot in line.lots if not lot.expired]
        self.lot_choices = [Choice(FIFO, "First expiry first out")] + [
            Choice(str(lot.lot_id), _lot_label(lot, line.unit)) for lot in usable if lot.number
        ]
        self.store_choices = [
            Choice(str(s.id), f"{s.name} ({s.code})")
            for s in stores
            if s.active and str(s.id) != self.store_id
        ]
        return None

    @rx.event
    @requires(KEEP)
    async def submit_transfer(self, form: dict):
        if self.dialog != "transfer" or not self._item_id:
            self._open("")
            return None
        self.saving = True
        try:
            lot = self._chosen(form, "lot_id", self.lot_choices, "Choose the lot to move.")
            target = self._chosen(
                form, "to_location_id", self.store_choices, "Choose the store to move it to."
            )
            quantity = text(form, "quantity", 12)
            await self._run(
                transfer_stock,
                item_id=self._item_id,
                from_location_id=self._store(),
                to_location_id=int(target),
                quantity=quantity,
                lot_id=None if lot == FIFO else int(lot),
                reason=text(form, "reason"),
            )
        except DomainError as error:
            self._fail(error)
            return None
        where = next(c.label for c in self.store_choices if c.value == target)
        return await self._done(f"{quantity} {self.dialog_unit} of {self.dialog_item} moved to {where}.")

    @rx.event
    @requires(KEEP)
    async def open_adjust(self, item_id: int):
        try:
            line = self._shown(item_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        if not line.lots:
            return rx.toast.error(f"{self.store_name} holds no {line.name}: receive it instead of adjusting.")
        self._open("adjust", line)
        self.lot_choices = [Choice(str(lot.lot_id), _lot_label(lot, line.unit)) for lot in line.lots]
        self.default_lot = self.lot_choices[0].value
        return None

    @rx.event
    @requires(KEEP)
    async def submit_adjust(self, form: dict):
        if self.dialog != "adjust" or not self._item_id:
            self._open("")
            return None
        self.saving = True
        try:
            lot = self._chosen(form, "lot_id", self.lot_choices, "Choose the lot to adjust.")
            change = text(form, "change", 12).replace(" ", "")
            move = await self._run(
                adjust_stock,
                item_id=self._item_id,
                location_id=self._store(),
                lot_id=int(lot),
                change=change,
                reason=text(form, "reason"),
            )
        except DomainError as error:
            self._fail(error)
            return None
        return await self._done(f"{self.dialog_item}: {move.quantity:+,} {self.dialog_unit} recorded.")

    @rx.event
    @requires(KEEP)
    async def open_write_off(self, item_id: int, lot_id: int):
        try:
            line = self._shown(item_id)
            lot = next((lot for lot in line.lots if lot.lot_id == lot_id and lot.expired), None)
            if lot is None:
                raise ValidationError("Choose an expired lot shown on the screen.")
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open("write_off", line)
        self._lot_id = lot.lot_id
        self.write_off_lot = _lot_label(lot, line.unit)
        return None

    @rx.event
    @requires(KEEP)
    async def submit_write_off(self, form: dict):
        if self.dialog != "write_off" or not self._lot_id:
            self._open("")
            return None
        self.saving = True
        try:
            move = await self._run(
                write_off_expired,
                item_id=self._item_id,
                location_id=self._store(),
                lot_id=self._lot_id,
                reason=text(form, "reason"),
            )
        except DomainError as error:
            self._fail(error)
            return None
        return await self._done(f"{-move.quantity:,} {self.dialog_unit} of {self.dialog_item} written off.")
