"""Reading the catalogue and the stores: the item list with what is on hand, one item with its packs
and levels, the stores, the stores a user may see, and one store's stock with its lots.

Every list is paged and summed in SQL from the balances (never the ledger); the lots of a store's
page of items come in one more query for those items only.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, case, func, literal, or_, select, union
from sqlmodel import Session

from hms_app.clock import local_today
from hms_app.errors import NotFound
from hms_app.models.inventory import (
    ITEM_CATEGORIES,
    LOCATION_KINDS,
    UNTRACKED_LOT,
    StockBalance,
    StockItem,
    StockLevel,
    StockLocation,
    StockLot,
    StockPackUnit,
    Supplier,
)
from hms_app.models.organization import Department
from hms_app.models.security import AppUser
from hms_app.models.wards import Ward
from hms_app.services import organization
from hms_app.services.inventory.barcodes import code128_svg
from hms_app.services.inventory.catalogue import item_search_condition
from hms_app.services.inventory.common import ISSUE, KEEP, MANAGE
from hms_app.services.permissions import Actor, authorize

READ = "inventory.read"
EXPIRY_WARNING_DAYS = 30
MAX_PAGE = 200


def _page(offset: int, limit: int) -> tuple[int, int]:
    return max(0, int(offset)), max(1, min(int(limit), MAX_PAGE))


@dataclass(frozen=True)
class ItemRow:
    id: int
    code: str
    name: str
    category: str
    base_unit: str
    gtin: str
    chargeable: bool
    charge_code: str
    track_lots: bool
    active: bool
    on_hand: int  # base units in every store


def list_items(
    session: Session,
    *,
    actor: Actor,
    query: str = "",
    category: str = "",
    include_inactive: bool = True,
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[ItemRow], int]:
    """One page of the catalogue by code, with each item's stock in every store."""
    authorize(actor, READ)
    conditions = []
    search = item_search_condition(query)
    if search is not None:
        conditions.append(search)
    if category in ITEM_CATEGORIES:
        conditions.append(StockItem.category == category)
    if not include_inactive:
        conditions.append(StockItem.active.is_(True))
    total = session.execute(select(func.count(StockItem.id)).where(*conditions)).scalar_one()
    on_hand = (
        select(func.coalesce(func.sum(StockBalance.quantity), 0))
        .where(StockBalance.item_id == StockItem.id)
        .scalar_subquery()
    )
    offset, limit = _page(offset, limit)
    rows = session.execute(
        select(StockItem, on_hand).where(*conditions).order_by(StockItem.code).offset(offset).limit(limit)
    ).all()
    return [_item_row(i, int(held)) for i, held in rows], int(total)


def _item_row(i: StockItem, held: int) -> ItemRow:
    return ItemRow(
        i.id,
        i.code,
        i.name,
        i.category,
        i.base_unit,
        i.gtin or "",
        i.chargeable,
        i.charge_code or "",
        i.track_lots,
        i.active,
        held,
    )


@dataclass(frozen=True)
class PackRow:
    id: int
    name: str
    base_quantity: int
    gtin: str


@dataclass(frozen=True)
class LevelRow:
    location_id: int
    store: str
    min_quantity: int
    reorder_point: int
    max_quantity: int
    bin: str
    on_hand: int


@dataclass(frozen=True)
class ItemDetail:
    item: ItemRow
    supplier_id: int | None
    supplier: str
    order_pack_size: int
    packs: list[PackRow]
    levels: list[LevelRow]


def item_detail(session: Session, *, actor: Actor, item_id: int) -> ItemDetail:
    """One item with its packs and its levels at each store (and what each store holds)."""
    authorize(actor, READ)
    item = session.get(StockItem, item_id) if isinstance(item_id, int) else None
    if item is None:
        raise NotFound("That stock item does not exist.")
    total = session.execute(
        select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(StockBalance.item_id == item.id)
    ).scalar_one()
    row = _item_row(item, int(total))
    packs = session.execute(
        select(StockPackUnit).where(StockPackUnit.item_id == item.id).order_by(StockPackUnit.base_quantity)
    ).scalars()
    held = (
        select(func.coalesce(func.sum(StockBalance.quantity), 0))
        .where(StockBalance.item_id == item.id, StockBalance.location_id == StockLevel.location_id)
        .scalar_subquery()
    )
    levels = session.execute(
        select(StockLevel, StockLocation.name, held)
        .join(StockLocation, StockLocation.id == StockLevel.location_id)
        .where(StockLevel.item_id == item.id)
        .order_by(StockLocation.name)
    ).all()
    supplier = session.get(Supplier, item.supplier_id) if item.supplier_id else None
    return ItemDetail(
        row,
        item.supplier_id,
        supplier.name if supplier else "",
        item.order_pack_size,
        [PackRow(p.id, p.name, p.base_quantity, p.gtin or "") for p in packs],
        [
            LevelRow(
                lv.location_id,
                store,
                lv.min_quantity,
                lv.reorder_point,
                lv.max_quantity,
                lv.bin or "",
                int(on_hand),
            )
            for lv, store, on_hand in levels
        ],
    )


