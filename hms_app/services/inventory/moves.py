"""Stock moves other than receipts and issues: transfers between stores, adjustments with a reason
(and a count's variances), expiry write-offs, and returns of earlier issues. Each is one or two
immutable ledger rows and a balance change in the same transaction (see ``ledger``).
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlmodel import Session

from hms_app.clock import local_today, utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.billing import ChargeItem
from hms_app.models.inventory import StockBalance, StockMove
from hms_app.services import live
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
from hms_app.services.inventory.ledger import (
    CHARGE_SOURCE,
    STOCK,
    add_to_balance,
    clean_reason,
    describe_lot,
    pick_stock,
    record_move,
    take_from_balance,
    unit_cost,
)
from hms_app.services.permissions import Actor
from hms_app.services.rows import returns_frozen


@returns_frozen
def transfer_stock(
    session: Session,
    *,
    actor: Actor,
    item_id: int,
    from_location_id: int,
    to_location_id: int,
    quantity,
    pack: str | None = None,
    lot_id: int | None = None,
    reason: str | None = None,
    commit: bool = True,
) -> list[StockMove]:
    """Move stock from one store to another (first expiry first, or the named lot)."""
    may_work_stores(actor, KEEP)
    source = get_location(session, from_location_id)
    target = get_location(session, to_location_id)
    if source.id == target.id:
        raise ValidationError("Choose a different store to transfer to.", field="to_location_id")
    authorize_store(session, actor, source, KEEP)
    item = get_item(session, item_id)
    count = base_quantity(session, item, quantity, pack)
    reason = clean_reason(reason, required=False, what="")
    moves: list[StockMove] = []
    for lot, taken in pick_stock(session, item, source, count, lot_id):
        cost = unit_cost(item, lot)
        common = {"item_id": item.id, "lot_id": lot.id, "unit_cost_cents": cost, "reason": reason}
        moves.append(
            record_move(
                session,
                actor,
                kind="transfer_out",
                location_id=source.id,
                other_location_id=target.id,
                quantity=-taken,
                **common,
            )
        )
        moves.append(
            record_move(
                session,
                actor,
                kind="transfer_in",
                location_id=target.id,
                other_location_id=source.id,
                quantity=taken,
                **common,
            )
        )
        add_to_balance(session, item.id, target.id, lot.id, taken)
    audit_stock(
        session,
        actor,
        "inventory.transfer",
        target_type="stock_move",
        target_id=moves[0].id,
        detail=f"{units(count, item)} of {item.code} {item.name} from {source.name} to {target.name}",
    )
    if commit:
        session.commit()
        live.publish(STOCK, source.id)
        live.publish(STOCK, target.id)
    return moves


@returns_frozen
def adjust_stock(
    session: Session,
    *,
    actor: Actor,
    item_id: int,
    location_id: int,
    lot_id: int,
    change,
    reason: str,
    kind: str = "adjustment",
    count_id: int | None = None,
    commit: bool = True,
) -> StockMove:
    """Correct a store's balance of a lot up or down (found, broken, miscounted), with the reason."""
    may_work_stores(actor, KEEP)
    if kind not in ("adjustment", "count_variance"):
        raise ValidationError("Unknown kind of adjustment.", field="kind")
    location = get_location(session, location_id)
    authorize_store(session, actor, location, KEEP)
    item = get_item(session, item_id, active=False)
    lot = get_lot(session, item, lot_id)
    delta = whole_number(change, field="change", label="The change", minimum=-1_000_000)
    if delta == 0:
        raise ValidationError("The change must not be zero.", field="change")
    reason = clean_reason(reason, required=True, what="the stock is adjusted")
    if delta < 0 and not take_from_balance(session, location.id, lot.id, -delta):
        raise ValidationError(
            f"Cannot take {units(-delta, item)} off {describe_lot(lot)}: {location.name} holds less.",
            field="change",
        )
    move = record_move(
        session,
        actor,
        kind=kind,
        item_id=item.id,
        location_id=location.id,
        lot_id=lot.id,
        quantity=delta,
        unit_cost_cents=unit_cost(item, lot),
        reason=reason,
        count_id=count_id,
    )
    if delta > 0:
        add_to_balance(session, item.id, location.id, lot.id, delta)
    audit_stock(
        session,
        actor,
        f"inventory.{kind}",
        target_type="stock_move",
        target_id=move.id,
        detail=f"{delta:+,} {item.base_unit} of {item.code} {item.name}, {describe_lot(lot)}, at {location.name}: {reason}",
    )
    if commit:
        session.commit()
        live.publish(STOCK, location.id)
    return move


