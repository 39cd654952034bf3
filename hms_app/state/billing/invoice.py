"""One invoice (/billing/invoices/[invoice_id] and its print view): lines, totals, payments
and claims, with the actions its status allows."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError
from hms_app.services.billing import claims, invoice_views, invoices
from hms_app.services.billing.money import parse_money
from hms_app.settings import get_settings
from hms_app.state.billing.common import PaymentLine, _payment_line, _route_id, _text, money
from hms_app.state.session import SessionState, browser_id, requires


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
        view = await self._run(invoice_views.get_invoice, invoice_id=self.invoice_id)
        inv = view.invoice
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
                "status": claims.STATUS_LABELS.get(status, status),
                "claimed": money(claimed),
                "paid": money(paid),
            }
            for cid, status, claimed, paid in view.claims
        ]
        self.has_open_claim = any(status in claims.OPEN_STATUSES for _c, status, _a, _p in view.claims)
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
        result = await self._act(invoices.issue_invoice, "Invoice issued.", invoice_id=self.invoice_id)
        return [result, rx.toast.info(f"Number {self.number}")] if self.status == "issued" else result

    @rx.event
    @requires("billing.post")
    async def discard(self):
        try:
            await self._run(invoices.discard_draft, invoice_id=self.invoice_id)
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
            claims.create_claim,
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
                invoices.void_invoice, invoice_id=self.invoice_id, reason=reason, rebill=rebill
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
            cents = parse_money(
                _text(form, "discount", 20) or "0", field="discount", label="the discount", allow_zero=True
            )
            await self._run(
                invoices.set_line_discount,
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
