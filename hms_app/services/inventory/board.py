"""The low-stock board: per store (or every store one may see), the items whose usable stock is at
or below the reorder point or the minimum, the stock-outs (none usable where a level is set), and
the lots that have expired or expire within 30 days.

Computed in SQL over ``stock_balance`` and ``stock_level`` only, never the ledger, one page at a
time: the board refreshes on every stock change (live topic "stock") in every open browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, case, func, literal, or_, select
from sqlmodel import Session

from hms_app.clock import local_today
from hms_app.models.inventory import (
    UNTRACKED_LOT,
    StockBalance,
    StockItem,
    StockLevel,
    StockLocation,
    StockLot,
)
from hms_app.services.inventory.catalogue_views import (
    EXPIRY_WARNING_DAYS,
    READ,
    StoreChoice,
    level_flag,
    visible_store,
    visible_stores,
)
from hms_app.services.permissions import Actor, authorize

MAX_PAGE = 100


@dataclass(frozen=True)
class LowStockRow:
    location_id: int
    store: str
    item_id: int
    code: str
    name: str
    base_unit: str
    usable: int
    expired: int  # held but expired: not counted as usable
    min_quantity: int
    reorder_point: int
    max_quantity: int
    bin: str
    flag: str  # out | below_min | reorder
    to_order: int  # what brings the store back to its maximum


@dataclass(frozen=True)
class ExpiringLot:
    location_id: int
    store: str
    item_id: int
    code: str
    name: str
    base_unit: str
    lot_id: int
    lot_number: str
    expiry_date: date
    days_left: int  # below zero: expired
    quantity: int


@dataclass(frozen=True)
class LowStockBoard:
    stores: list[StoreChoice]
    location_id: int | None  # None: every store shown
    rows: list[LowStockRow]
    total: int  # low rows in all pages
    stock_outs: int
    below_min: int
    at_reorder: int
    expiring: list[ExpiringLot]
    expiring_total: int
    expired_lots: int


def _page(offset: int, limit: int) -> tuple[int, int]:
    return max(0, int(offset)), max(1, min(int(limit), MAX_PAGE))


def low_stock_board(
    session: Session,
    *,
    actor: Actor,
    location_id: int | None = None,
    offset: int = 0,
    limit: int = 30,
    expiring_offset: int = 0,
    expiring_limit: int = 15,
) -> LowStockBoard:
    """The low-stock board of one store, or of every store the user may see."""
    authorize(actor, READ)
    stores = visible_stores(session, actor=actor)
    if location_id is not None:
        store_ids = [visible_store(session, actor, location_id).id]
    else:
        store_ids = [s.id for s in stores]
    today = local_today()
    if not store_ids:
        return LowStockBoard(stores, location_id, [], 0, 0, 0, 0, [], 0, 0)
    usable_lot = or_(StockLot.expiry_date.is_(None), StockLot.expiry_date >= today)
    held = (
        select(
            StockBalance.item_id.label("item_id"),
            StockBalance.location_id.label("location_id"),
            func.sum(case((usable_lot, StockBalance.quantity), else_=0)).label("usable"),
            func.sum(case((usable_lot, 0), else_=StockBalance.quantity)).label("expired"),
        )
        .join(StockLot, StockLot.id == StockBalance.lot_id)
        .where(StockBalance.location_id.in_(store_ids), StockBalance.quantity > 0)
        .group_by(StockBalance.item_id, StockBalance.location_id)
        .subquery()
    )
    usable = func.coalesce(held.c.usable, literal(0))
    severity = case(
        (usable <= 0, 0),
        (usable <= StockLevel.min_quantity, 1),
        else_=2,
    )
    low = (
        select(
            StockLevel,
            StockLocation.name,
            StockItem,
            usable,
            func.coalesce(held.c.expired, 0),
            severity.label("severity"),
        )
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .join(StockItem, StockItem.id == StockLevel.item_id)
        .outerjoin(
            held, and_(held.c.item_id == StockLevel.item_id, held.c.location_id == StockLevel.location_id)
        )
        .where(
            StockLevel.location_id.in_(store_ids),
            StockItem.active.is_(True),
            usable <= StockLevel.reorder_point,
        )
    )
    counted = low.subquery()
    sev = counted.c.severity
    total, outs, below = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((sev == 0, 1), else_=0)), 0),
            func.coalesce(func.sum(case((sev == 1, 1), else_=0)), 0),
        ).select_from(counted)
    ).one()
    offset, limit = _page(offset, limit)
    rows = session.execute(
        low.order_by(severity, StockLocation.name, StockItem.name, StockItem.id).offset(offset).limit(limit)
    ).all()
    low_rows = []
    for level, store, item, good, expired, _sev in rows:
        good = int(good)
        low_rows.append(
            LowStockRow(
                level.location_id,
                store,
                item.id,
                item.code,
                item.name,
                item.base_unit,
                good,
                int(expired),
                level.min_quantity,
                level.reorder_point,
                level.max_quantity,
                level.bin or "",
                level_flag(good, level.min_quantity, level.reorder_point) or "reorder",
                max(0, level.max_quantity - good),
            )
        )
    expiring, expiring_total, expired_lots = _expiring(
        session, store_ids, today, expiring_offset, expiring_limit
    )
    return LowStockBoard(
        stores,
        location_id,
        low_rows,
        int(total),
        int(outs),
        int(below),
        int(total) - int(outs) - int(below),
        expiring,
        expiring_total,
        expired_lots,
    )


def _expiring(
    session: Session, store_ids: list[int], today: date, offset: int, limit: int
) -> tuple[list[ExpiringLot], int, int]:
    """Lots held at the stores that have expired or expire within the warning days, soonest first."""
    horizon = today + timedelta(days=EXPIRY_WARNING_DAYS)
    conditions = (
        StockBalance.location_id.in_(store_ids),
        StockBalance.quantity > 0,
        StockLot.expiry_date.is_not(None),
        StockLot.expiry_date <= horizon,
        StockLot.lot_number != UNTRACKED_LOT,
    )
    total, expired = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((StockLot.expiry_date < today, 1), else_=0)), 0),
        )
        .select_from(StockBalance)
        .join(StockLot, StockLot.id == StockBalance.lot_id)
        .where(*conditions)
    ).one()
    offset, limit = _page(offset, limit)
    rows = session.execute(
        select(StockBalance, StockLot, StockLocation.name, StockItem)
        .join(StockLot, StockLot.id == StockBalance.lot_id)
        .join(StockLocation, StockLocation.id == StockBalance.location_id)
        .join(StockItem, StockItem.id == StockBalance.item_id)
        .where(*conditions)
        .order_by(StockLot.expiry_date, StockLocation.name, StockItem.name, StockLot.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return (
        [
            ExpiringLot(
                balance.location_id,
                store,
                item.id,
                item.code,
                item.name,
                item.base_unit,
                lot.id,
                lot.lot_number,
                lot.expiry_date,
                (lot.expiry_date - today).days,
                balance.quantity,
            )
            for balance, lot, store, item in rows
        ],
        int(total),
        int(expired),
    )
