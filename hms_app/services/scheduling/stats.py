"""No-show rates per provider and per patient, and the overall rate, for /schedule/stats.

The counting is ``analytics.scheduling`` (one definition of a visit due and a no-show for
every rate); this module checks who may read them and turns local days into the span counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from hms_app.analytics import scheduling as charts
from hms_app.errors import ValidationError
from hms_app.services.permissions import Actor, authorize
from hms_app.services.scheduling.calendar import CalendarDepartment, list_departments
from hms_app.services.scheduling.parsing import as_date
from hms_app.services.scheduling.slots import day_bounds
from hms_app.settings import get_settings


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
    start, end = _span(start_day, end_day)
    rows = charts.no_show_counts(
        session,
        start=start,
        end=end,
        by=by,
        department_id=department_id,
        min_due=max(1, int(min_appointments)),
        limit=max(1, min(int(limit), 500)),
    )
    return [NoShowRate(*row) for row in rows]


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
    start, end = _span(start_day, end_day)
    return charts.overall_counts(session, start=start, end=end, department_id=department_id)


def _span(start_day: date | str, end_day: date | str) -> tuple[datetime, datetime]:
    """Local days [start_day, end_day] as a UTC span."""
    tz = get_settings().tz
    start = day_bounds(as_date(start_day, field="start_day", label="first day"), tz)[0]
    end = day_bounds(as_date(end_day, field="end_day", label="last day"), tz)[1]
    return start, end


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
