"""An invoice (/billing/invoices/[invoice_id])."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
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
from hms_app.state.billing.invoice import InvoiceState, LineRow
from hms_app.state.billing.payments import PaymentDialogState


def line_row(row: LineRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.text(row.description, weight="medium"),
            rx.text(
                row.code,
                rx.cond(row.department != "", " · " + row.department, ""),
                size="1",
                color_scheme="gray",
            ),
        ),
        rx.table.cell(row.quantity.to_string()),
        rx.table.cell(row.unit_price, text_align="right", white_space="nowrap"),
        rx.table.cell(
            rx.hstack(
                rx.text(row.discount, white_space="nowrap"),
                rx.cond(
                    (InvoiceState.status == "draft") & can("billing.post"),
                    rx.icon_button(
                        rx.icon("pencil", size=12),
                        size="1",
                        variant="ghost",
                        aria_label="Discount",
                        on_click=InvoiceState.open_discount(row.id),
                        data_testid="discount-" + row.code,
                    ),
                ),
                spacing="1",
                justify="end",
            ),
            text_align="right",
        ),
        rx.table.cell(row.tax, text_align="right", white_space="nowrap", display=WIDE_CELL),
        rx.table.cell(rx.text(row.total, weight="medium"), text_align="right", white_space="nowrap"),
        rx.table.cell(row.patient_share, text_align="right", white_space="nowrap"),
        rx.table.cell(row.payer_share, text_align="right", white_space="nowrap", display=WIDE_CELL),
        data_testid="line-" + row.code,
    )


def totals_block() -> rx.Component:
    def line(label, value, strong=False, test_id=""):
        return rx.hstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.spacer(),
            rx.text(
                value,
                size="3" if strong else "2",
                weight="bold" if strong else "regular",
                data_testid=test_id or None,
            ),
            width="100%",
        )

    return rx.vstack(
        line("Subtotal", InvoiceState.subtotal),
        line("Discount", rx.cond(InvoiceState.discount != "$0.00", "−" + InvoiceState.discount, "$0.00")),
        line("Tax", InvoiceState.tax),
        rx.divider(),
        line("Total", InvoiceState.total, True, "invoice-total"),
        line("Patient share", InvoiceState.patient_share),
        line("Payer share", InvoiceState.payer_share),
        rx.cond(
            InvoiceState.moved_cents > 0,
            rx.text(
                "Includes ",
                InvoiceState.moved,
                " the payer did not pay, moved to the patient when the claim closed.",
                size="1",
                color_scheme="gray",
                data_testid="moved-note",
            ),
        ),
        rx.divider(),
        line("Paid by the patient", InvoiceState.patient_paid),
        line("Paid by the payer", InvoiceState.payer_paid),
        line("Patient owes", InvoiceState.patient_due, True, "invoice-patient-due"),
        line("Payer owes", InvoiceState.payer_due),
        spacing="1",
        width="100%",
        max_width="22rem",
        margin_left="auto",
    )


def invoice_actions() -> rx.Component:
    return rx.flex(
        rx.cond(
            InvoiceState.status == "draft",
            rx.cond(
                can("billing.post"),
                rx.hstack(
                    rx.button(
                        rx.icon("trash-2", size=16),
                        "Discard draft",
                        variant="soft",
                        color_scheme="gray",
                        on_click=InvoiceState.discard,
                        data_testid="discard",
                    ),
                    rx.button(
                        rx.icon("send", size=16),
                        "Issue invoice",
                        on_click=InvoiceState.issue,
                        data_testid="issue",
                    ),
                    spacing="2",
                ),
            ),
        ),
        rx.cond(
            InvoiceState.status == "issued",
            rx.hstack(
                rx.cond(
                    can("billing.post") & (InvoiceState.patient_due_cents > 0),
                    rx.button(
                        rx.icon("hand-coins", size=16),
                        "Take payment",
                        on_click=PaymentDialogState.start(InvoiceState.patient_id, InvoiceState.invoice_id),
                        data_testid="take-payment",
                    ),
                ),
                rx.cond(
                    can("billing.post") & (InvoiceState.payer_due_cents > 0) & ~InvoiceState.has_open_claim,
                    rx.button(
                        rx.icon("shield-check", size=16),
                        "Claim from payer",
                        variant="soft",
                        on_click=InvoiceState.create_claim,
                        data_testid="create-claim",
                    ),
                ),
                rx.cond(
                    can("billing.void") & ~InvoiceState.claim_with_payer,
                    rx.button(
                        rx.icon("ban", size=16),
                        "Void",
                        variant="soft",
                        color_scheme="red",
                        on_click=InvoiceState.open_void,
                        data_testid="void",
                    ),
                ),
                spacing="2",
                wrap="wrap",
            ),
        ),
        rx.link(
            rx.button(rx.icon("printer", size=16), "Print view", variant="soft", color_scheme="gray"),
            href="/billing/invoices/" + InvoiceState.invoice_id.to_string() + "/print",
            data_testid="print-view",
        ),
        spacing="2",
        wrap="wrap",
    )


def void_dialog() -> rx.Component:
    return dialog(
        "Void this invoice",
        "The invoice keeps its number, lines and history. Money paid on it becomes the patient's credit.",
        dialog_form(
            reason_area("e.g. wrong service billed, wrong patient"),
            rx.hstack(
                rx.checkbox(name="rebill", default_checked=True),
                rx.text("Put its charges on a new draft to re-bill", size="2"),
                spacing="2",
            ),
            error=InvoiceState.form_error,
            buttons=dialog_buttons("Void invoice", InvoiceState.set_dialog_open(False), color="red"),
            on_submit=InvoiceState.submit_void,
        ),
        InvoiceState.dialog == "void",
        InvoiceState.set_dialog_open,
        "void",
    )


def discount_dialog() -> rx.Component:
    return dialog(
        "Discount a line",
        InvoiceState.discount_line,
        dialog_form(
            labelled(
                "Discount amount",
                rx.input(
                    name="discount",
                    inputmode="decimal",
                    required=True,
                    data_testid="discount-amount",
                    width="100%",
                ),
                "Taken off the line before tax; shares are recomputed.",
            ),
            reason_area("e.g. hardship, staff courtesy"),
            error=InvoiceState.form_error,
            buttons=dialog_buttons("Apply discount", InvoiceState.set_dialog_open(False)),
            on_submit=InvoiceState.submit_discount,
        ),
        InvoiceState.dialog == "discount",
        InvoiceState.set_dialog_open,
        "discount",
    )


def invoice_view() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.flex(
                rx.vstack(
                    rx.hstack(
                        rx.heading(InvoiceState.number, size="6", data_testid="invoice-number"),
                        rx.box(settlement_badge(InvoiceState.settlement), data_testid="invoice-status"),
                        align="center",
                        spacing="3",
                    ),
                    rx.text(
                        rx.link(
                            InvoiceState.patient,
                            href="/billing/accounts/" + InvoiceState.patient_id.to_string(),
                            data_testid="invoice-patient",
                        ),
                        " · MRN ",
                        InvoiceState.mrn,
                        " · ",
                        InvoiceState.payer,
                        rx.cond(InvoiceState.plan != "", " · " + InvoiceState.plan, ""),
                        size="2",
                    ),
                    rx.text(
                        rx.cond(
                            InvoiceState.issued != "",
                            "Issued " + InvoiceState.issued,
                            "Drafted " + InvoiceState.created,
                        ),
                        size="2",
                        color_scheme="gray",
                    ),
                    spacing="1",
                    min_width="0",
                ),
                rx.spacer(),
                invoice_actions(),
                width="100%",
                spacing="3",
                wrap="wrap",
                align="start",
            ),
            width="100%",
        ),
        rx.cond(
            InvoiceState.status == "void",
            rx.callout(
                rx.text(
                    "Voided ",
                    InvoiceState.voided,
                    ": ",
                    InvoiceState.void_reason,
                    ". ",
                    rx.cond(
                        InvoiceState.replaced_by != "",
                        rx.link(
                            "Re-billed on " + InvoiceState.replaced_by,
                            href="/billing/invoices/" + InvoiceState.replaced_by_id.to_string(),
                        ),
                        "",
                    ),
                ),
                icon="ban",
                color_scheme="gray",
                width="100%",
                data_testid="void-banner",
            ),
        ),
        rx.cond(
            InvoiceState.replaces != "",
            rx.callout(
                "This invoice replaces the voided " + InvoiceState.replaces + ".",
                icon="info",
                size="1",
                width="100%",
            ),
        ),
        rx.cond(
            InvoiceState.status == "draft",
            rx.callout(
                "Draft: check the lines and shares, then issue it. A draft has no number yet.",
                icon="pencil",
                color_scheme="amber",
                size="1",
                width="100%",
            ),
        ),
        rx.card(
            rx.vstack(
                table(
                    ["Service", "Qty", "Unit price", "Discount", "Tax", "Line total", "Patient", "Payer"],
                    rx.foreach(InvoiceState.lines, line_row),
                    "invoice-lines",
                    wide=(4, 7),
                ),
                totals_block(),
                spacing="4",
                width="100%",
            ),
            width="100%",
        ),
        rx.grid(
            rx.card(
                rx.vstack(
                    rx.heading("Payments", size="4"),
                    rx.cond(
                        InvoiceState.payments.length() > 0,
                        table(
                            ["Received", "Kind", "Method", "Amount", "Reference", ""],
                            rx.foreach(InvoiceState.payments, lambda p: payment_row(p, show_invoice=False)),
                            "invoice-payments",
                            wide=(4,),
                        ),
                        empty_state("No payments on this invoice yet."),
                    ),
                    spacing="3",
                    width="100%",
                ),
                width="100%",
            ),
            rx.card(
                rx.vstack(
                    rx.heading("Claims", size="4"),
                    rx.cond(
                        InvoiceState.claims.length() > 0,
                        rx.vstack(
                            rx.foreach(
                                InvoiceState.claims,
                                lambda c: rx.hstack(
                                    rx.text("Claim ", c["id"], size="2", weight="medium"),
                                    rx.badge(c["status"], variant="soft"),
                                    rx.spacer(),
                                    rx.text(c["paid"], " of ", c["claimed"], size="2"),
                                    width="100%",
                                ),
                            ),
                            rx.link("Open the claims worklist", href="/billing/claims", size="2"),
                            width="100%",
                        ),
                        empty_state("No claims for this invoice."),
                    ),
                    spacing="3",
                    width="100%",
                ),
                width="100%",
            ),
            columns="1",
            spacing="4",
            width="100%",
        ),
        void_dialog(),
        discount_dialog(),
        payment_dialog(),
        refund_dialog(),
        spacing="4",
        width="100%",
    )


@staff_page("/billing/invoices/[invoice_id]", "Invoice", InvoiceState.load)
def invoice_page() -> rx.Component:
    return rx.vstack(
        billing_tabs(),
        rx.cond(
            InvoiceState.problem != "",
            problem_callout(InvoiceState.problem),
            rx.cond(InvoiceState.loaded, invoice_view(), skeleton_rows(10)),
        ),
        spacing="4",
        width="100%",
    )
