"""The operations dashboard: appointment volume, no-show rate, waiting times, bed occupancy,
laboratory and imaging turnaround, telehealth activity."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, stat_card
from hms_app.state.operations import PERIOD_DAYS, OperationsState

PLOT_CONFIG = {"displayModeBar": False, "responsive": True}


def chart(title: str, hint: str, figure, has_data, empty: str, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="3"),
            rx.text(hint, size="1", color_scheme="gray"),
            rx.cond(
                OperationsState.loaded,
                rx.cond(
                    has_data,
                    rx.box(
                        rx.plotly(data=figure, width="100%", height="320px", config=PLOT_CONFIG),
                        width="100%",
                        min_height="320px",
                        data_testid=test_id,
                    ),
                    empty_state(empty, icon="chart-no-axes-column"),
                ),
                rx.skeleton(rx.box(height="320px", width="100%")),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        min_width="0",
    )


def turnaround_card(
    title: str, note: str, rows, has_rows, empty: str, icon: str, test_id: str
) -> rx.Component:
    """A department's median minutes per stage of an order's path, for orders placed in the period."""
    return rx.card(
        rx.vstack(
            rx.heading(title, size="3"),
            rx.text(note, size="1", color_scheme="gray"),
            rx.cond(
                has_rows,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Stage"),
                            rx.table.column_header_cell("Median"),
                            rx.table.column_header_cell("Orders"),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            rows,
                            lambda row: rx.table.row(
                                rx.table.cell(row[0]), rx.table.cell(row[1]), rx.table.cell(row[2])
                            ),
                        )
                    ),
                    size="1",
                    width="100%",
                    data_testid=test_id,
                ),
                empty_state(empty, icon=icon),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def lab_turnaround() -> rx.Component:
    return turnaround_card(
        "Laboratory turnaround",
        "Median minutes per stage for laboratory orders placed in the period (all departments).",
        OperationsState.lab_turnaround,
        OperationsState.has_lab_turnaround,
        "No laboratory orders in this period.",
        "flask-conical",
        "lab-turnaround",
    )


def imaging_turnaround() -> rx.Component:
    return turnaround_card(
        "Imaging turnaround",
        "Median minutes per stage for imaging orders placed in the period (all departments).",
        OperationsState.imaging_turnaround,
        OperationsState.has_imaging_turnaround,
        "No imaging orders in this period.",
        "scan",
        "imaging-turnaround",
    )


def telehealth() -> rx.Component:
    """Video visits, messages and home readings per week, and how quickly calls connect."""
    kpis = OperationsState.telehealth_kpis
    return rx.grid(
        chart(
            "Telehealth activity by week",
            "Video visits held, secure messages written and home readings entered, per week (all departments).",
            OperationsState.telehealth_figure,
            OperationsState.has_telehealth,
            "No video visits, messages or home readings in these weeks.",
            "chart-telehealth",
        ),
        rx.grid(
            stat_card(
                "Video visits", kpis["video_visits"], "calls held in the period", "video", "ops-video-visits"
            ),
            stat_card(
                "Join delay",
                kpis["join_delay"],
                "median, admitted to both sides' media flowing",
                "timer",
                "ops-join-delay",
            ),
            stat_card(
                "Call setup",
                kpis["setup_p95"],
                "95th percentile, offer to connected",
                "gauge",
                "ops-call-setup",
            ),
            stat_card(
                "Messages · readings",
                kpis["messages"] + " · " + kpis["home_readings"],
                "written · entered in these weeks",
                "messages-square",
                "ops-telehealth-counts",
            ),
            columns="2",
            spacing="3",
            width="100%",
            align_content="start",
        ),
        columns=rx.breakpoints(initial="1", lg="2"),
        spacing="4",
        width="100%",
    )


@staff_page(route="/analytics/operations", title="Operations", on_load=OperationsState.load)
def operations_page() -> rx.Component:
    return rx.vstack(
        rx.cond(
            ~can("analytics.read"),
            no_access("Your role does not give access to the management dashboards."),
            rx.vstack(
                rx.flex(
                    rx.select.root(
                        rx.select.trigger(data_testid="ops-period"),
                        rx.select.content(
                            *[rx.select.item(f"Last {d} days", value=str(d)) for d in PERIOD_DAYS]
                        ),
                        value=OperationsState.days,
                        on_change=OperationsState.set_days,
                    ),
                    rx.select.root(
                        rx.select.trigger(min_width="12rem", data_testid="ops-department"),
                        rx.select.content(
                            rx.foreach(
                                OperationsState.departments, lambda d: rx.select.item(d[1], value=d[0])
                            )
                        ),
                        value=OperationsState.department,
                        on_change=OperationsState.set_department,
                    ),
                    gap="3",
                    wrap="wrap",
                    width="100%",
                ),
                rx.grid(
                    stat_card(
                        "Appointments",
                        OperationsState.kpis["appointments"],
                        "in the period",
                        "calendar",
                        "ops-appointments",
                    ),
                    stat_card(
                        "No-show rate",
                        OperationsState.kpis["no_show"],
                        "of visits due",
                        "user-x",
                        "ops-no-show",
                    ),
                    stat_card(
                        "Mean wait", OperationsState.kpis["wait"], "arrival to the room", "clock", "ops-wait"
                    ),
                    stat_card(
                        "Bed occupancy",
                        OperationsState.kpis["occupancy"],
                        OperationsState.kpis["beds"],
                        "bed-double",
                        "ops-occupancy",
                    ),
                    columns=rx.breakpoints(initial="2", lg="4"),
                    spacing="3",
                    width="100%",
                ),
                rx.grid(
                    chart(
                        "Appointment volume by day",
                        "Appointments starting each day, by department (offered and cancelled not counted).",
                        OperationsState.volume_figure,
                        OperationsState.has_volume,
                        "No appointments in this period.",
                        "chart-volume",
                    ),
                    chart(
                        "No-show rate by provider",
                        "Share of visits due (arrived, seen or missed) that the patient missed, as on the no-show screen.",
                        OperationsState.no_show_figure,
                        OperationsState.has_no_shows,
                        "No visits were due in this period.",
                        "chart-no-show",
                    ),
                    chart(
                        "Waiting time, arrival to the room",
                        "Visits by minutes waited after check-in, by department.",
                        OperationsState.wait_figure,
                        OperationsState.has_waits,
                        "No visits with both times recorded in this period.",
                        "chart-wait",
                    ),
                    chart(
                        "Bed occupancy by ward (now)",
                        "Beds by status; occupancy = occupied ÷ beds in service.",
                        OperationsState.occupancy_figure,
                        OperationsState.has_beds,
                        "No wards set up.",
                        "chart-beds",
                    ),
                    columns=rx.breakpoints(initial="1", lg="2"),
                    spacing="4",
                    width="100%",
                ),
                rx.grid(
                    lab_turnaround(),
                    imaging_turnaround(),
                    columns=rx.breakpoints(initial="1", lg="2"),
                    spacing="4",
                    width="100%",
                ),
                telehealth(),
                spacing="4",
                width="100%",
            ),
        ),
        width="100%",
    )
