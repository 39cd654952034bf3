"""The payment and refund dialogs, and a payment's row, of the account and invoice screens."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.pages.billing.common import (
    WIDE_CELL,
    dialog,
    dialog_buttons,
    dialog_form,
    labelled,
    reason_area,
    select,
)
from hms_app.state.billing.common import PaymentLine
from hms_app.state.billing.payments import PaymentDialogState, RefundDialogState


def payment_dialog() -> rx.Component:
    return dialog(
        "Take a payment",
        rx.cond(
            PaymentDialogState.invoice_label != "",
            rx.text(
                "For invoice ",
                rx.text.strong(PaymentDialogState.invoice_label),
                " · due ",
                rx.text.strong(PaymentDialogState.due),
                ". More than what is due is kept as the patient's credit.",
            ),
            rx.text("A payment on account becomes the patient's credit."),
        ),
        dialog_form(
            labelled(
                "Amount",
                rx.input(
                    name="amount",
                    default_value=PaymentDialogState.suggested,
                    inputmode="decimal",
                    required=True,
                    data_testid="pay-amount",
                    width="100%",
                ),
                errors=PaymentDialogState.field_errors,
                name="amount",
            ),
            labelled(
                "Method",
                select(
                    "method",
                    [
                        ("cash", "Cash"),
                        ("card", "Card"),
                        ("transfer", "Bank transfer"),
                        ("credit", "Patient credit"),
                    ],
                    "card",
                    "pay-method",
                ),
                hint=rx.cond(
                    PaymentDialogState.credit_cents > 0, "Credit available: " + PaymentDialogState.credit, ""
                ),
                errors=PaymentDialogState.field_errors,
                name="method",
            ),
            labelled(
                "Reference",
                rx.input(
                    name="reference",
                    placeholder="Card slip or transfer reference",
                    max_length=120,
                    width="100%",
                ),
                errors=PaymentDialogState.field_errors,
                name="reference",
            ),
            error=PaymentDialogState.error,
            buttons=dialog_buttons(
                "Record payment", PaymentDialogState.set_open(False), loading=PaymentDialogState.saving
            ),
            on_submit=PaymentDialogState.submit,
        ),
        PaymentDialogState.open,
        PaymentDialogState.set_open,
        "payment",
    )


def refund_dialog() -> rx.Component:
    return dialog(
        "Refund a payment",
        rx.text(
            RefundDialogState.label,
            " · up to ",
            rx.text.strong(RefundDialogState.refundable),
            ". The patient's credit is refunded first; the rest becomes due again on the invoice.",
        ),
        dialog_form(
            labelled(
                "Amount to refund",
                rx.input(
                    name="amount",
                    inputmode="decimal",
                    required=True,
                    data_testid="refund-amount",
                    width="100%",
                ),
            ),
            reason_area("e.g. overpaid at the desk, service not given"),
            error=RefundDialogState.error,
            buttons=dialog_buttons("Refund", RefundDialogState.set_open(False), color="red"),
            on_submit=RefundDialogState.submit,
        ),
        RefundDialogState.open,
        RefundDialogState.set_open,
        "refund",
    )


def payment_row(row: PaymentLine, show_invoice: bool = True) -> rx.Component:
    cells = [
        rx.table.cell(row.date, white_space="nowrap"),
        rx.table.cell(
            rx.cond(
                row.kind == "Refund",
                rx.badge("Refund", color_scheme="red", variant="soft"),
                rx.text(row.kind),
            )
        ),
        rx.table.cell(row.method),
        rx.table.cell(row.amount, text_align="right", white_space="nowrap"),
    ]
    if show_invoice:
        cells.append(rx.table.cell(row.invoice, white_space="nowrap"))
    cells += [
        rx.table.cell(row.reference, display=WIDE_CELL),
        rx.table.cell(
            rx.hstack(
                rx.link(
                    rx.button(rx.icon("printer", size=14), "Receipt", size="1", variant="soft"),
                    href="/billing/receipts/" + row.id.to_string(),
                    data_testid="receipt-link",
                ),
                rx.cond(
                    can("billing.void") & (row.refundable > 0),
                    rx.button(
                        "Refund",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=RefundDialogState.start(
                            row.id, row.method + " " + row.amount, row.refundable_text
                        ),
                        data_testid="refund",
                    ),
                ),
                spacing="2",
            )
        ),
    ]
    return rx.table.row(*cells, data_testid="payment-row")
