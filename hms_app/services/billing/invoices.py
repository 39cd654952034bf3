"""Drafting, discounting, issuing and voiding invoices (shares by the money rules of the package).

Numbers: an invoice gets its number when it is issued (drafts have none), from the gap-free
counter ``invoice``; a rolled-back issue gives its number back."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.billing import ChargeItem, Claim, CoverageLimit, CreditEntry, Invoice, InvoiceLine
from hms_app.models.patients import Coverage
from hms_app.plurals import counted
from hms_app.services import live
from hms_app.services.billing.common import _audit, _lock_invoice, _lock_patient, current_coverage
from hms_app.services.billing.money import LineInput, ShareTerms, compute_lines, format_money
from hms_app.services.counters import take_numbers
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen


def _share_terms(
    session: Session, invoice: Invoice, *, on: date
) -> tuple[ShareTerms | None, Coverage | None]:
    coverage = current_coverage(session, invoice.patient_id, on)
    if coverage is None:
        return None, None
    cap = None
    limit = session.execute(
        select(CoverageLimit).where(CoverageLimit.coverage_id == coverage.id)
    ).scalar_one_or_none()
    if limit is not None:
        caps = []
        if limit.per_invoice_cents is not None:
            caps.append(limit.per_invoice_cents)
        if limit.per_year_cents is not None:
            year_start = datetime(on.year, 1, 1, tzinfo=UTC)
            used = session.execute(
                select(func.coalesce(func.sum(Invoice.payer_share_cents), 0)).where(
                    Invoice.coverage_id == coverage.id,
                    Invoice.status == "issued",
                    Invoice.issued_at >= year_start,
                    Invoice.id != invoice.id,
                )
            ).scalar_one()
            caps.append(max(limit.per_year_cents - int(used), 0))
        cap = min(caps) if caps else None
    terms = ShareTerms(coverage.copay_cents, coverage.coinsurance_percent, cap)
    return terms, coverage


def _recompute(session: Session, invoice: Invoice, *, on: date | None = None) -> None:
    """Recompute a draft's line amounts, shares and totals from its lines and the coverage."""
    lines = list(
        session.execute(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.id)
        ).scalars()
    )
    terms, coverage = _share_terms(session, invoice, on=on or utcnow().date())
    amounts = compute_lines(
        [LineInput(x.quantity, x.unit_price_cents, x.discount_cents, x.tax_rate_bp) for x in lines], terms
    )
    for line, amount in zip(lines, amounts, strict=True):
        line.discount_cents = amount.discount_cents
        line.tax_cents = amount.tax_cents
        line.line_total_cents = amount.total_cents
        line.patient_share_cents = amount.patient_cents
        line.payer_share_cents = amount.payer_cents
        session.add(line)
    invoice.coverage_id = coverage.id if coverage else None
    invoice.payer_id = coverage.payer_id if coverage else None
    invoice.subtotal_cents = sum(a.gross_cents for a in amounts)
    invoice.discount_cents = sum(a.discount_cents for a in amounts)
    invoice.tax_cents = sum(a.tax_cents for a in amounts)
    invoice.total_cents = sum(a.total_cents for a in amounts)
    invoice.patient_share_cents = sum(a.patient_cents for a in amounts)
    invoice.payer_share_cents = sum(a.payer_cents for a in amounts)
    session.add(invoice)


def _invoice_line(invoice_id: int, charge_item_id: int, source: ChargeItem | InvoiceLine) -> InvoiceLine:
    """A fresh invoice line priced as ``source`` (the charge it bills, or the line it replaces)."""
    return InvoiceLine(
        invoice_id=invoice_id,
        charge_item_id=charge_item_id,
        code=source.code,
        description=source.description,
        department_id=source.department_id,
        quantity=source.quantity,
        unit_price_cents=source.unit_price_cents,
        tax_rate_bp=source.tax_rate_bp,
    )


