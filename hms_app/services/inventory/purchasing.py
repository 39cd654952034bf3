"""Purchase orders: what to order (suggested orders), and an order's life from draft to closed.

    draft -> approved -> sent -> partly received -> received -> closed
      \\-------\\-> cancelled            \\-> closed short (with a reason)

A store's item is suggested for ordering when its usable stock (not expired) plus what is still
to come on its open orders to that store is at or below its reorder point: enough is suggested
to bring it up to its maximum, rounded up to whole order packs, grouped by the item's supplier.
The sums are computed in SQL, one query per screen, never by loading the ledger. A draft order
counts as on order, so one suggestion cannot become two orders.

An order is approved by someone holding ``inventory.approve`` who did not create it (a second
person), sent (which sets the expected delivery date from the supplier's lead time), and then
received against (``receiving.receive_order``). Every change locks the order row first, so two
people acting on one order at once are taken one after the other, and the second sees what the
first did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import local_today, to_local, utcnow
from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.inventory import (
    PurchaseOrder,
    PurchaseOrderLine,
    StockBalance,
    StockItem,
    StockLevel,
    StockLocation,
    StockLot,
    Supplier,
)
from hms_app.services.counters import take_numbers
from hms_app.services.inventory.common import MANAGE, audit_stock, get_item, get_location, whole_number
from hms_app.services.inventory.ledger import clean_reason, clean_text
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen

APPROVE = "inventory.approve"
STATUS_LABELS = {
    "draft": "Draft",
    "approved": "Approved",
    "sent": "Sent",
    "partly_received": "Partly received",
    "received": "Received",
    "closed": "Closed",
    "cancelled": "Cancelled",
}
# Orders whose outstanding quantities are still expected (a draft included: it is being ordered).
ON_ORDER_STATUSES = ("draft", "approved", "sent", "partly_received")
MAX_UNIT_COST_CENTS = 10_000_000  # one base unit at 100,000.00: more is a typing slip
MAX_SUGGESTIONS = 500
COUNTER = "purchase_order"


def order_reference(number: int) -> str:
    return f"PO-{number:06d}"


def get_order(session: Session, order_id, *, lock: bool = False) -> PurchaseOrder:
    """The order, locked until the transaction ends when ``lock`` (every change locks it first)."""
    order = (
        session.get(PurchaseOrder, order_id, with_for_update=lock, populate_existing=lock)
        if isinstance(order_id, int) and not isinstance(order_id, bool)
        else None
    )
    if order is None:
        raise NotFound("That purchase order does not exist.")
    return order


def get_supplier(session: Session, supplier_id) -> Supplier:
    supplier = (
        session.get(Supplier, supplier_id)
        if isinstance(supplier_id, int) and not isinstance(supplier_id, bool)
        else None
    )
    if supplier is None:
        raise NotFound("That supplier does not exist.")
    if not supplier.active:
        raise ValidationError(
            f"{supplier.name} is no longer used: choose another supplier.", field="supplier_id"
        )
    return supplier


def unit_cost(value) -> int:
    return whole_number(
        value, field="unit_cost_cents", label="The unit cost", minimum=0, maximum=MAX_UNIT_COST_CENTS
    )


# ---------------------------------------------------------------------- suggested orders


@dataclass(frozen=True)
class SuggestedLine:
    item_id: int
    code: str
    name: str
    base_unit: str
    pack_size: int
    usable: int  # on hand and not expired
    on_order: int  # still to come on open orders to this store
    reorder_point: int
    max_quantity: int
    quantity: int  # up to the maximum, in whole order packs
    unit_cost_cents: int  # the last price agreed with the supplier, else the average cost


@dataclass(frozen=True)
class SuggestionGroup:
    location_id: int
    location: str
    supplier_id: int  # 0: the items have no supplier set
    supplier: str
    lead_time_days: int
    lines: tuple[SuggestedLine, ...]
    total_cents: int


def _suggestion_rows(session: Session, *, location_id: int | None, supplier_id: int | None) -> list:
    today = local_today()
    usable = or_(StockLot.expiry_date.is_(None), StockLot.expiry_date >= today)
    on_hand = (
        select(
            StockBalance.item_id.label("item_id"),
            StockBalance.location_id.label("location_id"),
            func.sum(StockBalance.quantity).label("quantity"),
        )
        .join(StockLot, StockLot.id == StockBalance.lot_id)
        .where(usable)
        .group_by(StockBalance.item_id, StockBalance.location_id)
        .subquery()
    )
    outstanding = case(
        (
            PurchaseOrderLine.quantity_ordered > PurchaseOrderLine.quantity_received,
            PurchaseOrderLine.quantity_ordered - PurchaseOrderLine.quantity_received,
        ),
        else_=0,
    )
    on_order = (
        select(
            PurchaseOrderLine.item_id.label("item_id"),
            PurchaseOrder.location_id.label("location_id"),
            func.sum(outstanding).label("quantity"),
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
        .where(PurchaseOrder.status.in_(ON_ORDER_STATUSES))
        .group_by(PurchaseOrderLine.item_id, PurchaseOrder.location_id)
        .subquery()
    )
    held = func.coalesce(on_hand.c.quantity, 0)
    coming = func.coalesce(on_order.c.quantity, 0)
    pack = case((StockItem.order_pack_size > 0, StockItem.order_pack_size), else_=1)
    need = StockLevel.max_quantity - held - coming
    quantity = ((need + pack - 1) // pack) * pack
    last_price = (
        select(PurchaseOrderLine.unit_cost_cents)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
        .where(
            PurchaseOrderLine.item_id == StockItem.id,
            PurchaseOrder.supplier_id == StockItem.supplier_id,
            PurchaseOrder.status != "cancelled",
        )
        .order_by(PurchaseOrderLine.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    conditions = [
        StockItem.active.is_(True),
        StockLocation.active.is_(True),
        held + coming <= StockLevel.reorder_point,
        need > 0,
    ]
    if location_id is not None:
        conditions.append(StockLevel.location_id == location_id)
    if supplier_id is not None:
        conditions.append(StockItem.supplier_id == supplier_id)
    return session.execute(
        select(
            StockLevel.location_id,
            StockLocation.name,
            func.coalesce(Supplier.id, 0),
            Supplier.name,
            func.coalesce(Supplier.lead_time_days, 0),
            StockItem.id,
            StockItem.code,
            StockItem.name,
            StockItem.base_unit,
            pack,
            held,
            coming,
            StockLevel.reorder_point,
            StockLevel.max_quantity,
            quantity,
            func.coalesce(last_price, StockItem.average_cost_cents),
        )
        .join(StockItem, StockItem.id == StockLevel.item_id)
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .outerjoin(Supplier, (Supplier.id == StockItem.supplier_id) & Supplier.active.is_(True))
        .outerjoin(
            on_hand,
            (on_hand.c.item_id == StockLevel.item_id) & (on_hand.c.location_id == StockLevel.location_id),
        )
        .outerjoin(
            on_order,
            (on_order.c.item_id == StockLevel.item_id) & (on_order.c.location_id == StockLevel.location_id),
        )
        .where(*conditions)
        .order_by(StockLocation.name, Supplier.name.is_(None), Supplier.name, StockItem.name, StockItem.id)
        .limit(MAX_SUGGESTIONS)
    ).all()


def _groups(rows: list) -> list[SuggestionGroup]:
    groups: dict[tuple[int, int], list] = {}
    heads: dict[tuple[int, int], tuple] = {}
    for row in rows:
        location_id, location, supplier_id, supplier, lead = row[:5]
        key = (location_id, supplier_id)
        heads.setdefault(key, (location_id, location, supplier_id, supplier or "No supplier set", lead))
        item_id, code, name, unit, pack, usable, on_order, reorder, most, quantity, cost = row[5:]
        groups.setdefault(key, []).append(
            SuggestedLine(
                item_id,
                code,
                name,
                unit,
                int(pack),
                int(usable),
                int(on_order),
                reorder,
                most,
                int(quantity),
                int(cost),
            )
        )
    return [
        SuggestionGroup(
            *heads[key], tuple(lines), sum(line.quantity * line.unit_cost_cents for line in lines)
        )
        for key, lines in groups.items()
    ]


def suggested_orders(
    session: Session, *, actor: Actor, location_id: int | None = None
) -> list[SuggestionGroup]:
    """What each store (or one store) should order now, one group per store and supplier."""
    authorize(actor, "inventory.read")
    if location_id is not None:
        get_location(session, location_id, active=False)
    return _groups(_suggestion_rows(session, location_id=location_id, supplier_id=None))


# ---------------------------------------------------------------------- drafts


def _new_order(
    session: Session, actor: Actor, supplier: Supplier, location: StockLocation, note
) -> PurchaseOrder:
    order = PurchaseOrder(
        reference=order_reference(take_numbers(session, COUNTER)[0]),
        supplier_id=supplier.id,
        location_id=location.id,
        status="draft",
        note=clean_text(note, 300),
        created_by=actor.username,
        created_at=utcnow(),
    )
    session.add(order)
    session.flush()
    return order


def _add_line(session: Session, order: PurchaseOrder, item_id, quantity, cost) -> PurchaseOrderLine:
    item = get_item(session, item_id)
    count = whole_number(quantity, field="quantity", label="The quantity")
    price = unit_cost(cost)
    existing = session.execute(
        select(PurchaseOrderLine).where(
            PurchaseOrderLine.order_id == order.id, PurchaseOrderLine.item_id == item.id
        )
    ).scalar_one_or_none()
    if existing is not None:
        existing.quantity_ordered, existing.unit_cost_cents = count, price
        session.flush()
        return existing
    line = PurchaseOrderLine(
        order_id=order.id, item_id=item.id, quantity_ordered=count, unit_cost_cents=price
    )
    try:
        with session.begin_nested():
            session.add(line)
            session.flush()
    except IntegrityError:
        raise Conflict(f"{item.name} was added to {order.reference} a moment ago.") from None
    return line


@returns_frozen
def create_order(
    session: Session,
    *,
    actor: Actor,
    supplier_id: int,
    location_id: int,
    lines: list[dict] | None = None,
    note: str | None = None,
) -> PurchaseOrder:
    """Start a draft order by hand: a supplier, the store it is delivered to, lines (item,
    quantity in base units, unit cost in cents) now or later."""
    authorize(actor, MANAGE)
    supplier = get_supplier(session, supplier_id)
    location = get_location(session, location_id)
    order = _new_order(session, actor, supplier, location, note)
    seen: set[int] = set()
    for line in lines or []:
        if not isinstance(line, dict):
            raise ValidationError("A line of the order could not be read.")
        if line.get("item_id") in seen:
            raise ValidationError("Each item goes on one line of the order.", field="item_id")
        seen.add(line.get("item_id"))
        _add_line(session, order, line.get("item_id"), line.get("quantity"), line.get("unit_cost_cents", 0))
    audit_stock(
        session,
        actor,
        "inventory.po_create",
        target_type="purchase_order",
        target_id=order.id,
        detail=f"{order.reference} to {supplier.name} for {location.name}, {len(seen)} line(s)",
    )
    session.commit()
    return order


@returns_frozen
def create_order_from_suggestion(
    session: Session, *, actor: Actor, location_id: int, supplier_id: int
) -> PurchaseOrder:
    """Turn one suggestion group (a store and a supplier) into a draft order with its lines."""
    authorize(actor, MANAGE)
    location = get_location(session, location_id)
    if supplier_id == 0:
        raise ValidationError(
            "These items have no supplier: set their supplier first, or order them by hand."
        )
    # Two people pressing "Create draft" at once: the second waits here, then sees the first draft
    # on order and finds nothing left to order.
    supplier = (
        session.get(Supplier, supplier_id, with_for_update=True) if isinstance(supplier_id, int) else None
    )
    if supplier is None:
        raise NotFound("That supplier does not exist.")
    get_supplier(session, supplier.id)
    rows = _suggestion_rows(session, location_id=location.id, supplier_id=supplier.id)
    if not rows:
        raise Conflict(
            f"Nothing from {supplier.name} needs ordering for {location.name} now: it may already be on order."
        )
    (group,) = _groups(rows)
    order = _new_order(session, actor, supplier, location, "From the suggested orders")
    for line in group.lines:
        _add_line(session, order, line.item_id, line.quantity, line.unit_cost_cents)
    audit_stock(
        session,
        actor,
        "inventory.po_create",
        target_type="purchase_order",
        target_id=order.id,
        detail=f"{order.reference} to {supplier.name} for {location.name} from the suggestion, "
        f"{len(group.lines)} line(s)",
    )
    session.commit()
    return order


def _draft(session: Session, actor: Actor, order_id) -> PurchaseOrder:
    authorize(actor, MANAGE)
    order = get_order(session, order_id, lock=True)
    if order.status != "draft":
        raise Conflict(
            f"{order.reference} is {STATUS_LABELS[order.status].lower()}: only a draft can be changed."
        )
    return order


@returns_frozen
def set_order_line(
    session: Session, *, actor: Actor, order_id: int, item_id: int, quantity, unit_cost_cents
) -> PurchaseOrderLine:
    """Add an item to a draft order, or change its quantity and unit cost if it is there."""
    order = _draft(session, actor, order_id)
    line = _add_line(session, order, item_id, quantity, unit_cost_cents)
    item = session.get(StockItem, line.item_id)
    audit_stock(
        session,
        actor,
        "inventory.po_line",
        target_type="purchase_order",
        target_id=order.id,
        detail=f"{order.reference}: {line.quantity_ordered:,} {item.base_unit} of {item.code} {item.name} "
        f"at {line.unit_cost_cents} cents",
    )
    session.commit()
    return line


def remove_order_line(session: Session, *, actor: Actor, order_id: int, line_id: int) -> None:
    """Take a line off a draft order."""
    order = _draft(session, actor, order_id)
    line = session.get(PurchaseOrderLine, line_id) if isinstance(line_id, int) else None
    if line is None or line.order_id != order.id:
        raise NotFound(f"That line is not on {order.reference}.")
    item = session.get(StockItem, line.item_id)
    session.delete(line)
    audit_stock(
        session,
        actor,
        "inventory.po_line_remove",
        target_type="purchase_order",
        target_id=order.id,
        detail=f"{order.reference}: {item.code} {item.name} removed",
    )
    session.commit()


# ---------------------------------------------------------------------- approve, send, close, cancel


def _line_count(session: Session, order: PurchaseOrder) -> int:
    return session.execute(
        select(func.count(PurchaseOrderLine.id)).where(PurchaseOrderLine.order_id == order.id)
    ).scalar_one()


@returns_frozen
def approve_order(session: Session, *, actor: Actor, order_id: int) -> PurchaseOrder:
    """Approve a draft order: by a second person, never the one who created it."""
    authorize(actor, APPROVE)
    order = get_order(session, order_id, lock=True)
    if order.created_by == actor.username:
        raise Forbidden(f"You created {order.reference}: a second person must approve it.")
    if order.status != "draft":
        raise Conflict(
            f"{order.reference} is {STATUS_LABELS[order.status].lower()}: only a draft is approved."
        )
    if _line_count(session, order) == 0:
        raise ValidationError(f"{order.reference} has no lines: add what to order first.")
    order.status, order.approved_at, order.approved_by = "approved", utcnow(), actor.username
    audit_stock(
        session,
        actor,
        "inventory.po_approve",
        target_type="purchase_order",
        target_id=order.id,
        detail=f"{order.reference} approved (created by {order.created_by})",
    )
    session.commit()
    return order


@returns_frozen
def send_order(session: Session, *, actor: Actor, order_id: int) -> PurchaseOrder:
    """Record that an approved order went to the supplier; it is expected after the lead time."""
    authorize(actor, MANAGE)
    order = get_order(session, order_id, lock=True)
    if order.status != "approved":
        what = "approved first" if order.status == "draft" else "sent once"
        raise Conflict(f"{order.reference} is {STATUS_LABELS[order.status].lower()}: an order is {what}.")
    supplier = session.get(Supplier, order.supplier_id)
    order.status, order.sent_at = "sent", utcnow()
    order.expected_on = to_local(order.sent_at).date() + timedelta(days=supplier.lead_time_days)
    audit_stock(
        session,
        actor,
        "inventory.po_send",
        target_type="purchase_order",
        target_id=order.id,
        detail=f"{order.reference} sent to {supplier.name}, expected {order.expected_on:%d %b %Y}",
    )
    session.commit()
    return order


@returns_frozen
def close_order(session: Session, *, actor: Actor, order_id: int, reason: str | None = None) -> PurchaseOrder:
    """Close an order: a received one as done, or one still waiting for goods short (with a reason:
    the rest will not come)."""
    authorize(actor, MANAGE)
    order = get_order(session, order_id, lock=True)
    if order.status not in ("sent", "partly_received", "received"):
        raise Conflict(
            f"{order.reference} is {STATUS_LABELS[order.status].lower()}: "
            + ("cancel it instead." if order.status in ("draft", "approved") else "it cannot be closed.")
        )
    short = order.status != "received"
    reason = clean_reason(reason, required=short, what="the order is closed before everything came")
    order.status, order.closed_at, order.closed_by, order.close_reason = (
        "closed",
        utcnow(),
        actor.username,
        reason,
    )
    audit_stock(
        session,
        actor,
        "inventory.po_close",
        target_type="purchase_order",
        target_id=order.id,
        detail=f"{order.reference} closed" + (" short" if short else "") + (f": {reason}" if reason else ""),
    )
    session.commit()
    return order


@returns_frozen
def cancel_order(session: Session, *, actor: Actor, order_id: int, reason: str) -> PurchaseOrder:
    """Cancel an order not yet sent (draft or approved), with the reason."""
    authorize(actor, MANAGE)
    order = get_order(session, order_id, lock=True)
    if order.status not in ("draft", "approved"):
        raise Conflict(
            f"{order.reference} is {STATUS_LABELS[order.status].lower()}: only an order not yet sent is "
            "cancelled (close a sent one short instead)."
        )
    reason = clean_reason(reason, required=True, what="the order is cancelled")
    order.status, order.closed_at, order.closed_by, order.close_reason = (
        "cancelled",
        utcnow(),
        actor.username,
        reason,
    )
    audit_stock(
        session,
        actor,
        "inventory.po_cancel",
        target_type="purchase_order",
        target_id=order.id,
        detail=f"{order.reference} cancelled: {reason}",
    )
    session.commit()
    return order
