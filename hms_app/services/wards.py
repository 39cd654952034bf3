"""Inpatient wards: admit, transfer and discharge patients between beds; clean beds, take them
out of service; the bed board with occupancy and length of stay.

One patient per bed is the database's job: a bed goes ``free -> occupied`` only through a
conditional UPDATE (of two concurrent admissions to one bed exactly one changes a row), and a
unique partial index allows one open ``bed_assignment`` per bed behind it. Every write is
audited and, after its commit, tells the open bed boards of the ward(s) it touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import to_local, utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.emr import Encounter
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.wards import DISCHARGE_DISPOSITIONS, Admission, Bed, BedAssignment, Ward
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.patients import age_years, full_name
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

BED_LABELS = {
    "free": "Free",
    "occupied": "Occupied",
    "cleaning": "Being cleaned",
    "out_of_service": "Out of service",
}
FREE_BEDS_LIMIT = 200


# --------------------------------------------------------------------------- read side


@dataclass(frozen=True)
class WardSummary:
    id: int
    name: str
    department: str
    beds: int
    occupied: int
    free: int
    cleaning: int
    out_of_service: int

    @property
    def occupancy_percent(self) -> int:
        """Occupied beds among those in service, in whole percent."""
        in_service = self.beds - self.out_of_service
        return round(100 * self.occupied / in_service) if in_service else 0


@dataclass(frozen=True)
class BedTile:
    id: int
    label: str
    status: str
    status_since: datetime
    status_note: str
    admission_id: int | None = None
    patient_id: int | None = None
    patient_name: str = ""
    mrn: str = ""
    sex: str = ""
    age: int | None = None
    admitted_at: datetime | None = None
    in_bed_since: datetime | None = None
    reason: str = ""
    los_hours: int = 0


@dataclass(frozen=True)
class BedBoard:
    ward: WardSummary
    beds: list[BedTile]
    admitted_today: int
    discharged_today: int
    average_los_hours: int  # of the patients on the ward now


@dataclass(frozen=True)
class FreeBed:
    id: int
    ward_id: int
    ward: str
    label: str


def length_of_stay_hours(admitted_at: datetime, now: datetime | None = None) -> int:
    """Whole hours since admission (0 for a future or missing time)."""
    now = now or utcnow()
    return max(0, int((now - admitted_at).total_seconds() // 3600))


def length_of_stay_label(hours: int) -> str:
    """'5 h' on the first day, then '3 d 4 h': what a ward round says out loud."""
    if hours < 24:
        return f"{hours} h"
    days, rest = divmod(hours, 24)
    return f"{days} d {rest} h" if rest else f"{days} d"


def _local_day_start(now: datetime) -> datetime:
    """Midnight of the hospital's today, as an aware moment (compares with stored UTC)."""
    local = to_local(now)
    return datetime.combine(local.date(), time(0), tzinfo=get_settings().tz)


def _count(status: str):
    return func.coalesce(func.sum(case((Bed.status == status, 1), else_=0)), 0)


def _summaries(session: Session, ward_id: int | None = None) -> list[WardSummary]:
    query = (
        select(
            Ward.id,
            Ward.name,
            func.coalesce(Department.name, ""),
            func.count(Bed.id),
            _count("occupied"),
            _count("free"),
            _count("cleaning"),
            _count("out_of_service"),
        )
        .select_from(Ward)
        .outerjoin(Department, Department.id == Ward.department_id)
        .outerjoin(Bed, Bed.ward_id == Ward.id)
        .where(Ward.active.is_(True))
        .group_by(Ward.id, Ward.name, Department.name)
        .order_by(Ward.name)
    )
    if ward_id is not None:
        query = query.where(Ward.id == ward_id)
    return [WardSummary(*(row[:3]), *(int(n) for n in row[3:])) for row in session.execute(query).all()]


def list_wards(session: Session, *, actor: Actor) -> list[WardSummary]:
    """Active wards with their beds counted by status (for the ward tabs and the hospital totals)."""
    authorize(actor, "patient.read")
    return _summaries(session)


