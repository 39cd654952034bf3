"""Maintenance of the equipment register: preventive-maintenance and calibration plans, and work
orders (planned from a plan, or a repair) from opening to completion, with findings, parts used
(issued from stock) and downtime; and the periodic job that opens the work orders of due plans.

A plan is due on ``next_due``; completing its work order moves ``last_done`` to the day of the
work and ``next_due`` one interval on from it. Cancelling a planned work order skips that
occurrence (the plan comes due one interval later). A work order may take its equipment out of
use while it is open (under maintenance: a scanner is then not bookable) and put it back in
service when it is done.

One unfinished work order per plan is the database's rule (a partial unique index), so the job,
which every backend worker runs every 30 seconds, opens a due plan's work order once however many
workers try at the same moment; an engineer opening one by hand is held to the same rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import local_today, utcnow
from hms_app.errors import Conflict, FieldErrors, NotFound, ValidationError
from hms_app.models.inventory import PLAN_KINDS, WORK_ORDER_KINDS, Equipment, MaintenancePlan, WorkOrder
from hms_app.plurals import counted
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.inventory.equipment import (
    OPEN_WORK_ORDER,
    audit_equipment,
    equipment_row,
    one_line,
    optional_day,
    optional_id,
    publish,
    reason_text,
    set_status,
    status_label,
)
from hms_app.services.inventory.ledger import issue_stock
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen

PLAN_KIND_LABELS: dict[str, str] = dict(PLAN_KINDS)
WORK_ORDER_KIND_LABELS: dict[str, str] = dict(WORK_ORDER_KINDS)
WORK_ORDER_STATUS_LABELS = {
    "open": "Open",
    "in_progress": "In progress",
    "done": "Done",
    "cancelled": "Cancelled",
}
# The job opens a plan's work order this many days before it is due, so the work can be booked.
DUE_LEAD_DAYS = 7
MAX_INTERVAL_DAYS = 3650
MAX_DOWNTIME_MINUTES = 366 * 24 * 60
MAX_PARTS = 20
PLAN_FIELDS = ("kind", "description", "interval_days", "next_due", "active", "reason")
WORK_ORDER_FIELDS = ("problem", "findings", "downtime", "reason", "parts")
PLAN_MISSING = "That maintenance plan does not exist."
WORK_ORDER_MISSING = "That work order does not exist."
COUNTER = "work_order"
SYSTEM_PROBLEM = "{kind} due {due:%d %b %Y}: {description}"


def work_order_reference(number: int) -> str:
    return f"WO-{number:06d}"


def _interval(value) -> int | None:
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_INTERVAL_DAYS:
        raise ValidationError(
            f"Enter how often, in whole days from 1 to {MAX_INTERVAL_DAYS} (365 for once a year).",
            field="interval_days",
        )
    return int(text)


_DURATION = re.compile(r"(?:(\d{1,4})\s*h(?:ours?)?)?\s*(?:(\d{1,6})\s*m(?:in(?:utes?)?)?)?")


def parse_downtime(value) -> int:
    """Minutes the equipment could not be used: "90", "1:30", "1h 30m", "2h" or "45 min"."""
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    else:
        text = str(value if value is not None else "").strip().lower()
        clock = re.fullmatch(r"(\d{1,4}):([0-5]\d)", text)
        spoken = _DURATION.fullmatch(text) if text and not text.isdigit() else None
        if text.isascii() and text.isdigit() and len(text) <= 6:
            minutes = int(text)
        elif clock:
            minutes = int(clock.group(1)) * 60 + int(clock.group(2))
        elif spoken and (spoken.group(1) or spoken.group(2)):
            minutes = int(spoken.group(1) or 0) * 60 + int(spoken.group(2) or 0)
        else:
            raise ValidationError(
                "Enter the downtime in minutes, such as 90, 1:30 or 1h 30m (0 if none).", field="downtime"
            )
    if not 0 <= minutes <= MAX_DOWNTIME_MINUTES:
        raise ValidationError("Downtime is at most a year; enter it in minutes.", field="downtime")
    return minutes


def _audit_order(
    session: Session, actor: Actor, action: str, order: WorkOrder, equipment: Equipment, detail: str
):
    record_audit(
        session,
        actor,
        action,
        target_type="work_order",
        target_id=order.id,
        detail=f"{order.reference} on {equipment.asset_tag} {equipment.name}: {detail}",
    )


# ---------------------------------------------------------------------------- plans


def _plan_values(data: dict, *, plan: MaintenancePlan | None) -> dict:
    errors = FieldErrors()
    values: dict = {}
    if plan is None:
        kind = str(data.get("kind") or "").strip()
        if kind not in PLAN_KINDS:
            errors.add("kind", "Choose preventive maintenance or calibration.")
        values["kind"] = kind
    values["description"] = errors.check(
        one_line, data.get("description"), label="description", field="description", minimum=2, maximum=200
    )
    values["interval_days"] = errors.check(_interval, data.get("interval_days"))
    due = errors.check(optional_day, data.get("next_due"), field="next_due", label="next due date")
    if due is None and "next_due" not in errors.errors:
        if plan is not None:
            errors.add("next_due", "Enter the next due date.")
        elif values["interval_days"]:
            due = local_today() + timedelta(days=values["interval_days"])  # a new plan: one interval on
    values["next_due"] = due
    if plan is not None:
        values["active"] = str(data.get("active", "on")).lower() in ("on", "true", "1", "yes")
        values["reason"] = errors.check(reason_text, data.get("reason"))
    errors.raise_any()
    return values


def _live_equipment(session: Session, equipment_id) -> Equipment:
    equipment = equipment_row(session, equipment_id)
    if equipment.status == "retired":
        raise Conflict(f"{equipment.asset_tag} is retired: it is no longer maintained.")
    return equipment


@returns_frozen
def add_plan(session: Session, *, actor: Actor, equipment_id: int, data: dict) -> MaintenancePlan:
    """Plan preventive maintenance or calibration of a piece of equipment every so many days."""
    authorize(actor, "equipment.maintain")
    equipment = _live_equipment(session, equipment_id)
    values = _plan_values(data, plan=None)
    plan = MaintenancePlan(equipment_id=equipment.id, **values)
    session.add(plan)
    session.flush()
    audit_equipment(
        session,
        actor,
        "equipment.plan_add",
        equipment,
        f"{PLAN_KIND_LABELS[plan.kind].lower()} every {counted(plan.interval_days, 'day')}, "
        f"{plan.description}, next due {plan.next_due.isoformat()}",
    )
    session.commit()
    publish(equipment.id)
    return plan


def plan_row(session: Session, plan_id) -> MaintenancePlan:
    wanted = optional_id(plan_id, field="plan_id", label="plan")
    if wanted is None:
        raise NotFound(PLAN_MISSING)
    return get_row(session, MaintenancePlan, wanted, PLAN_MISSING)


@returns_frozen
def edit_plan(session: Session, *, actor: Actor, plan_id: int, data: dict) -> MaintenancePlan:
    """Change a plan's description, interval, next due date, or stop it; saying why."""
    authorize(actor, "equipment.maintain")
    plan = plan_row(session, plan_id)
    equipment = _live_equipment(session, plan.equipment_id)
    values = _plan_values(data, plan=plan)
    reason = values.pop("reason")
    changes = []
    for field, value in values.items():
        if getattr(plan, field) != value:
            changes.append(f"{field.replace('_', ' ')} {getattr(plan, field)} → {value}")
            setattr(plan, field, value)
    if not changes:
        raise ValidationError("Nothing was changed.")
    session.add(plan)
    session.flush()
    audit_equipment(
        session,
        actor,
        "equipment.plan_edit",
        equipment,
        f"plan {plan.description}: {'; '.join(changes)} ({reason})",
    )
    session.commit()
    publish(equipment.id)
    return plan


