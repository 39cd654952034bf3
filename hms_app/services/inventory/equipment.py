"""The equipment register (FHIR Device): register and edit a piece of equipment, change its status
with a reason, search the register, and the choices its forms offer.

Biomedical engineering (``equipment.maintain``) keeps the register; managers and administrators
read it (``equipment.read``). Every change is audited with who made it and why. A status change
is one conditional UPDATE from the status the change was asked against, so two engineers changing
the same item at once cannot overwrite each other unseen; retired is final.

Equipment that is also a bookable scheduling resource (a scanner) cannot be booked while it is
under maintenance, out of service or retired (``services/scheduling/slots.py`` leaves it out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import local_today, utcnow
from hms_app.errors import Conflict, FieldErrors, NotFound, ValidationError
from hms_app.models.inventory import (
    EQUIPMENT_STATUSES,
    Equipment,
    MaintenancePlan,
    StockLocation,
    WorkOrder,
)
from hms_app.models.organization import Department
from hms_app.models.scheduling import Appointment, AppointmentParticipant, Resource
from hms_app.money import format_money, parse_money
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen

LIVE_TOPIC = "equipment"
STATUS_LABELS: dict[str, str] = dict(EQUIPMENT_STATUSES)
# Equipment in these statuses is not offered for booking as a scheduling resource.
UNBOOKABLE_STATUSES = ("under_maintenance", "out_of_service", "retired")
OPEN_WORK_ORDER = ("open", "in_progress")
EQUIPMENT_MISSING = "That equipment is not on the register."
# The register's status filter: everything still in the hospital, one status, or everything.
STATUS_FILTERS = {"current": "All but retired", **STATUS_LABELS, "all": "All, retired included"}
EQUIPMENT_FIELDS = (
    "asset_tag",
    "name",
    "serial_number",
    "model",
    "manufacturer",
    "location_id",
    "department_id",
    "resource_id",
    "purchase_date",
    "purchase_cost",
    "warranty_end",
    "reason",
)
MAX_COST_CENTS = 5_000_000_000  # fifty million: an MRI is a few million, more is a typing error
EARLIEST_PURCHASE = date(1950, 1, 1)
_ASSET_TAG = re.compile(r"[A-Z0-9][A-Z0-9\-_./]{1,29}")
PAGE_LIMIT = 100


def one_line(value, *, label: str, field: str, minimum: int = 0, maximum: int = 300) -> str:
    """Free text squeezed onto one line; required when ``minimum`` > 0, kept within bounds."""
    text = " ".join(str(value or "").split())
    if minimum and len(text) < minimum:
        raise ValidationError(f"Enter the {label} ({minimum} characters or more).", field=field)
    if len(text) > maximum:
        raise ValidationError(f"Keep the {label} to {maximum} characters.", field=field)
    return text


def reason_text(value, field: str = "reason") -> str:
    """Why a change is made: what the audit trail keeps beside who made it."""
    return one_line(value, label="reason", field=field, minimum=3, maximum=300)


def optional_day(value, *, field: str, label: str) -> date | None:
    """A date from a form (YYYY-MM-DD) or a caller; blank is None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        day = date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"Enter the {label} as a date (YYYY-MM-DD).", field=field) from None
    if not date(1900, 1, 1) <= day <= date(2199, 12, 31):
        raise ValidationError(f"The {label} must fall between 1900 and 2199.", field=field)
    return day


def optional_id(value, *, field: str, label: str) -> int | None:
    """A chosen row's id from a form ("" or "none" for no choice)."""
    text = "" if value is None else str(value).strip()
    if text in ("", "none", "0"):
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise ValidationError(f"Choose the {label} from the list.", field=field)
    return int(text)


def equipment_row(session: Session, equipment_id, *, lock: bool = False) -> Equipment:
    """The register's row, or NotFound."""
    wanted = optional_id(equipment_id, field="equipment_id", label="equipment")
    if wanted is None:
        raise NotFound(EQUIPMENT_MISSING)
    return get_row(session, Equipment, wanted, EQUIPMENT_MISSING, lock=lock)


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def audit_equipment(session: Session, actor: Actor, action: str, equipment: Equipment, detail: str) -> None:
    record_audit(
        session,
        actor,
        action,
        target_type="equipment",
        target_id=equipment.id,
        detail=f"{equipment.asset_tag} {equipment.name}: {detail}",
    )


def publish(equipment_id: int | None = None) -> None:
    """Tell the open equipment screens (the register, the item, the maintenance board)."""
    live.publish(LIVE_TOPIC, equipment_id)


# ---------------------------------------------------------------------------- the form


