"""Encounters: opening and finishing a visit, admission, emergency attendance or video visit, and
the chart's timeline of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import ValidationError
from hms_app.models.emr import ClinicalNote, Encounter
from hms_app.models.security import AppUser
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import clean_text, require_patient
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen

ENCOUNTER_CLASSES = ("outpatient", "inpatient", "emergency", "virtual")


@returns_frozen
def start_encounter(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    encounter_class: str,
    reason: str = "",
    department_id: int | None = None,
) -> Encounter:
    """Open an encounter (visit, admission, emergency attendance or video visit)."""
    authorize(actor, "emr.write", patient_id=patient_id)
    require_patient(session, patient_id)
    if encounter_class not in ENCOUNTER_CLASSES:
        raise ValidationError("Choose outpatient, inpatient, emergency or virtual.", field="encounter_class")
    encounter = Encounter(
        patient_id=patient_id,
        encounter_class=encounter_class,
        status="in-progress",
        reason=clean_text(reason, "Reason", "reason", max_length=300) or None,
        department_id=department_id,
        practitioner_id=actor.user_id or None,
    )
    session.add(encounter)
    session.flush()
    record_audit(
        session,
        actor,
        "encounter.start",
        patient_id=patient_id,
        target_type="encounter",
        target_id=encounter.id,
        detail=encounter_class,
    )
    session.commit()
    return encounter


@returns_frozen
def finish_encounter(session: Session, *, actor: Actor, encounter_id: int) -> Encounter:
    """Finish an encounter (its end is now); finishing it again changes nothing."""
    encounter = get_row(session, Encounter, encounter_id, "That encounter does not exist.")
    authorize(actor, "emr.write", patient_id=encounter.patient_id)
    if encounter.status == "finished":
        return encounter
    encounter.status, encounter.end_at = "finished", utcnow()
    session.add(encounter)
    record_audit(
        session,
        actor,
        "encounter.finish",
        patient_id=encounter.patient_id,
        target_type="encounter",
        target_id=encounter.id,
    )
    session.commit()
    return encounter


@dataclass(frozen=True)
class TimelineRow:
    id: int
    encounter_class: str
    status: str
    start_at: datetime
    end_at: datetime | None
    reason: str
    practitioner: str
    notes: int
    signed_notes: int


def encounter_timeline(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    page: int = 1,
    page_size: int = 20,
    audit: bool = True,
) -> tuple[list[TimelineRow], int]:
    """One page of the patient's encounters, newest first, with note counts."""
    authorize(actor, "patient.read", patient_id=patient_id)
    page, page_size = max(1, page), min(max(1, page_size), 100)
    total = session.execute(
        select(func.count()).select_from(Encounter).where(Encounter.patient_id == patient_id)
    ).scalar_one()
    encounters = session.execute(
        select(Encounter, AppUser.display_name)
        .outerjoin(AppUser, AppUser.id == Encounter.practitioner_id)
        .where(Encounter.patient_id == patient_id)
        .order_by(Encounter.start_at.desc(), Encounter.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    ids = [e.id for e, _name in encounters]
    counts: dict[int, tuple[int, int]] = {}
    if ids:
        for encounter_id, notes, signed in session.execute(
            select(
                ClinicalNote.encounter_id,
                func.count(),
                func.sum(case((ClinicalNote.status == "signed", 1), else_=0)),
            )
            .where(ClinicalNote.encounter_id.in_(ids))
            .group_by(ClinicalNote.encounter_id)
        ):
            counts[encounter_id] = (int(notes), int(signed or 0))
    rows = [
        TimelineRow(
            e.id,
            e.encounter_class,
            e.status,
            e.start_at,
            e.end_at,
            e.reason or "",
            name or "",
            *counts.get(e.id, (0, 0)),
        )
        for e, name in encounters
    ]
    if audit:
        record_audit(
            session,
            actor,
            "patient.read",
            patient_id=patient_id,
            target_type="encounter",
            detail=f"timeline page {page}",
        )
        session.commit()
    return rows, total