@returns_frozen
def write_off_expired(
    session: Session, *, actor: Actor, location_id: int, lot_id: int, item_id: int, reason: str | None = None
) -> StockMove:
    """Take the whole of an expired lot out of a store's stock."""
    may_work_stores(actor, KEEP)
    location = get_location(session, location_id)
    authorize_store(session, actor, location, KEEP)
    item = get_item(session, item_id, active=False)
    lot = get_lot(session, item, lot_id)
    if lot.expiry_date is None or lot.expiry_date >= local_today():
        raise ValidationError(f"The {describe_lot(lot)} has not expired: adjust it instead.", field="lot_id")
    held = session.execute(
        select(StockBalance.quantity)
        .where(StockBalance.location_id == location.id, StockBalance.lot_id == lot.id)
        .with_for_update()
    ).scalar_one_or_none()
    if not held or not take_from_balance(session, location.id, lot.id, held):
        raise Conflict(f"{location.name} holds none of lot {lot.lot_number} any more.")
    move = record_move(
        session,
        actor,
        kind="expiry_writeoff",
        item_id=item.id,
        location_id=location.id,
        lot_id=lot.id,
        quantity=-held,
        unit_cost_cents=unit_cost(item, lot),
        reason=clean_reason(reason, required=False, what="") or f"Expired {lot.expiry_date:%d %b %Y}",
    )
    audit_stock(
        session,
        actor,
        "inventory.expiry_writeoff",
        target_type="stock_move",
        target_id=move.id,
        detail=f"{units(held, item)} of {item.code} {item.name}, {describe_lot(lot)}, at {location.name}",
    )
    session.commit()
    live.publish(STOCK, location.id)
    return move


@returns_frozen
def return_stock(
    session: Session, *, actor: Actor, move_id: int, quantity, reason: str, commit: bool = True
) -> StockMove:
    """Take back into the store part or all of an earlier issue (unused, unopened). A patient's
    open charge for it is reduced or cancelled; an invoiced one is left for billing to credit.
    ``commit=False``: part of a caller's transaction (a pharmacy return), which commits and publishes."""
    may_work_stores(actor, ISSUE)
    issue = session.get(StockMove, move_id) if isinstance(move_id, int) else None
    if issue is None or issue.kind not in ("issue_patient", "issue_department", "maintenance_use"):
        raise NotFound("That issue does not exist.")
    location = get_location(session, issue.location_id, active=False)
    authorize_store(session, actor, location, ISSUE)
    item = get_item(session, issue.item_id, active=False)
    lot = get_lot(session, item, issue.lot_id)
    count = whole_number(quantity, field="quantity", label="Quantity")
    reason = clean_reason(reason, required=True, what="it comes back")
    # Lock the issue's store balance so that two returns of one issue are counted one after the other.
    session.execute(
        select(StockBalance.id)
        .where(StockBalance.location_id == location.id, StockBalance.lot_id == lot.id)
        .with_for_update()
    ).all()
    returned = session.execute(
        select(func.coalesce(func.sum(StockMove.quantity), 0)).where(
            StockMove.kind == "return", StockMove.reference == f"issue {issue.id}"
        )
    ).scalar_one()
    left = -issue.quantity - returned
    if count > left:
        raise ValidationError(
            f"Only {units(left, item)} of that issue can come back ({units(returned, item)} already returned).",
            field="quantity",
        )
    if lot.expiry_date is not None and lot.expiry_date < local_today():
        raise ValidationError(f"Lot {lot.lot_number} has expired: discard it, do not return it to stock.")
    move = record_move(
        session,
        actor,
        kind="return",
        item_id=item.id,
        location_id=location.id,
        lot_id=lot.id,
        quantity=count,
        unit_cost_cents=issue.unit_cost_cents,
        patient_id=issue.patient_id,
        department_id=issue.department_id,
        reference=f"issue {issue.id}",
        reason=reason,
    )
    add_to_balance(session, item.id, location.id, lot.id, count)
    billing_note = _credit_charge(session, actor, issue, count)
    audit_stock(
        session,
        actor,
        "inventory.return",
        patient_id=issue.patient_id,
        target_type="stock_move",
        target_id=move.id,
        detail=f"{units(count, item)} of {item.code} {item.name} back into {location.name}: {reason}{billing_note}",
    )
    if commit:
        session.commit()
        live.publish(STOCK, location.id)
        if billing_note:
            live.publish(live.BILLING, issue.patient_id)
    return move


def _credit_charge(session: Session, actor: Actor, issue: StockMove, count: int) -> str:
    """Lower (or cancel) the open charge of a returned patient issue; say what happened."""
    if issue.kind != "issue_patient":
        return ""
    # An issue split over several lots is charged once, on its first move.
    first = session.execute(
        select(func.min(StockMove.id)).where(
            StockMove.kind == "issue_patient",
            StockMove.patient_id == issue.patient_id,
            StockMove.moved_at == issue.moved_at,
            StockMove.item_id == issue.item_id,
        )
    ).scalar_one()
    charge = session.execute(
        select(ChargeItem).where(ChargeItem.source_type == CHARGE_SOURCE, ChargeItem.source_id == first)
    ).scalar_one_or_none()
    if charge is None:
        return ""
    if charge.status != "open":
        return f"; charge #{charge.id} is already {charge.status}: billing credits it"
    if count >= charge.quantity:
        done = session.execute(
            update(ChargeItem)
            .where(ChargeItem.id == charge.id, ChargeItem.status == "open")
            .values(
                status="void", voided_at=utcnow(), voided_by=actor.username, void_reason="Returned to stock"
            )
        ).rowcount
        return f"; charge #{charge.id} cancelled" if done else ""
    done = session.execute(
        update(ChargeItem)
        .where(ChargeItem.id == charge.id, ChargeItem.status == "open", ChargeItem.quantity > count)
        .values(quantity=ChargeItem.quantity - count)
    ).rowcount
    return f"; charge #{charge.id} lowered by {count}" if done else ""
