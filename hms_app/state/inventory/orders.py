"""Purchasing (/inventory/orders): the suggested orders, grouped by store and supplier, each one
click from a draft order; the purchase order list with its filters; and a new order by hand."""

from __future__ import annotations

from dataclasses import dataclass, field

import reflex as rx

from hms_app.errors import DomainError, FieldErrors, ValidationError
from hms_app.services.inventory import order_views, purchasing
from hms_app.state.inventory.purchase_common import (
    ALL,
    MAX_QUERY,
    Option,
    day,
    load_stores,
    load_suppliers,
    messages,
    moment,
    money,
    picked_id,
    text,
)
from hms_app.state.session import SessionState, pages_for, requires, turn_page

PAGE_SIZE = 20
STATUS_FILTERS = [Option(key, label) for key, label in order_views.STATUS_FILTERS.items()]
NEW_ORDER_FIELDS = ("supplier_id", "location_id", "note")


@dataclass
class OrderLine:
    id: int = 0
    reference: str = ""
    supplier: str = ""
    store: str = ""
    status: str = ""
    status_label: str = ""
    created: str = ""
    created_by: str = ""
    expected: str = ""
    overdue: bool = False
    lines: int = 0
    value: str = ""
    received: str = ""


@dataclass
class SuggestedItem:
    item_id: int = 0
    code: str = ""
    name: str = ""
    usable: str = ""
    on_order: str = ""
    reorder: str = ""
    most: str = ""
    quantity: str = ""
    packs: str = ""  # "8 packs of 100" when the item is ordered in packs
    cost: str = ""


@dataclass
class SuggestionCard:
    card_id: str = ""
    location_id: int = 0
    store: str = ""
    supplier_id: int = 0
    supplier: str = ""
    lead_time: str = ""
    total: str = ""
    lines: list[SuggestedItem] = field(default_factory=list)


def _order_line(row: order_views.OrderRow) -> OrderLine:
    return OrderLine(
        row.id,
        row.reference,
        row.supplier,
        row.location,
        row.status,
        purchasing.STATUS_LABELS.get(row.status, row.status),
        moment(row.created_at),
        row.created_by,
        day(row.expected_on),
        row.overdue,
        row.lines,
        money(row.total_cents),
        money(row.received_cents),
    )


def _card(group: purchasing.SuggestionGroup) -> SuggestionCard:
    items = [
        SuggestedItem(
            line.item_id,
            line.code,
            line.name,
            f"{line.usable:,}",
            f"{line.on_order:,}",
            f"{line.reorder_point:,}",
            f"{line.max_quantity:,}",
            f"{line.quantity:,} {line.base_unit}",
            f"{line.quantity // line.pack_size:,} × {line.pack_size:,}" if line.pack_size > 1 else "",
            money(line.unit_cost_cents),
        )
        for line in group.lines
    ]
    return SuggestionCard(
        f"{group.location_id}-{group.supplier_id}",
        group.location_id,
        group.location,
        group.supplier_id,
        group.supplier,
        f"{group.lead_time_days} d lead time" if group.supplier_id else "",
        money(group.total_cents),
        items,
    )


