"""What the stores hold today: its value, what expires soon, what is out or low, what nobody uses."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import and_, case, exists, func, not_, select
from sqlmodel import Session

from hms_app.analytics.inventory.common import (
    BAL,
    ITEM,
    LEVEL,
    LOC,
    LOT,
    MOVE,
    OUT_KINDS,
    WINDOW_LABELS,
    WINDOWS,
    InventoryFilters,
    _sum,
    balance_conditions,
    balances_from,
    item_label,
    local_midnight,
    store_names,
    unit_value,
    usable,
)
from hms_app.clock import to_local

VALUE_COLUMNS = ["key", "store", "value_cents", "written_down_cents", "items", "lots"]
EXPIRY_COLUMNS = ["key", "store", "window", "label", "value_cents", "lots", "items"]
OUT_COLUMNS = ["key", "store", "out", "low", "stocked"]
SLOW_COLUMNS = ["key", "item", "store", "value_cents", "quantity", "unit", "lots", "last_issue"]


def stock_value_by_store(session: Session, *, filters: InventoryFilters) -> pd.DataFrame:
    """What each store's stock is worth on the day, largest first (columns: key, store,
    value_cents, written_down_cents, items, lots). Expired lots are worth nothing ("written
    down"): what they would have been worth is ``written_down_cents``."""
    good = usable(filters.day)
    worth = BAL.c.quantity * unit_value(filters.valuation)
    rows = session.execute(
        select(
            BAL.c.location_id,
            _sum(case((good, worth), else_=0)),
            _sum(case((good, 0), else_=worth)),
            func.count(func.distinct(BAL.c.item_id)),
            func.count(),
        )
        .select_from(balances_from())
        .where(*balance_conditions(filters))
        .group_by(BAL.c.location_id)
    ).all()
    found = {location: (int(v), int(w), int(i), int(n)) for location, v, w, i, n in rows}
    names = store_names(session, filters, set(found))
    records = [
        {
            "key": str(location),
            "store": name,
            "value_cents": found.get(location, (0, 0, 0, 0))[0],
            "written_down_cents": found.get(location, (0, 0, 0, 0))[1],
            "items": found.get(location, (0, 0, 0, 0))[2],
            "lots": found.get(location, (0, 0, 0, 0))[3],
        }
        for location, name in names.items()
    ]
    records.sort(key=lambda r: (-r["value_cents"], r["store"]))
    return pd.DataFrame(records, columns=VALUE_COLUMNS)


def window_of(day):
    """The expiry window of a lot (None beyond 90 days): expired, or expiring in 0-30, 31-60, 61-90 days."""
    return case(
        (LOT.c.expiry_date < day, "expired"),
        (LOT.c.expiry_date <= day + timedelta(days=30), "0-30"),
        (LOT.c.expiry_date <= day + timedelta(days=60), "31-60"),
        else_="61-90",
    )


def expiry_conditions(filters: InventoryFilters) -> list:
    return [
        *balance_conditions(filters),
        LOT.c.expiry_date.is_not(None),
        LOT.c.expiry_date <= filters.day + timedelta(days=90),
    ]


def expiring_by_store(session: Session, *, filters: InventoryFilters) -> pd.DataFrame:
    """Stock on hand by store and expiry window, every store x window (columns: key, store,
    window, label, value_cents, lots, items). Valued before any write-down: the expired cell is
    what is to be written off."""
    window = window_of(filters.day).label("window")
    rows = session.execute(
        select(
            BAL.c.location_id,
            window,
            _sum(BAL.c.quantity * unit_value(filters.valuation)),
            func.count(),
            func.count(func.distinct(BAL.c.item_id)),
        )
        .select_from(balances_from())
        .where(*expiry_conditions(filters))
        .group_by(BAL.c.location_id, window)
    ).all()
    found = {(location, key): (int(v), int(n), int(i)) for location, key, v, n, i in rows}
    names = store_names(session, filters, {location for location, _key in found})
    records = [
        {
            "key": str(location),
            "store": name,
            "window": key,
            "label": WINDOW_LABELS[key],
            "value_cents": found.get((location, key), (0, 0, 0))[0],
            "lots": found.get((location, key), (0, 0, 0))[1],
            "items": found.get((location, key), (0, 0, 0))[2],
        }
        for location, name in names.items()
        for key in WINDOWS
    ]
    return pd.DataFrame(records, columns=EXPIRY_COLUMNS)


def level_rows(filters: InventoryFilters):
    """Each stocked item at each store (a stock level) with the quantity it can still use."""
    on_hand = _sum(case((usable(filters.day), BAL.c.quantity), else_=0)).label("usable")
    query = (
        select(LEVEL.c.id, LEVEL.c.location_id, LEVEL.c.item_id, LEVEL.c.reorder_point, on_hand)
        .select_from(
            LEVEL.join(ITEM, ITEM.c.id == LEVEL.c.item_id)
            .outerjoin(
                BAL,
                and_(
                    BAL.c.item_id == LEVEL.c.item_id,
                    BAL.c.location_id == LEVEL.c.location_id,
                    BAL.c.quantity > 0,
                ),
            )
            .outerjoin(LOT, LOT.c.id == BAL.c.lot_id)
        )
        .where(ITEM.c.active.is_(True))
        .group_by(LEVEL.c.id, LEVEL.c.location_id, LEVEL.c.item_id, LEVEL.c.reorder_point)
    )
    if filters.location_id is not None:
        query = query.where(LEVEL.c.location_id == filters.location_id)
    if filters.category is not None:
        query = query.where(ITEM.c.category == filters.category)
    return query.subquery("levels")


def stock_outs(session: Session, *, filters: InventoryFilters) -> pd.DataFrame:
    """Per store, of the items it stocks (those with a stock level): how many it has none of
    that can be used ("out") and how many are at or below their reorder point ("low"), most out
    first (columns: key, store, out, low, stocked)."""
    levels = level_rows(filters)
    rows = session.execute(
        select(
            levels.c.location_id,
            _sum(case((levels.c.usable <= 0, 1), else_=0)),
            _sum(case((and_(levels.c.usable > 0, levels.c.usable <= levels.c.reorder_point), 1), else_=0)),
            func.count(),
        ).group_by(levels.c.location_id)
    ).all()
    found = {location: (int(o), int(w), int(n)) for location, o, w, n in rows}
    names = store_names(session, filters, set(found))
    records = [
        {
            "key": str(location),
            "store": name,
            "out": found.get(location, (0, 0, 0))[0],
            "low": found.get(location, (0, 0, 0))[1],
            "stocked": found.get(location, (0, 0, 0))[2],
        }
        for location, name in names.items()
    ]
    records.sort(key=lambda r: (-r["out"], -r["low"], r["store"]))
    return pd.DataFrame(records, columns=OUT_COLUMNS)


def idle_since(filters: InventoryFilters):
    """The moment after which an issue makes stock not slow: local midnight ``idle_days`` ago."""
    return local_midnight(filters.day - timedelta(days=filters.idle_days))


def moved_out_since(moment):
    """An issue or transfer of the balance's item out of the balance's store at or after ``moment``."""
    return exists().where(
        MOVE.c.item_id == BAL.c.item_id,
        MOVE.c.location_id == BAL.c.location_id,
        MOVE.c.kind.in_(OUT_KINDS),
        MOVE.c.moved_at >= moment,
    )


def slow_movers(session: Session, *, filters: InventoryFilters) -> pd.DataFrame:
    """Stock that has not moved for ``idle_days``: each item at each store that holds some and has
    neither issued nor transferred any of it since, most value first (columns: key = "item-store",
    item, store, value_cents (written down, as the stock value), quantity, unit, lots, last_issue:
    the local day the store last issued or transferred the item, "" if never)."""
    last = (
        select(func.max(MOVE.c.moved_at))
        .where(
            MOVE.c.item_id == BAL.c.item_id,
            MOVE.c.location_id == BAL.c.location_id,
            MOVE.c.kind.in_(OUT_KINDS),
        )
        .scalar_subquery()
    )
    good = usable(filters.day)
    rows = session.execute(
        select(
            BAL.c.item_id,
            BAL.c.location_id,
            ITEM.c.code,
            ITEM.c.name,
            ITEM.c.base_unit,
            LOC.c.name,
            _sum(case((good, BAL.c.quantity * unit_value(filters.valuation)), else_=0)),
            _sum(BAL.c.quantity),
            func.count(),
            last,
        )
        .select_from(balances_from().join(LOC, LOC.c.id == BAL.c.location_id))
        .where(*balance_conditions(filters), not_(moved_out_since(idle_since(filters))))
        .group_by(BAL.c.item_id, BAL.c.location_id, ITEM.c.code, ITEM.c.name, ITEM.c.base_unit, LOC.c.name)
    ).all()
    records = [
        {
            "key": f"{item_id}-{location_id}",
            "item": item_label(code, name),
            "store": store,
            "value_cents": int(value),
            "quantity": int(quantity),
            "unit": unit,
            "lots": int(lots),
            "last_issue": to_local(last).date().isoformat() if last is not None else "",
        }
        for item_id, location_id, code, name, unit, store, value, quantity, lots, last in rows
    ]
    records.sort(key=lambda r: (-r["value_cents"], -r["quantity"], r["item"], r["store"]))
    return pd.DataFrame(records, columns=SLOW_COLUMNS)
