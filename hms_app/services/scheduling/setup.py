"""Setting up the schedule (``schedule.manage``): resources, services, visit types, which
resource offers which service, weekly templates, and leave, closures and holidays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import func, or_, select
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.errors import Conflict, FieldErrors, NotFound, ValidationError
from hms_app.models.organization import Department
from hms_app.models.scheduling import (
    BLOCK_MINUTES,
    EXCEPTION_KINDS,
    RESOURCE_KINDS,
    VISIT_MODES,
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    HealthcareService,
    Resource,
    ResourceService,
)
from hms_app.models.security import AppUser
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen
from hms_app.services.scheduling.parsing import as_date, as_int, as_moment, as_time
from hms_app.services.scheduling.policy import MAX_ELIGIBLE_AGE, SEX_WORDS, eligibility_label
from hms_app.services.scheduling.slots import day_bounds
from hms_app.settings import get_settings


def _text(value, *, field: str, label: str, low: int = 2, high: int = 120) -> str:
    text = str(value or "").strip()
    if not low <= len(text) <= high:
        raise ValidationError(f"Enter the {label} ({low} to {high} characters).", field=field)
    return text


def _eligibility(data: dict, service: HealthcareService) -> tuple[int | None, int | None, str | None]:
    """Who the service is for, from the form (blank: anyone); every bad field said at once."""
    errors = FieldErrors()
    ages = {}
    for key, label in (("min_age", "youngest age"), ("max_age", "oldest age")):
        value = data.get(key, getattr(service, key))
        raw = "" if value is None else str(value).strip()
        if not raw:
            ages[key] = None
        elif not raw.isdigit() or int(raw) > MAX_ELIGIBLE_AGE:
            errors.add(
                key, f"Give the {label} as whole years from 0 to {MAX_ELIGIBLE_AGE}, or leave it empty."
            )
        else:
            ages[key] = int(raw)
    both = errors.ok("min_age", "max_age") and None not in (ages["min_age"], ages["max_age"])
    if both and ages["min_age"] > ages["max_age"]:
        errors.add("max_age", "The oldest age must not be below the youngest.")
    sex = str(data.get("for_sex", service.for_sex) or "").strip().lower()
    if sex not in ("", *SEX_WORDS):
        errors.add("for_sex", "Choose who the service is for: anyone, female or male patients.")
    errors.raise_any()
    return ages["min_age"], ages["max_age"], sex or None


def _department(session: Session, department_id) -> Department:
    department = session.get(Department, as_int(department_id, field="department_id", label="department"))
    if department is None or not department.active:
        raise ValidationError("Choose the department.", field="department_id")
    return department


def _audit_setup(
    session: Session, actor: Actor, action: str, target_type: str, target_id, detail: str
) -> None:
    record_audit(session, actor, action, target_type=target_type, target_id=target_id, detail=detail)
    session.commit()


@returns_frozen
def save_resource(session: Session, *, actor: Actor, data: dict, resource_id: int | None = None) -> Resource:
    """Create or edit a bookable resource (provider, room or equipment)."""
    authorize(actor, "schedule.manage")
    kind = str(data.get("kind") or "").strip()
    if kind not in RESOURCE_KINDS:
        raise ValidationError("Choose provider, room or equipment.", field="kind")
    name = _text(data.get("name"), field="name", label="name")
    department = _department(session, data.get("department_id"))
    user_id = data.get("user_id") or None
    if kind == "provider" and user_id is not None:
        user = session.get(AppUser, as_int(user_id, field="user_id", label="staff member"))
        if user is None:
            raise ValidationError("Choose the staff member.", field="user_id")
        user_id = user.id
    elif kind != "provider":
        user_id = None
    capability = str(data.get("capability") or "").strip().lower() or None
    if kind == "equipment" and capability is None:
        raise ValidationError("Say what the equipment is (e.g. mri, ct, ultrasound).", field="capability")
    if resource_id is None:
        resource = Resource(
            kind=kind, name=name, department_id=department.id, user_id=user_id, capability=capability
        )
    else:
        resource = session.get(Resource, as_int(resource_id, field="resource_id", label="resource"))
        if resource is None:
            raise NotFound("That resource does not exist.")
        resource.kind, resource.name, resource.department_id = kind, name, department.id
        resource.user_id, resource.capability = user_id, capability
    if "active" in data:
        resource.active = bool(data["active"])
    session.add(resource)
    session.flush()
    _audit_setup(
        session,
        actor,
        "schedule.resource_save",
        "resource",
        resource.id,
        f"{kind} {name} ({department.code})",
    )
    return resource


@returns_frozen
def save_service(
    session: Session, *, actor: Actor, data: dict, service_id: int | None = None
) -> HealthcareService:
    """Create or edit a service; whether patients may book it online is set here."""
    authorize(actor, "schedule.manage")
    code = _text(data.get("code"), field="code", label="code", low=2, high=30).upper()
    name = _text(data.get("name"), field="name", label="name")
    department = _department(session, data.get("department_id"))
    clash = session.execute(
        select(HealthcareService.id).where(HealthcareService.code == code)
    ).scalar_one_or_none()
    if clash is not None and clash != service_id:
        raise Conflict("Another service has this code.", field="code")
    if service_id is None:
        service = HealthcareService(code=code, name=name, department_id=department.id)
    else:
        service = session.get(HealthcareService, as_int(service_id, field="service_id", label="service"))
        if service is None:
            raise NotFound("That service does not exist.")
        service.code, service.name, service.department_id = code, name, department.id
    service.self_bookable = bool(data.get("self_bookable", service.self_bookable))
    if "active" in data:
        service.active = bool(data["active"])
    service.min_age, service.max_age, service.for_sex = _eligibility(data, service)
    session.add(service)
    session.flush()
    who = eligibility_label(service.min_age, service.max_age, service.for_sex) or "anyone"
    _audit_setup(
        session,
        actor,
        "schedule.service_save",
        "healthcare_service",
        service.id,
        f"{code} {name} self_bookable={service.self_bookable} active={service.active} for {who}",
    )
    return service


@returns_frozen
def save_appointment_type(
    session: Session, *, actor: Actor, data: dict, appointment_type_id: int | None = None
) -> AppointmentType:
    """Create or edit a visit type: length (5 to 480 minutes in steps of 5), price code, mode, needs."""
    authorize(actor, "schedule.manage")
    service = session.get(
        HealthcareService, as_int(data.get("service_id"), field="service_id", label="service")
    )
    if service is None:
        raise ValidationError("Choose the service.", field="service_id")
    code = _text(data.get("code"), field="code", label="code", low=2, high=30).upper()
    name = _text(data.get("name"), field="name", label="name")
    duration = as_int(data.get("duration_minutes"), field="duration_minutes", label="length")
    if not (5 <= duration <= 480 and duration % BLOCK_MINUTES == 0):
        raise ValidationError("The length is 5 to 480 minutes, in steps of 5.", field="duration_minutes")
    mode = str(data.get("mode") or "in_person")
    if mode not in VISIT_MODES:
        raise ValidationError("Choose in person or virtual.", field="mode")
    price_code = str(data.get("price_code") or "").strip().upper() or None
    if price_code is not None and len(price_code) > 30:
        raise ValidationError("The price code has at most 30 characters.", field="price_code")
    needs_room = bool(data.get("needs_room")) and mode == "in_person"
    needs_equipment = str(data.get("needs_equipment") or "").strip().lower() or None
    clash = session.execute(
        select(AppointmentType.id).where(
            AppointmentType.service_id == service.id, AppointmentType.code == code
        )
    ).scalar_one_or_none()
    if clash is not None and clash != appointment_type_id:
        raise Conflict("This service already has a visit type with this code.", field="code")
    if appointment_type_id is None:
        vtype = AppointmentType(service_id=service.id, code=code, name=name, duration_minutes=duration)
    else:
        vtype = session.get(
            AppointmentType, as_int(appointment_type_id, field="appointment_type_id", label="visit type")
        )
        if vtype is None:
            raise NotFound("That visit type does not exist.")
        vtype.service_id, vtype.code, vtype.name, vtype.duration_minutes = service.id, code, name, duration
    vtype.mode, vtype.price_code, vtype.needs_room, vtype.needs_equipment = (
        mode,
        price_code,
        needs_room,
        needs_equipment,
    )
    if "active" in data:
        vtype.active = bool(data["active"])
    session.add(vtype)
    session.flush()
    _audit_setup(
        session,
        actor,
        "schedule.visit_type_save",
        "appointment_type",
        vtype.id,
        f"{service.code}/{code} {duration} min {mode}",
    )
    return vtype


def link_resource_service(
    session: Session, *, actor: Actor, resource_id: int, service_id: int, linked: bool = True
) -> None:
    """Say that a resource offers (or no longer offers) a service."""
    authorize(actor, "schedule.manage")
    rid = as_int(resource_id, field="resource_id", label="resource")
    sid = as_int(service_id, field="service_id", label="service")
    if session.get(Resource, rid) is None or session.get(HealthcareService, sid) is None:
        raise NotFound("That resource or service does not exist.")
    existing = session.execute(
        select(ResourceService).where(ResourceService.resource_id == rid, ResourceService.service_id == sid)
    ).scalar_one_or_none()
    if linked and existing is None:
        session.add(ResourceService(resource_id=rid, service_id=sid))
    elif not linked and existing is not None:
        session.delete(existing)
    else:
        return
    session.flush()
    _audit_setup(
        session, actor, "schedule.link" if linked else "schedule.unlink", "resource", rid, f"service {sid}"
    )


@dataclass(frozen=True)
class RuleRow:
    id: int
    resource_id: int
    weekday: int
    start_time: time
    end_time: time
    valid_from: date
    valid_to: date | None


def list_rules(session: Session, *, actor: Actor, resource_id: int) -> list[RuleRow]:
    """A resource's weekly template, Monday first."""
    authorize(actor, "appointment.read")
    rows = session.execute(
        select(AvailabilityRule)
        .where(AvailabilityRule.resource_id == as_int(resource_id, field="resource_id", label="resource"))
        .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time, AvailabilityRule.valid_from)
    ).scalars()
    return [
        RuleRow(r.id, r.resource_id, r.weekday, r.start_time, r.end_time, r.valid_from, r.valid_to)
        for r in rows
    ]


