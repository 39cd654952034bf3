"""Each clinical role's day on its home screen: what a receptionist, a physician and a nurse
must act on today, instead of the same registration counts for everyone.

- Front desk (``appointment.book``): who arrives next today, who is waiting, who waits for a
  freed time.
- Physician (a bookable provider linked to the account): my patients today, my unsigned notes,
  and the NEWS2 alerts among my patients.
- Nurse (``ward.manage``): NEWS2 alerts on the ward, and whose observations are due by the
  RCP's frequency for their score (12 h, 4 h, 1 h, or continuous monitoring).
- Whoever orders laboratory tests (``lab.order``): the specimens of their orders that the
  laboratory rejected and that still wait to be taken again, with the reason: this is how the
  ordering clinician hears of a rejection.

Every list names patients, so each is permission-checked and the home screen's read is audited
once with the counts it showed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from hms_app import words
from hms_app.clock import format_local, local_today, utcnow
from hms_app.errors import Forbidden
from hms_app.models.emr import ClinicalNote
from hms_app.models.laboratory import REJECTION_REASONS, LabRequest, Specimen
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    Resource,
    WaitlistEntry,
)
from hms_app.models.security import AppUser
from hms_app.models.wards import Admission, Bed, BedAssignment, Ward
from hms_app.services.audit import audit_read
from hms_app.services.cds import chart_scores
from hms_app.services.clinic_boards import day_bounds
from hms_app.services.permissions import PORTAL_ROLES, Actor, require_actor

SHOWN = 8  # rows per list; the count says how many there are in all
ALERT_PATIENTS = 40  # NEWS2 is worked out for at most this many patients per list


@dataclass(frozen=True)
class WorkItem:
    time: str
    title: str
    detail: str
    link: str
    tone: str = ""  # "" | "amber" | "red"


@dataclass(frozen=True)
class WorkList:
    key: str
    title: str
    count: int
    empty: str
    link: str = ""  # where the whole list is worked
    items: list[WorkItem] = field(default_factory=list)


def _name(given: str, family: str) -> str:
    return f"{family}, {given}"


def _chart(patient_id: int) -> str:
    return f"/patients/{patient_id}"


def todays_work(session: Session, *, actor: Actor, now: datetime | None = None) -> list[WorkList]:
    """The lists of today's work this actor's role is for (none for managers and admins)."""
    require_actor(actor)
    if actor.patient_id is not None or (actor.roles and set(actor.roles) <= PORTAL_ROLES):
        raise Forbidden("The staff home screen is not part of the patient portal.")
    now = now or utcnow()
    lists: list[WorkList] = []
    if actor.can("appointment.book"):
        lists += _front_desk(session, now)
    if actor.can("emr.write") and actor.user_id is not None:
        provider_ids = list(
            session.execute(
                select(Resource.id).where(Resource.user_id == actor.user_id, Resource.active.is_(True))
            ).scalars()
        )
        if provider_ids:
            lists += _my_day(session, actor, provider_ids, now)
    if actor.can("ward.manage"):
        lists += _ward(session, actor, now)
    if actor.can("lab.order") and actor.user_id is not None:
        lists.append(_lab_recollect(session, actor))
    if lists:
        audit_read(
            session,
            actor,
            "home.worklists",
            detail="; ".join(f"{work.key}: {work.count}" for work in lists),
        )
    return lists


# ------------------------------------------------------------------ front desk


def _front_desk(session: Session, now: datetime) -> list[WorkList]:
    start, end = day_bounds(local_today())
    today = (Appointment.start_at >= start, Appointment.start_at < end)
    clinician = (
        select(func.min(Resource.name))
        .join(AppointmentParticipant, AppointmentParticipant.resource_id == Resource.id)
        .where(AppointmentParticipant.appointment_id == Appointment.id, Resource.kind == "provider")
        .scalar_subquery()
    )
    base = (
        select(Appointment, Patient.given_name, Patient.family_name, AppointmentType.name, clinician)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
    )

    def count(*where) -> int:
        return session.execute(select(func.count()).select_from(Appointment).where(*where)).scalar_one()

    expected_where = (*today, Appointment.status == "booked")
    arrivals = session.execute(base.where(*expected_where).order_by(Appointment.start_at).limit(SHOWN)).all()
    waiting_where = (*today, Appointment.status == "arrived")
    waiting = session.execute(base.where(*waiting_where).order_by(Appointment.arrived_at).limit(SHOWN)).all()
    waitlist_count = session.execute(
        select(func.count()).select_from(WaitlistEntry).where(WaitlistEntry.status == "waiting")
    ).scalar_one()
    waitlist = session.execute(
        select(WaitlistEntry, Patient.given_name, Patient.family_name)
        .join(Patient, Patient.id == WaitlistEntry.patient_id)
        .where(WaitlistEntry.status == "waiting")
        .order_by(WaitlistEntry.created_at)
        .limit(SHOWN)
    ).all()

    def late(appointment: Appointment) -> str:
        return "amber" if appointment.start_at < now else ""

    return [
        WorkList(
            "arrivals",
            "Arriving today",
            count(*expected_where),
            "Nobody else is expected today.",
            "/boards/flow",
            [
                WorkItem(
                    format_local(a.start_at, "%H:%M"),
                    _name(given, family),
                    f"{kind} · {who or 'any clinician'}" + (" · late" if late(a) else ""),
                    _chart(a.patient_id),
                    late(a),
                )
                for a, given, family, kind, who in arrivals
            ],
        ),
        WorkList(
            "waiting",
            "In the waiting room",
            count(*waiting_where),
            "Nobody is waiting.",
            "/boards/waiting",
            [
                WorkItem(
                    format_local(a.arrived_at, "%H:%M") if a.arrived_at else "",
                    _name(given, family),
                    f"waiting {_minutes(now - a.arrived_at)} for {who or 'the next clinician'}"
                    if a.arrived_at
                    else kind,
                    _chart(a.patient_id),
                    "amber" if a.arrived_at and now - a.arrived_at > timedelta(minutes=30) else "",
                )
                for a, given, family, kind, who in waiting
            ],
        ),
        WorkList(
            "waitlist",
            "Waiting for a freed time",
            waitlist_count,
            "The waitlist is empty.",
            "/schedule",
            [
                WorkItem(
                    entry.wanted_date.isoformat() if entry.wanted_date else "",
                    _name(given, family),
                    f"since {format_local(entry.created_at, '%d %b')}",
                    _chart(entry.patient_id),
                )
                for entry, given, family in waitlist
            ],
        ),
    ]


def _minutes(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


# ------------------------------------------------------------------ physician


def _my_day(session: Session, actor: Actor, provider_ids: list[int], now: datetime) -> list[WorkList]:
    start, end = day_bounds(local_today())
    visits = session.execute(
        select(Appointment, Patient.given_name, Patient.family_name, AppointmentType.name)
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(
            Appointment.start_at >= start,
            Appointment.start_at < end,
            Appointment.status.not_in(("cancelled", "offered")),
            Appointment.id.in_(
                select(AppointmentParticipant.appointment_id).where(
                    AppointmentParticipant.resource_id.in_(provider_ids)
                )
            ),
        )
        .order_by(Appointment.start_at)
    ).all()
    unsigned_where = (ClinicalNote.author_id == actor.user_id, ClinicalNote.status == "draft")
    unsigned_count = session.execute(
        select(func.count()).select_from(ClinicalNote).where(*unsigned_where)
    ).scalar_one()
    unsigned = session.execute(
        select(ClinicalNote, ClinicalNote.patient_id, Patient.given_name, Patient.family_name)
        .join(Patient, Patient.id == ClinicalNote.patient_id)
        .where(*unsigned_where)
        .order_by(ClinicalNote.created_at)
        .limit(SHOWN)
    ).all()
    patients = {a.patient_id: _name(given, family) for a, given, family, _kind in visits}
    alerts = _news2_alerts(_scores(session, actor, list(patients)[:ALERT_PATIENTS]), patients)
    return [
        WorkList(
            "my_patients",
            "My patients today",
            len(visits),
            "No visits booked with you today.",
            "/schedule",
            [
                WorkItem(
                    format_local(a.start_at, "%H:%M"),
                    _name(given, family),
                    f"{kind} · {words.say(words.FLOW_STATUS, a.status)}",
                    _chart(a.patient_id),
                    "amber" if a.status == "arrived" else "",
                )
                for a, given, family, kind in visits[:SHOWN]
            ],
        ),
        WorkList(
            "unsigned_notes",
            "My unsigned notes",
            unsigned_count,
            "Every note you wrote is signed.",
            "",
            [
                WorkItem(
                    format_local(note.created_at, "%d %b"),
                    _name(given, family),
                    "draft note: sign or amend it",
                    _chart(patient_id),
                    "amber",
                )
                for note, patient_id, given, family in unsigned
            ],
        ),
        WorkList(
            "my_alerts", "Alerts among my patients", len(alerts), "No NEWS2 alerts.", "", alerts[:SHOWN]
        ),
    ]


# ------------------------------------------------------------------ laboratory


def _lab_recollect(session: Session, actor: Actor) -> WorkList:
    """Specimens of this clinician's orders rejected by the laboratory whose new sample is still to
    be taken (its replacement pending), most recent rejection first."""
    replacement = aliased(Specimen)
    where = (
        Specimen.status == "rejected",
        LabRequest.ordered_by_id == actor.user_id,
        replacement.status == "pending",
    )
    base = (
        select(Specimen.rejected_at, Specimen.rejection_reason, Specimen.accession, replacement.accession)
        .join(LabRequest, LabRequest.id == Specimen.request_id)
        .join(replacement, replacement.replaces_id == Specimen.id)
    )
    count = session.execute(
        select(func.count())
        .select_from(Specimen)
        .join(LabRequest, LabRequest.id == Specimen.request_id)
        .join(replacement, replacement.replaces_id == Specimen.id)
        .where(*where)
    ).scalar_one()
    rows = session.execute(
        base.add_columns(Specimen.patient_id, Patient.given_name, Patient.family_name)
        .join(Patient, Patient.id == Specimen.patient_id)
        .where(*where)
        .order_by(Specimen.rejected_at.desc(), Specimen.id.desc())
        .limit(SHOWN)
    ).all()
    return WorkList(
        "lab_recollect",
        "Specimens to take again",
        count,
        "No specimen of your orders was rejected.",
        "",
        [
            WorkItem(
                format_local(rejected_at, "%d %b %H:%M") if rejected_at else "",
                _name(given, family),
                f"{REJECTION_REASONS.get(reason, reason)}: {old} rejected, take {new}",
                _chart(patient_id),
                "red",
            )
            for rejected_at, reason, old, new, patient_id, given, family in rows
        ],
    )


# ------------------------------------------------------------------ nurse


# RCP 2017: how often to observe at each NEWS2 band (an aggregate of 7 or more: continuously).
OBSERVE_EVERY = (
    (7, timedelta(minutes=15)),
    (5, timedelta(hours=1)),
    (1, timedelta(hours=4)),
    (0, timedelta(hours=12)),
)


def _ward(session: Session, actor: Actor, now: datetime) -> list[WorkList]:
    department_id = session.execute(select(AppUser.department_id).where(AppUser.id == actor.user_id)).scalar()
    wards = select(Ward.id).where(Ward.active.is_(True))
    own = []
    if department_id is not None:
        own = list(session.execute(wards.where(Ward.department_id == department_id)).scalars())
    ward_filter = Admission.ward_id.in_(own) if own else Admission.ward_id.in_(wards)
    stays = session.execute(
        select(Admission.patient_id, Patient.given_name, Patient.family_name, Ward.name, Bed.label)
        .join(Patient, Patient.id == Admission.patient_id)
        .join(Ward, Ward.id == Admission.ward_id)
        .outerjoin(
            BedAssignment, (BedAssignment.admission_id == Admission.id) & BedAssignment.to_at.is_(None)
        )
        .outerjoin(Bed, Bed.id == BedAssignment.bed_id)
        .where(Admission.status == "active", ward_filter)
        .order_by(Ward.name, Bed.label)
        .limit(ALERT_PATIENTS)
    ).all()
    where = {pid: f"{ward} · bed {bed}" if bed else ward for pid, _g, _f, ward, bed in stays}
    names = {pid: _name(given, family) for pid, given, family, _w, _b in stays}
    scores = _scores(session, actor, list(names))
    alerts = _news2_alerts(scores, names, where)
    due: list[tuple[datetime, WorkItem]] = []
    for patient_id, name in names.items():
        news = scores[patient_id].get("news2")
        if news is None:
            item = WorkItem(
                "now", name, f"{where[patient_id]} · no NEWS2 set yet", _chart(patient_id), "amber"
            )
            due.append((now, item))
            continue
        every = next(span for floor, span in OBSERVE_EVERY if news.score.value >= floor)
        next_due = _taken(news, now) + every
        if next_due <= now:
            detail = f"{where[patient_id]} · NEWS2 {news.score.value}: observations due"
            tone = "red" if news.score.value >= 5 else "amber"
            due.append(
                (next_due, WorkItem(format_local(next_due, "%H:%M"), name, detail, _chart(patient_id), tone))
            )
    due.sort(key=lambda pair: pair[0])
    return [
        WorkList(
            "ward_alerts",
            "NEWS2 alerts on my ward",
            len(alerts),
            "No NEWS2 alerts on the ward.",
            "/wards",
            alerts[:SHOWN],
        ),
        WorkList(
            "observations_due",
            "Observations due",
            len(due),
            "Every patient's observations are up to date.",
            "/wards",
            [item for _when, item in due[:SHOWN]],
        ),
    ]


def _scores(session: Session, actor: Actor, patient_ids: list[int]) -> dict:
    """Each patient's clinical scores, read once (the home screen's own read is audited once)."""
    return {pid: chart_scores(session, actor=actor, patient_id=pid, audit=False) for pid in patient_ids}


def _taken(news, default: datetime) -> datetime:
    """When a NEWS2 set was taken: its newest observation."""
    return max((i.taken_at for i in news.inputs if i.taken_at), default=default)


def _news2_alerts(scores: dict, names: dict[int, str], where: dict[int, str] | None = None) -> list[WorkItem]:
    """The patients whose current NEWS2 triggers a review, highest score first."""
    found: list[tuple[int, WorkItem]] = []
    for patient_id, chart in scores.items():
        if not chart.alert:
            continue
        news = chart.get("news2")
        value = news.score.value if news else 0
        when = format_local(_taken(news, utcnow()), "%H:%M") if news else ""
        detail = f"{where[patient_id]} · {chart.alert}" if where else chart.alert
        found.append((value, WorkItem(when, names[patient_id], detail, _chart(patient_id), "red")))
    found.sort(key=lambda pair: -pair[0])
    return [item for _value, item in found]