def bed_board(session: Session, *, actor: Actor, ward_id: int, audit: bool = True) -> BedBoard:
    """Every bed of a ward with its patient, length of stay and the ward's figures.

    Opening the board is audited (it shows patients' names); the live refreshes of a board
    already open pass ``audit=False``: the same person is looking at the same screen.
    """
    authorize(actor, "patient.read")
    summaries = _summaries(session, ward_id)
    if not summaries:
        raise NotFound("That ward does not exist or is closed.")
    now = utcnow()
    open_assignment = and_(BedAssignment.bed_id == Bed.id, BedAssignment.to_at.is_(None))
    rows = session.execute(
        select(
            Bed.id,
            Bed.label,
            Bed.status,
            Bed.status_since,
            Bed.status_note,
            Admission.id,
            Admission.admitted_at,
            Admission.reason,
            BedAssignment.from_at,
            Patient,
        )
        .select_from(Bed)
        .outerjoin(BedAssignment, open_assignment)
        .outerjoin(Admission, Admission.id == BedAssignment.admission_id)
        .outerjoin(Patient, Patient.id == Admission.patient_id)
        .where(Bed.ward_id == ward_id)
        .order_by(Bed.label)
    ).all()
    today = to_local(now).date()
    beds = []
    for bed_id, label, status, since, note, admission_id, admitted_at, reason, from_at, patient in rows:
        if patient is None:
            tile = BedTile(bed_id, label, status, since, note or "")
        else:
            tile = BedTile(
                bed_id,
                label,
                status,
                since,
                note or "",
                admission_id,
                patient.id,
                full_name(patient),
                patient.mrn,
                patient.sex,
                age_years(patient.birth_date, today),
                admitted_at,
                from_at,
                reason,
                length_of_stay_hours(admitted_at, now),
            )
        beds.append(tile)
    day_start = _local_day_start(now)
    admitted_today, discharged_today = session.execute(
        select(
            func.coalesce(func.sum(case((Admission.admitted_at >= day_start, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Admission.discharged_at >= day_start, 1), else_=0)), 0),
        ).where(
            Admission.ward_id == ward_id,
            (Admission.admitted_at >= day_start) | (Admission.discharged_at >= day_start),
        )
    ).one()
    stays = [b.los_hours for b in beds if b.patient_id is not None]
    if audit:
        record_audit(
            session,
            actor,
            "ward.board",
            target_type="ward",
            target_id=ward_id,
            detail=f"{summaries[0].name}: {len(stays)} inpatients shown",
        )
        session.commit()
    return BedBoard(
        summaries[0],
        beds,
        int(admitted_today),
        int(discharged_today),
        round(sum(stays) / len(stays)) if stays else 0,
    )


def free_beds(session: Session, *, actor: Actor) -> list[FreeBed]:
    """Free beds of every active ward, for the transfer dialog."""
    authorize(actor, "ward.manage")
    rows = session.execute(
        select(Bed.id, Ward.id, Ward.name, Bed.label)
        .join(Ward, Ward.id == Bed.ward_id)
        .where(Bed.status == "free", Ward.active.is_(True))
        .order_by(Ward.name, Bed.label)
        .limit(FREE_BEDS_LIMIT)
    ).all()
    return [FreeBed(*row) for row in rows]


# --------------------------------------------------------------------------- write side


def _text(value, label: str, field: str, *, minimum: int = 3, maximum: int = 300) -> str:
    text = " ".join(str(value or "").split())
    if len(text) < minimum:
        raise ValidationError(f"Enter the {label} ({minimum} characters or more).", field=field)
    if len(text) > maximum:
        raise ValidationError(f"Keep the {label} under {maximum} characters.", field=field)
    return text


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


def _bed(session: Session, bed_id: int) -> tuple[Bed, Ward]:
    bed = session.get(Bed, bed_id)
    ward = session.get(Ward, bed.ward_id) if bed is not None else None
    if bed is None or ward is None or not ward.active:
        raise NotFound("That bed does not exist.")
    return bed, ward


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
    admission = session.get(Admission, admission_id)
    if admission is None:
        raise NotFound("That admission does not exist.")
    if admission.status != "active":
        raise Conflict("This patient has already been discharged.")
    assignment = session.execute(
        select(BedAssignment).where(BedAssignment.admission_id == admission.id, BedAssignment.to_at.is_(None))
    ).scalar_one_or_none()
    if assignment is None:
        raise Conflict("Someone else has just moved or discharged this patient. The board shows it now.")
    return admission, assignment


