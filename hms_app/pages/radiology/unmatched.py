"""The unmatched images (/radiology/unmatched): how many studies and images wait, then one page of
studies (newest first) with what their files say (patient name and ID, accession, modalities, how
many images, when and from whom) and why they were set aside; each row files the study to an order
(type the accession, check that order's patient and examination, confirm) or discards it with a
reason. It changes by itself when images are set aside, filed or discarded anywhere."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import count_text, empty_state, pager, skeleton_rows
from hms_app.pages.boards.common import live_note
from hms_app.pages.laboratory.common import WIDE_CELL, field_message, labelled, patient_cell, table
from hms_app.state.radiology.unmatched import RadiologyUnmatchedState as S
from hms_app.state.radiology.unmatched import UnmatchedLine

PERMISSION = "imaging.catalogue"
REASON_COLOURS = {"no_order": "amber", "patient_mismatch": "red", "no_accession": "gray"}


def summary() -> rx.Component:
    return rx.flex(
        rx.link(
            rx.button(rx.icon("arrow-left", size=14), "Work list", variant="soft", size="2"),
            href="/radiology",
        ),
        rx.text(
            count_text(S.total, "study", "studies"),
            " · ",
            count_text(S.images, "image"),
            " waiting to be filed or discarded",
            size="2",
            color_scheme="gray",
            data_testid="unmatched-count",
        ),
        rx.spacer(),
        live_note(S.updated_at),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


def file_cell(line: UnmatchedLine) -> rx.Component:
    return rx.vstack(
        patient_cell(
            rx.cond(line.patient_name != "", line.patient_name, "(no name)"),
            rx.cond(line.patient_key != "", "ID " + line.patient_key, "no patient ID"),
        ),
        rx.cond(
            line.several_patients,
            rx.badge(rx.icon("users", size=12), "several patient IDs", color_scheme="red", variant="soft"),
        ),
        spacing="1",
    )


def study_row(line: UnmatchedLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(line.received, size="2", weight="medium"), white_space="nowrap"),
        rx.table.cell(file_cell(line)),
        rx.table.cell(
            rx.cond(
                line.accession != "",
                rx.code(line.accession, variant="ghost", size="2"),
                rx.text("none", size="1", color_scheme="gray"),
            ),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.hstack(
                rx.badge(line.modalities, variant="surface"),
                rx.text(count_text(line.images, "image"), size="2"),
                spacing="2",
                align="center",
            ),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.badge(
                line.reason_label,
                color_scheme=rx.match(line.reason, *REASON_COLOURS.items(), "gray"),
                variant="soft",
                white_space="normal",
            ),
            max_width="13rem",
        ),
        rx.table.cell(
            rx.text(line.received_from, size="1", color_scheme="gray"),
            rx.code(line.study_short, variant="ghost", size="1", color_scheme="gray", title=line.study_uid),
            display=WIDE_CELL,
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.vstack(
                rx.button(
                    rx.icon("folder-input", size=14),
                    "File to order",
                    size="1",
                    on_click=S.open_file(line.study_uid),
                    data_testid="file-" + line.study_uid,
                ),
                rx.button(
                    rx.icon("trash-2", size=14),
                    "Discard",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=S.open_discard(line.study_uid),
                    data_testid="discard-" + line.study_uid,
                ),
                spacing="1",
                align="end",
            ),
            text_align="right",
            white_space="nowrap",
        ),
        align="center",
        data_testid="unmatched-" + line.study_uid,
    )


def body() -> rx.Component:
    headings = [
        "Received",
        "The file's patient",
        "Accession",
        "Images",
        "Why set aside",
        "From · study UID",
        "",
    ]
    return rx.cond(
        S.loaded,
        rx.cond(
            S.rows.length() > 0,
            rx.vstack(
                table(headings, rx.foreach(S.rows, study_row), "unmatched-table", wide=(5,)),
                pager(S.page, S.page_count, S.total, S.move(-1), S.move(1), "studies"),
                spacing="2",
                width="100%",
            ),
            rx.card(
                empty_state(
                    "No unmatched images: every image received is filed to its order.", icon="images"
                ),
                width="100%",
                data_testid="unmatched-empty",
            ),
        ),
        skeleton_rows(6),
    )


def fact(label: str, value) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label), rx.data_list.value(value))


def target_card() -> rx.Component:
    return rx.card(
        rx.data_list.root(
            fact("Patient", rx.text(S.target.patient_name, weight="bold")),
            fact("MRN", rx.code(S.target.mrn, variant="ghost")),
            fact("Born", S.target.born),
            fact("Examination", S.target.modality + " · " + S.target.procedure),
            fact(
                "Order", S.target.accession + " · " + S.target.status_label + " · ordered " + S.target.ordered
            ),
            size="2",
        ),
        width="100%",
        data_testid="file-target",
    )


def file_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("File images to an order"),
            rx.dialog.description(
                count_text(S.filing.images, "image"),
                " · the file says ",
                rx.cond(S.filing.patient_name != "", S.filing.patient_name, "(no name)"),
                ", ID ",
                rx.cond(S.filing.patient_key != "", S.filing.patient_key, "(none)"),
                ", accession ",
                rx.cond(S.filing.accession != "", S.filing.accession, "(none)"),
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            rx.vstack(
                rx.form(
                    labelled(
                        "Accession number of the order",
                        rx.hstack(
                            rx.input(
                                name="accession",
                                placeholder="ACC00001234",
                                max_length=16,
                                auto_focus=True,
                                auto_complete="off",
                                spell_check=False,
                                flex="1",
                                data_testid="file-accession",
                            ),
                            rx.button("Find order", type="submit", variant="soft", data_testid="file-find"),
                            width="100%",
                        ),
                        field_message(S.file_errors, "accession"),
                    ),
                    on_submit=S.find_order,
                    reset_on_submit=False,
                    width="100%",
                ),
                rx.cond(S.target.accession != "", target_card()),
                rx.cond(
                    S.file_error != "",
                    rx.callout(S.file_error, icon="circle-alert", color_scheme="red", size="1", width="100%"),
                ),
                rx.text(
                    "Check that this is the patient in the images: they join this order and this "
                    "patient's chart, and a booked, arrived or started order moves on to images received.",
                    size="1",
                    color_scheme="gray",
                ),
                rx.flex(
                    rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                    rx.button(
                        rx.icon("folder-input", size=14),
                        rx.cond(S.target.accession != "", "File to " + S.target.accession, "File"),
                        disabled=S.target.accession == "",
                        loading=S.filing_busy,
                        on_click=S.confirm_file,
                        data_testid="file-confirm",
                    ),
                    spacing="3",
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="32rem",
            data_testid="dialog-file",
        ),
        open=S.file_open,
        on_open_change=S.on_file_change,
    )


def discard_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Discard images"),
            rx.dialog.description(
                count_text(S.discarding.images, "image"),
                " of ",
                rx.cond(S.discarding.patient_name != "", S.discarding.patient_name, "(no name)"),
                " (ID ",
                rx.cond(S.discarding.patient_key != "", S.discarding.patient_key, "none"),
                ") are deleted from the image store. This cannot be undone.",
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            rx.form(
                rx.vstack(
                    labelled(
                        "Reason",
                        rx.text_area(
                            name="reason",
                            placeholder="A test scan, sent twice, not this hospital's patient…",
                            max_length=180,
                            rows="3",
                            width="100%",
                            data_testid="discard-reason",
                        ),
                        field_message(S.discard_errors, "reason"),
                    ),
                    rx.cond(
                        S.discard_error != "",
                        rx.callout(
                            S.discard_error, icon="circle-alert", color_scheme="red", size="1", width="100%"
                        ),
                    ),
                    rx.flex(
                        rx.dialog.close(
                            rx.button("Cancel", type="button", variant="soft", color_scheme="gray")
                        ),
                        rx.button(
                            "Discard", type="submit", color_scheme="red", data_testid="discard-confirm"
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=S.submit_discard,
                reset_on_submit=False,
            ),
            max_width="30rem",
            data_testid="dialog-discard",
        ),
        open=S.discard_open,
        on_open_change=S.on_discard_change,
    )


@staff_page("/radiology/unmatched", "Unmatched images", [S.load, S.watch])
def unmatched_page() -> rx.Component:
    return rx.vstack(
        refused(PERMISSION, "Your role does not file or discard unmatched images."),
        rx.cond(
            can(PERMISSION),
            rx.vstack(
                summary(),
                body(),
                file_dialog(),
                discard_dialog(),
                spacing="3",
                width="100%",
                data_testid="radiology-unmatched",
                custom_attrs={"data-version": S.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
