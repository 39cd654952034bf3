"""Insurance claims (FHIR Claim) and remittance posting.

A claim asks the invoice's payer for the payer share still due. Its life:

    draft -> submitted -> accepted -> partially_paid | paid
                      \\-> denied (with a reason)      draft -> cancelled

Remittances post the payer's money as a payment of method ``insurer`` on the invoice (the same
payment writer as the desk). When a claim closes short (denied, or a final remittance below what
was claimed) the unpaid remainder moves from the payer share to the patient share of the invoice:
the invoice total does not change, and ``claim.moved_to_patient_cents`` records how much moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from hms_app import words
from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.billing import Claim, Invoice, Payment, Remittance
from hms_app.models.patients import Patient, Payer
from hms_app.services import live
from hms_app.services.audit import audit_read, record_audit
from hms_app.services.billing.common import _check_key, _lock_invoice, _lock_patient
from hms_app.services.billing.money import format_money
from hms_app.services.billing.payments import _record_payment
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen

CLAIM_STATUSES = ("draft", "submitted", "accepted", "denied", "partially_paid", "paid", "cancelled")
OPEN_STATUSES = ("draft", "submitted", "accepted")
STATUS_LABELS = words.CLAIM_STATUS


def _audit(session: Session, actor: Actor, action: str, claim: Claim, detail: str) -> None:
    record_audit(
        session,
        actor,
        action,
        patient_id=claim.patient_id,
        target_type="claim",
        target_id=claim.id,
        detail=detail,
    )


def _lock_claim(session: Session, actor: Actor, claim_id: int) -> tuple[Claim, Invoice]:
    """Lock in the order every billing writer uses: patient, invoice, then the claim."""
    claim = get_row(session, Claim, claim_id, "That claim does not exist.")
    authorize(actor, "billing.post", patient_id=claim.patient_id)
    _lock_patient(session, claim.patient_id)
    invoice = _lock_invoice(session, claim.invoice_id)
    claim = session.execute(
        select(Claim).where(Claim.id == claim_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    return claim, invoice


def _finish(session: Session, claim: Claim) -> Claim:
    session.commit()
    live.publish(live.BILLING, claim.patient_id)
    return claim


@returns_frozen
def create_claim(session: Session, *, actor: Actor, invoice_id: int) -> Claim:
    """Draft a claim to the invoice's payer for the payer share still due."""
    invoice = get_row(session, Invoice, invoice_id, "That invoice does not exist.")
    authorize(actor, "billing.post", patient_id=invoice.patient_id)
    _lock_patient(session, invoice.patient_id)
    invoice = _lock_invoice(session, invoice_id)
    if invoice.status != "issued":
        raise Conflict("Claims are made for issued invoices only.")
    due = invoice.payer_share_cents - invoice.payer_paid_cents
    if invoice.payer_id is None or due <= 0:
        raise ValidationError("Nothing on this invoice is for a payer to pay.")
    open_claim = session.execute(
        select(Claim.id).where(Claim.invoice_id == invoice.id, Claim.status.in_(OPEN_STATUSES))
    ).first()
    if open_claim:
        raise Conflict("This invoice already has an open claim.")
    claim = Claim(
        invoice_id=invoice.id,
        payer_id=invoice.payer_id,
        coverage_id=invoice.coverage_id,
        patient_id=invoice.patient_id,
        status="draft",
        amount_claimed_cents=due,
        created_by=actor.username,
    )
    session.add(claim)
    session.flush()
    _audit(session, actor, "claim.create", claim, f"{invoice.number}: {format_money(due)}")
    return _finish(session, claim)


@returns_frozen
def submit_claim(session: Session, *, actor: Actor, claim_id: int) -> Claim:
    """Send a draft claim to the payer."""
    claim, _invoice = _lock_claim(session, actor, claim_id)
    if claim.status != "draft":
        raise Conflict("Only a draft claim can be submitted.")
    claim.status = "submitted"
    claim.submitted_at = utcnow()
    session.add(claim)
    _audit(session, actor, "claim.submit", claim, format_money(claim.amount_claimed_cents))
    return _finish(session, claim)


