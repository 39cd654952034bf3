"""Payments, refunds and patient credit.

A payment is applied to the invoice's outstanding patient share; any excess becomes patient
credit (the ``credit_entry`` ledger: balance = SUM(amount)). A refund takes the patient's credit
first, then un-applies the rest from the refunded payment's invoice. Voiding an invoice moves
the patient money applied to it into credit (``invoices.void_invoice``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.billing import CreditEntry, Invoice, Payment
from hms_app.services import live
from hms_app.services.billing.common import _audit, _check_key, _lock_invoice, _lock_patient
from hms_app.services.billing.money import MAX_AMOUNT_CENTS, format_money
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen

PAYMENT_METHODS = ("cash", "card", "transfer", "insurer", "credit")
DESK_METHODS = ("cash", "card", "transfer")


@dataclass(frozen=True)
class PaymentView:
    id: int
    received_at: datetime
    kind: str
    method: str
    amount_cents: int
    applied_cents: int
    reference: str
    received_by: str
    refundable_cents: int
    invoice_number: str


def _payment_views(session: Session, where) -> list[PaymentView]:
    refunded = (
        select(Payment.refund_of_id, func.sum(-Payment.amount_cents).label("refunded"))
        .where(Payment.refund_of_id.is_not(None))
        .group_by(Payment.refund_of_id)
        .subquery()
    )
    rows = session.execute(
        select(Payment, func.coalesce(refunded.c.refunded, 0), Invoice.number)
        .outerjoin(refunded, refunded.c.refund_of_id == Payment.id)
        .outerjoin(Invoice, Invoice.id == Payment.invoice_id)
        .where(where)
        .order_by(Payment.received_at, Payment.id)
        .limit(500)
    ).all()
    return [
        PaymentView(
            p.id,
            p.received_at,
            p.kind,
            p.method,
            p.amount_cents,
            p.applied_cents,
            p.reference or "",
            p.received_by,
            max(p.amount_cents - int(done), 0) if p.kind == "payment" and p.method in DESK_METHODS else 0,
            number or "",
        )
        for p, done, number in rows
    ]


def credit_balance(session: Session, patient_id: int) -> int:
    """The patient's unused credit in cents (SUM of the credit ledger)."""
    return int(
        session.execute(
            select(func.coalesce(func.sum(CreditEntry.amount_cents), 0)).where(
                CreditEntry.patient_id == patient_id
            )
        ).scalar_one()
    )


def _existing_payment(session: Session, key: str, *, patient_id: int, amount_cents: int) -> Payment | None:
    payment = session.execute(select(Payment).where(Payment.idempotency_key == key)).scalar_one_or_none()
    if payment is None:
        return None
    if payment.patient_id != patient_id or abs(payment.amount_cents) != abs(amount_cents):
        raise Conflict("This payment key was already used for a different payment. Reload and try again.")
    return payment


def _record_payment(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    amount_cents: int,
    method: str,
    idempotency_key: str,
    invoice_id: int | None,
    reference: str | None,
    claim_id: int | None = None,
    commit: bool = True,
) -> Payment:
    """The one writer of payments (desk, portal, insurer): idempotent on ``idempotency_key``."""
    key = _check_key(idempotency_key)
    if method not in PAYMENT_METHODS:
        raise ValidationError("Choose how the payment was made.", field="method")
    if not isinstance(amount_cents, int) or not 0 < amount_cents <= MAX_AMOUNT_CENTS:
        raise ValidationError("Enter an amount greater than zero.", field="amount")
    # Lock order everywhere: patient, then invoice, then the audit head (in record_audit).
    _lock_patient(session, patient_id)
    existing = _existing_payment(session, key, patient_id=patient_id, amount_cents=amount_cents)
    if existing is not None:
        return existing  # a double click or a retried request: the payment is already recorded
    invoice = None
    if invoice_id is not None:
        invoice = _lock_invoice(session, invoice_id)
        if invoice.patient_id != patient_id:
            raise NotFound("That invoice does not exist.")
        if invoice.status != "issued":
            raise Conflict("Payments go on an issued invoice; this one is a draft or void.")
    elif method in ("credit", "insurer"):
        raise ValidationError("Choose the invoice this pays.", field="invoice_id")
    if method == "insurer":
        applied = amount_cents  # the caller (claims) checked it against the claim
    else:
        due = max(invoice.patient_share_cents - invoice.patient_paid_cents, 0) if invoice else 0
        applied = min(amount_cents, due)
        if method == "credit":
            available = credit_balance(session, patient_id)
            if amount_cents > available:
                raise ValidationError(
                    f"The patient has only {format_money(available)} of credit.", field="amount"
                )
            if amount_cents > due:
                raise ValidationError(f"Only {format_money(due)} is due on this invoice.", field="amount")
    payment = Payment(
        patient_id=patient_id,
        invoice_id=invoice.id if invoice else None,
        kind="payment",
        method=method,
        amount_cents=amount_cents,
        applied_cents=applied,
        idempotency_key=key,
        reference=(reference or "").strip()[:120] or None,
        claim_id=claim_id,
        received_by=actor.username,
    )
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError:
        # Only reachable if a writer skipped the patient lock: the key still guarantees one row.
        existing = _existing_payment(session, key, patient_id=patient_id, amount_cents=amount_cents)
        if existing is None:
            raise
        return existing
    if invoice is not None:
        if method == "insurer":
            invoice.payer_paid_cents += applied
        else:
            invoice.patient_paid_cents += applied
        session.add(invoice)
    if method == "credit":
        session.add(
            CreditEntry(
                patient_id=patient_id,
                amount_cents=-amount_cents,
                payment_id=payment.id,
                invoice_id=invoice.id,
                reason=f"Used on {invoice.number}",
            )
        )
    elif amount_cents > applied:
        session.add(
            CreditEntry(
                patient_id=patient_id,
                amount_cents=amount_cents - applied,
                payment_id=payment.id,
                invoice_id=invoice.id if invoice else None,
                reason="Overpayment" if invoice else "Payment on account",
            )
        )
    _audit(
        session,
        actor,
        "billing.payment",
        patient_id=patient_id,
        target=payment,
        detail=f"{method} {format_money(amount_cents)}"
        + (f" on {invoice.number}" if invoice else " on account")
        + (
            f", {format_money(amount_cents - applied)} to credit"
            if method != "credit" and amount_cents > applied
            else ""
        ),
    )
    if commit:
        session.commit()
        live.publish(live.BILLING, patient_id)
    return payment