@returns_frozen
def add_availability_rule(session: Session, *, actor: Actor, data: dict) -> AvailabilityRule:
    """Add a line to a resource's weekly template; lines of one weekday may not overlap."""
    authorize(actor, "schedule.manage")
    resource = session.get(Resource, as_int(data.get("resource_id"), field="resource_id", label="resource"))
    if resource is None:
        raise ValidationError("Choose the resource.", field="resource_id")
    weekday = as_int(data.get("weekday"), field="weekday", label="weekday")
    if not 0 <= weekday <= 6:
        raise ValidationError("Choose the weekday.", field="weekday")
    start = as_time(data.get("start_time"), field="start_time", label="start")
    end = as_time(data.get("end_time"), field="end_time", label="end")
    for value, name in ((start, "start_time"), (end, "end_time")):
        if value.second or value.microsecond or value.minute % BLOCK_MINUTES:
            raise ValidationError("Times are on 5-minute marks (08:00, 08:05, ...).", field=name)
    if end <= start:
        raise ValidationError("The end is after the start.", field="end_time")
    valid_from = as_date(data.get("valid_from") or utcnow().date(), field="valid_from", label="first day")
    valid_to = as_date(data["valid_to"], field="valid_to", label="last day") if data.get("valid_to") else None
    if valid_to is not None and valid_to < valid_from:
        raise ValidationError("The last day is after the first day.", field="valid_to")
    overlapping = session.execute(
        select(AvailabilityRule.id).where(
            AvailabilityRule.resource_id == resource.id,
            AvailabilityRule.weekday == weekday,
            AvailabilityRule.start_time < end,
            AvailabilityRule.end_time > start,
            or_(AvailabilityRule.valid_to.is_(None), AvailabilityRule.valid_to >= valid_from),
            *([AvailabilityRule.valid_from <= valid_to] if valid_to is not None else []),
        )
    ).first()
    if overlapping:
        raise Conflict("This overlaps another line of the same weekday.", field="start_time")
    rule = AvailabilityRule(
        resource_id=resource.id,
        weekday=weekday,
        start_time=start,
        end_time=end,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    session.add(rule)
    session.flush()
    _audit_setup(
        session,
        actor,
        "schedule.rule_add",
        "availability_rule",
        rule.id,
        f"{resource.name} weekday {weekday} {start:%H:%M}-{end:%H:%M} from {valid_from}",
    )
    return rule


def delete_availability_rule(session: Session, *, actor: Actor, rule_id: int) -> None:
    """Remove a line of a weekly template (booked appointments stay)."""
    authorize(actor, "schedule.manage")
    rule = session.get(AvailabilityRule, as_int(rule_id, field="rule_id", label="rule"))
    if rule is None:
        raise NotFound("That availability line does not exist.")
    detail = (
        f"resource {rule.resource_id} weekday {rule.weekday} {rule.start_time:%H:%M}-{rule.end_time:%H:%M}"
    )
    session.delete(rule)
    session.flush()
    _audit_setup(session, actor, "schedule.rule_delete", "availability_rule", rule_id, detail)


@dataclass(frozen=True)
class ExceptionRow:
    id: int
    kind: str
    reason: str
    starts_at: datetime
    ends_at: datetime
    resource_id: int | None
    department_id: int | None
    scope: str  # the resource's or department's name, or "Whole hospital"


@returns_frozen
def add_availability_exception(session: Session, *, actor: Actor, data: dict) -> AvailabilityException:
    """Leave for a resource, a closure of a department, or a holiday for everyone."""
    authorize(actor, "schedule.manage")
    kind = str(data.get("kind") or "")
    if kind not in EXCEPTION_KINDS:
        raise ValidationError("Choose leave, holiday or closure.", field="kind")
    reason = _text(data.get("reason"), field="reason", label="reason", low=3, high=200)
    starts = as_moment(data.get("starts_at"), field="starts_at", label="start")
    ends = as_moment(data.get("ends_at"), field="ends_at", label="end")
    if ends <= starts:
        raise ValidationError("The end is after the start.", field="ends_at")
    resource_id = data.get("resource_id") or None
    department_id = data.get("department_id") or None
    if resource_id is not None:
        resource = session.get(Resource, as_int(resource_id, field="resource_id", label="resource"))
        if resource is None:
            raise ValidationError("Choose the resource.", field="resource_id")
        resource_id, department_id = resource.id, None
    elif department_id is not None:
        department_id = _department(session, department_id).id
    if kind == "leave" and resource_id is None:
        raise ValidationError("Leave is for one resource: choose it.", field="resource_id")
    exception = AvailabilityException(
        resource_id=resource_id,
        department_id=department_id,
        starts_at=starts,
        ends_at=ends,
        kind=kind,
        reason=reason,
        created_by=actor.username,
    )
    session.add(exception)
    session.flush()
    _audit_setup(
        session,
        actor,
        "schedule.exception_add",
        "availability_exception",
        exception.id,
        f"{kind} {format_local(starts)} - {format_local(ends)}: {reason}",
    )
    return exception


def delete_availability_exception(session: Session, *, actor: Actor, exception_id: int) -> None:
    """Remove leave, a closure or a holiday."""
    authorize(actor, "schedule.manage")
    exception = session.get(
        AvailabilityException, as_int(exception_id, field="exception_id", label="exception")
    )
    if exception is None:
        raise NotFound("That exception does not exist.")
    detail = f"{exception.kind} {format_local(exception.starts_at)}: {exception.reason}"
    session.delete(exception)
    session.flush()
    _audit_setup(session, actor, "schedule.exception_delete", "availability_exception", exception_id, detail)


def list_exceptions(
    session: Session, *, actor: Actor, start_day: date | str, end_day: date | str, limit: int = 200
) -> list[ExceptionRow]:
    """Leave, closures and holidays overlapping local days [start_day, end_day]."""
    authorize(actor, "appointment.read")
    tz = get_settings().tz
    start = day_bounds(as_date(start_day, field="start_day", label="first day"), tz)[0]
    end = day_bounds(as_date(end_day, field="end_day", label="last day"), tz)[1]
    rows = session.execute(
        select(AvailabilityException, Resource.name, Department.name)
        .outerjoin(Resource, Resource.id == AvailabilityException.resource_id)
        .outerjoin(Department, Department.id == AvailabilityException.department_id)
        .where(AvailabilityException.starts_at < end, AvailabilityException.ends_at > start)
        .order_by(AvailabilityException.starts_at)
        .limit(max(1, min(int(limit), 1000)))
    ).all()
    return [
        ExceptionRow(
            e.id,
            e.kind,
            e.reason,
            e.starts_at,
            e.ends_at,
            e.resource_id,
            e.department_id,
            r or d or "Whole hospital",
        )
        for e, r, d in rows
    ]


def appointments_during(
    session: Session,
    *,
    actor: Actor,
    starts_at: datetime | str,
    ends_at: datetime | str,
    resource_id: int | None = None,
    department_id: int | None = None,
) -> int:
    """How many booked visits fall in a span (to warn before adding leave or a closure)."""
    authorize(actor, "appointment.read")
    starts, ends = as_moment(starts_at, field="starts_at"), as_moment(ends_at, field="ends_at")
    query = (
        select(func.count())
        .select_from(Appointment)
        .where(Appointment.status == "booked", Appointment.start_at < ends, Appointment.end_at > starts)
    )
    if resource_id:
        query = query.where(
            Appointment.id.in_(
                select(AppointmentParticipant.appointment_id).where(
                    AppointmentParticipant.resource_id
                    == as_int(resource_id, field="resource_id", label="resource")
                )
            )
        )
    if department_id:
        query = query.where(
            Appointment.department_id == as_int(department_id, field="department_id", label="department")
        )
    return session.execute(query).scalar_one()
