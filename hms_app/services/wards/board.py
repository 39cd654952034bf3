"""The bed board's reads: the wards with their beds counted by status, one ward's beds with
their patients and length of stay, the free beds a patient can move to."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time

from sqlalchemy import and_, case, func, select
from sqlmodel import Session

from hms_app import words
from hms_app.clock import to_local, utcnow
from hms_app.errors import NotFound, ValidationError
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.wards import Admission, Bed, BedAssignment, Ward
from hms_app.plurals import counted
from hms_app.services.audit import record_audit
from hms_app.services.patients import age_years, full_name
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.mar import late_doses
from hms_app.settings import get_settings

BED_LABELS = words.BED_STATUS
FREE_BEDS_LIMIT = 200


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
    late_doses: int = 0  # scheduled doses past their window with nothing on the MAR


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
    late = late_doses(session, [b.patient_id for b in beds if b.patient_id is not None], now)
    if late:
        beds = [replace(b, late_doses=late.get(b.patient_id, 0)) for b in beds]
    stays = [b.los_hours for b in beds if b.patient_id is not None]
    if audit:
        record_audit(
            session,
            actor,
            "ward.board",
            target_type="ward",
            target_id=ward_id,
            detail=f"{summaries[0].name}: {counted(len(stays), 'inpatient')} shown",
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


@dataclass(frozen=True)
class WardScreen:
    wards: list[WardSummary]  # the ward tabs
    board: BedBoard


def ward_screen(session: Session, *, actor: Actor, ward_id: int) -> WardScreen:
    """The ward tabs and one ward's board, in one session: what a live refresh shows (not audited:
    the board was audited when it was opened)."""
    return WardScreen(
        list_wards(session, actor=actor), bed_board(session, actor=actor, ward_id=ward_id, audit=False)
    )


def admission_in_bed(session: Session, *, actor: Actor, ward_id: int, bed_id: int) -> int:
    """The admission in a bed of the ward now: what the board's transfer and discharge act on,
    looked up on the server rather than taken from the browser."""
    board = bed_board(session, actor=actor, ward_id=ward_id, audit=False)
    for tile in board.beds:
        if tile.id == bed_id and tile.admission_id:
            return tile.admission_id
    raise ValidationError("The patient is no longer in this bed. The board shows it now.")
