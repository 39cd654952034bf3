"""What the inventory figures share: the tables, the filters, how a base unit is valued, the
hospital's days and months, and a figure's table as CSV."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import case, extract, func, literal, or_, select
from sqlmodel import Session

from hms_app import csv_safe
from hms_app.analytics.finance.common import (
    _month_of,
    local_midnight,
    money,
    month_firsts,
    month_label,
)
from hms_app.clock import local_today
from hms_app.errors import ValidationError
from hms_app.models.inventory import (
    ITEM_CATEGORIES,
    UNTRACKED_LOT,
    PurchaseOrder,
    PurchaseOrderLine,
    StockBalance,
    StockItem,
    StockLevel,
    StockLocation,
    StockLot,
    StockMove,
    Supplier,
)
from hms_app.models.organization import Department

__all__ = ["_month_of", "local_midnight", "money", "month_firsts", "month_label"]

MAX_DAYS = 366 * 5
PAGE_SIZE = 20
CSV_CHUNK = 2000
CSV_MAX_ROWS = 100_000
TOP_SLOW = 15  # bars on the slow movers chart; the table and its CSV list them all
VALUATIONS = {"fifo": "FIFO (each lot at its cost)", "average": "Moving average cost"}
IDLE_DAYS = (30, 60, 90, 180, 365)
WINDOWS = ("expired", "0-30", "31-60", "61-90")
WINDOW_LABELS = {
    "expired": "Expired",
    "0-30": "In 0-30 days",
    "31-60": "In 31-60 days",
    "61-90": "In 61-90 days",
}
# The moves that are consumption: stock leaving a store for a patient, a department or a repair,
# and what came back of it (a return's quantity is positive and takes it off again).
CONSUMPTION_KINDS = ("issue_patient", "issue_department", "maintenance_use", "return")
# The moves that take stock out of a store to be used: issues, and a transfer to another store
# (the central store's way of issuing to the wards). Stock none of these touched is idle.
OUT_KINDS = ("issue_patient", "issue_department", "maintenance_use", "transfer_out")
NO_DEPARTMENT = "No department"

BAL = StockBalance.__table__
LOT = StockLot.__table__
ITEM = StockItem.__table__
LOC = StockLocation.__table__
LEVEL = StockLevel.__table__
MOVE = StockMove.__table__
PO = PurchaseOrder.__table__
POL = PurchaseOrderLine.__table__
SUP = Supplier.__table__
DEPT = Department.__table__


@dataclass(frozen=True)
class InventoryFilters:
    """What the manager chose: a period of local days (consumption, orders), a store and an item
    category (None: all), how stock is valued, and after how many days without an issue stock
    counts as slow. ``today`` is the day stock is valued and expiry counted on (None: today)."""

    start: date
    end: date
    location_id: int | None = None
    category: str | None = None
    valuation: str = "fifo"
    idle_days: int = 90
    today: date | None = None

    @property
    def day(self) -> date:
        return self.today or local_today()


def default_filters(today: date | None = None, valuation: str = "fifo") -> InventoryFilters:
    """The last twelve whole months and this one so far, every store and category."""
    today = today or local_today()
    first = today.replace(day=1)
    for _ in range(12):
        first = (first - timedelta(days=1)).replace(day=1)
    return InventoryFilters(start=first, end=today, valuation=valuation)


def check_filters(filters: InventoryFilters) -> InventoryFilters:
    """The filters if they make sense; a ValidationError saying what to change otherwise."""
    if not isinstance(filters.start, date) or not isinstance(filters.end, date):
        raise ValidationError("Choose a start and an end date.", field="start")
    if filters.end < filters.start:
        raise ValidationError("The end date is before the start date.", field="end")
    if (filters.end - filters.start).days > MAX_DAYS:
        raise ValidationError("Choose a period of at most five years.", field="start")
    if filters.location_id is not None and (
        not isinstance(filters.location_id, int)
        or isinstance(filters.location_id, bool)
        or filters.location_id <= 0
    ):
        raise ValidationError("Choose a store from the list.", field="store")
    if filters.category is not None and filters.category not in ITEM_CATEGORIES:
        raise ValidationError("Choose a category from the list.", field="category")
    if filters.valuation not in VALUATIONS:
        raise ValidationError("Choose FIFO or moving average.", field="valuation")
    if filters.idle_days not in IDLE_DAYS:
        raise ValidationError("Choose how many days without an issue make stock slow.", field="idle_days")
    if filters.today is not None and not isinstance(filters.today, date):
        raise ValidationError("Choose the day to value stock on.", field="today")
    return filters


def period_bounds(filters: InventoryFilters):
    """[from, to) in UTC for the local days start..end."""
    return local_midnight(filters.start), local_midnight(filters.end + timedelta(days=1))


def unit_value(valuation: str):
    """What one base unit of a lot is worth. FIFO: the lot's own receipt cost, or the item's moving
    average where the lot has none (untracked stock, pooled in one lot, has no layers to take in
    order); moving average: the item's average cost."""
    if valuation == "average":
        return ITEM.c.average_cost_cents
    return case(
        (LOT.c.lot_number == UNTRACKED_LOT, ITEM.c.average_cost_cents),
        (LOT.c.unit_cost_cents > 0, LOT.c.unit_cost_cents),
        else_=ITEM.c.average_cost_cents,
    )


def usable(day: date):
    """A lot that may still be used on ``day`` (no expiry, or expiring that day or later)."""
    return or_(LOT.c.expiry_date.is_(None), LOT.c.expiry_date >= day)


def balances_from():
    """Balances with their lot and item (what every stock-on-hand figure reads)."""
    return BAL.join(LOT, LOT.c.id == BAL.c.lot_id).join(ITEM, ITEM.c.id == BAL.c.item_id)


def balance_conditions(filters: InventoryFilters) -> list:
    conditions = [BAL.c.quantity > 0]
    if filters.location_id is not None:
        conditions.append(BAL.c.location_id == filters.location_id)
    if filters.category is not None:
        conditions.append(ITEM.c.category == filters.category)
    return conditions


def days_between(dialect: str, later, earlier):
    """Elapsed days (with the fraction) from ``earlier`` to ``later``, two moments."""
    if dialect == "postgresql":
        return extract("epoch", later - earlier) / 86400.0
    return func.julianday(later) - func.julianday(earlier)


def store_names(session: Session, filters: InventoryFilters, with_stock: set[int]) -> dict[int, str]:
    """The stores a store figure draws (active ones, and closed ones still holding stock), by name."""
    query = select(LOC.c.id, LOC.c.name).where(or_(LOC.c.active.is_(True), LOC.c.id.in_(with_stock or [0])))
    if filters.location_id is not None:
        query = query.where(LOC.c.id == filters.location_id)
    return dict(session.execute(query.order_by(LOC.c.name, LOC.c.id)).all())


def department_names(session: Session, ids) -> dict[int, str]:
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    return dict(session.execute(select(DEPT.c.id, DEPT.c.name).where(DEPT.c.id.in_(ids))).all())


def item_label(code: str, name: str) -> str:
    return f"{name} ({code})"


def _sum(column):
    return func.coalesce(func.sum(column), 0)


def zero():
    return literal(0)


def frame_csv(frame: pd.DataFrame) -> str:
    """A figure's table as CSV: every ``*_cents`` column also as an amount people read."""
    out = frame.copy()
    for column in [c for c in frame.columns if c.endswith("_cents")]:
        out[column.removesuffix("_cents")] = [money(v) for v in frame[column]]
    return csv_safe.frame_to_csv(out)
