"""Goods receipt against a purchase order: each delivered line goes into the store with its lot and
expiry, the order's received quantities and status move on, and what was received becomes an
expense of the supplier (drugs for medicines, medical supplies for the rest), all in ONE
transaction: there is never stock in without its order updated and its cost on the books.

Over-delivery: a line may take up to ``OVER_TOLERANCE_PERCENT`` more than was ordered (a box
rounded up); beyond that the receipt is refused unless the person accepts the over-delivery
explicitly with a reason. Under-delivery leaves the order partly received until the rest comes or
it is closed short (``purchasing.close_order``).

Two people receiving the same line at once cannot take in more than the order allows: the order
row is locked first, and each line's received quantity only goes up through
``UPDATE ... SET quantity_received = quantity_received + n WHERE quantity_received + n <= limit``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlmodel import Session

from hms_app.clock import local_today, utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.billing import Expense
from hms_app.models.inventory import PurchaseOrder, PurchaseOrderLine, StockItem, Supplier
from hms_app.services import live
from hms_app.services.billing.expenses import EXPENSE_CATEGORIES
from hms_app.services.billing.money import format_money
from hms_app.services.inventory.common import (
    KEEP,
    audit_stock,
    authorize_store,
    get_location,
    may_work_stores,
    whole_number,
)
from hms_app.services.inventory.ledger import STOCK, clean_reason, clean_text, receive_stock
from hms_app.services.inventory.purchasing import STATUS_LABELS, get_order
from hms_app.services.permissions import Actor
from hms_app.services.rows import returns_frozen

OVER_TOLERANCE_PERCENT = 5
RECEIVABLE = ("sent", "partly_received")


def expense_category(item_category: str) -> str:
    """The finance category a receipt of this kind of item is spent under."""
    return "drugs" if item_category == "medicine" else "supplies"


def line_limit(quantity_ordered: int) -> int:
    """The most a line may receive without an explicit over-delivery (the tolerance rounds down)."""
    return quantity_ordered + quantity_ordered * OVER_TOLERANCE_PERCENT // 100


@dataclass(frozen=True)
class _Entry:
    line: PurchaseOrderLine
    item: StockItem
    quantity: int
    lot_number: str | None
    expiry_date: object


def _entries(session: Session, order: PurchaseOrder, lines) -> list[_Entry]:
    if not isinstance(lines, list) or not lines:
        raise ValidationError("Enter the quantity received of at least one line.", field="quantity")
    entries = []
    for raw in lines:
        if not isinstance(raw, dict):
            raise ValidationError("A line of the receipt could not be read.")
        line_id = raw.get("line_id")
        line = (
            session.get(PurchaseOrderLine, line_id)
            if isinstance(line_id, int) and not isinstance(line_id, bool)
            else None
        )
        if line is None or line.order_id != order.id:
            raise ValidationError(f"That line is not on {order.reference}.", field="line_id")
        quantity = whole_number(
            raw.get("quantity"), field=f"quantity:{line.id}", label="The quantity received"
        )
        item = session.get(StockItem, line.item_id)
        entries.append(_Entry(line, item, quantity, raw.get("lot_number"), raw.get("expiry_date")))
    # Always the same order of rows to lock (items, then lines): two receipts never wait on each other
    # in a circle.
    return sorted(entries, key=lambda e: (e.item.id, e.line.id))


def _take_in(session: Session, order: PurchaseOrder, entry: _Entry, accept_over: bool) -> bool:
    """Raise the line's received quantity; True if it now exceeds the tolerance (accepted over)."""
    line = PurchaseOrderLine
    where = [line.id == entry.line.id, line.order_id == order.id]
    if not accept_over:
        limit = line.quantity_ordered + line.quantity_ordered * OVER_TOLERANCE_PERCENT // 100
        where.append(line.quantity_received + entry.quantity <= limit)
    done = session.execute(
        update(line).where(*where).values(quantity_received=line.quantity_received + entry.quantity)
    ).rowcount
    ordered, received = session.execute(
        select(line.quantity_ordered, line.quantity_received).where(line.id == entry.line.id)
    ).one()
    if done != 1:
        room = max(line_limit(ordered) - received, 0)
        raise ValidationError(
            f"{entry.item.name}: {ordered:,} {entry.item.base_unit} ordered and {received:,} received "
            f"already, so {entry.quantity:,} more is over the order by more than "
            f"{OVER_TOLERANCE_PERCENT}% (at most {room:,} can be taken in). Accept the over-delivery "
            "with a reason, or take in less.",
            field=f"quantity:{entry.line.id}",
        )
    return received > line_limit(ordered)


