"""The dialogs over one purchase order: a line (add or change, while a draft), approve, mark as
sent, receive a delivery with lot and expiry per line, close (short) and cancel."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.inventory.purchase_ui import (
    buttons,
    confirm_buttons,
    dialog,
    error_line,
    field_message,
    form,
    item_picker,
    labelled,
    reason_box,
)
from hms_app.state.inventory.order_detail import OVER_TOLERANCE, DetailLine, OrderState

ERRORS = OrderState.field_errors


def line_dialog() -> rx.Component:
    return dialog(
        "line",
        rx.cond(OrderState.line_id != 0, "Change a line", "Add a line"),
        "Quantities are in the item's base unit; the unit cost is what one base unit costs.",
        form(
            rx.cond(
                OrderState.line_id != 0,
                labelled("Item", rx.text(OrderState.line_item, weight="medium")),
                item_picker(
                    OrderState.line_item,
                    OrderState.item_options,
                    OrderState.search_item,
                    OrderState.choose_item,
                    OrderState.clear_item,
                    ERRORS,
                    "line-item",
                ),
            ),
            rx.grid(
                labelled(
                    "Quantity" + rx.cond(OrderState.line_unit != "", " (" + OrderState.line_unit + ")", ""),
                    rx.input(
                        name="quantity",
                        default_value=OrderState.line_quantity,
                        inputmode="numeric",
                        required=True,
                        width="100%",
                        data_testid="line-quantity",
                    ),
                    ERRORS,
                    "quantity",
                ),
                labelled(
                    "Unit cost ($)",
                    rx.input(
                        name="unit_cost",
                        default_value=OrderState.line_cost,
                        inputmode="decimal",
                        placeholder="0.00",
                        width="100%",
                        data_testid="line-cost",
                    ),
                    ERRORS,
                    "unit_cost",
                ),
                columns="2",
                spacing="3",
                width="100%",
                # A new key when another item is chosen: the fields take its defaults.
                key=OrderState.line_item_id.to_string(),
            ),
            error=OrderState.error_text,
            footer=buttons(
                rx.cond(OrderState.line_id != 0, "Save line", "Add line"),
                OrderState.close_dialog,
                OrderState.saving,
            ),
            on_submit=OrderState.submit_line,
        ),
        OrderState.dialog == "line",
        OrderState.on_dialog_change,
    )


def approve_dialog() -> rx.Component:
    return dialog(
        "approve",
        "Approve " + OrderState.reference,
        "You approve as the second person: the order can then be sent to the supplier.",
        rx.vstack(
            rx.text(
                OrderState.supplier,
                " · ",
                OrderState.lines.length().to_string(),
                " line(s) · ",
                rx.text.strong(OrderState.value),
                size="2",
            ),
            rx.text(
                "Created by ",
                OrderState.created_by,
                " on ",
                OrderState.created,
                ".",
                size="2",
                color_scheme="gray",
            ),
            error_line(OrderState.error_text),
            confirm_buttons(
                "Approve", OrderState.close_dialog, OrderState.confirm_approve, OrderState.saving
            ),
            spacing="3",
            width="100%",
        ),
        OrderState.dialog == "approve",
        OrderState.on_dialog_change,
    )


def send_dialog() -> rx.Component:
    return dialog(
        "send",
        "Mark " + OrderState.reference + " as sent",
        "Record that the order went to "
        + OrderState.supplier
        + ". It is expected after the supplier's lead time ("
        + OrderState.lead_time
        + ").",
        rx.vstack(
            error_line(OrderState.error_text),
            confirm_buttons(
                "Mark as sent", OrderState.close_dialog, OrderState.confirm_send, OrderState.saving
            ),
            spacing="3",
            width="100%",
        ),
        OrderState.dialog == "send",
        OrderState.on_dialog_change,
    )


def _receive_line(line: DetailLine) -> rx.Component:
    quantity = "quantity:" + line.id.to_string()
    lot = "lot_number:" + line.id.to_string()
    expiry = "expiry_date:" + line.id.to_string()
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.text(line.name, weight="medium", size="2"),
                    rx.text(
                        line.code,
                        " · ordered ",
                        line.ordered,
                        ", received ",
                        line.received,
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="0",
                    align="start",
                ),
                rx.spacer(),
                rx.text("Outstanding ", rx.text.strong(line.outstanding), size="2", white_space="nowrap"),
                width="100%",
                align="start",
                spacing="2",
            ),
            rx.grid(
                rx.vstack(
                    rx.text("Received now (" + line.unit + ")", size="1", weight="medium"),
                    rx.input(
                        name=quantity,
                        default_value=line.outstanding_n.to_string(),
                        inputmode="numeric",
                        width="100%",
                        data_testid="receive-quantity-" + line.code,
                    ),
                    spacing="1",
                    width="100%",
                ),
                rx.cond(
                    line.tracked,
                    rx.vstack(
                        rx.text("Lot", size="1", weight="medium"),
                        rx.input(
                            name=lot, max_length=40, width="100%", data_testid="receive-lot-" + line.code
                        ),
                        spacing="1",
                        width="100%",
                    ),
                    rx.text("No lot tracking", size="1", color_scheme="gray", padding_top="1.4rem"),
                ),
                rx.cond(
                    line.tracked,
                    rx.vstack(
                        rx.text("Expiry", size="1", weight="medium"),
                        rx.input(
                            name=expiry, type="date", width="100%", data_testid="receive-expiry-" + line.code
                        ),
                        spacing="1",
                        width="100%",
                    ),
                ),
                columns="3",
                spacing="3",
                width="100%",
            ),
            # The line's messages under the whole row: they name what to do and need the width.
            field_message(ERRORS, quantity),
            field_message(ERRORS, lot),
            field_message(ERRORS, expiry),
            spacing="2",
            width="100%",
        ),
        variant="surface",
        width="100%",
        data_testid="receive-line-" + line.code,
    )


def receive_dialog() -> rx.Component:
    return dialog(
        "receive",
        "Receive a delivery against " + OrderState.reference,
        "Enter what came of each line (leave 0 for what did not) with the lot and expiry on the label. "
        "The stock, the order and the expense are recorded together.",
        form(
            rx.vstack(rx.foreach(OrderState.waiting_lines, _receive_line), spacing="2", width="100%"),
            labelled(
                "Delivery note (optional)",
                rx.input(name="delivery_note", max_length=60, width="100%", data_testid="delivery-note"),
            ),
            rx.vstack(
                rx.checkbox(
                    f"Accept an over-delivery (more than {OVER_TOLERANCE}% over what was ordered)",
                    checked=OrderState.accept_over,
                    on_change=OrderState.set_accept_over,
                    data_testid="accept-over",
                ),
                rx.cond(
                    OrderState.accept_over,
                    reason_box(ERRORS, "e.g. Supplier ships whole cases of 12; agreed by phone"),
                ),
                spacing="2",
                width="100%",
            ),
            error=OrderState.error_text,
            footer=buttons("Receive", OrderState.close_dialog, OrderState.saving, icon="package-check"),
            on_submit=OrderState.submit_receive,
        ),
        OrderState.dialog == "receive",
        OrderState.on_dialog_change,
        width="44rem",
    )


def close_dialog() -> rx.Component:
    short = OrderState.status != "received"
    return dialog(
        "close",
        rx.cond(short, "Close " + OrderState.reference + " short", "Close " + OrderState.reference),
        rx.cond(
            short,
            "Nothing more will be received against it: what is still outstanding is no longer on order.",
            "Everything was received: the order is done.",
        ),
        form(
            reason_box(
                ERRORS,
                "e.g. The supplier cannot deliver the rest",
                label=rx.cond(short, "Reason", "Note (optional)"),
                required=False,
            ),
            error=OrderState.error_text,
            footer=buttons("Close order", OrderState.close_dialog, OrderState.saving, color="gray"),
            on_submit=OrderState.submit_close,
        ),
        OrderState.dialog == "close",
        OrderState.on_dialog_change,
    )


def cancel_dialog() -> rx.Component:
    return dialog(
        "cancel",
        "Cancel " + OrderState.reference,
        "An order not yet sent is cancelled; it stays on the list, marked cancelled.",
        form(
            reason_box(ERRORS, "e.g. Ordered twice by mistake"),
            error=OrderState.error_text,
            footer=buttons("Cancel order", OrderState.close_dialog, OrderState.saving, color="red"),
            on_submit=OrderState.submit_cancel,
        ),
        OrderState.dialog == "cancel",
        OrderState.on_dialog_change,
    )
