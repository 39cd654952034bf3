"""The population dashboard (/population): figures that list their patients when clicked."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows
from hms_app.pages.population.common import NO_ACCESS, as_of_note, options, patient_table, period_select, tabs
from hms_app.state.population.dashboard import PopulationDashboardState

PLOT_CONFIG = {"displayModeBar": False, "responsive": True}


def chart_card(title: str, hint: str, figure: rx.Var, on_click, test_id: str, *controls) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.heading(title, size="3"),
                    rx.text(hint, size="1", color_scheme="gray"),
                    spacing="0",
                    align="start",
                ),
                rx.spacer(),
                *controls,
                width="100%",
                align="center",
                wrap="wrap",
                gap="2",
            ),
            rx.cond(
                PopulationDashboardState.loaded,
                rx.box(
                    rx.plotly(
                        data=figure,
                        width="100%",
                        height="320px",
                        config=PLOT_CONFIG,
                        **({"on_click": on_click} if on_click is not None else {}),
                    ),
                    width="100%",
                    min_height="320px",
                    data_testid=test_id,
                ),
                rx.skeleton(rx.box(height="320px", width="100%")),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        min_width="0",
    )


def drill_panel() -> rx.Component:
    return rx.cond(
        PopulationDashboardState.drill_title != "",
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("list", size=18),
                    rx.heading(PopulationDashboardState.drill_title, size="4", data_testid="drill-title"),
                    rx.spacer(),
                    rx.icon_button(
                        rx.icon("x", size=16),
                        variant="ghost",
                        on_click=PopulationDashboardState.close_drill,
                        aria_label="Close the list",
                    ),
                    align="center",
                    width="100%",
                ),
                rx.cond(
                    PopulationDashboardState.drill_loading
                    & (PopulationDashboardState.drill_rows.length() == 0),
                    skeleton_rows(4),
                    rx.cond(
                        PopulationDashboardState.drill_total > 0,
                        rx.vstack(
                            patient_table(PopulationDashboardState.drill_rows, "drill-table"),
                            pager(
                                PopulationDashboardState.drill_page,
                                PopulationDashboardState.drill_page_count,
                                PopulationDashboardState.drill_total,
                                PopulationDashboardState.drill_move(-1),
                                PopulationDashboardState.drill_move(1),
                                "patients",
                                count_test_id="drill-total",
                            ),
                            width="100%",
                        ),
                        empty_state("No patients behind this bar.", icon="users"),
                    ),
                ),
                rx.text("This list is recorded in the audit trail.", size="1", color_scheme="gray"),
                width="100%",
                spacing="3",
            ),
            width="100%",
            id="drill",
            data_testid="drill-panel",
        ),
    )


@staff_page(route="/population", title="Population health", on_load=PopulationDashboardState.load)
def population_page() -> rx.Component:
    return rx.vstack(
        refused("population.read", NO_ACCESS),
        rx.cond(
            can("population.read"),
            rx.vstack(
                tabs("/population"),
                rx.flex(
                    as_of_note(PopulationDashboardState.as_of),
                    rx.spacer(),
                    rx.cond(
                        can("population.manage"),
                        rx.button(
                            rx.cond(
                                PopulationDashboardState.refreshing,
                                rx.spinner(size="1"),
                                rx.icon("refresh-cw", size=14),
                            ),
                            "Recompute now",
                            size="1",
                            variant="soft",
                            disabled=PopulationDashboardState.refreshing,
                            on_click=PopulationDashboardState.refresh_now,
                            data_testid="refresh-population",
                        ),
                    ),
                    width="100%",
                    align="center",
                    wrap="wrap",
                    gap="2",
                ),
                rx.cond(
                    PopulationDashboardState.loaded,
                    rx.grid(
                        rx.card(
                            rx.vstack(
                                rx.text("Patients", size="1", color_scheme="gray"),
                                rx.heading(
                                    PopulationDashboardState.total_patients.to_string(),
                                    size="6",
                                    data_testid="pop-total",
                                ),
                                spacing="0",
                            )
                        ),
                        rx.foreach(
                            PopulationDashboardState.registry_counts,
                            lambda r: rx.card(
                                rx.vstack(
                                    rx.text(r["name"], size="1", color_scheme="gray"),
                                    rx.heading(r["members"], size="6"),
                                    spacing="0",
                                )
                            ),
                        ),
                        columns=rx.breakpoints(initial="2", sm="3", lg="6"),
                        spacing="3",
                        width="100%",
                    ),
                ),
                drill_panel(),
                rx.grid(
                    chart_card(
                        "Prevalence by condition and sex",
                        "% of active patients in each registry. Click a bar to list its patients.",
                        PopulationDashboardState.prevalence_figure,
                        PopulationDashboardState.click_prevalence,
                        "chart-prevalence",
                    ),
                    chart_card(
                        "Prevalence by age band",
                        "Of the chosen condition, by age band and sex.",
                        PopulationDashboardState.age_figure,
                        PopulationDashboardState.click_age,
                        "chart-age",
                        rx.select.root(
                            rx.select.trigger(data_testid="age-registry"),
                            rx.select.content(
                                rx.foreach(
                                    PopulationDashboardState.registries,
                                    lambda r: rx.select.item(r["name"], value=r["code"]),
                                )
                            ),
                            value=PopulationDashboardState.age_registry,
                            on_change=PopulationDashboardState.set_age_registry,
                        ),
                    ),
                    chart_card(
                        "Registry size over time",
                        "Today's members by the month their condition began (24 months).",
                        PopulationDashboardState.trend_figure,
                        None,
                        "chart-trend",
                    ),
                    chart_card(
                        "Measure performance by provider",
                        "Click a bar to list that provider's care gaps.",
                        PopulationDashboardState.measure_figure,
                        PopulationDashboardState.click_measure,
                        "chart-measure",
                        rx.select.root(
                            rx.select.trigger(data_testid="dash-measure"),
                            rx.select.content(options(PopulationDashboardState.measure_options)),
                            value=PopulationDashboardState.measure,
                            on_change=PopulationDashboardState.set_measure,
                        ),
                        period_select(
                            PopulationDashboardState.months,
                            PopulationDashboardState.set_months,
                            "dash-period",
                        ),
                    ),
                    chart_card(
                        "Kidney function (eGFR stage)",
                        "Adults by KDIGO stage of the eGFR (CKD-EPI 2021) from their latest creatinine.",
                        PopulationDashboardState.egfr_figure,
                        PopulationDashboardState.click_egfr,
                        "chart-egfr",
                    ),
                    chart_card(
                        "BMI categories",
                        "Adults by their latest BMI (WHO categories).",
                        PopulationDashboardState.bmi_figure,
                        PopulationDashboardState.click_bmi,
                        "chart-bmi",
                    ),
                    columns=rx.breakpoints(initial="1", lg="2"),
                    spacing="4",
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
        ),
        width="100%",
    )
