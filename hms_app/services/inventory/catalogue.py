"""The stock catalogue: items (with their GTINs, price codes and lot tracking), the packs they come
in, the stores, and each item's replenishment levels at a store.

Only a storekeeper (``inventory.manage``) changes the catalogue; every change is audited with what
it was before. A form's mistakes are reported together, field by field (``InvalidFields``).
The lists that show the catalogue are in ``catalogue_views``.
"""

from __future__ import annotations

import re

from biip import ParseError
from biip.gtin import Gtin
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.errors import FieldErrors, NotFound, ValidationError
from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.inventory import (
    ITEM_CATEGORIES,
    LOCATION_KINDS,
    UNTRACKED_LOT,
    StockBalance,
    StockItem,
    StockLevel,
    StockLocation,
    StockLot,
    StockMove,
    StockPackUnit,
    Supplier,
)
from hms_app.models.organization import Department
from hms_app.models.wards import Ward
from hms_app.services.inventory.common import MANAGE, audit_stock, units, whole_number
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen

CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9\-_.]{1,29}")
STORE_CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9\-_.]{1,19}")
UNIT_PATTERN = re.compile(r"[a-z][a-z0-9 .\-]{0,19}")
MAX_LEVEL = 1_000_000
YES = ("on", "true", "1", "yes")


def _flag(value) -> bool:
    return value is True or str(value or "").strip().lower() in YES


def _text(data: dict, key: str) -> str:
    return " ".join(str(data.get(key) or "").split())


def _optional_id(value, errors: FieldErrors, field: str, label: str) -> int | None:
    raw = str(value or "").strip()
    if raw in ("", "none", "0"):
        return None
    if not raw.isdigit() or len(raw) > 12:
        errors.add(field, f"Choose the {label} from the list.")
        return None
    return int(raw)


def normalize_gtin(value, *, field: str = "gtin") -> str | None:
    """A GTIN as typed (8, 12, 13 or 14 digits) checked by its check digit, as GTIN-14; None if blank."""
    raw = re.sub(r"[\s-]", "", str(value or ""))
    if not raw:
        return None
    if not raw.isdigit() or len(raw) not in (8, 12, 13, 14):
        raise ValidationError("A GTIN has 8, 12, 13 or 14 digits.", field=field)
    try:
        return Gtin.parse(raw).as_gtin_14()
    except ParseError:
        raise ValidationError(
            f"{raw} is not a valid GTIN: its last digit (the check digit) does not match.", field=field
        ) from None


def _gtin_forms(gtin14: str) -> tuple[str, ...]:
    """Every way the same GTIN may be stored (GTIN-14, or the shorter GTIN it pads)."""
    stripped = gtin14.lstrip("0")
    return tuple({gtin14, stripped.zfill(13), stripped.zfill(12), stripped.zfill(8)})


def _gtin_owner(
    session: Session, gtin14: str, *, item_id: int | None = None, pack_id: int | None = None
) -> str | None:
    """Who already carries this GTIN (an item or a pack), other than the one being saved."""
    forms = _gtin_forms(gtin14)
    item = session.execute(
        select(StockItem.code, StockItem.name)
        .where(StockItem.gtin.in_(forms), StockItem.id != (item_id or 0))
        .limit(1)
    ).first()
    if item is not None:
        return f"{item.code} {item.name}"
    pack = session.execute(
        select(StockPackUnit.name, StockItem.code)
        .join(StockItem, StockItem.id == StockPackUnit.item_id)
        .where(StockPackUnit.gtin.in_(forms), StockPackUnit.id != (pack_id or 0))
        .limit(1)
    ).first()
    return f"the {pack.name} of {pack.code}" if pack is not None else None


def _check_gtin(session: Session, errors: FieldErrors, value, *, item_id=None, pack_id=None) -> str | None:
    gtin = errors.check(normalize_gtin, value)
    if gtin is not None:
        owner = _gtin_owner(session, gtin, item_id=item_id, pack_id=pack_id)
        if owner is not None:
            errors.add("gtin", f"The GTIN {gtin} is already on {owner}: one GTIN, one product.")
            return None
    return gtin


