"""The allergies card of the chart's Allergies & medications tab, and its add dialog."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.chart.common import (
    add_button,
    header_cells,
    record_card,
    status_badge,
    status_menu,
    write_only,
)
from hms_app.pages.chart.dialogs import form_dialog, labelled, simple_select
from hms_app.state.chart.allergies import SEVERITY_CHOICES, AllergyLine, ChartAllergiesState


def severity_badge(severity: rx.Var) -> rx.Component:
    return rx.match(
        severity,
        ("severe", rx.badge("severe", color_scheme="red", variant="solid")),
        ("moderate", rx.badge("moderate", color_scheme="orange", variant="soft")),
        rx.badge(severity, color_scheme="gray", variant="soft"),
    )


def allergy_row(a: AllergyLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(a.substance, weight="medium")),
        rx.table.cell(a.reaction),
        rx.table.cell(severity_badge(a.severity)),
        rx.table.cell(status_badge(a.status)),
        rx.table.cell(
            write_only(
                status_menu(
                    a.substance,
                    rx.cond(
                        a.status != "active",
                        rx.menu.item(
                            "Reactivate", on_click=ChartAllergiesState.set_allergy_status(a.id, "active")
                        ),
                    ),
                    rx.cond(
                        a.status != "inactive",
                        rx.menu.item(
                            "Mark inactive",
                            on_click=ChartAllergiesState.set_allergy_status(a.id, "inactive"),
                        ),
                    ),
                    rx.cond(
                        a.status != "resolved",
                        rx.menu.item(
                            "Mark resolved",
                            on_click=ChartAllergiesState.set_allergy_status(a.id, "resolved"),
                        ),
                    ),
                )
            ),
            text_align="right",
        ),
        align="center",
        data_testid="allergy-row",
    )


def allergy_card() -> rx.Component:
    return record_card(
        "Allergies",
        "triangle-alert",
        header_cells("Substance", "Reaction", "Severity", "Status", ""),
        ChartAllergiesState.allergies,
        allergy_row,
        "No allergies recorded.",
        add_button("Add allergy", "allergy", "add-allergy"),
    )


def allergy_dialogs() -> rx.Component:
    return form_dialog(
        ChartAllergiesState,
        "allergy",
        "Add an allergy",
        "A substance the patient reacts to.",
        ChartAllergiesState.submit_allergy,
        "Add allergy",
        labelled(
            ChartAllergiesState,
            "Substance",
            rx.input(
                name="substance",
                max_length=120,
                required=True,
                width="100%",
                placeholder="e.g. Penicillin",
            ),
            "substance",
        ),
        labelled(
            ChartAllergiesState,
            "Reaction",
            rx.input(name="reaction", max_length=200, width="100%", placeholder="e.g. Hives"),
            "reaction",
        ),
        labelled(
            ChartAllergiesState,
            "Severity",
            simple_select("severity", SEVERITY_CHOICES, "moderate"),
            "severity",
        ),
    )