def _clean(session: Session, data: dict, *, equipment: Equipment | None) -> dict:
    """The form's values, checked field by field; every wrong field is named at once."""
    errors = FieldErrors()
    clean: dict = {}
    tag = str(data.get("asset_tag") or "").strip().upper()
    if not _ASSET_TAG.fullmatch(tag):
        errors.add("asset_tag", "Enter the asset tag: 2 to 30 letters, digits, dashes, dots or slashes.")
    else:
        clash = session.execute(
            select(Equipment.name).where(
                Equipment.asset_tag == tag, Equipment.id != (equipment.id if equipment else -1)
            )
        ).scalar_one_or_none()
        if clash is not None:
            errors.add("asset_tag", f"Asset tag {tag} is already on the register ({clash}).")
        clean["asset_tag"] = tag
    clean["name"] = errors.check(
        one_line, data.get("name"), label="name", field="name", minimum=2, maximum=120
    )
    for field, label, maximum in (
        ("serial_number", "serial number", 60),
        ("model", "model", 80),
        ("manufacturer", "manufacturer", 80),
    ):
        clean[field] = (
            errors.check(one_line, data.get(field), label=label, field=field, maximum=maximum) or None
        )
    location_id = errors.check(optional_id, data.get("location_id"), field="location_id", label="location")
    if location_id is not None:
        location = session.get(StockLocation, location_id)
        if location is None or not location.active:
            errors.add("location_id", "Choose the location from the list.")
    clean["location_id"] = location_id
    department_id = errors.check(
        optional_id, data.get("department_id"), field="department_id", label="department"
    )
    if department_id is not None:
        department = session.get(Department, department_id)
        if department is None or not department.active:
            errors.add("department_id", "Choose the department from the list.")
    clean["department_id"] = department_id
    resource_id = errors.check(optional_id, data.get("resource_id"), field="resource_id", label="resource")
    if resource_id is not None:
        resource = session.get(Resource, resource_id)
        if resource is None or resource.kind != "equipment":
            errors.add("resource_id", "Choose a bookable piece of equipment from the list.")
        else:
            linked = session.execute(
                select(Equipment.asset_tag).where(
                    Equipment.resource_id == resource_id, Equipment.id != (equipment.id if equipment else -1)
                )
            ).scalar_one_or_none()
            if linked is not None:
                errors.add("resource_id", f"{resource.name} is already linked to {linked}.")
    clean["resource_id"] = resource_id
    purchased = errors.check(
        optional_day, data.get("purchase_date"), field="purchase_date", label="purchase date"
    )
    if purchased is not None and not EARLIEST_PURCHASE <= purchased <= local_today():
        errors.add("purchase_date", "The purchase date cannot be in the future (or before 1950).")
    clean["purchase_date"] = purchased
    warranty = errors.check(
        optional_day, data.get("warranty_end"), field="warranty_end", label="warranty end"
    )
    if warranty is not None and purchased is not None and warranty < purchased:
        errors.add("warranty_end", "The warranty cannot end before the purchase date.")
    clean["warranty_end"] = warranty
    cost = data.get("purchase_cost")
    if isinstance(cost, int) and not isinstance(cost, bool):
        cost = format_money(cost).replace(",", "")  # cents from a caller: read back as money
    clean["purchase_cost_cents"] = (
        None
        if str(cost or "").strip() == ""
        else errors.check(
            parse_money,
            cost,
            field="purchase_cost",
            label="the purchase cost",
            allow_zero=True,
            max_cents=MAX_COST_CENTS,
        )
    )
    if equipment is not None:
        clean["reason"] = errors.check(reason_text, data.get("reason"))
    errors.raise_any()
    return clean


def _save(session: Session, equipment: Equipment) -> None:
    """Flush, turning the unique guards' refusals (a second writer with the same tag) into words."""
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(
            f"Asset tag {equipment.asset_tag} (or its scheduling resource) has just been registered "
            "by someone else.",
            field="asset_tag",
        ) from error


@returns_frozen
def register_equipment(session: Session, *, actor: Actor, data: dict) -> Equipment:
    """Put a piece of equipment on the register, in service."""
    authorize(actor, "equipment.maintain")
    clean = _clean(session, data, equipment=None)
    equipment = Equipment(**clean, status="in_service", status_since=utcnow())
    session.add(equipment)
    _save(session, equipment)
    cost = equipment.purchase_cost_cents
    audit_equipment(
        session,
        actor,
        "equipment.register",
        equipment,
        "registered"
        + (f", serial {equipment.serial_number}" if equipment.serial_number else "")
        + (f", cost {format_money(cost)}" if cost is not None else ""),
    )
    session.commit()
    publish(equipment.id)
    return equipment