def _held(session: Session, item_id: int, *, tracked_only: bool = False) -> int:
    """Base units of the item in every store (of its tracked lots only, if asked)."""
    query = select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(StockBalance.item_id == item_id)
    if tracked_only:
        query = query.join(StockLot, StockLot.id == StockBalance.lot_id).where(
            StockLot.lot_number != UNTRACKED_LOT
        )
    return int(session.execute(query).scalar_one())


def _has_moves(session: Session, item_id: int) -> bool:
    return (
        session.execute(select(StockMove.id).where(StockMove.item_id == item_id).limit(1)).first() is not None
    )


def _charge_code(session: Session, errors: FieldErrors, chargeable: bool, value) -> str | None:
    code = str(value or "").strip().upper()
    if not chargeable:
        return None
    if not code:
        errors.add("charge_code", "A chargeable item needs its price code from the service catalogue.")
        return None
    active = session.execute(
        select(ChargeItemDefinition.active).where(ChargeItemDefinition.code == code)
    ).scalar_one_or_none()
    if active is None:
        errors.add("charge_code", f"There is no service with the code {code} in the catalogue.")
    elif not active:
        errors.add("charge_code", f"The service {code} is retired: choose an active price code.")
    return code


def _changes(before: dict, after: dict) -> str:
    changed = [f"{key} {before[key]!s} -> {after[key]!s}" for key in after if before.get(key) != after[key]]
    return "; ".join(changed) or "no change"


def _save(session: Session, actor: Actor, model, row, values: dict, *, what: str, added: str, action: str):
    """Add ``row`` (None: a new ``model`` row) or change it to ``values``, audited with what changed;
    a code another row already has is refused."""
    before = {key: getattr(row, key) for key in values} if row is not None else {}
    if row is None:
        row = model(**values)
    else:
        for key, value in values.items():
            setattr(row, key, value)
    code, name = values["code"], values["name"]
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise ValidationError(f"Another {what} already has the code {code}.", field="code") from None
    audit_stock(
        session,
        actor,
        action,
        target_type=model.__tablename__,
        target_id=row.id,
        detail=f"{added} {code} {name}" if not before else f"changed {code}: {_changes(before, values)}",
    )
    session.commit()
    return row


