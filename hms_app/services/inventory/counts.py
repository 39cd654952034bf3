"""Stock counts: a cycle count (chosen items, or the ones counted longest ago) or a full count of a
store, counted against a frozen snapshot and approved by a second person.

1. Starting a count freezes the book: every lot the store holds of the items counted, with its
   balance at that moment, becomes a line of the count sheet (``book_quantity``). The balances
   are read locked (PostgreSQL ``FOR SHARE``; SQLite's write transaction holds the database), so a
   move still being written finishes first and is either in the book or after it.
2. The store keeps working while it is counted. When a line's quantity is entered, the balance of
   that lot is read again (``expected_quantity``: the book plus every move made since the
   snapshot) and kept with it. The variance is ``counted - expected``: an issue of 5 between the
   snapshot and the counting is not a loss of 5, and a delivery is not a find. Lots found that
   were not on the book are added with a book of 0.
3. The counter submits the sheet when every line is counted; someone else holding
   ``inventory.approve`` (not the one who submitted it, nor anyone who counted a line) approves
   it, which posts every variance to the ledger as a ``count_variance`` move naming the count, in
   ONE transaction. A move after the counting does not disturb this: the variance is a
   difference, posted on top of whatever the balance is then.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.inventory import (
    UNTRACKED_LOT,
    StockBalance,
    StockCount,
    StockCountLine,
    StockItem,
    StockLocation,
    StockLot,
)
from hms_app.services import live
from hms_app.services.counters import take_numbers
from hms_app.services.inventory.common import (
    KEEP,
    MANAGE,
    audit_stock,
    authorize_store,
    get_item,
    get_location,
    may_work_stores,
    whole_number,
)
from hms_app.services.inventory.ledger import (
    MAX_LOT,
    STOCK,
    clean_reason,
    clean_text,
    describe_lot,
)
from hms_app.services.inventory.ledger import _expiry as read_expiry  # the ledger's one date reader
from hms_app.services.inventory.moves import adjust_stock
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen

APPROVE = "inventory.approve"
COUNT_KINDS = {"cycle": "Cycle count", "full": "Full count"}
COUNT_STATUS_LABELS = {
    "counting": "Counting",
    "submitted": "Waiting for approval",
    "approved": "Approved",
    "cancelled": "Cancelled",
}
OPEN_COUNT = ("counting", "submitted")
MAX_CYCLE_ITEMS = 200
COUNTER = "stock_count"


def count_reference(number: int) -> str:
    return f"SC-{number:06d}"


def get_count(session: Session, count_id, *, lock: bool = False) -> StockCount:
    count = (
        session.get(StockCount, count_id, with_for_update=lock, populate_existing=lock)
        if isinstance(count_id, int) and not isinstance(count_id, bool)
        else None
    )
    if count is None:
        raise NotFound("That stock count does not exist.")
    return count


def _status(count: StockCount) -> str:
    return COUNT_STATUS_LABELS[count.status].lower()


def _counting(session: Session, actor: Actor, count_id) -> tuple[StockCount, StockLocation]:
    count = get_count(session, count_id, lock=True)
    location = get_location(session, count.location_id, active=False)
    authorize_store(session, actor, location, KEEP)
    if count.status != "counting":
        raise Conflict(f"{count.reference} is {_status(count)}: its sheet can no longer be changed.")
    return count, location


def balance_now(session: Session, location_id: int, lot_id: int) -> int:
    """The store's balance of a lot, waiting for any move of it still being written (FOR SHARE)."""
    held = session.execute(
        select(StockBalance.quantity)
        .where(StockBalance.location_id == location_id, StockBalance.lot_id == lot_id)
        .with_for_update(read=True)
    ).scalar_one_or_none()
    return int(held or 0)


def _least_recently_counted(session: Session, location_id: int, how_many: int) -> list[int]:
    """The items the store holds that were counted there longest ago (never counted first)."""
    last = (
        select(StockCountLine.item_id.label("item_id"), func.max(StockCount.approved_at).label("at"))
        .join(StockCount, StockCount.id == StockCountLine.count_id)
        .where(StockCount.location_id == location_id, StockCount.status == "approved")
        .group_by(StockCountLine.item_id)
        .subquery()
    )
    stocked = (
        select(StockBalance.item_id.label("item_id"))
        .where(StockBalance.location_id == location_id, StockBalance.quantity > 0)
        .distinct()
        .subquery()
    )
    return list(
        session.execute(
            select(StockItem.id)
            .join(stocked, stocked.c.item_id == StockItem.id)
            .outerjoin(last, last.c.item_id == StockItem.id)
            .order_by(last.c.at.is_not(None), last.c.at, StockItem.code)
            .limit(how_many)
        ).scalars()
    )


