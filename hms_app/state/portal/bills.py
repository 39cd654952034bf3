"""The portal's bills page (/portal/bills): the signed-in patient's invoices and balance, and
paying by card through a simulated gateway.

The patient is always the one on the server-side session (``self.acting().patient_id``), never
an id from the browser. Each opened payment form gets its own idempotency key, so a double
click or a retried request records one payment; a declined card records none.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError
from hms_app.services import billing as svc
from hms_app.services import live
from hms_app.state.billing import _text, money, new_key
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires


@dataclass
class BillLine:
    id: int = 0
    number: str = ""
    date: str = ""
    payer: str = ""
    total: str = ""
    your_share: str = ""
    covered: str = ""
    due: str = ""
    due_cents: int = 0
    status: str = ""
    status_label: str = ""


@dataclass
class BillItem:
    description: str = ""
    quantity: int = 1
    amount: str = ""
    your_share: str = ""


class PortalBillsState(SessionState):
    loaded: bool = False
    name: str = ""
    outstanding: str = ""
    outstanding_cents: int = 0
    credit: str = ""
    credit_cents: int = 0
    balance: str = ""
    bills: list[BillLine] = []
    # the invoice being looked at or paid
    detail_open: bool = False
    detail_number: str = ""
    detail_items: list[BillItem] = []
    pay_open: bool = False
    pay_invoice_id: int = 0
    pay_number: str = ""
    pay_due: str = ""
    pay_amount: str = ""
    pay_error: str = ""
    paying: bool = False
    receipt: str = ""
    _key: str = ""
    _patient_key: int = 0  # set by the guarded load: which patient's notices this tab waits for

    async def _reload(self) -> None:
        patient_id = self.acting().patient_id
        summary = await self._run(svc.account_summary, patient_id=patient_id)
        self.name = summary.patient_name
        self.outstanding, self.outstanding_cents = money(summary.outstanding_cents), summary.outstanding_cents
        self.credit, self.credit_cents = money(summary.credit_cents), summary.credit_cents
        self.balance = money(summary.balance_cents)
        self.bills = [self._bill_line(r) for r in await self._run(svc.portal_invoices)]

    @staticmethod
    def _bill_line(r: svc.InvoiceRow) -> BillLine:
        status, label = r.settlement, svc.SETTLEMENT_LABELS.get(r.settlement, r.settlement)
        if status == "partially_paid" and r.patient_due_cents == 0:
            # The patient's part is settled; only the insurer's is open: say so in their words.
            status, label = "insurance", "Waiting for insurance"
        return BillLine(
            r.id,
            r.number,
            format_local(r.issued_at, "%Y-%m-%d"),
            r.payer,
            money(r.total_cents),
            money(r.patient_share_cents),
            money(r.payer_share_cents),
            money(r.patient_due_cents),
            r.patient_due_cents,
            status,
            label,
        )

    @rx.event(background=True)
    @public("only waits for change notices about the patient its guarded load set; reads no data")
    async def watch(self):
        async with self:
            patient_key = self._patient_key
        if not patient_key:
            return  # not loaded (not signed in, or refused): nothing to watch
        async for _ in live_changes(self, live.BILLING, [patient_key], permission="portal.self"):
            yield PortalBillsState.refresh

    @rx.event
    @requires("portal.self")
    async def refresh(self):
        if not self.loaded or self.paying:
            return None
        try:
            await self._reload()
        except DomainError:
            return None
        return None

    @rx.event
    @requires("portal.self")
    async def load(self):
        self._patient_key = self.acting().patient_id or 0
        self.pay_open = self.detail_open = False
        try:
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        self.loaded = True
        return None

    def _bill(self, invoice_id) -> BillLine:
        invoice_id = browser_id(invoice_id, "bill")
        bill = next((b for b in self.bills if b.id == invoice_id), None)
        if bill is None:
            raise ValidationError("Choose one of your bills.")
        return bill

    @rx.event
    @requires("portal.self")
    async def show(self, invoice_id: int):
        try:
            bill = self._bill(invoice_id)
            view = await self._run(svc.get_invoice, invoice_id=bill.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.detail_number = bill.number
        self.detail_items = [
            BillItem(x.description, x.quantity, money(x.line_total_cents), money(x.patient_share_cents))
            for x in view.lines
        ]
        self.detail_open = True
        return None

    @rx.event
    @requires("portal.self")
    async def set_detail_open(self, is_open: bool):
        self.detail_open = bool(is_open)

    @rx.event
    @requires("portal.self")
    async def start_pay(self, invoice_id: int):
        try:
            bill = self._bill(invoice_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        if bill.due_cents <= 0:
            return rx.toast.info("This bill is already paid.")
        self.pay_invoice_id, self.pay_number, self.pay_due = bill.id, bill.number, bill.due
        self.pay_amount = svc.format_money(bill.due_cents).replace(",", "")
        self.pay_error, self.receipt, self.paying = "", "", False
        self._key, self.pay_open = new_key(), True
        return None

    @rx.event
    @requires("portal.self")
    async def set_pay_open(self, is_open: bool):
        if not is_open and not self.paying:
            self.pay_open, self.pay_error = False, ""

    @rx.event
    @requires("portal.self")
    async def pay(self, form: dict):
        if not self.pay_open or not self._key:
            return
        try:
            amount = svc.parse_money(_text(form, "amount", 20))
            card = _text(form, "card_number", 30)
            expiry = _text(form, "expiry", 7)
            cvc = _text(form, "cvc", 4)
        except DomainError as error:
            self.pay_error = str(error)
            return
        self.paying, self.pay_error = True, ""
        yield
        try:
            payment = await self._run(
                svc.pay_online,
                invoice_id=self.pay_invoice_id,
                amount_cents=amount,
                card_number=card,
                expiry=expiry,
                cvc=cvc,
                idempotency_key=self._key,
            )
        except DomainError as error:
            self.pay_error, self.paying = str(error), False
            return
        self.paying, self.pay_open, self._key = False, False, ""
        self.receipt = (
            f"Thank you: {money(payment.amount_cents)} paid on {self.pay_number} (receipt R-{payment.id})."
        )
        try:
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        yield rx.toast.success("Payment received. Thank you.")
