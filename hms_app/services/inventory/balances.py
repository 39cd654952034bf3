"""Reading stock: how much of an item each store holds, and the proof that the balances are the
ledger's sums (``balance_mismatches``), which the tests and the benchmarks check after every run.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, literal, or_, select, union_all
from sqlmodel import Session

from hms_app.clock import local_today
from hms_app.models.inventory import StockBalance, StockLocation, StockLot, StockMove
from hms_app.services.permissions import Actor, authorize


@dataclass(frozen=True)
class StoreStock:
    location_id: int
    location: str
    quantity: int
    usable: int  # not expired
    lots: int


def stock_on_hand(session: Session, *, actor: Actor, item_id: int) -> list[StoreStock]:
    """How much of one item each store holds (one indexed read of the balances, never the ledger)."""
    authorize(actor, "inventory.read")
    today = local_today()
    usable = or_(StockLot.expiry_date.is_(None), StockLot.expiry_date >= today)
    rows = session.execute(
        select(
            StockLocation.id,
            StockLocation.name,
            func.sum(StockBalance.quantity),
            func.sum(StockBalance.quantity).filter(usable),
            func.count(StockBalance.id),
        )
        .join(StockLocation, StockLocation.id == StockBalance.location_id)
        .join(StockLot, StockLot.id == StockBalance.lot_id)
        .where(StockBalance.item_id == item_id, StockBalance.quantity > 0)
        .group_by(StockLocation.id, StockLocation.name)
        .order_by(StockLocation.name)
    ).all()
    return [StoreStock(lid, name, int(total), int(good or 0), lots) for lid, name, total, good, lots in rows]


@dataclass(frozen=True)
class Mismatch:
    location_id: int
    lot_id: int
    ledger: int
    balance: int


def balance_mismatches(session: Session, *, limit: int = 100) -> list[Mismatch]:
    """Every store and lot whose balance differs from the sum of its ledger moves (none, always)."""
    ledger = select(
        StockMove.location_id.label("location_id"),
        StockMove.lot_id.label("lot_id"),
        StockMove.quantity.label("ledger"),
        literal(0).label("balance"),
    )
    balances = select(StockBalance.location_id, StockBalance.lot_id, literal(0), StockBalance.quantity)
    both = union_all(ledger, balances).subquery()
    rows = session.execute(
        select(both.c.location_id, both.c.lot_id, func.sum(both.c.ledger), func.sum(both.c.balance))
        .group_by(both.c.location_id, both.c.lot_id)
        .having(func.sum(both.c.ledger) != func.sum(both.c.balance))
        .limit(limit)
    ).all()
    return [Mismatch(loc, lot, int(a), int(b)) for loc, lot, a, b in rows]


def negative_balances(session: Session) -> int:
    """How many balances are below zero (none: the CHECK constraint and the conditional update)."""
    return session.execute(select(func.count()).where(StockBalance.quantity < 0)).scalar_one()
