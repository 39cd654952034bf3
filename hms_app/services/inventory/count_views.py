"""Reading stock counts: one page of the count list with each count's progress, and one page of a
count sheet with, per lot, the frozen book, the moves since the snapshot, the counted quantity and
the variance with its value. Sums and variances are computed in SQL, a page at a time: a full
count of a big store has thousands of lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlmodel import Session

from hms_app.errors import ValidationError
from hms_app.models.inventory import (
    StockBalance,
    StockCount,
    StockCountLine,
    StockItem,
    StockLevel,
    StockLocation,
    StockLot,
)
from hms_app.services.inventory.counts import COUNT_STATUS_LABELS, OPEN_COUNT, get_count
from hms_app.services.permissions import Actor, authorize

READ = "inventory.read"
COUNT_FILTERS = {"open": "Open", "all": "All", **COUNT_STATUS_LABELS}
SHEET_FILTERS = {"all": "Every line", "uncounted": "Not counted yet", "variances": "Variances"}

_counted = StockCountLine.counted_quantity.is_not(None)
_differs = _counted & (StockCountLine.counted_quantity != StockCountLine.expected_quantity)
_variance = StockCountLine.counted_quantity - StockCountLine.expected_quantity


def _unit_cost():
    """What one base unit of the line's lot is worth: the lot's price, else the item's average."""
    return case((StockLot.unit_cost_cents > 0, StockLot.unit_cost_cents), else_=StockItem.average_cost_cents)


@dataclass(frozen=True)
class CountRow:
    id: int
    reference: str
    location: str
    kind: str
    status: str
    started_at: datetime
    started_by: str
    submitted_by: str
    approved_by: str
    approved_at: datetime | None
    lines: int
    counted: int
    variances: int


def list_counts(
    session: Session,
    *,
    actor: Actor,
    status: str = "open",
    location_id: int | None = None,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[CountRow], int]:
    """One page of counts, newest first, with how far each has been counted."""
    authorize(actor, READ)
    if status not in COUNT_FILTERS:
        raise ValidationError("Choose a status from the list.", field="status")
    conditions = []
    if status == "open":
        conditions.append(StockCount.status.in_(OPEN_COUNT))
    elif status != "all":
        conditions.append(StockCount.status == status)
    if location_id is not None:
        conditions.append(StockCount.location_id == location_id)
    total = session.execute(select(func.count(StockCount.id)).where(*conditions)).scalar_one()
    progress = (
        select(
            StockCountLine.count_id.label("count_id"),
            func.count(StockCountLine.id).label("lines"),
            func.count(StockCountLine.counted_quantity).label("counted"),
            func.sum(case((_differs, 1), else_=0)).label("variances"),
        )
        .group_by(StockCountLine.count_id)
        .subquery()
    )
    rows = session.execute(
        select(
            StockCount,
            StockLocation.name,
            func.coalesce(progress.c.lines, 0),
            func.coalesce(progress.c.counted, 0),
            func.coalesce(progress.c.variances, 0),
        )
        .join(StockLocation, StockLocation.id == StockCount.location_id)
        .outerjoin(progress, progress.c.count_id == StockCount.id)
        .where(*conditions)
        .order_by(StockCount.started_at.desc(), StockCount.id.desc())
        .offset(max(0, offset))
        .limit(max(1, min(limit, 200)))
    ).all()
    return (
        [
            CountRow(
                c.id,
                c.reference,
                store,
                c.kind,
                c.status,
                c.started_at,
                c.started_by,
                c.submitted_by or "",
                c.approved_by or "",
                c.approved_at,
                int(lines),
                int(counted),
                int(variances),
            )
            for c, store, lines, counted, variances in rows
        ],
        int(total),
    )


@dataclass(frozen=True)
class SheetLine:
    id: int
    item_id: int
    code: str
    name: str
    base_unit: str
    lot_number: str
    expiry_date: date | None
    bin: str
    book: int
    moved_since: int  # moves since the snapshot: up to the counting once counted, up to now before
    counted: int | None
    variance: int | None
    variance_cents: int | None
    counted_by: str


