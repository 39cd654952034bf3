"""Merges on the details page: the merges tab, the merge dialog with its side-by-side compare, and
the undo dialog."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.ui import empty_state
from hms_app.pages.patients.common import form_label, scroll_table
from hms_app.pages.patients.dialogs import (
    details_dialog,
    dialog_buttons,
    dialog_error,
    reason_field,
)
from hms_app.state.patients.details import MergeLine, PatientDetailsState


def merge_row(line: MergeLine) -> rx.Component:
    other = rx.link(
        line.other_mrn, href="/patients/" + line.other_id.to_string() + "/details", white_space="nowrap"
    )
    return rx.table.row(
        rx.table.cell(
            rx.cond(
                line.role == "survivor",
                rx.text(other, " (", line.other_name, ") merged into this record", size="2"),
                rx.text("This record merged into ", other, " (", line.other_name, ")", size="2"),
            ),
            rx.text(line.when, " · by ", line.who, " · ", line.moved_note, size="1", color_scheme="gray"),
        ),
        rx.table.cell(rx.text(line.reason, size="1")),
        rx.table.cell(
            rx.cond(
                line.undone,
                rx.text(line.undone_note, size="1", color_scheme="gray"),
                rx.cond(
                    can("patient.merge"),
                    rx.button(
                        rx.icon("undo-2", size=14),
                        "Undo",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=PatientDetailsState.open_undo(line.id),
                        data_testid="undo-merge",
                    ),
                    rx.badge("In effect", color_scheme="amber"),
                ),
            ),
            min_width="7rem",
        ),
        align="center",
    )


def merges_panel() -> rx.Component:
    return rx.cond(
        PatientDetailsState.merges.length() > 0,
        scroll_table(
            [rx.table.column_header_cell(h) for h in ("Merge", "Reason", "")],
            rx.foreach(PatientDetailsState.merges, merge_row),
            "merges-table",
        ),
        rx.card(empty_state("This record has not been merged with another.", icon="git-merge"), width="100%"),
    )


def record_card(title: str, rows: list, tone: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(title, size="1", weight="bold", color=rx.color(tone, 11), text_transform="uppercase"),
            *[
                rx.hstack(
                    rx.text(label, size="1", color_scheme="gray", min_width="4rem"),
                    rx.text(rx.cond(value != "", value, "—"), size="2", text_transform=transform),
                    align="baseline",
                )
                for label, value, transform in rows
            ],
            spacing="1",
            width="100%",
        ),
        width="100%",
        border=f"1px solid {rx.color(tone, 7)}",
    )


def merge_dialog() -> rx.Component:
    o = PatientDetailsState.other
    return details_dialog(
        "merge",
        "Merge another record into this one",
        rx.text(
            "Everything linked to the other record (encounters, notes, vitals, problems, allergies, medications, "
            "immunizations, documents, coverage, portal account) moves to ",
            rx.code(PatientDetailsState.mrn),
            ". The other record is kept, marked as merged, and the merge can be undone.",
        ),
        rx.vstack(
            rx.form(
                rx.vstack(
                    form_label("MRN of the other record", "other_mrn"),
                    rx.flex(
                        rx.input(
                            name="other_mrn",
                            id="other_mrn",
                            placeholder="H0001234-4",
                            max_length=20,
                            required=True,
                            auto_complete="off",
                            flex="1",
                            data_testid="other-mrn",
                        ),
                        rx.button(
                            rx.icon("search", size=16),
                            "Look up",
                            type="submit",
                            variant="soft",
                            data_testid="lookup-other",
                        ),
                        spacing="2",
                        width="100%",
                    ),
                    dialog_error("other_mrn"),
                    spacing="1",
                    width="100%",
                ),
                on_submit=PatientDetailsState.find_other,
                reset_on_submit=False,
            ),
            rx.cond(
                o.id != 0,
                rx.form(
                    rx.vstack(
                        rx.grid(
                            record_card(
                                "Keeps: this record",
                                [
                                    ("MRN", PatientDetailsState.mrn, "none"),
                                    ("Name", PatientDetailsState.name, "none"),
                                    ("Sex", PatientDetailsState.sex, "capitalize"),
                                    ("Born", PatientDetailsState.birth_date, "none"),
                                    ("Phone", PatientDetailsState.form_values["phone"], "none"),
                                    ("Status", PatientDetailsState.status, "capitalize"),
                                ],
                                "green",
                            ),
                            record_card(
                                "Merged into it",
                                [
                                    ("MRN", o.mrn, "none"),
                                    ("Name", o.name, "none"),
                                    ("Sex", o.sex, "capitalize"),
                                    ("Born", o.birth_date, "none"),
                                    ("Phone", o.phone, "none"),
                                    ("Status", o.status, "capitalize"),
                                ],
                                "red",
                            ),
                            columns=rx.breakpoints(initial="1", sm="2"),
                            spacing="3",
                            width="100%",
                            data_testid="merge-compare",
                        ),
                        reason_field("e.g. same person: registered twice in the emergency room"),
                        dialog_error(),
                        dialog_buttons("Merge records", "red"),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=PatientDetailsState.submit_merge,
                    reset_on_submit=False,
                ),
                dialog_error(),
            ),
            spacing="3",
            width="100%",
        ),
        max_width="40rem",
    )


def undo_dialog() -> rx.Component:
    return details_dialog(
        "undo",
        "Undo this merge?",
        rx.text(
            PatientDetailsState.undo_note,
            ". The rows that moved go back to the record they came from, and it becomes active again.",
        ),
        rx.form(
            rx.vstack(
                reason_field("e.g. not the same person: twins"),
                dialog_error(),
                dialog_buttons("Undo merge", "red"),
                spacing="3",
                width="100%",
            ),
            on_submit=PatientDetailsState.submit_undo,
            reset_on_submit=False,
        ),
    )
