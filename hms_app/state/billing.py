"""The billing screens: the desk (/billing: accounts to bill, invoice list), a patient's account
(/billing/accounts/[patient_id]), an invoice and its print view (/billing/invoices/[invoice_id]),
receipts, the claims worklist, expenses and the catalogue with payer price lists.

What is on screen only: one page of rows, formatted here. Every write goes through
``services/billing.py``, ``services/claims.py`` or ``services/expenses.py``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError
from hms_app.services import billing as svc
from hms_app.services import claims as claim_svc
from hms_app.services import expenses as expense_svc
from hms_app.services import live
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, pages_for, public, requires, step_page

PAGE_SIZE = 20
FORM_LIMIT = 300
WATCH_REASON = "only waits for change notices and reads no data; the refresh it triggers is guarded"
METHOD_LABELS = {
    "cash": "Cash",
    "card": "Card",
    "transfer": "Bank transfer",
    "insurer": "Insurer",
    "credit": "Credit",
}


def money(cents: int) -> str:
    return "$" + svc.format_money(cents)


def _text(form: dict, key: str, limit: int = FORM_LIMIT) -> str:
    """One submitted form value as text; anything else a browser might send is refused."""
    value = form.get(key, "") if isinstance(form, dict) else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if not isinstance(value, str):
        raise ValidationError("This value could not be read; type it again.", field=key)
    if len(value) > limit:
        raise ValidationError(f"Keep this under {limit} characters.", field=key)
    return value.strip()


def _date(value: str, label: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ValidationError(f"{label} is a date like 2026-11-26.") from error


def _route_id(path: str, pattern: str, what: str) -> int:
    match = re.match(pattern, path or "")
    raw = match.group(1) if match else ""
    if not raw.isdigit() or len(raw) > 12 or int(raw) <= 0:
        raise ValidationError(f"This address does not name {what}. Open it from the billing desk.")
    return int(raw)


def new_key() -> str:
    """A fresh idempotency key for one payment attempt (a double click reuses it)."""
    return f"ui-{uuid.uuid4().hex}"


async def _reload_or_toast(reload):
    """Run one reload; a domain error comes back as an error toast, success as nothing."""
    try:
        await reload()
    except DomainError as error:
        return rx.toast.error(str(error))
    return None


# =================================================================================== row types


@dataclass
class InvoiceListLine:
    id: int = 0
    number: str = ""
    patient_id: int = 0
    patient: str = ""
    mrn: str = ""
    status: str = ""
    status_label: str = ""
    date: str = ""
    total: str = ""
    patient_due: str = ""
    payer_due: str = ""
    payer: str = ""


def _invoice_line(row: svc.InvoiceRow) -> InvoiceListLine:
    return InvoiceListLine(
        row.id,
        row.number,
        row.patient_id,
        row.patient_name,
        row.mrn,
        row.settlement,
        svc.SETTLEMENT_LABELS.get(row.settlement, row.settlement),
        format_local(row.issued_at or row.created_at, "%Y-%m-%d"),
        money(row.total_cents),
        money(row.patient_due_cents),
        money(row.payer_due_cents),
        row.payer,
    )


@dataclass
class AccountLine:
    patient_id: int = 0
    name: str = ""
    mrn: str = ""
    open_charges: int = 0
    open_amount: str = ""
    oldest: str = ""


@dataclass
class ChargeLine:
    id: int = 0
    date: str = ""
    code: str = ""
    description: str = ""
    department: str = ""
    quantity: int = 1
    unit_price: str = ""
    amount: str = ""
    source: str = ""


@dataclass
class PaymentLine:
    id: int = 0
    date: str = ""
    kind: str = ""
    method: str = ""
    amount: str = ""
    applied: str = ""
    invoice: str = ""
    reference: str = ""
    by: str = ""
    refundable: int = 0
    refundable_text: str = ""


def _payment_line(p: svc.PaymentView) -> PaymentLine:
    return PaymentLine(
        p.id,
        format_local(p.received_at),
        "Refund" if p.kind == "refund" else "Payment",
        METHOD_LABELS.get(p.method, p.method),
        money(p.amount_cents),
        money(p.applied_cents),
        p.invoice_number,
        p.reference,
        p.received_by,
        p.refundable_cents,
        money(p.refundable_cents),
    )


@dataclass
class LineRow:
    id: int = 0
    code: str = ""
    description: str = ""
    department: str = ""
    quantity: int = 1
    unit_price: str = ""
    discount: str = ""
    discount_cents: int = 0
    tax: str = ""
    total: str = ""
    patient_share: str = ""
    payer_share: str = ""


@dataclass
class ClaimLine:
    id: int = 0
    invoice_id: int = 0
    invoice: str = ""
    patient_id: int = 0
    patient: str = ""
    mrn: str = ""
    payer: str = ""
    status: str = ""
    status_label: str = ""
    created: str = ""
    claimed: str = ""
    paid: str = ""
    left_cents: int = 0
    moved: str = ""
    denial_reason: str = ""
    open: bool = False


# ============================================================================= /billing (desk)

INVOICE_FILTER_LABELS = {
    "all": "All",
    "draft": "Drafts",
    "unpaid": "Unpaid",
    "partially_paid": "Partially paid",
    "paid": "Paid",
    "issued": "All issued",
    "void": "Void",
}


class BillingDeskState(SessionState):
    """Accounts with charges waiting for an invoice, and the invoice list (server-paged)."""

    loading: bool = True
    account_query: str = ""
    accounts: list[AccountLine] = []
    accounts_total: int = 0
    accounts_page: int = 1
    invoices: list[InvoiceListLine] = []
    invoices_total: int = 0
    page: int = 1
    status: str = "all"
    issued_from: str = ""
    issued_to: str = ""
    query: str = ""

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.invoices_total, PAGE_SIZE)

    @rx.var
    def accounts_page_count(self) -> int:
        return pages_for(self.accounts_total, 8)

    async def _load_accounts(self):
        rows, total = await self._run(
            svc.accounts_to_bill, query=self.account_query, offset=(self.accounts_page - 1) * 8, limit=8
        )
        self.accounts_total = total
        self.accounts = [
            AccountLine(
                r.patient_id,
                r.name,
                r.mrn,
                r.open_charges,
                money(r.open_cents),
                format_local(r.oldest, "%Y-%m-%d") if r.oldest else "",
            )
            for r in rows
        ]

    async def _load_invoices(self):
        rows, total = await self._run(
            svc.list_invoices,
            status=self.status,
            issued_from=_date(self.issued_from, "From"),
            issued_to=_date(self.issued_to, "To"),
            query=self.query,
            offset=(self.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        self.invoices_total = total
        self.invoices = [_invoice_line(r) for r in rows]

    @rx.event
    @requires("billing.read")
    async def load(self):
        self.loading = True
        yield
        try:
            await self._load_accounts()
            await self._load_invoices()
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires("billing.read")
    async def refresh(self):
        """Reload what is on screen (after a change notice), keeping the filters and pages."""
        try:
            await self._load_accounts()
            await self._load_invoices()
        except DomainError:
            return None  # the next notice or the next action shows the problem
        return None

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, live.BILLING):
            yield BillingDeskState.refresh

    @rx.event
    @requires("billing.read")
    async def find_accounts(self, form: dict):
        try:
            self.account_query = _text(form, "account_query", 60)
            self.accounts_page = 1
            await self._load_accounts()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("billing.read")
    async def accounts_move(self, step: int):
        if step not in (-1, 1):
            return None
        self.accounts_page = step_page(self.accounts_page, step, self.accounts_page_count)
        return await _reload_or_toast(self._load_accounts)

    @rx.event
    @requires("billing.read")
    async def filter_invoices(self, form: dict):
        try:
            status = _text(form, "status", 20) or "all"
            if status not in svc.INVOICE_FILTERS:
                raise ValidationError("Choose a status from the list.")
            self.status = status
            self.issued_from, self.issued_to = _text(form, "issued_from", 10), _text(form, "issued_to", 10)
            self.query = _text(form, "query", 60)
            self.page = 1
            await self._load_invoices()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("billing.read")
    async def set_status(self, status: str):
        if status not in svc.INVOICE_FILTERS:
            return rx.toast.error("Choose a status from the list.")
        self.status, self.page = status, 1
        return await _reload_or_toast(self._load_invoices)

    @rx.event
    @requires("billing.read")
    async def invoices_move(self, step: int):
        if step not in (-1, 1):
            return None
        self.page = step_page(self.page, step, self.page_count)
        return await _reload_or_toast(self._load_invoices)


# ================================================================ /billing/accounts/[patient_id]


class AccountState(SessionState):
    """One patient's account: open charges to bill, invoices, payments and credit."""

    problem: str = ""
    loaded: bool = False
    patient_id: int = 0
    name: str = ""
    mrn: str = ""
    coverage: str = ""
    open_total: str = ""
    outstanding: str = ""
    payer_outstanding: str = ""
    credit: str = ""
    credit_cents: int = 0
    balance: str = ""
    charges: list[ChargeLine] = []
    selected: list[int] = []
    invoices: list[InvoiceListLine] = []
    payments: list[PaymentLine] = []
    service_options: list[str] = []  # "CODE · name" for the manual charge form
    charge_dialog: bool = False
    form_error: str = ""

    async def _reload(self) -> None:
        summary = await self._run(svc.account_summary, patient_id=self.patient_id)
        self.name, self.mrn, self.coverage = summary.patient_name, summary.mrn, summary.coverage
        self.open_total = money(summary.open_charges_cents)
        self.outstanding, self.payer_outstanding = (
            money(summary.outstanding_cents),
            money(summary.payer_outstanding_cents),
        )
        self.credit, self.credit_cents = money(summary.credit_cents), summary.credit_cents
        self.balance = money(summary.balance_cents)
        charges = await self._run(svc.list_charges, patient_id=self.patient_id)
        self.charges = [
            ChargeLine(
                c.id,
                format_local(c.entered_at, "%Y-%m-%d"),
                c.code,
                c.description,
                c.department,
                c.quantity,
                money(c.unit_price_cents),
                money(c.amount_cents),
                c.source,
            )
            for c in charges
        ]
        self.selected = [c.id for c in charges]
        rows, _total = await self._run(svc.list_invoices, patient_id=self.patient_id, limit=50)
        self.invoices = [_invoice_line(r) for r in rows]
        self.payments = [
            _payment_line(p) for p in reversed(await self._run(svc.list_payments, patient_id=self.patient_id))
        ]

    @rx.event
    @requires("billing.read")
    async def load(self):
        self.loaded, self.problem = False, ""
        try:
            self.patient_id = _route_id(
                self.router.url.path, r"^/billing/accounts/([^/?#]*)", "a patient account"
            )
            await self._reload()
        except DomainError as error:
            self.problem = str(error)
            return None
        self.loaded = True
        return None

    @rx.event
    @requires("billing.read")
    async def refresh(self):
        """Reload the account after a change notice (a payment at another desk, a charge from a visit)."""
        if not self.loaded:
            return None
        ticked = set(self.selected)
        try:
            known = {c.id for c in self.charges}
            await self._reload()
        except DomainError:
            return None
        # Keep the clerk's ticks; a charge that just arrived starts ticked like on load.
        self.selected = [c.id for c in self.charges if c.id in ticked or c.id not in known]
        return None

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async with self:
            path = self.router.url.path
        match = re.match(r"^/billing/accounts/(\d{1,12})", path or "")
        if match is None:
            return
        async for _ in live_changes(self, live.BILLING, [int(match.group(1))]):
            yield AccountState.refresh

    @rx.event
    @requires("billing.read")
    async def toggle_charge(self, charge_id: int, checked: bool):
        try:
            charge_id = browser_id(charge_id, "charge")
        except ValidationError as error:
            return rx.toast.error(str(error))
        if checked and charge_id not in self.selected:
            self.selected = [*self.selected, charge_id]
        elif not checked:
            self.selected = [x for x in self.selected if x != charge_id]
        return None

    @rx.event
    @requires("billing.post")
    async def draft_invoice(self):
        if not self.selected:
            return rx.toast.error("Tick the charges to put on the invoice.")
        try:
            invoice = await self._run(
                svc.draft_invoice, patient_id=self.patient_id, charge_ids=list(self.selected)
            )
        except DomainError as error:
            await self._reload()
            return rx.toast.error(str(error))
        return [
            rx.toast.success("Draft invoice created. Check it, then issue it."),
            rx.redirect(f"/billing/invoices/{invoice.id}"),
        ]

    @rx.event
    @requires("billing.post")
    async def open_charge_dialog(self):
        try:
            rows, _ = await self._run(svc.list_catalogue, active_only=True, limit=500)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.service_options = [f"{r.code} · {r.name} ({money(r.price_cents)})" for r in rows]
        self.form_error, self.charge_dialog = "", True
        return None

    @rx.event
    @requires("billing.read")
    async def set_charge_dialog(self, is_open: bool):
        self.charge_dialog = bool(is_open)
        self.form_error = ""

    @rx.event
    @requires("billing.post")
    async def add_charge(self, form: dict):
        try:
            service = _text(form, "service")
            code = service.split(" · ")[0].strip()
            quantity = _text(form, "quantity", 5) or "1"
            reason = _text(form, "reason")
            await self._run(
                svc.post_charge,
                patient_id=self.patient_id,
                code=code,
                quantity=quantity,
                source_type="manual",
                reason=reason,
            )
            await self._reload()
        except DomainError as error:
            self.form_error = str(error)
            return None
        self.charge_dialog, self.form_error = False, ""
        return rx.toast.success(f"Charge {code} added.")

    @rx.event
    @requires("billing.void")
    async def cancel_charge(self, charge_id: int):
        try:
            await self._run(
                svc.void_charge,
                charge_id=browser_id(charge_id, "charge"),
                reason="Cancelled at the billing desk",
            )
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success("Charge cancelled.")


