"""The immunizations card of the chart's Allergies & medications tab, and its add dialog."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.chart.common import add_button, header_cells, record_card
from hms_app.pages.chart.dialogs import date_input, form_dialog, labelled
from hms_app.state.chart.immunizations import ChartImmunizationsState, ImmunizationLine


def immunization_row(i: ImmunizationLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(i.vaccine, weight="medium")),
        rx.table.cell(rx.text(i.date, white_space="nowrap")),
        rx.table.cell(i.lot),
        align="center",
    )


def immunization_card() -> rx.Component:
    return record_card(
        "Immunizations",
        "syringe",
        header_cells("Vaccine", "Date given", "Lot"),
        ChartImmunizationsState.immunizations,
        immunization_row,
        "No immunizations recorded.",
        add_button("Add immunization", "immunization", "add-immunization"),
    )


def immunization_dialogs() -> rx.Component:
    return form_dialog(
        ChartImmunizationsState,
        "immunization",
        "Add an immunization",
        "A vaccine given.",
        ChartImmunizationsState.submit_immunization,
        "Add immunization",
        labelled(
            ChartImmunizationsState,
            "Vaccine",
            rx.input(
                name="vaccine",
                max_length=120,
                required=True,
                width="100%",
                placeholder="e.g. Influenza, seasonal",
            ),
            "vaccine",
        ),
        labelled(
            ChartImmunizationsState,
            "Date given",
            date_input("occurrence_date", required=True),
            "occurrence_date",
        ),
        labelled(
            ChartImmunizationsState,
            "Lot number (optional)",
            rx.input(name="lot_number", max_length=40, width="100%"),
            "lot_number",
        ),
    )
