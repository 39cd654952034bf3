"""The paper views: an invoice's print view and a payment's receipt."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.billing.common import HIDE_IN_PRINT, INK, problem_callout
from hms_app.state.billing.invoice import InvoiceState, LineRow
from hms_app.state.billing.receipt import ReceiptState
from hms_app.state.session import SessionState


def paper(back_href, back_label: str, body: rx.Component, problem, loaded, test_id: str) -> rx.Component:
    return rx.box(
        rx.cond(
            problem != "",
            rx.box(problem_callout(problem), padding="1.5rem"),
            rx.cond(
                loaded,
                rx.vstack(
                    rx.flex(
                        rx.link(
                            rx.button(
                                rx.icon("arrow-left", size=16),
                                back_label,
                                variant="soft",
                                color_scheme="gray",
                            ),
                            href=back_href,
                        ),
                        rx.spacer(),
                        rx.button(
                            rx.icon("printer", size=16),
                            "Print",
                            on_click=rx.call_script("window.print()"),
                            data_testid="print",
                        ),
                        width="100%",
                        max_width="800px",
                        style=HIDE_IN_PRINT,
                    ),
                    body,
                    spacing="4",
                    padding="1.5rem",
                    align="center",
                    style={"@media print": {"padding": "0"}},
                ),
                rx.center(rx.spinner(size="3"), padding="4rem"),
            ),
        ),
        rx.el.style("@page { size: A4; margin: 14mm; }"),
        background="white",
        color=INK,
        min_height="100vh",
        class_name="light",  # paper is light whatever the screen's theme
        data_testid=test_id,
    )


def paper_row(label, value, strong=False) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="2", color="#444444"),
        rx.spacer(),
        rx.text(value, size="3" if strong else "2", weight="bold" if strong else "regular", color=INK),
        width="100%",
    )


def print_line(row: LineRow) -> rx.Component:
    cell = {"padding": "6px 4px", "border_bottom": "1px solid #dddddd", "color": INK}
    return rx.el.tr(
        rx.el.td(
            rx.text(row.description, size="2"), rx.text(row.code, size="1", color="#666666"), style=cell
        ),
        rx.el.td(row.quantity.to_string(), style={**cell, "text_align": "right"}),
        rx.el.td(row.unit_price, style={**cell, "text_align": "right"}),
        rx.el.td(row.discount, style={**cell, "text_align": "right"}),
        rx.el.td(row.tax, style={**cell, "text_align": "right"}),
        rx.el.td(row.total, style={**cell, "text_align": "right", "font_weight": "600"}),
    )


def invoice_paper() -> rx.Component:
    head = {
        "padding": "6px 4px",
        "border_bottom": "2px solid #000000",
        "text_align": "left",
        "font_size": "12px",
    }
    return rx.vstack(
        rx.flex(
            rx.vstack(
                rx.heading(InvoiceState.hospital, size="5", color=INK),
                rx.text("Billing office", size="2", color="#444444"),
                spacing="0",
            ),
            rx.spacer(),
            rx.vstack(
                rx.heading(
                    rx.cond(InvoiceState.status == "draft", "DRAFT INVOICE", "INVOICE"), size="5", color=INK
                ),
                rx.text(InvoiceState.number, size="3", weight="bold", color=INK, data_testid="print-number"),
                rx.text(
                    rx.cond(InvoiceState.issued != "", "Issued " + InvoiceState.issued, "Not issued"),
                    size="2",
                    color="#444444",
                ),
                spacing="0",
                align="end",
            ),
            width="100%",
        ),
        rx.cond(
            InvoiceState.status == "void",
            rx.text(
                "VOID — " + InvoiceState.void_reason,
                weight="bold",
                color="#c00000",
                size="4",
                data_testid="print-void",
            ),
        ),
        rx.vstack(
            rx.text("Bill to", size="1", weight="bold", color="#666666", text_transform="uppercase"),
            rx.text(InvoiceState.patient, size="3", weight="bold", color=INK),
            rx.text("MRN " + InvoiceState.mrn, size="2", color=INK),
            rx.text(InvoiceState.address, size="2", color=INK),
            rx.text(
                "Coverage: ",
                InvoiceState.payer,
                rx.cond(InvoiceState.plan != "", " · " + InvoiceState.plan, ""),
                size="2",
                color=INK,
            ),
            spacing="0",
            width="100%",
        ),
        rx.el.table(
            rx.el.thead(
                rx.el.tr(
                    rx.el.th("Service", style=head),
                    rx.el.th("Qty", style={**head, "text_align": "right"}),
                    rx.el.th("Unit", style={**head, "text_align": "right"}),
                    rx.el.th("Discount", style={**head, "text_align": "right"}),
                    rx.el.th("Tax", style={**head, "text_align": "right"}),
                    rx.el.th("Amount", style={**head, "text_align": "right"}),
                )
            ),
            rx.el.tbody(rx.foreach(InvoiceState.lines, print_line)),
            style={"width": "100%", "border_collapse": "collapse", "font_size": "13px"},
        ),
        rx.vstack(
            paper_row("Subtotal", InvoiceState.subtotal),
            paper_row(
                "Discount", rx.cond(InvoiceState.discount != "$0.00", "−" + InvoiceState.discount, "$0.00")
            ),
            paper_row("Tax", InvoiceState.tax),
            paper_row("Total", InvoiceState.total, True),
            paper_row("Covered by " + InvoiceState.payer, InvoiceState.payer_share),
            paper_row("Your share", InvoiceState.patient_share),
            paper_row("Paid", InvoiceState.patient_paid),
            paper_row("Amount due", InvoiceState.patient_due, True),
            spacing="1",
            width="100%",
            max_width="20rem",
            margin_left="auto",
        ),
        rx.text(
            "Pay at the billing desk or online in the patient portal (Bills). Quote the invoice number.",
            size="1",
            color="#444444",
        ),
        spacing="4",
        width="100%",
        max_width="800px",
        padding="1.5rem",
        border="1px solid #cccccc",
        style={"@media print": {"border": "none", "padding": "0"}},
        data_testid="invoice-paper",
    )


@rx.page(
    route="/billing/invoices/[invoice_id]/print",
    title="Invoice · HMS",
    on_load=[SessionState.refresh_identity, InvoiceState.load],
)
def invoice_print_page() -> rx.Component:
    return paper(
        "/billing/invoices/" + InvoiceState.invoice_id.to_string(),
        "Invoice",
        invoice_paper(),
        InvoiceState.problem,
        InvoiceState.loaded,
        "invoice-print",
    )


def receipt_paper() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading(ReceiptState.hospital, size="5", color=INK),
            rx.spacer(),
            rx.heading(
                rx.cond(ReceiptState.payment.kind == "Refund", "REFUND RECEIPT", "RECEIPT"),
                size="5",
                color=INK,
            ),
            width="100%",
        ),
        rx.text(
            "Receipt no. R-",
            ReceiptState.payment.id.to_string(),
            size="3",
            weight="bold",
            color=INK,
            data_testid="receipt-number",
        ),
        paper_row("Date", ReceiptState.payment.date),
        paper_row("Received from", ReceiptState.patient + " (MRN " + ReceiptState.mrn + ")"),
        paper_row("Method", ReceiptState.payment.method),
        paper_row("Reference", ReceiptState.payment.reference),
        paper_row("For invoice", rx.cond(ReceiptState.invoice != "", ReceiptState.invoice, "On account")),
        rx.divider(),
        paper_row("Amount", ReceiptState.payment.amount, True),
        paper_row("Still due on the invoice", ReceiptState.invoice_due),
        paper_row("Credit on account", ReceiptState.credit),
        paper_row("Received by", ReceiptState.payment.by),
        spacing="2",
        width="100%",
        max_width="520px",
        padding="1.5rem",
        border="1px solid #cccccc",
        style={"@media print": {"border": "none", "padding": "0"}},
        data_testid="receipt-paper",
    )


@rx.page(
    route="/billing/receipts/[payment_id]",
    title="Receipt · HMS",
    on_load=[SessionState.refresh_identity, ReceiptState.load],
)
def receipt_page() -> rx.Component:
    return paper(
        "/billing/accounts/" + ReceiptState.patient_id.to_string(),
        "Patient account",
        receipt_paper(),
        ReceiptState.problem,
        ReceiptState.loaded,
        "receipt",
    )
