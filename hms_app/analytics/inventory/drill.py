"""What is behind a bar or a cell of the inventory figures: the items, lots, stock levels or orders
that make it, one page at a time or all of them as CSV, paged in SQL. A page's amounts add up to
the bar (``DrillPage.amount_cents`` is the sum over every page)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import and_, case, func, select
from sqlalchemy.sql import Select
from sqlmodel import Session

from hms_app import csv_safe
from hms_app.analytics.finance.common import _month_window
from hms_app.analytics.inventory.common import (
    BAL,
    CSV_CHUNK,
    CSV_MAX_ROWS,
    ITEM,
    ITEM_CATEGORIES,
    LEVEL,
    LOC,
    LOT,
    MOVE,
    PAGE_SIZE,
    PO,
    SUP,
    WINDOW_LABELS,
    WINDOWS,
    InventoryFilters,
    _sum,
    balance_conditions,
    balances_from,
    days_between,
    department_names,
    item_label,
    money,
    unit_value,
    usable,
)
from hms_app.analytics.inventory.flows import consumption_conditions, first_receipts
from hms_app.analytics.inventory.stock import expiry_conditions, level_rows, window_of
from hms_app.clock import to_local
from hms_app.errors import ValidationError

DRILLABLE = {
    "stock_value_by_store": "items",
    "consumption_by_department": "consumed",
    "expiring_by_store": "lots",
    "stock_outs": "levels",
    "slow_movers": "idle",
    "supplier_lead_times": "orders",
}
HEADINGS = {
    "items": ("Item", "Category", "Lots", "On hand", "Value", "Written down"),
    "consumed": ("Item", "Store", "Category", "Quantity", "Value", "Moves"),
    "lots": ("Item", "Lot", "Expiry", "Days left", "Quantity", "Value"),
    "levels": ("Item", "Category", "Bin", "Usable on hand", "Reorder point", "Maximum"),
    "idle": ("Lot", "Expiry", "Received", "Quantity", "Unit value", "Value"),
    "orders": ("Order", "Sent", "First delivery", "Lines", "Promised days", "Days taken"),
}


@dataclass(frozen=True)
class DrillRow:
    cells: tuple[str, str, str, str, str, str]  # three words, then three numbers
    amount_cents: int | None


@dataclass(frozen=True)
class DrillPage:
    title: str
    kind: str
    headings: tuple[str, ...]
    rows: list[DrillRow]
    total: int  # rows behind the figure, over every page
    amount_cents: int | None  # their value: the clicked bar's (None where the figure is a count)
    page: int
    page_size: int


@dataclass(frozen=True)
class _Drill:
    title: str
    kind: str
    query: Select  # has a column "amount" when the figure is money
    order: tuple
    row: Callable[[object], DrillRow]


def _int_key(key: str, what: str) -> int:
    if not isinstance(key, str) or not key.isdigit() or len(key) > 12:
        raise ValidationError(f"Choose a {what} on the chart.")
    return int(key)


def _store(session: Session, key: str, filters: InventoryFilters) -> tuple[int, str]:
    store = _int_key(key, "store")
    if filters.location_id is not None and store != filters.location_id:
        raise ValidationError("That store is not in the chosen filter.")
    name = session.execute(select(LOC.c.name).where(LOC.c.id == store)).scalar_one_or_none()
    if name is None:
        raise ValidationError("That store does not exist.")
    return store, name


def _qty(quantity, unit: str) -> str:
    return f"{int(quantity):,} {unit}"


def _day(value) -> str:
    if value is None:
        return ""
    return (
        value.isoformat()
        if isinstance(value, date) and not hasattr(value, "hour")
        else to_local(value).date().isoformat()
    )


def _items(session: Session, key: str, filters: InventoryFilters) -> _Drill:
    store, name = _store(session, key, filters)
    good = usable(filters.day)
    worth = BAL.c.quantity * unit_value(filters.valuation)
    query = (
        select(
            ITEM.c.id,
            ITEM.c.code,
            ITEM.c.name,
            ITEM.c.category,
            ITEM.c.base_unit,
            func.count().label("lots"),
            _sum(BAL.c.quantity).label("quantity"),
            _sum(case((good, worth), else_=0)).label("amount"),
            _sum(case((good, 0), else_=worth)).label("down"),
        )
        .select_from(balances_from())
        .where(*balance_conditions(replace(filters, location_id=store)))
        .group_by(ITEM.c.id, ITEM.c.code, ITEM.c.name, ITEM.c.category, ITEM.c.base_unit)
    )
    columns = query.selected_columns

    def row(r) -> DrillRow:
        cells = (
            item_label(r.code, r.name),
            ITEM_CATEGORIES.get(r.category, r.category),
            str(r.lots),
            _qty(r.quantity, r.base_unit),
            money(r.amount),
            money(r.down),
        )
        return DrillRow(cells, int(r.amount))

    order = (columns.amount.desc(), columns.down.desc(), ITEM.c.name, ITEM.c.id)
    return _Drill(f"Stock held at {name}", "items", query, order, row)


def _consumed(session: Session, key: str, filters: InventoryFilters) -> _Drill:
    month, _, department = key.partition("|") if isinstance(key, str) else ("", "", "")
    if not re.fullmatch(r"\d{4}-\d{2}", month or ""):
        raise ValidationError("Choose a month on the chart.")
    first, last = _month_window(filters, month)
    narrowed = replace(filters, start=first, end=last)
    if department == "none":
        condition, name = MOVE.c.department_id.is_(None), "no department"
    else:
        department_id = _int_key(department, "department")
        condition = MOVE.c.department_id == department_id
        name = department_names(session, [department_id]).get(department_id, "?")
    query = (
        select(
            ITEM.c.id,
            MOVE.c.location_id,
            ITEM.c.code,
            ITEM.c.name,
            ITEM.c.category,
            ITEM.c.base_unit,
            LOC.c.name.label("store"),
            _sum(-MOVE.c.quantity).label("quantity"),
            _sum(-MOVE.c.quantity * MOVE.c.unit_cost_cents).label("amount"),
            func.count().label("moves"),
        )
        .select_from(MOVE.join(ITEM, ITEM.c.id == MOVE.c.item_id).join(LOC, LOC.c.id == MOVE.c.location_id))
        .where(*consumption_conditions(narrowed), condition)
        .group_by(
            ITEM.c.id,
            MOVE.c.location_id,
            ITEM.c.code,
            ITEM.c.name,
            ITEM.c.category,
            ITEM.c.base_unit,
            LOC.c.name,
        )
    )
    columns = query.selected_columns

    def row(r) -> DrillRow:
        cells = (
            item_label(r.code, r.name),
            r.store,
            ITEM_CATEGORIES.get(r.category, r.category),
            _qty(r.quantity, r.base_unit),
            money(r.amount),
            str(r.moves),
        )
        return DrillRow(cells, int(r.amount))

    order = (columns.amount.desc(), ITEM.c.name, ITEM.c.id, MOVE.c.location_id)
    return _Drill(f"Consumed by {name} in {month}", "consumed", query, order, row)


def _lots(session: Session, key: str, filters: InventoryFilters) -> _Drill:
    store_key, _, window = key.partition("|") if isinstance(key, str) else ("", "", "")
    if window not in WINDOWS:
        raise ValidationError("Choose a cell of the chart.")
    store, name = _store(session, store_key, filters)
    day = filters.day
    narrowed = replace(filters, location_id=store)
    query = (
        select(
            LOT.c.id,
            ITEM.c.code,
            ITEM.c.name,
            ITEM.c.base_unit,
            LOT.c.lot_number,
            LOT.c.expiry_date,
            BAL.c.quantity,
            (BAL.c.quantity * unit_value(filters.valuation)).label("amount"),
        )
        .select_from(balances_from())
        .where(*expiry_conditions(narrowed), window_of(day) == window)
    )

    def row(r) -> DrillRow:
        left = (r.expiry_date - day).days
        cells = (
            item_label(r.code, r.name),
            r.lot_number,
            r.expiry_date.isoformat(),
            f"{left:,}" if left >= 0 else f"expired {-left:,} d ago",
            _qty(r.quantity, r.base_unit),
            money(r.amount),
        )
        return DrillRow(cells, int(r.amount))

    order = (LOT.c.expiry_date, ITEM.c.name, LOT.c.id)
    if window == "expired":
        title = f"Expired stock at {name}"
    else:
        title = f"Expiring {WINDOW_LABELS[window].lower()} at {name}"
    return _Drill(title, "lots", query, order, row)


def _levels(session: Session, key: str, filters: InventoryFilters) -> _Drill:
    store_key, _, series = key.partition("|") if isinstance(key, str) else ("", "", "")
    if series not in ("out", "low"):
        raise ValidationError("Choose a bar of the chart.")
    store, name = _store(session, store_key, filters)
    levels = level_rows(replace(filters, location_id=store))
    condition = (
        levels.c.usable <= 0
        if series == "out"
        else and_(levels.c.usable > 0, levels.c.usable <= levels.c.reorder_point)
    )
    query = (
        select(
            levels.c.id,
            ITEM.c.code,
            ITEM.c.name,
            ITEM.c.category,
            ITEM.c.base_unit,
            LEVEL.c.bin,
            levels.c.usable,
            levels.c.reorder_point,
            LEVEL.c.max_quantity,
        )
        .select_from(levels.join(ITEM, ITEM.c.id == levels.c.item_id).join(LEVEL, LEVEL.c.id == levels.c.id))
        .where(condition)
    )

    def row(r) -> DrillRow:
        cells = (
            item_label(r.code, r.name),
            ITEM_CATEGORIES.get(r.category, r.category),
            r.bin or "",
            _qty(r.usable, r.base_unit),
            f"{int(r.reorder_point):,}",
            f"{int(r.max_quantity):,}",
        )
        return DrillRow(cells, None)

    title = f"Out of stock at {name}" if series == "out" else f"At or below the reorder point at {name}"
    return _Drill(title, "levels", query, (levels.c.usable, ITEM.c.name, levels.c.id), row)


def _idle(session: Session, key: str, filters: InventoryFilters) -> _Drill:
    item_key, _, store_key = key.partition("-") if isinstance(key, str) else ("", "", "")
    item_id = _int_key(item_key, "bar")
    store, name = _store(session, store_key, filters)
    item = session.execute(select(ITEM.c.code, ITEM.c.name).where(ITEM.c.id == item_id)).first()
    if item is None:
        raise ValidationError("That item does not exist.")
    value = unit_value(filters.valuation)
    query = (
        select(
            LOT.c.id,
            LOT.c.lot_number,
            LOT.c.expiry_date,
            LOT.c.received_at,
            ITEM.c.base_unit,
            BAL.c.quantity,
            value.label("unit_value"),
            case((usable(filters.day), BAL.c.quantity * value), else_=0).label("amount"),
        )
        .select_from(balances_from())
        .where(*balance_conditions(replace(filters, location_id=store)), BAL.c.item_id == item_id)
    )

    def row(r) -> DrillRow:
        cells = (
            "untracked stock" if r.lot_number == "-" else r.lot_number,
            r.expiry_date.isoformat() if r.expiry_date else "",
            _day(r.received_at),
            _qty(r.quantity, r.base_unit),
            money(r.unit_value),
            money(r.amount),
        )
        return DrillRow(cells, int(r.amount))

    order = (LOT.c.expiry_date, LOT.c.id)
    return _Drill(f"Idle: {item_label(item.code, item.name)} at {name}", "idle", query, order, row)


def _orders(session: Session, key: str, filters: InventoryFilters) -> _Drill:
    supplier = _int_key(key, "supplier")
    name = session.execute(select(SUP.c.name).where(SUP.c.id == supplier)).scalar_one_or_none()
    if name is None:
        raise ValidationError("That supplier does not exist.")
    orders = first_receipts(filters)
    took = days_between(session.get_bind().dialect.name, orders.c.first_at, orders.c.sent_at)
    query = (
        select(
            orders.c.order_id,
            PO.c.reference,
            orders.c.sent_at,
            orders.c.first_at,
            orders.c.lines,
            SUP.c.lead_time_days,
            took.label("took"),
        )
        .select_from(
            orders.join(PO, PO.c.id == orders.c.order_id).join(SUP, SUP.c.id == orders.c.supplier_id)
        )
        .where(orders.c.supplier_id == supplier)
    )

    def row(r) -> DrillRow:
        cells = (
            r.reference,
            _day(r.sent_at),
            _day(r.first_at) if r.first_at is not None else "not yet",
            str(r.lines),
            str(r.lead_time_days),
            f"{float(r.took):.1f}" if r.took is not None else "",
        )
        return DrillRow(cells, None)

    order = (orders.c.sent_at.desc(), orders.c.order_id.desc())
    return _Drill(f"Orders sent to {name}", "orders", query, order, row)


BUILDERS = {
    "stock_value_by_store": _items,
    "consumption_by_department": _consumed,
    "expiring_by_store": _lots,
    "stock_outs": _levels,
    "slow_movers": _idle,
    "supplier_lead_times": _orders,
}


def _drill(session: Session, figure: str, key: str, filters: InventoryFilters) -> _Drill:
    if figure not in BUILDERS:
        raise ValidationError("This chart has no list behind it.")
    if not isinstance(key, str) or not key or len(key) > 60:
        raise ValidationError("Choose a bar on the chart.")
    return BUILDERS[figure](session, key, filters)


def _totals(session: Session, drill: _Drill) -> tuple[int, int | None]:
    inner = drill.query.subquery("behind")
    money_figure = "amount" in inner.c
    total, amount = session.execute(
        select(func.count(), _sum(inner.c.amount) if money_figure else func.count()).select_from(inner)
    ).one()
    return int(total), int(amount) if money_figure else None


def items_behind(
    session: Session,
    *,
    figure: str,
    key: str,
    filters: InventoryFilters,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> DrillPage:
    """One page of what is behind a bar or a cell, paged in SQL, with the count and value of all."""
    if not isinstance(page, int) or isinstance(page, bool) or not 1 <= page <= 1_000_000:
        raise ValidationError("There is no such page.")
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= 200:
        raise ValidationError("Show between 1 and 200 rows per page.")
    drill = _drill(session, figure, key, filters)
    total, amount = _totals(session, drill)
    rows = session.execute(
        drill.query.order_by(*drill.order).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return DrillPage(
        title=drill.title,
        kind=drill.kind,
        headings=HEADINGS[drill.kind],
        rows=[drill.row(r) for r in rows],
        total=total,
        amount_cents=amount,
        page=page,
        page_size=page_size,
    )


@dataclass(frozen=True)
class DrillExport:
    text: str
    rows: int


def drill_csv(session: Session, *, figure: str, key: str, filters: InventoryFilters) -> DrillExport:
    """Everything behind a bar or a cell as CSV (at most CSV_MAX_ROWS rows), in the page order."""
    drill = _drill(session, figure, key, filters)
    out = io.StringIO()
    writer = csv_safe.writer(out)
    headings = HEADINGS[drill.kind]
    money_figure = "amount" in drill.query.selected_columns
    writer.writerow([*headings, "Value (cents)"] if money_figure else list(headings))
    sent = 0
    ordered = drill.query.order_by(*drill.order)
    while sent < CSV_MAX_ROWS:
        chunk = session.execute(ordered.limit(min(CSV_CHUNK, CSV_MAX_ROWS - sent)).offset(sent)).all()
        if not chunk:
            break
        for r in chunk:
            row = drill.row(r)
            writer.writerow([*row.cells, row.amount_cents] if money_figure else list(row.cells))
        sent += len(chunk)
    return DrillExport(out.getvalue(), sent)
