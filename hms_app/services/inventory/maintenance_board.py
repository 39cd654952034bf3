"""The equipment screens' reads: one item with its plans and work orders, and the maintenance
board of plans due soon or overdue, paged in SQL, with the figures above it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session

from hms_app.clock import local_today, utcnow
from hms_app.errors import ValidationError
from hms_app.models.inventory import (
    Equipment,
    MaintenancePlan,
    StockBalance,
    StockItem,
    StockLocation,
    StockLot,
    StockMove,
    WorkOrder,
)
from hms_app.models.organization import Department
from hms_app.models.scheduling import Resource
from hms_app.models.security import AppUser
from hms_app.services.inventory.equipment import OPEN_WORK_ORDER, appointments_ahead, equipment_row
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import frozen

WORK_ORDERS_SHOWN = 50
MAX_WITHIN_DAYS = 365
BOARD_SHOWS = {"all": "All due", "overdue": "Overdue", "due": "Due soon"}


@dataclass(frozen=True)
class PlanLine:
    id: int
    kind: str
    description: str
    interval_days: int
    next_due: date
    last_done: date | None
    active: bool
    days_left: int  # negative: overdue by that many days
    work_order_id: int | None  # its unfinished work order
    work_order: str


@dataclass(frozen=True)
class WorkOrderLine:
    id: int
    reference: str
    kind: str
    status: str
    plan_id: int | None
    problem: str
    findings: str
    opened_at: datetime
    opened_by: str
    started_at: datetime | None
    completed_at: datetime | None
    completed_by: str
    downtime_minutes: int
    parts: tuple[str, ...]  # "2 × Fuse 5 A (Central store)"


@dataclass(frozen=True)
class EquipmentDetail:
    equipment: object  # EquipmentView: a frozen copy of the register's row
    location: str
    department: str
    resource: str  # the scheduling resource it is, if bookable
    appointments_ahead: int  # visits booked ahead on that resource
    plans: list[PlanLine]
    work_orders: list[WorkOrderLine]
    work_orders_total: int
    downtime_minutes_year: int  # over the last 365 days


def _parts(session: Session, order_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """What each work order took from stock, from the ledger (issues are negative moves)."""
    if not order_ids:
        return {}
    rows = session.execute(
        select(
            StockMove.work_order_id,
            StockItem.name,
            StockItem.base_unit,
            StockLocation.name,
            func.sum(StockMove.quantity),
        )
        .join(StockItem, StockItem.id == StockMove.item_id)
        .join(StockLocation, StockLocation.id == StockMove.location_id)
        .where(StockMove.work_order_id.in_(order_ids))
        .group_by(StockMove.work_order_id, StockItem.name, StockItem.base_unit, StockLocation.name)
        .order_by(StockMove.work_order_id, StockItem.name)
    ).all()
    found: dict[int, list[str]] = defaultdict(list)
    for order_id, item, unit, store, quantity in rows:
        used = -int(quantity or 0)
        if used:
            found[order_id].append(
                f"{used} {unit} × {item} ({store})" if unit != "each" else f"{used} × {item} ({store})"
            )
    return {order_id: tuple(lines) for order_id, lines in found.items()}


def equipment_detail(
    session: Session, *, actor: Actor, equipment_id: int, today: date | None = None
) -> EquipmentDetail:
    """One piece of equipment with its plans, its latest work orders and their parts and downtime."""
    authorize(actor, "equipment.read")
    equipment = equipment_row(session, equipment_id)
    today = today or local_today()
    location = equipment.location_id and session.get(StockLocation, equipment.location_id)
    department = equipment.department_id and session.get(Department, equipment.department_id)
    resource = equipment.resource_id and session.get(Resource, equipment.resource_id)
    plans = session.execute(
        select(MaintenancePlan, WorkOrder.id, WorkOrder.reference)
        .outerjoin(
            WorkOrder, and_(WorkOrder.plan_id == MaintenancePlan.id, WorkOrder.status.in_(OPEN_WORK_ORDER))
        )
        .where(MaintenancePlan.equipment_id == equipment.id)
        .order_by(MaintenancePlan.active.desc(), MaintenancePlan.next_due, MaintenancePlan.id)
    ).all()
    orders = (
        session.execute(
            select(WorkOrder)
            .where(WorkOrder.equipment_id == equipment.id)
            .order_by(
                case((WorkOrder.status.in_(OPEN_WORK_ORDER), 0), else_=1),
                WorkOrder.opened_at.desc(),
                WorkOrder.id.desc(),
            )
            .limit(WORK_ORDERS_SHOWN)
        )
        .scalars()
        .all()
    )
    total, downtime = session.execute(
        select(
            func.count(WorkOrder.id),
            func.coalesce(
                func.sum(
                    case(
                        (
                            WorkOrder.completed_at >= utcnow() - timedelta(days=365),
                            WorkOrder.downtime_minutes,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        ).where(WorkOrder.equipment_id == equipment.id)
    ).one()
    parts = _parts(session, [o.id for o in orders])
    return EquipmentDetail(
        equipment=frozen(equipment),
        location=location.name if location else "",
        department=department.name if department else "",
        resource=resource.name if resource else "",
        appointments_ahead=appointments_ahead(session, equipment.resource_id),
        plans=[
            PlanLine(
                p.id,
                p.kind,
                p.description,
                p.interval_days,
                p.next_due,
                p.last_done,
                p.active,
                (p.next_due - today).days,
                order_id,
                reference or "",
            )
            for p, order_id, reference in plans
        ],
        work_orders=[
            WorkOrderLine(
                o.id,
                o.reference,
                o.kind,
                o.status,
                o.plan_id,
                o.problem,
                o.findings or "",
                o.opened_at,
                o.opened_by,
                o.started_at,
                o.completed_at,
                o.completed_by or "",
                o.downtime_minutes,
                parts.get(o.id, ()),
            )
            for o in orders
        ],
        work_orders_total=int(total),
        downtime_minutes_year=int(downtime or 0),
    )


# ---------------------------------------------------------------------------- the board


@dataclass(frozen=True)
class BoardLine:
    plan_id: int
    equipment_id: int
    asset_tag: str
    equipment: str
    equipment_status: str
    location: str
    department: str
    kind: str
    description: str
    next_due: date
    days_left: int  # negative: overdue
    work_order_id: int | None
    work_order: str
    work_order_status: str


@dataclass(frozen=True)
class MaintenanceBoard:
    lines: list[BoardLine]
    total: int  # lines matching the filter, over all pages
    overdue: int
    due_soon: int
    open_work_orders: int
    not_in_use: int  # under maintenance or out of service
    today: date
    within_days: int


def maintenance_board(
    session: Session,
    *,
    actor: Actor,
    within_days: int = 14,
    show: str = "all",
    offset: int = 0,
    limit: int = 25,
    today: date | None = None,
) -> MaintenanceBoard:
    """Active plans of equipment still in the hospital that are overdue or due within
    ``within_days``, the most overdue first, with the board's figures."""
    authorize(actor, "equipment.read")
    if show not in BOARD_SHOWS:
        raise ValidationError("Choose what the board shows.", field="show")
    if not isinstance(within_days, int) or not 0 <= within_days <= MAX_WITHIN_DAYS:
        raise ValidationError(f"Look ahead 0 to {MAX_WITHIN_DAYS} days.", field="within_days")
    today = today or local_today()
    horizon = today + timedelta(days=within_days)
    live = and_(MaintenancePlan.active.is_(True), Equipment.status != "retired")
    overdue, due_soon = session.execute(
        select(
            func.coalesce(func.sum(case((MaintenancePlan.next_due < today, 1), else_=0)), 0),
            func.coalesce(func.sum(case((MaintenancePlan.next_due >= today, 1), else_=0)), 0),
        )
        .join(Equipment, Equipment.id == MaintenancePlan.equipment_id)
        .where(live, MaintenancePlan.next_due <= horizon)
    ).one()
    open_orders = session.execute(
        select(func.count(WorkOrder.id)).where(WorkOrder.status.in_(OPEN_WORK_ORDER))
    ).scalar_one()
    not_in_use = session.execute(
        select(func.count(Equipment.id)).where(Equipment.status.in_(("under_maintenance", "out_of_service")))
    ).scalar_one()
    conditions = [live, MaintenancePlan.next_due <= horizon]
    if show == "overdue":
        conditions.append(MaintenancePlan.next_due < today)
    elif show == "due":
        conditions.append(MaintenancePlan.next_due >= today)
    rows = session.execute(
        select(
            MaintenancePlan,
            Equipment.asset_tag,
            Equipment.name,
            Equipment.status,
            StockLocation.name,
            Department.name,
            WorkOrder.id,
            WorkOrder.reference,
            WorkOrder.status,
        )
        .join(Equipment, Equipment.id == MaintenancePlan.equipment_id)
        .outerjoin(StockLocation, StockLocation.id == Equipment.location_id)
        .outerjoin(Department, Department.id == Equipment.department_id)
        .outerjoin(
            WorkOrder, and_(WorkOrder.plan_id == MaintenancePlan.id, WorkOrder.status.in_(OPEN_WORK_ORDER))
        )
        .where(*conditions)
        .order_by(MaintenancePlan.next_due, Equipment.asset_tag, MaintenancePlan.id)
        .offset(max(0, int(offset)))
        .limit(max(1, min(int(limit), 100)))
    ).all()
    total = {"all": overdue + due_soon, "overdue": overdue, "due": due_soon}[show]
    return MaintenanceBoard(
        [
            BoardLine(
                plan.id,
                plan.equipment_id,
                tag,
                name,
                status,
                location or "",
                department or "",
                plan.kind,
                plan.description,
                plan.next_due,
                (plan.next_due - today).days,
                order_id,
                reference or "",
                order_status or "",
            )
            for plan, tag, name, status, location, department, order_id, reference, order_status in rows
        ],
        int(total),
        int(overdue),
        int(due_soon),
        int(open_orders),
        int(not_in_use),
        today,
        within_days,
    )


