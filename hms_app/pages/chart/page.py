"""The patient chart: a banner always in view, then Summary, Encounters, Vitals, Problems,
Allergies & medications, (laboratory) Results, Imaging and Documents tabs.

Write controls are hidden from roles without ``emr.write``; the services refuse them anyway.
"""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state
from hms_app.pages.chart.allergies import allergy_card, allergy_dialogs
from hms_app.pages.chart.banner import banner
from hms_app.pages.chart.documents import documents_tab
from hms_app.pages.chart.encounters import encounter_dialogs, encounters_tab
from hms_app.pages.chart.imaging import imaging_dialogs, imaging_tab
from hms_app.pages.chart.immunizations import immunization_card, immunization_dialogs
from hms_app.pages.chart.lab_order import lab_dialogs
from hms_app.pages.chart.lab_results import results_tab
from hms_app.pages.chart.medications import (
    med_orders_card,
    medication_card,
    medication_dialogs,
    stop_order_dialog,
)
from hms_app.pages.chart.notes import sign_dialog
from hms_app.pages.chart.prescribe import prescribe_dialog
from hms_app.pages.chart.problems import problem_dialogs, problems_tab
from hms_app.pages.chart.summary import summary_tab
from hms_app.pages.chart.vitals import vitals_tab
from hms_app.state.chart.page import ChartState


def allergies_tab() -> rx.Component:
    return rx.vstack(
        allergy_card(), med_orders_card(), medication_card(), immunization_card(), spacing="4", width="100%"
    )


def dialogs() -> rx.Component:
    """Every tab's dialogs, outside the tabs: each opens from its tab and stays mounted."""
    return rx.fragment(
        encounter_dialogs(),
        problem_dialogs(),
        allergy_dialogs(),
        medication_dialogs(),
        immunization_dialogs(),
        sign_dialog(),
        lab_dialogs(),
        imaging_dialogs(),
        prescribe_dialog(),
        stop_order_dialog(),
    )


def loading_skeleton() -> rx.Component:
    return rx.vstack(
        rx.skeleton(rx.box(height="5.5rem", width="100%")),
        rx.skeleton(rx.box(height="2.5rem", width="100%")),
        rx.grid(
            *[rx.skeleton(rx.box(height="10rem")) for _ in range(4)],
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        spacing="4",
        width="100%",
        data_testid="chart-loading",
    )


TAB_LABELS = (
    ("summary", "Summary", "layout-dashboard"),
    ("encounters", "Encounters", "calendar-days"),
    ("vitals", "Vitals", "activity"),
    ("problems", "Problems", "stethoscope"),
    ("allergies", "Allergies & meds", "pill"),
    ("results", "Results", "flask-conical"),
    ("imaging", "Imaging", "scan"),
    ("documents", "Documents", "file-text"),
)
TAB_VIEWS = {
    "summary": summary_tab,
    "encounters": encounters_tab,
    "vitals": vitals_tab,
    "problems": problems_tab,
    "allergies": allergies_tab,
    "results": results_tab,
    "imaging": imaging_tab,
    "documents": documents_tab,
}


def tabs() -> rx.Component:
    return rx.tabs.root(
        rx.tabs.list(
            *[
                rx.tabs.trigger(
                    rx.hstack(rx.icon(icon, size=14), label, spacing="1", align="center"),
                    value=value,
                    data_testid="tab-" + value,
                )
                for value, label, icon in TAB_LABELS
            ],
            size=rx.breakpoints(initial="1", lg="2"),
            style={"flex_wrap": "wrap"},
        ),
        *[
            rx.tabs.content(TAB_VIEWS[value](), value=value, padding_top="1rem")
            for value, _label, _icon in TAB_LABELS
        ],
        value=ChartState.tab,
        on_change=ChartState.set_tab,
        width="100%",
    )


@staff_page(route="/patients/[patient_id]", title="Patient chart", on_load=ChartState.load)
def chart_page() -> rx.Component:
    return rx.vstack(
        rx.cond(
            can("patient.read"),
            rx.cond(
                ChartState.loaded & (ChartState.shown_path == ChartState.router.url.path),
                rx.cond(
                    ChartState.problem != "",
                    rx.card(
                        empty_state(ChartState.problem, "user-x"),
                        rx.center(
                            rx.link(rx.button("Go to the patient list", variant="soft"), href="/patients")
                        ),
                        width="100%",
                        data_testid="chart-problem",
                    ),
                    rx.vstack(banner(), tabs(), spacing="4", width="100%"),
                ),
                loading_skeleton(),
            ),
            # What a role without the permission sees (the server refuses the data anyway).
            no_access("Your role does not give access to patient records.", width="100%"),
        ),
        dialogs(),
        spacing="4",
        width="100%",
    )
