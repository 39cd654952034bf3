"""Reading invoices: their settlement, the paged invoice list and one invoice with its lines,
payments and claims."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session

from hms_app import words
from hms_app.errors import NotFound, ValidationError
from hms_app.models.billing import Claim, Invoice, InvoiceLine, Payment
from hms_app.models.organization import Department
from hms_app.models.patients import Coverage, Patient, Payer
from hms_app.services.audit import audit_read, record_audit
from hms_app.services.billing.common import _reading_permission
from hms_app.services.billing.payments import PaymentView, _payment_views
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row

INVOICE_STATUSES = ("draft", "issued", "void")
# What the invoice list can filter by: stored statuses plus the settlement derived from amounts.
INVOICE_FILTERS = ("all", "draft", "issued", "unpaid", "partially_paid", "paid", "void")


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


SETTLEMENT_LABELS = words.SETTLEMENT


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


def patient_due(invoice: Invoice) -> int:
    """What the patient still owes on an issued invoice (nothing on a draft or a void one)."""
    return (
        max(invoice.patient_share_cents - invoice.patient_paid_cents, 0) if invoice.status == "issued" else 0
    )


def payer_due(invoice: Invoice) -> int:
    """What the payer still owes on an issued invoice (nothing on a draft or a void one)."""
    return max(invoice.payer_share_cents - invoice.payer_paid_cents, 0) if invoice.status == "issued" else 0


def invoice_row(
    invoice: Invoice, *, number: str, patient_name: str = "", mrn: str = "", payer: str | None = None
) -> InvoiceRow:
    """One line of an invoice list, from the invoice and the names read beside it."""
    return InvoiceRow(
        invoice.id,
        number,
        invoice.patient_id,
        patient_name,
        mrn,
        invoice.status,
        settlement(invoice),
        invoice.created_at,
        invoice.issued_at,
        invoice.total_cents,
        invoice.patient_share_cents,
        invoice.payer_share_cents,
        patient_due(invoice),
        payer_due(invoice),
        payer or "Self-pay",
    )


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
    result = (
        [
            invoice_row(
                inv,
                number=inv.number or f"Draft {inv.id}",
                patient_name=f"{given} {family}",
                mrn=mrn,
                payer=payer,
            )
            for inv, given, family, mrn, payer in rows
        ],
        int(total),
    )
    rows_shown, total_count = result
    audit_read(
        session,
        actor,
        "billing.invoices_listed",
        patient_id=patient_id,
        detail=f"status={status}: {len(rows_shown)} of {total_count} invoices",
    )
    return result


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
class InvoiceHeader:
    """An invoice's own columns, as they were when it was read."""

    id: int
    number: str | None
    status: str
    patient_id: int
    created_at: datetime
    issued_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    replaced_by_id: int | None
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int
    patient_share_cents: int
    payer_share_cents: int
    patient_paid_cents: int
    payer_paid_cents: int


@dataclass(frozen=True)
class InvoiceView:
    invoice: InvoiceHeader
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


def get_invoice(session: Session, *, actor: Actor, invoice_id: int) -> InvoiceView:
    """An invoice with its lines, payments and claims, for the detail and print views."""
    invoice = get_row(session, Invoice, invoice_id, "That invoice does not exist.")
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
        invoice=InvoiceHeader(**{f.name: getattr(invoice, f.name) for f in fields(InvoiceHeader)}),
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
        patient_due_cents=patient_due(invoice),
        payer_due_cents=payer_due(invoice),
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
