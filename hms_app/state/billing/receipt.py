"""A payment's or refund's receipt (/billing/receipts/[payment_id])."""

from __future__ import annotations

import reflex as rx

from hms_app.errors import DomainError
from hms_app.services.billing import accounts
from hms_app.settings import get_settings
from hms_app.state.billing.common import PaymentLine, _payment_line, _route_id, money
from hms_app.state.session import SessionState, requires


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
            receipt = await self._run(accounts.get_receipt, payment_id=payment_id)
        except DomainError as error:
            self.problem = str(error)
            return None
        self.hospital = get_settings().hospital_name
        self.payment, self.patient_id = _payment_line(receipt.payment), receipt.patient_id
        self.patient, self.mrn, self.invoice = receipt.patient_name, receipt.mrn, receipt.invoice_number
        self.invoice_due, self.credit = money(receipt.invoice_due_cents), money(receipt.credit_cents)
        self.loaded = True
        return None
