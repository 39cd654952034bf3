"""What moved in the period: consumption by department and month, and how long suppliers took."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import and_, case, func, select
from sqlmodel import Session

from hms_app.analytics.inventory.common import (
    CONSUMPTION_KINDS,
    ITEM,
    MOVE,
    NO_DEPARTMENT,
    PO,
    POL,
    SUP,
    InventoryFilters,
    _month_of,
    _sum,
    days_between,
    department_names,
    month_firsts,
    month_label,
    period_bounds,
)
from hms_app.clock import utcnow

CONSUMPTION_COLUMNS = ["month", "key", "department", "value_cents", "moves"]
LEAD_COLUMNS = [
    "key",
    "supplier",
    "promised_days",
    "actual_days",
    "orders",
    "received",
    "late",
    "waiting",
    "overdue",
]
GRACE_DAYS = 1  # a delivery booked within a day of the promise is on time


def consumption_conditions(filters: InventoryFilters) -> list:
    low, high = period_bounds(filters)
    conditions = [MOVE.c.kind.in_(CONSUMPTION_KINDS), MOVE.c.moved_at >= low, MOVE.c.moved_at < high]
    if filters.location_id is not None:
        conditions.append(MOVE.c.location_id == filters.location_id)
    if filters.category is not None:
        conditions.append(ITEM.c.category == filters.category)
    return conditions


def consumption_from(filters: InventoryFilters):
    """The ledger, joined to the items only when the category filter needs them."""
    if filters.category is None:
        return MOVE
    return MOVE.join(ITEM, ITEM.c.id == MOVE.c.item_id)


def consumption_by_department(session: Session, *, filters: InventoryFilters) -> pd.DataFrame:
    """The value of what was consumed, per local month and department (columns: month, key,
    department, value_cents, moves); key is the department id or "none". Consumption is stock
    issued to patients, departments and repairs at what each move valued it at, less what came
    back (returns), by the move's department (a patient's issue: the store's department)."""
    firsts = month_firsts(filters.start, filters.end)
    month = _month_of(MOVE.c.moved_at, firsts).label("month")
    rows = session.execute(
        select(month, MOVE.c.department_id, _sum(-MOVE.c.quantity * MOVE.c.unit_cost_cents), func.count())
        .select_from(consumption_from(filters))
        .where(*consumption_conditions(filters))
        .group_by(month, MOVE.c.department_id)
    ).all()
    names = department_names(session, {department for _m, department, _v, _n in rows})
    order = {month_label(first): index for index, first in enumerate(firsts)}
    records = [
        {
            "month": label,
            "key": str(department) if department is not None else "none",
            "department": names.get(department, NO_DEPARTMENT) if department is not None else NO_DEPARTMENT,
            "value_cents": int(value),
            "moves": int(count),
        }
        for label, department, value, count in rows
    ]
    records.sort(key=lambda r: (order[r["month"]], r["department"], r["key"]))
    return pd.DataFrame(records, columns=CONSUMPTION_COLUMNS)


def order_conditions(filters: InventoryFilters) -> list:
    low, high = period_bounds(filters)
    conditions = [
        PO.c.sent_at.is_not(None),
        PO.c.sent_at >= low,
        PO.c.sent_at < high,
        PO.c.status != "cancelled",
    ]
    if filters.location_id is not None:
        conditions.append(PO.c.location_id == filters.location_id)
    if filters.category is not None:
        conditions.append(ITEM.c.category == filters.category)
    return conditions


def first_receipts(filters: InventoryFilters):
    """Each order sent in the period with the moment of its first delivery (None: none yet);
    with the category filter, an order of that category's items and their first delivery."""
    lines = POL.join(PO, PO.c.id == POL.c.order_id)
    if filters.category is not None:
        lines = lines.join(ITEM, ITEM.c.id == POL.c.item_id)
    lines = lines.outerjoin(MOVE, and_(MOVE.c.order_line_id == POL.c.id, MOVE.c.kind == "receipt"))
    return (
        select(
            PO.c.id.label("order_id"),
            PO.c.supplier_id.label("supplier_id"),
            PO.c.sent_at.label("sent_at"),
            func.min(MOVE.c.moved_at).label("first_at"),
            func.count(func.distinct(POL.c.id)).label("lines"),
        )
        .select_from(lines)
        .where(*order_conditions(filters))
        .group_by(PO.c.id, PO.c.supplier_id, PO.c.sent_at)
        .subquery("orders")
    )


def supplier_lead_times(session: Session, *, filters: InventoryFilters) -> pd.DataFrame:
    """Per supplier, of the orders sent in the period: the lead time it promises
    (``supplier.lead_time_days``), the average time from sending an order to its first delivery
    (days, with the fraction), and how many orders were sent, delivered, late (delivered more than
    a day after the promise), waiting (nothing delivered yet) and overdue (waiting, and more than a
    day past the promise now), slowest first (columns as LEAD_COLUMNS; actual_days is None without
    a delivery)."""
    dialect = session.get_bind().dialect.name
    orders = first_receipts(filters)
    took = days_between(dialect, orders.c.first_at, orders.c.sent_at)
    waited = days_between(dialect, utcnow(), orders.c.sent_at)
    limit = SUP.c.lead_time_days + GRACE_DAYS
    rows = session.execute(
        select(
            SUP.c.id,
            SUP.c.name,
            SUP.c.lead_time_days,
            func.avg(took),
            func.count(),
            func.count(orders.c.first_at),
            _sum(case((and_(orders.c.first_at.is_not(None), took > limit), 1), else_=0)),
            _sum(case((orders.c.first_at.is_(None), 1), else_=0)),
            _sum(case((and_(orders.c.first_at.is_(None), waited > limit), 1), else_=0)),
        )
        .select_from(orders.join(SUP, SUP.c.id == orders.c.supplier_id))
        .group_by(SUP.c.id, SUP.c.name, SUP.c.lead_time_days)
    ).all()
    records = [
        {
            "key": str(supplier_id),
            "supplier": name,
            "promised_days": int(promised),
            "actual_days": float(actual) if actual is not None else None,
            "orders": int(count),
            "received": int(received),
            "late": int(late),
            "waiting": int(waiting),
            "overdue": int(overdue),
        }
        for supplier_id, name, promised, actual, count, received, late, waiting, overdue in rows
    ]
    # The furthest behind its promise first; suppliers with nothing delivered yet last.
    records.sort(
        key=lambda r: (
            r["actual_days"] is None,
            -((r["actual_days"] or 0) - r["promised_days"]),
            r["supplier"],
        )
    )
    return pd.DataFrame(records, columns=LEAD_COLUMNS)
