"""Billing screens: the desk, a patient's account, invoices (with a print view), receipts, the
claims worklist, expenses, and the catalogue with payer price lists."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, scroll_box, skeleton_rows, stat_card
from hms_app.services.expenses import EXPENSE_CATEGORIES
from hms_app.state.billing import (
    INVOICE_FILTER_LABELS,
    AccountLine,
    AccountState,
    BillingDeskState,
    CatalogueState,
    ChargeLine,
    ClaimLine,
    ClaimsState,
    ExpenseLine,
    ExpensesState,
    InvoiceListLine,
    InvoiceState,
    LineRow,
    PaymentDialogState,
    PaymentLine,
    PriceListLine,
    ReceiptState,
    RefundDialogState,
    ServiceLine,
)
from hms_app.state.session import SessionState

WIDE_CELL = ["none", "none", "none", "table-cell"]
XL_CELL = ["none", "none", "none", "none", "none", "table-cell"]  # only on screens of 1536 px and wider
HIDE_IN_PRINT = {"@media print": {"display": "none"}}
INK = "#000000"


def can(permission: str) -> rx.Var:
    """Only for what to draw: the server decides."""
    return SessionState.user_permissions.contains(permission)


def problem_callout(message) -> rx.Component:
    return rx.callout(
        rx.vstack(rx.text(message), rx.link("Back to the billing desk", href="/billing"), spacing="1"),
        icon="circle-alert",
        color_scheme="red",
        width="100%",
        data_testid="page-problem",
    )


def settlement_badge(status) -> rx.Component:
    return rx.match(
        status,
        ("paid", rx.badge("Paid", color_scheme="green", variant="soft")),
        ("partially_paid", rx.badge("Partially paid", color_scheme="amber", variant="soft")),
        ("unpaid", rx.badge("Unpaid", color_scheme="red", variant="soft")),
        ("draft", rx.badge("Draft", color_scheme="gray", variant="outline")),
        ("void", rx.badge("Void", color_scheme="gray", variant="solid")),
        rx.badge(status, variant="soft"),
    )


def claim_badge(status, label) -> rx.Component:
    return rx.match(
        status,
        ("paid", rx.badge(label, color_scheme="green", variant="soft")),
        ("partially_paid", rx.badge(label, color_scheme="amber", variant="soft")),
        ("denied", rx.badge(label, color_scheme="red", variant="soft")),
        ("accepted", rx.badge(label, color_scheme="blue", variant="soft")),
        ("submitted", rx.badge(label, color_scheme="indigo", variant="soft")),
        ("cancelled", rx.badge(label, color_scheme="gray", variant="solid")),
        rx.badge(label, color_scheme="gray", variant="outline"),
    )


def billing_tabs() -> rx.Component:
    path = SessionState.router.url.path
    items = [
        ("Desk", "/billing", "receipt"),
        ("Claims", "/billing/claims", "shield-check"),
        ("Expenses", "/billing/expenses", "wallet"),
        ("Catalogue & prices", "/billing/catalogue", "list"),
    ]
    return rx.flex(
        *[
            rx.link(
                rx.button(
                    rx.icon(icon, size=16),
                    label,
                    variant=rx.cond(path == route, "solid", "soft"),
                    size="2",
                ),
                href=route,
                data_testid="billing-tab-" + route.strip("/").replace("/", "-"),
            )
            for label, route, icon in items
        ],
        spacing="2",
        wrap="wrap",
        width="100%",
    )


def table(
    header: list[str], body: rx.Component, test_id: str, wide: tuple[int, ...] = (), xl: tuple[int, ...] = ()
) -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(
                            h,
                            display=XL_CELL if i in xl else (WIDE_CELL if i in wide else None),
                            white_space="nowrap",
                        )
                        for i, h in enumerate(header)
                    ]
                )
            ),
            rx.table.body(body),
            variant="surface",
            size="2",
            width="100%",
        ),
        data_testid=test_id,
    )


def labelled(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        (rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment())
        if isinstance(hint, str)
        else rx.text(hint, size="1", color_scheme="gray"),
        spacing="1",
        width="100%",
        align="start",
    )


def select(name: str, options: list[tuple[str, str]], default: str, test_id: str = "") -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%", data_testid=test_id or f"select-{name}"),
        rx.select.content(*[rx.select.item(label, value=value) for value, label in options]),
        name=name,
        default_value=default,
    )


def error_line(message) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(
            message, icon="circle-alert", color_scheme="red", size="1", width="100%", data_testid="form-error"
        ),
    )


def dialog(title: str, description, body: rx.Component, is_open, on_change, test_id: str) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            body,
            max_width="30rem",
            data_testid="dialog-" + test_id,
        ),
        open=is_open,
        on_open_change=on_change,
    )


def dialog_buttons(label: str, on_cancel, color: str = "teal", loading=False) -> rx.Component:
    return rx.flex(
        rx.dialog.close(
            rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=on_cancel)
        ),
        rx.button(label, type="submit", color_scheme=color, loading=loading, data_testid="dialog-submit"),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def dialog_form(*fields: rx.Component, error, buttons: rx.Component, on_submit, **props) -> rx.Component:
    """A dialog's form: its fields, then the error line and the buttons."""
    return rx.form(
        rx.vstack(*fields, error_line(error), buttons, spacing="3", width="100%"),
        on_submit=on_submit,
        reset_on_submit=False,
        **props,
    )


