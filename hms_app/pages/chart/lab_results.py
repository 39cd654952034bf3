"""The chart's Results tab: specimens to collect here, the orders not yet released, the cumulative
table of released results (abnormal values coloured and marked with their flag letters) and the
trend of one test with its reference range."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.chart.common import card_title, muted, scroll_table
from hms_app.pages.laboratory.common import priority_badge
from hms_app.state.chart.lab_order import ChartLabOrderState
from hms_app.state.chart.lab_results import ChartLabResultsState as S
from hms_app.state.chart.lab_results import CollectLine, OrderLine, ResultCell, ResultLine

CAN_ORDER = can("lab.order")
CAN_COLLECT = can("lab.collect")


def order_button() -> rx.Component:
    return rx.cond(
        CAN_ORDER,
        rx.button(
            rx.icon("flask-conical", size=14),
            "Order tests",
            size="2",
            on_click=ChartLabOrderState.open_order,
            data_testid="order-tests",
        ),
    )


# ------------------------------------------------------------------ specimens to collect


def label_link(specimen_id, accession, **props) -> rx.Component:
    """The printable label, in a new tab (the chart stays where it was)."""
    return rx.link(
        rx.button(rx.icon("printer", size=14), "Print label", size="1", variant="soft", color_scheme="gray"),
        href="/lab/specimens/" + specimen_id.to_string() + "/label",
        is_external=True,
        aria_label="Print the label of " + accession,
        **props,
    )


def collect_row(line: CollectLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(line.accession, weight="medium", font_family="monospace")),
        rx.table.cell(priority_badge(line.priority, line.priority_label)),
        rx.table.cell(rx.vstack(rx.text(line.container, size="2"), muted(line.specimen_type), spacing="0")),
        rx.table.cell(line.tests),
        rx.table.cell(muted(line.reference)),
        rx.table.cell(
            rx.hstack(
                label_link(line.id, line.accession, data_testid="label-" + line.accession),
                rx.button(
                    rx.icon("syringe", size=14),
                    "Collect",
                    size="1",
                    loading=S.collecting == line.id,
                    on_click=S.collect(line.id),
                    data_testid="collect-" + line.accession,
                ),
                spacing="2",
                justify="end",
            ),
            text_align="right",
        ),
        align="center",
        data_testid="to-collect-" + line.accession,
    )


def collect_card() -> rx.Component:
    return rx.cond(
        CAN_COLLECT & (S.to_collect.length() > 0),
        rx.card(
            rx.vstack(
                card_title("Specimens to collect", "test-tube"),
                muted("Collect now records who took the sample and when; print the label first."),
                scroll_table(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Specimen", "Priority", "Container", "Tests", "Request", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(S.to_collect, collect_row)),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            data_testid="collect-card",
        ),
    )


# ------------------------------------------------------------------ open orders


def order_row(line: OrderLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(line.test, weight="medium")),
        rx.table.cell(priority_badge(line.priority, line.priority_label)),
        rx.table.cell(
            rx.vstack(
                rx.badge(line.status_label, color_scheme="blue", variant="soft"),
                rx.cond(
                    line.rejection != "",
                    rx.text("New sample needed: ", line.rejection, size="1", color=rx.color("red", 11)),
                ),
                spacing="1",
                align="start",
            )
        ),
        rx.table.cell(rx.text(line.ordered, white_space="nowrap")),
        rx.table.cell(
            rx.vstack(
                rx.text(line.accession, font_family="monospace", size="2"),
                muted(line.reference),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.cond(CAN_COLLECT & line.label, label_link(line.specimen_id, line.accession)),
                rx.cond(
                    CAN_ORDER & line.cancellable,
                    rx.button(
                        "Cancel",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=ChartLabOrderState.ask_cancel(line.order_id),
                        data_testid="cancel-order-" + line.order_id.to_string(),
                    ),
                ),
                spacing="2",
                justify="end",
            ),
            text_align="right",
        ),
        align="center",
        data_testid="order-" + line.order_id.to_string(),
        data_status=line.status,
    )


def orders_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            card_title("Orders in progress", "clipboard-list", order_button()),
            rx.cond(
                S.orders.length() > 0,
                scroll_table(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Test", "Priority", "Status", "Ordered", "Specimen", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(S.orders, order_row)),
                    data_testid="lab-orders",
                ),
                empty_state("No laboratory orders in progress.", "clipboard-list"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


# ------------------------------------------------------------------ the cumulative table


def result_cell(cell: ResultCell) -> rx.Component:
    return rx.table.cell(
        rx.cond(
            cell.value != "",
            rx.hstack(
                rx.text(
                    cell.value,
                    weight=rx.cond(cell.flag != "", "bold", "regular"),
                    white_space="nowrap",
                ),
                rx.cond(
                    cell.flag != "",
                    rx.badge(
                        cell.flag,
                        color_scheme=rx.cond(cell.tone == "critical", "red", "amber"),
                        variant=rx.cond(cell.tone == "critical", "solid", "soft"),
                        size="1",
                        title=cell.flag_label,
                        data_testid="flag-" + cell.flag,
                    ),
                ),
                spacing="1",
                align="center",
                justify="end",
            ),
            muted("—"),
        ),
        text_align="right",
        color=rx.match(
            cell.tone, ("critical", rx.color("red", 11)), ("abnormal", rx.color("amber", 11)), "inherit"
        ),
        background=rx.match(
            cell.tone, ("critical", rx.color("red", 3)), ("abnormal", rx.color("amber", 2)), "transparent"
        ),
        data_flag=cell.flag,
    )


def result_row(line: ResultLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(line.name, weight="medium", white_space="nowrap"),
                muted(line.unit),
                spacing="0",
            ),
            position="sticky",
            left="0",
            background=rx.color("gray", 1),
            z_index="1",
        ),
        rx.table.cell(muted(line.reference, white_space="nowrap")),
        rx.foreach(line.cells, result_cell),
        data_testid="result-" + line.code,
        align="center",
    )


def cumulative_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            card_title(
                "Results",
                "flask-conical",
                rx.icon_button(
                    rx.icon("refresh-cw", size=14),
                    size="1",
                    variant="ghost",
                    color_scheme="gray",
                    loading=S.lab_loading,
                    on_click=S.reload_lab,
                    aria_label="Read the results again",
                    title="Read the results again",
                    data_testid="reload-results",
                ),
                rx.cond(
                    S.times_pages > 1,
                    rx.hstack(
                        rx.button(
                            rx.icon("chevron-left", size=14),
                            "Newer",
                            size="1",
                            variant="soft",
                            disabled=S.times_page <= 1,
                            on_click=S.move_times(-1),
                        ),
                        muted(S.times_page.to_string(), " of ", S.times_pages.to_string()),
                        rx.button(
                            "Older",
                            rx.icon("chevron-right", size=14),
                            size="1",
                            variant="soft",
                            disabled=S.times_page >= S.times_pages,
                            on_click=S.move_times(1),
                            data_testid="older-results",
                        ),
                        spacing="2",
                        align="center",
                    ),
                ),
            ),
            rx.cond(
                S.results.length() > 0,
                rx.vstack(
                    scroll_table(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("Test"),
                                rx.table.column_header_cell("Reference"),
                                rx.foreach(
                                    S.times,
                                    lambda t: rx.table.column_header_cell(
                                        t, text_align="right", white_space="nowrap"
                                    ),
                                ),
                            )
                        ),
                        rx.table.body(rx.foreach(S.results, result_row)),
                        data_testid="cumulative",
                    ),
                    muted(
                        "Released results, newest collection first. Flags: L/H outside the reference "
                        "range, LL/HH critical (red)."
                    ),
                    spacing="2",
                    width="100%",
                ),
                empty_state("No laboratory results yet.", "flask-conical"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def trend_card() -> rx.Component:
    return rx.cond(
        S.trend_choices.length() > 0,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("chart-line", size=18, color=rx.color("accent", 10)),
                    rx.heading("Trend", size="3"),
                    rx.cond(S.trend_loading, rx.spinner(size="1")),
                    rx.spacer(),
                    rx.select.root(
                        rx.select.trigger(min_width="12rem", data_testid="lab-trend-select"),
                        rx.select.content(
                            rx.foreach(S.trend_choices, lambda c: rx.select.item(c.label, value=c.value))
                        ),
                        value=S.trend_test,
                        on_change=S.set_trend_test,
                    ),
                    align="center",
                    width="100%",
                    wrap="wrap",
                ),
                rx.box(
                    rx.plotly(
                        data=S.trend_figure,
                        width="100%",
                        height="320px",
                        config={"displayModeBar": False, "responsive": True},
                    ),
                    width="100%",
                    min_height="320px",
                    data_testid="lab-trend",
                ),
                muted(
                    S.trend_count.to_string(),
                    rx.cond(S.trend_count == 1, " released result", " released results"),
                    " (the latest 1,000 at most).",
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
    )


def results_tab() -> rx.Component:
    return rx.cond(
        can("lab.read"),
        rx.cond(
            S.lab_loaded,
            rx.vstack(
                collect_card(),
                orders_card(),
                cumulative_card(),
                trend_card(),
                spacing="4",
                width="100%",
                data_testid="results-tab",
            ),
            rx.vstack(skeleton_rows(4), width="100%", data_testid="results-loading"),
        ),
        no_access("Your role does not give access to laboratory results.", width="100%"),
    )
