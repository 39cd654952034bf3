"""What the home-readings services share: the permissions, who may read a patient's readings, the
limits in force, the moment a reading was taken, and one reading as a line of a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from hms_app.cds import home_readings as rules
from hms_app.clock import utcnow
from hms_app.errors import ValidationError
from hms_app.models.emr import Observation
from hms_app.models.home_readings import HomeReading, HomeReadingLimit, HomeReadingObservation
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

REVIEW = "reading.review"  # staff: see patients' readings, set their limits, clear alerts
PORTAL = "portal.self"  # patients: enter and see their own
LIVE_TOPIC = "readings"
MAX_AGE_DAYS = 30  # a reading older than this is history, not something to act on: not entered
FUTURE_GRACE = timedelta(minutes=5)  # a phone's clock a little ahead of the server's
MAX_PAGE_SIZE = 100


def authorize_reader(actor: Actor | None, patient_id: int) -> Actor:
    """A patient reads their own readings (``portal.self``); staff need ``reading.review``."""
    if actor is not None and actor.patient_id is not None:
        return authorize(actor, PORTAL, patient_id=patient_id)
    return authorize(actor, REVIEW)


def page_bounds(page: int, page_size: int) -> tuple[int, int]:
    """(offset, limit) of a page; a forged page number or size is brought within bounds."""
    size = min(max(int(page_size or 1), 1), MAX_PAGE_SIZE)
    number = max(int(page or 1), 1)
    return (number - 1) * size, size


def aware(moment: datetime | None) -> datetime | None:
    """A moment read back from the database (naive UTC on SQLite) as an aware UTC moment."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_measured_at(value: datetime | str | None, *, now: datetime | None = None) -> datetime:
    """When the patient measured: a moment, or what a ``datetime-local`` box sends ("2026-12-06T08:30",
    the hospital's local time); empty means now. Not in the future, not older than 30 days."""
    now = now or utcnow()
    if value is None or (isinstance(value, str) and not value.strip()):
        return now
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise ValidationError(
                "Enter the date and time you measured, such as 2026-12-06 08:30.", field="measured_at"
            ) from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=get_settings().tz)
    else:
        moment = value
    if moment.tzinfo is None:
        raise ValidationError("The time of the measurement has no time zone.", field="measured_at")
    moment = moment.astimezone(UTC)
    if moment > now + FUTURE_GRACE:
        raise ValidationError("The time you measured cannot be in the future.", field="measured_at")
    if moment < now - timedelta(days=MAX_AGE_DAYS):
        raise ValidationError(
            f"Only measurements of the last {MAX_AGE_DAYS} days can be entered; "
            "tell your care team about older ones at your next visit.",
            field="measured_at",
        )
    return moment


def limits_in_force(session: Session, patient_id: int) -> dict[str, rules.Limit]:
    """Every measure's alert limit for the patient: the newest one set, else the default."""
    rows = session.execute(
        select(HomeReadingLimit.measure, HomeReadingLimit.low, HomeReadingLimit.high)
        .where(HomeReadingLimit.patient_id == patient_id)
        .order_by(HomeReadingLimit.set_at.desc(), HomeReadingLimit.id.desc())
    ).all()
    limits: dict[str, rules.Limit] = {}
    for measure, low, high in rows:
        if measure in rules.MEASURES and measure not in limits:
            limits[measure] = rules.Limit(measure, low, high, False)
    for measure in rules.MEASURES:
        limits.setdefault(measure, rules.default_limit(measure))
    return limits


@dataclass(frozen=True)
class ReadingLine:
    """One reading as a table shows it."""

    id: int
    patient_id: int
    kind: str
    kind_label: str
    values: str  # "142/91 mmHg · pulse 78 /min"
    entered_text: str  # what the patient typed, when it differs ("7.8 mmol/L")
    measured_at: datetime
    entered_at: datetime
    alert_status: str  # "" | open | cleared
    alert_text: str
    cleared_by: str | None
    cleared_at: datetime | None
    cleared_note: str | None


def values_text(kind: str, values: dict[str, float]) -> str:
    """A reading's values as people write them: "142/91 mmHg · pulse 78 /min", "126 mg/dL"."""
    if kind == "blood_pressure":
        text = f"{values.get('systolic', 0):.0f}/{values.get('diastolic', 0):.0f} mmHg"
        if "pulse" in values:
            text += f" · pulse {values['pulse']:.0f} /min"
        return text
    return " · ".join(rules.format_value(key, value) for key, value in values.items())


def reading_values(session: Session, reading_ids: list[int]) -> dict[int, dict[str, float]]:
    """The values of each reading, by measure, read from the chart's observations."""
    found: dict[int, dict[str, float]] = {}
    if not reading_ids:
        return found
    rows = session.execute(
        select(HomeReadingObservation.reading_id, HomeReadingObservation.measure, Observation.value)
        .join(Observation, Observation.id == HomeReadingObservation.observation_id)
        .where(HomeReadingObservation.reading_id.in_(reading_ids))
    ).all()
    for reading_id, measure, value in rows:
        found.setdefault(reading_id, {})[measure] = value
    order = {key: index for index, key in enumerate(rules.MEASURES)}
    return {
        rid: dict(sorted(vals.items(), key=lambda kv: order.get(kv[0], 99))) for rid, vals in found.items()
    }


def reading_line(row: HomeReading, values: dict[str, float]) -> ReadingLine:
    kind = rules.KINDS.get(row.kind)
    shown = values_text(row.kind, values)
    return ReadingLine(
        id=row.id,
        patient_id=row.patient_id,
        kind=row.kind,
        kind_label=kind.label if kind else row.kind,
        values=shown,
        entered_text=row.entered_text if row.entered_text and row.entered_text != shown else "",
        measured_at=aware(row.measured_at),
        entered_at=aware(row.entered_at),
        alert_status=row.alert_status,
        alert_text=row.alert_text,
        cleared_by=row.cleared_by,
        cleared_at=aware(row.cleared_at),
        cleared_note=row.cleared_note,
    )