# ============================================================ /billing/invoices/[invoice_id](/print)


class InvoiceState(SessionState):
    """One invoice: header, lines, totals, payments and claims; actions by status."""

    problem: str = ""
    loaded: bool = False
    invoice_id: int = 0
    number: str = ""
    status: str = ""  # draft | issued | void
    settlement: str = ""
    patient_id: int = 0
    patient: str = ""
    mrn: str = ""
    address: str = ""
    payer: str = ""
    plan: str = ""
    created: str = ""
    issued: str = ""
    voided: str = ""
    void_reason: str = ""
    replaced_by: str = ""
    replaced_by_id: int = 0
    replaces: str = ""
    subtotal: str = ""
    discount: str = ""
    tax: str = ""
    total: str = ""
    patient_share: str = ""
    payer_share: str = ""
    moved: str = ""
    moved_cents: int = 0
    patient_paid: str = ""
    payer_paid: str = ""
    patient_due: str = ""
    patient_due_cents: int = 0
    payer_due: str = ""
    payer_due_cents: int = 0
    lines: list[LineRow] = []
    payments: list[PaymentLine] = []
    claims: list[dict[str, str]] = []
    has_open_claim: bool = False
    claim_with_payer: bool = False
    hospital: str = ""
    dialog: str = ""  # "" | void | discount
    discount_line_id: int = 0
    discount_line: str = ""
    form_error: str = ""

    async def _reload(self) -> None:
        view = await self._run(svc.get_invoice, invoice_id=self.invoice_id)
        inv = view.invoice
        from hms_app.settings import get_settings

        self.hospital = get_settings().hospital_name
        self.number = inv.number or f"Draft {inv.id}"
        self.status, self.settlement = inv.status, view.settlement
        self.patient_id, self.patient, self.mrn, self.address = (
            inv.patient_id,
            view.patient_name,
            view.mrn,
            view.patient_address,
        )
        self.payer, self.plan = view.payer, view.plan
        self.created, self.issued = format_local(inv.created_at), format_local(inv.issued_at)
        self.voided, self.void_reason = format_local(inv.voided_at), inv.void_reason or ""
        self.replaced_by, self.replaced_by_id = view.replaced_by_number, inv.replaced_by_id or 0
        self.replaces = view.replaces_number
        self.subtotal, self.discount, self.tax, self.total = (
            money(inv.subtotal_cents),
            money(inv.discount_cents),
            money(inv.tax_cents),
            money(inv.total_cents),
        )
        self.patient_share, self.payer_share = money(inv.patient_share_cents), money(inv.payer_share_cents)
        self.patient_paid, self.payer_paid = money(inv.patient_paid_cents), money(inv.payer_paid_cents)
        self.moved, self.moved_cents = money(view.moved_to_patient_cents), view.moved_to_patient_cents
        self.patient_due, self.patient_due_cents = money(view.patient_due_cents), view.patient_due_cents
        self.payer_due, self.payer_due_cents = money(view.payer_due_cents), view.payer_due_cents
        self.lines = [
            LineRow(
                x.id,
                x.code,
                x.description,
                x.department,
                x.quantity,
                money(x.unit_price_cents),
                money(x.discount_cents),
                x.discount_cents,
                money(x.tax_cents),
                money(x.line_total_cents),
                money(x.patient_share_cents),
                money(x.payer_share_cents),
            )
            for x in view.lines
        ]
        self.payments = [_payment_line(p) for p in view.payments]
        self.claims = [
            {
                "id": str(cid),
                "status": claim_svc.STATUS_LABELS.get(status, status),
                "claimed": money(claimed),
                "paid": money(paid),
            }
            for cid, status, claimed, paid in view.claims
        ]
        self.has_open_claim = any(status in claim_svc.OPEN_STATUSES for _c, status, _a, _p in view.claims)
        # The service refuses to void while a payer holds or has paid a claim: do not offer it then.
        self.claim_with_payer = any(
            status in ("submitted", "accepted", "partially_paid", "paid")
            for _c, status, _a, _p in view.claims
        )

    @rx.event
    @requires("billing.read")
    async def load(self):
        self.loaded, self.problem, self.dialog = False, "", ""
        try:
            self.invoice_id = _route_id(self.router.url.path, r"^/billing/invoices/([^/?#]*)", "an invoice")
            await self._reload()
        except DomainError as error:
            self.problem = str(error)
            return None
        self.loaded = True
        return None

    async def _act(self, fn, message: str, **kwargs):
        try:
            await self._run(fn, **kwargs)
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success(message)

    @rx.event
    @requires("billing.post")
    async def issue(self):
        result = await self._act(svc.issue_invoice, "Invoice issued.", invoice_id=self.invoice_id)
        return [result, rx.toast.info(f"Number {self.number}")] if self.status == "issued" else result

    @rx.event
    @requires("billing.post")
    async def discard(self):
        try:
            await self._run(svc.discard_draft, invoice_id=self.invoice_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        return [
            rx.toast.success("Draft discarded; its charges are open again."),
            rx.redirect(f"/billing/accounts/{self.patient_id}"),
        ]

    @rx.event
    @requires("billing.post")
    async def create_claim(self):
        return await self._act(
            claim_svc.create_claim,
            "Claim drafted. Submit it from the claims worklist.",
            invoice_id=self.invoice_id,
        )

    @rx.event
    @requires("billing.void")
    async def open_void(self):
        self.dialog, self.form_error = "void", ""

    @rx.event
    @requires("billing.post")
    async def open_discount(self, line_id: int):
        try:
            line_id = browser_id(line_id, "line")
        except ValidationError as error:
            return rx.toast.error(str(error))
        line = next((x for x in self.lines if x.id == line_id), None)
        if line is None:
            return rx.toast.error("Choose a line of this invoice.")
        self.discount_line_id, self.discount_line = line_id, f"{line.code} · {line.description}"
        self.dialog, self.form_error = "discount", ""
        return None

    @rx.event
    @requires("billing.read")
    async def set_dialog_open(self, is_open: bool):
        if not is_open:
            self.dialog, self.form_error = "", ""

    @rx.event
    @requires("billing.void")
    async def submit_void(self, form: dict):
        try:
            reason = _text(form, "reason")
            rebill = _text(form, "rebill") == "on"
            invoice = await self._run(
                svc.void_invoice, invoice_id=self.invoice_id, reason=reason, rebill=rebill
            )
            await self._reload()
        except DomainError as error:
            self.form_error = str(error)
            return None
        self.dialog = ""
        events = [rx.toast.success(f"Invoice {self.number} is void. It stays on record.")]
        if invoice.replaced_by_id:
            events.append(rx.toast.info("Its charges are on a new draft, linked above."))
        return events

    @rx.event
    @requires("billing.post")
    async def submit_discount(self, form: dict):
        try:
            cents = svc.parse_money(
                _text(form, "discount", 20) or "0", field="discount", label="the discount", allow_zero=True
            )
            await self._run(
                svc.set_line_discount,
                line_id=self.discount_line_id,
                discount_cents=cents,
                reason=_text(form, "reason"),
            )
            await self._reload()
        except DomainError as error:
            self.form_error = str(error)
            return None
        self.dialog = ""
        return rx.toast.success("Discount applied; totals and shares recomputed.")


# ===================================================================== the payment and refund dialogs


class PaymentDialogState(SessionState):
    """Take a payment (account or invoice page). One idempotency key per opened dialog, so a
    double click or a retried request records one payment."""

    open: bool = False
    patient_id: int = 0
    invoice_id: int = 0
    invoice_label: str = ""
    due: str = ""
    credit_cents: int = 0
    credit: str = ""
    suggested: str = ""
    error: str = ""
    saving: bool = False
    _key: str = ""

    @rx.event
    @requires("billing.post")
    async def start(self, patient_id: int, invoice_id: int):
        try:
            self.patient_id = browser_id(patient_id, "patient")
            self.invoice_id = browser_id(invoice_id, "invoice") if str(invoice_id) not in ("0", "") else 0
            summary = await self._run(svc.account_summary, patient_id=self.patient_id)
            if self.invoice_id:
                view = await self._run(svc.get_invoice, invoice_id=self.invoice_id)
                if view.invoice.patient_id != self.patient_id:
                    raise ValidationError("Choose an invoice of this patient.")
                self.invoice_label = view.invoice.number or ""
                self.due, self.suggested = (
                    money(view.patient_due_cents),
                    svc.format_money(view.patient_due_cents),
                )
            else:
                self.invoice_label, self.due, self.suggested = "", "", ""
        except DomainError as error:
            return rx.toast.error(str(error))
        self.credit_cents, self.credit = summary.credit_cents, money(summary.credit_cents)
        self._key, self.error, self.saving, self.open = new_key(), "", False, True
        return None

    @rx.event
    @requires("billing.read")
    async def set_open(self, is_open: bool):
        if not is_open:
            self.open, self.error = False, ""

    @rx.event
    @requires("billing.post")
    async def submit(self, form: dict):
        if not self.open or not self._key:
            return
        try:
            amount = svc.parse_money(_text(form, "amount", 20))
            method = _text(form, "method", 20)
            if method not in (*svc.DESK_METHODS, "credit"):
                raise ValidationError("Choose how the patient paid.", field="method")
            reference = _text(form, "reference", 120)
        except DomainError as error:
            self.error = str(error)
            return
        self.saving = True
        yield
        try:
            payment = await self._run(
                svc.post_payment,
                patient_id=self.patient_id,
                invoice_id=self.invoice_id or None,
                amount_cents=amount,
                method=method,
                idempotency_key=self._key,
                reference=reference,
            )
        except DomainError as error:
            self.error, self.saving = str(error), False
            return
        self.open, self.saving, self._key = False, False, ""
        over = payment.amount_cents - payment.applied_cents if method != "credit" else 0
        message = f"{money(amount)} received." + (f" {money(over)} kept as credit." if over > 0 else "")
        yield rx.toast.success(message)
        path = self.router.url.path if self.router else ""
        yield AccountState.load if path.startswith("/billing/accounts") else InvoiceState.load


class RefundDialogState(SessionState):
    """Refund (part of) a payment: needs billing.void; one key per opened dialog."""

    open: bool = False
    payment_id: int = 0
    label: str = ""
    refundable: str = ""
    error: str = ""
    _key: str = ""

    @rx.event
    @requires("billing.void")
    async def start(self, payment_id: int, label: str, refundable: str):
        try:
            self.payment_id = browser_id(payment_id, "payment")
        except ValidationError as error:
            return rx.toast.error(str(error))
        # Shown only: the service decides what can be refunded.
        self.label, self.refundable = str(label)[:80], str(refundable)[:20]
        self._key, self.error, self.open = new_key(), "", True
        return None

    @rx.event
    @requires("billing.read")
    async def set_open(self, is_open: bool):
        if not is_open:
            self.open, self.error = False, ""

    @rx.event
    @requires("billing.void")
    async def submit(self, form: dict):
        if not self.open or not self._key:
            return None
        try:
            amount = svc.parse_money(_text(form, "amount", 20))
            await self._run(
                svc.refund_payment,
                payment_id=self.payment_id,
                amount_cents=amount,
                reason=_text(form, "reason"),
                idempotency_key=self._key,
            )
        except DomainError as error:
            self.error = str(error)
            return None
        self.open, self._key = False, ""
        path = self.router.url.path if self.router else ""
        return [
            rx.toast.success(f"{money(amount)} refunded."),
            AccountState.load if path.startswith("/billing/accounts") else InvoiceState.load,
        ]


# ======================================================================= /billing/receipts/[id]


class ReceiptState(SessionState):
    problem: str = ""
    loaded: bool = False
    patient_id: int = 0
    payment: PaymentLine = PaymentLine()
    patient: str = ""
    mrn: str = ""
    invoice: str = ""
    invoice_due: str = ""
    credit: str = ""
    hospital: str = ""

    @rx.event
    @requires("billing.read")
    async def load(self):
        self.loaded, self.problem = False, ""
        try:
            payment_id = _route_id(self.router.url.path, r"^/billing/receipts/([^/?#]*)", "a receipt")
            receipt = await self._run(svc.get_receipt, payment_id=payment_id)
        except DomainError as error:
            self.problem = str(error)
            return None
        from hms_app.settings import get_settings

        self.hospital = get_settings().hospital_name
        self.payment, self.patient_id = _payment_line(receipt.payment), receipt.patient_id
        self.patient, self.mrn, self.invoice = receipt.patient_name, receipt.mrn, receipt.invoice_number
        self.invoice_due, self.credit = money(receipt.invoice_due_cents), money(receipt.credit_cents)
        self.loaded = True
        return None


# ============================================================================ /billing/claims


class ClaimsState(SessionState):
    """The claims worklist: status filter, paging, and the next step for each claim."""

    loading: bool = True
    status: str = "open"
    rows: list[ClaimLine] = []
    total: int = 0
    page: int = 1
    dialog: str = ""  # "" | deny | remit
    claim_id: int = 0
    claim_label: str = ""
    claim_left: str = ""
    error: str = ""
    _key: str = ""

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self) -> None:
        rows, total = await self._run(
            claim_svc.list_claims, status=self.status, offset=(self.page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        self.total = total
        self.rows = [
            ClaimLine(
                r.id,
                r.invoice_id,
                r.invoice_number,
                r.patient_id,
                r.patient_name,
                r.mrn,
                r.payer,
                r.status,
                claim_svc.STATUS_LABELS.get(r.status, r.status),
                format_local(r.created_at, "%Y-%m-%d"),
                money(r.amount_claimed_cents),
                money(r.amount_paid_cents),
                r.amount_claimed_cents - r.amount_paid_cents,
                money(r.moved_to_patient_cents),
                r.denial_reason,
                r.open,
            )
            for r in rows
        ]

    @rx.event
    @requires("billing.read")
    async def load(self):
        self.loading = True
        yield
        try:
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires("billing.read")
    async def set_status(self, status: str):
        if status not in ("all", "open", *claim_svc.CLAIM_STATUSES):
            return rx.toast.error("Choose a status from the list.")
        self.status, self.page = status, 1
        return await _reload_or_toast(self._reload)

    @rx.event
    @requires("billing.read")
    async def move(self, step: int):
        if step not in (-1, 1):
            return None
        self.page = step_page(self.page, step, self.page_count)
        return await _reload_or_toast(self._reload)

    async def _step(self, fn, message: str, claim_id):
        try:
            await self._run(fn, claim_id=browser_id(claim_id, "claim"))
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success(message)

    @rx.event
    @requires("billing.post")
    async def submit_claim(self, claim_id: int):
        return await self._step(claim_svc.submit_claim, "Claim submitted to the payer.", claim_id)

    @rx.event
    @requires("billing.post")
    async def accept_claim(self, claim_id: int):
        return await self._step(claim_svc.accept_claim, "Claim marked accepted.", claim_id)

    @rx.event
    @requires("billing.post")
    async def cancel_claim(self, claim_id: int):
        return await self._step(claim_svc.cancel_claim, "Claim cancelled.", claim_id)

    @rx.event
    @requires("billing.post")
    async def open_dialog(self, kind: str, claim_id: int):
        if kind not in ("deny", "remit"):
            return None
        try:
            claim_id = browser_id(claim_id, "claim")
        except ValidationError as error:
            return rx.toast.error(str(error))
        row = next((r for r in self.rows if r.id == claim_id), None)
        if row is None:
            return rx.toast.error("Choose a claim from the list.")
        self.claim_id, self.claim_label = claim_id, f"{row.invoice} · {row.patient} · {row.payer}"
        self.claim_left = svc.format_money(row.left_cents)
        self.dialog, self.error, self._key = kind, "", new_key()
        return None

    @rx.event
    @requires("billing.read")
    async def set_dialog_open(self, is_open: bool):
        if not is_open:
            self.dialog, self.error = "", ""

    @rx.event
    @requires("billing.post")
    async def submit_denial(self, form: dict):
        try:
            await self._run(claim_svc.deny_claim, claim_id=self.claim_id, reason=_text(form, "reason"))
            await self._reload()
        except DomainError as error:
            self.error = str(error)
            return None
        self.dialog = ""
        return rx.toast.success("Denial recorded; the amount is now the patient's to pay.")

    @rx.event
    @requires("billing.post")
    async def submit_remittance(self, form: dict):
        if self.dialog != "remit" or not self._key:
            return None
        try:
            amount = svc.parse_money(_text(form, "amount", 20))
            await self._run(
                claim_svc.post_remittance,
                claim_id=self.claim_id,
                amount_cents=amount,
                reference=_text(form, "reference", 120),
                final=_text(form, "final") == "on",
                idempotency_key=self._key,
            )
            await self._reload()
        except DomainError as error:
            self.error = str(error)
            return None
        self.dialog, self._key = "", ""
        return rx.toast.success(f"Remittance of {money(amount)} posted.")


# ============================================================================ /billing/expenses


@dataclass
class ExpenseLine:
    id: int = 0
    date: str = ""
    category: str = ""
    department: str = ""
    supplier: str = ""
    description: str = ""
    amount: str = ""
    by: str = ""


class ExpensesState(SessionState):
    loading: bool = True
    rows: list[ExpenseLine] = []
    count: int = 0
    sum_text: str = ""
    page: int = 1
    category: str = "all"
    departments: list[list[str]] = []  # [id, name]
    error: str = ""

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.count, PAGE_SIZE)

    async def _reload(self) -> None:
        rows, count, total = await self._run(
            expense_svc.list_expenses,
            category=self.category,
            offset=(self.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        self.count, self.sum_text = count, money(total)
        self.rows = [
            ExpenseLine(
                r.id,
                r.incurred_on.isoformat(),
                expense_svc.EXPENSE_CATEGORIES.get(r.category, r.category),
                r.department,
                r.supplier,
                r.description,
                money(r.amount_cents),
                r.entered_by,
            )
            for r in rows
        ]

    @rx.event
    @requires("billing.read")
    async def load(self):
        self.loading = True
        yield
        try:
            self.departments = [[str(i), n] for i, n in await self._run(svc.list_departments)]
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires("billing.read")
    async def set_category(self, category: str):
        if category != "all" and category not in expense_svc.EXPENSE_CATEGORIES:
            return rx.toast.error("Choose a category from the list.")
        self.category, self.page = category, 1
        return await _reload_or_toast(self._reload)

    @rx.event
    @requires("billing.read")
    async def move(self, step: int):
        if step not in (-1, 1):
            return None
        self.page = step_page(self.page, step, self.page_count)
        return await _reload_or_toast(self._reload)

    @rx.event
    @requires("billing.post")
    async def record(self, form: dict):
        try:
            data = {
                k: _text(form, k)
                for k in ("category", "department_id", "supplier", "description", "amount", "incurred_on")
            }
            data["department_id"] = "" if data["department_id"] == "none" else data["department_id"]
            expense = await self._run(expense_svc.record_expense, data=data)
            self.page = 1
            await self._reload()
        except DomainError as error:
            self.error = str(error)
            return None
        self.error = ""
        return [
            rx.toast.success(f"Expense of {money(expense.amount_cents)} recorded."),
            rx.set_value("supplier", ""),
            rx.set_value("description", ""),
            rx.set_value("amount", ""),
        ]


# ============================================================================ /billing/catalogue


@dataclass
class ServiceLine:
    id: int = 0
    code: str = ""
    name: str = ""
    category: str = ""
    department: str = ""
    department_id: str = ""
    price: str = ""
    price_plain: str = ""
    tax: str = ""
    tax_plain: str = ""
    active: bool = True


@dataclass
class PriceListLine:
    id: int = 0
    payer: str = ""
    name: str = ""
    valid: str = ""
    item_count: int = 0


class CatalogueState(SessionState):
    loading: bool = True
    query: str = ""
    rows: list[ServiceLine] = []
    total: int = 0
    page: int = 1
    departments: list[list[str]] = []
    price_lists: list[PriceListLine] = []
    price_list_id: int = 0
    price_items: list[dict[str, str]] = []
    dialog: str = ""  # "" | service | price
    editing: ServiceLine = ServiceLine()
    error: str = ""

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self) -> None:
        rows, total = await self._run(
            svc.list_catalogue, query=self.query, offset=(self.page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        self.total = total
        self.rows = [
            ServiceLine(
                r.id,
                r.code,
                r.name,
                r.category,
                r.department,
                str(r.department_id or ""),
                money(r.price_cents),
                svc.format_money(r.price_cents).replace(",", ""),
                f"{r.tax_rate_bp / 100:g} %",
                f"{r.tax_rate_bp // 100}.{r.tax_rate_bp % 100:02d}",
                r.active,
            )
            for r in rows
        ]
        self.price_lists = [
            PriceListLine(
                p.id,
                p.payer,
                p.name,
                p.valid_from.isoformat() + " – " + (p.valid_to.isoformat() if p.valid_to else "open"),
                p.items,
            )
            for p in await self._run(svc.list_price_lists)
        ]
        if self.price_list_id:
            await self._load_items()

    async def _load_items(self) -> None:
        self.price_items = [
            {"code": c, "name": n, "list": money(lp), "price": money(p)}
            for c, n, lp, p in await self._run(svc.list_price_list_items, price_list_id=self.price_list_id)
        ]

    @rx.event
    @requires("billing.read")
    async def load(self):
        self.loading = True
        yield
        try:
            self.departments = [[str(i), n] for i, n in await self._run(svc.list_departments)]
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires("billing.read")
    async def search(self, form: dict):
        try:
            self.query, self.page = _text(form, "query", 60), 1
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("billing.read")
    async def move(self, step: int):
        if step not in (-1, 1):
            return None
        self.page = step_page(self.page, step, self.page_count)
        return await _reload_or_toast(self._reload)

    @rx.event
    @requires("billing.read")
    async def show_price_list(self, price_list_id: int):
        try:
            self.price_list_id = browser_id(price_list_id, "price list")
            await self._load_items()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("billing.post")
    async def edit_service(self, code: str):
        row = next((r for r in self.rows if r.code == code), None)
        self.editing = (
            row if row is not None else ServiceLine(category="procedure", price_plain="", tax_plain="0")
        )
        self.dialog, self.error = "service", ""

    @rx.event
    @requires("billing.post")
    async def open_price(self):
        if not self.price_list_id:
            return rx.toast.error("Choose a price list first.")
        self.dialog, self.error = "price", ""
        return None

    @rx.event
    @requires("billing.read")
    async def set_dialog_open(self, is_open: bool):
        if not is_open:
            self.dialog, self.error = "", ""

    @rx.event
    @requires("billing.post")
    async def save_service(self, form: dict):
        try:
            data = {
                k: _text(form, k)
                for k in ("code", "name", "category", "department_id", "price", "tax_percent")
            }
            data["active"] = "true" if _text(form, "active") == "on" else "false"
            data["department_id"] = "" if data["department_id"] == "none" else data["department_id"]
            saved = await self._run(svc.save_charge_definition, data=data)
            await self._reload()
        except DomainError as error:
            self.error = str(error)
            return None
        self.dialog = ""
        return rx.toast.success(f"{saved.code} saved.")

    @rx.event
    @requires("billing.post")
    async def save_price(self, form: dict):
        try:
            await self._run(
                svc.set_price,
                price_list_id=self.price_list_id,
                code=_text(form, "code", 40),
                price=_text(form, "price", 20),
            )
            await self._reload()
        except DomainError as error:
            self.error = str(error)
            return None
        self.dialog = ""
        return rx.toast.success("Price saved.")
