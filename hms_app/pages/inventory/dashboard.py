"""The inventory dashboard (/analytics/inventory): filters, totals, figures, what is behind a bar."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import count_text, empty_state, pager, scroll_box, skeleton_rows
from hms_app.state.inventory.dashboard import PERMISSION, DrillLine, InventoryDashboardState

S = InventoryDashboardState
WIDE_CELL = ["none", "none", "table-cell"]
IDLE_CHOICES = (
    ("30", "30 days"),
    ("60", "60 days"),
    ("90", "90 days"),
    ("180", "180 days"),
    ("365", "a year"),
)


def csv_button(table: str) -> rx.Component:
    return rx.button(
        rx.icon("download", size=14),
        "CSV",
        size="1",
        variant="soft",
        color_scheme="gray",
        on_click=S.export_table(table),
        data_testid=f"csv-{table}",
        aria_label="Download this table as CSV",
    )


def figure_card(
    title: str, hint, table: str, chart: rx.Var, has_data: rx.Var, empty: str, height="320px"
) -> rx.Component:
    """One figure: title, what a click does, the chart (or a skeleton, or an empty state), CSV."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.heading(title, size="4"),
                    rx.text(hint, size="1", color_scheme="gray"),
                    spacing="1",
                    align="start",
                ),
                rx.spacer(),
                csv_button(table),
                width="100%",
                align="start",
            ),
            rx.cond(
                S.loading & ~S.loaded,
                rx.skeleton(rx.box(height=height, width="100%"), loading=True),
                rx.cond(
                    has_data,
                    rx.box(
                        rx.plotly(
                            data=chart,
                            width="100%",
                            config={"displaylogo": False, "responsive": True, "displayModeBar": False},
                            on_click=lambda points: S.drill(table, points),
                        ),
                        width="100%",
                        opacity=rx.cond(S.loading, "0.5", "1"),
                        data_testid=f"chart-{table}",
                    ),
                    empty_state(empty, icon="chart-no-axes-column"),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        min_width="0",
    )


def labelled(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(label, size="2", weight="medium"), control, spacing="1")


def choice(name: str, value: rx.Var, options, all_label: str, test_id: str, width="12rem") -> rx.Component:
    """A select whose "all" entry stands for no filter."""
    return rx.select.root(
        rx.select.trigger(placeholder=all_label, data_testid=test_id, min_width=width),
        rx.select.content(
            rx.select.item(all_label, value="all"),
            rx.foreach(options, lambda o: rx.select.item(o["name"], value=o["id"])),
        ),
        name=name,
        default_value=rx.cond(value == "", "all", value),
        key=value + "|" + S.form_generation.to_string(),
    )


def filters() -> rx.Component:
    return rx.card(
        rx.form(
            rx.flex(
                labelled(
                    "From",
                    rx.input(
                        type="date",
                        name="start",
                        default_value=S.start,
                        key=S.start + "|" + S.form_generation.to_string(),
                        data_testid="filter-start",
                    ),
                ),
                labelled(
                    "To",
                    rx.input(
                        type="date",
                        name="end",
                        default_value=S.end,
                        key=S.end + "|" + S.form_generation.to_string(),
                        data_testid="filter-end",
                    ),
                ),
                labelled("Store", choice("store", S.store, S.stores, "All stores", "filter-store")),
                labelled(
                    "Category",
                    choice(
                        "category", S.category, S.categories, "All categories", "filter-category", "10rem"
                    ),
                ),
                labelled(
                    "Slow after",
                    rx.select.root(
                        rx.select.trigger(data_testid="filter-idle", min_width="8rem"),
                        rx.select.content(*[rx.select.item(label, value=v) for v, label in IDLE_CHOICES]),
                        name="idle_days",
                        default_value=S.idle_days,
                        key=S.idle_days + "|" + S.form_generation.to_string(),
                    ),
                ),
                rx.hstack(
                    rx.button(
                        rx.icon("filter", size=16),
                        "Apply",
                        type="submit",
                        loading=S.loading,
                        data_testid="filter-apply",
                    ),
                    rx.button(
                        "Reset", type="button", variant="soft", color_scheme="gray", on_click=S.reset_filters
                    ),
                    spacing="2",
                    align="end",
                    height="100%",
                ),
                wrap="wrap",
                spacing="4",
                align="end",
            ),
            rx.cond(
                S.filter_error != "",
                rx.callout(
                    S.filter_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    margin_top="0.75rem",
                    role="alert",
                    data_testid="filter-error",
                ),
            ),
            on_submit=S.apply,
            reset_on_submit=False,
        ),
        width="100%",
    )


def valuation_switch() -> rx.Component:
    return rx.hstack(
        rx.text("Value stock at", size="2", color_scheme="gray"),
        rx.segmented_control.root(
            rx.segmented_control.item("FIFO", value="fifo"),
            rx.segmented_control.item("Moving average", value="average"),
            value=S.valuation,
            on_change=S.set_valuation,
            size="1",
            data_testid="valuation",
        ),
        align="center",
        spacing="2",
        wrap="wrap",
    )


def kpi_card(label: str, value, hint, icon: str, test_id: str, color: str = "accent") -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(label, size="2", color_scheme="gray"),
                rx.spacer(),
                rx.icon(icon, size=20, color=rx.color(color, 9), flex_shrink="0"),
                width="100%",
                align="center",
            ),
            rx.heading(value, size=rx.breakpoints(initial="7", lg="6"), data_testid=test_id),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="1",
            align="start",
            width="100%",
        ),
        width="100%",
        min_width="0",
    )