def _chosen_items(session: Session, item_ids) -> list[int]:
    if not isinstance(item_ids, list | tuple) or not item_ids:
        raise ValidationError("Choose the items to count.", field="item_ids")
    if len(item_ids) > MAX_CYCLE_ITEMS:
        raise ValidationError(f"A cycle count takes at most {MAX_CYCLE_ITEMS} items.", field="item_ids")
    chosen = []
    for item_id in item_ids:
        item = get_item(session, item_id, active=False)
        if item.id not in chosen:
            chosen.append(item.id)
    return chosen


@returns_frozen
def start_count(
    session: Session,
    *,
    actor: Actor,
    location_id: int,
    kind: str = "cycle",
    item_ids: list[int] | None = None,
    oldest=None,
) -> StockCount:
    """Start counting a store: every lot it holds (full), or the lots of chosen items or of the
    ``oldest`` items counted longest ago (cycle). The book quantities are frozen now."""
    may_work_stores(actor, KEEP)
    location = get_location(session, location_id)
    authorize_store(session, actor, location, KEEP)
    if kind not in COUNT_KINDS:
        raise ValidationError("Choose a cycle count or a full count.", field="kind")
    # One open count per store: lock the store's row so that two people starting at once queue.
    session.execute(select(StockLocation.id).where(StockLocation.id == location.id).with_for_update()).one()
    already = session.execute(
        select(StockCount.reference).where(
            StockCount.location_id == location.id, StockCount.status.in_(OPEN_COUNT)
        )
    ).scalar()
    if already is not None:
        raise Conflict(f"{already} is still open at {location.name}: finish or cancel it first.")
    items: list[int] | None = None
    if kind == "cycle":
        if item_ids:
            items = _chosen_items(session, item_ids)
        elif oldest not in (None, ""):
            how_many = whole_number(
                oldest, field="oldest", label="The number of items", maximum=MAX_CYCLE_ITEMS
            )
            items = _least_recently_counted(session, location.id, how_many)
        else:
            raise ValidationError(
                "Choose the items to count, or how many of those counted longest ago.", field="oldest"
            )
    query = select(StockBalance.item_id, StockBalance.lot_id, StockBalance.quantity).where(
        StockBalance.location_id == location.id, StockBalance.quantity > 0
    )
    if items is not None:
        query = query.where(StockBalance.item_id.in_(items))
    book = session.execute(
        query.order_by(StockBalance.item_id, StockBalance.lot_id).with_for_update(read=True)
    ).all()
    if not book:
        raise ValidationError(
            f"{location.name} holds no stock of "
            + ("the chosen items" if item_ids else "anything to count")
            + ": there is nothing to count.",
            field="item_ids" if item_ids else None,
        )
    count = StockCount(
        reference=count_reference(take_numbers(session, COUNTER)[0]),
        location_id=location.id,
        kind=kind,
        status="counting",
        started_at=utcnow(),
        started_by=actor.username,
    )
    session.add(count)
    session.flush()
    session.add_all(
        StockCountLine(count_id=count.id, item_id=item_id, lot_id=lot_id, book_quantity=quantity)
        for item_id, lot_id, quantity in book
    )
    session.flush()
    audit_stock(
        session,
        actor,
        "inventory.count_start",
        target_type="stock_count",
        target_id=count.id,
        detail=f"{count.reference}: {COUNT_KINDS[kind].lower()} of {location.name}, {len(book)} lot(s) on the book",
    )
    session.commit()
    return count


def enter_counts(session: Session, *, actor: Actor, count_id: int, counts: list[dict]) -> int:
    """Record counted quantities (``{"line_id", "counted"}``), each with the balance expected at
    that moment; a line counted again takes the new figure. Returns how many lines were recorded."""
    may_work_stores(actor, KEEP)
    count, location = _counting(session, actor, count_id)
    if not isinstance(counts, list) or not counts:
        raise ValidationError("Enter at least one counted quantity.", field="counted")
    now = utcnow()
    entries = []
    for entry in counts:
        if not isinstance(entry, dict):
            raise ValidationError("A counted quantity could not be read.")
        line_id = entry.get("line_id")
        line = (
            session.get(StockCountLine, line_id)
            if isinstance(line_id, int) and not isinstance(line_id, bool)
            else None
        )
        if line is None or line.count_id != count.id:
            raise ValidationError(f"That line is not on {count.reference}.", field="line_id")
        counted = whole_number(
            entry.get("counted"), field=f"counted:{line.id}", label="The counted quantity", minimum=0
        )
        entries.append((line, counted))
    for line, counted in sorted(entries, key=lambda e: e[0].lot_id):
        line.counted_quantity, line.counted_by, line.counted_at = counted, actor.username, now
        line.expected_quantity = balance_now(session, location.id, line.lot_id)
    audit_stock(
        session,
        actor,
        "inventory.count_enter",
        target_type="stock_count",
        target_id=count.id,
        detail=f"{count.reference}: {len(entries)} line(s) counted at {location.name}",
    )
    session.commit()
    return len(entries)


