"""/home-readings: the staff board of patients' home measurements beyond their alert limits.
Each alert says who, what they measured, which limit it crossed and when; a nurse or physician
clears it with a note. A row opens the patient's home readings and their alert limits. Changes
by itself when a patient enters a reading or a colleague clears one."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, scroll_box, skeleton_rows, stat_card
from hms_app.pages.boards.common import live_note
from hms_app.state.home_readings.board import (
    DEFAULT_LIMITS_NOTE,
    BoardLine,
    LimitRow,
    PatientReadingLine,
    ReadingsPatientState,
)
from hms_app.state.home_readings.board import ReadingsBoardState as S

P = ReadingsPatientState
READ = "reading.review"
WIDE = ["none", "none", "table-cell"]


def error_line(message, test_id: str) -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=12, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="1"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id,
    )


def table(header: list[tuple[str, bool]], body: rx.Component, test_id: str) -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h, display=WIDE if wide else None, white_space="nowrap")
                        for h, wide in header
                    ]
                )
            ),
            rx.table.body(body),
            variant="surface",
            size="2",
            width="100%",
        ),
        data_testid=test_id,
    )


def alert_row(line: BoardLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.link(
                    rx.text(line.patient_name, size="2", weight="medium", white_space="nowrap"),
                    on_click=P.open_patient(line.patient_id),
                    cursor="pointer",
                    data_testid="open-patient",
                ),
                rx.text(line.mrn, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.text(line.kind, size="1", color_scheme="gray"),
            rx.text(
                line.value_text, size="2", weight="bold", white_space="nowrap", data_testid="alert-values"
            ),
            rx.badge("patient-reported", color_scheme="orange", variant="soft", size="1"),
        ),
        rx.table.cell(
            rx.text(line.crossed, size="2", data_testid="alert-crossed"),
            rx.cond(line.cleared != "", rx.text("Cleared ", line.cleared, size="1", color_scheme="gray")),
            max_width="22rem",
        ),
        rx.table.cell(rx.text(line.measured, size="2"), white_space="nowrap"),
        rx.table.cell(rx.text(line.entered, size="2"), white_space="nowrap", display=WIDE),
        rx.table.cell(
            rx.cond(
                line.open,
                rx.button(
                    rx.icon("check", size=14),
                    "Clear",
                    size="1",
                    on_click=S.start_clear(line.id),
                    data_testid="clear-alert",
                ),
                rx.badge("Cleared", color_scheme="grass", variant="soft"),
            ),
            rx.link(
                rx.button(rx.icon("file-heart", size=14), "Chart", size="1", variant="soft"),
                href="/patients/" + line.patient_id.to_string(),
                data_testid="open-chart",
            ),
            white_space="nowrap",
        ),
        align="center",
        background=rx.cond(line.open, rx.color("amber", 2), "transparent"),
        box_shadow=rx.cond(line.open, f"inset 4px 0 0 {rx.color('amber', 9)}", "none"),
        data_testid="reading-alert-row",
        custom_attrs={"data-reading": line.id, "data-open": line.open},
    )


def clear_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Clear this alert"),
            rx.dialog.description(S.clearing_label, size="2", color_scheme="gray", margin_bottom="0.75rem"),
            rx.form(
                rx.vstack(
                    rx.text("What was done", size="2", weight="medium"),
                    rx.text_area(
                        name="note",
                        max_length=1000,
                        placeholder="Called the patient: rechecked 138/86 after rest, no symptoms.",
                        width="100%",
                        data_testid="clear-note",
                    ),
                    rx.cond(S.clear_error != "", error_line(S.clear_error, "clear-error")),
                    rx.flex(
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=S.cancel_clear,
                        ),
                        rx.button(
                            "Clear alert", type="submit", loading=S.clearing, data_testid="clear-submit"
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=S.clear,
                reset_on_submit=True,
            ),
            max_width="30rem",
            data_testid="clear-dialog",
        ),
        open=S.clearing_id > 0,
        on_open_change=S.clear_dialog_change,
    )


def patient_reading_row(line: PatientReadingLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(line.when, size="2"), white_space="nowrap"),
        rx.table.cell(rx.text(line.kind, size="2")),
        rx.table.cell(
            rx.text(line.value_text, size="2", weight="bold", white_space="nowrap"),
            rx.cond(
                line.entered_as != "", rx.text("entered as ", line.entered_as, size="1", color_scheme="gray")
            ),
            rx.badge("patient-reported", color_scheme="orange", variant="soft", size="1"),
        ),
        rx.table.cell(
            rx.match(
                line.alert,
                ("open", rx.badge("Alert open", color_scheme="amber", title=line.crossed)),
                ("cleared", rx.badge("Alert cleared", color_scheme="gray", title=line.crossed)),
                rx.text("within limits", size="1", color_scheme="gray"),
            )
        ),
    )


def limit_inputs(row: LimitRow) -> rx.Component:
    def box(side: str, value) -> rx.Component:
        name = row.measure + "_" + side
        return rx.vstack(
            rx.input(
                name=name,
                default_value=value,
                placeholder="none",
                input_mode="decimal",
                max_length=8,
                size="1",
                width="5.5rem",
                data_testid="limit-" + name,
            ),
            rx.cond(P.limit_errors.contains(name), error_line(P.limit_errors[name], "limit-error-" + name)),
            spacing="1",
        )

    return rx.table.row(
        rx.table.cell(rx.text(row.label, size="2"), rx.text(row.unit, size="1", color_scheme="gray")),
        rx.table.cell(box("low", row.low)),
        rx.table.cell(box("high", row.high)),
        rx.table.cell(rx.text(row.source, size="1", color_scheme="gray")),
    )


def patient_panel() -> rx.Component:
    return rx.cond(
        P.patient_id > 0,
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.icon("house-plus", size=18, color=rx.color("accent", 10)),
                    rx.heading(P.patient_name, size="4", data_testid="panel-patient"),
                    rx.text(P.mrn, size="2", color_scheme="gray"),
                    rx.spacer(),
                    rx.link(
                        rx.button(rx.icon("file-heart", size=14), "Open chart", size="1", variant="soft"),
                        href="/patients/" + P.patient_id.to_string(),
                    ),
                    rx.button("Close", size="1", variant="ghost", on_click=P.close_patient),
                    align="center",
                    spacing="2",
                    width="100%",
                    wrap="wrap",
                ),
                rx.grid(
                    rx.vstack(
                        rx.heading("Home readings", size="3"),
                        rx.cond(
                            P.total > 0,
                            rx.vstack(
                                table(
                                    [
                                        ("Measured", False),
                                        ("What", False),
                                        ("Value", False),
                                        ("Alert", False),
                                    ],
                                    rx.foreach(P.rows, patient_reading_row),
                                    "patient-readings",
                                ),
                                pager(P.page, P.page_count, P.total, P.move(-1), P.move(1), noun="readings"),
                                width="100%",
                            ),
                            empty_state("No home readings yet.", icon="house"),
                        ),
                        width="100%",
                    ),
                    rx.form(
                        rx.vstack(
                            rx.heading("Alert limits", size="3"),
                            rx.text(
                                "A reading below the low or above the high limit puts an alert on this board. "
                                "Empty: no alert on that side.",
                                size="1",
                                color_scheme="gray",
                            ),
                            table(
                                [("Measure", False), ("Low", False), ("High", False), ("", False)],
                                rx.foreach(P.limits, limit_inputs),
                                "limits-table",
                            ),
                            rx.input(
                                name="reason", placeholder="Why (optional)", max_length=300, width="100%"
                            ),
                            rx.cond(
                                P.limit_errors.contains(""), error_line(P.limit_errors[""], "limit-error")
                            ),
                            rx.button(
                                rx.icon("save", size=14),
                                "Save limits",
                                type="submit",
                                loading=P.saving,
                                data_testid="save-limits",
                            ),
                            spacing="2",
                            width="100%",
                        ),
                        on_submit=P.save_limits,
                        reset_on_submit=False,
                        key=P.limits_key.to_string(),
                        width="100%",
                    ),
                    columns=rx.breakpoints(initial="1", lg="minmax(0, 3fr) minmax(0, 2fr)"),
                    spacing="4",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            data_testid="patient-panel",
        ),
    )


def figures() -> rx.Component:
    return rx.grid(
        stat_card("Open alerts", S.open_count, "home readings beyond a limit", "siren", "figure-open-alerts"),
        stat_card("Patients", S.patients_open, "with an open alert", "users", "figure-patients"),
        columns=rx.breakpoints(initial="1", sm="2"),
        spacing="3",
        width="100%",
    )


@staff_page("/home-readings", "Home readings", [S.load, S.watch])
def readings_board() -> rx.Component:
    return rx.vstack(
        refused(READ, "Your role does not give access to patients' home readings."),
        rx.cond(
            can(READ),
            rx.vstack(
                figures(),
                rx.flex(
                    rx.segmented_control.root(
                        rx.segmented_control.item("Open", value="open"),
                        rx.segmented_control.item("Cleared (last 7 days)", value="cleared"),
                        value=S.show,
                        on_change=S.set_show,
                        data_testid="show-alerts",
                    ),
                    rx.spacer(),
                    live_note(S.updated_at),
                    width="100%",
                    align="center",
                    wrap="wrap",
                    spacing="3",
                ),
                rx.cond(
                    S.loaded,
                    rx.cond(
                        S.rows.length() > 0,
                        rx.vstack(
                            table(
                                [
                                    ("Patient", False),
                                    ("Reading", False),
                                    ("Limit crossed", False),
                                    ("Measured", False),
                                    ("Entered", True),
                                    ("", False),
                                ],
                                rx.foreach(S.rows, alert_row),
                                "alerts-table",
                            ),
                            pager(S.page, S.page_count, S.total, S.move(-1), S.move(1), noun="alerts"),
                            width="100%",
                        ),
                        rx.card(
                            rx.cond(
                                S.show == "open",
                                empty_state(
                                    "No home reading is beyond its limits. All clear.", icon="circle-check"
                                ),
                                empty_state("No alert was cleared in the last 7 days.", icon="history"),
                            ),
                            width="100%",
                            data_testid="alerts-empty",
                        ),
                    ),
                    skeleton_rows(5),
                ),
                patient_panel(),
                rx.text(DEFAULT_LIMITS_NOTE, size="1", color_scheme="gray"),
                clear_dialog(),
                spacing="3",
                width="100%",
                data_testid="readings-board",
                custom_attrs={"data-version": S.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