def kpis() -> rx.Component:
    cards = [
        (
            "Stock value",
            S.kpi_value,
            "usable stock today; " + S.kpi_written_down + " expired, written down",
            "warehouse",
            "kpi-stock-value",
            "accent",
        ),
        (
            "Consumption",
            S.kpi_consumption,
            "issued in the period, net of returns",
            "package-minus",
            "kpi-consumption",
            "accent",
        ),
        (
            "Expiring in 90 days",
            S.kpi_expiring,
            count_text(S.kpi_expired_lots, "expired lot") + " still on the shelves",
            "calendar-clock",
            "kpi-expiring",
            "amber",
        ),
        (
            "Out of stock",
            S.kpi_out.to_string(),
            count_text(S.kpi_low, "more item") + " at or below the reorder point",
            "package-x",
            "kpi-out",
            "red",
        ),
    ]
    return rx.grid(
        *[
            rx.cond(
                S.loaded,
                kpi_card(label, value, hint, icon, test_id, color),
                rx.skeleton(rx.box(height="6.5rem"), loading=True),
            )
            for label, value, hint, icon, test_id, color in cards
        ],
        columns=rx.breakpoints(initial="1", sm="2", lg="4"),
        spacing="4",
        width="100%",
    )


def drill_row(row: DrillLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row.c1),
        rx.table.cell(row.c2, white_space="nowrap"),
        rx.table.cell(row.c3, display=WIDE_CELL, white_space="nowrap"),
        rx.table.cell(row.c4, text_align="right", white_space="nowrap"),
        rx.table.cell(row.c5, text_align="right", white_space="nowrap"),
        rx.table.cell(row.c6, text_align="right", white_space="nowrap", display=WIDE_CELL),
        data_testid="drill-row",
    )


