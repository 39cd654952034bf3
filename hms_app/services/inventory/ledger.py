"""The stock ledger: every receipt, issue, transfer, adjustment, write-off and return is one
immutable ``stock_move``, and the store's balance of that lot changes in the same transaction.

Stock never goes below zero, however many people issue the same lot at once: a balance goes down
only through ``UPDATE stock_balance SET quantity = quantity - n WHERE ... AND quantity >= n``,
which on PostgreSQL re-reads the row after a concurrent writer commits and on SQLite runs inside
a write transaction that holds the database (BEGIN IMMEDIATE); a CHECK constraint stands behind
it. When the update changes no row the issue is refused with what the store has.

Issues pick lots first-expiry-first-out unless a lot is named (a scanned box); an expired lot is
never issued, only written off. An issue to a patient of a chargeable item posts the charge
through billing's one charge service in the same transaction, so there is never stock gone
without a charge or a charge without the stock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import local_today, utcnow
from hms_app.errors import NotFound, ValidationError
from hms_app.models.inventory import (
    UNTRACKED_LOT,
    StockBalance,
    StockItem,
    StockLocation,
    StockLot,
    StockMove,
)
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.services import live
from hms_app.services.billing.charges import post_charge
from hms_app.services.inventory.common import (
    ISSUE,
    KEEP,
    audit_stock,
    authorize_store,
    base_quantity,
    get_item,
    get_location,
    get_lot,
    may_work_stores,
    units,
    whole_number,
)
from hms_app.services.permissions import Actor
from hms_app.services.rows import returns_frozen

STOCK = "stock"  # the live topic: key = the store's id
CHARGE_SOURCE = "stock"  # charge_item.source_type of an issue to a patient
MAX_REASON = 300
MAX_LOT = 40


def clean_text(value, limit: int) -> str | None:
    text = " ".join(str(value or "").split())
    return text[:limit] or None


def clean_reason(value, *, required: bool, what: str) -> str | None:
    reason = clean_text(value, MAX_REASON)
    if required and (reason is None or len(reason) < 3):
        raise ValidationError(f"Say why {what}.", field="reason")
    return reason


def _expiry(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError("The expiry date must be a date (YYYY-MM-DD).", field="expiry_date") from None


def describe_lot(lot: StockLot) -> str:
    if lot.lot_number == UNTRACKED_LOT:
        return "untracked stock"
    return f"lot {lot.lot_number}" + (f" (expires {lot.expiry_date:%d %b %Y})" if lot.expiry_date else "")


def add_to_balance(session: Session, item_id: int, location_id: int, lot_id: int, quantity: int) -> None:
    """Raise a store's balance of a lot (creating the balance row on its first receipt)."""
    values = {"quantity": StockBalance.quantity + quantity, "updated_at": utcnow()}
    where = (StockBalance.location_id == location_id, StockBalance.lot_id == lot_id)
    if session.execute(update(StockBalance).where(*where).values(**values)).rowcount == 1:
        return
    try:
        with session.begin_nested():
            session.add(
                StockBalance(item_id=item_id, location_id=location_id, lot_id=lot_id, quantity=quantity)
            )
            session.flush()
    except IntegrityError:
        # Another receipt created the row a moment ago: add to it.
        session.execute(update(StockBalance).where(*where).values(**values))


def take_from_balance(session: Session, location_id: int, lot_id: int, quantity: int) -> bool:
    """Lower a store's balance of a lot by ``quantity`` if it holds that much; False if it does not."""
    return (
        session.execute(
            update(StockBalance)
            .where(
                StockBalance.location_id == location_id,
                StockBalance.lot_id == lot_id,
                StockBalance.quantity >= quantity,
            )
            .values(quantity=StockBalance.quantity - quantity, updated_at=utcnow())
        ).rowcount
        == 1
    )


def record_move(session: Session, actor: Actor, *, moved_at=None, **values) -> StockMove:
    move = StockMove(moved_by=actor.username, moved_at=moved_at or utcnow(), **values)
    session.add(move)
    session.flush()
    return move


def _lot_for_receipt(
    session: Session, item: StockItem, lot_number, expiry_date, unit_cost_cents: int
) -> StockLot:
    """The lot a receipt adds to: found by its number, created on its first delivery."""
    if not item.track_lots:
        number, expiry = UNTRACKED_LOT, None
    else:
        number = clean_text(lot_number, MAX_LOT)
        if number is None or number == UNTRACKED_LOT:
            raise ValidationError(f"{item.name} is tracked by lot: enter the lot number.", field="lot_number")
        expiry = _expiry(expiry_date)
        if expiry is None:
            raise ValidationError(
                f"{item.name} is tracked by lot: enter the expiry date.", field="expiry_date"
            )
        if expiry < local_today():
            raise ValidationError(
                f"Lot {number} expired on {expiry:%d %b %Y}: do not accept it into stock.",
                field="expiry_date",
            )
    lot = session.execute(
        select(StockLot).where(StockLot.item_id == item.id, StockLot.lot_number == number)
    ).scalar_one_or_none()
    if lot is None:
        try:
            with session.begin_nested():
                lot = StockLot(
                    item_id=item.id, lot_number=number, expiry_date=expiry, unit_cost_cents=unit_cost_cents
                )
                session.add(lot)
                session.flush()
        except IntegrityError:
            lot = session.execute(
                select(StockLot).where(StockLot.item_id == item.id, StockLot.lot_number == number)
            ).scalar_one()
    if item.track_lots and lot.expiry_date != expiry:
        on_record = f"{lot.expiry_date:%d %b %Y}" if lot.expiry_date else "no expiry"
        raise ValidationError(
            f"Lot {number} of {item.name} is on record with {on_record}, but this delivery says "
            f"{expiry:%d %b %Y}: check the label.",
            field="expiry_date",
        )
    return lot


@returns_frozen
def receive_stock(
    session: Session,
    *,
    actor: Actor,
    item_id: int,
    location_id: int,
    quantity,
    pack: str | None = None,
    lot_number: str | None = None,
    expiry_date=None,
    unit_cost_cents=0,
    reference: str | None = None,
    serial: str | None = None,
    order_line_id: int | None = None,
    reason: str | None = None,
    commit: bool = True,
) -> StockMove:
    """Take a delivery into a store: a receipt move, the lot's balance up, the item's average cost."""
    may_work_stores(actor, KEEP)
    location = get_location(session, location_id)
    authorize_store(session, actor, location, KEEP)
    item = get_item(session, item_id)
    count = base_quantity(session, item, quantity, pack)
    cost = whole_number(unit_cost_cents, field="unit_cost_cents", label="Unit cost", minimum=0, maximum=10**9)
    lot = _lot_for_receipt(session, item, lot_number, expiry_date, cost)
    # Moving-average cost: the stock on hand at its old average plus this delivery at its price.
    # The item row is locked so that two deliveries at once do not both average from the same base.
    locked = session.execute(
        select(StockItem)
        .where(StockItem.id == item.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    on_hand = session.execute(
        select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(StockBalance.item_id == item.id)
    ).scalar_one()
    if on_hand + count > 0:
        locked.average_cost_cents = round(
            (on_hand * locked.average_cost_cents + count * cost) / (on_hand + count)
        )
    move = record_move(
        session,
        actor,
        kind="receipt",
        item_id=item.id,
        location_id=location.id,
        lot_id=lot.id,
        quantity=count,
        unit_cost_cents=cost,
        reference=clean_text(reference, 40),
        reason=clean_text(reason, MAX_REASON),
        serial=clean_text(serial, 40),
        order_line_id=order_line_id,
    )
    add_to_balance(session, item.id, location.id, lot.id, count)
    audit_stock(
        session,
        actor,
        "inventory.receive",
        target_type="stock_move",
        target_id=move.id,
        detail=f"{units(count, item)} of {item.code} {item.name}, {describe_lot(lot)}, into {location.name}"
        + (f" ({move.reference})" if move.reference else ""),
    )
    if commit:
        session.commit()
        live.publish(STOCK, location.id)
    return move


@dataclass(frozen=True)
class LotOnHand:
    lot_id: int
    lot_number: str
    expiry_date: date | None
    quantity: int
    expired: bool


def lots_on_hand(session: Session, item_id: int, location_id: int) -> list[LotOnHand]:
    """A store's lots of an item with stock, in the order they are issued (first expiry first)."""
    today = local_today()
    rows = session.execute(
        select(StockLot.id, StockLot.lot_number, StockLot.expiry_date, StockBalance.quantity)
        .join(StockBalance, StockBalance.lot_id == StockLot.id)
        .where(
            StockBalance.item_id == item_id,
            StockBalance.location_id == location_id,
            StockBalance.quantity > 0,
        )
        .order_by(StockLot.expiry_date.is_(None), StockLot.expiry_date, StockLot.id)
    ).all()
    return [
        LotOnHand(lot_id, number, expiry, quantity, expiry is not None and expiry < today)
        for lot_id, number, expiry, quantity in rows
    ]


def _shortage(
    item: StockItem, location: StockLocation, lots: list[LotOnHand], wanted: int
) -> ValidationError:
    usable = [lot for lot in lots if not lot.expired]
    held = sum(lot.quantity for lot in usable)
    if not usable:
        what = f"{location.name} has no {item.name} that can be issued"
    else:
        by_lot = ", ".join(
            f"{lot.quantity:,} in lot {lot.lot_number}"
            if lot.lot_number != UNTRACKED_LOT
            else f"{lot.quantity:,}"
            for lot in usable
        )
        what = f"{location.name} holds only {units(held, item)} of {item.name} ({by_lot})"
    expired = sum(lot.quantity for lot in lots if lot.expired)
    if expired:
        what += f"; {units(expired, item)} more are expired and must be written off"
    return ValidationError(f"Cannot issue {units(wanted, item)}: {what}.", field="quantity")


def pick_stock(
    session: Session, item: StockItem, location: StockLocation, wanted: int, lot_id: int | None
) -> list[tuple[StockLot, int]]:
    """Take ``wanted`` base units off the store's balances: from the named lot, or first expiry
    first. Returns the lots and how much came from each; refuses without taking anything."""
    today = local_today()
    if lot_id is not None:
        lot = get_lot(session, item, lot_id)
        if lot.expiry_date is not None and lot.expiry_date < today:
            raise ValidationError(
                f"Lot {lot.lot_number} of {item.name} expired on {lot.expiry_date:%d %b %Y}: it cannot be "
                "issued. Write it off instead.",
                field="lot_id",
            )
        if not take_from_balance(session, location.id, lot.id, wanted):
            held = session.execute(
                select(StockBalance.quantity).where(
                    StockBalance.location_id == location.id, StockBalance.lot_id == lot.id
                )
            ).scalar_one_or_none()
            raise ValidationError(
                f"Cannot issue {units(wanted, item)} from lot {lot.lot_number}: {location.name} holds "
                f"{units(held or 0, item)} of it.",
                field="quantity",
            )
        return [(lot, wanted)]
    try:
        with session.begin_nested():  # a shortage gives back what was already taken
            return _take_first_expiry(session, item, location, wanted)
    except _Short:
        pass
    raise _shortage(item, location, lots_on_hand(session, item.id, location.id), wanted)


class _Short(Exception):
    """The store holds less usable stock than the issue asks for."""


def _take_first_expiry(
    session: Session, item: StockItem, location: StockLocation, wanted: int
) -> list[tuple[StockLot, int]]:
    taken: list[tuple[StockLot, int]] = []
    remaining = wanted
    # A concurrent issue may empty a lot between the read and the update: read again and go on.
    for _attempt in range(5):
        lots = lots_on_hand(session, item.id, location.id)
        if sum(lot.quantity for lot in lots if not lot.expired) < remaining:
            raise _Short
        for lot in lots:
            if lot.expired or remaining == 0:
                continue
            step = min(lot.quantity, remaining)
            if take_from_balance(session, location.id, lot.lot_id, step):
                taken.append((session.get(StockLot, lot.lot_id), step))
                remaining -= step
        if remaining == 0:
            return taken
    raise _Short


@returns_frozen
def issue_stock(
    session: Session,
    *,
    actor: Actor,
    item_id: int,
    location_id: int,
    quantity,
    pack: str | None = None,
    lot_id: int | None = None,
    patient_id: int | None = None,
    department_id: int | None = None,
    work_order_id: int | None = None,
    reason: str | None = None,
    serial: str | None = None,
    commit: bool = True,
) -> list[StockMove]:
    """Issue stock from a store to a patient, a department or a maintenance work order; a
    chargeable item issued to a patient is charged to the patient's account in the same transaction."""
    may_work_stores(actor, ISSUE)
    location = get_location(session, location_id)
    authorize_store(session, actor, location, ISSUE)
    item = get_item(session, item_id)
    targets = [value is not None for value in (patient_id, department_id, work_order_id)]
    if sum(targets) != 1:
        raise ValidationError("Issue to one patient, one department or one work order.", field="patient_id")
    patient = None
    if patient_id is not None:
        patient = session.get(Patient, patient_id) if isinstance(patient_id, int) else None
        if patient is None:
            raise NotFound("That patient does not exist.")
        if patient.merged_into_id is not None:
            raise ValidationError("That record was merged into another: issue to the surviving record.")
        if patient.deceased_at is not None:
            raise ValidationError(
                f"{patient.given_name} {patient.family_name} has died: nothing can be issued to them."
            )
        kind = "issue_patient"
    elif department_id is not None:
        if not isinstance(department_id, int) or session.get(Department, department_id) is None:
            raise ValidationError("That department does not exist.", field="department_id")
        kind = "issue_department"
    else:
        kind = "maintenance_use"
    if item.chargeable and patient is not None and not item.charge_code:
        raise ValidationError(f"{item.name} is chargeable but has no price code: ask the stores to set one.")
    count = base_quantity(session, item, quantity, pack)
    reason = clean_reason(reason, required=kind == "issue_department", what="the department takes it")
    picked = pick_stock(session, item, location, count, lot_id)
    # One moment for every lot of one issue: a return of any of its lots finds the issue's charge
    # (posted on the first move) by it.
    issued_at = utcnow()
    moves = [
        record_move(
            session,
            actor,
            moved_at=issued_at,
            kind=kind,
            item_id=item.id,
            location_id=location.id,
            lot_id=lot.id,
            quantity=-taken,
            unit_cost_cents=unit_cost(item, lot),
            patient_id=patient_id,
            department_id=department_id if department_id is not None else location.department_id,
            work_order_id=work_order_id,
            reason=reason,
            serial=clean_text(serial, 40),
        )
        for lot, taken in picked
    ]
    if patient is not None and item.chargeable:
        post_charge(
            session,
            actor=actor,
            patient_id=patient.id,
            code=item.charge_code,
            quantity=count,
            source_type=CHARGE_SOURCE,
            source_id=moves[0].id,
            department_id=location.department_id,
            commit=False,
        )
    lots = ", ".join(f"{taken:,} from {describe_lot(lot)}" for lot, taken in picked)
    audit_stock(
        session,
        actor,
        f"inventory.{kind}",
        patient_id=patient_id,
        target_type="stock_move",
        target_id=moves[0].id,
        detail=f"{units(count, item)} of {item.code} {item.name} from {location.name} ({lots})"
        + (f": {reason}" if reason else ""),
    )
    if commit:
        session.commit()
        live.publish(STOCK, location.id)
        if patient is not None and item.chargeable:
            live.publish(live.BILLING, patient.id)
    return moves


def unit_cost(item: StockItem, lot: StockLot) -> int:
    """What a base unit leaving the store is worth: the lot's price (FIFO) where known."""
    return lot.unit_cost_cents or item.average_cost_cents
