"""A patient's alert limits for home readings (``reading.review``): the limit in force for each
measure (set for the patient, or the default) and setting new ones. A change is a new row, so the
history of who set what, when and why stays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from hms_app.cds import home_readings as rules
from hms_app.errors import FieldErrors, ValidationError
from hms_app.models.home_readings import HomeReadingLimit
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import clean_text, require_patient
from hms_app.services.home_readings.common import REVIEW, aware, limits_in_force
from hms_app.services.permissions import Actor, authorize


@dataclass(frozen=True)
class LimitLine:
    measure: str
    label: str
    unit: str
    low: float | None
    high: float | None
    is_default: bool
    set_by: str | None
    set_at: datetime | None


def patient_limits(session: Session, *, actor: Actor, patient_id: int) -> list[LimitLine]:
    """Every measure's alert limits for the patient, in the form's order."""
    authorize(actor, REVIEW)
    require_patient(session, patient_id)
    limits = limits_in_force(session, patient_id)
    setters = {}
    for measure, by, at in session.execute(
        select(HomeReadingLimit.measure, HomeReadingLimit.set_by, HomeReadingLimit.set_at)
        .where(HomeReadingLimit.patient_id == patient_id)
        .order_by(HomeReadingLimit.set_at, HomeReadingLimit.id)
    ).all():
        setters[measure] = (by, aware(at))  # the newest wins
    record_audit(
        session,
        actor,
        "reading.read",
        patient_id=patient_id,
        target_type="home_reading_limit",
        detail="limits",
    )
    session.commit()
    lines = []
    for key, measure in rules.MEASURES.items():
        limit = limits[key]
        by, at = setters.get(key, (None, None)) if not limit.is_default else (None, None)
        lines.append(
            LimitLine(key, measure.label, measure.unit, limit.low, limit.high, limit.is_default, by, at)
        )
    return lines


def set_limits(
    session: Session, *, actor: Actor, patient_id: int, limits: dict, reason: str = ""
) -> list[str]:
    """Set a patient's alert limits: ``limits`` maps ``<measure>_low`` / ``<measure>_high`` to the
    numbers typed (empty: no limit on that side). Only measures whose limits change get a new row;
    returns the measures changed."""
    authorize(actor, REVIEW)
    require_patient(session, patient_id)
    reason = clean_text(reason, "The reason", "reason", max_length=300)
    limits = limits if isinstance(limits, dict) else {}
    current = limits_in_force(session, patient_id)
    errors = FieldErrors()
    wanted: dict[str, tuple[float | None, float | None]] = {}
    for key, measure in rules.MEASURES.items():
        low_key, high_key = f"{key}_low", f"{key}_high"
        if low_key not in limits and high_key not in limits:
            continue
        pair = []
        for field in (low_key, high_key):
            try:
                pair.append(
                    rules.parse_number(
                        field, limits.get(field), f"The {measure.label.lower()} limit", measure.unit
                    )
                )
            except rules.ReadingProblem as problem:
                errors.add(problem.field, str(problem))
                pair.append(None)
        if not errors.ok(low_key, high_key):
            continue
        try:
            rules.check_limit_pair(key, pair[0], pair[1])
        except rules.ReadingProblem as problem:
            errors.add(problem.field, str(problem))
            continue
        wanted[key] = (pair[0], pair[1])
    errors.raise_any()
    changed = [key for key, pair in wanted.items() if pair != (current[key].low, current[key].high)]
    if not changed:
        raise ValidationError("No limit was changed.")
    for key in changed:
        low, high = wanted[key]
        session.add(
            HomeReadingLimit(
                patient_id=patient_id, measure=key, low=low, high=high, set_by=actor.username, reason=reason
            )
        )
    session.flush()
    record_audit(
        session,
        actor,
        "reading.limits_set",
        patient_id=patient_id,
        target_type="home_reading_limit",
        detail="; ".join(
            f"{rules.MEASURES[k].label}: {_side(wanted[k][0])}–{_side(wanted[k][1])} {rules.MEASURES[k].unit}"
            for k in changed
        )
        + (f" ({reason})" if reason else ""),
    )
    session.commit()
    return changed


def _side(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"
