"""Single observations written by another system (over FHIR): a coded, numeric measurement of
one patient, checked like the chart's vitals when it is a vital sign, and corrected later with
the change kept in the audit trail."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from sqlmodel import Session

from hms_app.cds import vitals as vital_rules
from hms_app.clock import utcnow
from hms_app.errors import ValidationError
from hms_app.models.emr import Encounter, Observation
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import require_patient
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen

STATUSES = ("registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error")
CATEGORIES = (
    "vital-signs",
    "laboratory",
    "social-history",
    "survey",
    "exam",
    "imaging",
    "procedure",
    "activity",
    "therapy",
)
LOINC_CODE = re.compile(r"^[0-9]{1,7}-[0-9]$")


def _checked(
    session: Session,
    *,
    patient_id: int,
    code: str,
    display: str,
    value: float,
    unit: str,
    category: str,
    status: str,
    effective_at: datetime,
    encounter_id: int | None,
) -> dict:
    if not LOINC_CODE.fullmatch(code or ""):
        raise ValidationError(
            f"The code must be a LOINC code such as 8867-4, not {code[:20]!r}.", field="code"
        )
    if category not in CATEGORIES:
        raise ValidationError(f"Unknown observation category {category[:30]!r}.", field="category")
    if status not in STATUSES:
        raise ValidationError(f"Unknown observation status {status[:30]!r}.", field="status")
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValidationError("The value must be a number.", field="valueQuantity")
    if effective_at > utcnow() + timedelta(minutes=5):
        raise ValidationError("An observation cannot be taken in the future.", field="effectiveDateTime")
    spec = vital_rules.BY_LOINC.get(code)
    if spec is not None:
        if unit and unit != spec.unit:
            raise ValidationError(
                f"{spec.display} is recorded in {spec.unit} (UCUM), not {unit[:20]!r}.", field="valueQuantity"
            )
        if not spec.low <= value <= spec.high:
            raise ValidationError(
                f"A {spec.display.lower()} of {value:g} {spec.unit} is not possible; "
                f"expected {spec.low:g} to {spec.high:g} {spec.unit}. Check the number.",
                field="valueQuantity",
            )
        display, unit = spec.display, spec.unit
    if encounter_id is not None:
        encounter = session.get(Encounter, encounter_id)
        if encounter is None or encounter.patient_id != patient_id:
            raise ValidationError("That encounter is not this patient's.", field="encounter")
    return {
        "patient_id": patient_id,
        "code": code,
        "display": (display or code).strip()[:120],
        "value": float(value),
        "unit": (unit or "").strip()[:20],
        "category": category,
        "status": status,
        "effective_at": effective_at,
        "encounter_id": encounter_id,
    }


@returns_frozen
def record_observation(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    code: str,
    display: str,
    value: float,
    unit: str,
    category: str = "vital-signs",
    status: str = "final",
    effective_at: datetime | None = None,
    encounter_id: int | None = None,
) -> Observation:
    """Record one coded numeric observation (a vital sign is checked for plausibility)."""
    authorize(actor, "emr.write", patient_id=patient_id)
    require_patient(session, patient_id)
    values = _checked(
        session,
        patient_id=patient_id,
        code=code,
        display=display,
        value=value,
        unit=unit,
        category=category,
        status=status,
        effective_at=effective_at or utcnow(),
        encounter_id=encounter_id,
    )
    row = Observation(**values, recorded_by=actor.username)
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor,
        "observation.record",
        patient_id=patient_id,
        target_type="observation",
        target_id=row.id,
        detail=f"{row.display}={row.value:g} {row.unit}",
    )
    session.commit()
    return row


@returns_frozen
def correct_observation(
    session: Session,
    *,
    actor: Actor,
    observation_id: int,
    code: str,
    display: str,
    value: float,
    unit: str,
    category: str,
    status: str,
    effective_at: datetime,
    encounter_id: int | None,
) -> Observation:
    """Correct an observation (value, status such as entered-in-error); the old values are audited."""
    row = session.get(Observation, observation_id)
    if row is None:
        raise ValidationError("That observation does not exist.")
    authorize(actor, "emr.write", patient_id=row.patient_id)
    values = _checked(
        session,
        patient_id=row.patient_id,
        code=code,
        display=display,
        value=value,
        unit=unit,
        category=category,
        status=status,
        effective_at=effective_at,
        encounter_id=encounter_id,
    )
    before = f"{row.code} {row.value:g} {row.unit} {row.status} at {row.effective_at.isoformat()}"
    for key, new in values.items():
        setattr(row, key, new)
    session.add(row)
    record_audit(
        session,
        actor,
        "observation.correct",
        patient_id=row.patient_id,
        target_type="observation",
        target_id=row.id,
        detail=f"was {before}; now {row.code} {row.value:g} {row.unit} {row.status}",
    )
    session.commit()
    return row
