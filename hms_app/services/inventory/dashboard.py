"""The inventory dashboard's reads: who may see the figures (managers: ``analytics.read``), the
filters checked, then the numbers from ``hms_app/analytics/inventory/`` (its docstring defines each
of them). Stock figures name items and stores, never a patient, so nothing here is audited.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from hms_app.analytics.inventory import dashboard, drill, flows, stock
from hms_app.analytics.inventory.common import PAGE_SIZE, VALUATIONS, InventoryFilters, check_filters
from hms_app.errors import ValidationError
from hms_app.models.inventory import ITEM_CATEGORIES, StockLocation
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

PERMISSION = "analytics.read"


def _check(actor: Actor, filters: InventoryFilters) -> None:
    authorize(actor, PERMISSION)
    check_filters(filters)


def _figure(compute: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
    """The read of one figure: permission and filters checked, then the analytics function."""

    def read(session: Session, *, actor: Actor, filters: InventoryFilters) -> pd.DataFrame:
        _check(actor, filters)
        return compute(session, filters=filters)

    read.__name__ = read.__qualname__ = compute.__name__
    read.__doc__ = compute.__doc__
    return read


stock_value_by_store = _figure(stock.stock_value_by_store)
expiring_by_store = _figure(stock.expiring_by_store)
stock_outs = _figure(stock.stock_outs)


def slow_movers(
    session: Session, *, actor: Actor, filters: InventoryFilters, limit: int | None = stock.TOP_SLOW
) -> pd.DataFrame:
    """The slow movers worth most (``limit``; None: all of them, for the CSV)."""
    _check(actor, filters)
    if limit is not None and (
        not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000
    ):
        raise ValidationError("Show between 1 and 1,000 slow movers.")
    return stock.slow_movers(session, filters=filters, limit=limit)


consumption_by_department = _figure(flows.consumption_by_department)
supplier_lead_times = _figure(flows.supplier_lead_times)


def load_dashboard(session: Session, *, actor: Actor, filters: InventoryFilters) -> dashboard.Dashboard:
    """Every figure of the dashboard for one choice of filters."""
    _check(actor, filters)
    return dashboard.load_dashboard(session, filters=filters)


def filter_choices(session: Session, *, actor: Actor) -> dict:
    """What the filters offer: the stores (id, name; active ones by name), the item categories,
    the valuations, and the hospital's default valuation (``HMS_STOCK_VALUATION``)."""
    authorize(actor, PERMISSION)
    stores = session.execute(
        select(StockLocation.id, StockLocation.name)
        .where(StockLocation.active.is_(True))
        .order_by(StockLocation.name, StockLocation.id)
    ).all()
    return {
        "stores": [(int(i), name) for i, name in stores],
        "categories": list(ITEM_CATEGORIES.items()),
        "valuations": list(VALUATIONS.items()),
        "valuation": get_settings().stock_valuation,
    }


def items_behind(
    session: Session,
    *,
    actor: Actor,
    figure: str,
    key: str,
    filters: InventoryFilters,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> drill.DrillPage:
    """One page of the items, lots, stock levels or orders behind a bar or a cell."""
    _check(actor, filters)
    return drill.items_behind(
        session, figure=figure, key=key, filters=filters, page=page, page_size=page_size
    )


def drill_csv(
    session: Session, *, actor: Actor, figure: str, key: str, filters: InventoryFilters
) -> tuple[str, int]:
    """Everything behind a bar or a cell as CSV, and its row count."""
    _check(actor, filters)
    export = drill.drill_csv(session, figure=figure, key=key, filters=filters)
    return export.text, export.rows
