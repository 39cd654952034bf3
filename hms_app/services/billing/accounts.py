"""A patient's account (what they owe and hold, their payments and receipts) and the accounts
waiting to be billed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlmodel import Session

from hms_app.models.billing import ChargeItem, Invoice, Payment
from hms_app.models.patients import Patient, Payer
from hms_app.services.audit import audit_read
from hms_app.services.billing.common import _reading_permission, current_coverage
from hms_app.services.billing.money import format_money
from hms_app.services.billing.payments import PaymentView, _payment_views, credit_balance
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row


@dataclass(frozen=True)
class AccountSummary:
    patient_id: int
    patient_name: str
    mrn: str
    coverage: str
    open_charges_cents: int
    open_charges: int
    outstanding_cents: int  # patient shares still due on issued invoices
    payer_outstanding_cents: int
    credit_cents: int
    balance_cents: int  # outstanding - credit: what the patient owes (negative: we owe them)


def _still_owed(share, paid):
    """The sum over invoices of what is still owed of a share (nothing where it is paid)."""
    return func.coalesce(func.sum(case((share > paid, share - paid), else_=0)), 0)


def account_summary(session: Session, *, actor: Actor, patient_id: int) -> AccountSummary:
    """What a patient owes and holds: open charges, amounts due, credit, balance."""
    authorize(actor, _reading_permission(actor), patient_id=patient_id)
    patient = get_row(session, Patient, patient_id, "That patient does not exist.")
    charges, charge_count = session.execute(
        select(
            func.coalesce(func.sum(ChargeItem.quantity * ChargeItem.unit_price_cents), 0),
            func.count(ChargeItem.id),
        ).where(ChargeItem.patient_id == patient_id, ChargeItem.status == "open")
    ).one()
    due, payer_due = session.execute(
        select(
            _still_owed(Invoice.patient_share_cents, Invoice.patient_paid_cents),
            _still_owed(Invoice.payer_share_cents, Invoice.payer_paid_cents),
        ).where(Invoice.patient_id == patient_id, Invoice.status == "issued")
    ).one()
    credit = credit_balance(session, patient_id)
    coverage = current_coverage(session, patient_id)
    coverage_text = "Self-pay"
    if coverage is not None:
        payer = session.get(Payer, coverage.payer_id)
        coverage_text = (
            f"{payer.name if payer else ''} {coverage.plan_name}: co-pay {format_money(coverage.copay_cents)}, "
            f"co-insurance {coverage.coinsurance_percent}%"
        )
    audit_read(session, actor, "billing.account_read", patient_id=patient_id)
    return AccountSummary(
        patient_id,
        f"{patient.given_name} {patient.family_name}",
        patient.mrn,
        coverage_text,
        int(charges),
        int(charge_count),
        int(due),
        int(payer_due),
        credit,
        int(due) - credit,
    )


def list_payments(session: Session, *, actor: Actor, patient_id: int) -> list[PaymentView]:
    """A patient's payments and refunds, oldest first (receipts)."""
    authorize(actor, "billing.read", patient_id=patient_id)
    views = _payment_views(session, Payment.patient_id == patient_id)
    audit_read(
        session, actor, "billing.payments_read", patient_id=patient_id, detail=f"{len(views)} payments"
    )
    return views


@dataclass(frozen=True)
class ReceiptView:
    payment: PaymentView
    patient_id: int
    patient_name: str
    mrn: str
    invoice_number: str
    invoice_due_cents: int
    credit_cents: int


def get_receipt(session: Session, *, actor: Actor, payment_id: int) -> ReceiptView:
    """One payment or refund as a receipt."""
    payment = get_row(session, Payment, payment_id, "That payment does not exist.")
    authorize(actor, _reading_permission(actor), patient_id=payment.patient_id)
    view = _payment_views(session, Payment.id == payment_id)[0]
    patient = session.get(Patient, payment.patient_id)
    invoice = session.get(Invoice, payment.invoice_id) if payment.invoice_id else None
    audit_read(
        session,
        actor,
        "billing.receipt_read",
        patient_id=payment.patient_id,
        target_type="payment",
        target_id=payment_id,
    )
    return ReceiptView(
        view,
        payment.patient_id,
        f"{patient.given_name} {patient.family_name}",
        patient.mrn,
        invoice.number if invoice else "",
        max(invoice.patient_share_cents - invoice.patient_paid_cents, 0) if invoice else 0,
        credit_balance(session, payment.patient_id),
    )


# ---------------------------------------------------------------------------- finding accounts


@dataclass(frozen=True)
class AccountRow:
    patient_id: int
    name: str
    mrn: str
    open_charges: int
    open_cents: int
    oldest: datetime | None


def accounts_to_bill(
    session: Session, *, actor: Actor, query: str = "", offset: int = 0, limit: int = 10
) -> tuple[list[AccountRow], int]:
    """Patients with open charges waiting for an invoice (oldest first), or, with ``query`` (an MRN
    or the start of a family name), the matching patients whether or not they have any."""
    authorize(actor, "billing.read")
    limit = max(1, min(int(limit), 100))
    opened = (
        select(
            ChargeItem.patient_id.label("pid"),
            func.count(ChargeItem.id).label("n"),
            func.sum(ChargeItem.quantity * ChargeItem.unit_price_cents).label("cents"),
            func.min(ChargeItem.entered_at).label("oldest"),
        )
        .where(ChargeItem.status == "open")
        .group_by(ChargeItem.patient_id)
        .subquery()
    )
    text = (query or "").strip()[:60]
    if text:
        match = or_(Patient.mrn == text.upper(), Patient.family_name.ilike(f"{text}%"))
        base = (
            select(
                Patient.id,
                Patient.given_name,
                Patient.family_name,
                Patient.mrn,
                opened.c.n,
                opened.c.cents,
                opened.c.oldest,
            )
            .outerjoin(opened, opened.c.pid == Patient.id)
            .where(match, Patient.merged_into_id.is_(None))
        )
        total = session.execute(
            select(func.count(Patient.id)).where(match, Patient.merged_into_id.is_(None))
        ).scalar_one()
        order = (Patient.family_name, Patient.given_name, Patient.id)
    else:
        base = select(
            Patient.id,
            Patient.given_name,
            Patient.family_name,
            Patient.mrn,
            opened.c.n,
            opened.c.cents,
            opened.c.oldest,
        ).join(opened, opened.c.pid == Patient.id)
        total = session.execute(select(func.count()).select_from(opened)).scalar_one()
        order = (opened.c.oldest, Patient.id)
    rows = session.execute(base.order_by(*order).offset(max(0, int(offset))).limit(limit)).all()
    audit_read(
        session,
        actor,
        "billing.accounts_listed",
        detail=f"query={query.strip()[:40]!r}: {len(rows)} of {total} patients",
    )
    return [
        AccountRow(pid, f"{given} {family}", mrn, int(n or 0), int(cents or 0), oldest)
        for pid, given, family, mrn, n, cents, oldest in rows
    ], int(total)
