"""Charges, invoices, payments, refunds and patient credit.

Money rules (every amount is integer cents; no float is ever involved):

1. A line's gross is ``quantity x unit price``. Its discount (cents, 0..gross) is taken off
   the gross: ``net = gross - discount``.
2. Tax is computed **per line** on the net: ``tax = round_half_up(net x tax_rate_bp / 10 000)``
   to the cent. ``line total = net + tax``. The invoice's tax is the sum of its lines' taxes (never
   recomputed on the invoice total), so the lines always add up to the invoice.
3. Shares, when the patient has a current coverage (the active coverage valid on the day with the
   lowest priority number): lines are taken in order; the co-pay (once per invoice) is taken from
   the first lines' totals until it is used up; **co-insurance** is
   ``round_half_up((line total - co-pay taken from that line) x percent / 100)`` on each line;
   the payer's share of the line is the rest. Patient share + payer share = line total, exactly.
4. Limits: the payer's share of the invoice is capped by the coverage's per-invoice limit and by
   what is left of its per-year limit (payer shares of the coverage's issued invoices that calendar
   year). The excess moves to the patient, taken from the last line backwards.
5. ``round_half_up`` rounds halves away from zero on non-negative amounts (0.5 cent -> 1 cent),
   as ``Decimal.quantize(ROUND_HALF_UP)`` does; it is integer arithmetic here.
6. Invoice totals are sums of line amounts: total = subtotal - discount + tax =
   patient share + payer share. Shares are recomputed on every draft change and at issue.
7. A payment is applied to the invoice's outstanding patient share; any excess becomes patient
   credit (the ``credit_entry`` ledger: balance = SUM(amount)). A refund takes the patient's credit
   first, then un-applies the rest from the refunded payment's invoice. Voiding an invoice moves
   the patient money applied to it into credit; the invoice, its lines and its number stay.

Numbers: an invoice gets its number when it is issued (drafts have none), from the gap-free
counter ``invoice``; a rolled-back issue gives its number back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.billing import (
    ChargeItem,
    ChargeItemDefinition,
    Claim,
    CoverageLimit,
    CreditEntry,
    Invoice,
    InvoiceLine,
    Payment,
    PriceList,
    PriceListItem,
)
from hms_app.models.organization import Department
from hms_app.models.patients import Coverage, Patient, Payer
from hms_app.services import live, organization
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.permissions import Actor, authorize

PAYMENT_METHODS = ("cash", "card", "transfer", "insurer", "credit")
DESK_METHODS = ("cash", "card", "transfer")
INVOICE_STATUSES = ("draft", "issued", "void")
# What the invoice list can filter by: stored statuses plus the settlement derived from amounts.
INVOICE_FILTERS = ("all", "draft", "issued", "unpaid", "partially_paid", "paid", "void")
MAX_AMOUNT_CENTS = 100_000_000  # one million: larger is a typing error, not a hospital bill
KEY_RE = re.compile(r"^[A-Za-z0-9_.:\-]{8,80}$")
# Who may post a charge that a module raises for an act it performed (not a manual charge).
CHARGING_PERMISSIONS = frozenset(
    {"billing.post", "appointment.flow", "ward.manage", "lab.work", "radiology.work", "pharmacy.dispense"}
)


# ----------------------------------------------------------------------------------------- money


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def format_money(cents: int | None) -> str:
    """12345 -> '123.45'; -500 -> '-5.00'."""
    cents = int(cents or 0)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d}"


def parse_money(value, *, field: str = "amount", label: str = "the amount", allow_zero: bool = False) -> int:
    """'12.5' / '12,50' / '1,234.00' -> cents; raises ValidationError with a plain message."""
    text = str(value if value is not None else "").strip().replace(" ", "")
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d{1,2})?", text):
        text = text.replace(",", "")
    text = text.replace(",", ".")
    if not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", text):
        raise ValidationError(f"Enter {label} as a number such as 20 or 12.50.", field=field)
    whole, _, fraction = text.partition(".")
    cents = int(whole) * 100 + int((fraction + "00")[:2])
    if cents == 0 and not allow_zero:
        raise ValidationError(f"Enter {label} greater than zero.", field=field)
    if cents > MAX_AMOUNT_CENTS:
        raise ValidationError(f"{label.capitalize()} is too large.", field=field)
    return cents


@dataclass(frozen=True)
class LineInput:
    quantity: int
    unit_price_cents: int
    discount_cents: int = 0
    tax_rate_bp: int = 0


@dataclass(frozen=True)
class LineAmounts:
    gross_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int
    patient_cents: int
    payer_cents: int


@dataclass(frozen=True)
class ShareTerms:
    """What a coverage makes the patient pay; ``None`` terms mean self-pay."""

    copay_cents: int = 0
    coinsurance_percent: int = 0
    payer_cap_cents: int | None = None


def compute_lines(lines: list[LineInput], terms: ShareTerms | None) -> list[LineAmounts]:
    """Apply the money rules of this module's docstring to invoice lines, in order."""
    base = []
    for line in lines:
        gross = line.quantity * line.unit_price_cents
        discount = min(max(line.discount_cents, 0), gross)
        net = gross - discount
        tax = round_half_up(net * line.tax_rate_bp, 10_000)
        base.append((gross, discount, tax, net + tax))
    if terms is None:
        return [LineAmounts(g, d, t, total, total, 0) for g, d, t, total in base]
    copay_left = max(terms.copay_cents, 0)
    patient = []
    for _g, _d, _t, total in base:
        copay = min(copay_left, total)
        copay_left -= copay
        patient.append(copay + round_half_up((total - copay) * terms.coinsurance_percent, 100))
    payer = [total - share for (_g, _d, _t, total), share in zip(base, patient, strict=True)]
    if terms.payer_cap_cents is not None:
        excess = sum(payer) - max(terms.payer_cap_cents, 0)
        for index in range(len(payer) - 1, -1, -1):
            if excess <= 0:
                break
            moved = min(excess, payer[index])
            payer[index] -= moved
            patient[index] += moved
            excess -= moved
    return [
        LineAmounts(g, d, t, total, p, y) for (g, d, t, total), p, y in zip(base, patient, payer, strict=True)
    ]


