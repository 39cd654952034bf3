"""The finance dashboard (/finance): filters, KPI cards, figures, the invoices behind a bar."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import count_text, empty_state, scroll_box, skeleton_rows
from hms_app.state.finance import PERMISSION, BalanceLine, DrillLine, FinanceState

WIDE_CELL = ["none", "none", "none", "table-cell"]


def csv_button(table: str, test_id: str = "") -> rx.Component:
    return rx.button(
        rx.icon("download", size=14),
        "CSV",
        size="1",
        variant="soft",
        color_scheme="gray",
        on_click=FinanceState.export_table(table),
        data_testid=test_id or f"csv-{table}",
        aria_label="Download this table as CSV",
    )


def figure_card(
    title: str, hint: str, table: str, chart: rx.Var, has_data: rx.Var, empty: str, note=None, height="320px"
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
            note if note is not None else rx.fragment(),
            rx.cond(
                FinanceState.loading,
                rx.skeleton(rx.box(height=height, width="100%"), loading=True),
                rx.cond(
                    has_data,
                    rx.box(
                        rx.plotly(
                            data=chart,
                            width="100%",
                            height=height,
                            config={"displaylogo": False, "responsive": True},
                            on_click=lambda points: FinanceState.drill(table, points),
                        ),
                        width="100%",
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


def hospital_wide_note(text: str) -> rx.Component:
    return rx.cond(
        FinanceState.department != "",
        rx.callout(text, icon="info", size="1", color_scheme="gray", width="100%"),
    )


def filters() -> rx.Component:
    return rx.card(
        rx.form(
            rx.flex(
                rx.vstack(
                    rx.text("From", size="2", weight="medium"),
                    rx.input(
                        type="date",
                        name="start",
                        default_value=FinanceState.start,
                        key=FinanceState.start + "|" + FinanceState.form_generation.to_string(),
                        data_testid="filter-start",
                    ),
                    spacing="1",
                ),
                rx.vstack(
                    rx.text("To", size="2", weight="medium"),
                    rx.input(
                        type="date",
                        name="end",
                        default_value=FinanceState.end,
                        key=FinanceState.end + "|" + FinanceState.form_generation.to_string(),
                        data_testid="filter-end",
                    ),
                    spacing="1",
                ),
                rx.vstack(
                    rx.text("Department", size="2", weight="medium"),
                    rx.select.root(
                        rx.select.trigger(
                            placeholder="All departments", data_testid="filter-department", min_width="12rem"
                        ),
                        rx.select.content(
                            rx.select.item("All departments", value="all"),
                            rx.foreach(
                                FinanceState.departments, lambda d: rx.select.item(d["name"], value=d["id"])
                            ),
                        ),
                        name="department",
                        default_value=rx.cond(FinanceState.department == "", "all", FinanceState.department),
                        key=FinanceState.department + "|" + FinanceState.form_generation.to_string(),
                    ),
                    spacing="1",
                ),
                rx.vstack(
                    rx.text("Receivables on", size="2", weight="medium"),
                    rx.input(
                        type="date",
                        name="as_of",
                        default_value=FinanceState.as_of,
                        key=FinanceState.as_of + "|" + FinanceState.form_generation.to_string(),
                        data_testid="filter-as-of",
                    ),
                    spacing="1",
                ),
                rx.hstack(
                    rx.button(
                        rx.icon("filter", size=16),
                        "Apply",
                        type="submit",
                        loading=FinanceState.loading,
                        data_testid="filter-apply",
                    ),
                    rx.button(
                        "Reset",
                        type="button",
                        variant="soft",
                        color_scheme="gray",
                        on_click=FinanceState.reset_filters,
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
                FinanceState.filter_error != "",
                rx.callout(
                    FinanceState.filter_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    margin_top="0.75rem",
                    role="alert",
                    data_testid="filter-error",
                ),
            ),
            on_submit=FinanceState.apply,
            reset_on_submit=False,
        ),
        width="100%",
    )


def kpi_card(label: str, value, hint, icon: str, test_id: str) -> rx.Component:
    """A figure card with its icon beside the label, so that a long amount keeps the whole width."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(label, size="2", color_scheme="gray"),
                rx.spacer(),
                rx.icon(icon, size=20, color=rx.color("accent", 9), flex_shrink="0"),
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
    whole_hospital = FinanceState.department != ""
    cards = [
        (
            "Revenue",
            FinanceState.kpi_revenue,
            "invoiced in the period, tax included",
            "receipt",
            "kpi-revenue",
        ),
        (
            "Collections",
            FinanceState.kpi_collections,
            rx.cond(
                whole_hospital, "all departments: payments are not split", "money received, net of refunds"
            ),
            "wallet",
            "kpi-collections",
        ),
        (
            "Outstanding",
            FinanceState.kpi_outstanding,
            count_text(FinanceState.kpi_open_invoices, "open invoice")
            + " on "
            + FinanceState.ar_day_label
            + rx.cond(whole_hospital, ", all departments", ""),
            "hourglass",
            "kpi-outstanding",
        ),
        ("Expenses", FinanceState.kpi_expenses, "recorded in the period", "trending-down", "kpi-expenses"),
    ]
    return rx.grid(
        *[
            rx.cond(
                FinanceState.loaded,
                kpi_card(label, value, hint, icon, test_id),
                rx.skeleton(rx.box(height="6.5rem"), loading=True),
            )
            for label, value, hint, icon, test_id in cards
        ],
        columns=rx.breakpoints(initial="1", sm="2", lg="4"),
        spacing="4",
        width="100%",
    )


