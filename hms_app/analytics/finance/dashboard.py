"""Every figure of the finance dashboard for one choice of filters."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlmodel import Session

from hms_app.analytics.finance.common import FinanceFilters
from hms_app.analytics.finance.expenses import (
    combine_expenses_revenue,
    expenses_by_category,
    expenses_by_month,
)
from hms_app.analytics.finance.receivables import ar_aging, top_outstanding
from hms_app.analytics.finance.revenue import (
    charges_vs_collections,
    payer_mix,
    revenue_by_department,
    revenue_by_month,
    revenue_by_service,
)


@dataclass
class Dashboard:
    """Every figure's small frame for one choice of filters."""

    filters: FinanceFilters
    revenue_month: pd.DataFrame
    revenue_department: pd.DataFrame
    revenue_service: pd.DataFrame
    payers: pd.DataFrame
    charges_collections: pd.DataFrame
    aging: pd.DataFrame
    top_balances: pd.DataFrame
    expenses_month: pd.DataFrame
    expenses_category: pd.DataFrame
    expenses_revenue: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        self.expenses_revenue = combine_expenses_revenue(self.revenue_month, self.expenses_month)

    @property
    def kpis(self) -> dict[str, int]:
        """The period's totals; each is the sum of a figure's bars, so they reconcile by construction."""
        return {
            "revenue_cents": int(self.revenue_month["revenue_cents"].sum()),
            "collections_cents": int(self.charges_collections["collections_cents"].sum()),
            "outstanding_cents": int(self.aging["balance_cents"].sum()),
            "expenses_cents": int(self.expenses_month["expenses_cents"].sum()),
            "charges_cents": int(self.charges_collections["charges_cents"].sum()),
            "open_invoices": int(self.aging["invoices"].sum()),
        }


def load_dashboard(session: Session, *, filters: FinanceFilters) -> Dashboard:
    """Every figure of the dashboard (revenue by month is computed once and reused)."""
    return Dashboard(
        filters=filters,
        revenue_month=revenue_by_month(session, filters=filters),
        revenue_department=revenue_by_department(session, filters=filters),
        revenue_service=revenue_by_service(session, filters=filters),
        payers=payer_mix(session, filters=filters),
        charges_collections=charges_vs_collections(session, filters=filters),
        aging=ar_aging(session, filters=filters),
        top_balances=top_outstanding(session, filters=filters),
        expenses_month=expenses_by_month(session, filters=filters),
        expenses_category=expenses_by_category(session, filters=filters),
    )
