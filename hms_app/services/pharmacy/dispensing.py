"""Dispensing a verified order from a pharmacy store, and returns.

A dispense draws its lots first-expiry-first-out through the stock ledger's ``issue_stock`` in the
same transaction as the dispense record, so the stock, the patient's charge (posted by the ledger
for a chargeable item, the one charge path), the dispense and its lots, the controlled drug register
line and the audit rows are written together or not at all. Two pharmacists taking the last stock
at once: the ledger's conditional update lets exactly one through; the other is refused with what
the store holds.

Decisions written down:

* quantities are in the order's dispense unit, which must be the stock item's base unit (tablet,
  ampoule, vial): a product linked to an item counted otherwise is refused with a message rather
  than converted by guess;
* a dispense may be less than what is owed (partial): the rest stays owed and the order stays in
  the "to dispense" list. Owed is the ordered quantity less everything dispensed; a return does not
  make it owed again (what came back was not needed);
* a return goes back through the ledger's ``return_stock`` per lot (latest expiry first, the
  first-expiry lots stay with the patient), which lowers or cancels the open charge as inventory does;
* the order row is locked while dispensing, so two dispenses of one order never exceed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlmodel import Session

from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.inventory import StockItem, StockLocation, StockLot
from hms_app.models.pharmacy import (
    FormularyProduct,
    MedicationDispense,
    MedicationDispenseLot,
    MedicationOrder,
    MedicationVerification,
)
from hms_app.models.security import AppUser
from hms_app.services import live
from hms_app.services.counters import take_numbers
from hms_app.services.inventory.common import get_location, whole_number
from hms_app.services.inventory.ledger import STOCK, issue_stock, lots_on_hand
from hms_app.services.inventory.moves import return_stock
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.common import actor_name, as_id, audit_rx, get_order
from hms_app.services.pharmacy.quantity import dispense_amount
from hms_app.services.pharmacy.register import DISPENSE, Witness, check_witness, lock_product, write_line
from hms_app.services.rows import returns_frozen

TOPIC = "pharmacy"
DISPENSE_MISSING = "That dispense does not exist."


@dataclass(frozen=True)
class PlannedLot:
    lot_number: str
    expiry_date: date | None
    quantity: int


@dataclass(frozen=True)
class DispensePlan:
    """What a dispense would take, shown before confirming."""

    order_id: int
    reference: str
    product: str
    controlled: bool
    location_id: int
    location: str
    ordered: int
    dispensed: int
    owed: int
    unit: str
    quantity: int
    lots: tuple[PlannedLot, ...]
    on_hand: int  # usable stock of the item at the store
    short: bool  # the store cannot supply ``quantity``


def dispensed_so_far(session: Session, order_id: int) -> int:
    return session.execute(
        select(func.coalesce(func.sum(MedicationDispense.quantity), 0)).where(
            MedicationDispense.order_id == order_id
        )
    ).scalar_one()


@returns_frozen
def pharmacy_stores(session: Session, actor: Actor) -> list[StockLocation]:
    """The pharmacy stores the actor may dispense from (their department's; all for a storekeeper)."""
    query = select(StockLocation).where(StockLocation.kind == "pharmacy", StockLocation.active.is_(True))
    if not actor.can("inventory.manage"):
        department_id = session.execute(
            select(AppUser.department_id).where(AppUser.id == actor.user_id)
        ).scalar_one_or_none()
        query = query.where(StockLocation.department_id == department_id)
    return list(session.execute(query.order_by(StockLocation.name)).scalars())


def _store(session: Session, actor: Actor, location_id) -> StockLocation:
    if location_id in (None, ""):
        stores = pharmacy_stores(session, actor)
        if len(stores) != 1:
            raise ValidationError("Choose the pharmacy store to dispense from.", field="location_id")
        return stores[0]
    location = get_location(session, as_id(location_id, field="location_id", label="pharmacy store"))
    if location.kind != "pharmacy":
        raise ValidationError(
            f"{location.name} is not a pharmacy: dispense from a pharmacy store.", field="location_id"
        )
    return location


def _dispensable(session: Session, order: MedicationOrder) -> tuple[FormularyProduct, StockItem]:
    if order.status != "active":
        raise Conflict(f"Order {order.reference} is {order.status}: it cannot be dispensed.")
    outcome = session.execute(
        select(MedicationVerification.outcome).where(MedicationVerification.order_id == order.id)
    ).scalar_one_or_none()
    if outcome != "verified":
        word = "was sent back to the prescriber" if outcome == "returned" else "is not verified yet"
        raise Conflict(f"Order {order.reference} {word}: it cannot be dispensed.")
    product = session.get(FormularyProduct, order.product_id)
    item = session.get(StockItem, product.stock_item_id) if product.stock_item_id else None
    if item is None:
        raise ValidationError(f"{product.name} is not linked to a stock item: ask the stores to link it.")
    if item.base_unit != order.dispense_unit:
        raise ValidationError(
            f"{item.name} is counted in {item.base_unit} but the order is in {order.dispense_unit}: "
            "ask the stores to correct the link."
        )
    return product, item


def _quantity(value, owed: int, order: MedicationOrder) -> int:
    if owed <= 0:
        raise Conflict(f"Order {order.reference} has been dispensed in full.")
    if value in (None, ""):
        return owed
    count = whole_number(value, field="quantity", label="Quantity")
    if count > owed:
        raise ValidationError(
            f"Only {dispense_amount(owed, order.dispense_unit)} of {order.reference} "
            f"{'is' if owed == 1 else 'are'} still owed.",
            field="quantity",
        )
    return count


def plan_dispense(
    session: Session, *, actor: Actor, order_id, location_id=None, quantity=None
) -> DispensePlan:
    """The lots a dispense would take (first expiry first), before the pharmacist confirms."""
    authorize(actor, DISPENSE)
    order = get_order(session, order_id)
    product, item = _dispensable(session, order)
    location = _store(session, actor, location_id)
    done = dispensed_so_far(session, order.id)
    owed = order.dispense_quantity - done
    count = _quantity(quantity, owed, order)
    lots, left = [], count
    usable = [lot for lot in lots_on_hand(session, item.id, location.id) if not lot.expired]
    for lot in usable:
        if left == 0:
            break
        step = min(left, lot.quantity)
        lots.append(PlannedLot(lot.lot_number, lot.expiry_date, step))
        left -= step
    return DispensePlan(
        order_id=order.id,
        reference=order.reference,
        product=product.name,
        controlled=product.controlled,
        location_id=location.id,
        location=location.name,
        ordered=order.dispense_quantity,
        dispensed=done,
        owed=owed,
        unit=order.dispense_unit,
        quantity=count,
        lots=tuple(lots),
        on_hand=sum(lot.quantity for lot in usable),
        short=left > 0,
    )


def lots_text(rows: list[tuple[StockLot, int]]) -> str:
    return ", ".join(
        f"{lot.lot_number}" + (f" (exp {lot.expiry_date.isoformat()})" if lot.expiry_date else "") + f" x {n}"
        for lot, n in rows
    )


@returns_frozen
def dispense_order(
    session: Session,
    *,
    actor: Actor,
    order_id,
    location_id=None,
    quantity=None,
    witness_username: str | None = None,
    witness_password: str | None = None,
) -> MedicationDispense:
    """Dispense a verified order (all that is owed, or ``quantity`` of it) from a pharmacy store
    (``pharmacy.dispense``); a controlled product needs a witness."""
    authorize(actor, DISPENSE)
    order = get_order(session, order_id, lock=True)
    product, item = _dispensable(session, order)
    witness: Witness | None = None
    if product.controlled:
        witness = check_witness(session, actor=actor, username=witness_username, password=witness_password)
    location = _store(session, actor, location_id)
    count = _quantity(quantity, order.dispense_quantity - dispensed_so_far(session, order.id), order)
    if product.controlled:
        lock_product(session, product.id)
    moves = issue_stock(
        session,
        actor=actor,
        item_id=item.id,
        location_id=location.id,
        quantity=count,
        patient_id=order.patient_id,
        reason=f"Dispensed for {order.reference}",
        commit=False,
    )
    dispense = MedicationDispense(
        reference=f"DSP-{take_numbers(session, 'medication_dispense')[0]:06d}",
        order_id=order.id,
        patient_id=order.patient_id,
        product_id=product.id,
        location_id=location.id,
        quantity=count,
        dispensed_by_id=actor.user_id,
        dispensed_by=actor_name(actor),
        witness_id=witness.user_id if witness else None,
        witness=witness.name if witness else None,
    )
    session.add(dispense)
    session.flush()
    picked = []
    for move in moves:
        session.add(
            MedicationDispenseLot(
                dispense_id=dispense.id, move_id=move.id, lot_id=move.lot_id, quantity=-move.quantity
            )
        )
        picked.append((session.get(StockLot, move.lot_id), -move.quantity))
    if witness is not None:
        write_line(
            session,
            actor=actor,
            witness=witness,
            product=product,
            location_id=location.id,
            kind="dispense",
            quantity=-count,
            dispense_id=dispense.id,
            patient_id=order.patient_id,
            lots=lots_text(picked),
        )
    owed = order.dispense_quantity - dispensed_so_far(session, order.id)
    audit_rx(
        session,
        actor,
        "pharmacy.dispense",
        patient_id=order.patient_id,
        target_type="medication_dispense",
        target_id=dispense.id,
        detail=f"{dispense.reference} {order.reference} {product.name}: "
        f"{dispense_amount(count, order.dispense_unit)} from "
        f"{location.name} ({lots_text(picked)})"
        + (f"; {owed} still owed" if owed else "")
        + (f"; witnessed by {witness.name}" if witness else ""),
    )
    session.commit()
    live.publish(TOPIC, order.patient_id)
    live.publish(STOCK, location.id)
    if item.chargeable:
        live.publish(live.BILLING, order.patient_id)
    return dispense


def get_dispense(session: Session, dispense_id, *, lock: bool = False) -> MedicationDispense:
    dispense_id = as_id(dispense_id, field="dispense_id", label="dispense")
    dispense = session.get(MedicationDispense, dispense_id, with_for_update=lock or None)
    if dispense is None:
        raise NotFound(DISPENSE_MISSING)
    return dispense


@returns_frozen
def return_dispense(
    session: Session,
    *,
    actor: Actor,
    dispense_id,
    quantity,
    reason,
    witness_username: str | None = None,
    witness_password: str | None = None,
) -> MedicationDispense:
    """Take unused medicine of a dispense back into its store through the ledger's return (the open
    charge is lowered or cancelled); a controlled product needs a witness (``pharmacy.dispense``)."""
    authorize(actor, DISPENSE)
    dispense = get_dispense(session, dispense_id, lock=True)
    product = session.get(FormularyProduct, dispense.product_id)
    order = session.get(MedicationOrder, dispense.order_id)
    left = dispense.quantity - dispense.returned
    count = whole_number(quantity, field="quantity", label="Quantity")
    if count > left:
        raise ValidationError(
            f"Only {dispense_amount(left, order.dispense_unit)} of {dispense.reference} can come back.",
            field="quantity",
        )
    reason = " ".join(str(reason or "").split())[:300]
    if len(reason) < 3:
        raise ValidationError("Say why it comes back.", field="reason")
    witness = None
    if product.controlled:
        witness = check_witness(session, actor=actor, username=witness_username, password=witness_password)
        lock_product(session, product.id)
    lines = list(
        session.execute(
            select(MedicationDispenseLot, StockLot)
            .join(StockLot, StockLot.id == MedicationDispenseLot.lot_id)
            .where(MedicationDispenseLot.dispense_id == dispense.id)
            .order_by(StockLot.expiry_date.desc(), MedicationDispenseLot.id.desc())
        ).all()
    )
    remaining, back = count, []
    for line, lot in lines:
        step = min(remaining, line.quantity - line.returned)
        if step <= 0:
            continue
        return_stock(
            session,
            actor=actor,
            move_id=line.move_id,
            quantity=step,
            reason=f"{dispense.reference}: {reason}",
            commit=False,
        )
        session.execute(
            update(MedicationDispenseLot)
            .where(MedicationDispenseLot.id == line.id)
            .values(returned=MedicationDispenseLot.returned + step)
        )
        back.append((lot, step))
        remaining -= step
        if remaining == 0:
            break
    dispense.returned += count
    session.add(dispense)
    if witness is not None:
        write_line(
            session,
            actor=actor,
            witness=witness,
            product=product,
            location_id=dispense.location_id,
            kind="return",
            quantity=count,
            dispense_id=dispense.id,
            patient_id=dispense.patient_id,
            lots=lots_text(back),
            reason=reason,
        )
    audit_rx(
        session,
        actor,
        "pharmacy.return",
        patient_id=dispense.patient_id,
        target_type="medication_dispense",
        target_id=dispense.id,
        detail=f"{dispense_amount(count, order.dispense_unit)} of {dispense.reference} {product.name} "
        "back to stock "
        f"({lots_text(back)}): {reason}" + (f"; witnessed by {witness.name}" if witness else ""),
    )
    session.commit()
    live.publish(TOPIC, dispense.patient_id)
    live.publish(STOCK, dispense.location_id)
    live.publish(live.BILLING, dispense.patient_id)
    return dispense