@returns_frozen
def save_item(session: Session, *, actor: Actor, data: dict, item_id: int | None = None) -> StockItem:
    """Add a stock item or change one; every mistake in the form is reported at once."""
    authorize(actor, MANAGE)
    item = None
    if item_id is not None:
        item = session.get(StockItem, item_id) if isinstance(item_id, int) else None
        if item is None:
            raise NotFound("That stock item does not exist.")
    errors = FieldErrors()
    code = _text(data, "code").upper()
    if not CODE_PATTERN.fullmatch(code):
        errors.add("code", "The code has 2 to 30 capital letters, digits, dots or dashes (e.g. SYR-10).")
    elif session.execute(
        select(StockItem.id).where(StockItem.code == code, StockItem.id != (item_id or 0))
    ).first():
        errors.add("code", f"Another item already has the code {code}.")
    name = _text(data, "name")
    if not 2 <= len(name) <= 160:
        errors.add("name", "Enter the item's name (2 to 160 characters).")
    category = _text(data, "category").lower()
    if category not in ITEM_CATEGORIES:
        errors.add("category", "Choose the category.")
    base_unit = _text(data, "base_unit").lower()
    if not UNIT_PATTERN.fullmatch(base_unit):
        errors.add("base_unit", "Enter the unit it is counted in (each, ml, tablet, vial ...).")
    elif item is not None and base_unit != item.base_unit and _has_moves(session, item.id):
        errors.add(
            "base_unit",
            f"{item.name} has stock moves counted in {item.base_unit}: the unit cannot change now.",
        )
    gtin = _check_gtin(session, errors, data.get("gtin"), item_id=item_id)
    chargeable = _flag(data.get("chargeable"))
    charge_code = _charge_code(session, errors, chargeable, data.get("charge_code"))
    track_lots = _flag(data.get("track_lots"))
    if item is not None and item.track_lots and not track_lots:
        tracked = _held(session, item.id, tracked_only=True)
        if tracked:
            errors.add(
                "track_lots",
                f"{units(tracked, item)} of {item.name} are held in lots: lot tracking can be turned off "
                "only when none is in stock.",
            )
    supplier_id = _optional_id(data.get("supplier_id"), errors, "supplier_id", "supplier")
    if (
        supplier_id is not None
        and not session.execute(
            select(Supplier.id).where(Supplier.id == supplier_id, Supplier.active.is_(True))
        ).first()
    ):
        errors.add("supplier_id", "Choose an active supplier.")
    pack_size = errors.check(
        whole_number,
        data.get("order_pack_size") or 1,
        field="order_pack_size",
        label="The order pack size",
        maximum=100_000,
    )
    active = _flag(data.get("active", "on"))
    if item is not None and item.active and not active:
        held = _held(session, item.id)
        if held:
            errors.add(
                "active",
                f"{units(held, item)} of {item.name} are still in stock: issue, move or write them off "
                "before it stops being stocked.",
            )
    errors.raise_any()
    values = {
        "code": code,
        "name": name,
        "category": category,
        "base_unit": base_unit,
        "gtin": gtin,
        "chargeable": chargeable,
        "charge_code": charge_code,
        "track_lots": track_lots,
        "supplier_id": supplier_id,
        "order_pack_size": pack_size,
        "active": active,
    }
    return _save(session, actor, StockItem, item, values, what="item", added="added", action="inventory.item")


@returns_frozen
def save_pack(
    session: Session, *, actor: Actor, item_id: int, data: dict, pack_id: int | None = None
) -> StockPackUnit:
    """Add a pack an item comes in (a box of 100) or change one."""
    authorize(actor, MANAGE)
    item = session.get(StockItem, item_id) if isinstance(item_id, int) else None
    if item is None:
        raise NotFound("That stock item does not exist.")
    pack = None
    if pack_id is not None:
        pack = session.get(StockPackUnit, pack_id) if isinstance(pack_id, int) else None
        if pack is None or pack.item_id != item.id:
            raise NotFound(f"That pack of {item.name} does not exist.")
    errors = FieldErrors()
    name = _text(data, "name").lower()
    if not UNIT_PATTERN.fullmatch(name):
        errors.add("name", "Name the pack (box, carton, strip ...), up to 20 characters.")
    elif name == item.base_unit:
        errors.add("name", f"{item.base_unit} is the base unit itself: name the pack it comes in.")
    elif session.execute(
        select(StockPackUnit.id).where(
            StockPackUnit.item_id == item.id, StockPackUnit.name == name, StockPackUnit.id != (pack_id or 0)
        )
    ).first():
        errors.add("name", f"{item.name} already has a pack called {name}.")
    quantity = errors.check(
        whole_number,
        data.get("base_quantity"),
        field="base_quantity",
        label=f"The number of {item.base_unit} in the pack",
        minimum=2,
        maximum=100_000,
    )
    gtin = _check_gtin(session, errors, data.get("gtin"), pack_id=pack_id)
    errors.raise_any()
    before = f" (was {pack.name} = {pack.base_quantity}, GTIN {pack.gtin or '-'})" if pack else ""
    if pack is None:
        pack = StockPackUnit(item_id=item.id, name=name, base_quantity=quantity, gtin=gtin)
    else:
        pack.name, pack.base_quantity, pack.gtin = name, quantity, gtin
    session.add(pack)
    session.flush()
    audit_stock(
        session,
        actor,
        "inventory.pack",
        target_type="stock_item",
        target_id=item.id,
        detail=f"{item.code}: {name} = {quantity:,} {item.base_unit}, GTIN {gtin or '-'}{before}",
    )
    session.commit()
    return pack


