"""A patient's account (/billing/accounts/[patient_id])."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows, stat_card
from hms_app.pages.billing.common import (
    WIDE_CELL,
    billing_tabs,
    dialog,
    dialog_buttons,
    dialog_form,
    labelled,
    problem_callout,
    reason_area,
    settlement_badge,
    table,
)
from hms_app.pages.billing.payments import payment_dialog, payment_row, refund_dialog
from hms_app.state.billing.account import BillingAccountState, ChargeLine
from hms_app.state.billing.common import InvoiceListLine
from hms_app.state.billing.payments import PaymentDialogState


def charge_row(row: ChargeLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=BillingAccountState.selected.contains(row.id),
                on_change=lambda v: BillingAccountState.toggle_charge(row.id, v),
                data_testid="charge-check",
            )
        ),
        rx.table.cell(row.date, white_space="nowrap"),
        rx.table.row_header_cell(
            rx.text(row.description, weight="medium"), rx.text(row.code, size="1", color_scheme="gray")
        ),
        rx.table.cell(row.department, display=WIDE_CELL),
        rx.table.cell(row.quantity.to_string()),
        rx.table.cell(row.unit_price, text_align="right", white_space="nowrap", display=WIDE_CELL),
        rx.table.cell(row.amount, text_align="right", white_space="nowrap"),
        rx.table.cell(row.source, display=WIDE_CELL),
        rx.table.cell(
            rx.cond(
                can("billing.void"),
                rx.icon_button(
                    rx.icon("x", size=14),
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    aria_label="Cancel charge",
                    on_click=BillingAccountState.cancel_charge(row.id),
                ),
            )
        ),
        data_testid="charge-row-" + row.code,
        custom_attrs={"data-charge-id": row.id},
    )


def charge_dialog() -> rx.Component:
    return dialog(
        "Add a charge by hand",
        "For a service that no module charged. The reason is kept in the audit trail.",
        dialog_form(
            labelled(
                "Service",
                rx.select(
                    BillingAccountState.service_options,
                    name="service",
                    placeholder="Choose the service",
                    required=True,
                    width="100%",
                    data_testid="charge-service",
                ),
            ),
            labelled(
                "Quantity",
                rx.input(name="quantity", default_value="1", inputmode="numeric", width="6rem"),
            ),
            reason_area("e.g. dressing supplied at the front desk"),
            error=BillingAccountState.form_error,
            buttons=dialog_buttons("Add charge", BillingAccountState.set_charge_dialog(False)),
            on_submit=BillingAccountState.add_charge,
        ),
        BillingAccountState.charge_dialog,
        BillingAccountState.set_charge_dialog,
        "charge",
    )


def account_invoice_row(row: InvoiceListLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.link(
                row.number,
                href="/billing/invoices/" + row.id.to_string(),
                weight="medium",
                white_space="nowrap",
            )
        ),
        rx.table.cell(row.date, white_space="nowrap"),
        rx.table.cell(row.payer, display=WIDE_CELL),
        rx.table.cell(settlement_badge(row.status)),
        rx.table.cell(row.total, text_align="right", white_space="nowrap"),
        rx.table.cell(row.patient_due, text_align="right", white_space="nowrap"),
        rx.table.cell(
            rx.cond(
                can("billing.post")
                & ((row.status == "unpaid") | (row.status == "partially_paid"))
                & (row.patient_due != "$0.00"),
                rx.button(
                    "Pay",
                    size="1",
                    on_click=PaymentDialogState.start(row.patient_id, row.id),
                    data_testid="pay-invoice-" + row.number,
                ),
            )
        ),
        data_testid="account-invoice-" + row.number,
    )


def account_view() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.flex(
                rx.vstack(
                    rx.heading(BillingAccountState.name, size="5", data_testid="account-name"),
                    rx.text(
                        "MRN ",
                        rx.code(BillingAccountState.mrn),
                        " · ",
                        BillingAccountState.coverage,
                        size="2",
                        color_scheme="gray",
                    ),
                    spacing="1",
                    min_width="0",
                ),
                rx.spacer(),
                rx.hstack(
                    rx.cond(
                        can("patient.read"),
                        rx.link(
                            rx.button(
                                rx.icon("contact", size=16),
                                "Patient record",
                                variant="soft",
                                color_scheme="gray",
                            ),
                            href="/patients/" + BillingAccountState.patient_id.to_string(),
                        ),
                    ),
                    rx.cond(
                        can("billing.post"),
                        rx.button(
                            rx.icon("hand-coins", size=16),
                            "Payment on account",
                            variant="soft",
                            on_click=PaymentDialogState.start(BillingAccountState.patient_id, 0),
                            data_testid="payment-on-account",
                        ),
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
                width="100%",
                spacing="3",
                wrap="wrap",
                align="center",
            ),
            width="100%",
        ),
        rx.grid(
            stat_card(
                "Open charges",
                BillingAccountState.open_total,
                "not yet on an invoice",
                "list-plus",
                "stat-open",
            ),
            stat_card(
                "Patient owes",
                BillingAccountState.outstanding,
                "on issued invoices",
                "receipt",
                "stat-outstanding",
            ),
            stat_card(
                "Payer owes",
                BillingAccountState.payer_outstanding,
                "claimed or to claim",
                "shield-check",
                "stat-payer",
            ),
            stat_card(
                "Credit", BillingAccountState.credit, "overpayments and deposits", "piggy-bank", "stat-credit"
            ),
            stat_card("Balance", BillingAccountState.balance, "owed minus credit", "scale", "stat-balance"),
            columns=rx.breakpoints(initial="1", sm="2", lg="5"),
            spacing="3",
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading("Open charges", size="4"),
                    rx.spacer(),
                    rx.cond(
                        can("billing.post"),
                        rx.hstack(
                            rx.button(
                                rx.icon("plus", size=16),
                                "Add charge",
                                variant="soft",
                                on_click=BillingAccountState.open_charge_dialog,
                                data_testid="add-charge",
                            ),
                            rx.button(
                                rx.icon("file-plus", size=16),
                                "Draft invoice from ticked charges",
                                on_click=BillingAccountState.draft_invoice,
                                disabled=BillingAccountState.selected.length() == 0,
                                data_testid="draft-invoice",
                            ),
                            spacing="2",
                            wrap="wrap",
                        ),
                    ),
                    width="100%",
                    spacing="2",
                    wrap="wrap",
                ),
                rx.cond(
                    BillingAccountState.charges.length() > 0,
                    table(
                        ["", "Date", "Service", "Department", "Qty", "Unit price", "Amount", "Source", ""],
                        rx.foreach(BillingAccountState.charges, charge_row),
                        "charges-table",
                        wide=(3, 5, 7),
                    ),
                    empty_state("No open charges: everything is billed.", "circle-check"),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.heading("Invoices", size="4"),
                rx.cond(
                    BillingAccountState.invoices.length() > 0,
                    table(
                        ["Invoice", "Date", "Payer", "Status", "Total", "Patient owes", ""],
                        rx.foreach(BillingAccountState.invoices, account_invoice_row),
                        "account-invoices",
                        wide=(2,),
                    ),
                    empty_state("No invoices yet."),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.heading("Payments and refunds", size="4"),
                rx.cond(
                    BillingAccountState.payments.length() > 0,
                    table(
                        ["Received", "Kind", "Method", "Amount", "Invoice", "Reference", ""],
                        rx.foreach(BillingAccountState.payments, lambda p: payment_row(p)),
                        "account-payments",
                        wide=(5,),
                    ),
                    empty_state("No payments yet."),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        charge_dialog(),
        payment_dialog(),
        refund_dialog(),
        spacing="4",
        width="100%",
    )


@staff_page(
    "/billing/accounts/[patient_id]", "Patient account", [BillingAccountState.load, BillingAccountState.watch]
)
def account_page() -> rx.Component:
    return rx.vstack(
        billing_tabs(),
        rx.cond(
            BillingAccountState.problem != "",
            problem_callout(BillingAccountState.problem),
            rx.cond(BillingAccountState.loaded, account_view(), skeleton_rows(10)),
        ),
        spacing="4",
        width="100%",
    )