# ----------------------------------------------------------------------------- lookups and locks


def _lock_patient(session: Session, patient_id: int) -> Patient:
    """Serialize money movements of one patient (PostgreSQL row lock; SQLite writes are serial)."""
    patient = session.execute(
        select(Patient).where(Patient.id == patient_id).with_for_update()
    ).scalar_one_or_none()
    if patient is None:
        raise NotFound("That patient does not exist.")
    return patient


def _lock_invoice(session: Session, invoice_id: int) -> Invoice:
    invoice = session.execute(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if invoice is None:
        raise NotFound("That invoice does not exist.")
    return invoice


def current_coverage(session: Session, patient_id: int, on: date | None = None) -> Coverage | None:
    """The coverage that pays first on ``on``: active, valid that day, lowest priority number."""
    on = on or utcnow().date()
    return session.execute(
        select(Coverage)
        .where(
            Coverage.patient_id == patient_id,
            Coverage.active.is_(True),
            Coverage.valid_from <= on,
            or_(Coverage.valid_to.is_(None), Coverage.valid_to >= on),
        )
        .order_by(Coverage.priority, Coverage.id)
        .limit(1)
    ).scalar_one_or_none()


def price_for(session: Session, *, code: str, payer_id: int | None, on: date | None = None) -> int | None:
    """The payer's negotiated price for ``code`` on ``on``, or None when its price lists lack it."""
    if payer_id is None:
        return None
    on = on or utcnow().date()
    return session.execute(
        select(PriceListItem.price_cents)
        .join(PriceList, PriceList.id == PriceListItem.price_list_id)
        .where(
            PriceList.payer_id == payer_id,
            PriceList.active.is_(True),
            PriceList.valid_from <= on,
            or_(PriceList.valid_to.is_(None), PriceList.valid_to >= on),
            PriceListItem.code == code,
        )
        .order_by(PriceList.valid_from.desc())
        .limit(1)
    ).scalar_one_or_none()


def _audit(
    session: Session, actor: Actor, action: str, *, patient_id: int | None, target, detail: str
) -> None:
    target_type = {
        ChargeItem: "charge_item",
        Invoice: "invoice",
        Payment: "payment",
        ChargeItemDefinition: "charge_item_definition",
        PriceList: "price_list",
    }.get(type(target))
    record_audit(
        session,
        actor,
        action,
        patient_id=patient_id,
        target_type=target_type,
        target_id=getattr(target, "id", None),
        detail=detail,
    )


def _reading_permission(actor: Actor | None) -> str:
    """A portal user reads their own bills with portal.self; staff need billing.read."""
    return "portal.self" if actor is not None and actor.patient_id is not None else "billing.read"


def _check_key(key: str) -> str:
    key = str(key or "").strip()
    if not KEY_RE.fullmatch(key):
        raise ValidationError("The request is missing its payment key; reload the page and try again.")
    return key


def _positive_int(value, *, field: str, label: str, maximum: int = 10_000) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError) as error:
        raise ValidationError(f"{label} is a whole number.", field=field) from error
    if not 1 <= number <= maximum:
        raise ValidationError(f"{label} is between 1 and {maximum:,}.", field=field)
    return number