@returns_frozen
def post_payment(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    amount_cents: int,
    method: str,
    idempotency_key: str,
    invoice_id: int | None = None,
    reference: str | None = None,
) -> Payment:
    """Record a payment at the desk (cash, card, transfer, or the patient's credit); any excess
    over what is due becomes credit. The same key twice records one payment."""
    authorize(actor, "billing.post", patient_id=patient_id)
    if method == "insurer":
        raise ValidationError("Insurer payments are posted as remittances on the claim.", field="method")
    return _record_payment(
        session,
        actor=actor,
        patient_id=patient_id,
        amount_cents=amount_cents,
        method=method,
        idempotency_key=idempotency_key,
        invoice_id=invoice_id,
        reference=reference,
    )


@returns_frozen
def refund_payment(
    session: Session,
    *,
    actor: Actor,
    payment_id: int,
    amount_cents: int,
    reason: str,
    idempotency_key: str,
) -> Payment:
    """Give money back on a payment: from the patient's credit first, then from what the payment
    paid on its invoice (which becomes due again)."""
    original = get_row(session, Payment, payment_id, "That payment does not exist.")
    authorize(actor, "billing.void", patient_id=original.patient_id)
    key = _check_key(idempotency_key)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Say why the money is refunded.", field="reason")
    if not isinstance(amount_cents, int) or amount_cents <= 0:
        raise ValidationError("Enter an amount greater than zero.", field="amount")
    _lock_patient(session, original.patient_id)
    existing = _existing_payment(session, key, patient_id=original.patient_id, amount_cents=amount_cents)
    if existing is not None:
        return existing
    if original.kind != "payment" or original.method not in DESK_METHODS:
        raise ValidationError("Only cash, card or transfer payments can be refunded.")
    already = -int(
        session.execute(
            select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
                Payment.refund_of_id == original.id
            )
        ).scalar_one()
    )
    refundable = original.amount_cents - already
    if amount_cents > refundable:
        raise ValidationError(
            f"At most {format_money(refundable)} of this payment can be refunded.", field="amount"
        )
    from_credit = min(amount_cents, max(credit_balance(session, original.patient_id), 0))
    from_invoice = amount_cents - from_credit
    invoice = None
    if from_invoice:
        if original.invoice_id is None:
            raise ValidationError("The patient's credit does not cover this refund.", field="amount")
        invoice = _lock_invoice(session, original.invoice_id)
        if invoice.status != "issued" or from_invoice > invoice.patient_paid_cents:
            raise ValidationError(
                f"Only {format_money(from_credit)} can be refunded: the rest of this payment is no longer held.",
                field="amount",
            )
    refund = Payment(
        patient_id=original.patient_id,
        invoice_id=original.invoice_id if from_invoice else None,
        kind="refund",
        method=original.method,
        amount_cents=-amount_cents,
        applied_cents=-from_invoice,
        idempotency_key=key,
        reference=original.reference,
        refund_of_id=original.id,
        received_by=actor.username,
        note=reason[:300],
    )
    session.add(refund)
    session.flush()
    if from_credit:
        session.add(
            CreditEntry(
                patient_id=original.patient_id,
                amount_cents=-from_credit,
                payment_id=refund.id,
                reason="Refunded",
            )
        )
    if invoice is not None:
        invoice.patient_paid_cents -= from_invoice
        session.add(invoice)
    _audit(
        session,
        actor,
        "billing.refund",
        patient_id=original.patient_id,
        target=refund,
        detail=f"{format_money(amount_cents)} of payment {original.id} ({original.method}): {reason}",
    )
    session.commit()
    live.publish(live.BILLING, original.patient_id)
    return refund
