"""Receive a delivery (/inventory/receive): the scan box, the line being entered, the delivery's
lines with what happened to each, and the Receive button."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.inventory.stock_ui import (
    WIDE_CELL,
    access_notice,
    field_error,
    labelled,
    stock_tabs,
    store_picker,
    table,
)
from hms_app.state.inventory.receive import ReceiptLine
from hms_app.state.inventory.receive import ReceiveState as S

SCAN_HINT = (
    "Point the scanner at the GS1 DataMatrix or GS1-128 code on the pack: the item, pack, lot, expiry "
    "and serial fill in. Typing the line under the code works too, e.g. (01)09506000134352(17)281231(10)A1."
)


def _error(name: str) -> rx.Component:
    return field_error(S.line_error_field, S.line_error, name)


def scan_box() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.hstack(
                rx.input(
                    rx.input.slot(rx.icon("scan-barcode", size=18)),
                    name="scan",
                    id="scan-box",
                    placeholder="Scan a barcode",
                    auto_focus=True,
                    auto_complete="off",
                    spell_check=False,
                    max_length=220,
                    size="3",
                    width="100%",
                    data_testid="scan-box",
                ),
                rx.button("Read", type="submit", size="3", variant="soft"),
                width="100%",
                spacing="2",
            ),
            rx.cond(
                S.scan_error != "",
                rx.text(S.scan_error, size="1", color=rx.color("red", 11), data_testid="scan-error"),
            ),
            rx.text(SCAN_HINT, size="1", color_scheme="gray"),
            spacing="1",
            width="100%",
        ),
        on_submit=S.scan,
        reset_on_submit=True,
        width="100%",
    )


def item_finder() -> rx.Component:
    return rx.vstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="No scanner? Find the item by code or name",
            on_change=S.search_items,
            debounce_timeout=300,
            max_length=60,
            width="100%",
            data_testid="receive-item-search",
        ),
        rx.foreach(
            S.item_options,
            lambda o: rx.button(
                o.label,
                type="button",
                variant="soft",
                color_scheme="gray",
                width="100%",
                justify_content="flex-start",
                on_click=S.choose_item(o.value),
                data_testid="receive-item-option",
            ),
        ),
        rx.cond(
            (S.item_query.length() >= 2) & (S.item_options.length() == 0),
            rx.text("No stocked item matches.", size="1", color_scheme="gray"),
        ),
        spacing="1",
        width="100%",
    )


def line_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.hstack(
                rx.badge(rx.icon("package", size=14), S.item_label, size="3", data_testid="line-item"),
                rx.button("Clear", type="button", size="1", variant="ghost", on_click=S.clear_line),
                align="center",
                wrap="wrap",
            ),
            _error("item"),
            rx.grid(
                labelled(
                    "Quantity",
                    rx.input(
                        name="quantity",
                        id="line-quantity",
                        default_value=S.quantity_text,
                        type="number",
                        min=1,
                        required=True,
                        width="100%",
                        data_testid="line-quantity",
                    ),
                    _error("quantity"),
                ),
                labelled(
                    "Counted in",
                    rx.select.root(
                        rx.select.trigger(width="100%", data_testid="line-pack"),
                        rx.select.content(
                            rx.foreach(S.packs, lambda c: rx.select.item(c.label, value=c.value))
                        ),
                        name="pack",
                        default_value=S.pack,
                    ),
                    _error("pack"),
                ),
                labelled(
                    "Lot",
                    rx.input(
                        name="lot_number",
                        default_value=S.lot,
                        max_length=40,
                        disabled=~S.track_lots,
                        placeholder=rx.cond(S.track_lots, "Printed after LOT", "Not tracked"),
                        width="100%",
                        data_testid="line-lot",
                    ),
                    _error("lot_number"),
                ),
                labelled(
                    "Expiry",
                    rx.input(
                        name="expiry_date",
                        type="date",
                        default_value=S.expiry,
                        disabled=~S.track_lots,
                        width="100%",
                        data_testid="line-expiry",
                    ),
                    _error("expiry_date"),
                ),
                labelled(
                    "Unit cost (optional)",
                    rx.input(
                        name="unit_cost",
                        default_value=S.cost_text,
                        inputmode="decimal",
                        placeholder="per " + S.unit,
                        max_length=12,
                        width="100%",
                        data_testid="line-cost",
                    ),
                    _error("unit_cost"),
                ),
                labelled(
                    "Serial (optional)",
                    rx.input(
                        name="serial",
                        default_value=S.serial,
                        max_length=40,
                        width="100%",
                        data_testid="line-serial",
                    ),
                    _error("serial"),
                ),
                columns=rx.breakpoints(initial="1", xs="2", md="3"),
                spacing="3",
                width="100%",
            ),
            rx.cond(
                (S.line_error != "") & (S.line_error_field == ""),
                rx.text(S.line_error, size="1", color=rx.color("red", 11)),
            ),
            rx.button(rx.icon("plus", size=16), "Add to the delivery", type="submit", data_testid="add-line"),
            spacing="3",
            width="100%",
            align="start",
        ),
        on_submit=S.add_line,
        reset_on_submit=False,
        key=S.scans.to_string(),
        width="100%",
    )


def status(line: ReceiptLine) -> rx.Component:
    return rx.match(
        line.status,
        ("done", rx.badge(rx.icon("check", size=12), "Received", color_scheme="green", variant="soft")),
        (
            "failed",
            rx.badge(rx.icon("circle-alert", size=12), "Not received", color_scheme="red", variant="soft"),
        ),
        rx.badge("Ready", color_scheme="gray", variant="outline"),
    )


def receipt_row(line: ReceiptLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.text(line.item, size="2", weight="medium"),
            rx.cond(
                line.message != "",
                rx.text(
                    line.message,
                    size="1",
                    color=rx.cond(line.status == "failed", rx.color("red", 11), rx.color("green", 11)),
                    data_testid="line-message",
                ),
            ),
        ),
        rx.table.cell(
            line.quantity.to_string() + " " + line.pack,
            rx.cond(
                line.pack != line.unit,
                rx.text("= ", line.base_quantity.to_string(), " ", line.unit, size="1", color_scheme="gray"),
            ),
            white_space="nowrap",
        ),
        rx.table.cell(rx.cond(line.lot != "", rx.code(line.lot, variant="ghost"), "–"), white_space="nowrap"),
        rx.table.cell(line.expiry_label, white_space="nowrap"),
        rx.table.cell(line.serial, display=WIDE_CELL),
        rx.table.cell(line.cost, display=WIDE_CELL),
        rx.table.cell(status(line)),
        rx.table.cell(
            rx.cond(
                line.status != "done",
                rx.hstack(
                    rx.tooltip(
                        rx.icon_button(
                            rx.icon("pencil", size=14),
                            size="1",
                            variant="soft",
                            on_click=S.edit_line(line.key),
                            disabled=S.item_id > 0,
                            aria_label="Correct the line",
                            data_testid="edit-line",
                        ),
                        content="Correct the line",
                    ),
                    rx.tooltip(
                        rx.icon_button(
                            rx.icon("x", size=14),
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            on_click=S.remove_line(line.key),
                            aria_label="Remove the line",
                        ),
                        content="Remove the line",
                    ),
                    spacing="2",
                ),
            )
        ),
        data_testid="receipt-line",
        custom_attrs={"data-status": line.status},
    )


def delivery() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Delivery", size="4"),
                rx.spacer(),
                rx.cond(
                    S.lines.length() > S.ready_count,
                    rx.button("Clear received lines", size="1", variant="ghost", on_click=S.clear_received),
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                S.lines.length() > 0,
                table(
                    ["Item", "Quantity", "Lot", "Expiry", "Serial", "Unit cost", "", ""],
                    rx.foreach(S.lines, receipt_row),
                    "receipt-lines",
                    wide=(4, 5),
                ),
                empty_state("Scan the first pack of the delivery.", icon="scan-barcode"),
            ),
            rx.form(
                rx.flex(
                    rx.input(
                        name="reference",
                        placeholder="Delivery note or invoice number (optional)",
                        max_length=40,
                        width="20rem",
                        data_testid="delivery-reference",
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("package-check", size=16),
                        "Receive ",
                        S.ready_count.to_string(),
                        rx.cond(S.ready_count == 1, " line", " lines"),
                        type="submit",
                        size="3",
                        loading=S.receiving,
                        disabled=S.ready_count == 0,
                        data_testid="receive",
                    ),
                    width="100%",
                    spacing="3",
                    wrap="wrap",
                    align="center",
                ),
                on_submit=S.receive,
                reset_on_submit=False,
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@staff_page("/inventory/receive", "Receive stock", S.load)
def receive_page() -> rx.Component:
    return rx.vstack(
        stock_tabs("/inventory/receive"),
        access_notice(
            "inventory.keep", "Your role does not receive stock: a storekeeper or pharmacist does."
        ),
        rx.cond(
            S.loading,
            skeleton_rows(4),
            rx.cond(
                S.stores.length() == 0,
                rx.card(empty_state("No store is yours to receive into.", icon="warehouse"), width="100%"),
                rx.vstack(
                    rx.card(
                        rx.vstack(
                            rx.flex(
                                rx.text("Into", size="2", weight="medium"),
                                store_picker(S, test_id="receive-store"),
                                spacing="3",
                                align="center",
                                wrap="wrap",
                            ),
                            scan_box(),
                            rx.cond(S.item_id > 0, line_form(), item_finder()),
                            spacing="3",
                            width="100%",
                        ),
                        width="100%",
                    ),
                    delivery(),
                    spacing="4",
                    width="100%",
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )
