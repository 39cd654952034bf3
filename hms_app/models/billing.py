"""Billing tables, named after FHIR R4 where a resource exists: the catalogue
(ChargeItemDefinition), payer price lists, charges (ChargeItem), invoices and their lines
(Invoice), payments and the patient credit ledger, claims and remittances (Claim,
ClaimResponse/PaymentReconciliation) and expenses.

All money is integer cents. The rules that turn charges into shares live in the
``hms_app/services/billing/`` package (its docstring states the rounding rules; ``money.py``
does the arithmetic).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow


class ChargeItemDefinition(SQLModel, table=True):
    """One billable service of the catalogue: its code, department, list price and tax rate."""

    __tablename__ = "charge_item_definition"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    category: str = Field(
        default="procedure", max_length=20
    )  # visit | lab | imaging | drug | procedure | room
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    price_cents: int
    tax_rate_bp: int = Field(default=0)  # basis points: 825 = 8.25 %
    active: bool = Field(default=True)


class PriceList(SQLModel, table=True):
    """A payer's negotiated prices; a code it does not list costs the catalogue price."""

    __tablename__ = "price_list"

    id: int | None = Field(default=None, primary_key=True)
    payer_id: int = Field(foreign_key="payer.id", index=True)
    name: str = Field(max_length=120)
    valid_from: date
    valid_to: date | None = Field(default=None)
    active: bool = Field(default=True)


class PriceListItem(SQLModel, table=True):
    __tablename__ = "price_list_item"
    __table_args__ = (UniqueConstraint("price_list_id", "code", name="uq_price_list_item_code"),)

    id: int | None = Field(default=None, primary_key=True)
    price_list_id: int = Field(foreign_key="price_list.id")
    code: str = Field(max_length=40)
    price_cents: int


class CoverageLimit(SQLModel, table=True):
    """What a coverage pays at most: per invoice and per calendar year (None: no limit)."""

    __tablename__ = "coverage_limit"

    id: int | None = Field(default=None, primary_key=True)
    coverage_id: int = Field(foreign_key="coverage.id", unique=True)
    per_invoice_cents: int | None = Field(default=None)
    per_year_cents: int | None = Field(default=None)