def remove_pack(session: Session, *, actor: Actor, pack_id: int) -> str:
    """Take a pack off an item (quantities already received stay in base units)."""
    authorize(actor, MANAGE)
    pack = session.get(StockPackUnit, pack_id) if isinstance(pack_id, int) else None
    if pack is None:
        raise NotFound("That pack does not exist.")
    item = session.get(StockItem, pack.item_id)
    label = f"{pack.name} of {item.code}"
    session.delete(pack)
    audit_stock(
        session,
        actor,
        "inventory.pack",
        target_type="stock_item",
        target_id=item.id,
        detail=f"removed the {label} ({pack.base_quantity:,} {item.base_unit})",
    )
    session.commit()
    return label


@returns_frozen
def save_store(
    session: Session, *, actor: Actor, data: dict, location_id: int | None = None
) -> StockLocation:
    """Open a store or change one: its code, name, kind, the department that works it and its ward."""
    authorize(actor, MANAGE)
    store = None
    if location_id is not None:
        store = session.get(StockLocation, location_id) if isinstance(location_id, int) else None
        if store is None:
            raise NotFound("That store does not exist.")
    errors = FieldErrors()
    code = _text(data, "code").upper()
    if not STORE_CODE_PATTERN.fullmatch(code):
        errors.add("code", "The code has 2 to 20 capital letters, digits, dots or dashes (e.g. W3-STORE).")
    elif session.execute(
        select(StockLocation.id).where(StockLocation.code == code, StockLocation.id != (location_id or 0))
    ).first():
        errors.add("code", f"Another store already has the code {code}.")
    name = _text(data, "name")
    if not 2 <= len(name) <= 120:
        errors.add("name", "Enter the store's name (2 to 120 characters).")
    kind = _text(data, "kind").lower()
    if kind not in LOCATION_KINDS:
        errors.add("kind", "Choose what kind of store it is.")
    department_id = _optional_id(data.get("department_id"), errors, "department_id", "department")
    if (
        department_id is not None
        and not session.execute(
            select(Department.id).where(Department.id == department_id, Department.active.is_(True))
        ).first()
    ):
        errors.add("department_id", "Choose an active department.")
    ward_id = _optional_id(data.get("ward_id"), errors, "ward_id", "ward")
    ward = session.get(Ward, ward_id) if ward_id is not None else None
    if ward_id is not None and (ward is None or not ward.active):
        errors.add("ward_id", "Choose an open ward.")
    elif kind == "ward" and ward is None and errors.ok("ward_id"):
        errors.add("ward_id", "A ward store serves a ward: choose it.")
    if ward is not None and ward.department_id is not None and errors.ok("department_id"):
        if department_id is None:
            department_id = ward.department_id  # the ward's nurses work its store
        elif department_id != ward.department_id:
            errors.add("department_id", f"{ward.name} belongs to another department: choose that one.")
    active = _flag(data.get("active", "on"))
    if store is not None and store.active and not active:
        held = session.execute(
            select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
                StockBalance.location_id == store.id
            )
        ).scalar_one()
        if held:
            errors.add("active", f"{store.name} still holds stock: move or write it off before closing it.")
    errors.raise_any()
    values = {
        "code": code,
        "name": name,
        "kind": kind,
        "department_id": department_id,
        "ward_id": ward_id,
        "active": active,
    }
    return _save(
        session, actor, StockLocation, store, values, what="store", added="opened", action="inventory.store"
    )


def _level_number(data: dict, key: str, label: str, errors: FieldErrors) -> int | None:
    return errors.check(
        whole_number, data.get(key) or 0, field=key, label=label, minimum=0, maximum=MAX_LEVEL
    )


