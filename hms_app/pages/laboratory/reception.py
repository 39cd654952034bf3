"""Specimen reception (/lab/reception): the scan box (a barcode scanner types the accession and
Enter), what the last scan did, the specimens on their way to the lab and those handled today, and
the rejection dialog. It changes by itself when a ward collects a specimen."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows, stat_card
from hms_app.pages.boards.common import live_note
from hms_app.pages.laboratory.common import (
    WIDE_CELL,
    field_message,
    lab_tabs,
    labelled,
    patient_cell,
    priority_badge,
    table,
)
from hms_app.state.laboratory.reception import ReceptionState as S
from hms_app.state.laboratory.reception import SpecimenLine

SCAN_HINT = "Scan the specimen's label: the scanner types its accession (such as S-00001234) and Enter."


def scan_box() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.form(
                rx.hstack(
                    rx.input(
                        rx.input.slot(rx.icon("scan-barcode", size=18)),
                        name="scan",
                        id="scan-box",
                        placeholder="Scan a specimen label",
                        auto_focus=True,
                        auto_complete="off",
                        spell_check=False,
                        max_length=40,
                        size="3",
                        width="100%",
                        data_testid="scan-box",
                    ),
                    rx.button("Receive", type="submit", size="3", data_testid="scan-submit"),
                    width="100%",
                    spacing="2",
                ),
                on_submit=S.scan,
                reset_on_submit=True,
                width="100%",
            ),
            rx.text(SCAN_HINT, size="1", color_scheme="gray"),
            rx.cond(
                S.last.text != "",
                rx.callout(
                    rx.cond(
                        S.last.ok,
                        rx.text(rx.text.strong(S.last.accession), " · ", S.last.text),
                        rx.text(S.last.text),
                    ),
                    icon=rx.cond(S.last.ok, "circle-check", "circle-x"),
                    color_scheme=rx.cond(S.last.ok, "grass", "red"),
                    width="100%",
                    data_testid="scan-outcome",
                    custom_attrs={"data-ok": S.last.ok},
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def reject_button(line: SpecimenLine) -> rx.Component:
    return rx.cond(
        line.rejectable,
        rx.button(
            rx.icon("ban", size=14),
            "Reject",
            size="1",
            variant="soft",
            color_scheme="red",
            on_click=S.open_reject(line.id),
            data_testid="reject-" + line.accession,
        ),
    )


def waiting_row(line: SpecimenLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(priority_badge(line.priority, line.priority_label)),
        rx.table.cell(rx.code(line.accession, variant="ghost", size="2"), white_space="nowrap"),
        rx.table.cell(patient_cell(line.patient_name, line.mrn)),
        rx.table.cell(rx.text(line.specimen, size="2"), rx.text(line.tests, size="1", color_scheme="gray")),
        rx.table.cell(rx.text(line.collected, size="2"), display=WIDE_CELL, white_space="nowrap"),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Receive",
                    size="1",
                    variant="soft",
                    on_click=S.scan({"scan": line.accession}),
                    data_testid="receive-" + line.accession,
                ),
                reject_button(line),
                spacing="2",
            )
        ),
        align="center",
        background=rx.cond(line.stat, rx.color("red", 2), "transparent"),
        box_shadow=rx.cond(line.stat, f"inset 4px 0 0 {rx.color('red', 9)}", "none"),
        data_testid="waiting-" + line.accession,
    )


def handled_row(line: SpecimenLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(line.accession, variant="ghost", size="2"), white_space="nowrap"),
        rx.table.cell(patient_cell(line.patient_name, line.mrn)),
        rx.table.cell(rx.text(line.specimen, size="2"), rx.text(line.tests, size="1", color_scheme="gray")),
        rx.table.cell(
            rx.cond(
                line.status == "rejected",
                rx.vstack(
                    rx.badge("Rejected", color_scheme="red", variant="soft"),
                    rx.text(line.reason, size="1", color_scheme="gray"),
                    spacing="1",
                ),
                rx.vstack(
                    rx.badge("Received", color_scheme="grass", variant="soft"),
                    rx.text(line.handled, size="1", color_scheme="gray"),
                    spacing="1",
                ),
            )
        ),
        rx.table.cell(reject_button(line)),
        align="center",
        data_testid="handled-" + line.accession,
    )


def lists() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("On their way to the lab", size="4"),
            rx.badge(S.waiting_rows.length(), variant="soft", radius="full"),
            align="center",
            spacing="2",
        ),
        rx.cond(
            S.waiting_rows.length() > 0,
            table(
                ["Priority", "Accession", "Patient", "Specimen", "Collected", ""],
                rx.foreach(S.waiting_rows, waiting_row),
                "waiting-table",
                wide=(4,),
            ),
            rx.card(
                empty_state("No collected specimen is waiting for reception.", icon="test-tube"), width="100%"
            ),
        ),
        rx.heading("Received or rejected today", size="4"),
        rx.cond(
            S.handled_rows.length() > 0,
            table(
                ["Accession", "Patient", "Specimen", "Outcome", ""],
                rx.foreach(S.handled_rows, handled_row),
                "handled-table",
            ),
            rx.card(empty_state("Nothing received yet today.", icon="inbox"), width="100%"),
        ),
        pager(S.page, S.page_count, S.total, S.move(-1), S.move(1), "specimens"),
        spacing="3",
        width="100%",
    )


def reject_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Reject specimen ", S.rejecting.accession),
            rx.dialog.description(
                S.rejecting.patient_name,
                " · ",
                S.rejecting.specimen,
                " · ",
                S.rejecting.tests,
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            rx.form(
                rx.vstack(
                    labelled(
                        "Reason",
                        rx.select.root(
                            rx.select.trigger(
                                placeholder="Why it cannot be tested",
                                width="100%",
                                data_testid="reject-reason",
                            ),
                            rx.select.content(
                                rx.foreach(S.reasons, lambda r: rx.select.item(r.label, value=r.value))
                            ),
                            name="reason",
                        ),
                        field_message(S.field_errors, "reason"),
                    ),
                    labelled(
                        "Note (optional)",
                        rx.text_area(
                            name="note",
                            placeholder="What was seen, who was told",
                            max_length=300,
                            rows="3",
                            width="100%",
                            data_testid="reject-note",
                        ),
                        field_message(S.field_errors, "note"),
                    ),
                    rx.cond(
                        S.form_error != "",
                        rx.callout(
                            S.form_error, icon="circle-alert", color_scheme="red", size="1", width="100%"
                        ),
                    ),
                    rx.text(
                        "The ward is asked for a new sample; the ordering clinician sees why in the chart.",
                        size="1",
                        color_scheme="gray",
                    ),
                    rx.flex(
                        rx.dialog.close(
                            rx.button("Cancel", type="button", variant="soft", color_scheme="gray")
                        ),
                        rx.button(
                            "Reject specimen", type="submit", color_scheme="red", data_testid="dialog-submit"
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=S.submit_reject,
                reset_on_submit=False,
            ),
            max_width="30rem",
            data_testid="dialog-reject",
        ),
        open=S.dialog_open,
        on_open_change=S.on_dialog_change,
    )


@staff_page("/lab/reception", "Specimen reception", [S.load, S.watch])
def reception_page() -> rx.Component:
    return rx.vstack(
        lab_tabs("/lab/reception"),
        refused("lab.work", "Your role does not receive specimens in the laboratory."),
        rx.cond(
            can("lab.work"),
            rx.vstack(
                rx.flex(
                    rx.box(scan_box(), flex="2", min_width="18rem"),
                    rx.grid(
                        stat_card(
                            "Waiting for reception",
                            S.waiting_total,
                            "collected, not yet scanned",
                            "test-tube",
                            "figure-waiting",
                        ),
                        stat_card(
                            "Received here",
                            S.received_here,
                            "since this screen opened",
                            "scan-barcode",
                            "figure-received",
                        ),
                        columns="2",
                        spacing="3",
                        flex="1",
                        min_width="24rem",
                    ),
                    spacing="3",
                    wrap="wrap",
                    width="100%",
                ),
                rx.flex(rx.spacer(), live_note(S.updated_at), width="100%"),
                rx.cond(S.loaded, lists(), skeleton_rows(6)),
                reject_dialog(),
                spacing="3",
                width="100%",
                data_testid="lab-reception",
                custom_attrs={"data-version": S.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