_NAMED = {"location_id": StockLocation, "department_id": Department, "resource_id": Resource}


def _shown(session: Session, field: str, value) -> str:
    """A value as the audit trail writes it: a chosen row by its name, money as money."""
    if value is None or value == "":
        return "–"
    if field == "purchase_cost_cents":
        return format_money(value)
    if field in _NAMED:
        row = session.get(_NAMED[field], value)
        return row.name if row is not None else f"#{value}"
    return str(value)


@returns_frozen
def edit_equipment(session: Session, *, actor: Actor, equipment_id: int, data: dict) -> Equipment:
    """Change a piece of equipment's details, saying why (``data["reason"]``)."""
    authorize(actor, "equipment.maintain")
    equipment = equipment_row(session, equipment_id)
    if equipment.status == "retired":
        raise Conflict(f"{equipment.asset_tag} is retired; its record is kept as it was.")
    clean = _clean(session, data, equipment=equipment)
    reason = clean.pop("reason")
    changes = []
    for field, value in clean.items():
        if getattr(equipment, field) != value:
            label = field.removesuffix("_cents").removesuffix("_id").replace("_", " ")
            was, now = _shown(session, field, getattr(equipment, field)), _shown(session, field, value)
            changes.append(f"{label} {was} → {now}")
            setattr(equipment, field, value)
    if not changes:
        raise ValidationError("Nothing was changed.")
    session.add(equipment)
    _save(session, equipment)
    audit_equipment(session, actor, "equipment.edit", equipment, f"{'; '.join(changes)} ({reason})")
    session.commit()
    publish(equipment.id)
    return equipment


# ---------------------------------------------------------------------------- status


@dataclass(frozen=True)
class StatusChange:
    id: int
    asset_tag: str
    name: str
    status: str
    # Appointments still booked ahead on the equipment's scheduling resource: they need moving.
    appointments_ahead: int


def appointments_ahead(session: Session, resource_id: int | None) -> int:
    """Visits booked from now on that use this scheduling resource."""
    if resource_id is None:
        return 0
    return int(
        session.execute(
            select(func.count(Appointment.id))
            .join(AppointmentParticipant, AppointmentParticipant.appointment_id == Appointment.id)
            .where(
                AppointmentParticipant.resource_id == resource_id,
                Appointment.status.in_(("booked", "offered")),
                Appointment.start_at >= utcnow(),
            )
        ).scalar_one()
    )


