"""The laboratory worklist (/lab): the queues, the filters, the result-entry grid (Enter saves and
moves on), the results just entered with their flags, and verification of ticked results. It
changes by itself when anyone collects, receives, enters or verifies."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows
from hms_app.pages.boards.common import live_note
from hms_app.pages.laboratory.common import (
    WIDE_CELL,
    error_line,
    flag_badge,
    lab_tabs,
    patient_cell,
    priority_badge,
    table,
)
from hms_app.state.laboratory.worklist import ALL_PRIORITIES, VIEWS, Entered, WorkLine
from hms_app.state.laboratory.worklist import WorklistState as S

EMPTY = {
    "collect": "No specimen is waiting to be collected.",
    "open": "Nothing is waiting for a result.",
    "to_verify": "No result is waiting for verification.",
    "all": "No orders match.",
}


def view_switch() -> rx.Component:
    def item(view: str, label: str) -> rx.Component:
        count = S.queue_counts[view]
        return rx.segmented_control.item(
            rx.hstack(
                rx.text(label),
                rx.cond(count > 0, rx.badge(count, variant="soft", radius="full", size="1"))
                if view != "all"
                else rx.fragment(),
                spacing="2",
                align="center",
            ),
            value=view,
            data_testid="view-" + view,
        )

    return rx.segmented_control.root(
        *[item(view, label) for view, label in VIEWS.items()],
        value=S.view,
        on_change=S.set_view,
        data_testid="worklist-views",
    )


def filters() -> rx.Component:
    return rx.flex(
        view_switch(),
        rx.select.root(
            rx.select.trigger(min_width="9rem", data_testid="priority-filter"),
            rx.select.content(
                rx.select.item("Every priority", value=ALL_PRIORITIES),
                rx.select.item("STAT", value="stat"),
                rx.select.item("Urgent", value="urgent"),
                rx.select.item("Routine", value="routine"),
            ),
            value=S.priority,
            on_change=S.set_priority,
        ),
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="Patient, MRN, accession or test",
            default_value=S.query,
            on_change=S.search.debounce(350),
            max_length=60,
            min_width="16rem",
            flex="1",
            data_testid="worklist-search",
        ),
        rx.spacer(),
        live_note(S.updated_at),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


def stat_banner() -> rx.Component:
    return rx.cond(
        S.stat_open > 0,
        rx.callout(
            rx.text(
                rx.text.strong(
                    S.stat_open.to_string() + rx.cond(S.stat_open == 1, " STAT order", " STAT orders")
                ),
                " in the lab waiting for a result: they are at the top of the list.",
            ),
            icon="zap",
            color_scheme="red",
            size="1",
            width="100%",
            data_testid="stat-banner",
        ),
    )


def result_input(row: WorkLine) -> rx.Component:
    """The row's entry: a list for a coded test (choosing saves), else an input (Enter saves)."""
    invalid = S.row_errors.contains(row.order_id.to_string())
    return rx.vstack(
        rx.cond(
            row.kind == "coded",
            rx.select.root(
                rx.select.trigger(
                    placeholder="Choose…",
                    custom_attrs={"data-entry": row.input_id},
                    width="11rem",
                    color_scheme=rx.cond(invalid, "red", "gray"),
                    data_testid="result-" + row.accession + "-" + row.test_code,
                ),
                rx.select.content(
                    rx.foreach(row.choices, lambda choice: rx.select.item(choice, value=choice))
                ),
                default_value=row.value,
                on_change=lambda value: S.choose(row.order_id, value),
                key=row.key,
            ),
            rx.form(
                rx.el.input(type="hidden", name="order_id", value=row.order_id.to_string()),
                rx.input(
                    rx.cond(row.unit != "", rx.input.slot(rx.text(row.unit, size="1"), side="right")),
                    name="value",
                    custom_attrs={"data-entry": row.input_id},
                    default_value=row.value,
                    placeholder=rx.cond(row.kind == "numeric", "number", "result"),
                    input_mode=rx.cond(row.kind == "numeric", "decimal", "text"),
                    auto_complete="off",
                    spell_check=False,
                    max_length=rx.cond(row.kind == "numeric", 16, 500),
                    width=rx.cond(row.kind == "numeric", "9rem", "16rem"),
                    color_scheme=rx.cond(invalid, "red", "gray"),
                    aria_label="Result of " + row.test + " for " + row.patient_name,
                    data_testid="result-" + row.accession + "-" + row.test_code,
                    key=row.key,
                ),
                on_submit=S.enter,
                reset_on_submit=False,
            ),
        ),
        rx.cond(invalid, error_line(S.row_errors[row.order_id.to_string()])),
        spacing="1",
        align="start",
    )


def result_cell(row: WorkLine) -> rx.Component:
    shown = rx.hstack(
        rx.text(rx.cond(row.value != "", row.value, "—"), weight="medium"),
        rx.cond(row.value != "", rx.text(row.unit, size="1", color_scheme="gray")),
        spacing="1",
        align="baseline",
    )
    return rx.cond(row.enterable & can("lab.work"), result_input(row), shown)


def tick_cell(row: WorkLine) -> rx.Component:
    return rx.table.cell(
        rx.cond(
            (row.status == "resulted") & (row.result_id > 0),
            rx.checkbox(
                checked=S.selected.contains(row.result_id),
                on_change=lambda checked: S.tick(row.result_id, checked),
                aria_label="Verify " + row.test + " of " + row.patient_name,
                data_testid="tick-" + row.accession + "-" + row.test_code,
            ),
        ),
        width="2.5rem",
    )