class ChargeItem(SQLModel, table=True):
    """One billable act for a patient. Posted once per (source_type, source_id, code): a retried
    completion finds the charge it already made. Manual charges carry no source id and a reason."""

    __tablename__ = "charge_item"
    __table_args__ = (
        UniqueConstraint("source_type", "source_id", "code", name="uq_charge_item_source"),
        Index("ix_charge_item_patient_status", "patient_id", "status"),
        # Covering on PostgreSQL: "charges by day/department" reads the index only (finance dashboard).
        Index(
            "ix_charge_item_entered_cover",
            "entered_at",
            postgresql_include=["status", "department_id", "quantity", "unit_price_cents"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    code: str = Field(max_length=40, index=True)
    description: str = Field(max_length=200)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    quantity: int = Field(default=1)
    unit_price_cents: int
    tax_rate_bp: int = Field(default=0)
    status: str = Field(default="open", max_length=10)  # open | invoiced | void
    source_type: str = Field(max_length=20)  # appointment | lab | imaging | pharmacy | manual | ...
    source_id: int | None = Field(default=None)
    reason: str | None = Field(default=None, max_length=300)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    entered_at: datetime = Field(default_factory=utcnow)
    entered_by: str = Field(max_length=60)
    voided_at: datetime | None = Field(default=None)
    voided_by: str | None = Field(default=None, max_length=60)
    void_reason: str | None = Field(default=None, max_length=300)


class Invoice(SQLModel, table=True):
    """A bill. Drafts have no number; issuing takes the next gap-free number. A void keeps the row,
    its lines and its number; ``replaced_by_id`` points at the invoice that re-bills its charges.
    Paid / partially paid are derived from the paid amounts, not stored as a status."""

    __tablename__ = "invoice"
    __table_args__ = (
        Index("ix_invoice_patient_status", "patient_id", "status"),
        Index("ix_invoice_status_issued", "status", "issued_at"),
        Index("ix_invoice_issued_at", "issued_at"),
        Index("ix_invoice_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=20, unique=True)
    status: str = Field(default="draft", max_length=10)  # draft | issued | void
    patient_id: int = Field(foreign_key="patient.id")
    payer_id: int | None = Field(default=None, foreign_key="payer.id", index=True)
    coverage_id: int | None = Field(default=None, foreign_key="coverage.id")
    period_from: date | None = Field(default=None)
    period_to: date | None = Field(default=None)
    subtotal_cents: int = Field(default=0)  # sum of quantity x unit price
    discount_cents: int = Field(default=0)
    tax_cents: int = Field(default=0)
    total_cents: int = Field(default=0)  # subtotal - discount + tax = patient share + payer share
    patient_share_cents: int = Field(default=0)
    payer_share_cents: int = Field(default=0)
    patient_paid_cents: int = Field(default=0)  # payments applied (net of refunds), incl. credit used
    payer_paid_cents: int = Field(default=0)  # remittances posted
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(max_length=60)
    issued_at: datetime | None = Field(default=None)
    issued_by: str | None = Field(default=None, max_length=60)
    voided_at: datetime | None = Field(default=None)
    voided_by: str | None = Field(default=None, max_length=60)
    void_reason: str | None = Field(default=None, max_length=300)
    replaced_by_id: int | None = Field(default=None, foreign_key="invoice.id")


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"
    __table_args__ = (
        # Covering on PostgreSQL: revenue by department or service reads the index, not 2M line rows.
        Index(
            "ix_invoice_line_invoice_cover",
            "invoice_id",
            postgresql_include=["department_id", "code", "quantity", "line_total_cents", "tax_cents"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id")
    charge_item_id: int | None = Field(default=None, foreign_key="charge_item.id", index=True)
    code: str = Field(max_length=40, index=True)
    description: str = Field(max_length=200)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    quantity: int = Field(default=1)
    unit_price_cents: int
    discount_cents: int = Field(default=0)
    tax_rate_bp: int = Field(default=0)
    tax_cents: int = Field(default=0)
    line_total_cents: int = Field(default=0)  # quantity x unit - discount + tax
    patient_share_cents: int = Field(default=0)
    payer_share_cents: int = Field(default=0)


class Payment(SQLModel, table=True):
    """Money in (cash, card, transfer, insurer) or out (a refund: negative amount).

    ``applied_cents`` is the part that went to ``invoice_id``; the rest became patient credit.
    Method ``credit`` moves existing credit onto an invoice: it is not new money.
    """

    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_patient_received", "patient_id", "received_at"),
        Index("ix_payment_received_at", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    kind: str = Field(default="payment", max_length=10)  # payment | refund
    method: str = Field(max_length=10, index=True)  # cash | card | transfer | insurer | credit
    amount_cents: int  # refunds are negative
    applied_cents: int = Field(default=0)
    idempotency_key: str = Field(max_length=80, unique=True)
    reference: str | None = Field(default=None, max_length=120)
    refund_of_id: int | None = Field(default=None, foreign_key="payment.id", index=True)
    claim_id: int | None = Field(default=None, foreign_key="claim.id", index=True)
    received_at: datetime = Field(default_factory=utcnow)
    received_by: str = Field(max_length=60)
    note: str | None = Field(default=None, max_length=300)


class CreditEntry(SQLModel, table=True):
    """The patient credit ledger: + when money exceeds what it pays for (overpayment, a void of a
    paid invoice), - when credit is used on an invoice or refunded. Balance = SUM(amount_cents)."""

    __tablename__ = "credit_entry"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    amount_cents: int
    payment_id: int | None = Field(default=None, foreign_key="payment.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    reason: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow)


class Claim(SQLModel, table=True):
    """A request to a payer for an invoice's payer share (FHIR Claim).

    draft -> submitted -> accepted | denied; remittances make it partially_paid or paid;
    a draft can be cancelled. When it closes, what the payer did not pay moves to the patient.
    """

    __tablename__ = "claim"
    __table_args__ = (Index("ix_claim_status_created", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    payer_id: int = Field(foreign_key="payer.id", index=True)
    coverage_id: int | None = Field(default=None, foreign_key="coverage.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    status: str = Field(default="draft", max_length=16)
    amount_claimed_cents: int
    amount_approved_cents: int | None = Field(default=None)
    amount_paid_cents: int = Field(default=0)
    moved_to_patient_cents: int = Field(default=0)
    denial_reason: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(max_length=60)
    submitted_at: datetime | None = Field(default=None)
    decided_at: datetime | None = Field(default=None)
    closed_at: datetime | None = Field(default=None)


class Remittance(SQLModel, table=True):
    """A payer's payment against a claim (FHIR PaymentReconciliation detail)."""

    __tablename__ = "remittance"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: int = Field(foreign_key="claim.id", index=True)
    payment_id: int | None = Field(default=None, foreign_key="payment.id")
    amount_cents: int
    reference: str | None = Field(default=None, max_length=120)
    posted_at: datetime = Field(default_factory=utcnow, index=True)
    posted_by: str = Field(max_length=60)


class Expense(SQLModel, table=True):
    """A cost: what, for which department, from which supplier, how much, when."""

    __tablename__ = "expense"
    __table_args__ = (
        Index("ix_expense_incurred_on", "incurred_on"),
        Index("ix_expense_category_incurred", "category", "incurred_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    category: str = Field(max_length=40)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    supplier: str = Field(max_length=120, index=True)
    description: str = Field(max_length=300)
    amount_cents: int
    incurred_on: date
    entered_at: datetime = Field(default_factory=utcnow)
    entered_by: str = Field(max_length=60)
