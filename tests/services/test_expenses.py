"""Expenses: validation, amounts in cents, listing with totals, permission and audit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from hms_app.errors import Forbidden, ValidationError
from hms_app.models.organization import Department
from hms_app.models.security import AuditEvent
from hms_app.services.billing import expenses
from hms_app.services.permissions import Actor

CLERK = Actor(
    user_id=7,
    username="billing",
    roles=frozenset({"billing_clerk"}),
    permissions=frozenset({"billing.read", "billing.post"}),
)
VIEWER = Actor(
    user_id=8, username="viewer", roles=frozenset({"manager"}), permissions=frozenset({"billing.read"})
)


@pytest.fixture
def dept(session):
    department = Department(code="LAB", name="Laboratory")
    session.add(department)
    session.commit()
    return department.id


def _form(dept_id, **changes):
    form = {
        "category": "supplies",
        "department_id": str(dept_id),
        "supplier": "MedSupply Co",
        "description": "Reagents",
        "amount": "1,234.56",
        "incurred_on": "2026-11-01",
    }
    form.update(changes)
    return form


def test_an_expense_is_recorded_in_cents_audited_and_listed_with_the_total(session, dept):
    first = expenses.record_expense(session, actor=CLERK, data=_form(dept))
    expenses.record_expense(
        session,
        actor=CLERK,
        data=_form(dept, category="utilities", amount="100", incurred_on="2026-10-15", department_id=""),
    )
    assert (first.amount_cents, first.entered_by) == (123456, "billing")
    rows, count, total = expenses.list_expenses(session, actor=VIEWER)
    assert (count, total) == (2, 133456)
    assert [r.category for r in rows] == ["supplies", "utilities"]  # newest first
    assert rows[0].department == "Laboratory" and rows[1].department == ""
    rows, count, total = expenses.list_expenses(session, actor=VIEWER, category="utilities")
    assert (count, total) == (1, 10000)
    _rows, count, _ = expenses.list_expenses(session, actor=VIEWER, date_from=date(2026, 10, 20))
    assert count == 1
    audit = (
        session.execute(select(AuditEvent.detail).where(AuditEvent.action == "expense.record"))
        .scalars()
        .all()
    )
    assert len(audit) == 2 and "MedSupply Co" in audit[0]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "fun"}, "category"),
        ({"department_id": "9999"}, "department_id"),
        ({"supplier": ""}, "supplier"),
        ({"description": "x"}, "description"),
        ({"amount": "-3"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"incurred_on": "soon"}, "incurred_on"),
        ({"incurred_on": (date.today() + timedelta(days=5)).isoformat()}, "incurred_on"),
    ],
)
def test_bad_expense_input_is_refused_with_the_field(session, dept, changes, field):
    with pytest.raises(ValidationError) as caught:
        expenses.record_expense(session, actor=CLERK, data=_form(dept, **changes))
    assert caught.value.field == field


def test_only_billing_post_records_expenses(session, dept):
    with pytest.raises(Forbidden):
        expenses.record_expense(session, actor=VIEWER, data=_form(dept))