# ---------------------------------------------------------------------------------------- charges


def post_charge(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    code: str,
    quantity: int = 1,
    source_type: str,
    source_id: int | None = None,
    department_id: int | None = None,
    reason: str | None = None,
    commit: bool = True,
) -> ChargeItem:
    """Charge the patient for one billable act (the one call every module uses)."""
    source_type = str(source_type or "").strip().lower()
    # A manual charge is a billing decision; a module's charge rides on the act it bills, so the
    # clinician who completes the visit or dispenses the drug posts it under their own name.
    if source_type == "manual" or actor is None or not (actor.permissions & CHARGING_PERMISSIONS):
        authorize(actor, "billing.post", patient_id=patient_id)
    else:
        authorize(actor, next(iter(sorted(actor.permissions & CHARGING_PERMISSIONS))), patient_id=patient_id)
    if not re.fullmatch(r"[a-z_]{2,20}", source_type):
        raise ValidationError(
            "The charge needs a source (appointment, lab, manual, ...).", field="source_type"
        )
    manual = source_type == "manual"
    reason = (reason or "").strip() or None
    if manual:
        if source_id is not None:
            raise ValidationError("A manual charge has no source record.", field="source_id")
        if reason is None or len(reason) < 3:
            raise ValidationError("Say why this charge is added by hand.", field="reason")
    elif source_id is None:
        raise ValidationError("The charge needs the record it bills for.", field="source_id")
    quantity = _positive_int(quantity, field="quantity", label="Quantity", maximum=1000)
    code = str(code or "").strip().upper()
    if not code:
        raise ValidationError("Choose the service to charge.", field="code")
    if not manual:
        existing = _charge_for_source(session, source_type, source_id, code)
        if existing is not None:
            return existing  # a retried completion: the act is already charged
    definition = session.execute(
        select(ChargeItemDefinition).where(ChargeItemDefinition.code == code)
    ).scalar_one_or_none()
    if definition is None or not definition.active:
        raise ValidationError(f"There is no active service with the code {code}.", field="code")
    if session.get(Patient, patient_id) is None:
        raise NotFound("That patient does not exist.")
    if department_id is not None and session.get(Department, department_id) is None:
        raise ValidationError("That department does not exist.", field="department_id")
    coverage = current_coverage(session, patient_id)
    negotiated = price_for(session, code=code, payer_id=coverage.payer_id if coverage else None)
    charge = ChargeItem(
        patient_id=patient_id,
        code=code,
        description=definition.name,
        department_id=department_id if department_id is not None else definition.department_id,
        quantity=quantity,
        unit_price_cents=negotiated if negotiated is not None else definition.price_cents,
        tax_rate_bp=definition.tax_rate_bp,
        status="open",
        source_type=source_type,
        source_id=source_id,
        reason=reason,
        entered_by=actor.username,
    )
    try:
        with session.begin_nested():
            session.add(charge)
            session.flush()
    except IntegrityError:
        # Another worker charged the same act a moment ago: that charge is this one.
        existing = _charge_for_source(session, source_type, source_id, code)
        if existing is None:
            raise
        return existing
    _audit(
        session,
        actor,
        "billing.charge",
        patient_id=patient_id,
        target=charge,
        detail=f"{code} x{quantity} {format_money(charge.unit_price_cents * quantity)} ({source_type}"
        + (f" {source_id}" if source_id is not None else f": {reason}")
        + ")",
    )
    if commit:
        session.commit()
        live.publish(live.BILLING, patient_id)
    return charge


def _charge_for_source(
    session: Session, source_type: str, source_id: int | None, code: str
) -> ChargeItem | None:
    return session.execute(
        select(ChargeItem).where(
            ChargeItem.source_type == source_type,
            ChargeItem.source_id == source_id,
            ChargeItem.code == code,
        )
    ).scalar_one_or_none()


