"""The medication administration record (/patients/[patient_id]/mar): a patient banner with the
allergies, the shift's twelve hours across, one row per inpatient order with each dose in its hour
(coloured by its state), PRN orders below with a "Give PRN" button, the doses recorded this shift,
and the record dialog: outcome, the wristband and medicine scans, dose and route, reason."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, scroll_box, skeleton_rows
from hms_app.pages.boards.common import live_note
from hms_app.pages.laboratory.common import error_line
from hms_app.state.mar import OUTCOME_CHOICES, ROUTE_CHOICES, MarCell, MarEntry, MarRow
from hms_app.state.mar import MarState as S

# A dose's state -> (colour, variant, icon).
STATE_STYLE = {
    "given": ("grass", "solid", "check"),
    "held": ("amber", "soft", "pause"),
    "refused": ("orange", "soft", "x"),
    "not_available": ("gray", "soft", "package-x"),
    "due": ("blue", "solid", "bell"),
    "late": ("red", "solid", "alarm-clock"),
    "later": ("gray", "outline", "clock"),
    "missed": ("red", "outline", "circle-alert"),
}
OPENABLE = ("due", "late", "later")


def _dose_badge(cell: MarCell) -> rx.Component:
    return rx.match(
        cell.state,
        *[
            (
                state,
                rx.badge(
                    rx.icon(icon, size=12),
                    cell.label,
                    color_scheme=colour,
                    variant=variant,
                    size="1",
                    title=cell.title,
                    data_testid="dose-" + state,
                ),
            )
            for state, (colour, variant, icon) in STATE_STYLE.items()
        ],
        rx.fragment(),
    )


def dose_cell(cell: MarCell, row: MarRow) -> rx.Component:
    openable = (
        can("medication.administer") & (cell.key != "") & rx.Var.create(list(OPENABLE)).contains(cell.state)
    )
    return rx.table.cell(
        rx.cond(
            openable,
            rx.box(
                _dose_badge(cell),
                cursor="pointer",
                on_click=S.open_dose(row.order_id, cell.key),
                data_testid="open-dose",
                custom_attrs={"data-order": row.reference},
            ),
            _dose_badge(cell),
        ),
        padding_x="0.25rem",
        text_align="center",
    )


def order_cell(row: MarRow) -> rx.Component:
    return rx.table.cell(
        rx.vstack(
            rx.text(row.product, weight="bold", size="2"),
            rx.text(row.sig, size="1", color_scheme="gray"),
            rx.cond(row.instructions != "", rx.text(row.instructions, size="1", font_style="italic")),
            rx.hstack(
                rx.text(row.reference, size="1", color_scheme="gray"),
                rx.cond(
                    row.status != "active",
                    rx.badge(row.status, color_scheme="gray", variant="soft", size="1"),
                ),
                rx.cond(
                    row.returned_reason != "",
                    rx.badge(
                        "Sent back: " + row.returned_reason, color_scheme="red", variant="soft", size="1"
                    ),
                    rx.cond(
                        ~row.verified,
                        rx.badge("Awaiting pharmacy", color_scheme="amber", variant="soft", size="1"),
                    ),
                ),
                rx.cond(row.prn, rx.text(row.prn_note, size="1", color_scheme="gray")),
                rx.cond(
                    row.prn & can("medication.administer") & (row.status == "active"),
                    rx.button(
                        "Give PRN",
                        size="1",
                        variant="soft",
                        on_click=S.open_prn(row.order_id),
                        data_testid="give-prn",
                    ),
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            spacing="1",
            align="start",
        ),
        min_width="16rem",
    )


def grid_row(row: MarRow) -> rx.Component:
    return rx.table.row(
        order_cell(row),
        rx.foreach(row.cells, lambda cell: dose_cell(cell, row)),
        data_testid="mar-row",
        custom_attrs={"data-order": row.reference},
    )


def grid() -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Medicine"),
                    rx.foreach(
                        S.hours,
                        lambda hour: rx.table.column_header_cell(
                            hour, text_align="center", padding_x="0.25rem"
                        ),
                    ),
                )
            ),
            rx.table.body(rx.foreach(S.rows, grid_row)),
            variant="surface",
            size="1",
            width="100%",
            data_testid="mar-grid",
        )
    )


def legend() -> rx.Component:
    labels = {
        "due": "Due now",
        "late": "Late",
        "later": "Later",
        "given": "Given",
        "held": "Held",
        "refused": "Refused",
        "not_available": "Not available",
    }
    return rx.hstack(
        *[
            rx.badge(
                rx.icon(STATE_STYLE[state][2], size=12),
                label,
                color_scheme=STATE_STYLE[state][0],
                variant=STATE_STYLE[state][1],
                size="1",
            )
            for state, label in labels.items()
        ],
        spacing="2",
        wrap="wrap",
    )


def banner() -> rx.Component:
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.link(
                    rx.heading(S.patient_name, size="5", data_testid="mar-patient"),
                    href="/patients/" + S.mar_patient_id.to_string(),
                    underline="hover",
                    color=rx.color("gray", 12),
                ),
                rx.text("MRN ", S.mrn, " · born ", S.birth_date, size="2", color_scheme="gray"),
                spacing="1",
                align="start",
            ),
            rx.vstack(
                rx.badge(
                    rx.icon("triangle-alert", size=12),
                    S.allergies,
                    color_scheme=rx.match(
                        S.allergy_state, ("none_known", "grass"), ("allergies", "red"), "amber"
                    ),
                    variant="soft",
                    size="2",
                    data_testid="mar-allergies",
                ),
                rx.cond(S.placement != "", rx.text(S.placement, size="2"), rx.text("Not admitted", size="2")),
                spacing="1",
                align="end",
            ),
            justify="between",
            wrap="wrap",
            gap="3",
            width="100%",
        ),
        width="100%",
    )


def shift_bar() -> rx.Component:
    return rx.flex(
        rx.hstack(
            rx.button(
                rx.icon("chevron-left", size=14),
                "Previous",
                size="1",
                variant="soft",
                on_click=S.show_shift(S.previous_shift),
                data_testid="shift-previous",
            ),
            rx.heading(S.shift_label, size="3", data_testid="mar-shift"),
            rx.button(
                "Next",
                rx.icon("chevron-right", size=14),
                size="1",
                variant="soft",
                on_click=S.show_shift(S.next_shift),
                data_testid="shift-next",
            ),
            rx.cond(
                ~S.current_shift,
                rx.button("This shift", size="1", variant="outline", on_click=S.show_current_shift),
            ),
            align="center",
            spacing="2",
        ),
        rx.hstack(
            rx.cond(
                S.late > 0,
                rx.badge(
                    S.late.to_string() + " late", color_scheme="red", variant="solid", data_testid="mar-late"
                ),
            ),
            rx.cond(S.due > 0, rx.badge(S.due.to_string() + " due now", color_scheme="blue", variant="soft")),
            live_note(S.updated_at),
            align="center",
            spacing="2",
        ),
        justify="between",
        align="center",
        wrap="wrap",
        gap="2",
        width="100%",
    )


def entry_row(entry: MarEntry) -> rx.Component:
    return rx.table.row(
        rx.table.cell(entry.time),
        rx.table.cell(entry.product),
        rx.table.cell(
            rx.badge(
                entry.outcome_label,
                color_scheme=rx.match(
                    entry.outcome, ("given", "grass"), ("held", "amber"), ("refused", "orange"), "gray"
                ),
                variant="soft",
            )
        ),
        rx.table.cell(entry.by),
        rx.table.cell(entry.note),
        data_testid="mar-entry",
    )


def entries() -> rx.Component:
    return rx.cond(
        S.entries.length() > 0,
        rx.vstack(
            rx.heading("Recorded this shift", size="3"),
            scroll_box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Time", "Medicine", "Outcome", "By", "Note")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(S.entries, entry_row)),
                    variant="surface",
                    size="1",
                    width="100%",
                )
            ),
            spacing="2",
            width="100%",
        ),
    )


def scan_input(name: str, label: str, placeholder: str, auto_focus: bool = False) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.input(
            name=name,
            placeholder=placeholder,
            auto_complete="off",
            auto_focus=auto_focus,
            max_length=60,
            width="100%",
            # A scanner types the code and presses Enter: Enter moves on instead of submitting.
            enter_key_hint="next",
            data_testid="scan-" + name,
        ),
        rx.cond(S.dialog_error_field == name, error_line(S.dialog_error, "error-" + name)),
        spacing="1",
        width="100%",
    )


def record_dialog() -> rx.Component:
    given = S.outcome == "given"
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(S.dialog_title),
            rx.dialog.description(S.dialog_detail, size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    rx.segmented_control.root(
                        *[rx.segmented_control.item(label, value=value) for value, label in OUTCOME_CHOICES],
                        value=S.outcome,
                        on_change=S.set_outcome,
                        width="100%",
                        data_testid="mar-outcome",
                    ),
                    rx.cond(
                        given,
                        rx.vstack(
                            scan_input("wristband", "1. Scan the patient's wristband", "MRN barcode", True),
                            scan_input(
                                "medicine", "2. Scan the medicine", "Pharmacy label, product or box barcode"
                            ),
                            rx.hstack(
                                rx.vstack(
                                    rx.text("3. Dose (" + S.dialog_unit + ")", size="2", weight="medium"),
                                    rx.input(
                                        name="dose",
                                        default_value=S.dialog_dose,
                                        input_mode="decimal",
                                        max_length=12,
                                        data_testid="mar-dose",
                                    ),
                                    spacing="1",
                                ),
                                rx.vstack(
                                    rx.text("Route", size="2", weight="medium"),
                                    rx.select.root(
                                        rx.select.trigger(data_testid="mar-route"),
                                        rx.select.content(
                                            *[
                                                rx.select.item(label, value=code)
                                                for code, label in ROUTE_CHOICES
                                            ]
                                        ),
                                        name="route",
                                        default_value=S.dialog_route,
                                    ),
                                    spacing="1",
                                ),
                                spacing="3",
                                width="100%",
                            ),
                            rx.cond(
                                (S.dialog_error_field == "dose") | (S.dialog_error_field == "route"),
                                error_line(S.dialog_error, "error-dose"),
                            ),
                            spacing="3",
                            width="100%",
                        ),
                    ),
                    rx.vstack(
                        rx.text(
                            rx.cond(given, "Note (needed when the dose is late)", "Reason (needed)"),
                            size="2",
                            weight="medium",
                        ),
                        rx.text_area(
                            name="reason", max_length=300, rows="2", width="100%", data_testid="mar-reason"
                        ),
                        rx.cond(S.dialog_error_field == "reason", error_line(S.dialog_error, "error-reason")),
                        spacing="1",
                        width="100%",
                    ),
                    rx.cond(
                        (S.dialog_error != "")
                        & ~rx.Var.create(["wristband", "medicine", "dose", "route", "reason"]).contains(
                            S.dialog_error_field
                        ),
                        error_line(S.dialog_error, "mar-error"),
                    ),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", type="button", variant="soft", color_scheme="gray")
                        ),
                        rx.button(
                            rx.cond(given, "Check and record", "Record"),
                            type="submit",
                            loading=S.saving,
                            data_testid="mar-record",
                        ),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                    margin_top="0.75rem",
                ),
                on_submit=S.record,
                reset_on_submit=False,
                key=S.form_key.to_string(),
            ),
            max_width="34rem",
            data_testid="dialog-mar",
        ),
        open=S.dialog_open,
        on_open_change=S.on_dialog_change,
    )


def body() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.cond(
            S.problem != "",
            rx.card(empty_state(S.problem, "user-x"), width="100%", data_testid="mar-problem"),
            rx.vstack(
                banner(),
                shift_bar(),
                rx.cond(
                    S.rows.length() > 0,
                    rx.vstack(grid(), legend(), spacing="2", width="100%"),
                    rx.card(
                        empty_state("No inpatient medication orders ran during this shift.", "pill"),
                        width="100%",
                        data_testid="mar-empty",
                    ),
                ),
                entries(),
                spacing="3",
                width="100%",
                data_testid="mar",
                custom_attrs={"data-version": S.version},
            ),
        ),
        skeleton_rows(8),
    )


@staff_page("/patients/[patient_id]/mar", "Medication administration", [S.load, S.watch])
def mar_page() -> rx.Component:
    return rx.vstack(
        rx.cond(
            can("medication.read"),
            body(),
            no_access("Your role does not give access to medication records."),
        ),
        record_dialog(),
        spacing="4",
        width="100%",
    )
