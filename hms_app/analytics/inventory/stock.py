"""What the stores hold today: its value, what expires soon, what is out or low, what nobody uses."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import and_, case, func, select
from sqlmodel import Session

from hms_app.analytics.inventory.common import (
    BAL,
    ITEM,
    LEVEL,
    LOC,
    LOT,
    MOVE,
    OUT_KINDS,
    TOP_SLOW,
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
    """Each stocked item at each store (a stock level of an active item) with the quantity it can
    still use: the usable balances are summed per item and store first, then matched to the levels."""
    held = select(BAL.c.item_id, BAL.c.location_id, func.sum(BAL.c.quantity).label("quantity")).select_from(
        BAL.join(LOT, LOT.c.id == BAL.c.lot_id)
    )
    held = held.where(BAL.c.quantity > 0, usable(filters.day))
    if filters.location_id is not None:
        held = held.where(BAL.c.location_id == filters.location_id)
    held = held.group_by(BAL.c.item_id, BAL.c.location_id).subquery("held")
    query = (
        select(
            LEVEL.c.id,
            LEVEL.c.location_id,
            LEVEL.c.item_id,
            LEVEL.c.reorder_point,
            func.coalesce(held.c.quantity, 0).label("usable"),
        )
        .select_from(
            LEVEL.join(ITEM, ITEM.c.id == LEVEL.c.item_id).outerjoin(
                held, and_(held.c.item_id == LEVEL.c.item_id, held.c.location_id == LEVEL.c.location_id)
            )
        )
        .where(ITEM.c.active.is_(True))
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
    """Each item and store that issued or transferred some of the item at or after ``moment``
    (a few weeks of the ledger, read through its kind-and-time index, one row per pair: the
    planner then knows how many pairs there are, as it cannot for a NOT EXISTS)."""
    return (
        select(MOVE.c.item_id, MOVE.c.location_id)
        .where(MOVE.c.kind.in_(OUT_KINDS), MOVE.c.moved_at >= moment)
        .group_by(MOVE.c.item_id, MOVE.c.location_id)
        .subquery("recent")
    )


def slow_movers(session: Session, *, filters: InventoryFilters, limit: int | None = TOP_SLOW) -> pd.DataFrame:
    """Stock that has not moved for ``idle_days``: each item at each store that holds some and has
    neither issued nor transferred any of it since, most value first, the ``limit`` worth most
    (None: all) (columns: key = "item-store", item, store, value_cents (written down, as the stock
    value), quantity, unit, lots, last_issue: the local day the store last issued or transferred
    the item, "" if never). ``frame.attrs``: ``idle_rows`` and ``idle_value_cents`` over all of them."""
    good = usable(filters.day)
    recent = moved_out_since(idle_since(filters))
    idle = (
        select(
            BAL.c.item_id.label("item_id"),
            BAL.c.location_id.label("location_id"),
            _sum(case((good, BAL.c.quantity * unit_value(filters.valuation)), else_=0)).label("value"),
            _sum(BAL.c.quantity).label("quantity"),
            func.count().label("lots"),
        )
        .select_from(
            balances_from().outerjoin(
                recent, and_(recent.c.item_id == BAL.c.item_id, recent.c.location_id == BAL.c.location_id)
            )
        )
        .where(*balance_conditions(filters), recent.c.item_id.is_(None))
        .group_by(BAL.c.item_id, BAL.c.location_id)
        .subquery("idle")
    )
    # Most value first, cut to ``limit`` with the totals over all of them counted before the cut;
    # names and the last move are looked up for the rows kept only (the planner cannot tell how
    # many balances the anti-join leaves, and would join the names to each of them in a loop).
    ranked = select(
        idle.c.item_id,
        idle.c.location_id,
        idle.c.value,
        idle.c.quantity,
        idle.c.lots,
        func.count().over().label("rows"),
        func.sum(idle.c.value).over().label("total"),
    ).order_by(idle.c.value.desc(), idle.c.quantity.desc(), idle.c.item_id, idle.c.location_id)
    if limit is not None:
        ranked = ranked.limit(limit)
    ranked = ranked.subquery("ranked")
    last = (
        select(func.max(MOVE.c.moved_at))
        .where(
            MOVE.c.item_id == ranked.c.item_id,
            MOVE.c.location_id == ranked.c.location_id,
            MOVE.c.kind.in_(OUT_KINDS),
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(ranked, last).order_by(
            ranked.c.value.desc(), ranked.c.quantity.desc(), ranked.c.item_id, ranked.c.location_id
        )
    ).all()
    items = _item_names(session, {r[0] for r in rows})
    stores = dict(session.execute(select(LOC.c.id, LOC.c.name)).all())
    records = [
        {
            "key": f"{item_id}-{location_id}",
            "item": item_label(*items[item_id][:2]),
            "store": stores[location_id],
            "value_cents": int(value),
            "quantity": int(quantity),
            "unit": items[item_id][2],
            "lots": int(lots),
            "last_issue": to_local(moment).date().isoformat() if moment is not None else "",
        }
        for item_id, location_id, value, quantity, lots, _rows, _total, moment in rows
    ]
    frame = pd.DataFrame(records, columns=SLOW_COLUMNS)
    frame.attrs["idle_rows"] = int(rows[0][5]) if rows else 0
    frame.attrs["idle_value_cents"] = int(rows[0][6]) if rows else 0
    return frame


def _item_names(session: Session, ids: set[int]) -> dict[int, tuple[str, str, str]]:
    """Code, name and base unit of the items ``ids``, read in chunks of a thousand."""
    ordered, found = sorted(ids), {}
    for start in range(0, len(ordered), 1000):
        chunk = ordered[start : start + 1000]
        for item_id, code, name, unit in session.execute(
            select(ITEM.c.id, ITEM.c.code, ITEM.c.name, ITEM.c.base_unit).where(ITEM.c.id.in_(chunk))
        ).all():
            found[item_id] = (code, name, unit)
    return found