def void_charge(session: Session, *, actor: Actor, charge_id: int, reason: str) -> ChargeItem:
    """Cancel an open charge that should not be billed (it stays on record)."""
    charge = session.get(ChargeItem, charge_id)
    if charge is None:
        raise NotFound("That charge does not exist.")
    authorize(actor, "billing.void", patient_id=charge.patient_id)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Say why the charge is cancelled.", field="reason")
    done = session.execute(
        update(ChargeItem)
        .where(ChargeItem.id == charge_id, ChargeItem.status == "open")
        .values(status="void", voided_at=utcnow(), voided_by=actor.username, void_reason=reason[:300])
    ).rowcount
    if done != 1:
        raise Conflict(
            "Only an open charge can be cancelled; this one is already on an invoice or cancelled."
        )
    _audit(session, actor, "billing.charge.void", patient_id=charge.patient_id, target=charge, detail=reason)
    session.commit()
    session.refresh(charge)
    live.publish(live.BILLING, charge.patient_id)
    return charge


@dataclass(frozen=True)
class ChargeRow:
    id: int
    entered_at: datetime
    code: str
    description: str
    department: str
    quantity: int
    unit_price_cents: int
    amount_cents: int
    status: str
    source: str
    reason: str


def list_charges(
    session: Session, *, actor: Actor, patient_id: int, status: str = "open", limit: int = 200
) -> list[ChargeRow]:
    """A patient's charges (default: the open ones waiting for an invoice), oldest first."""
    authorize(actor, "billing.read", patient_id=patient_id)
    query = (
        select(ChargeItem, Department.name)
        .outerjoin(Department, Department.id == ChargeItem.department_id)
        .where(ChargeItem.patient_id == patient_id)
    )
    if status != "all":
        query = query.where(ChargeItem.status == status)
    rows = session.execute(query.order_by(ChargeItem.entered_at, ChargeItem.id).limit(limit)).all()
    return [
        ChargeRow(
            c.id,
            c.entered_at,
            c.code,
            c.description,
            dept or "",
            c.quantity,
            c.unit_price_cents,
            c.quantity * c.unit_price_cents,
            c.status,
            c.source_type if c.source_id is None else f"{c.source_type} {c.source_id}",
            c.reason or "",
        )
        for c, dept in rows
    ]


# --------------------------------------------------------------------------------------- invoices


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
        detail=f"{len(found)} charges, {format_money(invoice.total_cents)}",
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


def set_line_discount(
    session: Session, *, actor: Actor, line_id: int, discount_cents: int, reason: str
) -> Invoice:
    """Give a discount on one line of a draft invoice (with the reason, for the audit trail)."""
    authorize(actor, "billing.post")  # a line does not name its patient; the invoice check follows
    line = session.get(InvoiceLine, line_id)
    if line is None:
        raise NotFound("That invoice line does not exist.")
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


def void_invoice(
    session: Session, *, actor: Actor, invoice_id: int, reason: str, rebill: bool = True
) -> Invoice:
    """Void an issued invoice. It keeps its number and lines; money paid on it becomes credit;
    its charges are billable again (``rebill``: on a new draft that replaces it)."""
    found = session.get(Invoice, invoice_id)
    if found is None:
        raise NotFound("That invoice does not exist.")
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


def settlement(invoice: Invoice) -> str:
    """draft | void | paid | partially_paid | unpaid, from the stored amounts."""
    if invoice.status != "issued":
        return invoice.status
    if (
        invoice.patient_paid_cents >= invoice.patient_share_cents
        and invoice.payer_paid_cents >= invoice.payer_share_cents
    ):
        return "paid"
    if invoice.patient_paid_cents > 0 or invoice.payer_paid_cents > 0:
        return "partially_paid"
    return "unpaid"


def _settlement_sql():
    """The same as ``settlement`` as a SQL expression (for filters and the dashboard)."""
    return case(
        (Invoice.status != "issued", Invoice.status),
        (
            and_(
                Invoice.patient_paid_cents >= Invoice.patient_share_cents,
                Invoice.payer_paid_cents >= Invoice.payer_share_cents,
            ),
            "paid",
        ),
        (or_(Invoice.patient_paid_cents > 0, Invoice.payer_paid_cents > 0), "partially_paid"),
        else_="unpaid",
    )


SETTLEMENT_LABELS = {
    "draft": "Draft",
    "issued": "Issued",
    "void": "Void",
    "paid": "Paid",
    "partially_paid": "Partially paid",
    "unpaid": "Unpaid",
}


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    number: str
    patient_id: int
    patient_name: str
    mrn: str
    status: str  # draft | issued | void
    settlement: str  # draft | void | paid | partially_paid | unpaid
    created_at: datetime
    issued_at: datetime | None
    total_cents: int
    patient_share_cents: int
    payer_share_cents: int
    patient_due_cents: int
    payer_due_cents: int
    payer: str


