"""What the population screens share: the access notice, the tabs, the "as of" note, the
period and option pickers, and the patient table of every cohort list."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.ui import scroll_box
from hms_app.state.population.common import PERIOD_MONTHS, CohortLine

WIDE_CELL = ["none", "none", "none", "table-cell"]

TABS = (
    ("Dashboard", "/population", "chart-column"),
    ("Measures & care gaps", "/population/measures", "clipboard-check"),
    ("Cohort builder", "/population/cohorts", "filter"),
    ("Registries", "/population/registries", "list-checks"),
)


NO_ACCESS = "Your role does not give access to population health."


def tabs(active: str) -> rx.Component:
    return rx.hstack(
        *[
            rx.link(
                rx.button(
                    rx.icon(icon, size=16),
                    label,
                    variant="solid" if route == active else "soft",
                    color_scheme="teal" if route == active else "gray",
                    size="2",
                ),
                href=route,
                data_testid="pop-tab-" + route.strip("/").replace("/", "-"),
            )
            for label, route, icon in TABS
        ],
        spacing="2",
        wrap="wrap",
        width="100%",
    )


def as_of_note(as_of: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.icon("clock", size=14, color=rx.color("gray", 10)),
        rx.text(
            "Figures as of ",
            rx.text.strong(as_of),
            ". Recomputed from the clinical record by `hms population refresh` (nightly) or the button.",
            size="1",
            color_scheme="gray",
        ),
        align="center",
        spacing="2",
        data_testid="as-of",
    )


def options(pairs) -> rx.Component:
    return rx.foreach(pairs, lambda pair: rx.select.item(pair[1], value=pair[0]))


def period_select(value: rx.Var, on_change, test_id: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(data_testid=test_id),
        rx.select.content(*[rx.select.item(f"Last {m} months", value=str(m)) for m in PERIOD_MONTHS]),
        value=value,
        on_change=on_change,
    )


def measured(value, when, old, key: str) -> rx.Component:
    """A value with the day it was measured under it; amber when it is not from the period."""
    return rx.table.cell(
        rx.text(value, white_space="nowrap"),
        rx.cond(
            when != "",
            rx.text(
                when,
                size="1",
                color_scheme=rx.cond(old, "amber", "gray"),
                weight=rx.cond(old, "medium", "regular"),
                data_testid=f"measured-{key}",
            ),
        ),
    )


def patient_table(rows, test_id: str, action=None) -> rx.Component:
    def row(p: CohortLine) -> rx.Component:
        href = "/patients/" + p.id.to_string()
        cells = [
            rx.table.cell(rx.text(p.mrn, font_family="var(--code-font-family)", white_space="nowrap")),
            rx.table.row_header_cell(
                rx.cond(
                    can("patient.read"),
                    rx.link(p.name, href=href, weight="medium", data_testid="open-patient"),
                    rx.text(p.name, weight="medium"),  # a manager sees the list, not the chart
                ),
                rx.text(p.sex, " · ", p.age.to_string(), " y", size="1", color_scheme="gray"),
            ),
            rx.table.cell(p.provider, display=WIDE_CELL),
            rx.table.cell(p.last_visit, white_space="nowrap", display=WIDE_CELL),
            measured(p.hba1c, p.hba1c_when, p.hba1c_old, "hba1c"),
            measured(p.bp, p.bp_when, p.bp_old, "bp"),
            measured(p.bmi, p.bmi_when, p.bmi_old, "bmi"),
            measured(p.egfr, p.egfr_when, p.egfr_old, "egfr"),
        ]
        if action is not None:
            cells.append(rx.table.cell(action(p)))
        return rx.table.row(*cells, align="center", data_testid="cohort-row")

    headers = ["MRN", "Patient", "Provider", "Last visit", "HbA1c %", "BP", "BMI", "eGFR"]
    if action is not None:
        headers.append("Outreach")
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(
                            h, display=WIDE_CELL if h in ("Provider", "Last visit") else None
                        )
                        for h in headers
                    ]
                )
            ),
            rx.table.body(rx.foreach(rows, row)),
            variant="surface",
            size="1",
            width="100%",
        ),
        data_testid=test_id,
    )
