"""Expenses by month and category, and against revenue."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from hms_app.analytics.finance.common import (
    EXP,
    FinanceFilters,
    _month_of,
    _sorted_frame,
    _sum,
    month_firsts,
    month_label,
)
from hms_app.analytics.finance.revenue import revenue_by_month


def _expense_conditions(filters: FinanceFilters) -> list:
    conditions = [EXP.c.incurred_on >= filters.start, EXP.c.incurred_on <= filters.end]
    if filters.department_id is not None:
        conditions.append(EXP.c.department_id == filters.department_id)
    return conditions


def expenses_by_month(session: Session, *, filters: FinanceFilters) -> pd.DataFrame:
    """Expenses per month (columns: month, expenses_cents, expenses)."""
    firsts = month_firsts(filters.start, filters.end)
    month = _month_of(EXP.c.incurred_on, firsts, dates=True).label("month")
    found = {
        label: (int(cents), int(count))
        for label, cents, count in session.execute(
            select(month, _sum(EXP.c.amount_cents), func.count())
            .where(*_expense_conditions(filters))
            .group_by(month)
        ).all()
    }
    labels = [month_label(first) for first in firsts]
    return pd.DataFrame(
        {
            "month": labels,
            "expenses_cents": [found.get(m, (0, 0))[0] for m in labels],
            "expenses": [found.get(m, (0, 0))[1] for m in labels],
        }
    )


def expenses_vs_revenue(session: Session, *, filters: FinanceFilters) -> pd.DataFrame:
    """Revenue and expenses per month with the margin (columns: month, revenue_cents,
    expenses_cents, margin_cents)."""
    return combine_expenses_revenue(
        revenue_by_month(session, filters=filters), expenses_by_month(session, filters=filters)
    )


def combine_expenses_revenue(revenue: pd.DataFrame, expenses: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "month": list(revenue["month"]),
            "revenue_cents": [int(v) for v in revenue["revenue_cents"]],
            "expenses_cents": [int(v) for v in expenses["expenses_cents"]],
        }
    )
    frame["margin_cents"] = frame["revenue_cents"] - frame["expenses_cents"]
    return frame


def expenses_by_category(session: Session, *, filters: FinanceFilters) -> pd.DataFrame:
    """Expenses per category, largest first (columns: key, category, expenses_cents, expenses)."""
    rows = session.execute(
        select(EXP.c.category, _sum(EXP.c.amount_cents), func.count())
        .where(*_expense_conditions(filters))
        .group_by(EXP.c.category)
    ).all()
    records = [
        {
            "key": category,
            "category": category.replace("_", " ").capitalize(),
            "expenses_cents": int(cents),
            "expenses": int(count),
        }
        for category, cents, count in rows
    ]
    return _sorted_frame(records, ["key", "category", "expenses_cents", "expenses"], "category")