@returns_frozen
def cancel_claim(session: Session, *, actor: Actor, claim_id: int) -> Claim:
    """Withdraw a claim that was never submitted."""
    claim, _invoice = _lock_claim(session, actor, claim_id)
    if claim.status != "draft":
        raise Conflict("Only a draft claim can be cancelled.")
    claim.status = "cancelled"
    claim.closed_at = utcnow()
    session.add(claim)
    _audit(session, actor, "claim.cancel", claim, "")
    return _finish(session, claim)


@returns_frozen
def accept_claim(
    session: Session, *, actor: Actor, claim_id: int, amount_approved_cents: int | None = None
) -> Claim:
    """Record that the payer accepted a submitted claim (for all or part of it)."""
    claim, _invoice = _lock_claim(session, actor, claim_id)
    if claim.status != "submitted":
        raise Conflict("Only a submitted claim can be accepted.")
    approved = claim.amount_claimed_cents if amount_approved_cents is None else amount_approved_cents
    if not isinstance(approved, int) or not 0 < approved <= claim.amount_claimed_cents:
        raise ValidationError(
            f"The approved amount is between 0.01 and {format_money(claim.amount_claimed_cents)}.",
            field="amount",
        )
    claim.status = "accepted"
    claim.amount_approved_cents = approved
    claim.decided_at = utcnow()
    session.add(claim)
    _audit(session, actor, "claim.accept", claim, f"approved {format_money(approved)}")
    return _finish(session, claim)


def _move_remainder(claim: Claim, invoice: Invoice) -> int:
    """Close the claim: what the payer did not pay becomes the patient's to pay."""
    remainder = max(claim.amount_claimed_cents - claim.amount_paid_cents, 0)
    remainder = min(remainder, invoice.payer_share_cents - invoice.payer_paid_cents)
    if remainder > 0:
        invoice.payer_share_cents -= remainder
        invoice.patient_share_cents += remainder
        claim.moved_to_patient_cents += remainder
    claim.closed_at = utcnow()
    return remainder


@returns_frozen
def deny_claim(session: Session, *, actor: Actor, claim_id: int, reason: str) -> Claim:
    """Record the payer's denial; the claimed amount moves to the patient."""
    claim, invoice = _lock_claim(session, actor, claim_id)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Enter the payer's reason for the denial.", field="reason")
    if claim.status not in ("submitted", "accepted"):
        raise Conflict("Only a submitted or accepted claim can be denied.")
    if claim.amount_paid_cents > 0:
        raise Conflict("The payer already paid part of this claim; post a final remittance instead.")
    claim.status = "denied"
    claim.denial_reason = reason[:300]
    claim.decided_at = utcnow()
    moved = _move_remainder(claim, invoice)
    session.add(claim)
    session.add(invoice)
    _audit(session, actor, "claim.deny", claim, f"{reason}; {format_money(moved)} moved to the patient")
    return _finish(session, claim)


