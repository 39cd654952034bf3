"""Expenses (/billing/expenses)."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager
from hms_app.pages.billing.common import (
    WIDE_CELL,
    billing_tabs,
    error_line,
    labelled,
    paged_table,
    select,
    table,
)
from hms_app.state.billing.expenses import EXPENSE_CATEGORIES, ExpenseLine, ExpensesState


def expense_row(row: ExpenseLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.date, white_space="nowrap"),
        rx.table.cell(row.category),
        rx.table.cell(row.department, display=WIDE_CELL),
        rx.table.cell(row.supplier),
        rx.table.cell(row.description, display=WIDE_CELL),
        rx.table.cell(row.amount, text_align="right", white_space="nowrap"),
        rx.table.cell(row.by, display=WIDE_CELL),
        data_testid="expense-row",
    )


@staff_page("/billing/expenses", "Expenses", ExpensesState.load)
def expenses_page() -> rx.Component:
    categories = list(EXPENSE_CATEGORIES.items())
    return rx.vstack(
        billing_tabs(),
        rx.cond(
            can("billing.post"),
            rx.card(
                rx.vstack(
                    rx.heading("Record an expense", size="4"),
                    rx.form(
                        rx.vstack(
                            rx.grid(
                                labelled(
                                    "Category", select("category", categories, "supplies", "expense-category")
                                ),
                                labelled(
                                    "Department",
                                    rx.select.root(
                                        rx.select.trigger(width="100%", placeholder="Hospital-wide"),
                                        rx.select.content(
                                            rx.select.item("Hospital-wide", value="none"),
                                            rx.foreach(
                                                ExpensesState.departments,
                                                lambda d: rx.select.item(d[1], value=d[0]),
                                            ),
                                        ),
                                        name="department_id",
                                        default_value="none",
                                    ),
                                ),
                                labelled(
                                    "Supplier",
                                    rx.input(
                                        name="supplier",
                                        id="supplier",
                                        required=True,
                                        max_length=120,
                                        data_testid="expense-supplier",
                                        width="100%",
                                    ),
                                ),
                                labelled(
                                    "Amount",
                                    rx.input(
                                        name="amount",
                                        id="amount",
                                        required=True,
                                        inputmode="decimal",
                                        data_testid="expense-amount",
                                        width="100%",
                                    ),
                                ),
                                labelled(
                                    "Date",
                                    rx.input(
                                        name="incurred_on",
                                        type="date",
                                        required=True,
                                        data_testid="expense-date",
                                        width="100%",
                                    ),
                                ),
                                labelled(
                                    "Description",
                                    rx.input(
                                        name="description",
                                        id="description",
                                        required=True,
                                        max_length=300,
                                        data_testid="expense-description",
                                        width="100%",
                                    ),
                                ),
                                columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                                spacing="3",
                                width="100%",
                            ),
                            error_line(ExpensesState.error),
                            rx.button(
                                rx.icon("plus", size=16),
                                "Record expense",
                                type="submit",
                                data_testid="expense-submit",
                            ),
                            spacing="3",
                            width="100%",
                        ),
                        on_submit=ExpensesState.record,
                        reset_on_submit=False,
                    ),
                    spacing="3",
                    width="100%",
                ),
                width="100%",
            ),
        ),
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.vstack(
                        rx.heading("Expenses", size="4"),
                        rx.text(
                            "Total of the listed expenses: ",
                            rx.text.strong(ExpensesState.sum_text),
                            size="2",
                            data_testid="expense-total",
                        ),
                        spacing="1",
                    ),
                    rx.spacer(),
                    rx.select.root(
                        rx.select.trigger(),
                        rx.select.content(
                            rx.select.item("All categories", value="all"),
                            *[rx.select.item(label, value=value) for value, label in categories],
                        ),
                        value=ExpensesState.category,
                        on_change=ExpensesState.set_category,
                    ),
                    width="100%",
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                paged_table(
                    ExpensesState.loading,
                    ExpensesState.rows,
                    table(
                        ["Date", "Category", "Department", "Supplier", "Description", "Amount", "By"],
                        rx.foreach(ExpensesState.rows, expense_row),
                        "expenses-table",
                        wide=(2, 4, 6),
                    ),
                    pager(
                        ExpensesState.page,
                        ExpensesState.page_count,
                        ExpensesState.count,
                        ExpensesState.move(-1),
                        ExpensesState.move(1),
                        "expenses",
                        next_test_id="next-page",
                    ),
                    empty_state("No expenses recorded."),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        spacing="4",
        width="100%",
    )
