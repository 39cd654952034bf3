"""The modality work list (/radiology): the counts of each step, the modality and status filters and
a search, then one page of orders (STAT first, by booked time) with the accession, patient,
examination, priority, booked time and scanner, the safety flags, and the radiographer's next step
(Arrived, Start) or the report for orders whose exam is done. It changes by itself when anyone
orders, books, images or reports."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows
from hms_app.pages.boards.common import live_note
from hms_app.pages.laboratory.common import WIDE_CELL, patient_cell, priority_badge, table
from hms_app.state.radiology.worklist import MODALITY_CHOICES, STATUS_CHOICES, WorkLine
from hms_app.state.radiology.worklist import RadiologyWorklistState as S

STEP_COUNTS = (
    ("requested", "To book", "calendar-plus"),
    ("scheduled", "Booked", "calendar-check"),
    ("arrived", "Arrived", "user-check"),
    ("in_progress", "On the scanner", "scan"),
    ("images_received", "To report", "images"),
)
STATUS_COLOURS = {
    "requested": "gray",
    "scheduled": "blue",
    "arrived": "amber",
    "in_progress": "violet",
    "images_received": "cyan",
    "preliminary": "teal",
    "final": "green",
    "cancelled": "red",
}


def step_counts() -> rx.Component:
    def tile(status: str, label: str, icon: str) -> rx.Component:
        return rx.card(
            rx.hstack(
                rx.icon(icon, size=18, color=rx.color(STATUS_COLOURS[status], 10)),
                rx.vstack(
                    rx.text(label, size="1", color_scheme="gray"),
                    rx.heading(S.counts.get(status, 0), size="5"),
                    spacing="0",
                ),
                align="center",
                spacing="3",
            ),
            cursor="pointer",
            on_click=S.set_status(status),
            background=rx.cond(S.status == status, rx.color(STATUS_COLOURS[status], 3), None),
            data_testid="count-" + status,
        )

    return rx.grid(
        *[tile(*item) for item in STEP_COUNTS],
        columns=rx.breakpoints(initial="2", sm="3", lg="5"),
        spacing="3",
        width="100%",
    )


def filters() -> rx.Component:
    return rx.flex(
        rx.select.root(
            rx.select.trigger(min_width="13rem", data_testid="modality-filter"),
            rx.select.content(
                *[rx.select.item(label, value=value) for value, label in MODALITY_CHOICES.items()]
            ),
            value=S.modality,
            on_change=S.set_modality,
        ),
        rx.select.root(
            rx.select.trigger(min_width="12rem", data_testid="status-filter"),
            rx.select.content(
                *[rx.select.item(label, value=value) for value, label in STATUS_CHOICES.items()]
            ),
            value=S.status,
            on_change=S.set_status,
        ),
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="Patient, MRN, accession or examination",
            default_value=S.query,
            on_change=S.search.debounce(350),
            max_length=60,
            min_width="16rem",
            flex="1",
            data_testid="worklist-search",
        ),
        rx.spacer(),
        rx.cond(
            can("imaging.catalogue"),
            rx.link(
                rx.button(rx.icon("images", size=14), "Unmatched images", variant="soft", size="2"),
                href="/radiology/unmatched",
                data_testid="unmatched-link",
            ),
        ),
        live_note(S.updated_at),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


def status_badge(line: WorkLine) -> rx.Component:
    return rx.badge(
        line.status_label,
        color_scheme=rx.match(line.status, *STATUS_COLOURS.items(), "gray"),
        variant="soft",
        data_testid="status-" + line.accession,
    )


def flag_badges(line: WorkLine) -> rx.Component:
    return rx.flex(
        rx.cond(
            line.contrast,
            rx.badge(rx.icon("droplet", size=12), "Contrast", color_scheme="blue", variant="outline"),
        ),
        rx.foreach(
            line.flags,
            lambda flag: rx.badge(
                rx.icon("triangle-alert", size=12),
                flag,
                color_scheme="amber",
                variant="soft",
                max_width="16rem",
                overflow="hidden",
                text_overflow="ellipsis",
                title=flag,
            ),
        ),
        spacing="1",
        wrap="wrap",
        data_testid="flags-" + line.accession,
    )


def action_cell(line: WorkLine) -> rx.Component:
    return rx.table.cell(
        rx.match(
            line.step,
            (
                "arrive",
                rx.button(
                    rx.icon("user-check", size=14),
                    "Arrived",
                    size="1",
                    loading=S.busy == line.order_id,
                    on_click=S.arrive(line.order_id),
                    data_testid="arrive-" + line.accession,
                ),
            ),
            (
                "start",
                rx.button(
                    rx.icon("play", size=14),
                    "Start",
                    size="1",
                    color_scheme="violet",
                    loading=S.busy == line.order_id,
                    on_click=S.start(line.order_id),
                    data_testid="start-" + line.accession,
                ),
            ),
            rx.cond(
                line.report & can("imaging.read"),
                rx.link(
                    rx.button(rx.icon("file-text", size=14), "Report", size="1", variant="soft"),
                    href="/radiology/orders/" + line.order_id.to_string() + "/report",
                    data_testid="report-" + line.accession,
                ),
            ),
        ),
        text_align="right",
    )


def work_row(line: WorkLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(priority_badge(line.priority, line.priority_label)),
        rx.table.cell(rx.code(line.accession, variant="ghost", size="2"), white_space="nowrap"),
        rx.table.cell(patient_cell(line.patient_name, line.mrn)),
        rx.table.cell(
            rx.hstack(
                rx.badge(line.modality, variant="surface"), rx.text(line.procedure, size="2", weight="bold")
            ),
            rx.text(line.question, size="1", color_scheme="gray", title=line.question),
            max_width="22rem",
        ),
        rx.table.cell(
            rx.cond(
                line.scheduled != "",
                rx.vstack(
                    rx.text(line.scheduled, size="2", weight="medium"),
                    rx.text(line.scanner, size="1", color_scheme="gray"),
                    spacing="0",
                ),
                rx.text("not booked", size="1", color_scheme="gray"),
            ),
            white_space="nowrap",
        ),
        rx.table.cell(status_badge(line)),
        rx.table.cell(flag_badges(line), display=WIDE_CELL),
        action_cell(line),
        align="center",
        background=rx.cond(line.stat, rx.color("red", 2), "transparent"),
        box_shadow=rx.cond(line.stat, f"inset 4px 0 0 {rx.color('red', 9)}", "none"),
        data_testid="work-" + line.accession,
        custom_attrs={"data-status": line.status},
    )


def body() -> rx.Component:
    headings = ["Priority", "Accession", "Patient", "Examination", "Booked", "Status", "Safety", ""]
    return rx.cond(
        S.loaded,
        rx.cond(
            S.rows.length() > 0,
            rx.vstack(
                table(headings, rx.foreach(S.rows, work_row), "radiology-worklist-table", wide=(6,)),
                pager(S.page, S.page_count, S.total, S.move(-1), S.move(1), "orders"),
                spacing="2",
                width="100%",
            ),
            rx.card(
                empty_state(
                    rx.cond(
                        S.query != "",
                        "No imaging order in this list matches “" + S.query + "”.",
                        "No imaging orders at this step.",
                    ),
                    icon="scan",
                ),
                width="100%",
                data_testid="worklist-empty",
            ),
        ),
        skeleton_rows(8),
    )


@staff_page("/radiology", "Radiology work list", [S.load, S.watch])
def worklist_page() -> rx.Component:
    return rx.vstack(
        refused("radiology.work", "Your role does not give access to the radiology work list."),
        rx.cond(
            can("radiology.work"),
            rx.vstack(
                step_counts(),
                filters(),
                body(),
                spacing="3",
                width="100%",
                data_testid="radiology-worklist",
                custom_attrs={"data-version": S.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
