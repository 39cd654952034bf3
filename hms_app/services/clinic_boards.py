"""The clinic boards' reads (read-only queries): the flow board (today's appointments per
department by status) and the waiting-room screen (tokens being called, the queue with a
predicted wait). Counts are SQL aggregates; the lists are capped to what a screen shows.

The predicted wait comes from recent service times: the median time from "called in" to
"completed" over the department's last completed visits, per provider queue (a patient waits
for the patients ahead of them with the same provider, plus what is left of the visit in the
room now). Fewer than three recent visits: the visit types' booked lengths stand in.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from hms_app import words
from hms_app.clock import local_today, to_local, utcnow
from hms_app.errors import NotFound
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    HealthcareService,
    Resource,
)
from hms_app.models.video_visits import VideoVisit
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row
from hms_app.settings import get_settings

FLOW_COLUMNS = ("booked", "arrived", "in_room", "completed")
FLOW_STATUSES = (*FLOW_COLUMNS, "no_show", "cancelled")
STATUS_LABELS = words.FLOW_STATUS
CARDS_PER_COLUMN = 60
CALLING_WINDOW_MINUTES = 15  # a token stays on "now calling" this long after the call
CALLING_SHOWN = 4
WAITING_SHOWN = 24
SERVICE_SAMPLE = 20  # recent completed visits the service time is taken from
SERVICE_LOOKBACK_DAYS = 7
MIN_SAMPLE = 3


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The hospital-local day as two aware moments (they compare with stored UTC)."""
    tz = get_settings().tz
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def short_name(given: str, family: str) -> str:
    """'Ada L.': enough for staff to match a face to a card across the room."""
    return f"{given} {family[:1]}." if family else given


def initials(given: str, family: str) -> str:
    """'A. L.': all a public screen shows of a patient."""
    return " ".join(f"{part[:1].upper()}." for part in (given, family) if part)


