"""A patient enters a home measurement: checked as the chart checks a nurse's, written as chart
observations marked patient-reported, compared with the patient's alert limits, and, beyond them,
put on the staff board at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from hms_app.cds import home_readings as rules
from hms_app.cds import vitals as vital_rules
from hms_app.clock import utcnow
from hms_app.errors import FieldErrors, Forbidden, ValidationError
from hms_app.models.emr import Observation
from hms_app.models.home_readings import HomeReading, HomeReadingObservation
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import require_patient
from hms_app.services.home_readings.common import (
    LIVE_TOPIC,
    PORTAL,
    limits_in_force,
    parse_measured_at,
    values_text,
)
from hms_app.services.permissions import Actor, authorize

# The chart's observation category of each measure (FHIR observation-category).
CATEGORY = {"glucose": "laboratory"}


@dataclass(frozen=True)
class RecordedReading:
    reading_id: int
    kind_label: str
    values: str  # "142/91 mmHg · pulse 78 /min"
    measured_at: datetime
    alert_text: str  # "" when every value is within the patient's limits


def _parse(kind: rules.Kind, values: dict, glucose_unit: str, errors: FieldErrors) -> dict[str, float]:
    """Every value of the reading in its stored unit, each field's problem kept for the form."""
    parsed: dict[str, float] = {}
    for key in kind.measures:
        measure = rules.MEASURES[key]
        unit = glucose_unit if key == "glucose" else measure.unit
        try:
            number = rules.parse_number(key, values.get(key), measure.label, unit)
            if number is None:
                if key not in kind.optional:
                    errors.add(key, f"Enter the {measure.label.lower()}.")
                continue
            typed = f"{number:g} {unit}"
            if key == "glucose":
                number = rules.glucose_mg_dl(number, glucose_unit)
            parsed[key] = rules.check_value(key, number, shown=typed)
        except rules.ReadingProblem as problem:
            errors.add(problem.field, str(problem))
    both = errors.ok("systolic", "diastolic") and "systolic" in parsed and "diastolic" in parsed
    if both and parsed["diastolic"] >= parsed["systolic"]:
        errors.add("diastolic", "The lower number (diastolic) must be below the upper number (systolic).")
    return parsed


def record_home_reading(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    kind: str,
    values: dict,
    measured_at: datetime | str | None = None,
    glucose_unit: str = "mg/dL",
) -> RecordedReading:
    """Record a measurement the patient took at home (``portal.self``, their own record only)."""
    authorize(actor, PORTAL, patient_id=patient_id)
    if actor.patient_id != patient_id:  # only the patient themselves enters their home readings
        raise Forbidden("You can only see your own record.")
    require_patient(session, patient_id)
    spec = rules.KINDS.get(kind if isinstance(kind, str) else "")
    if spec is None:
        raise ValidationError("Choose what you measured from the list.", field="kind")
    if glucose_unit not in rules.GLUCOSE_UNITS:
        raise ValidationError("Choose mg/dL or mmol/L for the glucose.", field="glucose_unit")
    values = values if isinstance(values, dict) else {}
    errors = FieldErrors()
    parsed = _parse(spec, values, glucose_unit, errors)
    taken = errors.check(parse_measured_at, measured_at)
    errors.raise_any()
    entered = values_text(kind, parsed)
    if "glucose" in parsed and glucose_unit == "mmol/L":
        entered = f"{values.get('glucose')} mmol/L".replace(",", ".")
    alerts = rules.crossings(parsed, limits_in_force(session, patient_id))
    reading = HomeReading(
        patient_id=patient_id,
        kind=kind,
        measured_at=taken,
        entered_at=utcnow(),
        entered_by_id=actor.user_id or None,
        entered_text=entered[:120],
        alert_status="open" if alerts else "",
        alert_text="; ".join(alerts)[:300],
    )
    session.add(reading)
    session.flush()
    recorded_by = f"{vital_rules.PATIENT_REPORTED_PREFIX}{actor.username}"[:60]
    for key, number in parsed.items():
        vital = rules.MEASURES[key].spec
        observation = Observation(
            patient_id=patient_id,
            category=CATEGORY.get(key, "vital-signs"),
            code=vital.loinc,
            display=vital.display,
            value=number,
            unit=vital.unit,
            effective_at=taken,
            recorded_by=recorded_by,
        )
        session.add(observation)
        session.flush()
        session.add(HomeReadingObservation(reading_id=reading.id, observation_id=observation.id, measure=key))
    shown = values_text(kind, parsed)
    record_audit(
        session,
        actor,
        "reading.record",
        patient_id=patient_id,
        target_type="home_reading",
        target_id=reading.id,
        detail=f"{spec.label}: {shown}" + (f"; alert: {reading.alert_text}" if alerts else ""),
    )
    session.commit()
    live.publish(LIVE_TOPIC)
    return RecordedReading(reading.id, spec.label, shown, taken, reading.alert_text)
