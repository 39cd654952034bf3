"""No-show rates per provider and per patient, and the overall rate, for /schedule/stats.

One definition counts them all: a visit is *due* once it arrived, went in, was completed or
was missed (``DUE_STATUSES``); booked visits not yet resolved, offers and cancellations are
left out. The rates per group and the overall rate use the same two counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, select
from sqlmodel import Session

from hms_app.errors import ValidationError
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    Resource,
)
from hms_app.services.permissions import Actor, authorize
from hms_app.services.scheduling.calendar import CalendarDepartment, list_departments
from hms_app.services.scheduling.parsing import as_date
from hms_app.services.scheduling.slots import day_bounds
from hms_app.settings import get_settings

DUE_STATUSES = ("arrived", "in_room", "completed", "no_show")  # visits that were due and counted
# The two counts every rate is made of: visits due, and how many of them were missed.
DUE = func.count(Appointment.id)
MISSED = func.coalesce(func.sum(case((Appointment.status == "no_show", 1), else_=0)), 0)


@dataclass(frozen=True)
class NoShowRate:
    id: int
    name: str
    appointments: int  # visits that were due (completed, no-show, or still in the flow)
    no_shows: int

    @property
    def rate(self) -> float:
        return self.no_shows / self.appointments if self.appointments else 0.0


def no_show_rates(
    session: Session,
    *,
    actor: Actor,
    start_day: date | str,
    end_day: date | str,
    by: str = "provider",
    department_id: int | None = None,
    min_appointments: int = 1,
    limit: int = 50,
) -> list[NoShowRate]:
    """No-show rate per provider or per patient over local days [start_day, end_day], highest first."""
    authorize(actor, "appointment.read")
    if by not in ("provider", "patient"):
        raise ValidationError("Group by provider or by patient.", field="by")
    if by == "provider":
        query = (
            select(Resource.id, Resource.name, DUE, MISSED)
            .select_from(Appointment)
            .join(AppointmentParticipant, AppointmentParticipant.appointment_id == Appointment.id)
            .join(
                Resource, and_(Resource.id == AppointmentParticipant.resource_id, Resource.kind == "provider")
            )
            .group_by(Resource.id, Resource.name)
        )
    else:
        name = Patient.given_name + " " + Patient.family_name
        query = (
            select(Patient.id, name, DUE, MISSED)
            .select_from(Appointment)
            .join(Patient, Patient.id == Appointment.patient_id)
            .group_by(Patient.id, Patient.given_name, Patient.family_name)
        )
    query = (
        query.where(*_due_between(start_day, end_day, department_id))
        .having(max(1, int(min_appointments)) <= DUE)
        .order_by((MISSED * 1.0 / DUE).desc(), DUE.desc())
        .limit(max(1, min(int(limit), 500)))
    )
    return [NoShowRate(i, n, int(t), int(s or 0)) for i, n, t, s in session.execute(query)]


def overall_no_show(
    session: Session,
    *,
    actor: Actor,
    start_day: date | str,
    end_day: date | str,
    department_id: int | None = None,
) -> tuple[int, int]:
    """(visits due, no-shows) over local days [start_day, end_day]: the denominator of every rate."""
    authorize(actor, "appointment.read")
    due, missed = session.execute(
        select(DUE, MISSED).where(*_due_between(start_day, end_day, department_id))
    ).one()
    return int(due), int(missed)


def _due_between(start_day: date | str, end_day: date | str, department_id: int | None) -> list:
    """The visits that count: due, starting on local days [start_day, end_day], of one department or all."""
    tz = get_settings().tz
    start = day_bounds(as_date(start_day, field="start_day", label="first day"), tz)[0]
    end = day_bounds(as_date(end_day, field="end_day", label="last day"), tz)[1]
    where = [Appointment.status.in_(DUE_STATUSES), Appointment.start_at >= start, Appointment.start_at < end]
    if department_id:
        where.append(Appointment.department_id == department_id)
    return where


@dataclass(frozen=True)
class NoShowReport:
    departments: list[CalendarDepartment]
    providers: list[NoShowRate]
    patients: list[NoShowRate]
    overall: str  # "8.4 % of 1,204 visits due"


def no_show_report(
    session: Session, *, actor: Actor, start_day: date, end_day: date, department_id: int | None = None
) -> NoShowReport:
    """Everything the no-show screen shows, in one session."""
    kwargs = {"start_day": start_day, "end_day": end_day, "department_id": department_id}
    providers = no_show_rates(session, actor=actor, by="provider", limit=30, **kwargs)
    # A patient with one missed visit out of one is not a pattern: at least three visits due.
    patients = no_show_rates(session, actor=actor, by="patient", min_appointments=3, limit=20, **kwargs)
    due, missed = overall_no_show(session, actor=actor, **kwargs)
    overall = f"{missed / due * 100:.1f} % of {due:,} visits due" if due else "No visits due"
    return NoShowReport(list_departments(session, actor=actor), providers, patients, overall)