def who_cell(row: WorkLine) -> rx.Component:
    return rx.table.cell(
        rx.vstack(
            rx.text(row.status_label, size="2"),
            rx.cond(
                row.entered_by != "",
                rx.hstack(
                    rx.text("by " + row.entered_by, size="1", color_scheme="gray"),
                    rx.cond(row.mine, rx.badge("you", size="1", variant="soft", color_scheme="blue")),
                    spacing="1",
                    align="center",
                ),
            ),
            spacing="0",
        ),
    )


def work_row(row: WorkLine) -> rx.Component:
    return rx.table.row(
        rx.cond(S.view == "to_verify", tick_cell(row)),
        rx.table.cell(priority_badge(row.priority, row.priority_label)),
        rx.table.cell(
            rx.vstack(
                rx.code(rx.cond(row.accession != "", row.accession, "—"), variant="ghost", size="2"),
                rx.text(row.reference, size="1", color_scheme="gray"),
                spacing="0",
            ),
            white_space="nowrap",
        ),
        rx.table.cell(patient_cell(row.patient_name, row.mrn)),
        rx.table.cell(
            rx.text(row.test, size="2", weight="bold"),
            rx.text(row.test_code, size="1", color_scheme="gray"),
        ),
        rx.table.cell(result_cell(row)),
        rx.table.cell(flag_badge(row.flag, row.flag_label)),
        who_cell(row),
        rx.table.cell(
            rx.text(rx.cond(row.received != "", row.received, row.ordered), size="2"),
            rx.text(rx.cond(row.received != "", "received", "ordered"), size="1", color_scheme="gray"),
            display=WIDE_CELL,
            white_space="nowrap",
        ),
        align="center",
        background=rx.cond(row.stat, rx.color("red", 2), "transparent"),
        box_shadow=rx.cond(row.stat, f"inset 4px 0 0 {rx.color('red', 9)}", "none"),
        data_testid="work-" + row.accession + "-" + row.test_code,
        custom_attrs={"data-flag": row.flag, "data-status": row.status},
    )


def grid() -> rx.Component:
    headings = ["Priority", "Specimen", "Patient", "Test", "Result", "Flag", "Status", "When"]
    return rx.cond(
        S.view == "to_verify",
        table(["", *headings], rx.foreach(S.rows, work_row), "worklist-table", wide=(8,)),
        table(headings, rx.foreach(S.rows, work_row), "worklist-table", wide=(7,)),
    )


def verify_bar() -> rx.Component:
    count = S.selected.length()
    return rx.cond(
        (S.view == "to_verify") & can("lab.verify") & (S.rows.length() > 0),
        rx.card(
            rx.flex(
                rx.checkbox(
                    "Tick every result on this page",
                    checked=S.all_selected,
                    on_change=S.tick_all,
                    data_testid="tick-all",
                ),
                rx.spacer(),
                rx.text(
                    "A result is verified by someone other than who entered it.",
                    size="1",
                    color_scheme="gray",
                ),
                rx.button(
                    rx.icon("badge-check", size=16),
                    "Verify and release",
                    rx.cond(count > 0, rx.badge(count, variant="solid", color_scheme="gray", radius="full")),
                    on_click=S.verify,
                    loading=S.verifying,
                    disabled=count == 0,
                    data_testid="verify-release",
                ),
                spacing="3",
                align="center",
                wrap="wrap",
                width="100%",
            ),
            width="100%",
        ),
    )


def entered_item(entry: Entered) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(entry.test, " ", rx.text.strong(entry.value), size="2"),
            rx.text(entry.patient_name, " · ", entry.accession, size="1", color_scheme="gray"),
            spacing="0",
        ),
        rx.spacer(),
        flag_badge(entry.flag, entry.flag_label, size="1"),
        width="100%",
        align="center",
        data_testid="entered-" + entry.accession,
    )


def entered_panel() -> rx.Component:
    return rx.cond(
        S.recent.length() > 0,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("history", size=16),
                    rx.heading("Entered just now", size="3"),
                    rx.text("waiting for a second person to verify", size="1", color_scheme="gray"),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                rx.grid(
                    rx.foreach(S.recent, entered_item),
                    columns=rx.breakpoints(initial="1", sm="2", lg="4"),
                    spacing_x="5",
                    spacing_y="2",
                    width="100%",
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
            data_testid="entered-panel",
        ),
    )


def entry_hint() -> rx.Component:
    return rx.cond(
        ((S.view == "open") | (S.view == "all")) & can("lab.work") & (S.rows.length() > 0),
        rx.text(
            "Type a result and press Enter: it is saved, flagged against the patient's range and the "
            "next row is ready. Coded results are saved when chosen.",
            size="1",
            color_scheme="gray",
        ),
    )


def body() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.vstack(
            stat_banner(),
            entered_panel(),
            verify_bar(),
            rx.cond(
                S.rows.length() > 0,
                rx.vstack(
                    entry_hint(),
                    grid(),
                    pager(S.page, S.page_count, S.total, S.move(-1), S.move(1), "orders"),
                    spacing="2",
                    width="100%",
                ),
                rx.card(
                    empty_state(
                        rx.cond(
                            S.query != "",
                            "No order in this list matches “" + S.query + "”.",
                            rx.match(S.view, *EMPTY.items(), "No orders match."),
                        ),
                        icon="flask-conical",
                    ),
                    width="100%",
                    data_testid="worklist-empty",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        skeleton_rows(8),
    )


@staff_page("/lab", "Laboratory worklist", [S.load, S.watch])
def worklist_page() -> rx.Component:
    return rx.vstack(
        lab_tabs("/lab"),
        refused("lab.read", "Your role does not give access to the laboratory's worklist."),
        rx.cond(
            can("lab.read"),
            rx.vstack(
                filters(),
                body(),
                spacing="3",
                width="100%",
                data_testid="lab-worklist",
                custom_attrs={"data-version": S.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