# ---------------------------------------------------------------------------- work orders


def _insert_order(
    session: Session, actor: Actor, equipment: Equipment, *, kind: str, problem: str, plan_id: int | None
) -> WorkOrder | None:
    """A new work order with the next reference, or None when the plan already has an unfinished
    one (the partial unique index; the savepoint undoes the reference taken, so numbers stay gap-free)."""
    try:
        with session.begin_nested():
            (number,) = take_numbers(session, COUNTER)
            order = WorkOrder(
                reference=work_order_reference(number),
                equipment_id=equipment.id,
                plan_id=plan_id,
                kind=kind,
                problem=problem,
                opened_by=actor.username,
                opened_at=utcnow(),
            )
            session.add(order)
            session.flush()
    except IntegrityError as error:
        # PostgreSQL names the index, SQLite the column; any other refusal is not ours to hide.
        if "uq_work_order_open_plan" not in str(error) and "work_order.plan_id" not in str(error):
            raise
        return None
    return order


def _open_reference(session: Session, plan_id: int) -> str:
    return (
        session.execute(
            select(WorkOrder.reference).where(
                WorkOrder.plan_id == plan_id, WorkOrder.status.in_(OPEN_WORK_ORDER)
            )
        ).scalar_one_or_none()
        or "A work order"
    )