def balance_row(row: BalanceLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.number, font_family="var(--code-font-family)", white_space="nowrap")),
        rx.table.row_header_cell(row.patient),
        rx.table.cell(row.payer, display=WIDE_CELL),
        rx.table.cell(row.issued, white_space="nowrap", display=WIDE_CELL),
        rx.table.cell(row.age_days.to_string() + " d", white_space="nowrap"),
        rx.table.cell(row.total, text_align="right", white_space="nowrap", display=WIDE_CELL),
        rx.table.cell(rx.text(row.balance, weight="medium"), text_align="right", white_space="nowrap"),
    )


def top_balances() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.heading("Top outstanding balances", size="4"),
                    rx.text(
                        "The largest amounts still owed on ",
                        FinanceState.ar_day_label,
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="1",
                    align="start",
                ),
                rx.spacer(),
                csv_button("top_outstanding"),
                width="100%",
                align="start",
            ),
            hospital_wide_note(
                "Balances belong to invoices, which span departments: this list is hospital-wide."
            ),
            rx.cond(
                FinanceState.loading,
                skeleton_rows(5),
                rx.cond(
                    FinanceState.balances.length() > 0,
                    scroll_box(
                        rx.table.root(
                            rx.table.header(
                                rx.table.row(
                                    rx.table.column_header_cell("Invoice"),
                                    rx.table.column_header_cell("Patient"),
                                    rx.table.column_header_cell("Payer", display=WIDE_CELL),
                                    rx.table.column_header_cell("Issued", display=WIDE_CELL),
                                    rx.table.column_header_cell("Age"),
                                    rx.table.column_header_cell(
                                        "Total", text_align="right", display=WIDE_CELL
                                    ),
                                    rx.table.column_header_cell("Outstanding", text_align="right"),
                                )
                            ),
                            rx.table.body(rx.foreach(FinanceState.balances, balance_row)),
                            variant="surface",
                            size="1",
                            width="100%",
                        ),
                        data_testid="top-balances",
                    ),
                    empty_state("Nothing is owed on this day.", icon="circle-check"),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        min_width="0",
    )


def drill_row(row: DrillLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.when, white_space="nowrap"),
        rx.table.cell(
            rx.cond(
                row.link != "",
                rx.link(
                    row.reference,
                    href=row.link,
                    font_family="var(--code-font-family)",
                    white_space="nowrap",
                    data_testid="drill-link",
                ),
                rx.text(row.reference, font_family="var(--code-font-family)", white_space="nowrap"),
            )
        ),
        rx.table.row_header_cell(row.who),
        rx.table.cell(row.detail, display=WIDE_CELL),
        rx.table.cell(row.amount, text_align="right", white_space="nowrap"),
        rx.table.cell(row.extra, text_align="right", white_space="nowrap", display=WIDE_CELL),
        data_testid="drill-row",
    )


