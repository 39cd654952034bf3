"""/schedule/stats: no-show rates by provider and the patients who miss visits."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, scroll_box, skeleton_rows
from hms_app.pages.scheduling.common import option_select
from hms_app.state.scheduling import NoShowState, RateLine


@staff_page(route="/schedule/stats", title="No-show rates", on_load=NoShowState.load)
def no_show_page() -> rx.Component:
    return rx.vstack(
        refused("appointment.read", "Your role does not give access to the schedule."),
        rx.cond(
            can("appointment.read"),
            rx.vstack(
                rx.flex(
                    rx.link(
                        rx.button(
                            rx.icon("arrow-left", size=16), "Calendar", variant="soft", color_scheme="gray"
                        ),
                        href="/schedule",
                    ),
                    rx.select.root(
                        rx.select.trigger(data_testid="period-select"),
                        rx.select.content(
                            rx.select.item("Last 30 days", value="30"),
                            rx.select.item("Last 90 days", value="90"),
                            rx.select.item("Last 12 months", value="365"),
                        ),
                        value=NoShowState.period,
                        on_change=NoShowState.set_period,
                    ),
                    option_select(
                        NoShowState.departments,
                        NoShowState.department_id,
                        NoShowState.set_department,
                        "Department",
                        "stats-department",
                        any_label="All departments",
                    ),
                    rx.spacer(),
                    rx.text(
                        "Overall: ", rx.text.strong(NoShowState.overall), size="2", data_testid="overall-rate"
                    ),
                    spacing="3",
                    align="center",
                    wrap="wrap",
                    width="100%",
                ),
                rx.cond(
                    NoShowState.loaded,
                    rx.vstack(
                        rx.card(
                            rx.vstack(
                                rx.heading("No-show rate by provider", size="4"),
                                rx.text(
                                    "Share of visits due (arrived, seen or missed) that the patient missed. Red: 20 % or more.",
                                    size="1",
                                    color_scheme="gray",
                                ),
                                rx.cond(
                                    NoShowState.providers.length() > 0,
                                    rx.box(
                                        rx.plotly(data=NoShowState.figure, width="100%"),
                                        width="100%",
                                        data_testid="no-show-chart",
                                    ),
                                    empty_state("No visits were due in this period.", icon="chart-bar"),
                                ),
                                spacing="2",
                                width="100%",
                            ),
                            width="100%",
                        ),
                        rx.grid(
                            rate_table(
                                NoShowState.providers,
                                "Providers",
                                "Provider",
                                "provider-rates",
                                False,
                                "No visits were due in this period.",
                            ),
                            rate_table(
                                NoShowState.patients,
                                "Patients who miss visits",
                                "Patient",
                                "patient-rates",
                                True,
                                "No patient with at least three visits due missed one.",
                            ),
                            columns=rx.breakpoints(initial="1", md="2"),
                            spacing="4",
                            width="100%",
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    skeleton_rows(8),
                ),
                spacing="4",
                width="100%",
            ),
        ),
        spacing="4",
        width="100%",
    )


def rate_table(rows, title: str, who: str, test_id: str, link_patients: bool, empty: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="4"),
            rx.cond(
                rows.length() > 0,
                scroll_box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell(who),
                                rx.table.column_header_cell("Visits due", text_align="right"),
                                rx.table.column_header_cell("No-shows", text_align="right"),
                                rx.table.column_header_cell("Rate", text_align="right"),
                            )
                        ),
                        rx.table.body(rx.foreach(rows, lambda line: rate_row(line, link_patients))),
                        variant="surface",
                        size="1",
                        width="100%",
                    ),
                    data_testid=test_id,
                ),
                empty_state(empty, icon="calendar-check"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def rate_row(line: RateLine, link_patients: bool) -> rx.Component:
    name = (
        rx.link(line.name, href="/patients/" + line.id.to_string(), weight="medium")
        if link_patients
        else rx.text(line.name, weight="medium")
    )
    return rx.table.row(
        rx.table.row_header_cell(name),
        rx.table.cell(line.appointments.to_string(), text_align="right"),
        rx.table.cell(line.no_shows.to_string(), text_align="right"),
        rx.table.cell(
            rx.badge(line.rate, color_scheme=rx.cond(line.high, "red", "gray"), variant="soft"),
            text_align="right",
        ),
    )
