"""The patient's own bills in the portal, and paying them by card (a simulated gateway)."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.billing import Invoice, Payment
from hms_app.models.patients import Payer
from hms_app.services.audit import record_audit
from hms_app.services.billing.common import _check_key
from hms_app.services.billing.invoice_views import InvoiceRow, invoice_row
from hms_app.services.billing.money import format_money
from hms_app.services.billing.payments import _record_payment
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen

DECLINED_TEST_CARDS = frozenset({"4000000000000002"})


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def simulated_card_charge(
    *, card_number: str, expiry: str, cvc: str, amount_cents: int, today: date | None = None
) -> str:
    """A stand-in for a payment gateway: checks the card's format and returns an authorization
    reference, or raises ValidationError as a gateway decline would. Nothing leaves the server."""
    number = re.sub(r"[\s-]", "", str(card_number or ""))
    if not re.fullmatch(r"\d{13,19}", number):
        raise ValidationError("Enter the card number (13 to 19 digits).", field="card_number")
    if not luhn_valid(number):
        raise ValidationError("This card number is not valid; check the digits.", field="card_number")
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", str(expiry or ""))
    if not match or not 1 <= int(match.group(1)) <= 12:
        raise ValidationError("Enter the expiry date as MM/YY.", field="expiry")
    month, year = int(match.group(1)), int(match.group(2))
    year = year + 2000 if year < 100 else year
    today = today or utcnow().date()
    if (year, month) < (today.year, today.month):
        raise ValidationError("This card has expired.", field="expiry")
    if not re.fullmatch(r"\d{3,4}", str(cvc or "").strip()):
        raise ValidationError("Enter the 3 or 4 digit security code.", field="cvc")
    if number in DECLINED_TEST_CARDS:
        raise ValidationError("Your card was declined by the bank. No money was taken.", field="card_number")
    return f"SIM-{number[-4:]}-{amount_cents}"


@returns_frozen
def pay_online(
    session: Session,
    *,
    actor: Actor,
    invoice_id: int,
    amount_cents: int,
    card_number: str,
    expiry: str,
    cvc: str,
    idempotency_key: str,
) -> Payment:
    """A patient pays their own invoice by card in the portal (simulated gateway), recorded by the
    same payment writer as the desk; the key makes a retried attempt record one payment."""
    authorize(actor, "portal.self")
    if actor.patient_id is None:
        raise NotFound("That invoice does not exist.")
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or invoice.patient_id != actor.patient_id or invoice.status != "issued":
        raise NotFound("That invoice does not exist.")
    key = _check_key(idempotency_key)
    existing = session.execute(select(Payment).where(Payment.idempotency_key == key)).scalar_one_or_none()
    if existing is not None and existing.patient_id == actor.patient_id:
        return existing  # the same attempt again: never charge the card twice
    due = max(invoice.patient_share_cents - invoice.patient_paid_cents, 0)
    if due <= 0:
        raise Conflict("This invoice is already paid.")
    if not isinstance(amount_cents, int) or not 0 < amount_cents <= due:
        raise ValidationError(f"Enter an amount up to {format_money(due)}.", field="amount")
    reference = simulated_card_charge(
        card_number=card_number, expiry=expiry, cvc=cvc, amount_cents=amount_cents
    )
    return _record_payment(
        session,
        actor=actor,
        patient_id=actor.patient_id,
        amount_cents=amount_cents,
        method="card",
        idempotency_key=key,
        invoice_id=invoice.id,
        reference=f"Portal {reference}",
    )


def portal_invoices(session: Session, *, actor: Actor, limit: int = 50) -> list[InvoiceRow]:
    """The signed-in patient's own issued and voided invoices, newest first (never drafts)."""
    authorize(actor, "portal.self")
    if actor.patient_id is None:
        return []
    rows = session.execute(
        select(Invoice, Payer.name)
        .outerjoin(Payer, Payer.id == Invoice.payer_id)
        .where(Invoice.patient_id == actor.patient_id, Invoice.status != "draft")
        .order_by(Invoice.issued_at.desc(), Invoice.id.desc())
        .limit(max(1, min(limit, 200)))
    ).all()
    record_audit(
        session,
        actor,
        "billing.read",
        patient_id=actor.patient_id,
        target_type="invoice",
        detail="portal bills",
    )
    session.commit()
    return [invoice_row(inv, number=inv.number or "", payer=payer) for inv, payer in rows]