@returns_frozen
def draft_invoice(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    charge_ids: list[int] | None = None,
    period_from: date | None = None,
    period_to: date | None = None,
    source_type: str | None = None,
    source_id: int | None = None,
) -> Invoice:
    """Draft an invoice from a patient's open charges: chosen ones, one visit's, or a period's."""
    authorize(actor, "billing.post", patient_id=patient_id)
    _lock_patient(session, patient_id)
    query = select(ChargeItem.id).where(ChargeItem.patient_id == patient_id, ChargeItem.status == "open")
    if charge_ids is not None:
        ids = sorted({int(x) for x in charge_ids})
        if not ids:
            raise ValidationError("Choose at least one charge to bill.", field="charges")
        query = query.where(ChargeItem.id.in_(ids))
    if source_type is not None:
        query = query.where(ChargeItem.source_type == source_type, ChargeItem.source_id == source_id)
    if period_from is not None:
        query = query.where(ChargeItem.entered_at >= datetime.combine(period_from, time(), tzinfo=UTC))
    if period_to is not None:
        end = datetime.combine(period_to + timedelta(days=1), time(), tzinfo=UTC)
        query = query.where(ChargeItem.entered_at < end)
    if period_from and period_to and period_to < period_from:
        raise ValidationError("The period ends before it starts.", field="period_to")
    found = list(session.execute(query.order_by(ChargeItem.entered_at, ChargeItem.id)).scalars())
    if charge_ids is not None and len(found) != len(set(charge_ids)):
        raise Conflict("Some of these charges are no longer open (someone billed or cancelled them). Reload.")
    if not found:
        raise ValidationError("There are no open charges to bill for this patient.", field="charges")
    invoice = Invoice(
        patient_id=patient_id,
        status="draft",
        period_from=period_from,
        period_to=period_to,
        created_by=actor.username,
    )
    session.add(invoice)
    session.flush()
    taken = session.execute(
        update(ChargeItem)
        .where(ChargeItem.id.in_(found), ChargeItem.status == "open")
        .values(status="invoiced", invoice_id=invoice.id)
    ).rowcount
    if taken != len(found):
        raise Conflict("Some of these charges were billed a moment ago by someone else. Reload.")
    charges = session.execute(
        select(ChargeItem).where(ChargeItem.id.in_(found)).order_by(ChargeItem.entered_at, ChargeItem.id)
    ).scalars()
    for charge in charges:
        session.add(_invoice_line(invoice.id, charge.id, charge))
    session.flush()
    _recompute(session, invoice)
    _audit(
        session,
        actor,
        "billing.invoice.draft",
        patient_id=patient_id,
        target=invoice,
        detail=f"{counted(len(found), 'charge')}, {format_money(invoice.total_cents)}",
    )
    session.commit()
    live.publish(live.BILLING, patient_id)
    return invoice


def _draft_for_change(session: Session, actor: Actor, invoice_id: int) -> Invoice:
    invoice = _lock_invoice(session, invoice_id)
    authorize(actor, "billing.post", patient_id=invoice.patient_id)
    if invoice.status != "draft":
        raise Conflict("Only a draft can be changed; this invoice is already issued or void.")
    return invoice


@returns_frozen
def set_line_discount(
    session: Session, *, actor: Actor, line_id: int, discount_cents: int, reason: str
) -> Invoice:
    """Give a discount on one line of a draft invoice (with the reason, for the audit trail)."""
    authorize(actor, "billing.post")  # a line does not name its patient; the invoice check follows
    line = get_row(session, InvoiceLine, line_id, "That invoice line does not exist.")
    invoice = _draft_for_change(session, actor, line.invoice_id)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Say why the discount is given.", field="reason")
    gross = line.quantity * line.unit_price_cents
    if not isinstance(discount_cents, int) or not 0 <= discount_cents <= gross:
        raise ValidationError(f"The discount is between 0 and {format_money(gross)}.", field="discount")
    line.discount_cents = discount_cents
    session.add(line)
    session.flush()
    _recompute(session, invoice)
    _audit(
        session,
        actor,
        "billing.invoice.discount",
        patient_id=invoice.patient_id,
        target=invoice,
        detail=f"line {line.code}: {format_money(discount_cents)} ({reason})",
    )
    session.commit()
    live.publish(live.BILLING, invoice.patient_id)
    return invoice


def discard_draft(session: Session, *, actor: Actor, invoice_id: int) -> None:
    """Throw away a draft (it never had a number); its charges are open again."""
    invoice = _draft_for_change(session, actor, invoice_id)
    session.execute(
        update(ChargeItem).where(ChargeItem.invoice_id == invoice.id).values(status="open", invoice_id=None)
    )
    session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    _audit(
        session,
        actor,
        "billing.invoice.discard",
        patient_id=invoice.patient_id,
        target=invoice,
        detail=f"draft of {format_money(invoice.total_cents)}",
    )
    session.delete(invoice)
    session.commit()
    live.publish(live.BILLING, invoice.patient_id)


def format_invoice_number(number: int) -> str:
    return f"INV-{number:06d}"