@returns_frozen
def save_level(session: Session, *, actor: Actor, item_id: int, location_id: int, data: dict) -> StockLevel:
    """Set an item's minimum, reorder point, maximum and bin at one store (min <= reorder <= max)."""
    authorize(actor, MANAGE)
    item = session.get(StockItem, item_id) if isinstance(item_id, int) else None
    if item is None:
        raise NotFound("That stock item does not exist.")
    errors = FieldErrors()
    store = session.get(StockLocation, location_id) if isinstance(location_id, int) else None
    if store is None or not store.active:
        errors.add("location_id", "Choose an open store.")
    minimum = _level_number(data, "min_quantity", "The minimum", errors)
    reorder = _level_number(data, "reorder_point", "The reorder point", errors)
    maximum = _level_number(data, "max_quantity", "The maximum", errors)
    if minimum is not None and reorder is not None and reorder < minimum:
        errors.add("reorder_point", "The reorder point must not be below the minimum.")
    if reorder is not None and maximum is not None and maximum < reorder:
        errors.add("max_quantity", "The maximum must not be below the reorder point.")
    if errors.ok("max_quantity") and maximum == 0:
        errors.add("max_quantity", "The maximum must be above zero: it is what the store is filled up to.")
    bin_label = _text(data, "bin")
    if len(bin_label) > 20:
        errors.add("bin", "The bin is at most 20 characters (e.g. A-03-2).")
    errors.raise_any()
    level = session.execute(
        select(StockLevel).where(StockLevel.item_id == item.id, StockLevel.location_id == store.id)
    ).scalar_one_or_none()
    before = (
        f" (was {level.min_quantity}/{level.reorder_point}/{level.max_quantity}, bin {level.bin or '-'})"
        if level
        else ""
    )
    if level is None:
        level = StockLevel(item_id=item.id, location_id=store.id)
    level.min_quantity, level.reorder_point, level.max_quantity = minimum, reorder, maximum
    level.bin = bin_label or None
    try:
        with session.begin_nested():
            session.add(level)
            session.flush()
    except IntegrityError:
        raise ValidationError(
            f"{store.name}'s levels for {item.name} were just set by someone else: reload and try again."
        ) from None
    audit_stock(
        session,
        actor,
        "inventory.level",
        target_type="stock_item",
        target_id=item.id,
        detail=f"{item.code} at {store.name}: min {minimum}, reorder at {reorder}, max {maximum}, "
        f"bin {bin_label or '-'}{before}",
    )
    session.commit()
    return level


def remove_level(session: Session, *, actor: Actor, item_id: int, location_id: int) -> str:
    """Stop replenishing an item at a store (its stock there stays)."""
    authorize(actor, MANAGE)
    level = session.execute(
        select(StockLevel).where(StockLevel.item_id == item_id, StockLevel.location_id == location_id)
    ).scalar_one_or_none()
    if level is None:
        raise NotFound("That item has no levels at that store.")
    item = session.get(StockItem, level.item_id)
    store = session.get(StockLocation, level.location_id)
    session.delete(level)
    audit_stock(
        session,
        actor,
        "inventory.level",
        target_type="stock_item",
        target_id=item.id,
        detail=f"{item.code} at {store.name}: levels removed "
        f"(were {level.min_quantity}/{level.reorder_point}/{level.max_quantity})",
    )
    session.commit()
    return f"{item.name} at {store.name}"


def item_search_condition(query: str):
    """Items whose code starts with, name contains, or GTIN is ``query``."""
    text = (query or "").strip()[:60]
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    conditions = [
        StockItem.code.ilike(f"{escaped}%", escape="\\"),
        StockItem.name.ilike(f"%{escaped}%", escape="\\"),
    ]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 8 and digits == text.replace(" ", ""):
        conditions.append(StockItem.gtin.in_(_gtin_forms(digits.zfill(14)[-14:])))
    return or_(*conditions)