@returns_frozen
def open_work_order(
    session: Session,
    *,
    actor: Actor,
    equipment_id: int,
    problem: str = "",
    plan_id: int | None = None,
    take_out_of_service: bool = False,
) -> WorkOrder:
    """Open a work order: a plan's maintenance (``plan_id``) or a repair (``problem`` says what is
    wrong). ``take_out_of_service`` puts the equipment under maintenance while the work is open."""
    authorize(actor, "equipment.maintain")
    equipment = _live_equipment(session, equipment_id)
    plan = None
    if optional_id(plan_id, field="plan_id", label="plan") is not None:
        plan = plan_row(session, plan_id)
        if plan.equipment_id != equipment.id or not plan.active:
            raise ValidationError("Choose one of this equipment's active plans.", field="plan_id")
    if plan is not None:
        kind = plan.kind
        problem = (
            one_line(problem, label="work to do", field="problem", maximum=300)
            or SYSTEM_PROBLEM.format(
                kind=PLAN_KIND_LABELS[plan.kind], due=plan.next_due, description=plan.description
            )[:300]
        )
    else:
        kind = "corrective"
        problem = one_line(problem, label="problem", field="problem", minimum=3, maximum=300)
    order = _insert_order(session, actor, equipment, kind=kind, problem=problem, plan_id=plan and plan.id)
    if order is None:
        session.rollback()
        raise Conflict(f"{_open_reference(session, plan.id)} is already open for this plan.", field="plan_id")
    detail = f"{WORK_ORDER_KIND_LABELS[kind].lower()} opened: {problem}"
    if take_out_of_service and equipment.status != "under_maintenance":
        before = equipment.status
        if set_status(
            session,
            equipment,
            "under_maintenance",
            f"{order.reference}: {problem}"[:300],
            allowed_from=("in_service", "out_of_service"),
        ):
            detail += f"; {status_label(before).lower()} → under maintenance"
    _audit_order(session, actor, "equipment.work_order_open", order, equipment, detail)
    session.commit()
    publish(equipment.id)
    return order


def _order(session: Session, work_order_id) -> WorkOrder:
    wanted = optional_id(work_order_id, field="work_order_id", label="work order")
    if wanted is None:
        raise NotFound(WORK_ORDER_MISSING)
    return get_row(session, WorkOrder, wanted, WORK_ORDER_MISSING)