def set_status(
    session: Session, equipment: Equipment, to: str, note: str | None, *, allowed_from: tuple[str, ...]
) -> bool:
    """``allowed_from`` -> ``to`` by one conditional UPDATE; False when the row was not in one of
    them any more (someone else changed it first). The caller audits and commits."""
    changed = session.execute(
        update(Equipment)
        .where(Equipment.id == equipment.id, Equipment.status.in_(allowed_from))
        .values(status=to, status_since=utcnow(), status_note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(equipment)
    return changed == 1


def change_equipment_status(
    session: Session, *, actor: Actor, equipment_id: int, status: str, reason: str
) -> StatusChange:
    """Put equipment in service, under maintenance, out of service or retire it, saying why.

    Retired is final: the item's plans stop, and it cannot be retired while a work order is open.
    """
    authorize(actor, "equipment.maintain")
    to = str(status or "").strip()
    if to not in STATUS_LABELS:
        raise ValidationError("Choose the new status.", field="status")
    note = reason_text(reason)
    equipment = equipment_row(session, equipment_id)
    before = equipment.status
    if before == "retired":
        raise Conflict(f"{equipment.asset_tag} is retired; a retired item does not come back.")
    if before == to:
        raise Conflict(f"{equipment.asset_tag} is already {status_label(to).lower()}.", field="status")
    if to == "retired":
        open_orders = list(
            session.execute(
                select(WorkOrder.reference).where(
                    WorkOrder.equipment_id == equipment.id, WorkOrder.status.in_(OPEN_WORK_ORDER)
                )
            ).scalars()
        )
        if open_orders:
            raise Conflict(
                f"Finish or cancel {', '.join(open_orders)} before retiring {equipment.asset_tag}.",
                field="status",
            )
    if not set_status(session, equipment, to, note, allowed_from=(before,)):
        now = status_label(equipment.status).lower()
        session.rollback()
        raise Conflict(f"Someone else has just changed {equipment.asset_tag} (it is {now} now). Look again.")
    if to == "retired":
        session.execute(
            update(MaintenancePlan)
            .where(MaintenancePlan.equipment_id == equipment.id, MaintenancePlan.active.is_(True))
            .values(active=False)
            .execution_options(synchronize_session=False)
        )
    audit_equipment(
        session,
        actor,
        "equipment.status",
        equipment,
        f"{status_label(before).lower()} → {status_label(to).lower()}: {note}",
    )
    ahead = appointments_ahead(session, equipment.resource_id) if to in UNBOOKABLE_STATUSES else 0
    session.commit()
    publish(equipment.id)
    return StatusChange(equipment.id, equipment.asset_tag, equipment.name, to, ahead)


# ---------------------------------------------------------------------------- the register


@dataclass(frozen=True)
class EquipmentRow:
    id: int
    asset_tag: str
    name: str
    manufacturer: str
    model: str
    serial_number: str
    location: str
    department: str
    status: str
    status_since: datetime
    status_note: str
    next_due: date | None  # the earliest due date of its active plans
    open_work_orders: int


def _matching(text: str):
    text = text.strip()[:60]
    if not text:
        return None
    like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(
        Equipment.asset_tag.ilike(f"{like}%", escape="\\"),
        Equipment.serial_number.ilike(f"{like}%", escape="\\"),
        Equipment.name.ilike(f"%{like}%", escape="\\"),
        Equipment.model.ilike(f"%{like}%", escape="\\"),
        Equipment.manufacturer.ilike(f"%{like}%", escape="\\"),
    )


def search_equipment(
    session: Session,
    *,
    actor: Actor,
    query: str = "",
    status: str = "current",
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[EquipmentRow], int]:
    """One page of the register (by asset tag) and how many items match, filtered in SQL."""
    authorize(actor, "equipment.read")
    if status not in STATUS_FILTERS:
        raise ValidationError("Choose a status from the list.", field="status")
    conditions = []
    matching = _matching(str(query or ""))
    if matching is not None:
        conditions.append(matching)
    if status == "current":
        conditions.append(Equipment.status != "retired")
    elif status != "all":
        conditions.append(Equipment.status == status)
    total = session.execute(select(func.count(Equipment.id)).where(*conditions)).scalar_one()
    next_due = (
        select(func.min(MaintenancePlan.next_due))
        .where(MaintenancePlan.equipment_id == Equipment.id, MaintenancePlan.active.is_(True))
        .correlate(Equipment)
        .scalar_subquery()
    )
    open_orders = (
        select(func.count(WorkOrder.id))
        .where(WorkOrder.equipment_id == Equipment.id, WorkOrder.status.in_(OPEN_WORK_ORDER))
        .correlate(Equipment)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Equipment, StockLocation.name, Department.name, next_due, open_orders)
        .outerjoin(StockLocation, StockLocation.id == Equipment.location_id)
        .outerjoin(Department, Department.id == Equipment.department_id)
        .where(*conditions)
        .order_by(Equipment.asset_tag)
        .offset(max(0, int(offset)))
        .limit(max(1, min(int(limit), PAGE_LIMIT)))
    ).all()
    return [
        EquipmentRow(
            e.id,
            e.asset_tag,
            e.name,
            e.manufacturer or "",
            e.model or "",
            e.serial_number or "",
            location or "",
            department or "",
            e.status,
            e.status_since,
            e.status_note or "",
            due,
            int(orders or 0),
        )
        for e, location, department, due, orders in rows
    ], int(total)


@dataclass(frozen=True)
class Choice:
    id: int
    label: str


@dataclass(frozen=True)
class EquipmentChoices:
    locations: list[Choice]
    departments: list[Choice]
    resources: list[Choice]  # bookable equipment of the schedule, for linking


def equipment_choices(session: Session, *, actor: Actor) -> EquipmentChoices:
    """What the register's form offers: stores and wards, departments, bookable equipment."""
    authorize(actor, "equipment.read")
    locations = session.execute(
        select(StockLocation.id, StockLocation.name)
        .where(StockLocation.active.is_(True))
        .order_by(StockLocation.name)
        .limit(500)
    ).all()
    departments = session.execute(
        select(Department.id, Department.name).where(Department.active.is_(True)).order_by(Department.name)
    ).all()
    resources = session.execute(
        select(Resource.id, Resource.name)
        .where(and_(Resource.kind == "equipment", Resource.active.is_(True)))
        .order_by(Resource.name)
        .limit(500)
    ).all()
    return EquipmentChoices(
        [Choice(int(i), n) for i, n in locations],
        [Choice(int(i), n) for i, n in departments],
        [Choice(int(i), n) for i, n in resources],
    )