def _minutes(later: datetime, earlier: datetime | None) -> int:
    return max(0, int((later - earlier).total_seconds() // 60)) if earlier else 0


# --------------------------------------------------------------------------- departments


@dataclass(frozen=True)
class BoardDepartment:
    id: int
    name: str
    today: int  # appointments today, not cancelled


def board_departments(session: Session, *, actor: Actor, day: date | None = None) -> list[BoardDepartment]:
    """Departments that see patients (clinical and diagnostic), with the day's appointments (for the filter)."""
    authorize(actor, "appointment.read")
    start, end = day_bounds(day or local_today())
    counted = (
        select(Appointment.department_id, func.count().label("n"))
        .where(Appointment.start_at >= start, Appointment.start_at < end, Appointment.status != "cancelled")
        .group_by(Appointment.department_id)
        .subquery()
    )
    rows = session.execute(
        select(Department.id, Department.name, func.coalesce(counted.c.n, 0))
        .outerjoin(counted, counted.c.department_id == Department.id)
        .where(Department.active.is_(True), Department.kind.in_(("clinical", "diagnostic")))
        .order_by(Department.name)
    ).all()
    return [BoardDepartment(i, n, int(c)) for i, n, c in rows]


# --------------------------------------------------------------------------- flow board


@dataclass(frozen=True)
class DepartmentCounts:
    department_id: int
    department: str
    counts: dict[str, int]  # status -> appointments today

    @property
    def total(self) -> int:
        return sum(n for s, n in self.counts.items() if s != "cancelled")


@dataclass(frozen=True)
class FlowCard:
    id: int
    reference: str
    token: str
    start_at: datetime
    status: str
    patient_id: int
    patient: str  # short name
    service: str
    provider: str
    department: str
    since: datetime | None  # arrived (waiting), called (in room) or completed
    virtual: bool = False  # a video visit: admitted and ended from the video screens, not called in
    video: str = ""  # its video visit's status (waiting | admitted | ended), "" before the patient joins
    clinician_user_ids: tuple[int, ...] = ()  # the booked providers' accounts (they admit and join)


@dataclass(frozen=True)
class FlowBoard:
    day: date
    departments: list[DepartmentCounts]
    counts: dict[str, int]  # for the department shown (or all)
    columns: dict[str, list[FlowCard]] = field(default_factory=dict)


def flow_counts(session: Session, *, actor: Actor, day: date | None = None) -> list[DepartmentCounts]:
    """Today's appointments per department by status, counted in SQL."""
    authorize(actor, "appointment.read")
    start, end = day_bounds(day or local_today())
    rows = session.execute(
        select(Appointment.department_id, Department.name, Appointment.status, func.count())
        .join(Department, Department.id == Appointment.department_id)
        .where(Appointment.start_at >= start, Appointment.start_at < end)
        .group_by(Appointment.department_id, Department.name, Appointment.status)
        .order_by(Department.name)
    ).all()
    grouped: dict[tuple[int, str], dict[str, int]] = {}
    for department_id, name, status, count in rows:
        grouped.setdefault((department_id, name), dict.fromkeys(FLOW_STATUSES, 0))[status] = int(count)
    return [DepartmentCounts(d, n, counts) for (d, n), counts in grouped.items()]


@dataclass(frozen=True)
class Who:
    """The resources an appointment uses, by kind (names; empty when none)."""

    provider: str = ""
    room: str = ""
    equipment: str = ""

    @property
    def where(self) -> str:
        """Where a called patient goes: the room, else the scanner, else the clinician."""
        return self.room or self.equipment or self.provider

    @property
    def queue(self) -> str | None:
        """Whose queue the patient is in: the clinician, else the scanner, else the room."""
        return self.provider or self.equipment or self.room or None


NOBODY = Who()


def _providers(session: Session, appointment_ids: list[int]) -> dict[int, Who]:
    """The provider, room and equipment of each appointment, in one query for the rows on screen."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    if appointment_ids:
        rows = session.execute(
            select(AppointmentParticipant.appointment_id, Resource.kind, Resource.name)
            .join(Resource, Resource.id == AppointmentParticipant.resource_id)
            .where(AppointmentParticipant.appointment_id.in_(appointment_ids))
            .order_by(AppointmentParticipant.id)
        ).all()
        for appointment_id, kind, name in rows:
            found[appointment_id].setdefault(kind, name)
    return {
        k: Who(v.get("provider", ""), v.get("room", ""), v.get("equipment", "")) for k, v in found.items()
    }


def _video_sides(
    session: Session, appointment_ids: list[int]
) -> tuple[dict[int, str], dict[int, tuple[int, ...]]]:
    """For the virtual cards on screen: their video visit's status and the booked providers' accounts."""
    if not appointment_ids:
        return {}, {}
    statuses = dict(
        session.execute(
            select(VideoVisit.appointment_id, VideoVisit.status).where(
                VideoVisit.appointment_id.in_(appointment_ids)
            )
        ).all()
    )
    accounts: dict[int, list[int]] = defaultdict(list)
    for appointment_id, user_id in session.execute(
        select(AppointmentParticipant.appointment_id, Resource.user_id)
        .join(Resource, Resource.id == AppointmentParticipant.resource_id)
        .where(
            AppointmentParticipant.appointment_id.in_(appointment_ids),
            Resource.kind == "provider",
            Resource.user_id.is_not(None),
        )
    ).all():
        accounts[appointment_id].append(user_id)
    return statuses, {k: tuple(v) for k, v in accounts.items()}


def flow_board(
    session: Session,
    *,
    actor: Actor,
    department_id: int | None = None,
    day: date | None = None,
    audit: bool = True,
) -> FlowBoard:
    """The clinic flow board: counts per department and status, and the cards of each column.

    Opening it is audited (cards show patients' short names); live refreshes pass ``audit=False``.
    """
    authorize(actor, "appointment.read")
    day = day or local_today()
    departments = flow_counts(session, actor=actor, day=day)
    if department_id is not None and session.get(Department, department_id) is None:
        raise NotFound("That department does not exist.")
    shown = [d for d in departments if department_id is None or d.department_id == department_id]
    counts = dict.fromkeys(FLOW_STATUSES, 0)
    for row in shown:
        for status, n in row.counts.items():
            counts[status] += n
    start, end = day_bounds(day)
    columns: dict[str, list[FlowCard]] = {}
    for status in FLOW_COLUMNS:
        since = {
            "arrived": Appointment.arrived_at,
            "in_room": Appointment.in_room_at,
            "completed": Appointment.completed_at,
        }.get(status)
        # Waiting patients in the order they will be seen; done ones latest first.
        order = (
            (Appointment.completed_at.desc(),)
            if status == "completed"
            else (Appointment.start_at, Appointment.id)
        )
        query = (
            select(
                Appointment.id,
                Appointment.reference,
                Appointment.queue_token,
                Appointment.start_at,
                Appointment.patient_id,
                Patient.given_name,
                Patient.family_name,
                HealthcareService.name,
                Department.name,
                since if since is not None else Appointment.start_at,
                AppointmentType.mode,
            )
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(HealthcareService, HealthcareService.id == Appointment.service_id)
            .join(Department, Department.id == Appointment.department_id)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .where(Appointment.start_at >= start, Appointment.start_at < end, Appointment.status == status)
            .order_by(*order)
            .limit(CARDS_PER_COLUMN)
        )
        if department_id is not None:
            query = query.where(Appointment.department_id == department_id)
        columns[status] = session.execute(query).all()
    people = _providers(session, [row[0] for rows in columns.values() for row in rows])
    virtual_ids = [row[0] for rows in columns.values() for row in rows if row[10] == "virtual"]
    video, clinicians = _video_sides(session, virtual_ids)
    cards = {
        status: [
            FlowCard(
                id=row[0],
                reference=row[1],
                token=row[2] or "",
                start_at=row[3],
                status=status,
                patient_id=row[4],
                patient=short_name(row[5], row[6]),
                service=row[7],
                department=row[8],
                provider=people.get(row[0], NOBODY).provider,
                since=row[9] if status != "booked" else None,
                virtual=row[10] == "virtual",
                video=video.get(row[0], ""),
                clinician_user_ids=clinicians.get(row[0], ()),
            )
            for row in rows
        ]
        for status, rows in columns.items()
    }
    if audit:
        record_audit(
            session,
            actor,
            "appointment.board",
            target_type="department",
            target_id=department_id,
            detail=f"flow board {day.isoformat()}: {sum(len(c) for c in cards.values())} appointments shown",
        )
        session.commit()
    return FlowBoard(day, departments, counts, cards)


@dataclass(frozen=True)
class FlowScreen:
    departments: list[BoardDepartment]  # the department filter's options
    board: FlowBoard


def flow_screen(session: Session, *, actor: Actor, department_id: int | None) -> FlowScreen:
    """The department filter's options and the flow board, in one session: what a live refresh
    shows (not audited: the board was audited when it was opened)."""
    return FlowScreen(
        board_departments(session, actor=actor),
        flow_board(session, actor=actor, department_id=department_id, audit=False),
    )


# --------------------------------------------------------------------------- waiting room


@dataclass(frozen=True)
class CalledToken:
    token: str
    where: str  # the room, else the clinician
    called_at: datetime


@dataclass(frozen=True)
class WaitingToken:
    token: str
    initials: str
    position: int
    predicted_minutes: int


@dataclass(frozen=True)
class WaitingRoom:
    department_id: int
    department: str
    calling: list[CalledToken]
    waiting: list[WaitingToken]
    waiting_total: int
    service_minutes: int  # the typical visit the prediction uses
    sample_size: int  # recent visits it was measured on (0: booked lengths stood in)


def recent_service_minutes(session: Session, *, department_id: int, now: datetime) -> tuple[float, int]:
    """Median minutes from call to completion over the department's recent visits, and how many."""
    rows = session.execute(
        select(Appointment.in_room_at, Appointment.completed_at)
        .where(
            Appointment.department_id == department_id,
            Appointment.status == "completed",
            Appointment.completed_at >= now - timedelta(days=SERVICE_LOOKBACK_DAYS),
            Appointment.completed_at <= now,
            Appointment.in_room_at.is_not(None),
        )
        .order_by(Appointment.completed_at.desc())
        .limit(SERVICE_SAMPLE)
    ).all()
    durations = [(done - called).total_seconds() / 60 for called, done in rows if done > called]
    if len(durations) < MIN_SAMPLE:
        return 0.0, 0
    return statistics.median(durations), len(durations)


def predict_waits(
    queue: list[tuple[int, str | None]],
    busy_minutes: dict[str | None, int],
    service_minutes: float,
) -> list[int]:
    """Minutes each waiting patient will wait, in queue order.

    ``queue`` is (position, provider) in the order patients will be seen (the provider is the
    clinician, or the scanner for imaging); ``busy_minutes`` says for how long each provider's
    current patient has been in the room. A patient waits for the rest of the visit in the room
    now, then one visit per patient ahead with the same provider. Patients without a named
    provider queue together.
    """
    ahead: dict[str | None, int] = defaultdict(int)
    waits = []
    for _position, provider in queue:
        remaining = 0.0
        if provider in busy_minutes:
            # A visit running past the typical length may end any minute: count two at least.
            remaining = max(service_minutes - busy_minutes[provider], 2.0)
        waits.append(math.ceil(remaining + ahead[provider] * service_minutes))
        ahead[provider] += 1
    return waits


def waiting_room(session: Session, *, actor: Actor, department_id: int) -> WaitingRoom:
    """The waiting-room screen of one department: tokens called, the queue and predicted waits.

    Shows tokens and initials only (it hangs in a public room), so reading it is not audited.
    """
    authorize(actor, "appointment.read")
    department = get_row(session, Department, department_id, "That department does not exist.")
    now = utcnow()
    start, end = day_bounds(to_local(now).date())
    today = (
        Appointment.department_id == department_id,
        Appointment.start_at >= start,
        Appointment.start_at < end,
    )
    called = session.execute(
        select(Appointment.id, Appointment.queue_token, Appointment.reference, Appointment.in_room_at)
        .where(
            *today,
            Appointment.status == "in_room",
            Appointment.in_room_at >= now - timedelta(minutes=CALLING_WINDOW_MINUTES),
        )
        .order_by(Appointment.in_room_at.desc())
        .limit(CALLING_SHOWN)
    ).all()
    in_room = session.execute(
        select(Appointment.id, Appointment.in_room_at).where(*today, Appointment.status == "in_room")
    ).all()
    waiting_total = session.execute(
        select(func.count()).select_from(Appointment).where(*today, Appointment.status == "arrived")
    ).scalar_one()
    waiting = session.execute(
        select(
            Appointment.id,
            Appointment.queue_token,
            Appointment.reference,
            Patient.given_name,
            Patient.family_name,
            AppointmentType.duration_minutes,
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(*today, Appointment.status == "arrived")
        .order_by(Appointment.start_at, Appointment.arrived_at, Appointment.id)
        .limit(WAITING_SHOWN)
    ).all()
    people = _providers(session, [r[0] for r in called] + [r[0] for r in in_room] + [r[0] for r in waiting])
    service, sample = recent_service_minutes(session, department_id=department_id, now=now)
    if sample == 0:
        booked = [r[5] for r in waiting] or [15]
        service = statistics.median(booked)
    busy = {}
    for appointment_id, called_at in in_room:
        provider = people.get(appointment_id, NOBODY).queue
        # Two patients "in the room" with one provider: the latest call is the visit going on.
        busy[provider] = min(busy.get(provider, 10**6), _minutes(now, called_at))
    queue = [(i, people.get(r[0], NOBODY).queue) for i, r in enumerate(waiting, start=1)]
    waits = predict_waits(queue, busy, service)
    return WaitingRoom(
        department_id=department_id,
        department=department.name,
        calling=[
            CalledToken(
                token or reference[-4:],
                people.get(appointment_id, NOBODY).where,
                called_at,
            )
            for appointment_id, token, reference, called_at in called
        ],
        waiting=[
            WaitingToken(row[1] or row[2][-4:], initials(row[3], row[4]), position, wait)
            for (position, _provider), row, wait in zip(queue, waiting, waits, strict=True)
        ],
        waiting_total=int(waiting_total),
        service_minutes=round(service),
        sample_size=sample,
    )
