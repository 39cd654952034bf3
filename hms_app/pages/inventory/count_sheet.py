"""One count sheet (/inventory/counts/[count_id]): the lines to count with the frozen book and the
moves since, the counted quantities, the variances and their review by a second person."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows, stat_card
from hms_app.pages.inventory.purchase_ui import (
    NUMBER,
    WIDE_CELL,
    back_link,
    buttons,
    confirm_buttons,
    count_badge,
    dialog,
    error_line,
    fact,
    form,
    item_picker,
    labelled,
    problem,
    reason_box,
    select_filter,
    table,
)
from hms_app.state.inventory.count_sheet import SHOW_FILTERS, CountSheetState, SheetRow

S = CountSheetState
ERRORS = S.field_errors


def counted_cell(row: SheetRow) -> rx.Component:
    error = S.line_errors[row.id.to_string()]
    return rx.cond(
        (S.status == "counting") & can("inventory.keep"),
        rx.vstack(
            rx.input(
                default_value=row.counted,
                inputmode="numeric",
                placeholder="—",
                width="6rem",
                text_align="right",
                on_blur=lambda value: S.save_line(row.id, value),
                color_scheme=rx.cond(S.line_errors.contains(row.id.to_string()), "red", "gray"),
                aria_label="Counted " + row.name + " " + row.lot,
                data_testid="counted-" + row.code + "-" + row.lot,
            ),
            rx.cond(
                S.line_errors.contains(row.id.to_string()),
                rx.text(error, size="1", color=rx.color("red", 11), max_width="14rem", white_space="normal"),
            ),
            spacing="1",
            align="end",
        ),
        rx.text(rx.cond(row.is_counted, row.counted, "—")),
    )


def variance_cell(row: SheetRow) -> rx.Component:
    return rx.cond(
        row.is_counted,
        rx.text(
            row.variance,
            weight=rx.cond(row.variance_n != 0, "bold", "regular"),
            color=rx.cond(
                row.variance_n < 0,
                rx.color("red", 11),
                rx.cond(row.variance_n > 0, rx.color("green", 11), rx.color("gray", 11)),
            ),
        ),
        rx.text(""),
    )


def sheet_row(row: SheetRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.bin, display=WIDE_CELL),
        rx.table.cell(
            rx.text(row.name, size="2", weight="medium"), rx.text(row.code, size="1", color_scheme="gray")
        ),
        rx.table.cell(
            rx.text(rx.cond(row.lot != "", row.lot, "untracked"), size="2"),
            rx.cond(row.expiry != "", rx.text("exp. " + row.expiry, size="1", color_scheme="gray")),
        ),
        rx.table.cell(row.book, **NUMBER),
        rx.table.cell(row.moved, **NUMBER, color=rx.color("gray", 11)),
        rx.table.cell(counted_cell(row), **NUMBER),
        rx.table.cell(variance_cell(row), **NUMBER),
        rx.table.cell(row.value, **NUMBER, display=WIDE_CELL),
        rx.table.cell(row.counted_by, display=WIDE_CELL),
        align="center",
        data_testid="sheet-" + row.code + "-" + row.lot,
    )


def actions() -> rx.Component:
    counting = (S.status == "counting") & can("inventory.keep")
    reviewing = (S.status == "submitted") & can("inventory.approve")
    return rx.flex(
        rx.cond(
            counting,
            rx.fragment(
                rx.button(
                    rx.icon("plus", size=16),
                    "Add a found lot",
                    variant="soft",
                    on_click=S.open_found,
                    data_testid="add-found",
                ),
                rx.button(
                    rx.icon("send", size=16),
                    "Submit for approval",
                    on_click=S.open_submit,
                    data_testid="submit-count",
                ),
            ),
        ),
        rx.cond(
            reviewing,
            rx.fragment(
                rx.cond(
                    S.counted_by_me,
                    rx.tooltip(
                        rx.button(
                            rx.icon("user-check", size=16), "Approve variances", disabled=True, variant="soft"
                        ),
                        content="You counted this sheet: a second person approves it.",
                    ),
                    rx.button(
                        rx.icon("user-check", size=16),
                        "Approve variances",
                        on_click=S.open_approve,
                        data_testid="approve-count",
                    ),
                ),
                rx.button(
                    rx.icon("undo-2", size=16),
                    "Send back",
                    variant="soft",
                    on_click=S.open_return,
                    data_testid="return-count",
                ),
            ),
        ),
        rx.cond(
            ((S.status == "counting") | (S.status == "submitted"))
            & (can("inventory.keep") | can("inventory.approve")),
            rx.button(
                rx.icon("x", size=16),
                "Cancel count",
                variant="soft",
                color_scheme="red",
                on_click=S.open_cancel,
                data_testid="cancel-count",
            ),
        ),
        spacing="2",
        wrap="wrap",
    )


def header() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.hstack(
                        rx.heading(S.reference, size="6", data_testid="count-reference"),
                        rx.box(count_badge(S.status, S.status_label), data_testid="count-status"),
                        align="center",
                        spacing="3",
                    ),
                    rx.text(S.kind_label, " of ", rx.text.strong(S.store), size="2", color_scheme="gray"),
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
            rx.grid(
                fact("Started (book frozen)", S.started + " · " + S.started_by),
                fact("Submitted", rx.cond(S.submitted != "", S.submitted + " · " + S.submitted_by, "")),
                fact("Approved", rx.cond(S.approved != "", S.approved + " · " + S.approved_by, "")),
                fact("Counted by", S.counters.join(", ")),
                columns=rx.breakpoints(initial="2", lg="4"),
                spacing="4",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def figures() -> rx.Component:
    return rx.grid(
        stat_card("Lines", S.lines.to_string(), "lots on the sheet", "list", "count-lines"),
        stat_card(
            "Counted", S.counted.to_string(), "of " + S.lines.to_string(), "clipboard-check", "count-counted"
        ),
        stat_card(
            "Variances", S.variances.to_string(), "counted ≠ expected", "triangle-alert", "count-variances"
        ),
        stat_card("Net value", S.net_value, "of the variances", "scale", "count-value"),
        columns=rx.breakpoints(initial="2", lg="4"),
        spacing="3",
        width="100%",
    )


def sheet() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.heading("Count sheet", size="4"),
                    rx.text(
                        "Variance = counted − (book + moves since the snapshot, up to the counting).",
                        rx.cond(S.status == "counting", " A count is saved when you leave its field.", ""),
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="1",
                    align="start",
                ),
                rx.spacer(),
                select_filter(S.show, SHOW_FILTERS, S.set_show, "sheet-filter", width="11rem"),
                width="100%",
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                S.rows.length() > 0,
                rx.vstack(
                    table(
                        ["Bin", "Item", "Lot", "Book", "Moves since", "Counted", "Variance", "Value", "By"],
                        rx.foreach(S.rows, sheet_row),
                        "sheet-table",
                        wide=(0, 7, 8),
                        numeric=(3, 4, 5, 6, 7),
                    ),
                    pager(S.page, S.page_count, S.shown, S.move(-1), S.move(1), "lines"),
                    width="100%",
                ),
                empty_state("No lines to show here.", "clipboard-check"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def found_dialog() -> rx.Component:
    return dialog(
        "found",
        "Add a found lot",
        "A lot on the shelf that is not on the sheet: its book is 0, so all of it is a find.",
        form(
            item_picker(
                S.found_item, S.item_options, S.search_item, S.choose_item, S.clear_item, ERRORS, "found-item"
            ),
            rx.cond(
                S.found_tracked,
                rx.grid(
                    labelled(
                        "Lot",
                        rx.input(name="lot_number", max_length=40, width="100%", data_testid="found-lot"),
                        ERRORS,
                        "lot_number",
                    ),
                    labelled(
                        "Expiry (for a new lot)",
                        rx.input(name="expiry_date", type="date", width="100%", data_testid="found-expiry"),
                        ERRORS,
                        "expiry_date",
                    ),
                    columns="2",
                    spacing="3",
                    width="100%",
                ),
            ),
            labelled(
                "Counted",
                rx.input(
                    name="counted",
                    inputmode="numeric",
                    required=True,
                    width="8rem",
                    data_testid="found-counted",
                ),
                ERRORS,
                "counted",
            ),
            error=S.error_text,
            footer=buttons("Add to the sheet", S.close_dialog, S.saving),
            on_submit=S.submit_found,
        ),
        S.dialog == "found",
        S.on_dialog_change,
    )


def confirm_dialog(
    name: str, title, description, label: str, on_confirm, color: str = "teal"
) -> rx.Component:
    return dialog(
        name,
        title,
        description,
        rx.vstack(
            error_line(S.error_text),
            confirm_buttons(label, S.close_dialog, on_confirm, S.saving, color),
            spacing="3",
            width="100%",
        ),
        S.dialog == name,
        S.on_dialog_change,
    )


def reason_dialog(
    name: str, title, description, label: str, placeholder: str, on_submit, color: str
) -> rx.Component:
    return dialog(
        name,
        title,
        description,
        form(
            reason_box(ERRORS, placeholder),
            error=S.error_text,
            footer=buttons(label, S.close_dialog, S.saving, color=color),
            on_submit=on_submit,
        ),
        S.dialog == name,
        S.on_dialog_change,
    )


@staff_page("/inventory/counts/[count_id]", "Stock count", S.load)
def count_sheet_page() -> rx.Component:
    return rx.vstack(
        back_link("Stock counts", "/inventory/counts"),
        rx.cond(
            S.problem != "",
            problem(S.problem, "/inventory/counts", "Back to the stock counts"),
            rx.cond(
                S.loaded,
                rx.vstack(
                    header(),
                    figures(),
                    sheet(),
                    found_dialog(),
                    confirm_dialog(
                        "submit",
                        "Submit " + S.reference,
                        "Every line is counted. A second person reviews the variances and approves them.",
                        "Submit",
                        S.confirm_submit,
                    ),
                    confirm_dialog(
                        "approve",
                        "Approve the variances of " + S.reference,
                        S.variances.to_string()
                        + " variance(s) worth "
                        + S.net_value
                        + " net are posted to the stock of "
                        + S.store
                        + " together.",
                        "Approve and post",
                        S.confirm_approve,
                    ),
                    reason_dialog(
                        "return",
                        "Send " + S.reference + " back",
                        "The counter counts again; nothing is posted.",
                        "Send back",
                        "e.g. Recount the syringes on shelf B2",
                        S.submit_return,
                        "amber",
                    ),
                    reason_dialog(
                        "cancel",
                        "Cancel " + S.reference,
                        "The count is abandoned: nothing is posted.",
                        "Cancel count",
                        "e.g. Started on the wrong store",
                        S.submit_cancel,
                        "red",
                    ),
                    spacing="4",
                    width="100%",
                ),
                skeleton_rows(10),
            ),
        ),
        spacing="4",
        width="100%",
    )
