"""Purchasing (/inventory/orders): what to order now, grouped by store and supplier, and the
purchase orders with their status."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows
from hms_app.pages.inventory.purchase_ui import (
    NUMBER,
    WIDE_CELL,
    buttons,
    dialog,
    form,
    labelled,
    order_badge,
    paged,
    select_filter,
    table,
)
from hms_app.state.inventory.orders import (
    STATUS_FILTERS,
    OrderLine,
    OrdersState,
    SuggestedItem,
    SuggestionCard,
)


def suggested_row(item: SuggestedItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(item.name, size="2", weight="medium"),
            rx.text(item.code, size="1", color_scheme="gray"),
        ),
        rx.table.cell(item.usable, **NUMBER),
        rx.table.cell(item.on_order, **NUMBER, display=WIDE_CELL),
        rx.table.cell(item.reorder + " / " + item.most, **NUMBER, display=WIDE_CELL),
        rx.table.cell(
            rx.text(item.quantity, weight="bold", size="2"),
            rx.cond(item.packs != "", rx.text(item.packs, size="1", color_scheme="gray")),
            **NUMBER,
        ),
        rx.table.cell(item.cost, **NUMBER, display=WIDE_CELL),
        data_testid="suggested-" + item.code,
    )


def suggestion_card(card: SuggestionCard) -> rx.Component:
    no_supplier = card.supplier_id == 0
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.hstack(
                        rx.icon(
                            rx.cond(no_supplier, "circle-help", "truck"),
                            size=16,
                            color=rx.color("accent", 10),
                        ),
                        rx.heading(card.supplier, size="3"),
                        align="center",
                        spacing="2",
                    ),
                    rx.text(
                        "Deliver to ",
                        rx.text.strong(card.store),
                        rx.cond(card.lead_time != "", " · " + card.lead_time, ""),
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="1",
                    align="start",
                ),
                rx.spacer(),
                rx.vstack(
                    rx.text("Estimated", size="1", color_scheme="gray"),
                    rx.text(card.total, size="3", weight="bold"),
                    spacing="0",
                    align="end",
                ),
                width="100%",
                align="start",
            ),
            table(
                ["Item", "Usable", "On order", "Reorder / max", "Order", "Unit cost"],
                rx.foreach(card.lines, suggested_row),
                "suggestion-table",
                wide=(2, 3, 5),
                numeric=(1, 2, 3, 4, 5),
            ),
            rx.cond(
                no_supplier,
                rx.text(
                    "These items have no supplier: set one in the catalogue, or order them by hand.",
                    size="1",
                    color_scheme="gray",
                ),
                rx.cond(
                    can("inventory.manage"),
                    rx.button(
                        rx.icon("file-plus", size=16),
                        "Create draft PO",
                        on_click=OrdersState.create_from_suggestion(card.card_id),
                        loading=OrdersState.creating == card.card_id,
                        disabled=OrdersState.creating != "",
                        data_testid="create-draft",
                    ),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="suggestion-" + card.card_id,
    )


def suggestions_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.heading("Suggested orders", size="4"),
                    rx.text(
                        "Items whose usable stock plus what is on order is at or below the reorder point, "
                        "topped up to the maximum in whole order packs.",
                        size="2",
                        color_scheme="gray",
                    ),
                    spacing="1",
                    align="start",
                ),
                rx.spacer(),
                rx.button(
                    rx.icon("refresh-cw", size=14),
                    "Refresh",
                    variant="soft",
                    size="2",
                    on_click=OrdersState.refresh_suggestions,
                    loading=OrdersState.suggestions_loading,
                ),
                width="100%",
                align="start",
                spacing="3",
            ),
            rx.cond(
                OrdersState.suggestions_loading,
                skeleton_rows(3),
                rx.cond(
                    OrdersState.suggestions.length() > 0,
                    rx.grid(
                        rx.foreach(OrdersState.suggestions, suggestion_card),
                        columns=rx.breakpoints(initial="1", xl="2"),
                        spacing="3",
                        width="100%",
                    ),
                    empty_state(
                        "Nothing needs ordering: every store is above its reorder points.", "circle-check"
                    ),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="suggestions",
    )


def order_row(row: OrderLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(row.reference, href="/inventory/orders/" + row.id.to_string(), weight="medium"),
            white_space="nowrap",
        ),
        rx.table.cell(row.supplier),
        rx.table.cell(row.store, display=WIDE_CELL),
        rx.table.cell(
            rx.hstack(
                order_badge(row.status, row.status_label),
                rx.cond(row.overdue, rx.badge("Overdue", color_scheme="red", variant="solid")),
                spacing="1",
            )
        ),
        rx.table.cell(
            rx.text(row.created, size="2", white_space="nowrap"),
            rx.text(row.created_by, size="1", color_scheme="gray"),
            display=WIDE_CELL,
        ),
        rx.table.cell(row.expected, white_space="nowrap"),
        rx.table.cell(row.lines.to_string(), **NUMBER, display=WIDE_CELL),
        rx.table.cell(row.value, **NUMBER),
        rx.table.cell(row.received, **NUMBER, display=WIDE_CELL),
        data_testid="order-" + row.reference,
    )


def orders_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Purchase orders", size="4"),
                rx.spacer(),
                rx.input(
                    rx.input.slot(rx.icon("search", size=14)),
                    placeholder="PO number or supplier",
                    on_change=OrdersState.set_query,
                    debounce_timeout=300,
                    max_length=60,
                    width="14rem",
                    data_testid="order-search",
                ),
                select_filter(
                    OrdersState.status_filter,
                    STATUS_FILTERS,
                    OrdersState.set_status_filter,
                    "order-status",
                    width="10rem",
                ),
                rx.cond(
                    can("inventory.manage"),
                    rx.button(
                        rx.icon("plus", size=16),
                        "New order",
                        on_click=OrdersState.open_new,
                        data_testid="new-order",
                    ),
                ),
                width="100%",
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            paged(
                OrdersState.loading,
                OrdersState.rows,
                rx.vstack(
                    table(
                        [
                            "Order",
                            "Supplier",
                            "Store",
                            "Status",
                            "Created",
                            "Expected",
                            "Lines",
                            "Value",
                            "Received",
                        ],
                        rx.foreach(OrdersState.rows, order_row),
                        "orders-table",
                        wide=(2, 4, 6, 8),
                        numeric=(6, 7, 8),
                    ),
                    pager(
                        OrdersState.page,
                        OrdersState.page_count,
                        OrdersState.total,
                        OrdersState.move(-1),
                        OrdersState.move(1),
                        "orders",
                    ),
                    width="100%",
                ),
                empty_state("No purchase orders match.", "shopping-cart"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def new_order_dialog() -> rx.Component:
    errors = OrdersState.field_errors
    return dialog(
        "new-order",
        "New purchase order",
        "A draft to a supplier for one store. Add its lines next; a second person approves it.",
        form(
            labelled(
                "Supplier",
                rx.select.root(
                    rx.select.trigger(
                        width="100%", placeholder="Choose the supplier", data_testid="new-supplier"
                    ),
                    rx.select.content(
                        rx.foreach(OrdersState.suppliers, lambda o: rx.select.item(o.label, value=o.id))
                    ),
                    name="supplier_id",
                ),
                errors,
                "supplier_id",
            ),
            labelled(
                "Deliver to",
                rx.select.root(
                    rx.select.trigger(width="100%", placeholder="Choose the store", data_testid="new-store"),
                    rx.select.content(
                        rx.foreach(OrdersState.stores, lambda o: rx.select.item(o.label, value=o.id))
                    ),
                    name="location_id",
                ),
                errors,
                "location_id",
            ),
            labelled(
                "Note (optional)",
                rx.input(name="note", max_length=300, width="100%", placeholder="e.g. Quote 2026-114"),
                errors,
                "note",
            ),
            error=OrdersState.error_text,
            footer=buttons("Create draft", OrdersState.close_dialog, OrdersState.saving, icon="file-plus"),
            on_submit=OrdersState.submit_new,
        ),
        OrdersState.dialog == "new",
        OrdersState.on_dialog_change,
    )


@staff_page("/inventory/orders", "Purchasing", OrdersState.load)
def orders_page() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.text("Store", size="2", color_scheme="gray"),
            select_filter(
                OrdersState.store_filter,
                OrdersState.stores,
                OrdersState.set_store_filter,
                "store-filter",
                all_label="Every store",
                width="16rem",
            ),
            rx.spacer(),
            rx.link(
                rx.button(rx.icon("truck", size=16), "Suppliers", variant="soft"),
                href="/inventory/suppliers",
            ),
            align="center",
            spacing="2",
            width="100%",
            wrap="wrap",
        ),
        suggestions_panel(),
        orders_panel(),
        new_order_dialog(),
        spacing="4",
        width="100%",
    )
