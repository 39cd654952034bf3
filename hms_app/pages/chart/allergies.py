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
from hms_app.state.chart.page import ChartState


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


def allergy_status_note() -> rx.Component:
    """What is recorded about allergies at all: not yet assessed (amber), or who recorded none."""
    return rx.match(
        ChartState.allergy_state,
        (
            "unassessed",
            rx.callout(
                "Allergies not yet assessed: ask the patient, then add each allergy or record that "
                "there are no known allergies.",
                icon="circle-help",
                color_scheme="amber",
                size="1",
                width="100%",
                data_testid="allergy-status",
            ),
        ),
        (
            "none_known",
            rx.text(
                rx.icon("check", size=14, display="inline", vertical_align="middle"),
                " No known allergies, recorded by ",
                ChartState.allergy_assessed,
                size="2",
                color_scheme="green",
                data_testid="allergy-status",
            ),
        ),
        rx.fragment(),
    )


def allergy_card() -> rx.Component:
    return record_card(
        "Allergies",
        "triangle-alert",
        header_cells("Substance", "Reaction", "Severity", "Status", ""),
        ChartAllergiesState.allergies,
        allergy_row,
        "No allergies recorded.",
        write_only(
            rx.cond(
                ChartState.allergy_state == "unassessed",
                rx.button(
                    rx.icon("check", size=14),
                    "No known allergies",
                    size="1",
                    variant="soft",
                    color_scheme="green",
                    on_click=ChartAllergiesState.record_no_known_allergies,
                    data_testid="record-nka",
                ),
            )
        ),
        add_button("Add allergy", "allergy", "add-allergy"),
        note=allergy_status_note(),
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
