"""One purchase order (/inventory/orders/[order_id]): its header, lines and receipts, and the
dialogs its status allows: edit lines (draft), approve, send, receive with lot and expiry per line,
close (short) and cancel. The services check every rule again; this state only remembers the
screen and reads the forms."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory import order_views, purchasing, receiving
from hms_app.state.inventory.purchase_common import (
    ItemOption,
    PurchaseDialogs,
    cost_cents,
    day,
    moment,
    money,
    route_id,
    search_items,
    text,
)
from hms_app.state.session import SessionState, browser_id, requires

LINE_FIELDS = ("item_id", "quantity", "unit_cost", "unit_cost_cents")
OVER_TOLERANCE = receiving.OVER_TOLERANCE_PERCENT


@dataclass
class DetailLine:
    id: int = 0
    item_id: int = 0
    code: str = ""
    name: str = ""
    unit: str = ""
    tracked: bool = True
    ordered: str = ""
    ordered_n: int = 0
    received: str = ""
    outstanding: str = ""
    outstanding_n: int = 0
    limit: str = ""
    cost: str = ""
    cost_text: str = ""  # the unit cost without the currency sign, for the edit form
    total: str = ""
    complete: bool = False


@dataclass
class ReceiptRow:
    when: str = ""
    code: str = ""
    name: str = ""
    lot: str = ""
    expiry: str = ""
    quantity: str = ""
    by: str = ""
    note: str = ""


def _line(line: order_views.OrderLineView) -> DetailLine:
    return DetailLine(
        line.id,
        line.item_id,
        line.code,
        line.name,
        line.base_unit,
        line.track_lots,
        f"{line.ordered:,} {line.base_unit}",
        line.ordered,
        f"{line.received:,}",
        f"{line.outstanding:,}",
        line.outstanding,
        f"{line.limit:,}",
        money(line.unit_cost_cents),
        money(line.unit_cost_cents).removeprefix("$"),
        money(line.total_cents),
        line.received >= line.ordered,
    )


def _receipt(row: order_views.ReceiptLine) -> ReceiptRow:
    return ReceiptRow(
        moment(row.moved_at),
        row.code,
        row.name,
        "" if row.lot_number == "-" else row.lot_number,
        day(row.expiry_date),
        f"{row.quantity:,} {row.base_unit}",
        row.moved_by,
        row.reason,
    )


class OrderState(PurchaseDialogs, SessionState):
    """The order on screen and the one dialog open over it."""

    problem: str = ""
    loaded: bool = False
    order_id: int = 0
    reference: str = ""
    status: str = ""
    status_label: str = ""
    supplier: str = ""
    lead_time: str = ""
    store: str = ""
    note: str = ""
    created: str = ""
    created_by: str = ""
    approved: str = ""
    approved_by: str = ""
    sent: str = ""
    expected: str = ""
    received_at: str = ""
    closed: str = ""
    closed_by: str = ""
    close_reason: str = ""
    value: str = ""
    received_value: str = ""
    overdue: bool = False
    lines: list[DetailLine] = []
    receipts: list[ReceiptRow] = []
    me: str = ""  # the signed-in username: the creator may not approve

    accept_over: bool = False
    # The line dialog: the item chosen (by search when adding), its quantity and cost.
    line_id: int = 0
    line_item_id: int = 0
    line_item: str = ""
    line_unit: str = ""
    line_quantity: str = ""
    line_cost: str = ""
    item_query: str = ""
    item_options: list[ItemOption] = []

    @rx.var
    def is_creator(self) -> bool:
        return self.me != "" and self.me == self.created_by

    @rx.var
    def waiting_lines(self) -> list[DetailLine]:
        """The lines a delivery may still bring (the receive dialog's rows)."""
        return [line for line in self.lines if not line.complete]

    async def _reload(self) -> None:
        view = await self._read(order_views.order_detail, order_id=self.order_id)
        self.reference, self.status = view.reference, view.status
        self.status_label = purchasing.STATUS_LABELS.get(view.status, view.status)
        self.supplier, self.lead_time = view.supplier, f"{view.lead_time_days} d"
        self.store, self.note = view.location, view.note
        self.created, self.created_by = moment(view.created_at), view.created_by
        self.approved, self.approved_by = moment(view.approved_at), view.approved_by
        self.sent, self.expected, self.received_at = (
            moment(view.sent_at),
            day(view.expected_on),
            moment(view.received_at),
        )
        self.closed, self.closed_by, self.close_reason = (
            moment(view.closed_at),
            view.closed_by,
            view.close_reason,
        )
        self.value, self.received_value = money(view.total_cents), money(view.received_cents)
        self.overdue = view.overdue
        self.lines = [_line(line) for line in view.lines]
        self.receipts = [_receipt(r) for r in view.receipts]

    @rx.event
    @requires("inventory.read")
    async def load(self):
        self.loaded, self.problem, self.dialog = False, "", ""
        self.me = self.acting().username
        try:
            self.order_id = route_id(
                self.router.url.path, r"^/inventory/orders/([^/?#]*)", "a purchase order"
            )
            await self._reload()
        except DomainError as error:
            self.problem = str(error)
            return
        self.loaded = True

    async def _done(self, message: str):
        self.dialog, self.saving = "", False
        try:
            await self._reload()
        except DomainError as error:
            return [rx.toast.success(message), rx.toast.error(str(error))]
        return rx.toast.success(message)

    @rx.event
    @requires("inventory.read")
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self._open("")

    @rx.event
    @requires("inventory.read")
    async def close_dialog(self):
        self._open("")

    # ------------------------------------------------------------------ lines of a draft

    @rx.event
    @requires("inventory.manage")
    async def open_add_line(self):
        self._open("line")
        self.line_id, self.line_item_id, self.line_item, self.line_unit = 0, 0, "", ""
        self.line_quantity, self.line_cost, self.item_query, self.item_options = "", "", "", []

    @rx.event
    @requires("inventory.manage")
    async def open_edit_line(self, line_id: int):
        try:
            wanted = browser_id(line_id, "line")
        except DomainError as error:
            return rx.toast.error(str(error))
        line = next((x for x in self.lines if x.id == wanted), None)
        if line is None:
            return rx.toast.error("That line is no longer on this order. Reload and try again.")
        self._open("line")
        self.line_id, self.line_item_id, self.line_item, self.line_unit = (
            line.id,
            line.item_id,
            line.name,
            line.unit,
        )
        self.line_quantity = str(line.ordered_n)
        self.line_cost, self.item_query, self.item_options = line.cost_text, "", []
        return None

    @rx.event
    @requires("inventory.manage")
    async def search_item(self, value: str):
        try:
            self.item_options = await search_items(self, value)
        except DomainError as error:
            self.field_errors = {"item_id": str(error)}
            return
        self.item_query = value if isinstance(value, str) else ""

    @rx.event
    @requires("inventory.manage")
    async def choose_item(self, item_id: int):
        option = next((o for o in self.item_options if o.id == item_id), None)
        if option is None:
            return rx.toast.error("Choose an item from the list.")
        self.line_item_id, self.line_item, self.line_unit = option.id, option.name, option.unit
        self.line_cost = self.line_cost or option.cost
        self.line_quantity = self.line_quantity or str(option.pack)
        self.item_options, self.item_query = [], ""
        self.field_errors = {k: v for k, v in self.field_errors.items() if k != "item_id"}
        return None

    @rx.event
    @requires("inventory.manage")
    async def clear_item(self):
        self.line_item_id, self.line_item, self.line_unit = 0, "", ""

    @rx.event
    @requires("inventory.manage")
    async def submit_line(self, form: dict):
        try:
            if not self.line_item_id:
                raise ValidationError("Search for the item and choose it.", field="item_id")
            quantity = text(form, "quantity")
            cents = cost_cents(text(form, "unit_cost"))
        except ValidationError as error:
            self._fail(error, LINE_FIELDS)
            return
        self.line_quantity, self.line_cost = quantity, text(form, "unit_cost")
        self.saving = True
        yield
        try:
            await self._run(
                purchasing.set_order_line,
                order_id=self.order_id,
                item_id=self.line_item_id,
                quantity=quantity,
                unit_cost_cents=cents,
            )
        except DomainError as error:
            self._fail(error, LINE_FIELDS)
            return
        yield await self._done(f"{self.line_item} {'changed' if self.line_id else 'added'}.")

    @rx.event
    @requires("inventory.manage")
    async def remove_line(self, line_id: int):
        try:
            wanted = browser_id(line_id, "line")
            line = next((x for x in self.lines if x.id == wanted), None)
            if line is None:
                raise ValidationError("That line is no longer on this order. Reload and try again.")
            await self._run(purchasing.remove_order_line, order_id=self.order_id, line_id=wanted)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done(f"{line.name} taken off {self.reference}.")

    # ------------------------------------------------------------------ approve, send

    @rx.event
    @requires("inventory.approve")
    async def open_approve(self):
        self._open("approve")

    @rx.event
    @requires("inventory.manage")
    async def open_send(self):
        self._open("send")

    @rx.event
    @requires("inventory.approve")
    async def confirm_approve(self):
        self.saving = True
        yield
        try:
            await self._run(purchasing.approve_order, order_id=self.order_id)
        except DomainError as error:
            self._fail(error, ())
            return
        yield await self._done(f"{self.reference} approved: the stores can send it.")

    @rx.event
    @requires("inventory.manage")
    async def confirm_send(self):
        self.saving = True
        yield
        try:
            order = await self._run(purchasing.send_order, order_id=self.order_id)
        except DomainError as error:
            self._fail(error, ())
            return
        yield await self._done(
            f"{self.reference} sent to {self.supplier}; expected {day(order.expected_on)}."
        )

    # ------------------------------------------------------------------ receive

    @rx.event
    @requires("inventory.keep")
    async def open_receive(self):
        self._open("receive")
        self.accept_over = False

    @rx.event
    @requires("inventory.keep")
    async def set_accept_over(self, checked: bool):
        self.accept_over = checked is True

    @rx.event
    @requires("inventory.keep")
    async def submit_receive(self, form: dict):
        try:
            lines = []
            for line in self.waiting_lines:
                quantity = text(form, f"quantity:{line.id}", 12)
                if quantity in ("", "0"):
                    continue
                lines.append(
                    {
                        "line_id": line.id,
                        "quantity": quantity,
                        "lot_number": text(form, f"lot_number:{line.id}", 40),
                        "expiry_date": text(form, f"expiry_date:{line.id}", 10),
                    }
                )
            if not lines:
                raise ValidationError("Enter the quantity received of at least one line.")
            reason, note = text(form, "reason"), text(form, "delivery_note", 60)
        except ValidationError as error:
            self._fail(error, None)
            return
        self.saving = True
        yield
        try:
            order = await self._run(
                receiving.receive_order,
                order_id=self.order_id,
                lines=lines,
                accept_over=self.accept_over,
                over_reason=reason,
                delivery_note=note,
            )
        except DomainError as error:
            self._fail(error, None)
            return
        label = purchasing.STATUS_LABELS.get(order.status, order.status).lower()
        yield await self._done(f"Delivery taken into {self.store}: {self.reference} is {label}.")

    # ------------------------------------------------------------------ close, cancel

    @rx.event
    @requires("inventory.manage")
    async def open_close(self):
        self._open("close")

    @rx.event
    @requires("inventory.manage")
    async def open_cancel(self):
        self._open("cancel")

    @rx.event
    @requires("inventory.manage")
    async def submit_close(self, form: dict):
        async for update in self._with_reason(
            form, purchasing.close_order, f"{self.reference} closed.", order_id=self.order_id
        ):
            yield update

    @rx.event
    @requires("inventory.manage")
    async def submit_cancel(self, form: dict):
        async for update in self._with_reason(
            form, purchasing.cancel_order, f"{self.reference} cancelled.", order_id=self.order_id
        ):
            yield update