@returns_frozen
def issue_invoice(session: Session, *, actor: Actor, invoice_id: int) -> Invoice:
    """Issue a draft: shares recomputed with today's coverage, then the next gap-free number."""
    invoice = _draft_for_change(session, actor, invoice_id)
    has_lines = session.execute(
        select(InvoiceLine.id).where(InvoiceLine.invoice_id == invoice.id).limit(1)
    ).first()
    if not has_lines:
        raise ValidationError("An invoice needs at least one line.")
    now = utcnow()
    _recompute(session, invoice, on=now.date())
    number = take_numbers(session, "invoice", 1)[0]
    invoice.number = format_invoice_number(number)
    invoice.status = "issued"
    invoice.issued_at = now
    invoice.issued_by = actor.username
    session.add(invoice)
    _audit(
        session,
        actor,
        "billing.invoice.issue",
        patient_id=invoice.patient_id,
        target=invoice,
        detail=f"{invoice.number} total {format_money(invoice.total_cents)}, patient "
        f"{format_money(invoice.patient_share_cents)}, payer {format_money(invoice.payer_share_cents)}",
    )
    session.commit()
    live.publish(live.BILLING, invoice.patient_id)
    return invoice


@returns_frozen
def void_invoice(
    session: Session, *, actor: Actor, invoice_id: int, reason: str, rebill: bool = True
) -> Invoice:
    """Void an issued invoice. It keeps its number and lines; money paid on it becomes credit;
    its charges are billable again (``rebill``: on a new draft that replaces it)."""
    found = get_row(session, Invoice, invoice_id, "That invoice does not exist.")
    authorize(actor, "billing.void", patient_id=found.patient_id)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Say why the invoice is voided.", field="reason")
    # The lock order of every money movement: the patient, then the invoice.
    _lock_patient(session, found.patient_id)
    invoice = _lock_invoice(session, invoice_id)
    if invoice.status != "issued":
        raise Conflict("Only an issued invoice can be voided (a draft is simply discarded).")
    claims = list(session.execute(select(Claim).where(Claim.invoice_id == invoice.id)).scalars())
    if any(c.status in ("submitted", "accepted", "partially_paid", "paid") for c in claims):
        raise Conflict("A claim for this invoice is with the payer; settle or deny it before voiding.")
    now = utcnow()
    for claim in claims:
        if claim.status == "draft":
            claim.status = "cancelled"
            claim.closed_at = now
            session.add(claim)
    if invoice.patient_paid_cents > 0:
        session.add(
            CreditEntry(
                patient_id=invoice.patient_id,
                amount_cents=invoice.patient_paid_cents,
                invoice_id=invoice.id,
                reason=f"Paid on voided invoice {invoice.number}",
            )
        )
    invoice.status = "void"
    invoice.voided_at = now
    invoice.voided_by = actor.username
    invoice.void_reason = reason[:300]
    session.add(invoice)
    session.execute(
        update(ChargeItem).where(ChargeItem.invoice_id == invoice.id).values(status="open", invoice_id=None)
    )
    session.flush()
    replacement = None
    if rebill:
        charge_ids = [
            cid
            for (cid,) in session.execute(
                select(InvoiceLine.charge_item_id).where(
                    InvoiceLine.invoice_id == invoice.id, InvoiceLine.charge_item_id.is_not(None)
                )
            ).all()
        ]
        if charge_ids:
            replacement = Invoice(patient_id=invoice.patient_id, status="draft", created_by=actor.username)
            session.add(replacement)
            session.flush()
            session.execute(
                update(ChargeItem)
                .where(ChargeItem.id.in_(charge_ids), ChargeItem.status == "open")
                .values(status="invoiced", invoice_id=replacement.id)
            )
            for old in session.execute(
                select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.id)
            ).scalars():
                session.add(_invoice_line(replacement.id, old.charge_item_id, old))
            session.flush()
            _recompute(session, replacement)
            invoice.replaced_by_id = replacement.id
            session.add(invoice)
    _audit(
        session,
        actor,
        "billing.invoice.void",
        patient_id=invoice.patient_id,
        target=invoice,
        detail=f"{invoice.number}: {reason}"
        + (
            f"; {format_money(invoice.patient_paid_cents)} paid moved to credit"
            if invoice.patient_paid_cents
            else ""
        )
        + (f"; charges re-billed on draft {replacement.id}" if replacement else ""),
    )
    session.commit()
    live.publish(live.BILLING, invoice.patient_id)
    return invoice