def _lot_found(session: Session, item: StockItem, lot_number, expiry_date) -> StockLot:
    """The lot a found line is about, created if the hospital never had it (a tracked item needs
    its expiry then)."""
    number = UNTRACKED_LOT if not item.track_lots else clean_text(lot_number, MAX_LOT)
    if number is None or (item.track_lots and number == UNTRACKED_LOT):
        raise ValidationError(f"{item.name} is tracked by lot: enter the lot number.", field="lot_number")
    expiry = read_expiry(expiry_date) if item.track_lots else None
    query = select(StockLot).where(StockLot.item_id == item.id, StockLot.lot_number == number)
    lot = session.execute(query).scalar_one_or_none()
    if lot is not None:
        if expiry is not None and lot.expiry_date != expiry:
            on_record = f"{lot.expiry_date:%d %b %Y}" if lot.expiry_date else "no expiry"
            raise ValidationError(
                f"Lot {number} of {item.name} is on record with {on_record}: check the label.",
                field="expiry_date",
            )
        return lot
    if item.track_lots and expiry is None:
        raise ValidationError(f"Lot {number} is new: enter its expiry date.", field="expiry_date")
    try:
        with session.begin_nested():
            lot = StockLot(
                item_id=item.id,
                lot_number=number,
                expiry_date=expiry,
                unit_cost_cents=item.average_cost_cents,
            )
            session.add(lot)
            session.flush()
    except IntegrityError:
        lot = session.execute(query).scalar_one()
    return lot


@returns_frozen
def add_found_lot(
    session: Session,
    *,
    actor: Actor,
    count_id: int,
    item_id: int,
    counted,
    lot_number: str | None = None,
    expiry_date=None,
) -> StockCountLine:
    """Add to the sheet a lot found on the shelf that is not on the book (book 0), with its count."""
    may_work_stores(actor, KEEP)
    count, location = _counting(session, actor, count_id)
    item = get_item(session, item_id, active=False)
    if count.kind == "cycle":
        on_sheet = session.execute(
            select(StockCountLine.id).where(
                StockCountLine.count_id == count.id, StockCountLine.item_id == item.id
            )
        ).first()
        if on_sheet is None:
            raise ValidationError(
                f"{item.name} is not part of this cycle count: count it in another count.", field="item_id"
            )
    quantity = whole_number(counted, field="counted", label="The counted quantity", minimum=0)
    lot = _lot_found(session, item, lot_number, expiry_date)
    exists = session.execute(
        select(StockCountLine.id).where(StockCountLine.count_id == count.id, StockCountLine.lot_id == lot.id)
    ).first()
    if exists is not None:
        raise ValidationError(f"The {describe_lot(lot)} is on the sheet already: enter its count there.")
    line = StockCountLine(
        count_id=count.id,
        item_id=item.id,
        lot_id=lot.id,
        book_quantity=0,
        counted_quantity=quantity,
        counted_by=actor.username,
        counted_at=utcnow(),
        expected_quantity=balance_now(session, location.id, lot.id),
    )
    try:
        with session.begin_nested():
            session.add(line)
            session.flush()
    except IntegrityError:
        raise Conflict(f"The {describe_lot(lot)} was added to the sheet a moment ago.") from None
    audit_stock(
        session,
        actor,
        "inventory.count_found",
        target_type="stock_count",
        target_id=count.id,
        detail=f"{count.reference}: {quantity:,} {item.base_unit} of {item.code} {item.name}, {describe_lot(lot)}, "
        "found (not on the book)",
    )
    session.commit()
    return line


@returns_frozen
def submit_count(session: Session, *, actor: Actor, count_id: int) -> StockCount:
    """Hand a fully counted sheet over for approval."""
    may_work_stores(actor, KEEP)
    count, location = _counting(session, actor, count_id)
    waiting = session.execute(
        select(func.count(StockCountLine.id)).where(
            StockCountLine.count_id == count.id, StockCountLine.counted_quantity.is_(None)
        )
    ).scalar_one()
    if waiting:
        raise ValidationError(
            f"{waiting} line(s) of {count.reference} are not counted yet: count every line first."
        )
    count.status, count.submitted_at, count.submitted_by = "submitted", utcnow(), actor.username
    audit_stock(
        session,
        actor,
        "inventory.count_submit",
        target_type="stock_count",
        target_id=count.id,
        detail=f"{count.reference} at {location.name} submitted for approval",
    )
    session.commit()
    return count


