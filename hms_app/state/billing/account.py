"""One patient's account (/billing/accounts/[patient_id]): open charges, invoices, payments."""

from __future__ import annotations

import re
from dataclasses import dataclass

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError
from hms_app.services import live
from hms_app.services.billing import accounts, catalogue, charges, invoice_views, invoices
from hms_app.state.billing.common import (
    WATCH_REASON,
    InvoiceListLine,
    PaymentLine,
    _invoice_line,
    _payment_line,
    _route_id,
    _text,
    money,
)
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires


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


class BillingAccountState(SessionState):
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
        summary = await self._run(accounts.account_summary, patient_id=self.patient_id)
        self.name, self.mrn, self.coverage = summary.patient_name, summary.mrn, summary.coverage
        self.open_total = money(summary.open_charges_cents)
        self.outstanding, self.payer_outstanding = (
            money(summary.outstanding_cents),
            money(summary.payer_outstanding_cents),
        )
        self.credit, self.credit_cents = money(summary.credit_cents), summary.credit_cents
        self.balance = money(summary.balance_cents)
        open_charges = await self._run(charges.list_charges, patient_id=self.patient_id)
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
            for c in open_charges
        ]
        self.selected = [c.id for c in open_charges]
        rows, _total = await self._run(invoice_views.list_invoices, patient_id=self.patient_id, limit=50)
        self.invoices = [_invoice_line(r) for r in rows]
        self.payments = [
            _payment_line(p)
            for p in reversed(await self._run(accounts.list_payments, patient_id=self.patient_id))
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
        async for _ in live_changes(self, live.BILLING, [int(match.group(1))], permission="billing.read"):
            yield BillingAccountState.refresh

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
                invoices.draft_invoice, patient_id=self.patient_id, charge_ids=list(self.selected)
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
            rows, _ = await self._run(catalogue.list_catalogue, active_only=True, limit=500)
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
                charges.post_charge,
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
                charges.void_charge,
                charge_id=browser_id(charge_id, "charge"),
                reason="Cancelled at the billing desk",
            )
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success("Charge cancelled.")
