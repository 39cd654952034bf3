"""The visit: the patient's waiting room, the clinician admitting them, and ending the visit
(the appointment completes and its charge posts through scheduling's completion, the note stays).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlmodel import Session

from hms_app.clock import format_local, to_local, utcnow
from hms_app.errors import Conflict
from hms_app.models.emr import ClinicalNote, Encounter
from hms_app.models.organization import Department
from hms_app.models.video_visits import VideoSignal, VideoVisit
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.permissions import Actor
from hms_app.services.scheduling.appointments import audit_appointment, locked_appointment, publish_change
from hms_app.services.scheduling.flow import complete_appointment
from hms_app.services.scheduling.virtual import VIDEO_TOPIC
from hms_app.services.video_visits.access import Seat, require_open, seat_for, visit_of

VIDEO = VIDEO_TOPIC


def visits_topic() -> str:
    """The live topic of video visits (keyed by appointment id)."""
    return VIDEO


def publish_visit(seat: Seat) -> None:
    """After commit: the flow boards and both participants' screens of this visit refresh."""
    live.publish(VIDEO, seat.appointment_id)
    publish_change(seat.department_id, queue=True)


def audit_visit(session: Session, actor: Actor, action: str, seat: Seat, detail: str) -> None:
    record_audit(
        session,
        actor,
        action,
        patient_id=seat.patient_id,
        target_type="appointment",
        target_id=seat.appointment_id,
        detail=detail,
    )


@dataclass(frozen=True)
class VisitState:
    """Where a visit stands, as either participant's screen shows it."""

    appointment_id: int
    side: str
    status: str  # not_started | waiting | admitted | ended
    appointment_status: str
    start_at: datetime
    opens_at: datetime
    waiting_since: datetime | None
    admitted_at: datetime | None


def _state(seat: Seat, visit: VideoVisit | None) -> VisitState:
    from hms_app.services.video_visits.access import OPENS_BEFORE

    return VisitState(
        seat.appointment_id,
        seat.side,
        visit.status if visit is not None else "not_started",
        seat.status,
        seat.start_at,
        seat.start_at - OPENS_BEFORE,
        visit.waiting_since if visit is not None else None,
        visit.admitted_at if visit is not None else None,
    )


def visit_state(session: Session, *, actor: Actor, appointment_id) -> VisitState:
    """Where the visit stands, for one of its two participants."""
    seat = seat_for(session, actor, appointment_id)
    return _state(seat, visit_of(session, seat.appointment_id))


def enter_waiting_room(
    session: Session, *, actor: Actor, appointment_id, now: datetime | None = None
) -> VisitState:
    """The patient has checked camera and microphone and waits to be admitted (checked in)."""
    now = now or utcnow()
    seat = seat_for(session, actor, appointment_id, lock=True)
    if seat.side != "patient":
        raise Conflict("Only the patient waits in the waiting room; admit them from the flow board.")
    require_open(seat, now)
    visit = visit_of(session, seat.appointment_id, lock=True)
    if visit is not None and visit.status == "ended":
        raise Conflict("This video visit has ended.")
    appointment = locked_appointment(session, seat.appointment_id)
    if appointment.status == "booked":
        # Entering the waiting room is the check-in of a video visit: a queue token, the flow board's
        # "arrived" column, counted in waits like an arrival at the desk.
        department = session.get(Department, appointment.department_id)
        local_day = to_local(appointment.start_at).date()
        (number,) = take_numbers(session, f"queue:{department.id}:{local_day:%Y%m%d}")
        appointment.status, appointment.arrived_at, appointment.updated_at = "arrived", now, now
        appointment.queue_token = f"V-{number:03d}"
        session.add(appointment)
        audit_appointment(
            session, actor, "appointment.check_in", appointment, f"{appointment.reference} video waiting room"
        )
    if visit is None:
        visit = VideoVisit(
            appointment_id=seat.appointment_id,
            patient_id=seat.patient_id,
            department_id=seat.department_id,
        )
    if visit.status == "waiting" and visit.waiting_since is None:
        visit.waiting_since = now
    session.add(visit)
    session.flush()
    audit_visit(session, actor, "video.join", seat, f"patient entered the waiting room ({visit.status})")
    session.commit()
    publish_visit(seat)
    return _state(seat, visit)