def _post_expenses(
    session: Session, actor: Actor, order: PurchaseOrder, supplier: Supplier, department_id, amounts: dict
) -> list[Expense]:
    expenses = []
    for category, (cents, count) in sorted(amounts.items()):
        if cents <= 0 or category not in EXPENSE_CATEGORIES:
            continue
        expense = Expense(
            category=category,
            department_id=department_id,
            supplier=supplier.name,
            description=f"{order.reference} goods receipt, {count} line(s)",
            amount_cents=cents,
            incurred_on=local_today(),
            entered_by=actor.username,
        )
        session.add(expense)
        expenses.append(expense)
    session.flush()
    return expenses


@returns_frozen
def receive_order(
    session: Session,
    *,
    actor: Actor,
    order_id: int,
    lines: list[dict],
    accept_over: bool = False,
    over_reason: str | None = None,
    delivery_note: str | None = None,
) -> PurchaseOrder:
    """Take a delivery in against a sent order: each line as ``{"line_id", "quantity" (base units),
    "lot_number", "expiry_date"}``. Stock, the order, its status and the expense move together."""
    may_work_stores(actor, KEEP)
    order = get_order(session, order_id, lock=True)
    location = get_location(session, order.location_id, active=False)
    authorize_store(session, actor, location, KEEP)
    if order.status not in RECEIVABLE:
        if order.status in ("draft", "approved"):
            raise Conflict(f"{order.reference} has not been sent yet: send it before receiving against it.")
        raise Conflict(
            f"{order.reference} is {STATUS_LABELS[order.status].lower()}: nothing more is received against it."
        )
    entries = _entries(session, order, lines)
    accept_over = accept_over is True
    reason = clean_reason(over_reason, required=accept_over, what="more than was ordered is accepted")
    note = clean_text(delivery_note, 60)
    supplier = session.get(Supplier, order.supplier_id)
    amounts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    over_lines = []
    for entry in entries:
        over = _take_in(session, order, entry, accept_over)
        if over:
            over_lines.append(entry.item.name)
        why = "; ".join(
            part
            for part in (
                f"Delivery note {note}" if note else "",
                f"Over-delivery accepted: {reason}" if over else "",
            )
            if part
        )
        try:
            receive_stock(
                session,
                actor=actor,
                item_id=entry.item.id,
                location_id=location.id,
                quantity=entry.quantity,
                lot_number=entry.lot_number,
                expiry_date=entry.expiry_date,
                unit_cost_cents=entry.line.unit_cost_cents,
                reference=order.reference,
                order_line_id=entry.line.id,
                reason=why or None,
                commit=False,
            )
        except ValidationError as error:
            field = f"{error.field}:{entry.line.id}" if error.field else None
            message = str(error)
            if entry.item.name not in message:
                message = f"{entry.item.name}: {message}"
            raise ValidationError(message, field=field) from None
        category = expense_category(entry.item.category)
        amounts[category][0] += entry.quantity * entry.line.unit_cost_cents
        amounts[category][1] += 1
    waiting = session.execute(
        select(func.count(PurchaseOrderLine.id)).where(
            PurchaseOrderLine.order_id == order.id,
            PurchaseOrderLine.quantity_received < PurchaseOrderLine.quantity_ordered,
        )
    ).scalar_one()
    order.status = "partly_received" if waiting else "received"
    if not waiting:
        order.received_at = utcnow()
    expenses = _post_expenses(session, actor, order, supplier, location.department_id, amounts)
    total = sum(expense.amount_cents for expense in expenses)
    audit_stock(
        session,
        actor,
        "inventory.po_receive",
        target_type="purchase_order",
        target_id=order.id,
        detail=f"{order.reference}: {len(entries)} line(s) into {location.name}, "
        f"{STATUS_LABELS[order.status].lower()}, expense {format_money(total)} to {supplier.name}"
        + (f"; over-delivery of {', '.join(over_lines)} accepted: {reason}" if over_lines else ""),
    )
    session.commit()
    live.publish(STOCK, location.id)
    return order