@dataclass(frozen=True)
class StoreRow:
    id: int
    code: str
    name: str
    kind: str
    department_id: int | None
    department: str
    ward_id: int | None
    ward: str
    active: bool
    items_held: int


def list_stores(session: Session, *, actor: Actor) -> list[StoreRow]:
    """Every store with its department, ward and how many items it holds."""
    authorize(actor, READ)
    held = (
        select(func.count(func.distinct(StockBalance.item_id)))
        .where(StockBalance.location_id == StockLocation.id, StockBalance.quantity > 0)
        .scalar_subquery()
    )
    rows = session.execute(
        select(StockLocation, Department.name, Ward.name, held)
        .outerjoin(Department, Department.id == StockLocation.department_id)
        .outerjoin(Ward, Ward.id == StockLocation.ward_id)
        .order_by(StockLocation.active.desc(), StockLocation.name)
        .limit(500)
    ).all()
    return [
        StoreRow(
            s.id,
            s.code,
            s.name,
            s.kind,
            s.department_id,
            dept or "",
            s.ward_id,
            ward or "",
            s.active,
            int(n),
        )
        for s, dept, ward, n in rows
    ]


@dataclass(frozen=True)
class Choices:
    """What the catalogue's forms offer: (id or code, label) pairs."""

    categories: list[tuple[str, str]]
    kinds: list[tuple[str, str]]
    departments: list[tuple[int, str]]
    wards: list[tuple[int, str]]
    suppliers: list[tuple[int, str]]


def catalogue_choices(session: Session, *, actor: Actor) -> Choices:
    authorize(actor, READ)
    wards = session.execute(select(Ward.id, Ward.name).where(Ward.active.is_(True)).order_by(Ward.name)).all()
    suppliers = session.execute(
        select(Supplier.id, Supplier.name).where(Supplier.active.is_(True)).order_by(Supplier.name)
    ).all()
    return Choices(
        list(ITEM_CATEGORIES.items()),
        list(LOCATION_KINDS.items()),
        organization.active_departments(session),
        [(int(i), n) for i, n in wards],
        [(int(i), n) for i, n in suppliers],
    )


@dataclass(frozen=True)
class StoreChoice:
    id: int
    code: str
    name: str
    kind: str
    can_issue: bool
    can_keep: bool


def _department_of(session: Session, actor: Actor) -> int | None:
    return session.execute(
        select(AppUser.department_id).where(AppUser.id == actor.user_id)
    ).scalar_one_or_none()


def visible_stores(session: Session, *, actor: Actor) -> list[StoreChoice]:
    """The open stores this user may look at, and whether they may issue or keep stock at each.

    A storekeeper sees every store; staff of a department see their department's stores; a reader
    who belongs to no department (a manager) sees every store but works none."""
    authorize(actor, READ)
    query = select(StockLocation).where(StockLocation.active.is_(True)).order_by(StockLocation.name)
    manage = actor.can(MANAGE)
    department_id = None if manage else _department_of(session, actor)
    if not manage and department_id is not None:
        query = query.where(StockLocation.department_id == department_id)
    stores = session.execute(query.limit(500)).scalars()
    return [
        StoreChoice(
            s.id,
            s.code,
            s.name,
            s.kind,
            manage or (actor.can(ISSUE) and s.department_id is not None and s.department_id == department_id),
            manage or (actor.can(KEEP) and s.department_id is not None and s.department_id == department_id),
        )
        for s in stores
    ]


def visible_store(session: Session, actor: Actor, location_id) -> StoreChoice:
    """One store this user may look at, or NotFound (the same answer for one they may not)."""
    for store in visible_stores(session, actor=actor):
        if store.id == location_id:
            return store
    raise NotFound("That store does not exist or is not one of yours.")


@dataclass(frozen=True)
class LotLine:
    lot_id: int
    lot_number: str  # "" for untracked stock
    expiry_date: date | None
    quantity: int
    expired: bool
    expiring: bool  # within EXPIRY_WARNING_DAYS


@dataclass(frozen=True)
class StoreStockRow:
    item_id: int
    code: str
    name: str
    base_unit: str
    track_lots: bool
    chargeable: bool
    on_hand: int
    usable: int  # not expired
    expired: int
    next_expiry: date | None
    min_quantity: int | None  # None: no levels set at this store
    reorder_point: int | None
    max_quantity: int | None
    bin: str
    flag: str  # "" | "out" | "below_min" | "reorder"
    lots: list[LotLine]


def level_flag(usable: int, minimum: int | None, reorder: int | None) -> str:
    """Where the usable stock stands against the store's levels."""
    if minimum is None or reorder is None:
        return ""
    if usable <= 0:
        return "out"
    if usable <= minimum:
        return "below_min"
    if usable <= reorder:
        return "reorder"
    return ""