def admit_patient(
    session: Session, *, actor: Actor, appointment_id, now: datetime | None = None
) -> VisitState:
    """The clinician lets the waiting patient in: the call can start; a virtual encounter opens for the note."""
    now = now or utcnow()
    seat = seat_for(session, actor, appointment_id, lock=True)
    if seat.side != "clinician":
        raise Conflict("Only the clinician of the visit admits the patient.")
    require_open(seat, now)
    visit = visit_of(session, seat.appointment_id, lock=True)
    if visit is None or visit.status != "waiting":
        status = "not in the waiting room" if visit is None else visit.status
        raise Conflict(f"The patient is {status}; only a waiting patient is admitted.")
    appointment = locked_appointment(session, seat.appointment_id)
    if appointment.status == "arrived":
        appointment.status, appointment.in_room_at, appointment.updated_at = "in_room", now, now
        session.add(appointment)
        audit_appointment(
            session, actor, "appointment.call", appointment, f"{appointment.reference} admitted to video"
        )
    encounter = Encounter(
        patient_id=seat.patient_id,
        encounter_class="virtual",
        status="in-progress",
        department_id=seat.department_id,
        practitioner_id=actor.user_id or None,
        reason=f"Video visit {appointment.reference}",
        start_at=now,
    )
    session.add(encounter)
    session.flush()
    record_audit(
        session,
        actor,
        "encounter.start",
        patient_id=seat.patient_id,
        target_type="encounter",
        target_id=encounter.id,
        detail="virtual",
    )
    visit.status, visit.admitted_at, visit.clinician_user_id = "admitted", now, actor.user_id or None
    visit.encounter_id = encounter.id
    session.add(visit)
    audit_visit(session, actor, "video.admit", seat, "clinician admitted the patient")
    session.commit()
    publish_visit(seat)
    return _state(seat, visit)


def end_visit(session: Session, *, actor: Actor, appointment_id, now: datetime | None = None) -> VisitState:
    """The clinician ends the call: the appointment completes (its charge posts), the encounter and
    its note stay, the signalling rows go. One transaction: a failed charge changes nothing."""
    now = now or utcnow()
    seat = seat_for(session, actor, appointment_id, lock=True)
    if seat.side != "clinician":
        raise Conflict("Only the clinician ends the visit; you can leave the call at any time.")
    visit = visit_of(session, seat.appointment_id, lock=True)
    if visit is None or visit.status != "admitted":
        raise Conflict("Only a visit the patient was admitted to can be ended.")
    visit.status, visit.ended_at = "ended", now
    session.add(visit)
    session.execute(delete(VideoSignal).where(VideoSignal.visit_id == visit.id))
    if visit.encounter_id is not None:
        encounter = session.get(Encounter, visit.encounter_id)
        if encounter is not None and encounter.status != "finished":
            encounter.status, encounter.end_at = "finished", now
            session.add(encounter)
            record_audit(
                session,
                actor,
                "encounter.finish",
                patient_id=seat.patient_id,
                target_type="encounter",
                target_id=encounter.id,
            )
    minutes = int(((now - (visit.media_flowing_at or visit.admitted_at or now)).total_seconds()) // 60)
    audit_visit(session, actor, "video.call_end", seat, f"call ended after {max(0, minutes)} min")
    # Scheduling's completion posts the visit type's charge with the appointment and commits all of it.
    complete_appointment(session, actor=actor, appointment_id=seat.appointment_id, now=now)
    live.publish(VIDEO, seat.appointment_id)
    return _state(seat, visit)


@dataclass(frozen=True)
class QueueEntry:
    """A video visit on the flow board: waiting to be admitted, or in its call."""

    appointment_id: int
    reference: str
    patient: str
    time: str
    status: str  # waiting | admitted
    since: datetime | None
    mine: bool  # the signed-in clinician is booked on it (may admit and join)


@dataclass(frozen=True)
class CallScreen:
    appointment_id: int
    reference: str
    patient_id: int
    patient: str
    when: str
    status: str  # VideoVisit status, or not_started
    encounter_id: int | None
    note_id: int | None
    note_status: str
    subjective: str
    objective: str
    assessment: str
    plan: str


def call_screen(session: Session, *, actor: Actor, appointment_id) -> CallScreen:
    """What the clinician's call page shows beside the video: the visit and its note."""
    from hms_app.models.patients import Patient
    from hms_app.models.scheduling import Appointment

    seat = seat_for(session, actor, appointment_id)
    if seat.side != "clinician":
        raise Conflict("This is the clinician's screen.")
    visit = visit_of(session, seat.appointment_id)
    appointment = session.get(Appointment, seat.appointment_id)
    patient = session.get(Patient, seat.patient_id)
    note = None
    if visit is not None and visit.encounter_id is not None:
        note = session.execute(
            select(ClinicalNote)
            .where(ClinicalNote.encounter_id == visit.encounter_id)
            .order_by(ClinicalNote.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    audit_visit(session, actor, "patient.read", seat, "video visit opened")
    session.commit()
    return CallScreen(
        seat.appointment_id,
        appointment.reference,
        seat.patient_id,
        f"{patient.given_name} {patient.family_name}",
        format_local(seat.start_at, "%a %d %b %H:%M"),
        visit.status if visit is not None else "not_started",
        visit.encounter_id if visit is not None else None,
        note.id if note is not None else None,
        note.status if note is not None else "",
        note.subjective if note is not None else "",
        note.objective if note is not None else "",
        note.assessment if note is not None else "",
        note.plan if note is not None else "",
    )