def list_invoices(
    session: Session,
    *,
    actor: Actor,
    status: str = "all",
    issued_from: date | None = None,
    issued_to: date | None = None,
    patient_id: int | None = None,
    query: str = "",
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[InvoiceRow], int]:
    """One page of invoices, newest first, and how many match the filters."""
    authorize(actor, "billing.read", patient_id=patient_id)
    if actor.patient_id is not None:
        patient_id = actor.patient_id  # a portal user only ever lists their own
    if status not in INVOICE_FILTERS:
        raise ValidationError("Unknown invoice status.", field="status")
    limit = max(1, min(int(limit), 200))
    offset = max(0, int(offset))
    settled = _settlement_sql()
    conditions = []
    if status in INVOICE_STATUSES:
        conditions.append(Invoice.status == status)
    elif status != "all":
        conditions += [Invoice.status == "issued", settled == status]
    if issued_from is not None:
        conditions.append(Invoice.issued_at >= datetime.combine(issued_from, time(), tzinfo=UTC))
    if issued_to is not None:
        conditions.append(
            Invoice.issued_at < datetime.combine(issued_to + timedelta(days=1), time(), tzinfo=UTC)
        )
    if patient_id is not None:
        conditions.append(Invoice.patient_id == patient_id)
    text = (query or "").strip()
    if text:
        if text.upper().startswith("INV"):
            conditions.append(Invoice.number == text.upper())
        else:
            conditions.append(or_(Patient.mrn == text.upper(), Patient.family_name.ilike(f"{text[:60]}%")))
    # The count joins the patient only when a name or MRN is searched: counting invoices alone
    # stays on the invoice indexes.
    counted = select(func.count(Invoice.id)).where(*conditions)
    if text and not text.upper().startswith("INV"):
        counted = counted.join(Patient, Patient.id == Invoice.patient_id)
    total = session.execute(counted).scalar_one()
    rows = session.execute(
        select(Invoice, Patient.given_name, Patient.family_name, Patient.mrn, Payer.name)
        .join(Patient, Patient.id == Invoice.patient_id)
        .outerjoin(Payer, Payer.id == Invoice.payer_id)
        .where(*conditions)
        .order_by(Invoice.created_at.desc(), Invoice.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [
        InvoiceRow(
            inv.id,
            inv.number or f"Draft {inv.id}",
            inv.patient_id,
            f"{given} {family}",
            mrn,
            inv.status,
            settlement(inv),
            inv.created_at,
            inv.issued_at,
            inv.total_cents,
            inv.patient_share_cents,
            inv.payer_share_cents,
            max(inv.patient_share_cents - inv.patient_paid_cents, 0) if inv.status == "issued" else 0,
            max(inv.payer_share_cents - inv.payer_paid_cents, 0) if inv.status == "issued" else 0,
            payer or "Self-pay",
        )
        for inv, given, family, mrn, payer in rows
    ], int(total)


@dataclass(frozen=True)
class LineView:
    id: int
    code: str
    description: str
    department: str
    quantity: int
    unit_price_cents: int
    discount_cents: int
    tax_cents: int
    line_total_cents: int
    patient_share_cents: int
    payer_share_cents: int


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


@dataclass(frozen=True)
class InvoiceView:
    invoice: Invoice
    patient_name: str
    mrn: str
    patient_address: str
    payer: str
    plan: str
    lines: list[LineView]
    payments: list[PaymentView]
    claims: list[tuple[int, str, int, int]]  # id, status, claimed, paid
    settlement: str
    patient_due_cents: int
    payer_due_cents: int
    replaced_by_number: str
    replaces_number: str
    moved_to_patient_cents: int  # payer share that closed claims moved to the patient


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


def get_invoice(session: Session, *, actor: Actor, invoice_id: int) -> InvoiceView:
    """An invoice with its lines, payments and claims, for the detail and print views."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("That invoice does not exist.")
    authorize(actor, _reading_permission(actor), patient_id=invoice.patient_id)
    if actor.patient_id is not None and invoice.status == "draft":
        raise NotFound("That invoice does not exist.")
    patient = session.get(Patient, invoice.patient_id)
    payer = session.get(Payer, invoice.payer_id) if invoice.payer_id else None
    coverage = session.get(Coverage, invoice.coverage_id) if invoice.coverage_id else None
    lines = session.execute(
        select(InvoiceLine, Department.name)
        .outerjoin(Department, Department.id == InvoiceLine.department_id)
        .where(InvoiceLine.invoice_id == invoice.id)
        .order_by(InvoiceLine.id)
    ).all()
    claims = session.execute(
        select(Claim.id, Claim.status, Claim.amount_claimed_cents, Claim.amount_paid_cents)
        .where(Claim.invoice_id == invoice.id)
        .order_by(Claim.id)
    ).all()
    replaced_by = session.get(Invoice, invoice.replaced_by_id) if invoice.replaced_by_id else None
    replaces = session.execute(
        select(Invoice.number).where(Invoice.replaced_by_id == invoice.id)
    ).scalar_one_or_none()
    address = ", ".join(x for x in (patient.address_line, patient.city, patient.postal_code) if x)
    record_audit(
        session,
        actor,
        "billing.read",
        patient_id=invoice.patient_id,
        target_type="invoice",
        target_id=invoice.id,
        detail=invoice.number or f"draft {invoice.id}",
    )
    session.commit()
    return InvoiceView(
        invoice=invoice,
        patient_name=f"{patient.given_name} {patient.family_name}",
        mrn=patient.mrn,
        patient_address=address,
        payer=payer.name if payer else "Self-pay",
        plan=f"{coverage.plan_name} ({coverage.member_id})" if coverage else "",
        lines=[
            LineView(
                x.id,
                x.code,
                x.description,
                dept or "",
                x.quantity,
                x.unit_price_cents,
                x.discount_cents,
                x.tax_cents,
                x.line_total_cents,
                x.patient_share_cents,
                x.payer_share_cents,
            )
            for x, dept in lines
        ],
        payments=_payment_views(session, Payment.invoice_id == invoice.id),
        claims=[(c[0], c[1], c[2], c[3]) for c in claims],
        settlement=settlement(invoice),
        patient_due_cents=max(invoice.patient_share_cents - invoice.patient_paid_cents, 0)
        if invoice.status == "issued"
        else 0,
        payer_due_cents=max(invoice.payer_share_cents - invoice.payer_paid_cents, 0)
        if invoice.status == "issued"
        else 0,
        replaced_by_number=(replaced_by.number or f"Draft {replaced_by.id}") if replaced_by else "",
        replaces_number=replaces or "",
        moved_to_patient_cents=int(
            session.execute(
                select(func.coalesce(func.sum(Claim.moved_to_patient_cents), 0)).where(
                    Claim.invoice_id == invoice.id
                )
            ).scalar_one()
        ),
    )


# ------------------------------------------------------------------------------- payments, credit


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
    original = session.get(Payment, payment_id)
    if original is None:
        raise NotFound("That payment does not exist.")
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


# ---------------------------------------------------------------------------------------- account


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


def account_summary(session: Session, *, actor: Actor, patient_id: int) -> AccountSummary:
    """What a patient owes and holds: open charges, amounts due, credit, balance."""
    authorize(actor, _reading_permission(actor), patient_id=patient_id)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient does not exist.")
    charges, charge_count = session.execute(
        select(
            func.coalesce(func.sum(ChargeItem.quantity * ChargeItem.unit_price_cents), 0),
            func.count(ChargeItem.id),
        ).where(ChargeItem.patient_id == patient_id, ChargeItem.status == "open")
    ).one()
    due, payer_due = session.execute(
        select(
            func.coalesce(
                func.sum(
                    case(
                        (
                            Invoice.patient_share_cents > Invoice.patient_paid_cents,
                            Invoice.patient_share_cents - Invoice.patient_paid_cents,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
            func.coalesce(
                func.sum(
                    case(
                        (
                            Invoice.payer_share_cents > Invoice.payer_paid_cents,
                            Invoice.payer_share_cents - Invoice.payer_paid_cents,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
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
    return _payment_views(session, Payment.patient_id == patient_id)


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
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("That payment does not exist.")
    authorize(actor, _reading_permission(actor), patient_id=payment.patient_id)
    view = _payment_views(session, Payment.id == payment_id)[0]
    patient = session.get(Patient, payment.patient_id)
    invoice = session.get(Invoice, payment.invoice_id) if payment.invoice_id else None
    return ReceiptView(
        view,
        payment.patient_id,
        f"{patient.given_name} {patient.family_name}",
        patient.mrn,
        invoice.number if invoice else "",
        max(invoice.patient_share_cents - invoice.patient_paid_cents, 0) if invoice else 0,
        credit_balance(session, payment.patient_id),
    )


# ------------------------------------------------------------------------------- portal (simulated)

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


# -------------------------------------------------------------------------- catalogue, price lists


@dataclass(frozen=True)
class CatalogueRow:
    id: int
    code: str
    name: str
    category: str
    department_id: int | None
    department: str
    price_cents: int
    tax_rate_bp: int
    active: bool


CATEGORIES = ("visit", "lab", "imaging", "drug", "procedure", "room")


def list_catalogue(
    session: Session,
    *,
    actor: Actor,
    query: str = "",
    offset: int = 0,
    limit: int = 50,
    active_only: bool = False,
) -> tuple[list[CatalogueRow], int]:
    """One page of the service catalogue, by code."""
    authorize(actor, "billing.read")
    conditions = []
    text = (query or "").strip()
    if text:
        conditions.append(
            or_(
                ChargeItemDefinition.code.ilike(f"{text[:40]}%"),
                ChargeItemDefinition.name.ilike(f"%{text[:60]}%"),
            )
        )
    if active_only:
        conditions.append(ChargeItemDefinition.active.is_(True))
    total = session.execute(select(func.count(ChargeItemDefinition.id)).where(*conditions)).scalar_one()
    rows = session.execute(
        select(ChargeItemDefinition, Department.name)
        .outerjoin(Department, Department.id == ChargeItemDefinition.department_id)
        .where(*conditions)
        .order_by(ChargeItemDefinition.code)
        .offset(max(0, offset))
        .limit(max(1, min(limit, 500)))
    ).all()
    return [
        CatalogueRow(
            d.id,
            d.code,
            d.name,
            d.category,
            d.department_id,
            dept or "",
            d.price_cents,
            d.tax_rate_bp,
            d.active,
        )
        for d, dept in rows
    ], int(total)


def save_charge_definition(session: Session, *, actor: Actor, data: dict) -> ChargeItemDefinition:
    """Add a service to the catalogue or change one (found by its code)."""
    authorize(actor, "billing.post")
    code = str(data.get("code") or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9\-_.]{1,39}", code):
        raise ValidationError("The code has 2 to 40 letters, digits or dashes.", field="code")
    name = str(data.get("name") or "").strip()
    if not 2 <= len(name) <= 200:
        raise ValidationError("Enter the service name.", field="name")
    category = str(data.get("category") or "procedure").strip().lower()
    if category not in CATEGORIES:
        raise ValidationError("Choose the kind of service.", field="category")
    price = parse_money(data.get("price"), field="price", label="the price", allow_zero=True)
    try:
        # "8.25" (percent, two decimals) parses to 825, which is the rate in basis points.
        tax_bp = parse_money(data.get("tax_percent") or "0", field="tax_percent", allow_zero=True)
    except ValidationError as error:
        raise ValidationError(
            "Enter the tax rate in percent, such as 0 or 8.25.", field="tax_percent"
        ) from error
    if tax_bp > 10_000:
        raise ValidationError("The tax rate is at most 100 %.", field="tax_percent")
    department_id = data.get("department_id")
    department_id = int(department_id) if str(department_id or "").strip().isdigit() else None
    if department_id is not None and session.get(Department, department_id) is None:
        raise ValidationError("That department does not exist.", field="department_id")
    active = str(data.get("active", "true")).lower() not in ("false", "0", "off", "")
    definition = session.execute(
        select(ChargeItemDefinition).where(ChargeItemDefinition.code == code)
    ).scalar_one_or_none()
    created = definition is None
    if created:
        definition = ChargeItemDefinition(code=code, name=name, price_cents=price)
    before = "" if created else f"{format_money(definition.price_cents)} tax {definition.tax_rate_bp}bp"
    definition.name = name
    definition.category = category
    definition.department_id = department_id
    definition.price_cents = price
    definition.tax_rate_bp = tax_bp
    definition.active = active
    session.add(definition)
    session.flush()
    _audit(
        session,
        actor,
        "billing.catalogue",
        patient_id=None,
        target=definition,
        detail=f"{'added' if created else 'changed'} {code}: {format_money(price)} tax {tax_bp}bp"
        + (f" (was {before})" if before else ""),
    )
    session.commit()
    return definition


@dataclass(frozen=True)
class PriceListRow:
    id: int
    payer: str
    name: str
    valid_from: date
    valid_to: date | None
    items: int
    active: bool


def list_price_lists(session: Session, *, actor: Actor) -> list[PriceListRow]:
    """Every payer price list with its number of prices."""
    authorize(actor, "billing.read")
    counts = (
        select(PriceListItem.price_list_id, func.count(PriceListItem.id).label("n"))
        .group_by(PriceListItem.price_list_id)
        .subquery()
    )
    rows = session.execute(
        select(PriceList, Payer.name, func.coalesce(counts.c.n, 0))
        .join(Payer, Payer.id == PriceList.payer_id)
        .outerjoin(counts, counts.c.price_list_id == PriceList.id)
        .order_by(Payer.name, PriceList.valid_from.desc())
        .limit(200)
    ).all()
    return [
        PriceListRow(p.id, payer, p.name, p.valid_from, p.valid_to, int(n), p.active) for p, payer, n in rows
    ]


def list_price_list_items(
    session: Session, *, actor: Actor, price_list_id: int
) -> list[tuple[str, str, int, int]]:
    """(code, name, list price, negotiated price) of one price list."""
    authorize(actor, "billing.read")
    rows = session.execute(
        select(
            PriceListItem.code,
            ChargeItemDefinition.name,
            ChargeItemDefinition.price_cents,
            PriceListItem.price_cents,
        )
        .outerjoin(ChargeItemDefinition, ChargeItemDefinition.code == PriceListItem.code)
        .where(PriceListItem.price_list_id == price_list_id)
        .order_by(PriceListItem.code)
        .limit(1000)
    ).all()
    return [(c, n or "", int(lp or 0), int(p)) for c, n, lp, p in rows]


def create_price_list(
    session: Session, *, actor: Actor, payer_id: int, name: str, valid_from: date
) -> PriceList:
    """Start a payer's price list."""
    authorize(actor, "billing.post")
    if session.get(Payer, payer_id) is None:
        raise ValidationError("Choose the payer.", field="payer_id")
    name = (name or "").strip()
    if not 2 <= len(name) <= 120:
        raise ValidationError("Enter the price list's name.", field="name")
    price_list = PriceList(payer_id=payer_id, name=name, valid_from=valid_from)
    session.add(price_list)
    session.flush()
    _audit(session, actor, "billing.pricelist", patient_id=None, target=price_list, detail=f"created {name}")
    session.commit()
    return price_list


def set_price(session: Session, *, actor: Actor, price_list_id: int, code: str, price) -> PriceListItem:
    """Set (or change) the negotiated price of one service on a price list."""
    authorize(actor, "billing.post")
    price_list = session.get(PriceList, price_list_id)
    if price_list is None:
        raise NotFound("That price list does not exist.")
    code = str(code or "").strip().upper()
    if (
        session.execute(select(ChargeItemDefinition.id).where(ChargeItemDefinition.code == code)).first()
        is None
    ):
        raise ValidationError(f"There is no service with the code {code}.", field="code")
    cents = parse_money(price, field="price", label="the price", allow_zero=True)
    item = session.execute(
        select(PriceListItem).where(PriceListItem.price_list_id == price_list_id, PriceListItem.code == code)
    ).scalar_one_or_none()
    before = None if item is None else item.price_cents
    if item is None:
        item = PriceListItem(price_list_id=price_list_id, code=code, price_cents=cents)
    item.price_cents = cents
    session.add(item)
    _audit(
        session,
        actor,
        "billing.pricelist",
        patient_id=None,
        target=price_list,
        detail=f"{code} {format_money(cents)}"
        + (f" (was {format_money(before)})" if before is not None else ""),
    )
    session.commit()
    return item


def list_departments(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """Active departments, for the catalogue and expense forms."""
    authorize(actor, "billing.read")
    return organization.active_departments(session)


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
    return [
        AccountRow(pid, f"{given} {family}", mrn, int(n or 0), int(cents or 0), oldest)
        for pid, given, family, mrn, n, cents, oldest in rows
    ], int(total)


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
    return [
        InvoiceRow(
            inv.id,
            inv.number or "",
            inv.patient_id,
            "",
            "",
            inv.status,
            settlement(inv),
            inv.created_at,
            inv.issued_at,
            inv.total_cents,
            inv.patient_share_cents,
            inv.payer_share_cents,
            max(inv.patient_share_cents - inv.patient_paid_cents, 0) if inv.status == "issued" else 0,
            max(inv.payer_share_cents - inv.payer_paid_cents, 0) if inv.status == "issued" else 0,
            payer or "Self-pay",
        )
        for inv, payer in rows
    ]
