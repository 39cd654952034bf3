"""Reading purchase orders: one page of the order list with each order's value (summed in SQL),
one order with its lines and the receipts taken in against it, and the pickers its screens need
(stores, items found by code or name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, or_, select
from sqlmodel import Session

from hms_app.clock import local_today
from hms_app.errors import ValidationError
from hms_app.models.inventory import (
    PurchaseOrder,
    PurchaseOrderLine,
    StockItem,
    StockLocation,
    StockLot,
    StockMove,
    Supplier,
)
from hms_app.services.inventory.purchasing import ON_ORDER_STATUSES, STATUS_LABELS, get_order
from hms_app.services.inventory.receiving import line_limit
from hms_app.services.permissions import Actor, authorize

READ = "inventory.read"
# The order list's status filter: the open ones, everything, or one status.
STATUS_FILTERS = {"open": "Open", "all": "All", **STATUS_LABELS}
WAITING = ("sent", "partly_received")


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True)
class OrderRow:
    id: int
    reference: str
    supplier: str
    location: str
    status: str
    created_at: datetime
    created_by: str
    approved_by: str
    sent_at: datetime | None
    expected_on: date | None
    lines: int
    total_cents: int
    received_cents: int
    overdue: bool  # sent, not all here, and past its expected date


def list_orders(
    session: Session,
    *,
    actor: Actor,
    status: str = "open",
    location_id: int | None = None,
    query: str = "",
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[OrderRow], int]:
    """One page of orders, newest first, with their value and what has been received of it."""
    authorize(actor, READ)
    if status not in STATUS_FILTERS:
        raise ValidationError("Choose a status from the list.", field="status")
    conditions = []
    if status == "open":
        conditions.append(PurchaseOrder.status.in_(ON_ORDER_STATUSES))
    elif status != "all":
        conditions.append(PurchaseOrder.status == status)
    if location_id is not None:
        conditions.append(PurchaseOrder.location_id == location_id)
    text = " ".join(str(query or "").split())[:60]
    if text:
        conditions.append(
            or_(
                func.lower(PurchaseOrder.reference).like(_like(text), escape="\\"),
                func.lower(Supplier.name).like(_like(text), escape="\\"),
            )
        )
    total = session.execute(
        select(func.count(PurchaseOrder.id))
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .where(*conditions)
    ).scalar_one()
    sums = (
        select(
            PurchaseOrderLine.order_id.label("order_id"),
            func.count(PurchaseOrderLine.id).label("lines"),
            func.sum(PurchaseOrderLine.quantity_ordered * PurchaseOrderLine.unit_cost_cents).label("total"),
            func.sum(PurchaseOrderLine.quantity_received * PurchaseOrderLine.unit_cost_cents).label(
                "received"
            ),
        )
        .group_by(PurchaseOrderLine.order_id)
        .subquery()
    )
    today = local_today()
    overdue = case(
        (PurchaseOrder.status.in_(WAITING) & (PurchaseOrder.expected_on < today), True), else_=False
    )
    rows = session.execute(
        select(
            PurchaseOrder,
            Supplier.name,
            StockLocation.name,
            func.coalesce(sums.c.lines, 0),
            func.coalesce(sums.c.total, 0),
            func.coalesce(sums.c.received, 0),
            overdue,
        )
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .join(StockLocation, StockLocation.id == PurchaseOrder.location_id)
        .outerjoin(sums, sums.c.order_id == PurchaseOrder.id)
        .where(*conditions)
        .order_by(PurchaseOrder.created_at.desc(), PurchaseOrder.id.desc())
        .offset(max(0, offset))
        .limit(max(1, min(limit, 200)))
    ).all()
    return (
        [
            OrderRow(
                o.id,
                o.reference,
                supplier,
                store,
                o.status,
                o.created_at,
                o.created_by,
                o.approved_by or "",
                o.sent_at,
                o.expected_on,
                int(lines),
                int(value),
                int(received),
                bool(late),
            )
            for o, supplier, store, lines, value, received, late in rows
        ],
        int(total),
    )


@dataclass(frozen=True)
class OrderLineView:
    id: int
    item_id: int
    code: str
    name: str
    base_unit: str
    category: str
    track_lots: bool
    ordered: int
    received: int
    outstanding: int
    limit: int  # the most it may receive without accepting an over-delivery
    unit_cost_cents: int
    total_cents: int


@dataclass(frozen=True)
class ReceiptLine:
    moved_at: datetime
    code: str
    name: str
    lot_number: str
    expiry_date: date | None
    quantity: int
    base_unit: str
    unit_cost_cents: int
    moved_by: str
    reason: str


@dataclass(frozen=True)
class OrderDetail:
    id: int
    reference: str
    status: str
    supplier_id: int
    supplier: str
    lead_time_days: int
    location_id: int
    location: str
    note: str
    created_at: datetime
    created_by: str
    approved_at: datetime | None
    approved_by: str
    sent_at: datetime | None
    expected_on: date | None
    received_at: datetime | None
    closed_at: datetime | None
    closed_by: str
    close_reason: str
    lines: tuple[OrderLineView, ...]
    receipts: tuple[ReceiptLine, ...]
    total_cents: int
    received_cents: int
    overdue: bool


def order_detail(session: Session, *, actor: Actor, order_id: int) -> OrderDetail:
    """One order: its header, its lines with what has come of each, and every receipt against it."""
    authorize(actor, READ)
    order = get_order(session, order_id)
    supplier = session.get(Supplier, order.supplier_id)
    location = session.get(StockLocation, order.location_id)
    line_rows = session.execute(
        select(PurchaseOrderLine, StockItem)
        .join(StockItem, StockItem.id == PurchaseOrderLine.item_id)
        .where(PurchaseOrderLine.order_id == order.id)
        .order_by(StockItem.name, PurchaseOrderLine.id)
    ).all()
    lines = tuple(
        OrderLineView(
            line.id,
            item.id,
            item.code,
            item.name,
            item.base_unit,
            item.category,
            item.track_lots,
            line.quantity_ordered,
            line.quantity_received,
            max(line.quantity_ordered - line.quantity_received, 0),
            line_limit(line.quantity_ordered),
            line.unit_cost_cents,
            line.quantity_ordered * line.unit_cost_cents,
        )
        for line, item in line_rows
    )
    receipt_rows = session.execute(
        select(StockMove, StockItem.code, StockItem.name, StockItem.base_unit, StockLot)
        .join(PurchaseOrderLine, PurchaseOrderLine.id == StockMove.order_line_id)
        .join(StockItem, StockItem.id == StockMove.item_id)
        .join(StockLot, StockLot.id == StockMove.lot_id)
        .where(PurchaseOrderLine.order_id == order.id, StockMove.kind == "receipt")
        .order_by(StockMove.moved_at.desc(), StockMove.id.desc())
        .limit(200)
    ).all()
    receipts = tuple(
        ReceiptLine(
            move.moved_at,
            code,
            name,
            lot.lot_number,
            lot.expiry_date,
            move.quantity,
            unit,
            move.unit_cost_cents,
            move.moved_by,
            move.reason or "",
        )
        for move, code, name, unit, lot in receipt_rows
    )
    return OrderDetail(
        order.id,
        order.reference,
        order.status,
        supplier.id,
        supplier.name,
        supplier.lead_time_days,
        location.id,
        location.name,
        order.note or "",
        order.created_at,
        order.created_by,
        order.approved_at,
        order.approved_by or "",
        order.sent_at,
        order.expected_on,
        order.received_at,
        order.closed_at,
        order.closed_by or "",
        order.close_reason or "",
        lines,
        receipts,
        sum(line.total_cents for line in lines),
        sum(line.received * line.unit_cost_cents for line in lines),
        order.status in WAITING and order.expected_on is not None and order.expected_on < local_today(),
    )


@dataclass(frozen=True)
class StoreChoice:
    id: int
    name: str


def store_choices(session: Session, *, actor: Actor) -> list[StoreChoice]:
    """The open stores by name, for a form's list."""
    authorize(actor, READ)
    rows = session.execute(
        select(StockLocation.id, StockLocation.name)
        .where(StockLocation.active.is_(True))
        .order_by(StockLocation.name)
        .limit(500)
    ).all()
    return [StoreChoice(i, n) for i, n in rows]


@dataclass(frozen=True)
class ItemChoice:
    id: int
    code: str
    name: str
    base_unit: str
    pack_size: int
    track_lots: bool
    unit_cost_cents: int


def find_items(session: Session, *, actor: Actor, query: str, limit: int = 8) -> list[ItemChoice]:
    """Active stock items whose code or name contains ``query`` (or whose GTIN it is), codes first."""
    authorize(actor, READ)
    text = " ".join(str(query or "").split())[:60]
    if len(text) < 2:
        return []
    pattern = _like(text)
    rows = session.execute(
        select(StockItem)
        .where(
            StockItem.active.is_(True),
            or_(
                func.lower(StockItem.code).like(pattern, escape="\\"),
                func.lower(StockItem.name).like(pattern, escape="\\"),
                StockItem.gtin == text,
            ),
        )
        .order_by(case((func.lower(StockItem.code) == text.lower(), 0), else_=1), StockItem.name)
        .limit(max(1, min(limit, 50)))
    ).scalars()
    return [
        ItemChoice(i.id, i.code, i.name, i.base_unit, i.order_pack_size, i.track_lots, i.average_cost_cents)
        for i in rows
    ]
