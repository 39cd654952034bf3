"""Vital signs: recording a set (checked for plausibility, BMI derived), the latest of each, and
one sign's trend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlmodel import Session

from hms_app.cds import vitals as vital_rules
from hms_app.clock import utcnow
from hms_app.errors import ValidationError
from hms_app.models.emr import Encounter, Observation
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import require_patient
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen


@returns_frozen
def record_vitals(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    values: dict,
    encounter_id: int | None = None,
    taken_at: datetime | None = None,
) -> list[Observation]:
    """Record a set of vital signs; each is checked for plausibility, and BMI is derived."""
    authorize(actor, "emr.write", patient_id=patient_id)
    require_patient(session, patient_id)
    taken_at = taken_at or utcnow()
    if taken_at > utcnow() + timedelta(minutes=5):
        raise ValidationError("Vitals cannot be recorded in the future.", field="taken_at")
    parsed: dict[str, float] = {}
    for key, raw in values.items():
        if key not in vital_rules.VITALS:
            raise ValidationError(f"Unknown vital sign {key!r}.", field=key)
        text = str(raw if raw is not None else "").strip().replace(",", ".")
        if not text:
            continue
        try:
            number = float(text)
        except ValueError as error:
            spec = vital_rules.VITALS[key]
            raise ValidationError(f"{spec.display} must be a number in {spec.unit}.", field=key) from error
        try:
            parsed[key] = vital_rules.check_plausible(key, number)
        except vital_rules.ImplausibleValue as error:
            raise ValidationError(str(error), field=key) from error
    if not parsed:
        raise ValidationError("Enter at least one vital sign.")
    if (
        "systolic_bp" in parsed
        and "diastolic_bp" in parsed
        and parsed["diastolic_bp"] >= parsed["systolic_bp"]
    ):
        raise ValidationError("The diastolic pressure must be lower than the systolic.", field="diastolic_bp")
    if ("systolic_bp" in parsed) != ("diastolic_bp" in parsed):
        raise ValidationError("Enter both blood pressure values, or neither.", field="diastolic_bp")
    if encounter_id is not None:
        encounter = session.get(Encounter, encounter_id)
        if encounter is None or encounter.patient_id != patient_id:
            raise ValidationError("That encounter is not this patient's.", field="encounter_id")
    rows = []
    for key, number in parsed.items():
        spec = vital_rules.VITALS[key]
        rows.append(
            Observation(
                patient_id=patient_id,
                encounter_id=encounter_id,
                category="vital-signs",
                code=spec.loinc,
                display=spec.display,
                value=number,
                unit=spec.unit,
                effective_at=taken_at,
                recorded_by=actor.username,
            )
        )
    weight = parsed.get("weight")
    height = parsed.get("height") or (
        _latest_value(session, patient_id, vital_rules.VITALS["height"].loinc) if weight else None
    )
    if weight and height:
        rows.append(
            Observation(
                patient_id=patient_id,
                encounter_id=encounter_id,
                category="vital-signs",
                code=vital_rules.BMI.loinc,
                display=vital_rules.BMI.display,
                value=vital_rules.bmi(weight, height),
                unit=vital_rules.BMI.unit,
                effective_at=taken_at,
                recorded_by=actor.username,
            )
        )
    session.add_all(rows)
    session.flush()
    record_audit(
        session,
        actor,
        "vitals.record",
        patient_id=patient_id,
        target_type="observation",
        target_id=rows[0].id,
        detail=", ".join(f"{r.display}={r.value:g}" for r in rows),
    )
    session.commit()
    return rows


def _latest_value(session: Session, patient_id: int, code: str) -> float | None:
    return session.execute(
        select(Observation.value)
        .where(Observation.patient_id == patient_id, Observation.code == code)
        .order_by(Observation.effective_at.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class SeriesPoint:
    taken_at: datetime
    value: float
    patient_reported: bool = False  # entered by the patient at home (the portal), not by staff


def vital_series(
    session: Session, *, actor: Actor, patient_id: int, key: str, limit: int = 200
) -> list[SeriesPoint]:
    """The latest ``limit`` values of one vital sign (or BMI, or meter glucose), oldest first, for a
    trend chart; each says whether the patient entered it at home."""
    authorize(actor, "patient.read", patient_id=patient_id)
    spec = vital_rules.TREND_SPECS.get(key)
    if spec is None:
        raise ValidationError(f"Unknown vital sign {key!r}.")
    rows = session.execute(
        select(Observation.effective_at, Observation.value, Observation.recorded_by)
        .where(Observation.patient_id == patient_id, Observation.code == spec.loinc)
        .order_by(Observation.effective_at.desc())
        .limit(min(max(limit, 1), 1000))
    ).all()
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient_id,
        target_type="observation",
        detail=f"trend {key}",
    )
    session.commit()
    return [SeriesPoint(t, v, vital_rules.patient_reported(by)) for t, v, by in reversed(rows)]


# Built once: every chart opening runs it once per vital sign, and building the statement cost
# twice as much CPU as running it (the load benchmark's chart opens are CPU-bound).
_LATEST_VITAL = (
    select(Observation.value, Observation.unit, Observation.effective_at, Observation.recorded_by)
    .where(Observation.patient_id == bindparam("patient_id"), Observation.code == bindparam("code"))
    .order_by(Observation.effective_at.desc())
    .limit(1)
)


def latest_vitals(
    session: Session, patient_id: int, *, patient_reported: set[str] | None = None
) -> dict[str, tuple[float, str, datetime]]:
    """The most recent value of each vital sign: one indexed lookup per code. The keys whose latest
    value the patient entered at home are added to ``patient_reported`` when it is given."""
    result = {}
    for spec in (*vital_rules.VITALS.values(), vital_rules.BMI, vital_rules.GLUCOSE):
        row = session.execute(_LATEST_VITAL, {"patient_id": patient_id, "code": spec.loinc}).first()
        if row:
            result[spec.key] = (row.value, row.unit, row.effective_at)
            if patient_reported is not None and vital_rules.patient_reported(row.recorded_by):
                patient_reported.add(spec.key)
    return result