@dataclass(frozen=True)
class CountSheet:
    id: int
    reference: str
    location_id: int
    location: str
    kind: str
    status: str
    started_at: datetime
    started_by: str
    submitted_at: datetime | None
    submitted_by: str
    approved_at: datetime | None
    approved_by: str
    lines: int
    counted: int
    variances: int
    variance_cents: int  # the net value of every variance
    shown: int  # how many lines the filter keeps
    page: tuple[SheetLine, ...]
    counters: tuple[str, ...]  # who counted lines: they may not approve


def count_sheet(
    session: Session,
    *,
    actor: Actor,
    count_id: int,
    show: str = "all",
    offset: int = 0,
    limit: int = 50,
) -> CountSheet:
    """A count's header and totals, and one page of its lines by bin and item."""
    authorize(actor, READ)
    if show not in SHEET_FILTERS:
        raise ValidationError("Choose which lines to show from the list.", field="show")
    count = get_count(session, count_id)
    location = session.get(StockLocation, count.location_id)
    value = _variance * _unit_cost()
    lines, counted, variances, net = session.execute(
        select(
            func.count(StockCountLine.id),
            func.count(StockCountLine.counted_quantity),
            func.sum(case((_differs, 1), else_=0)),
            func.sum(case((_differs, value), else_=0)),
        )
        .join(StockItem, StockItem.id == StockCountLine.item_id)
        .join(StockLot, StockLot.id == StockCountLine.lot_id)
        .where(StockCountLine.count_id == count.id)
    ).one()
    conditions = [StockCountLine.count_id == count.id]
    if show == "uncounted":
        conditions.append(~_counted)
    elif show == "variances":
        conditions.append(_differs)
    shown = session.execute(select(func.count(StockCountLine.id)).where(*conditions)).scalar_one()
    balance = func.coalesce(StockBalance.quantity, 0)
    moved = case((_counted, StockCountLine.expected_quantity), else_=balance) - StockCountLine.book_quantity
    rows = session.execute(
        select(
            StockCountLine,
            StockItem.code,
            StockItem.name,
            StockItem.base_unit,
            StockLot.lot_number,
            StockLot.expiry_date,
            func.coalesce(StockLevel.bin, ""),
            moved,
            _unit_cost(),
        )
        .join(StockItem, StockItem.id == StockCountLine.item_id)
        .join(StockLot, StockLot.id == StockCountLine.lot_id)
        .outerjoin(
            StockBalance,
            (StockBalance.lot_id == StockCountLine.lot_id) & (StockBalance.location_id == count.location_id),
        )
        .outerjoin(
            StockLevel,
            (StockLevel.item_id == StockCountLine.item_id) & (StockLevel.location_id == count.location_id),
        )
        .where(*conditions)
        .order_by(func.coalesce(StockLevel.bin, "~"), StockItem.name, StockLot.expiry_date, StockLot.id)
        .offset(max(0, offset))
        .limit(max(1, min(limit, 200)))
    ).all()
    page = []
    for line, code, name, unit, lot_number, expiry, bin_, moved_since, cost in rows:
        variance = None if line.counted_quantity is None else line.counted_quantity - line.expected_quantity
        page.append(
            SheetLine(
                line.id,
                line.item_id,
                code,
                name,
                unit,
                lot_number,
                expiry,
                bin_,
                line.book_quantity,
                int(moved_since),
                line.counted_quantity,
                variance,
                None if variance is None else variance * int(cost),
                line.counted_by or "",
            )
        )
    counters = tuple(
        session.execute(
            select(StockCountLine.counted_by)
            .where(StockCountLine.count_id == count.id, StockCountLine.counted_by.is_not(None))
            .distinct()
        ).scalars()
    )
    return CountSheet(
        count.id,
        count.reference,
        count.location_id,
        location.name,
        count.kind,
        count.status,
        count.started_at,
        count.started_by,
        count.submitted_at,
        count.submitted_by or "",
        count.approved_at,
        count.approved_by or "",
        int(lines),
        int(counted),
        int(variances or 0),
        int(net or 0),
        int(shown),
        tuple(page),
        counters,
    )