class OrdersState(SessionState):
    """The suggestion panel, one page of orders, the filters above them and the new-order dialog."""

    loading: bool = True
    suggestions_loading: bool = True
    rows: list[OrderLine] = []
    total: int = 0
    page: int = 1
    status_filter: str = "open"
    store_filter: str = ALL
    query: str = ""
    stores: list[Option] = []
    suppliers: list[Option] = []
    suggestions: list[SuggestionCard] = []
    creating: str = ""  # the suggestion card whose draft is being made

    dialog: str = ""  # "" | new
    field_errors: dict[str, str] = {}
    error_text: str = ""
    saving: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    def _store(self) -> int | None:
        return None if self.store_filter == ALL else int(self.store_filter)

    async def _reload(self):
        try:
            rows, total = await self._read(
                order_views.list_orders,
                status=self.status_filter,
                location_id=self._store(),
                query=self.query,
                offset=(self.page - 1) * PAGE_SIZE,
                limit=PAGE_SIZE,
            )
        except DomainError as error:
            self.loading = False
            return rx.toast.error(str(error))
        self.rows, self.total, self.loading = [_order_line(r) for r in rows], total, False
        return None

    async def _reload_suggestions(self):
        try:
            groups = await self._read(purchasing.suggested_orders, location_id=self._store())
        except DomainError as error:
            self.suggestions_loading = False
            return rx.toast.error(str(error))
        self.suggestions, self.suggestions_loading = [_card(g) for g in groups], False
        return None

    @rx.event
    @requires("inventory.read")
    async def load(self):
        self.loading, self.suggestions_loading, self.dialog, self.creating = True, True, "", ""
        yield
        try:
            self.stores = await load_stores(self)
        except DomainError as error:
            yield rx.toast.error(str(error))
            return
        if self.store_filter != ALL and self.store_filter not in {s.id for s in self.stores}:
            self.store_filter = ALL
        yield await self._reload_suggestions()
        yield await self._reload()

    @rx.event
    @requires("inventory.read")
    async def set_status_filter(self, value: str):
        if value not in order_views.STATUS_FILTERS:
            return rx.toast.error("Choose a status from the list.")
        self.status_filter, self.page = value, 1
        return await self._reload()

    @rx.event
    @requires("inventory.read")
    async def set_store_filter(self, value: str):
        if value != ALL and value not in {s.id for s in self.stores}:
            return rx.toast.error("Choose a store from the list.")
        self.store_filter, self.page = value, 1
        self.suggestions_loading = True
        problems = [await self._reload_suggestions(), await self._reload()]
        return [p for p in problems if p is not None] or None

    @rx.event
    @requires("inventory.read")
    async def set_query(self, value: str):
        value = value if isinstance(value, str) else ""
        if len(value) > MAX_QUERY:
            return rx.toast.error(f"Search for at most {MAX_QUERY} characters.")
        self.query, self.page = value, 1
        return await self._reload()

    @rx.event
    @requires("inventory.read")
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload)

    @rx.event
    @requires("inventory.read")
    async def refresh_suggestions(self):
        self.suggestions_loading = True
        yield
        yield await self._reload_suggestions()

    @rx.event
    @requires("inventory.manage")
    async def create_from_suggestion(self, card_id: str):
        card = next((c for c in self.suggestions if c.card_id == card_id), None)
        if card is None:
            yield rx.toast.error("That suggestion is no longer on this page. Refresh and try again.")
            return
        self.creating = card_id
        yield
        try:
            order = await self._run(
                purchasing.create_order_from_suggestion,
                location_id=card.location_id,
                supplier_id=card.supplier_id,
            )
        except DomainError as error:
            self.creating = ""
            yield rx.toast.error(str(error))
            yield await self._reload_suggestions()
            return
        self.creating = ""
        yield [
            rx.toast.success(
                f"Draft {order.reference} created for {card.supplier}: check it and ask for approval."
            ),
            rx.redirect(f"/inventory/orders/{order.id}"),
        ]

    # ------------------------------------------------------------------ a new order by hand

    @rx.event
    @requires("inventory.manage")
    async def open_new(self):
        try:
            self.suppliers = await load_suppliers(self)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.dialog, self.field_errors, self.error_text, self.saving = "new", {}, "", False
        return None

    @rx.event
    @requires("inventory.read")
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self.dialog, self.saving = "", False

    @rx.event
    @requires("inventory.read")
    async def close_dialog(self):
        self.dialog, self.saving = "", False

    @rx.event
    @requires("inventory.manage")
    async def submit_new(self, form: dict):
        errors = FieldErrors()
        supplier_id = errors.check(
            picked_id, text(form, "supplier_id"), self.suppliers, "supplier", "supplier_id"
        )
        location_id = errors.check(picked_id, text(form, "location_id"), self.stores, "store", "location_id")
        note = errors.check(text, form, "note")
        try:
            errors.raise_any()
        except ValidationError as error:
            self.field_errors, self.error_text = messages(error, NEW_ORDER_FIELDS)
            return
        self.saving = True
        yield
        try:
            order = await self._run(
                purchasing.create_order, supplier_id=supplier_id, location_id=location_id, note=note
            )
        except DomainError as error:
            self.saving = False
            self.field_errors, self.error_text = messages(error, NEW_ORDER_FIELDS)
            return
        self.dialog, self.saving = "", False
        yield [
            rx.toast.success(f"Draft {order.reference} created: add its lines."),
            rx.redirect(f"/inventory/orders/{order.id}"),
        ]
