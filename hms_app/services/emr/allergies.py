"""Allergies and intolerances: adding one (one active record per substance), changing its
status, and a clinician's "no known allergies" (the three states of the allergy status are
described in ``services/allergy_status.py``)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.emr import AllergyAssessment, AllergyIntolerance
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import clean_text, require_patient
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen

SEVERITIES = ("mild", "moderate", "severe")


def _supersede_assessment(session: Session, actor: Actor, patient_id: int) -> bool:
    """An active allergy now stands: "no known allergies" no longer holds. Whether one did."""
    result = session.execute(
        update(AllergyAssessment)
        .where(AllergyAssessment.patient_id == patient_id, AllergyAssessment.superseded_at.is_(None))
        .values(superseded_at=utcnow(), superseded_by=actor.username)
    )
    return bool(result.rowcount)


@returns_frozen
def record_no_known_allergies(session: Session, *, actor: Actor, patient_id: int) -> AllergyAssessment:
    """A clinician's "no known allergies" for the patient, with who and when; refused while an
    allergy is active. Recording it again (a new assessment) replaces the earlier one."""
    authorize(actor, "emr.write", patient_id=patient_id)
    require_patient(session, patient_id)
    active = session.execute(
        select(func.count(AllergyIntolerance.id)).where(
            AllergyIntolerance.patient_id == patient_id, AllergyIntolerance.status == "active"
        )
    ).scalar_one()
    if active:
        raise Conflict(
            f"{active} active allerg{'y is' if active == 1 else 'ies are'} recorded: "
            "a patient with an allergy cannot have no known allergies."
        )
    _supersede_assessment(session, actor, patient_id)
    assessment = AllergyAssessment(patient_id=patient_id, recorded_by=actor.username)
    session.add(assessment)
    session.flush()
    record_audit(
        session,
        actor,
        "allergy.none_known",
        patient_id=patient_id,
        target_type="allergy_assessment",
        target_id=assessment.id,
        detail="no known allergies",
    )
    session.commit()
    return assessment


@returns_frozen
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
    superseded = _supersede_assessment(session, actor, patient_id)
    record_audit(
        session,
        actor,
        "allergy.add",
        patient_id=patient_id,
        target_type="allergy_intolerance",
        target_id=allergy.id,
        detail=f"{substance} ({severity})" + ("; supersedes no known allergies" if superseded else ""),
    )
    session.commit()
    return allergy


@returns_frozen
def set_allergy_status(session: Session, *, actor: Actor, allergy_id: int, status: str) -> AllergyIntolerance:
    """Mark an allergy active, inactive or resolved."""
    allergy = get_row(session, AllergyIntolerance, allergy_id, "That allergy does not exist.")
    authorize(actor, "emr.write", patient_id=allergy.patient_id)
    if status not in ("active", "inactive", "resolved"):
        raise ValidationError("The status must be active, inactive or resolved.", field="status")
    allergy.status = status
    session.add(allergy)
    if status == "active":
        _supersede_assessment(session, actor, allergy.patient_id)
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
