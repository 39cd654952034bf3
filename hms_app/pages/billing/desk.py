"""The billing desk (/billing): accounts to bill and the invoice list."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager
from hms_app.pages.billing.common import WIDE_CELL, billing_tabs, paged_table, select, settlement_badge, table
from hms_app.state.billing.common import InvoiceListLine
from hms_app.state.billing.desk import INVOICE_FILTER_LABELS, AccountLine, BillingDeskState


def account_row(row: AccountLine) -> rx.Component:
    href = "/billing/accounts/" + row.patient_id.to_string()
    return rx.table.row(
        rx.table.row_header_cell(rx.link(row.name, href=href, weight="medium", data_testid="account-link")),
        rx.table.cell(rx.code(row.mrn, variant="ghost"), white_space="nowrap"),
        rx.table.cell(row.open_charges.to_string()),
        rx.table.cell(row.open_amount, white_space="nowrap"),
        rx.table.cell(row.oldest, display=WIDE_CELL, white_space="nowrap"),
        on_click=rx.redirect(href),
        cursor="pointer",
        _hover={"background": rx.color("accent", 2)},
        data_testid="account-row-" + row.mrn,
    )


def invoice_row(row: InvoiceListLine, with_patient: bool = True) -> rx.Component:
    href = "/billing/invoices/" + row.id.to_string()
    cells = [
        rx.table.row_header_cell(
            rx.link(row.number, href=href, weight="medium", white_space="nowrap", data_testid="invoice-link")
        ),
        rx.table.cell(row.date, white_space="nowrap"),
    ]
    if with_patient:
        cells.append(
            rx.table.cell(
                rx.text(row.patient, weight="medium"), rx.text(row.mrn, size="1", color_scheme="gray")
            )
        )
    cells += [
        rx.table.cell(row.payer, display=WIDE_CELL),
        rx.table.cell(settlement_badge(row.status)),
        rx.table.cell(row.total, white_space="nowrap", text_align="right"),
        rx.table.cell(
            rx.cond((row.status == "draft") | (row.status == "void"), "—", row.patient_due),
            white_space="nowrap",
            text_align="right",
        ),
        rx.table.cell(
            rx.cond((row.status == "draft") | (row.status == "void"), "—", row.payer_due),
            white_space="nowrap",
            text_align="right",
            display=WIDE_CELL,
        ),
    ]
    return rx.table.row(
        *cells,
        on_click=rx.redirect(href),
        cursor="pointer",
        _hover={"background": rx.color("accent", 2)},
        data_testid="invoice-row-" + row.number,
    )


def accounts_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.heading("Accounts to bill", size="4"),
                    rx.text(
                        "Patients with open charges, oldest first. Search to open any patient's account.",
                        size="2",
                        color_scheme="gray",
                    ),
                    spacing="1",
                ),
                rx.spacer(),
                rx.form(
                    rx.hstack(
                        rx.input(
                            name="account_query",
                            placeholder="MRN or family name",
                            max_length=60,
                            default_value=BillingDeskState.account_query,
                            data_testid="account-query",
                            width="14rem",
                        ),
                        rx.button(rx.icon("search", size=16), "Find", type="submit", variant="soft"),
                        spacing="2",
                    ),
                    on_submit=BillingDeskState.find_accounts,
                    reset_on_submit=False,
                    width="auto",
                ),
                width="100%",
                wrap="wrap",
                spacing="3",
            ),
            paged_table(
                BillingDeskState.loading,
                BillingDeskState.accounts,
                table(
                    ["Patient", "MRN", "Open charges", "Amount", "Oldest"],
                    rx.foreach(BillingDeskState.accounts, account_row),
                    "accounts-table",
                    wide=(4,),
                ),
                pager(
                    BillingDeskState.accounts_page,
                    BillingDeskState.accounts_page_count,
                    BillingDeskState.accounts_total,
                    BillingDeskState.accounts_move(-1),
                    BillingDeskState.accounts_move(1),
                    "accounts",
                    next_test_id="next-page",
                ),
                empty_state("No patient matches, and no charges are waiting.", "circle-check"),
                skeleton=4,
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def invoices_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Invoices", size="4"),
            rx.form(
                rx.flex(
                    rx.box(
                        select("status", list(INVOICE_FILTER_LABELS.items()), "all", "invoice-status-filter"),
                        min_width="10rem",
                    ),
                    rx.input(name="issued_from", type="date", aria_label="Issued from"),
                    rx.input(name="issued_to", type="date", aria_label="Issued to"),
                    rx.input(
                        name="query",
                        placeholder="Number, MRN or family name",
                        max_length=60,
                        data_testid="invoice-query",
                        min_width="14rem",
                    ),
                    rx.button(
                        rx.icon("filter", size=16),
                        "Apply",
                        type="submit",
                        variant="soft",
                        data_testid="invoice-filter",
                    ),
                    spacing="2",
                    wrap="wrap",
                    width="100%",
                ),
                on_submit=BillingDeskState.filter_invoices,
                reset_on_submit=False,
            ),
            paged_table(
                BillingDeskState.loading,
                BillingDeskState.invoices,
                table(
                    [
                        "Invoice",
                        "Date",
                        "Patient",
                        "Payer",
                        "Status",
                        "Total",
                        "Patient owes",
                        "Payer owes",
                    ],
                    rx.foreach(BillingDeskState.invoices, lambda r: invoice_row(r)),
                    "invoices-table",
                    wide=(3, 7),
                ),
                pager(
                    BillingDeskState.page,
                    BillingDeskState.page_count,
                    BillingDeskState.invoices_total,
                    BillingDeskState.invoices_move(-1),
                    BillingDeskState.invoices_move(1),
                    "invoices",
                    next_test_id="next-page",
                ),
                empty_state("No invoices match these filters."),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@staff_page("/billing", "Billing", [BillingDeskState.load, BillingDeskState.watch])
def billing_desk() -> rx.Component:
    return rx.vstack(billing_tabs(), accounts_card(), invoices_card(), spacing="4", width="100%")