def admit_patient(session: Session, *, actor: Actor, patient_id: int, bed_id: int, reason: str) -> Admission:
    """Admit a patient to a free bed: the bed becomes occupied and an inpatient encounter opens."""
    authorize(actor, "ward.manage", patient_id=patient_id)
    reason = _text(reason, "reason for admission", "reason")
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient does not exist.")
    if patient.merged_into_id is not None:
        raise ValidationError("This record was merged into another one; admit the patient on that record.")
    if patient.deceased_at is not None:
        raise ValidationError("This patient is recorded as deceased and cannot be admitted.")
    bed, ward = _bed(session, bed_id)
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
    old_bed, old_ward = _bed(session, assignment.bed_id)
    bed, ward = _bed(session, bed_id)
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


def _set_bed_status(
    session: Session,
    *,
    actor: Actor,
    bed_id: int,
    allowed_from: tuple[str, ...],
    to: str,
    action: str,
    refusal: dict[str, str],
    note: str | None = None,
) -> Bed:
    authorize(actor, "ward.manage")
    bed, ward = _bed(session, bed_id)
    now = utcnow()
    changed = session.execute(
        update(Bed)
        .where(Bed.id == bed.id, Bed.status.in_(allowed_from))
        .values(status=to, status_since=now, status_note=note)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        session.refresh(bed)
        message = refusal.get(
            bed.status, f"Bed {bed.label} is {BED_LABELS.get(bed.status, bed.status).lower()}."
        )
        session.rollback()
        raise Conflict(message.format(label=bed.label))
    session.refresh(bed)
    record_audit(
        session,
        actor,
        action,
        target_type="bed",
        target_id=bed.id,
        detail=f"{ward.name} bed {bed.label}" + (f": {note}" if note else ""),
    )
    session.commit()
    live.publish(live.BEDS, ward.id)
    return bed


def mark_bed_clean(session: Session, *, actor: Actor, bed_id: int) -> Bed:
    """A bed that was being cleaned is ready for the next patient."""
    return _set_bed_status(
        session,
        actor=actor,
        bed_id=bed_id,
        allowed_from=("cleaning",),
        to="free",
        action="bed.clean",
        refusal={
            "free": "Bed {label} is already clean and free.",
            "occupied": "Bed {label} has a patient in it.",
            "out_of_service": "Bed {label} is out of service; put it back in service instead.",
        },
    )


def set_bed_out_of_service(session: Session, *, actor: Actor, bed_id: int, reason: str) -> Bed:
    """Take an empty bed out of use (broken, isolation, staffing), saying why."""
    authorize(actor, "ward.manage")
    reason = _text(reason, "reason", "reason", maximum=200)
    return _set_bed_status(
        session,
        actor=actor,
        bed_id=bed_id,
        allowed_from=("free", "cleaning"),
        to="out_of_service",
        action="bed.out_of_service",
        refusal={
            "occupied": "Bed {label} has a patient in it. Transfer the patient first.",
            "out_of_service": "Bed {label} is already out of service.",
        },
        note=reason,
    )


def return_bed_to_service(session: Session, *, actor: Actor, bed_id: int) -> Bed:
    """Put an out-of-service bed back in use; it is cleaned before the next patient."""
    return _set_bed_status(
        session,
        actor=actor,
        bed_id=bed_id,
        allowed_from=("out_of_service",),
        to="cleaning",
        action="bed.in_service",
        refusal={"free": "Bed {label} is already in service.", "occupied": "Bed {label} is in service."},
    )


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
    admission = session.get(Admission, admission_id)
    if admission is None:
        raise NotFound("That admission does not exist.")
    authorize(actor, "patient.read", patient_id=admission.patient_id)
    rows = session.execute(
        select(Ward.name, Bed.label, BedAssignment.from_at, BedAssignment.to_at, BedAssignment.moved_by)
        .join(Bed, Bed.id == BedAssignment.bed_id)
        .join(Ward, Ward.id == Bed.ward_id)
        .where(BedAssignment.admission_id == admission_id)
        .order_by(BedAssignment.from_at, BedAssignment.id)
    ).all()
    return [StayMove(*row) for row in rows]
