"""The finance dashboard's reads: who may see the figures, and the audit rows of the listings that
name patients. The numbers are computed by ``hms_app/analytics/finance/`` (its docstring defines
each of them); every function here checks the reader's permission and the filters first.

The top balances and the invoices behind a bar name patients: each listing writes one audit row
(``finance.balances_listed``, ``finance.invoices_listed``), and so does each CSV of them
(``finance.invoices_exported``). Expenses name no patient and are not audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
from sqlmodel import Session

from hms_app.analytics.finance import dashboard, drill, expenses, receivables, revenue
from hms_app.analytics.finance.common import PAGE_SIZE, TOP_BALANCES, FinanceFilters, check_filters
from hms_app.plurals import counted
from hms_app.services import organization
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize

PERMISSION = "analytics.read"


def _check(actor: Actor, filters: FinanceFilters) -> None:
    authorize(actor, PERMISSION)
    check_filters(filters)


def _figure(compute: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
    """The read of one figure: permission and filters checked, then the analytics function."""

    def read(session: Session, *, actor: Actor, filters: FinanceFilters) -> pd.DataFrame:
        _check(actor, filters)
        return compute(session, filters=filters)

    read.__name__ = read.__qualname__ = compute.__name__
    read.__doc__ = compute.__doc__
    return read


revenue_by_month = _figure(revenue.revenue_by_month)
revenue_by_department = _figure(revenue.revenue_by_department)
revenue_by_service = _figure(revenue.revenue_by_service)
payer_mix = _figure(revenue.payer_mix)
charges_vs_collections = _figure(revenue.charges_vs_collections)
ar_aging = _figure(receivables.ar_aging)
expenses_by_month = _figure(expenses.expenses_by_month)
expenses_by_category = _figure(expenses.expenses_by_category)
expenses_vs_revenue = _figure(expenses.expenses_vs_revenue)


def top_outstanding(
    session: Session, *, actor: Actor, filters: FinanceFilters, limit: int = TOP_BALANCES, audit: bool = True
) -> pd.DataFrame:
    """The largest balances on the AR day; the listing names patients, so it is audited."""
    _check(actor, filters)
    frame = receivables.top_outstanding(session, filters=filters, limit=limit)
    if audit and len(frame):
        record_balances_listed(session, actor=actor, count=len(frame), as_of=filters.ar_day)
    return frame


def load_dashboard(
    session: Session, *, actor: Actor, filters: FinanceFilters, audit: bool = True
) -> dashboard.Dashboard:
    """Every figure of the dashboard.

    ``audit=False`` leaves the top balances' audit row to the caller, so that the figures can be
    read on a read-only session (``record_balances_listed``)."""
    _check(actor, filters)
    board = dashboard.load_dashboard(session, filters=filters)
    if audit and len(board.top_balances):
        record_balances_listed(session, actor=actor, count=len(board.top_balances), as_of=filters.ar_day)
    return board


def record_balances_listed(session: Session, *, actor: Actor, count: int, as_of: date) -> None:
    """The top balances name patients: their listing is audited as a read, once per load."""
    authorize(actor, PERMISSION)
    record_audit(
        session,
        actor,
        "finance.balances_listed",
        target_type="invoice",
        detail=f"top outstanding balances on {as_of.isoformat()}: {counted(count, 'invoice')}",
    )
    session.commit()


def record_balances_exported(session: Session, *, actor: Actor, count: int) -> None:
    """The CSV of the top balances names patients: audited like the listing."""
    authorize(actor, PERMISSION)
    record_audit(
        session,
        actor,
        "finance.invoices_exported",
        target_type="invoice",
        detail=f"top outstanding balances: {counted(count, 'row')} as CSV",
    )
    session.commit()


def departments(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """The departments the filter offers (id, name), active ones by name."""
    authorize(actor, PERMISSION)
    return organization.active_departments(session)


def invoices_behind(
    session: Session,
    *,
    actor: Actor,
    figure: str,
    key: str,
    filters: FinanceFilters,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    audit: bool = True,
) -> drill.DrillPage:
    """One page of what is behind a bar or slice; a page that names patients is audited as a read."""
    _check(actor, filters)
    found = drill.invoices_behind(
        session, figure=figure, key=key, filters=filters, page=page, page_size=page_size
    )
    if audit and found.kind != "expenses" and found.rows:
        record_audit(
            session,
            actor,
            "finance.invoices_listed",
            target_type=found.kind,
            detail=f"{figure} {key} page {page}: {len(found.rows)} of {found.total} rows",
        )
        session.commit()
    return found


def drill_csv(
    session: Session, *, actor: Actor, figure: str, key: str, filters: FinanceFilters
) -> tuple[str, int]:
    """The CSV of everything behind a bar or slice and its row count; audited when it names patients."""
    _check(actor, filters)
    export = drill.drill_csv(session, figure=figure, key=key, filters=filters)
    if export.kind != "expenses":
        record_audit(
            session,
            actor,
            "finance.invoices_exported",
            target_type=export.kind,
            detail=f"{figure} {key}: {export.rows} rows as CSV",
        )
        session.commit()
    return export.text, export.rows
