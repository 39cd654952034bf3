"""The payment and refund dialogs of the account and invoice screens."""

from __future__ import annotations

import reflex as rx

from hms_app.errors import DomainError, FieldErrors, ValidationError, field_messages
from hms_app.services.billing import accounts, invoice_views, payments
from hms_app.services.billing.money import format_money, parse_money
from hms_app.state.billing.account import BillingAccountState
from hms_app.state.billing.common import _text, money, new_key
from hms_app.state.billing.invoice import InvoiceState
from hms_app.state.session import SessionState, browser_id, requires

PAYMENT_FIELDS = ("amount", "method", "reference")


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
    error: str = ""  # a refusal that belongs to no one field, above the buttons
    field_errors: dict[str, str] = {}  # every field's message at once, under each field
    saving: bool = False
    _key: str = ""

    def _fail(self, error: DomainError) -> None:
        shown = field_messages(error, PAYMENT_FIELDS)
        self.error, self.field_errors, self.saving = shown.pop("", ""), shown, False

    @rx.event
    @requires("billing.post")
    async def start(self, patient_id: int, invoice_id: int):
        try:
            self.patient_id = browser_id(patient_id, "patient")
            self.invoice_id = browser_id(invoice_id, "invoice") if str(invoice_id) not in ("0", "") else 0
            summary = await self._run(accounts.account_summary, patient_id=self.patient_id)
            if self.invoice_id:
                view = await self._run(invoice_views.get_invoice, invoice_id=self.invoice_id)
                if view.invoice.patient_id != self.patient_id:
                    raise ValidationError("Choose an invoice of this patient.")
                self.invoice_label = view.invoice.number or ""
                self.due, self.suggested = (
                    money(view.patient_due_cents),
                    format_money(view.patient_due_cents),
                )
            else:
                self.invoice_label, self.due, self.suggested = "", "", ""
        except DomainError as error:
            return rx.toast.error(str(error))
        self.credit_cents, self.credit = summary.credit_cents, money(summary.credit_cents)
        self._key, self.error, self.saving, self.open = new_key(), "", False, True
        self.field_errors = {}
        return None

    @rx.event
    @requires("billing.read")
    async def set_open(self, is_open: bool):
        if not is_open:
            self.open, self.error, self.field_errors = False, "", {}

    @rx.event
    @requires("billing.post")
    async def submit(self, form: dict):
        if not self.open or not self._key:
            return
        errors = FieldErrors()
        amount = errors.check(lambda: parse_money(_text(form, "amount", 20)))
        method = errors.check(_text, form, "method", 20)
        if method is not None and method not in (*payments.DESK_METHODS, "credit"):
            errors.add("method", "Choose how the patient paid.")
        reference = errors.check(_text, form, "reference", 120)
        try:
            errors.raise_any()
        except DomainError as error:
            self._fail(error)
            return
        self.saving, self.error, self.field_errors = True, "", {}
        yield
        try:
            payment = await self._run(
                payments.post_payment,
                patient_id=self.patient_id,
                invoice_id=self.invoice_id or None,
                amount_cents=amount,
                method=method,
                idempotency_key=self._key,
                reference=reference,
            )
        except DomainError as error:
            self._fail(error)
            return
        self.open, self.saving, self._key = False, False, ""
        over = payment.amount_cents - payment.applied_cents if method != "credit" else 0
        message = f"{money(amount)} received." + (f" {money(over)} kept as credit." if over > 0 else "")
        yield rx.toast.success(message)
        path = self.router.url.path if self.router else ""
        yield BillingAccountState.load if path.startswith("/billing/accounts") else InvoiceState.load


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
            amount = parse_money(_text(form, "amount", 20))
            await self._run(
                payments.refund_payment,
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
            BillingAccountState.load if path.startswith("/billing/accounts") else InvoiceState.load,
        ]
