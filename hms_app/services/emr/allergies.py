"""Allergies and intolerances: adding one (one active record per substance) and changing its status."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from hms_app.errors import Conflict, ValidationError
from hms_app.models.emr import AllergyIntolerance
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import clean_text, require_patient
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row

SEVERITIES = ("mild", "moderate", "severe")


def add_allergy(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    substance: str,
    reaction: str = "",
    severity: str = "moderate",
) -> AllergyIntolerance:
    """Record an allergy; one active record per substance."""
    authorize(actor, "emr.write", patient_id=patient_id)
    require_patient(session, patient_id)
    substance = clean_text(substance, "Substance", "substance", max_length=120, required=True)
    if severity not in SEVERITIES:
        raise ValidationError("The severity must be mild, moderate or severe.", field="severity")
    duplicate = session.execute(
        select(AllergyIntolerance.id).where(
            AllergyIntolerance.patient_id == patient_id,
            AllergyIntolerance.status == "active",
            func.lower(AllergyIntolerance.substance) == substance.lower(),
        )
    ).first()
    if duplicate:
        raise Conflict(f"An active allergy to {substance} is already recorded.")
    allergy = AllergyIntolerance(
        patient_id=patient_id,
        substance=substance,
        reaction=clean_text(reaction, "Reaction", "reaction", max_length=200) or None,
        severity=severity,
        recorded_by=actor.username,
    )
    session.add(allergy)
    session.flush()
    record_audit(
        session,
        actor,
        "allergy.add",
        patient_id=patient_id,
        target_type="allergy_intolerance",
        target_id=allergy.id,
        detail=f"{substance} ({severity})",
    )
    session.commit()
    return allergy


def set_allergy_status(session: Session, *, actor: Actor, allergy_id: int, status: str) -> AllergyIntolerance:
    """Mark an allergy active, inactive or resolved."""
    allergy = get_row(session, AllergyIntolerance, allergy_id, "That allergy does not exist.")
    authorize(actor, "emr.write", patient_id=allergy.patient_id)
    if status not in ("active", "inactive", "resolved"):
        raise ValidationError("The status must be active, inactive or resolved.", field="status")
    allergy.status = status
    session.add(allergy)
    record_audit(
        session,
        actor,
        "allergy.status",
        patient_id=allergy.patient_id,
        target_type="allergy_intolerance",
        target_id=allergy.id,
        detail=status,
    )
    session.commit()
    return allergy