@returns_frozen
def post_remittance(
    session: Session,
    *,
    actor: Actor,
    claim_id: int,
    amount_cents: int,
    idempotency_key: str,
    reference: str | None = None,
    final: bool = True,
) -> Remittance:
    """Post a payer's payment on a claim. ``final``: the payer will pay nothing more, so what it
    did not pay moves to the patient. The same key twice posts once."""
    authorize(actor, "billing.post")  # checked again against the claim's patient below
    key = _check_key(idempotency_key)
    claim, invoice = _lock_claim(session, actor, claim_id)
    already = session.execute(
        select(Remittance)
        .join(Payment, Payment.id == Remittance.payment_id)
        .where(Payment.idempotency_key == key)
    ).scalar_one_or_none()
    if already is not None:
        return already
    if claim.status not in ("submitted", "accepted", "partially_paid") or claim.closed_at is not None:
        raise Conflict("Remittances are posted on submitted or accepted claims that are still open.")
    left = claim.amount_claimed_cents - claim.amount_paid_cents
    if not isinstance(amount_cents, int) or not 0 < amount_cents <= left:
        raise ValidationError(f"The remittance is between 0.01 and {format_money(left)}.", field="amount")
    payment = _record_payment(
        session,
        actor=actor,
        patient_id=claim.patient_id,
        amount_cents=amount_cents,
        method="insurer",
        idempotency_key=key,
        invoice_id=invoice.id,
        reference=reference,
        claim_id=claim.id,
        commit=False,
    )
    remittance = Remittance(
        claim_id=claim.id,
        payment_id=payment.id,
        amount_cents=amount_cents,
        reference=(reference or "").strip()[:120] or None,
        posted_by=actor.username,
    )
    session.add(remittance)
    claim.amount_paid_cents += amount_cents
    if claim.decided_at is None:
        claim.decided_at = utcnow()
        claim.amount_approved_cents = claim.amount_approved_cents or claim.amount_paid_cents
    moved = 0
    if claim.amount_paid_cents >= claim.amount_claimed_cents:
        claim.status = "paid"
        claim.closed_at = utcnow()
    else:
        claim.status = "partially_paid"
        if final:
            moved = _move_remainder(claim, invoice)
    session.add(claim)
    session.add(invoice)
    session.flush()
    _audit(
        session,
        actor,
        "claim.remit",
        claim,
        f"{format_money(amount_cents)} ({reference or 'no reference'})"
        + (f"; {format_money(moved)} moved to the patient" if moved else ""),
    )
    session.commit()
    live.publish(live.BILLING, claim.patient_id)
    return remittance


@dataclass(frozen=True)
class ClaimRow:
    id: int
    invoice_id: int
    invoice_number: str
    patient_id: int
    patient_name: str
    mrn: str
    payer: str
    status: str
    created_at: datetime
    submitted_at: datetime | None
    amount_claimed_cents: int
    amount_paid_cents: int
    moved_to_patient_cents: int
    denial_reason: str
    open: bool


def list_claims(
    session: Session,
    *,
    actor: Actor,
    status: str = "all",
    payer_id: int | None = None,
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[ClaimRow], int]:
    """One page of the claims worklist (newest first) and how many match."""
    authorize(actor, "billing.read")
    if status not in ("all", "open", *CLAIM_STATUSES):
        raise ValidationError("Unknown claim status.", field="status")
    conditions = []
    if status == "open":
        conditions.append(Claim.status.in_(OPEN_STATUSES))
    elif status != "all":
        conditions.append(Claim.status == status)
    if payer_id is not None:
        conditions.append(Claim.payer_id == payer_id)
    total = session.execute(select(func.count(Claim.id)).where(*conditions)).scalar_one()
    rows = session.execute(
        select(Claim, Invoice.number, Patient.given_name, Patient.family_name, Patient.mrn, Payer.name)
        .join(Invoice, Invoice.id == Claim.invoice_id)
        .join(Patient, Patient.id == Claim.patient_id)
        .join(Payer, Payer.id == Claim.payer_id)
        .where(*conditions)
        .order_by(Claim.created_at.desc(), Claim.id.desc())
        .offset(max(0, offset))
        .limit(max(1, min(limit, 200)))
    ).all()
    result = (
        [
            ClaimRow(
                c.id,
                c.invoice_id,
                number or "",
                c.patient_id,
                f"{given} {family}",
                mrn,
                payer,
                c.status,
                c.created_at,
                c.submitted_at,
                c.amount_claimed_cents,
                c.amount_paid_cents,
                c.moved_to_patient_cents,
                c.denial_reason or "",
                c.closed_at is None and c.status not in ("denied", "paid", "cancelled"),
            )
            for c, number, given, family, mrn, payer in rows
        ],
        int(total),
    )
    audit_read(
        session,
        actor,
        "billing.claims_listed",
        detail=f"status={status}: {len(result[0])} of {result[1]} claims",
    )
    return result
