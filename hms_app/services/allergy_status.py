"""The allergy status of a patient, as the chart banner and the wristband show it.

It has three states, and "nothing recorded" is not "no known allergies":

* ``unassessed``: no active allergy, and no clinician has recorded "no known allergies";
* ``none_known``: a clinician recorded "no known allergies" (who and when are kept);
* ``allergies``: at least one active allergy (recording one supersedes "no known allergies").

Reads only, and checks nothing: the caller has checked that the actor may read the patient. The
writes are ``services.emr.allergies``; this module stands apart so that the patients services
(the wristband) can read the status without importing the EMR package.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from hms_app.models.emr import AllergyAssessment, AllergyIntolerance

UNASSESSED, NONE_KNOWN, ALLERGIES = "unassessed", "none_known", "allergies"


@dataclass(frozen=True)
class AllergyStatus:
    state: str  # UNASSESSED | NONE_KNOWN | ALLERGIES
    allergies: tuple[tuple[str, str], ...]  # (substance, severity) of the active allergies, by substance
    recorded_by: str = ""  # who recorded "no known allergies" (NONE_KNOWN only)
    recorded_at: datetime | None = None


def allergy_status(session: Session, patient_id: int, *, limit: int = 20) -> AllergyStatus:
    """The patient's allergy status as the banner and the wristband show it. Reads only: the
    caller has checked that the actor may read the patient."""
    active = tuple(
        (substance, severity)
        for substance, severity in session.execute(
            select(AllergyIntolerance.substance, AllergyIntolerance.severity)
            .where(AllergyIntolerance.patient_id == patient_id, AllergyIntolerance.status == "active")
            .order_by(AllergyIntolerance.substance)
            .limit(limit)
        )
    )
    if active:
        return AllergyStatus(ALLERGIES, active)
    assessment = current_assessment(session, patient_id)
    if assessment is None:
        return AllergyStatus(UNASSESSED, ())
    return AllergyStatus(NONE_KNOWN, (), assessment.recorded_by, assessment.recorded_at)


def current_assessment(session: Session, patient_id: int) -> AllergyAssessment | None:
    return session.execute(
        select(AllergyAssessment)
        .where(AllergyAssessment.patient_id == patient_id, AllergyAssessment.superseded_at.is_(None))
        .order_by(AllergyAssessment.recorded_at.desc(), AllergyAssessment.id.desc())
        .limit(1)
    ).scalar_one_or_none()