# ---------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class PartOnHand:
    item_id: int
    location_id: int
    label: str  # "Fuse 5 A · BME workshop store (12 each)"


PARTS_SHOWN = 200


def parts_on_hand(session: Session, *, actor: Actor, today: date | None = None) -> list[PartOnHand]:
    """What the engineer may take for a work order: items with usable stock at the stores they
    may issue from (their department's; every store for a storekeeper), for the completion form."""
    authorize(actor, "equipment.maintain")
    if not (actor.can("inventory.issue") or actor.can("inventory.manage")):
        return []
    today = today or local_today()
    conditions = [
        StockBalance.quantity > 0,
        StockItem.active.is_(True),
        StockLocation.active.is_(True),
        or_(StockLot.expiry_date.is_(None), StockLot.expiry_date >= today),
    ]
    if not actor.can("inventory.manage"):
        department_id = session.execute(
            select(AppUser.department_id).where(AppUser.id == actor.user_id)
        ).scalar_one_or_none()
        if department_id is None:
            return []
        conditions.append(StockLocation.department_id == department_id)
    rows = session.execute(
        select(
            StockItem.id,
            StockLocation.id,
            StockItem.name,
            StockItem.base_unit,
            StockLocation.name,
            func.sum(StockBalance.quantity),
        )
        .join(StockItem, StockItem.id == StockBalance.item_id)
        .join(StockLocation, StockLocation.id == StockBalance.location_id)
        .join(StockLot, StockLot.id == StockBalance.lot_id)
        .where(*conditions)
        .group_by(StockItem.id, StockLocation.id, StockItem.name, StockItem.base_unit, StockLocation.name)
        .order_by(StockItem.name, StockLocation.name)
        .limit(PARTS_SHOWN)
    ).all()
    return [
        PartOnHand(int(item_id), int(location_id), f"{item} · {store} ({int(held):,} {unit})")
        for item_id, location_id, item, unit, store, held in rows
    ]