def paged_table(
    loading, rows, body: rx.Component, page_bar: rx.Component, empty: rx.Component, skeleton: int = 8
) -> rx.Component:
    """Skeleton rows while loading, then the table with its pager, or the empty state."""
    return rx.cond(
        loading,
        skeleton_rows(skeleton),
        rx.cond(rows.length() > 0, rx.vstack(body, page_bar, width="100%"), empty),
    )


def reason_area(placeholder: str) -> rx.Component:
    return labelled(
        "Reason",
        rx.text_area(
            name="reason",
            required=True,
            max_length=300,
            placeholder=placeholder,
            width="100%",
            data_testid="reason",
        ),
    )


# ================================================================================= /billing


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
    D = BillingDeskState
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
                            default_value=D.account_query,
                            data_testid="account-query",
                            width="14rem",
                        ),
                        rx.button(rx.icon("search", size=16), "Find", type="submit", variant="soft"),
                        spacing="2",
                    ),
                    on_submit=D.find_accounts,
                    reset_on_submit=False,
                    width="auto",
                ),
                width="100%",
                wrap="wrap",
                spacing="3",
            ),
            paged_table(
                D.loading,
                D.accounts,
                table(
                    ["Patient", "MRN", "Open charges", "Amount", "Oldest"],
                    rx.foreach(D.accounts, account_row),
                    "accounts-table",
                    wide=(4,),
                ),
                pager(
                    D.accounts_page,
                    D.accounts_page_count,
                    D.accounts_total,
                    D.accounts_move(-1),
                    D.accounts_move(1),
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
    D = BillingDeskState
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
                on_submit=D.filter_invoices,
                reset_on_submit=False,
            ),
            paged_table(
                D.loading,
                D.invoices,
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
                    rx.foreach(D.invoices, lambda r: invoice_row(r)),
                    "invoices-table",
                    wide=(3, 7),
                ),
                pager(
                    D.page,
                    D.page_count,
                    D.invoices_total,
                    D.invoices_move(-1),
                    D.invoices_move(1),
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


# ============================================================= the payment and refund dialogs


def payment_dialog() -> rx.Component:
    P = PaymentDialogState
    return dialog(
        "Take a payment",
        rx.cond(
            P.invoice_label != "",
            rx.text(
                "For invoice ",
                rx.text.strong(P.invoice_label),
                " · due ",
                rx.text.strong(P.due),
                ". More than what is due is kept as the patient's credit.",
            ),
            rx.text("A payment on account becomes the patient's credit."),
        ),
        dialog_form(
            labelled(
                "Amount",
                rx.input(
                    name="amount",
                    default_value=P.suggested,
                    inputmode="decimal",
                    required=True,
                    data_testid="pay-amount",
                    width="100%",
                ),
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
                hint=rx.cond(P.credit_cents > 0, "Credit available: " + P.credit, ""),
            ),
            labelled(
                "Reference",
                rx.input(
                    name="reference",
                    placeholder="Card slip or transfer reference",
                    max_length=120,
                    width="100%",
                ),
            ),
            error=P.error,
            buttons=dialog_buttons("Record payment", P.set_open(False), loading=P.saving),
            on_submit=P.submit,
        ),
        P.open,
        P.set_open,
        "payment",
    )


def refund_dialog() -> rx.Component:
    R = RefundDialogState
    return dialog(
        "Refund a payment",
        rx.text(
            R.label,
            " · up to ",
            rx.text.strong(R.refundable),
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
            error=R.error,
            buttons=dialog_buttons("Refund", R.set_open(False), color="red"),
            on_submit=R.submit,
        ),
        R.open,
        R.set_open,
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


# =================================================================== /billing/accounts/[patient_id]


def charge_row(row: ChargeLine) -> rx.Component:
    A = AccountState
    return rx.table.row(
        rx.table.cell(
            rx.checkbox(
                checked=A.selected.contains(row.id),
                on_change=lambda v: A.toggle_charge(row.id, v),
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
                    on_click=A.cancel_charge(row.id),
                ),
            )
        ),
        data_testid="charge-row-" + row.code,
        custom_attrs={"data-charge-id": row.id},
    )


def charge_dialog() -> rx.Component:
    A = AccountState
    return dialog(
        "Add a charge by hand",
        "For a service that no module charged. The reason is kept in the audit trail.",
        dialog_form(
            labelled(
                "Service",
                rx.select(
                    A.service_options,
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
            error=A.form_error,
            buttons=dialog_buttons("Add charge", A.set_charge_dialog(False)),
            on_submit=A.add_charge,
        ),
        A.charge_dialog,
        A.set_charge_dialog,
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
    A = AccountState
    return rx.vstack(
        rx.card(
            rx.flex(
                rx.vstack(
                    rx.heading(A.name, size="5", data_testid="account-name"),
                    rx.text("MRN ", rx.code(A.mrn), " · ", A.coverage, size="2", color_scheme="gray"),
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
                            href="/patients/" + A.patient_id.to_string(),
                        ),
                    ),
                    rx.cond(
                        can("billing.post"),
                        rx.button(
                            rx.icon("hand-coins", size=16),
                            "Payment on account",
                            variant="soft",
                            on_click=PaymentDialogState.start(A.patient_id, 0),
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
            stat_card("Open charges", A.open_total, "not yet on an invoice", "list-plus", "stat-open"),
            stat_card("Patient owes", A.outstanding, "on issued invoices", "receipt", "stat-outstanding"),
            stat_card("Payer owes", A.payer_outstanding, "claimed or to claim", "shield-check", "stat-payer"),
            stat_card("Credit", A.credit, "overpayments and deposits", "piggy-bank", "stat-credit"),
            stat_card("Balance", A.balance, "owed minus credit", "scale", "stat-balance"),
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
                                on_click=A.open_charge_dialog,
                                data_testid="add-charge",
                            ),
                            rx.button(
                                rx.icon("file-plus", size=16),
                                "Draft invoice from ticked charges",
                                on_click=A.draft_invoice,
                                disabled=A.selected.length() == 0,
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
                    A.charges.length() > 0,
                    table(
                        ["", "Date", "Service", "Department", "Qty", "Unit price", "Amount", "Source", ""],
                        rx.foreach(A.charges, charge_row),
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
                    A.invoices.length() > 0,
                    table(
                        ["Invoice", "Date", "Payer", "Status", "Total", "Patient owes", ""],
                        rx.foreach(A.invoices, account_invoice_row),
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
                    A.payments.length() > 0,
                    table(
                        ["Received", "Kind", "Method", "Amount", "Invoice", "Reference", ""],
                        rx.foreach(A.payments, lambda p: payment_row(p)),
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


@staff_page("/billing/accounts/[patient_id]", "Patient account", [AccountState.load, AccountState.watch])
def account_page() -> rx.Component:
    return rx.vstack(
        billing_tabs(),
        rx.cond(
            AccountState.problem != "",
            problem_callout(AccountState.problem),
            rx.cond(AccountState.loaded, account_view(), skeleton_rows(10)),
        ),
        spacing="4",
        width="100%",
    )


# ================================================================= /billing/invoices/[invoice_id]


def line_row(row: LineRow) -> rx.Component:
    Inv = InvoiceState
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
                    (Inv.status == "draft") & can("billing.post"),
                    rx.icon_button(
                        rx.icon("pencil", size=12),
                        size="1",
                        variant="ghost",
                        aria_label="Discount",
                        on_click=Inv.open_discount(row.id),
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


def totals_block(Inv) -> rx.Component:
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
        line("Subtotal", Inv.subtotal),
        line("Discount", rx.cond(Inv.discount != "$0.00", "−" + Inv.discount, "$0.00")),
        line("Tax", Inv.tax),
        rx.divider(),
        line("Total", Inv.total, True, "invoice-total"),
        line("Patient share", Inv.patient_share),
        line("Payer share", Inv.payer_share),
        rx.cond(
            Inv.moved_cents > 0,
            rx.text(
                "Includes ",
                Inv.moved,
                " the payer did not pay, moved to the patient when the claim closed.",
                size="1",
                color_scheme="gray",
                data_testid="moved-note",
            ),
        ),
        rx.divider(),
        line("Paid by the patient", Inv.patient_paid),
        line("Paid by the payer", Inv.payer_paid),
        line("Patient owes", Inv.patient_due, True, "invoice-patient-due"),
        line("Payer owes", Inv.payer_due),
        spacing="1",
        width="100%",
        max_width="22rem",
        margin_left="auto",
    )


def invoice_actions() -> rx.Component:
    Inv = InvoiceState
    return rx.flex(
        rx.cond(
            Inv.status == "draft",
            rx.cond(
                can("billing.post"),
                rx.hstack(
                    rx.button(
                        rx.icon("trash-2", size=16),
                        "Discard draft",
                        variant="soft",
                        color_scheme="gray",
                        on_click=Inv.discard,
                        data_testid="discard",
                    ),
                    rx.button(
                        rx.icon("send", size=16), "Issue invoice", on_click=Inv.issue, data_testid="issue"
                    ),
                    spacing="2",
                ),
            ),
        ),
        rx.cond(
            Inv.status == "issued",
            rx.hstack(
                rx.cond(
                    can("billing.post") & (Inv.patient_due_cents > 0),
                    rx.button(
                        rx.icon("hand-coins", size=16),
                        "Take payment",
                        on_click=PaymentDialogState.start(Inv.patient_id, Inv.invoice_id),
                        data_testid="take-payment",
                    ),
                ),
                rx.cond(
                    can("billing.post") & (Inv.payer_due_cents > 0) & ~Inv.has_open_claim,
                    rx.button(
                        rx.icon("shield-check", size=16),
                        "Claim from payer",
                        variant="soft",
                        on_click=Inv.create_claim,
                        data_testid="create-claim",
                    ),
                ),
                rx.cond(
                    can("billing.void") & ~Inv.claim_with_payer,
                    rx.button(
                        rx.icon("ban", size=16),
                        "Void",
                        variant="soft",
                        color_scheme="red",
                        on_click=Inv.open_void,
                        data_testid="void",
                    ),
                ),
                spacing="2",
                wrap="wrap",
            ),
        ),
        rx.link(
            rx.button(rx.icon("printer", size=16), "Print view", variant="soft", color_scheme="gray"),
            href="/billing/invoices/" + Inv.invoice_id.to_string() + "/print",
            data_testid="print-view",
        ),
        spacing="2",
        wrap="wrap",
    )


def void_dialog() -> rx.Component:
    Inv = InvoiceState
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
            error=Inv.form_error,
            buttons=dialog_buttons("Void invoice", Inv.set_dialog_open(False), color="red"),
            on_submit=Inv.submit_void,
        ),
        Inv.dialog == "void",
        Inv.set_dialog_open,
        "void",
    )


def discount_dialog() -> rx.Component:
    Inv = InvoiceState
    return dialog(
        "Discount a line",
        Inv.discount_line,
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
            error=Inv.form_error,
            buttons=dialog_buttons("Apply discount", Inv.set_dialog_open(False)),
            on_submit=Inv.submit_discount,
        ),
        Inv.dialog == "discount",
        Inv.set_dialog_open,
        "discount",
    )


def invoice_view() -> rx.Component:
    Inv = InvoiceState
    return rx.vstack(
        rx.card(
            rx.flex(
                rx.vstack(
                    rx.hstack(
                        rx.heading(Inv.number, size="6", data_testid="invoice-number"),
                        rx.box(settlement_badge(Inv.settlement), data_testid="invoice-status"),
                        align="center",
                        spacing="3",
                    ),
                    rx.text(
                        rx.link(
                            Inv.patient,
                            href="/billing/accounts/" + Inv.patient_id.to_string(),
                            data_testid="invoice-patient",
                        ),
                        " · MRN ",
                        Inv.mrn,
                        " · ",
                        Inv.payer,
                        rx.cond(Inv.plan != "", " · " + Inv.plan, ""),
                        size="2",
                    ),
                    rx.text(
                        rx.cond(Inv.issued != "", "Issued " + Inv.issued, "Drafted " + Inv.created),
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
            Inv.status == "void",
            rx.callout(
                rx.text(
                    "Voided ",
                    Inv.voided,
                    ": ",
                    Inv.void_reason,
                    ". ",
                    rx.cond(
                        Inv.replaced_by != "",
                        rx.link(
                            "Re-billed on " + Inv.replaced_by,
                            href="/billing/invoices/" + Inv.replaced_by_id.to_string(),
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
            Inv.replaces != "",
            rx.callout(
                "This invoice replaces the voided " + Inv.replaces + ".", icon="info", size="1", width="100%"
            ),
        ),
        rx.cond(
            Inv.status == "draft",
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
                    rx.foreach(Inv.lines, line_row),
                    "invoice-lines",
                    wide=(4, 7),
                ),
                totals_block(Inv),
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
                        Inv.payments.length() > 0,
                        table(
                            ["Received", "Kind", "Method", "Amount", "Reference", ""],
                            rx.foreach(Inv.payments, lambda p: payment_row(p, show_invoice=False)),
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
                        Inv.claims.length() > 0,
                        rx.vstack(
                            rx.foreach(
                                Inv.claims,
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


# ======================================================== print views: invoice and receipt (paper)


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
    Inv = InvoiceState
    head = {
        "padding": "6px 4px",
        "border_bottom": "2px solid #000000",
        "text_align": "left",
        "font_size": "12px",
    }
    return rx.vstack(
        rx.flex(
            rx.vstack(
                rx.heading(Inv.hospital, size="5", color=INK),
                rx.text("Billing office", size="2", color="#444444"),
                spacing="0",
            ),
            rx.spacer(),
            rx.vstack(
                rx.heading(rx.cond(Inv.status == "draft", "DRAFT INVOICE", "INVOICE"), size="5", color=INK),
                rx.text(Inv.number, size="3", weight="bold", color=INK, data_testid="print-number"),
                rx.text(
                    rx.cond(Inv.issued != "", "Issued " + Inv.issued, "Not issued"), size="2", color="#444444"
                ),
                spacing="0",
                align="end",
            ),
            width="100%",
        ),
        rx.cond(
            Inv.status == "void",
            rx.text(
                "VOID — " + Inv.void_reason,
                weight="bold",
                color="#c00000",
                size="4",
                data_testid="print-void",
            ),
        ),
        rx.vstack(
            rx.text("Bill to", size="1", weight="bold", color="#666666", text_transform="uppercase"),
            rx.text(Inv.patient, size="3", weight="bold", color=INK),
            rx.text("MRN " + Inv.mrn, size="2", color=INK),
            rx.text(Inv.address, size="2", color=INK),
            rx.text(
                "Coverage: ", Inv.payer, rx.cond(Inv.plan != "", " · " + Inv.plan, ""), size="2", color=INK
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
            rx.el.tbody(rx.foreach(Inv.lines, print_line)),
            style={"width": "100%", "border_collapse": "collapse", "font_size": "13px"},
        ),
        rx.vstack(
            paper_row("Subtotal", Inv.subtotal),
            paper_row("Discount", rx.cond(Inv.discount != "$0.00", "−" + Inv.discount, "$0.00")),
            paper_row("Tax", Inv.tax),
            paper_row("Total", Inv.total, True),
            paper_row("Covered by " + Inv.payer, Inv.payer_share),
            paper_row("Your share", Inv.patient_share),
            paper_row("Paid", Inv.patient_paid),
            paper_row("Amount due", Inv.patient_due, True),
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
    R = ReceiptState
    return rx.vstack(
        rx.flex(
            rx.heading(R.hospital, size="5", color=INK),
            rx.spacer(),
            rx.heading(rx.cond(R.payment.kind == "Refund", "REFUND RECEIPT", "RECEIPT"), size="5", color=INK),
            width="100%",
        ),
        rx.text(
            "Receipt no. R-",
            R.payment.id.to_string(),
            size="3",
            weight="bold",
            color=INK,
            data_testid="receipt-number",
        ),
        paper_row("Date", R.payment.date),
        paper_row("Received from", R.patient + " (MRN " + R.mrn + ")"),
        paper_row("Method", R.payment.method),
        paper_row("Reference", R.payment.reference),
        paper_row("For invoice", rx.cond(R.invoice != "", R.invoice, "On account")),
        rx.divider(),
        paper_row("Amount", R.payment.amount, True),
        paper_row("Still due on the invoice", R.invoice_due),
        paper_row("Credit on account", R.credit),
        paper_row("Received by", R.payment.by),
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


# =========================================================================== /billing/claims

CLAIM_FILTERS = [
    ("open", "Open"),
    ("all", "All"),
    ("draft", "Draft"),
    ("submitted", "Submitted"),
    ("accepted", "Accepted"),
    ("denied", "Denied"),
    ("partially_paid", "Partially paid"),
    ("paid", "Paid"),
    ("cancelled", "Cancelled"),
]


def claim_row(row: ClaimLine) -> rx.Component:
    C = ClaimsState
    post = can("billing.post")
    return rx.table.row(
        rx.table.cell(rx.text("C-", row.id.to_string(), weight="medium"), white_space="nowrap"),
        rx.table.cell(
            rx.link(row.invoice, href="/billing/invoices/" + row.invoice_id.to_string()), white_space="nowrap"
        ),
        rx.table.cell(
            rx.text(row.patient, weight="medium", white_space="nowrap"),
            rx.text(row.mrn, size="1", color_scheme="gray"),
        ),
        rx.table.cell(row.payer, display=WIDE_CELL),
        rx.table.cell(
            claim_badge(row.status, row.status_label),
            rx.cond(row.denial_reason != "", rx.text(row.denial_reason, size="1", color_scheme="red")),
        ),
        rx.table.cell(row.created, white_space="nowrap", display=XL_CELL),
        rx.table.cell(row.claimed, text_align="right", white_space="nowrap"),
        rx.table.cell(row.paid, text_align="right", white_space="nowrap"),
        rx.table.cell(row.moved, text_align="right", white_space="nowrap", display=XL_CELL),
        rx.table.cell(
            rx.cond(
                post,
                rx.hstack(
                    rx.cond(
                        row.status == "draft",
                        rx.hstack(
                            rx.button(
                                "Submit",
                                size="1",
                                on_click=C.submit_claim(row.id),
                                data_testid="claim-submit",
                            ),
                            rx.button(
                                "Cancel",
                                size="1",
                                variant="soft",
                                color_scheme="gray",
                                on_click=C.cancel_claim(row.id),
                            ),
                            spacing="1",
                        ),
                    ),
                    rx.cond(
                        row.status == "submitted",
                        rx.button(
                            "Accept",
                            size="1",
                            variant="soft",
                            on_click=C.accept_claim(row.id),
                            data_testid="claim-accept",
                        ),
                    ),
                    rx.cond(
                        (
                            (row.status == "submitted")
                            | (row.status == "accepted")
                            | (row.status == "partially_paid")
                        )
                        & row.open,
                        rx.button(
                            "Remit",
                            size="1",
                            on_click=C.open_dialog("remit", row.id),
                            data_testid="claim-remit",
                        ),
                    ),
                    rx.cond(
                        (row.status == "submitted") | (row.status == "accepted"),
                        rx.button(
                            "Deny",
                            size="1",
                            variant="soft",
                            color_scheme="red",
                            on_click=C.open_dialog("deny", row.id),
                            data_testid="claim-deny",
                        ),
                    ),
                    spacing="1",
                    wrap="nowrap",
                ),
            ),
            white_space="nowrap",
        ),
        data_testid="claim-row",
    )


def claim_dialogs() -> rx.Component:
    C = ClaimsState
    return rx.fragment(
        dialog(
            "Record a denial",
            C.claim_label,
            dialog_form(
                reason_area("The payer's reason, e.g. service not covered"),
                rx.text(
                    "The claimed amount moves to the patient's share of the invoice.",
                    size="1",
                    color_scheme="gray",
                ),
                error=C.error,
                buttons=dialog_buttons("Record denial", C.set_dialog_open(False), color="red"),
                on_submit=C.submit_denial,
            ),
            C.dialog == "deny",
            C.set_dialog_open,
            "deny",
        ),
        dialog(
            "Post a remittance",
            C.claim_label,
            dialog_form(
                labelled(
                    "Amount paid by the payer",
                    rx.input(
                        name="amount",
                        default_value=C.claim_left,
                        inputmode="decimal",
                        required=True,
                        data_testid="remit-amount",
                        width="100%",
                    ),
                    "Still claimed: $" + C.claim_left,
                ),
                labelled(
                    "Remittance reference",
                    rx.input(name="reference", max_length=120, placeholder="ERA / EOB number", width="100%"),
                ),
                rx.hstack(
                    rx.checkbox(name="final", default_checked=True),
                    rx.text("Final payment: what the payer did not pay moves to the patient", size="2"),
                    spacing="2",
                ),
                error=C.error,
                buttons=dialog_buttons("Post remittance", C.set_dialog_open(False)),
                on_submit=C.submit_remittance,
            ),
            C.dialog == "remit",
            C.set_dialog_open,
            "remit",
        ),
    )


@staff_page("/billing/claims", "Claims", ClaimsState.load)
def claims_page() -> rx.Component:
    C = ClaimsState
    return rx.vstack(
        billing_tabs(),
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading("Claims worklist", size="4"),
                    rx.spacer(),
                    rx.select.root(
                        rx.select.trigger(data_testid="claim-status"),
                        rx.select.content(
                            *[rx.select.item(label, value=value) for value, label in CLAIM_FILTERS]
                        ),
                        value=C.status,
                        on_change=C.set_status,
                    ),
                    width="100%",
                    align="center",
                ),
                paged_table(
                    C.loading,
                    C.rows,
                    table(
                        [
                            "Claim",
                            "Invoice",
                            "Patient",
                            "Payer",
                            "Status",
                            "Created",
                            "Claimed",
                            "Paid",
                            "To patient",
                            "",
                        ],
                        rx.foreach(C.rows, claim_row),
                        "claims-table",
                        wide=(3,),
                        xl=(5, 8),
                    ),
                    pager(
                        C.page,
                        C.page_count,
                        C.total,
                        C.move(-1),
                        C.move(1),
                        "claims",
                        next_test_id="next-page",
                    ),
                    empty_state("No claims with this status."),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        claim_dialogs(),
        spacing="4",
        width="100%",
    )


# ========================================================================= /billing/expenses


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
    E = ExpensesState
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
                                                E.departments, lambda d: rx.select.item(d[1], value=d[0])
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
                            error_line(E.error),
                            rx.button(
                                rx.icon("plus", size=16),
                                "Record expense",
                                type="submit",
                                data_testid="expense-submit",
                            ),
                            spacing="3",
                            width="100%",
                        ),
                        on_submit=E.record,
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
                            rx.text.strong(E.sum_text),
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
                        value=E.category,
                        on_change=E.set_category,
                    ),
                    width="100%",
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                paged_table(
                    E.loading,
                    E.rows,
                    table(
                        ["Date", "Category", "Department", "Supplier", "Description", "Amount", "By"],
                        rx.foreach(E.rows, expense_row),
                        "expenses-table",
                        wide=(2, 4, 6),
                    ),
                    pager(
                        E.page,
                        E.page_count,
                        E.count,
                        E.move(-1),
                        E.move(1),
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


# ======================================================================== /billing/catalogue

SERVICE_CATEGORIES = [
    ("visit", "Visit"),
    ("lab", "Laboratory"),
    ("imaging", "Imaging"),
    ("drug", "Drug"),
    ("procedure", "Procedure"),
    ("room", "Room"),
]


def service_row(row: ServiceLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.code, variant="ghost"), white_space="nowrap"),
        rx.table.row_header_cell(row.name),
        rx.table.cell(row.category, text_transform="capitalize", display=WIDE_CELL),
        rx.table.cell(row.department, display=WIDE_CELL),
        rx.table.cell(row.price, text_align="right", white_space="nowrap"),
        rx.table.cell(row.tax, text_align="right", white_space="nowrap"),
        rx.table.cell(
            rx.cond(
                row.active,
                rx.badge("Active", color_scheme="green", variant="soft"),
                rx.badge("Retired", color_scheme="gray", variant="outline"),
            )
        ),
        rx.table.cell(
            rx.cond(
                can("billing.post"),
                rx.button(
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=CatalogueState.edit_service(row.code),
                    data_testid="edit-" + row.code,
                ),
            )
        ),
        data_testid="service-" + row.code,
    )


def price_list_row(row: PriceListLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row.payer),
        rx.table.cell(row.name),
        rx.table.cell(row.valid, white_space="nowrap", display=WIDE_CELL),
        rx.table.cell(row.item_count.to_string()),
        rx.table.cell(
            rx.button(
                "Prices",
                size="1",
                variant=rx.cond(CatalogueState.price_list_id == row.id, "solid", "soft"),
                on_click=CatalogueState.show_price_list(row.id),
            )
        ),
    )


def service_dialog() -> rx.Component:
    C = CatalogueState
    e = C.editing
    return dialog(
        rx.cond(e.id > 0, "Edit service", "New service"),
        "Price changes apply to charges posted from now on; existing charges keep their price.",
        dialog_form(
            labelled(
                "Code",
                rx.input(
                    name="code",
                    default_value=e.code,
                    required=True,
                    max_length=40,
                    read_only=e.id > 0,
                    data_testid="service-code",
                    width="100%",
                ),
            ),
            labelled(
                "Name",
                rx.input(name="name", default_value=e.name, required=True, max_length=200, width="100%"),
            ),
            rx.grid(
                labelled("Kind", select("category", SERVICE_CATEGORIES, e.category)),
                labelled(
                    "Department",
                    rx.select.root(
                        rx.select.trigger(width="100%"),
                        rx.select.content(
                            rx.select.item("None", value="none"),
                            rx.foreach(C.departments, lambda d: rx.select.item(d[1], value=d[0])),
                        ),
                        name="department_id",
                        default_value=rx.cond(e.department_id != "", e.department_id, "none"),
                    ),
                ),
                labelled(
                    "Price",
                    rx.input(
                        name="price",
                        default_value=e.price_plain,
                        required=True,
                        inputmode="decimal",
                        data_testid="service-price",
                        width="100%",
                    ),
                ),
                labelled(
                    "Tax %",
                    rx.input(
                        name="tax_percent", default_value=e.tax_plain, inputmode="decimal", width="100%"
                    ),
                ),
                columns="2",
                spacing="3",
                width="100%",
            ),
            rx.hstack(
                rx.checkbox(name="active", default_checked=e.active),
                rx.text("Active", size="2"),
                spacing="2",
            ),
            error=C.error,
            buttons=dialog_buttons("Save service", C.set_dialog_open(False)),
            on_submit=C.save_service,
            key=e.code,
        ),
        C.dialog == "service",
        C.set_dialog_open,
        "service",
    )


def price_dialog() -> rx.Component:
    C = CatalogueState
    return dialog(
        "Set a negotiated price",
        "The payer's price for one service code; charges for its members use it from now on.",
        dialog_form(
            labelled(
                "Service code",
                rx.input(
                    name="code", required=True, max_length=40, placeholder="e.g. VISIT-GP", width="100%"
                ),
            ),
            labelled("Price", rx.input(name="price", required=True, inputmode="decimal", width="100%")),
            error=C.error,
            buttons=dialog_buttons("Save price", C.set_dialog_open(False)),
            on_submit=C.save_price,
        ),
        C.dialog == "price",
        C.set_dialog_open,
        "price",
    )


@staff_page("/billing/catalogue", "Catalogue & prices", CatalogueState.load)
def catalogue_page() -> rx.Component:
    C = CatalogueState
    return rx.vstack(
        billing_tabs(),
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading("Service catalogue", size="4"),
                    rx.spacer(),
                    rx.form(
                        rx.hstack(
                            rx.input(name="query", placeholder="Code or name", max_length=60, width="14rem"),
                            rx.button(rx.icon("search", size=16), "Search", type="submit", variant="soft"),
                            spacing="2",
                        ),
                        on_submit=C.search,
                        reset_on_submit=False,
                        width="auto",
                    ),
                    rx.cond(
                        can("billing.post"),
                        rx.button(
                            rx.icon("plus", size=16),
                            "New service",
                            on_click=C.edit_service(""),
                            data_testid="new-service",
                        ),
                    ),
                    width="100%",
                    spacing="2",
                    wrap="wrap",
                    align="center",
                ),
                paged_table(
                    C.loading,
                    C.rows,
                    table(
                        ["Code", "Service", "Kind", "Department", "Price", "Tax", "Status", ""],
                        rx.foreach(C.rows, service_row),
                        "catalogue-table",
                        wide=(2, 3),
                    ),
                    pager(
                        C.page,
                        C.page_count,
                        C.total,
                        C.move(-1),
                        C.move(1),
                        "services",
                        next_test_id="next-page",
                    ),
                    empty_state("No services match."),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading("Payer price lists", size="4"),
                    rx.spacer(),
                    rx.cond(
                        can("billing.post") & (C.price_list_id > 0),
                        rx.button(
                            rx.icon("tag", size=16), "Set a price", variant="soft", on_click=C.open_price
                        ),
                    ),
                    width="100%",
                ),
                rx.cond(
                    C.price_lists.length() > 0,
                    table(
                        ["Payer", "Price list", "Valid", "Prices", ""],
                        rx.foreach(C.price_lists, price_list_row),
                        "price-lists",
                        wide=(2,),
                    ),
                    empty_state("No payer price lists: every payer pays the catalogue price."),
                ),
                rx.cond(
                    C.price_items.length() > 0,
                    table(
                        ["Code", "Service", "List price", "Negotiated"],
                        rx.foreach(
                            C.price_items,
                            lambda p: rx.table.row(
                                rx.table.cell(rx.code(p["code"], variant="ghost")),
                                rx.table.cell(p["name"]),
                                rx.table.cell(p["list"], text_align="right"),
                                rx.table.cell(rx.text(p["price"], weight="medium"), text_align="right"),
                            ),
                        ),
                        "price-items",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        service_dialog(),
        price_dialog(),
        spacing="4",
        width="100%",
    )