def drill_dialog() -> rx.Component:
    heading = lambda i, **props: rx.table.column_header_cell(S.drill_headings[i], **props)  # noqa: E731
    return rx.dialog.root(
        rx.dialog.content(
            rx.vstack(
                rx.hstack(
                    rx.vstack(
                        rx.dialog.title(
                            rx.cond(S.drill_title != "", S.drill_title, "Loading ..."), margin="0"
                        ),
                        rx.dialog.description(
                            count_text(S.drill_total, "row")
                            + rx.cond(S.drill_amount != "", " · " + S.drill_amount + " in all", ""),
                            size="2",
                            color_scheme="gray",
                            data_testid="drill-summary",
                        ),
                        spacing="1",
                        align="start",
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("download", size=14),
                        "CSV",
                        size="1",
                        variant="soft",
                        on_click=S.export_drill,
                        data_testid="drill-csv",
                    ),
                    rx.dialog.close(
                        rx.icon_button(rx.icon("x", size=16), variant="ghost", aria_label="Close")
                    ),
                    width="100%",
                    align="start",
                ),
                rx.cond(
                    S.drill_loading & (S.drill_rows.length() == 0),
                    skeleton_rows(8),
                    rx.cond(
                        S.drill_rows.length() > 0,
                        scroll_box(
                            rx.table.root(
                                rx.table.header(
                                    rx.cond(
                                        S.drill_headings.length() == 6,
                                        rx.table.row(
                                            heading(0),
                                            heading(1),
                                            heading(2, display=WIDE_CELL),
                                            heading(3, text_align="right"),
                                            heading(4, text_align="right"),
                                            heading(5, text_align="right", display=WIDE_CELL),
                                        ),
                                    )
                                ),
                                rx.table.body(rx.foreach(S.drill_rows, drill_row)),
                                variant="surface",
                                size="1",
                                width="100%",
                                opacity=rx.cond(S.drill_loading, "0.5", "1"),
                            ),
                            data_testid="drill-table",
                        ),
                        empty_state("Nothing behind this bar.", icon="inbox"),
                    ),
                ),
                pager(
                    S.drill_page,
                    S.drill_page_count,
                    S.drill_total,
                    S.drill_prev,
                    S.drill_next,
                    noun="rows",
                    next_test_id="drill-next",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="min(1100px, 96vw)",
            data_testid="drill-dialog",
        ),
        open=S.drill_open,
        on_open_change=S.set_drill_open,
    )


@staff_page(route="/analytics/inventory", title="Inventory analytics", on_load=S.load)
def inventory_dashboard_page() -> rx.Component:
    return rx.cond(
        can(PERMISSION),
        dashboard(),
        no_access("The inventory dashboard is for managers: your role does not include analytics."),
    )


def dashboard() -> rx.Component:
    two = rx.breakpoints(initial="1", lg="2")
    return rx.vstack(
        filters(),
        rx.flex(
            rx.text(
                rx.cond(S.applied_label != "", "Showing " + S.applied_label + ". ", ""),
                "Click a bar or a cell to list what is behind it.",
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            valuation_switch(),
            width="100%",
            wrap="wrap",
            spacing="3",
            align="center",
        ),
        kpis(),
        rx.grid(
            figure_card(
                "Stock value by store",
                "Usable stock today; expired stock is written down to nothing",
                "stock_value_by_store",
                S.value_chart,
                S.has_stock,
                "No stock on hand for these filters.",
            ),
            figure_card(
                "Stock-outs",
                "Stocked items with nothing usable, and those at or below their reorder point",
                "stock_outs",
                S.outs_chart,
                S.has_outs,
                "Nothing stocked is out or at its reorder point for these filters.",
            ),
            columns=two,
            spacing="4",
            width="100%",
        ),
        figure_card(
            "Consumption by department",
            "Stock issued to patients, departments and repairs, less returns, by month",
            "consumption_by_department",
            S.consumption_chart,
            S.has_consumption,
            "Nothing was issued in this period.",
            height="360px",
        ),
        rx.grid(
            figure_card(
                "Expiring stock",
                "Value on the shelves by the time left before it expires",
                "expiring_by_store",
                S.expiring_chart,
                S.has_expiring,
                "Nothing expires in the next 90 days.",
            ),
            figure_card(
                "Slow movers",
                rx.text.span(
                    "Stock nothing was issued or transferred from since the chosen days; the fifteen worth most (",
                    count_text(S.slow_count, "in all", "in all"),
                    ", all in the CSV)",
                ),
                "slow_movers",
                S.slow_chart,
                S.has_slow,
                "No stock has sat unmoved that long for these filters.",
            ),
            columns=two,
            spacing="4",
            width="100%",
        ),
        figure_card(
            "Supplier lead times",
            "Days from sending an order to its first delivery, against the supplier's promise",
            "supplier_lead_times",
            S.lead_chart,
            S.has_orders,
            "No purchase orders were sent in this period.",
        ),
        drill_dialog(),
        spacing="4",
        width="100%",
    )
