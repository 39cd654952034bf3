"""Admissions: admit a patient to a free bed, transfer them, discharge them; and the beds a stay
used. An admission opens an inpatient encounter and discharge finishes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.emr import Encounter
from hms_app.models.patients import Patient
from hms_app.models.wards import DISCHARGE_DISPOSITIONS, Admission, Bed, BedAssignment, Ward
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.patients import full_name
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen
from hms_app.services.wards.beds import active_bed, required_text
from hms_app.services.wards.board import length_of_stay_hours, length_of_stay_label


def _one_line(value) -> str:
    """Free text squeezed onto one line, at most 300 characters."""
    return " ".join(str(value or "").split())[:300]


def _audit_admission(session: Session, actor: Actor, action: str, admission: Admission, detail: str) -> None:
    record_audit(
        session,
        actor,
        action,
        patient_id=admission.patient_id,
        target_type="admission",
        target_id=admission.id,
        detail=detail,
    )


def _bed_given_away(bed: Bed, ward: Ward) -> str:
    return f"Bed {bed.label} on {ward.name} has just been given to another patient. Choose another bed."


def _bed_taken_message(session: Session, bed: Bed, ward: Ward) -> str:
    session.refresh(bed)
    name = f"Bed {bed.label} on {ward.name}"
    if bed.status == "occupied":
        return _bed_given_away(bed, ward)
    if bed.status == "cleaning":
        return f"{name} is being cleaned. Mark it clean first, or choose another bed."
    if bed.status == "out_of_service":
        return f"{name} is out of service. Choose another bed."
    return f"{name} is not free. Choose another bed."


def _take_bed(session: Session, bed: Bed, ward: Ward, now: datetime) -> None:
    """free -> occupied, or a Conflict: the conditional UPDATE is what lets one admission win."""
    taken = session.execute(
        update(Bed)
        .where(Bed.id == bed.id, Bed.status == "free")
        .values(status="occupied", status_since=now, status_note=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        message = _bed_taken_message(session, bed, ward)
        session.rollback()
        raise Conflict(message, field="bed_id")
    session.refresh(bed)


def _leave_bed(session: Session, assignment: BedAssignment, now: datetime) -> Bed:
    """Close the open assignment (once: a second mover finds it closed) and send its bed to cleaning."""
    closed = session.execute(
        update(BedAssignment)
        .where(BedAssignment.id == assignment.id, BedAssignment.to_at.is_(None))
        .values(to_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if closed != 1:
        session.rollback()
        raise Conflict("Someone else has just moved or discharged this patient. The board shows it now.")
    session.execute(
        update(Bed)
        .where(Bed.id == assignment.bed_id)
        .values(status="cleaning", status_since=now, status_note=None)
        .execution_options(synchronize_session=False)
    )
    bed = session.get(Bed, assignment.bed_id)
    session.refresh(bed)
    return bed


def _flush_or_conflict(session: Session, message: str) -> None:
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(message) from error


def _active_admission(session: Session, admission_id: int) -> tuple[Admission, BedAssignment]:
    admission = get_row(session, Admission, admission_id, "That admission does not exist.")
    if admission.status != "active":
        raise Conflict("This patient has already been discharged.")
    assignment = session.execute(
        select(BedAssignment).where(BedAssignment.admission_id == admission.id, BedAssignment.to_at.is_(None))
    ).scalar_one_or_none()
    if assignment is None:
        raise Conflict("Someone else has just moved or discharged this patient. The board shows it now.")
    return admission, assignment


@returns_frozen
def admit_patient(session: Session, *, actor: Actor, patient_id: int, bed_id: int, reason: str) -> Admission:
    """Admit a patient to a free bed: the bed becomes occupied and an inpatient encounter opens."""
    authorize(actor, "ward.manage", patient_id=patient_id)
    reason = required_text(reason, "reason for admission", "reason")
    patient = get_row(session, Patient, patient_id, "That patient does not exist.")
    if patient.merged_into_id is not None:
        raise ValidationError("This record was merged into another one; admit the patient on that record.")
    if patient.deceased_at is not None:
        raise ValidationError("This patient is recorded as deceased and cannot be admitted.")
    bed, ward = active_bed(session, bed_id)
    current = session.execute(
        select(Ward.name, Bed.label)
        .select_from(Admission)
        .join(BedAssignment, and_(BedAssignment.admission_id == Admission.id, BedAssignment.to_at.is_(None)))
        .join(Bed, Bed.id == BedAssignment.bed_id)
        .join(Ward, Ward.id == Bed.ward_id)
        .where(Admission.patient_id == patient_id, Admission.status == "active")
    ).first()
    if current is not None:
        raise Conflict(
            f"{full_name(patient)} is already admitted ({current[0]}, bed {current[1]}). Transfer them instead."
        )
    now = utcnow()
    _take_bed(session, bed, ward, now)
    encounter = Encounter(
        patient_id=patient_id,
        encounter_class="inpatient",
        status="in-progress",
        department_id=ward.department_id,
        reason=reason,
        start_at=now,
    )
    session.add(encounter)
    session.flush()
    admission = Admission(
        patient_id=patient_id,
        encounter_id=encounter.id,
        ward_id=ward.id,
        admitted_at=now,
        reason=reason,
        admitted_by=actor.username,
    )
    session.add(admission)
    _flush_or_conflict(
        session, f"{full_name(patient)} is already admitted: someone admitted them a moment ago."
    )
    session.add(BedAssignment(admission_id=admission.id, bed_id=bed.id, from_at=now, moved_by=actor.username))
    _flush_or_conflict(session, _bed_given_away(bed, ward))
    _audit_admission(session, actor, "ward.admit", admission, f"{ward.name} bed {bed.label}: {reason}")
    session.commit()
    live.publish(live.BEDS, ward.id)
    return admission


@returns_frozen
def transfer_patient(
    session: Session, *, actor: Actor, admission_id: int, bed_id: int, reason: str = ""
) -> Admission:
    """Move an inpatient to another free bed (on this or another ward); the old bed goes to cleaning."""
    authorize(actor, "ward.manage")  # before any read: a refused caller learns nothing about the stay
    admission, assignment = _active_admission(session, admission_id)
    authorize(actor, "ward.manage", patient_id=admission.patient_id)
    reason = _one_line(reason)
    if assignment.bed_id == bed_id:
        raise ValidationError("The patient is already in this bed. Choose another bed.", field="bed_id")
    old_bed, old_ward = active_bed(session, assignment.bed_id)
    bed, ward = active_bed(session, bed_id)
    now = utcnow()
    _take_bed(session, bed, ward, now)
    _leave_bed(session, assignment, now)
    session.add(BedAssignment(admission_id=admission.id, bed_id=bed.id, from_at=now, moved_by=actor.username))
    admission.ward_id = ward.id
    session.add(admission)
    _flush_or_conflict(session, _bed_given_away(bed, ward))
    _audit_admission(
        session,
        actor,
        "ward.transfer",
        admission,
        f"from {old_ward.name} bed {old_bed.label} to {ward.name} bed {bed.label}"
        + (f": {reason}" if reason else ""),
    )
    session.commit()
    for ward_id in sorted({old_ward.id, ward.id}):
        live.publish(live.BEDS, ward_id)
    return admission


@returns_frozen
def discharge_patient(
    session: Session, *, actor: Actor, admission_id: int, disposition: str, note: str = ""
) -> Admission:
    """Discharge an inpatient: the stay and its encounter end, the bed goes to cleaning."""
    authorize(actor, "ward.manage")  # before any read: a refused caller learns nothing about the stay
    admission, assignment = _active_admission(session, admission_id)
    authorize(actor, "ward.manage", patient_id=admission.patient_id)
    if disposition not in DISCHARGE_DISPOSITIONS:
        raise ValidationError("Choose where the patient goes on discharge.", field="disposition")
    note = _one_line(note)
    now = utcnow()
    ended = session.execute(
        update(Admission)
        .where(Admission.id == admission.id, Admission.status == "active")
        .values(
            status="discharged",
            discharged_at=now,
            discharged_by=actor.username,
            discharge_disposition=disposition,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if ended != 1:
        session.rollback()
        raise Conflict("This patient has already been discharged.")
    bed = _leave_bed(session, assignment, now)
    ward = session.get(Ward, bed.ward_id)
    session.execute(
        update(Encounter)
        .where(Encounter.id == admission.encounter_id, Encounter.status == "in-progress")
        .values(status="finished", end_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(admission)
    stay = length_of_stay_label(length_of_stay_hours(admission.admitted_at, now))
    _audit_admission(
        session,
        actor,
        "ward.discharge",
        admission,
        f"{ward.name} bed {bed.label}, stay {stay}, {DISCHARGE_DISPOSITIONS[disposition]}"
        + (f": {note}" if note else ""),
    )
    session.commit()
    live.publish(live.BEDS, ward.id)
    return admission


# --------------------------------------------------------------------------- history


@dataclass(frozen=True)
class StayMove:
    ward: str
    bed: str
    from_at: datetime
    to_at: datetime | None
    moved_by: str


def admission_moves(session: Session, *, actor: Actor, admission_id: int) -> list[StayMove]:
    """The beds an admission occupied, in order: the transfer history."""
    authorize(actor, "patient.read")  # before any read: a refused caller learns nothing about the stay
    admission = get_row(session, Admission, admission_id, "That admission does not exist.")
    authorize(actor, "patient.read", patient_id=admission.patient_id)
    rows = session.execute(
        select(Ward.name, Bed.label, BedAssignment.from_at, BedAssignment.to_at, BedAssignment.moved_by)
        .join(Bed, Bed.id == BedAssignment.bed_id)
        .join(Ward, Ward.id == Bed.ward_id)
        .where(BedAssignment.admission_id == admission_id)
        .order_by(BedAssignment.from_at, BedAssignment.id)
    ).all()
    return [StayMove(*row) for row in rows]