def _move_order(session: Session, order: WorkOrder, allowed_from: tuple[str, ...], **values) -> None:
    """``allowed_from`` -> the new values by one conditional UPDATE, or a Conflict naming the
    status someone else has just given it."""
    changed = session.execute(
        update(WorkOrder)
        .where(WorkOrder.id == order.id, WorkOrder.status.in_(allowed_from))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(order)
    if changed != 1:
        now = WORK_ORDER_STATUS_LABELS.get(order.status, order.status).lower()
        session.rollback()
        raise Conflict(f"{order.reference} is {now} now; someone else has just changed it.")


@returns_frozen
def start_work_order(session: Session, *, actor: Actor, work_order_id: int) -> WorkOrder:
    """An engineer starts on an open work order."""
    authorize(actor, "equipment.maintain")
    order = _order(session, work_order_id)
    _move_order(session, order, ("open",), status="in_progress", started_at=utcnow())
    equipment = session.get(Equipment, order.equipment_id)
    _audit_order(session, actor, "equipment.work_order_start", order, equipment, "started")
    session.commit()
    publish(equipment.id)
    return order


@dataclass(frozen=True)
class PartUsed:
    """A part taken from a store for a work order, in the item's base unit."""

    item_id: int
    location_id: int
    quantity: int
    lot_id: int | None = None


def _parts(parts) -> list[PartUsed]:
    found = []
    for part in parts or ():
        if isinstance(part, dict):
            part = PartUsed(**{k: part.get(k) for k in ("item_id", "location_id", "quantity", "lot_id")})
        if not isinstance(part, PartUsed):
            raise ValidationError("Choose the parts from the list.", field="parts")
        try:
            item_id, location_id, quantity = int(part.item_id), int(part.location_id), int(part.quantity)
            lot_id = None if part.lot_id in (None, "", 0) else int(part.lot_id)
        except (TypeError, ValueError):
            raise ValidationError(
                "Choose each part and its store, with a whole quantity.", field="parts"
            ) from None
        if quantity < 1:
            raise ValidationError("A part's quantity is 1 or more.", field="parts")
        found.append(PartUsed(item_id, location_id, quantity, lot_id))
    if len(found) > MAX_PARTS:
        raise ValidationError(f"Record at most {MAX_PARTS} parts on one work order.", field="parts")
    return found


def _issue_parts(
    session: Session, *, actor: Actor, order: WorkOrder, equipment: Equipment, parts: list[PartUsed]
):
    """Issue the parts used from stock in the caller's transaction (ledger kind ``maintenance_use``):
    from stores the engineer may issue from, first expiry first, never below zero. A part that
    cannot be issued rolls the whole completion back and is named at the form's parts."""
    moves = []
    try:
        for part in parts:
            moves.extend(
                issue_stock(
                    session,
                    actor=actor,
                    item_id=part.item_id,
                    location_id=part.location_id,
                    quantity=part.quantity,
                    lot_id=part.lot_id,
                    work_order_id=order.id,
                    reason=f"{order.reference} {equipment.asset_tag}",
                    commit=False,
                )
            )
    except (ValidationError, NotFound) as error:
        session.rollback()
        raise ValidationError(str(error), field="parts") from error
    except BaseException:
        session.rollback()
        raise
    return moves


@returns_frozen
def complete_work_order(
    session: Session,
    *,
    actor: Actor,
    work_order_id: int,
    findings: str,
    downtime: int | str,
    return_to_service: bool = True,
    parts=(),
) -> WorkOrder:
    """Finish a work order: what was found and done, the parts used (issued from stock) and how
    long the equipment could not be used. A plan's next due date moves one interval on from today;
    ``return_to_service`` puts equipment that was under maintenance or out of service back in use."""
    authorize(actor, "equipment.maintain")
    errors = FieldErrors()
    text = str(findings or "").strip()
    if len(text) < 3:
        errors.add("findings", "Say what was found and done (3 characters or more).")
    elif len(text) > 1000:
        errors.add("findings", "Keep the findings to 1,000 characters.")
    minutes = errors.check(parse_downtime, downtime)
    used = errors.check(_parts, parts)
    errors.raise_any()
    order = _order(session, work_order_id)
    now = utcnow()
    _move_order(
        session,
        order,
        OPEN_WORK_ORDER,
        status="done",
        findings=text,
        downtime_minutes=minutes,
        completed_at=now,
        completed_by=actor.username,
        started_at=order.started_at or now,
    )
    equipment = session.get(Equipment, order.equipment_id)
    moves = _issue_parts(session, actor=actor, order=order, equipment=equipment, parts=used or [])
    detail = f"done, downtime {minutes} min" + (f", {counted(len(moves), 'stock move')}" if moves else "")
    if order.plan_id is not None:
        plan = session.get(MaintenancePlan, order.plan_id)
        today = local_today()
        plan.last_done, plan.next_due = today, today + timedelta(days=plan.interval_days)
        session.add(plan)
        detail += f"; {plan.description} next due {plan.next_due.isoformat()}"
    if return_to_service and equipment.status in ("under_maintenance", "out_of_service"):
        before = equipment.status
        if set_status(
            session,
            equipment,
            "in_service",
            f"{order.reference} done",
            allowed_from=("under_maintenance", "out_of_service"),
        ):
            detail += f"; {status_label(before).lower()} → in service"
    _audit_order(
        session, actor, "equipment.work_order_complete", order, equipment, f"{detail}. {text}"[:1000]
    )
    session.commit()
    publish(equipment.id)
    return order


@returns_frozen
def cancel_work_order(session: Session, *, actor: Actor, work_order_id: int, reason: str) -> WorkOrder:
    """Cancel an unfinished work order, saying why. A plan's occurrence is skipped: the plan comes
    due one interval later."""
    authorize(actor, "equipment.maintain")
    note = reason_text(reason)
    order = _order(session, work_order_id)
    now = utcnow()
    _move_order(
        session,
        order,
        OPEN_WORK_ORDER,
        status="cancelled",
        findings=f"Cancelled: {note}",
        completed_at=now,
        completed_by=actor.username,
    )
    equipment = session.get(Equipment, order.equipment_id)
    detail = f"cancelled: {note}"
    if order.plan_id is not None:
        plan = session.get(MaintenancePlan, order.plan_id)
        plan.next_due = plan.next_due + timedelta(days=plan.interval_days)
        session.add(plan)
        detail += f"; {plan.description} skipped, next due {plan.next_due.isoformat()}"
    _audit_order(session, actor, "equipment.work_order_cancel", order, equipment, detail)
    session.commit()
    publish(equipment.id)
    return order


# ---------------------------------------------------------------------------- the periodic job


def open_due_work_orders(
    session: Session,
    *,
    actor: Actor,
    today: date | None = None,
    lead_days: int = DUE_LEAD_DAYS,
    limit: int = 100,
) -> int:
    """Open the work order of every active plan due within ``lead_days`` (or overdue) that has none
    unfinished. Run every 30 s by every worker: a plan another worker has just served is skipped."""
    authorize(actor, "equipment.maintain")
    horizon = (today or local_today()) + timedelta(days=lead_days)
    unfinished = exists().where(
        WorkOrder.plan_id == MaintenancePlan.id, WorkOrder.status.in_(OPEN_WORK_ORDER)
    )
    due = (
        session.execute(
            select(MaintenancePlan.id)
            .join(Equipment, Equipment.id == MaintenancePlan.equipment_id)
            .where(
                MaintenancePlan.active.is_(True),
                MaintenancePlan.next_due <= horizon,
                Equipment.status != "retired",
                ~unfinished,
            )
            .order_by(MaintenancePlan.next_due, MaintenancePlan.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    session.commit()
    opened = 0
    for plan_id in due:
        plan = session.get(MaintenancePlan, plan_id, populate_existing=True)
        equipment = session.get(Equipment, plan.equipment_id, populate_existing=True)
        if not plan.active or plan.next_due > horizon or equipment.status == "retired":
            session.commit()
            continue
        problem = SYSTEM_PROBLEM.format(
            kind=PLAN_KIND_LABELS.get(plan.kind, plan.kind), due=plan.next_due, description=plan.description
        )[:300]
        order = _insert_order(session, actor, equipment, kind=plan.kind, problem=problem, plan_id=plan.id)
        if order is None:  # another worker opened it first
            session.rollback()
            continue
        _audit_order(
            session,
            actor,
            "equipment.work_order_open",
            order,
            equipment,
            f"opened by the schedule: {problem}",
        )
        session.commit()
        publish(equipment.id)
        opened += 1
    return opened