def drill_dialog() -> rx.Component:
    heading = lambda i, **props: rx.table.column_header_cell(FinanceState.drill_headings[i], **props)  # noqa: E731
    return rx.dialog.root(
        rx.dialog.content(
            rx.vstack(
                rx.hstack(
                    rx.vstack(
                        rx.dialog.title(
                            rx.cond(FinanceState.drill_title != "", FinanceState.drill_title, "Loading ..."),
                            margin="0",
                        ),
                        rx.dialog.description(
                            count_text(FinanceState.drill_total, "row")
                            + " · "
                            + FinanceState.drill_amount
                            + " in all",
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
                        on_click=FinanceState.export_drill,
                        data_testid="drill-csv",
                    ),
                    rx.dialog.close(
                        rx.icon_button(rx.icon("x", size=16), variant="ghost", aria_label="Close")
                    ),
                    width="100%",
                    align="start",
                ),
                rx.cond(
                    FinanceState.drill_loading & (FinanceState.drill_rows.length() == 0),
                    skeleton_rows(8),
                    rx.cond(
                        FinanceState.drill_rows.length() > 0,
                        scroll_box(
                            rx.table.root(
                                rx.table.header(
                                    rx.cond(
                                        FinanceState.drill_headings.length() == 6,
                                        rx.table.row(
                                            heading(0),
                                            heading(1),
                                            heading(2),
                                            heading(3, display=WIDE_CELL),
                                            heading(4, text_align="right"),
                                            heading(5, text_align="right", display=WIDE_CELL),
                                        ),
                                    )
                                ),
                                rx.table.body(rx.foreach(FinanceState.drill_rows, drill_row)),
                                variant="surface",
                                size="1",
                                width="100%",
                                opacity=rx.cond(FinanceState.drill_loading, "0.5", "1"),
                            ),
                            data_testid="drill-table",
                        ),
                        empty_state("Nothing behind this bar.", icon="inbox"),
                    ),
                ),
                rx.hstack(
                    rx.spacer(),
                    rx.button(
                        rx.icon("chevron-left", size=16),
                        "Previous",
                        variant="soft",
                        size="1",
                        disabled=FinanceState.drill_page <= 1,
                        on_click=FinanceState.drill_prev,
                    ),
                    rx.text(
                        "Page ",
                        FinanceState.drill_page.to_string(),
                        " of ",
                        FinanceState.drill_page_count.to_string(),
                        size="2",
                    ),
                    rx.button(
                        "Next",
                        rx.icon("chevron-right", size=16),
                        variant="soft",
                        size="1",
                        disabled=FinanceState.drill_page >= FinanceState.drill_page_count,
                        on_click=FinanceState.drill_next,
                        data_testid="drill-next",
                    ),
                    width="100%",
                    align="center",
                    spacing="3",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="min(1100px, 96vw)",
            data_testid="drill-dialog",
        ),
        open=FinanceState.drill_open,
        on_open_change=FinanceState.set_drill_open,
    )


@staff_page(route="/finance", title="Finance", on_load=FinanceState.load)
def finance_page() -> rx.Component:
    # A role without the figures is told so, not shown an empty dashboard that reads as a
    # hospital with no revenue (the server refuses every handler anyway).
    return rx.cond(
        can(PERMISSION),
        dashboard(),
        no_access("The finance dashboard is for managers: your role does not include analytics."),
    )


def dashboard() -> rx.Component:
    two = rx.breakpoints(initial="1", lg="2")
    return rx.vstack(
        filters(),
        rx.text(
            rx.cond(FinanceState.applied_label != "", "Showing " + FinanceState.applied_label + ". ", ""),
            "Click a bar or a slice to list the invoices behind it.",
            size="2",
            color_scheme="gray",
        ),
        kpis(),
        rx.grid(
            figure_card(
                "Revenue by month",
                "Issued invoices, tax included, by the month they were issued",
                "revenue_by_month",
                FinanceState.revenue_month_chart,
                FinanceState.has_revenue,
                "No invoices were issued in this period.",
            ),
            figure_card(
                "Charges and collections",
                "Charges entered against money received, by month",
                "charges_vs_collections",
                FinanceState.charges_collections_chart,
                FinanceState.has_activity,
                "No charges or payments in this period.",
                note=hospital_wide_note(
                    "Collections are hospital-wide: a payment settles invoices, not departments."
                ),
            ),
            figure_card(
                "Revenue by department",
                "Invoice lines by the department that performed the service",
                "revenue_by_department",
                FinanceState.revenue_department_chart,
                FinanceState.has_revenue,
                "No revenue in this period.",
            ),
            figure_card(
                "Payer mix",
                "Revenue by the invoice's payer; no payer is self-pay",
                "payer_mix",
                FinanceState.payer_chart,
                FinanceState.has_revenue,
                "No revenue in this period.",
            ),
            figure_card(
                "Accounts receivable aging",
                "What is owed, by days since the invoice was issued",
                "ar_aging",
                FinanceState.aging_chart,
                FinanceState.has_receivables,
                "Nothing is owed on this day.",
                note=hospital_wide_note("Receivables are hospital-wide: an invoice spans departments."),
            ),
            figure_card(
                "Expenses against revenue",
                "Monthly revenue, expenses and the margin between them",
                "expenses_vs_revenue",
                FinanceState.expenses_revenue_chart,
                FinanceState.has_revenue | FinanceState.has_expenses,
                "No revenue or expenses in this period.",
            ),
            figure_card(
                "Top services",
                "The fifteen services that brought in most; the CSV lists all of them",
                "revenue_by_service",
                FinanceState.revenue_service_chart,
                FinanceState.has_revenue,
                "No revenue in this period.",
                height="460px",
            ),
            figure_card(
                "Expenses by category",
                "Costs recorded in the period",
                "expenses_by_category",
                FinanceState.expenses_category_chart,
                FinanceState.has_expenses,
                "No expenses recorded in this period.",
            ),
            columns=two,
            spacing="4",
            width="100%",
        ),
        top_balances(),
        drill_dialog(),
        spacing="4",
        width="100%",
    )
