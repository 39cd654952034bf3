"""What the inventory services share: who may work which store, quantities in base units and
packs, the audit row, and loading items, stores and lots with a plain message when they are gone.

Stores belong to departments. A storekeeper (``inventory.manage``) works every store; a nurse or
a technician (``inventory.issue``) issues from the stores of their own department; a pharmacist
(``inventory.keep``) also receives, transfers, adjusts and counts at the pharmacy's stores.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from hms_app.errors import Forbidden, NotFound, ValidationError
from hms_app.models.inventory import StockItem, StockLocation, StockLot, StockPackUnit
from hms_app.models.security import AppUser
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize

MAX_QUANTITY = 1_000_000  # base units in one line: more is a typing slip, not a delivery
ISSUE = "inventory.issue"
KEEP = "inventory.keep"
MANAGE = "inventory.manage"


def authorize_store(session: Session, actor: Actor, location: StockLocation, permission: str) -> Actor:
    """Allow ``permission`` (issue or keep) at this store: anywhere for a storekeeper, at one's own
    department's stores otherwise."""
    if actor is not None and actor.can(MANAGE):
        return authorize(actor, MANAGE)
    authorize(actor, permission)
    department_id = session.execute(
        select(AppUser.department_id).where(AppUser.id == actor.user_id)
    ).scalar_one_or_none()
    if location.department_id is None or department_id != location.department_id:
        verb = "issue from" if permission == ISSUE else "receive, move or count stock at"
        raise Forbidden(f"You can only {verb} the stores of your own department; {location.name} is not one.")
    return actor


def audit_stock(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: object,
    detail: str,
    patient_id: int | None = None,
) -> None:
    record_audit(
        session,
        actor,
        action,
        patient_id=patient_id,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
    )


def whole_number(value, *, field: str, label: str, minimum: int = 1, maximum: int = MAX_QUANTITY) -> int:
    """A whole number typed by a person or sent by a client, or a message saying what is wrong."""
    if isinstance(value, bool):
        raise ValidationError(f"{label} must be a whole number.", field=field)
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ValidationError(f"{label} must be a whole number.", field=field) from None
    if number < minimum:
        raise ValidationError(f"{label} must be at least {minimum}.", field=field)
    if number > maximum:
        raise ValidationError(f"{label} must be at most {maximum:,}.", field=field)
    return number


def get_item(session: Session, item_id, *, active: bool = True) -> StockItem:
    item = session.get(StockItem, item_id) if isinstance(item_id, int) else None
    if item is None:
        raise NotFound("That stock item does not exist.")
    if active and not item.active:
        raise ValidationError(f"{item.name} is no longer stocked.", field="item_id")
    return item


def get_location(session: Session, location_id, *, active: bool = True) -> StockLocation:
    location = session.get(StockLocation, location_id) if isinstance(location_id, int) else None
    if location is None:
        raise NotFound("That store does not exist.")
    if active and not location.active:
        raise ValidationError(f"{location.name} is closed.", field="location_id")
    return location


def get_lot(session: Session, item: StockItem, lot_id) -> StockLot:
    lot = session.get(StockLot, lot_id) if isinstance(lot_id, int) else None
    if lot is None or lot.item_id != item.id:
        raise NotFound(f"That lot of {item.name} does not exist.")
    return lot


def base_quantity(session: Session, item: StockItem, quantity, pack: str | None) -> int:
    """``quantity`` of ``pack`` (a pack unit's name, or the base unit) in base units."""
    count = whole_number(quantity, field="quantity", label="Quantity")
    pack = (pack or "").strip()
    if not pack or pack == item.base_unit:
        return count
    per_pack = session.execute(
        select(StockPackUnit.base_quantity).where(
            StockPackUnit.item_id == item.id, StockPackUnit.name == pack
        )
    ).scalar_one_or_none()
    if per_pack is None:
        raise ValidationError(f"{item.name} does not come in a {pack!r}.", field="pack")
    return whole_number(count * per_pack, field="quantity", label="Quantity in base units")


def units(quantity: int, item: StockItem) -> str:
    """``12 each``, ``250 ml``."""
    return f"{quantity:,} {item.base_unit}"
