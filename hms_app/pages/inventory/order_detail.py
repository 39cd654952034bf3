"""One purchase order (/inventory/orders/[order_id]): header, lines, receipts and the actions its
status allows."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.inventory.order_dialogs import (
    approve_dialog,
    cancel_dialog,
    close_dialog,
    line_dialog,
    receive_dialog,
    send_dialog,
)
from hms_app.pages.inventory.purchase_ui import (
    NUMBER,
    WIDE_CELL,
    back_link,
    fact,
    order_badge,
    problem,
    table,
)
from hms_app.state.inventory.order_detail import DetailLine, OrderState, ReceiptRow


def actions() -> rx.Component:
    status = OrderState.status
    return rx.flex(
        rx.cond(
            (status == "draft") & can("inventory.approve"),
            rx.cond(
                OrderState.is_creator,
                rx.tooltip(
                    rx.button(rx.icon("user-check", size=16), "Approve", disabled=True, variant="soft"),
                    content="You created this order: a second person approves it.",
                ),
                rx.button(
                    rx.icon("user-check", size=16),
                    "Approve",
                    on_click=OrderState.open_approve,
                    data_testid="approve-order",
                ),
            ),
        ),
        rx.cond(
            (status == "approved") & can("inventory.manage"),
            rx.button(
                rx.icon("send", size=16),
                "Mark as sent",
                on_click=OrderState.open_send,
                data_testid="send-order",
            ),
        ),
        rx.cond(
            ((status == "sent") | (status == "partly_received")) & can("inventory.keep"),
            rx.button(
                rx.icon("package-check", size=16),
                "Receive delivery",
                on_click=OrderState.open_receive,
                data_testid="receive-order",
            ),
        ),
        rx.cond(
            ((status == "sent") | (status == "partly_received") | (status == "received"))
            & can("inventory.manage"),
            rx.button(
                rx.icon("archive", size=16),
                rx.cond(status == "received", "Close", "Close short"),
                variant="soft",
                color_scheme="gray",
                on_click=OrderState.open_close,
                data_testid="close-order",
            ),
        ),
        rx.cond(
            ((status == "draft") | (status == "approved")) & can("inventory.manage"),
            rx.button(
                rx.icon("x", size=16),
                "Cancel order",
                variant="soft",
                color_scheme="red",
                on_click=OrderState.open_cancel,
                data_testid="cancel-order",
            ),
        ),
        spacing="2",
        wrap="wrap",
    )


def header_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.hstack(
                        rx.heading(OrderState.reference, size="6", data_testid="order-reference"),
                        rx.box(
                            order_badge(OrderState.status, OrderState.status_label),
                            data_testid="order-status",
                        ),
                        rx.cond(OrderState.overdue, rx.badge("Overdue", color_scheme="red", variant="solid")),
                        align="center",
                        spacing="3",
                    ),
                    rx.text(
                        OrderState.supplier,
                        " · deliver to ",
                        rx.text.strong(OrderState.store),
                        size="2",
                        color_scheme="gray",
                    ),
                    spacing="1",
                    align="start",
                ),
                rx.spacer(),
                actions(),
                width="100%",
                align="start",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(OrderState.note != "", rx.text(OrderState.note, size="2", font_style="italic")),
            rx.grid(
                fact("Created", OrderState.created + " · " + OrderState.created_by),
                fact(
                    "Approved",
                    rx.cond(
                        OrderState.approved != "", OrderState.approved + " · " + OrderState.approved_by, ""
                    ),
                ),
                fact("Sent", OrderState.sent),
                fact("Expected", OrderState.expected, "order-expected"),
                fact("Received", OrderState.received_at),
                fact(
                    rx.cond(OrderState.status == "cancelled", "Cancelled", "Closed"),
                    rx.cond(OrderState.closed != "", OrderState.closed + " · " + OrderState.closed_by, ""),
                ),
                fact("Reason", OrderState.close_reason),
                fact("Supplier lead time", OrderState.lead_time),
                fact("Value", OrderState.value, "order-value"),
                fact("Received so far", OrderState.received_value, "order-received-value"),
                columns=rx.breakpoints(initial="2", sm="3", lg="5"),
                spacing="4",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def line_row(line: DetailLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(line.name, size="2", weight="medium"),
            rx.text(line.code, size="1", color_scheme="gray"),
        ),
        rx.table.cell(line.ordered, **NUMBER),
        rx.table.cell(
            rx.hstack(
                rx.text(line.received),
                rx.cond(line.complete, rx.icon("circle-check", size=14, color=rx.color("green", 10))),
                spacing="1",
                justify="end",
                align="center",
            ),
            **NUMBER,
        ),
        rx.table.cell(line.outstanding, **NUMBER, display=WIDE_CELL),
        rx.table.cell(line.cost, **NUMBER),
        rx.table.cell(line.total, **NUMBER),
        rx.table.cell(
            rx.cond(
                (OrderState.status == "draft") & can("inventory.manage"),
                rx.hstack(
                    rx.icon_button(
                        rx.icon("pencil", size=14),
                        size="1",
                        variant="ghost",
                        aria_label="Change " + line.name,
                        on_click=OrderState.open_edit_line(line.id),
                        data_testid="edit-line-" + line.code,
                    ),
                    rx.icon_button(
                        rx.icon("trash-2", size=14),
                        size="1",
                        variant="ghost",
                        color_scheme="red",
                        aria_label="Remove " + line.name,
                        on_click=OrderState.remove_line(line.id),
                        data_testid="remove-line-" + line.code,
                    ),
                    spacing="2",
                    justify="end",
                ),
            ),
        ),
        data_testid="line-" + line.code,
    )


def receipt_row(row: ReceiptRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.when, white_space="nowrap"),
        rx.table.cell(rx.text(row.name, size="2"), rx.text(row.code, size="1", color_scheme="gray")),
        rx.table.cell(row.lot),
        rx.table.cell(row.expiry, white_space="nowrap"),
        rx.table.cell(row.quantity, **NUMBER),
        rx.table.cell(row.by, display=WIDE_CELL),
        rx.table.cell(row.note, display=WIDE_CELL),
        data_testid="receipt-row",
    )


def lines_card() -> rx.Component:
    draft = (OrderState.status == "draft") & can("inventory.manage")
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Lines", size="4"),
                rx.spacer(),
                rx.cond(
                    draft,
                    rx.button(
                        rx.icon("plus", size=16),
                        "Add line",
                        on_click=OrderState.open_add_line,
                        data_testid="add-line",
                    ),
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                OrderState.lines.length() > 0,
                table(
                    ["Item", "Ordered", "Received", "Outstanding", "Unit cost", "Total", ""],
                    rx.foreach(OrderState.lines, line_row),
                    "lines-table",
                    wide=(3,),
                    numeric=(1, 2, 3, 4, 5),
                ),
                empty_state("No lines yet: add what to order.", "list-plus"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def receipts_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Receipts", size="4"),
            rx.cond(
                OrderState.receipts.length() > 0,
                table(
                    ["When", "Item", "Lot", "Expiry", "Quantity", "By", "Note"],
                    rx.foreach(OrderState.receipts, receipt_row),
                    "receipts-table",
                    wide=(5, 6),
                    numeric=(4,),
                ),
                empty_state("Nothing received against this order yet.", "package-open"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@staff_page("/inventory/orders/[order_id]", "Purchase order", OrderState.load)
def order_page() -> rx.Component:
    return rx.vstack(
        back_link("Purchasing", "/inventory/orders"),
        rx.cond(
            OrderState.problem != "",
            problem(OrderState.problem, "/inventory/orders", "Back to purchasing"),
            rx.cond(
                OrderState.loaded,
                rx.vstack(
                    header_card(),
                    lines_card(),
                    receipts_card(),
                    line_dialog(),
                    approve_dialog(),
                    send_dialog(),
                    receive_dialog(),
                    close_dialog(),
                    cancel_dialog(),
                    spacing="4",
                    width="100%",
                ),
                skeleton_rows(8),
            ),
        ),
        spacing="4",
        width="100%",
    )