def store_stock(
    session: Session,
    *,
    actor: Actor,
    location_id: int,
    query: str = "",
    low_only: bool = False,
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[StoreStockRow], int]:
    """One page of a store's items (those it holds or keeps levels for) with on-hand, usable and
    expired stock, levels and flags; each with its lots in stock, first expiry first."""
    authorize(actor, READ)
    store = visible_store(session, actor, location_id)
    today = local_today()
    usable_lot = or_(StockLot.expiry_date.is_(None), StockLot.expiry_date >= today)
    held = (
        select(
            StockBalance.item_id.label("item_id"),
            func.sum(StockBalance.quantity).label("on_hand"),
            func.coalesce(func.sum(case((usable_lot, StockBalance.quantity), else_=0)), 0).label("usable"),
            func.min(StockLot.expiry_date).label("next_expiry"),
        )
        .join(StockLot, StockLot.id == StockBalance.lot_id)
        .where(StockBalance.location_id == store.id, StockBalance.quantity > 0)
        .group_by(StockBalance.item_id)
        .subquery()
    )
    wanted = union(
        select(held.c.item_id.label("item_id")),
        select(StockLevel.item_id.label("item_id")).where(StockLevel.location_id == store.id),
    ).subquery()
    usable = func.coalesce(held.c.usable, literal(0))
    conditions = []
    search = item_search_condition(query)
    if search is not None:
        conditions.append(search)
    if low_only:
        conditions.append(and_(StockLevel.id.is_not(None), usable <= StockLevel.reorder_point))
    base = (
        select(
            StockItem,
            func.coalesce(held.c.on_hand, literal(0)),
            usable,
            held.c.next_expiry,
            StockLevel,
        )
        .select_from(wanted)
        .join(StockItem, StockItem.id == wanted.c.item_id)
        .outerjoin(held, held.c.item_id == wanted.c.item_id)
        .outerjoin(
            StockLevel, and_(StockLevel.item_id == wanted.c.item_id, StockLevel.location_id == store.id)
        )
        .where(*conditions)
    )
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    offset, limit = _page(offset, limit)
    rows = session.execute(base.order_by(StockItem.name, StockItem.id).offset(offset).limit(limit)).all()
    lots = _lots(session, store.id, [row[0].id for row in rows], today)
    result = []
    for item, on_hand, good, next_expiry, level in rows:
        minimum = level.min_quantity if level else None
        reorder = level.reorder_point if level else None
        result.append(
            StoreStockRow(
                item.id,
                item.code,
                item.name,
                item.base_unit,
                item.track_lots,
                item.chargeable,
                int(on_hand),
                int(good),
                int(on_hand) - int(good),
                next_expiry,
                minimum,
                reorder,
                level.max_quantity if level else None,
                (level.bin or "") if level else "",
                level_flag(int(good), minimum, reorder),
                lots.get(item.id, []),
            )
        )
    return result, int(total)


def _lots(session: Session, location_id: int, item_ids: list[int], today: date) -> dict[int, list[LotLine]]:
    if not item_ids:
        return {}
    soon = today + timedelta(days=EXPIRY_WARNING_DAYS)
    rows = session.execute(
        select(
            StockBalance.item_id,
            StockLot.id,
            StockLot.lot_number,
            StockLot.expiry_date,
            StockBalance.quantity,
        )
        .join(StockLot, StockLot.id == StockBalance.lot_id)
        .where(
            StockBalance.location_id == location_id,
            StockBalance.item_id.in_(item_ids),
            StockBalance.quantity > 0,
        )
        .order_by(StockLot.expiry_date.is_(None), StockLot.expiry_date, StockLot.id)
    ).all()
    found: dict[int, list[LotLine]] = {}
    for item_id, lot_id, number, expiry, quantity in rows:
        expired = expiry is not None and expiry < today
        found.setdefault(item_id, []).append(
            LotLine(
                lot_id,
                "" if number == UNTRACKED_LOT else number,
                expiry,
                int(quantity),
                expired,
                expiry is not None and not expired and expiry <= soon,
            )
        )
    return found


@dataclass(frozen=True)
class ItemLabel:
    item_id: int
    code: str
    name: str
    base_unit: str
    gtin: str
    barcode_svg_data_url: str  # the item code as Code 128


def item_label(session: Session, *, actor: Actor, item_id: int) -> ItemLabel:
    """What a shelf or bin label of an item shows: its code as a Code 128 barcode, name and unit."""
    authorize(actor, READ)
    item = session.get(StockItem, item_id) if isinstance(item_id, int) else None
    if item is None:
        raise NotFound("That stock item does not exist.")
    svg = code128_svg(item.code)
    data_url = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return ItemLabel(item.id, item.code, item.name, item.base_unit, item.gtin or "", data_url)