def _submitted(session: Session, actor: Actor, count_id) -> StockCount:
    authorize(actor, APPROVE)
    count = get_count(session, count_id, lock=True)
    if count.status != "submitted":
        raise Conflict(f"{count.reference} is {_status(count)}: only a submitted count is reviewed.")
    return count


@returns_frozen
def return_count(session: Session, *, actor: Actor, count_id: int, reason: str) -> StockCount:
    """Send a submitted count back to be counted again (a variance to check on the shelf)."""
    count = _submitted(session, actor, count_id)
    reason = clean_reason(reason, required=True, what="the count goes back")
    count.status, count.submitted_at, count.submitted_by = "counting", None, None
    audit_stock(
        session,
        actor,
        "inventory.count_return",
        target_type="stock_count",
        target_id=count.id,
        detail=f"{count.reference} sent back for a recount: {reason}",
    )
    session.commit()
    return count


@returns_frozen
def approve_count(session: Session, *, actor: Actor, count_id: int) -> StockCount:
    """Approve a submitted count (a second person) and post its variances to the ledger, together."""
    count = _submitted(session, actor, count_id)
    counters = set(
        session.execute(
            select(StockCountLine.counted_by).where(StockCountLine.count_id == count.id).distinct()
        ).scalars()
    )
    if actor.username == count.submitted_by or actor.username in counters:
        raise Forbidden(f"You counted {count.reference}: a second person must approve its variances.")
    location = get_location(session, count.location_id, active=False)
    # The approval is the authority for the variance moves: an approver (a manager) need not
    # otherwise keep this store.
    poster = replace(actor, permissions=actor.permissions | {MANAGE})
    lines = session.execute(
        select(StockCountLine, StockItem, StockLot)
        .join(StockItem, StockItem.id == StockCountLine.item_id)
        .join(StockLot, StockLot.id == StockCountLine.lot_id)
        .where(
            StockCountLine.count_id == count.id,
            StockCountLine.counted_quantity != StockCountLine.expected_quantity,
        )
        .order_by(StockCountLine.item_id, StockCountLine.lot_id)
    ).all()
    for line, item, lot in lines:
        delta = line.counted_quantity - line.expected_quantity
        try:
            adjust_stock(
                session,
                actor=poster,
                item_id=item.id,
                location_id=location.id,
                lot_id=lot.id,
                change=delta,
                reason=f"{count.reference}: counted {line.counted_quantity:,}, expected {line.expected_quantity:,}",
                kind="count_variance",
                count_id=count.id,
                commit=False,
            )
        except ValidationError:
            raise ValidationError(
                f"The variance of {item.name}, {describe_lot(lot)} ({delta:+,} {item.base_unit}) cannot be posted: "
                f"{location.name} holds less of it now than the count takes off. Send the count back for a recount."
            ) from None
    count.status, count.approved_at, count.approved_by = "approved", utcnow(), actor.username
    audit_stock(
        session,
        actor,
        "inventory.count_approve",
        target_type="stock_count",
        target_id=count.id,
        detail=f"{count.reference} at {location.name} approved: {len(lines)} variance(s) posted",
    )
    session.commit()
    if lines:
        live.publish(STOCK, location.id)
    return count


@returns_frozen
def cancel_count(session: Session, *, actor: Actor, count_id: int, reason: str) -> StockCount:
    """Abandon a count that is not approved: nothing is posted."""
    if not (actor is not None and actor.can(APPROVE)):
        may_work_stores(actor, KEEP)
    count = get_count(session, count_id, lock=True)
    location = get_location(session, count.location_id, active=False)
    if actor is not None and actor.can(APPROVE):
        authorize(actor, APPROVE)  # a reviewer may abandon a count at any store
    else:
        authorize_store(session, actor, location, KEEP)
    if count.status not in OPEN_COUNT:
        raise Conflict(f"{count.reference} is {_status(count)}: it cannot be cancelled.")
    reason = clean_reason(reason, required=True, what="the count is cancelled")
    count.status = "cancelled"
    audit_stock(
        session,
        actor,
        "inventory.count_cancel",
        target_type="stock_count",
        target_id=count.id,
        detail=f"{count.reference} at {location.name} cancelled: {reason}",
    )
    session.commit()
    return count
