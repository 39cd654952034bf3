"""Expenses: what the hospital spends, by category, department and supplier, so that costs sit
next to revenue on the finance dashboard. Amounts are integer cents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import ValidationError
from hms_app.models.billing import Expense
from hms_app.models.organization import Department
from hms_app.services.audit import record_audit
from hms_app.services.billing.money import format_money, parse_money
from hms_app.services.patients import parse_date
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen

EXPENSE_CATEGORIES = {
    "staff": "Staff and contractors",
    "supplies": "Medical supplies",
    "drugs": "Drugs",
    "equipment": "Equipment",
    "utilities": "Utilities",
    "maintenance": "Maintenance",
    "services": "Outside services",
    "rent": "Rent and facilities",
}


@returns_frozen
def record_expense(session: Session, *, actor: Actor, data: dict) -> Expense:
    """Record one expense: category, department, supplier, description, amount, date."""
    authorize(actor, "billing.post")
    category = str(data.get("category") or "").strip().lower()
    if category not in EXPENSE_CATEGORIES:
        raise ValidationError("Choose the expense category.", field="category")
    department_id = None
    raw_department = str(data.get("department_id") or "").strip()
    if raw_department:
        if not raw_department.isdigit() or session.get(Department, int(raw_department)) is None:
            raise ValidationError("Choose the department.", field="department_id")
        department_id = int(raw_department)
    supplier = str(data.get("supplier") or "").strip()
    if not 2 <= len(supplier) <= 120:
        raise ValidationError("Enter the supplier (2 to 120 characters).", field="supplier")
    description = str(data.get("description") or "").strip()
    if not 2 <= len(description) <= 300:
        raise ValidationError("Describe the expense (2 to 300 characters).", field="description")
    amount = parse_money(data.get("amount"), field="amount", label="the amount")
    incurred_on = parse_date(data.get("incurred_on"), field_name="incurred_on", label="Date")
    if incurred_on > utcnow().date():
        raise ValidationError("The expense date is in the future.", field="incurred_on")
    expense = Expense(
        category=category,
        department_id=department_id,
        supplier=supplier,
        description=description,
        amount_cents=amount,
        incurred_on=incurred_on,
        entered_by=actor.username,
    )
    session.add(expense)
    session.flush()
    record_audit(
        session,
        actor,
        "expense.record",
        target_type="expense",
        target_id=expense.id,
        detail=f"{category} {format_money(amount)} {supplier}",
    )
    session.commit()
    return expense


@dataclass(frozen=True)
class ExpenseRow:
    id: int
    incurred_on: date
    category: str
    department: str
    supplier: str
    description: str
    amount_cents: int
    entered_by: str
    entered_at: datetime


def list_expenses(
    session: Session,
    *,
    actor: Actor,
    category: str = "all",
    date_from: date | None = None,
    date_to: date | None = None,
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[ExpenseRow], int, int]:
    """One page of expenses (newest first), the count and the sum of all that match."""
    authorize(actor, "billing.read")
    conditions = []
    if category != "all":
        if category not in EXPENSE_CATEGORIES:
            raise ValidationError("Unknown expense category.", field="category")
        conditions.append(Expense.category == category)
    if date_from is not None:
        conditions.append(Expense.incurred_on >= date_from)
    if date_to is not None:
        conditions.append(Expense.incurred_on <= date_to)
    count, total = session.execute(
        select(func.count(Expense.id), func.coalesce(func.sum(Expense.amount_cents), 0)).where(*conditions)
    ).one()
    rows = session.execute(
        select(Expense, Department.name)
        .outerjoin(Department, Department.id == Expense.department_id)
        .where(*conditions)
        .order_by(Expense.incurred_on.desc(), Expense.id.desc())
        .offset(max(0, offset))
        .limit(max(1, min(limit, 200)))
    ).all()
    return (
        [
            ExpenseRow(
                e.id,
                e.incurred_on,
                e.category,
                dept or "",
                e.supplier,
                e.description,
                e.amount_cents,
                e.entered_by,
                e.entered_at,
            )
            for e, dept in rows
        ],
        int(count),
        int(total),
    )
