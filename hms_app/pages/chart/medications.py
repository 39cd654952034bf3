"""The medications card of the chart's Allergies & medications tab, and its add and stop dialogs."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.chart.common import add_button, header_cells, record_card, status_badge, write_only
from hms_app.pages.chart.dialogs import date_input, form_dialog, labelled
from hms_app.state.chart.medications import ChartMedicationsState, MedicationLine


def medication_row(m: MedicationLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(m.medication, weight="medium")),
        rx.table.cell(m.dosage),
        rx.table.cell(status_badge(m.status)),
        rx.table.cell(rx.text(m.started, white_space="nowrap")),
        rx.table.cell(rx.cond(m.status == "stopped", rx.text(m.stopped, " · ", m.stop_reason, size="2"))),
        rx.table.cell(
            write_only(
                rx.cond(
                    m.status == "active",
                    rx.button(
                        "Stop",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=ChartMedicationsState.ask_stop(m.id),
                    ),
                )
            ),
            text_align="right",
        ),
        align="center",
    )


def medication_card() -> rx.Component:
    return record_card(
        "Medications",
        "pill",
        header_cells("Medication", "Dosage", "Status", "Started", "Stopped", ""),
        ChartMedicationsState.medications,
        medication_row,
        "No medications recorded.",
        add_button("Add medication", "medication", "add-medication"),
    )


def medication_dialogs() -> rx.Component:
    return rx.fragment(
        form_dialog(
            ChartMedicationsState,
            "medication",
            "Add a medication",
            "A medicine the patient takes.",
            ChartMedicationsState.submit_medication,
            "Add medication",
            labelled(
                ChartMedicationsState,
                "Medication",
                rx.input(
                    name="medication",
                    max_length=200,
                    required=True,
                    width="100%",
                    placeholder="e.g. Metformin",
                ),
                "medication",
            ),
            labelled(
                ChartMedicationsState,
                "Dosage",
                rx.input(name="dosage", max_length=200, width="100%", placeholder="e.g. 500 mg twice daily"),
                "dosage",
            ),
            labelled(ChartMedicationsState, "Started on (optional)", date_input("started_on"), "started_on"),
        ),
        form_dialog(
            ChartMedicationsState,
            "stop",
            "Stop medication",
            rx.text("Stops ", rx.text.strong(ChartMedicationsState.dialog_subject), "; the reason is kept."),
            ChartMedicationsState.submit_stop,
            "Stop medication",
            labelled(
                ChartMedicationsState,
                "Reason",
                rx.input(
                    name="stop_reason",
                    max_length=200,
                    required=True,
                    width="100%",
                    placeholder="e.g. Side effects",
                ),
                "stop_reason",
            ),
            labelled(
                ChartMedicationsState,
                "Stopped on",
                date_input("stopped_on"),
                "stopped_on",
                "Today if left empty.",
            ),
        ),
    )
