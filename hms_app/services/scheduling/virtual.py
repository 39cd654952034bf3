"""Virtual appointments in the visit flow: a video visit is not called in from the desk (the
clinician admits the patient from the video waiting room), and when its appointment completes,
is cancelled or missed by any path (the calendar, the flow board, the call page), its video
visit ends with it: status ended, ``ended_at`` set, signalling rows deleted, the virtual
encounter finished, audited. The video visit services build on these (they import scheduling).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlmodel import Session

from hms_app.models.emr import Encounter
from hms_app.models.scheduling import Appointment, AppointmentType
from hms_app.models.video_visits import VideoSignal, VideoVisit
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor

VIDEO_TOPIC = "video"  # the live topic of video visits, keyed by appointment id
CALL_IN_REFUSED = (
    "This is a video visit: the patient waits in the video waiting room and the booked "
    "clinician admits them there (Admit), not with Call in."
)


def is_virtual(session: Session, appointment: Appointment) -> bool:
    mode = session.execute(
        select(AppointmentType.mode).where(AppointmentType.id == appointment.appointment_type_id)
    ).scalar_one_or_none()
    return mode == "virtual"


def close_video_visit(
    session: Session, actor: Actor, appointment: Appointment, *, now: datetime, why: str
) -> bool:
    """End the appointment's video visit if it is still waiting or admitted (in the caller's
    transaction; the caller commits, then calls ``publish_closed``). True when one was ended."""
    visit = session.execute(
        select(VideoVisit)
        .where(VideoVisit.appointment_id == appointment.id, VideoVisit.status != "ended")
        .with_for_update()
    ).scalar_one_or_none()
    if visit is None:
        return False
    previous = visit.status
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
                patient_id=appointment.patient_id,
                target_type="encounter",
                target_id=encounter.id,
            )
    record_audit(
        session,
        actor,
        "video.call_end",
        patient_id=appointment.patient_id,
        target_type="appointment",
        target_id=appointment.id,
        detail=f"video visit ended ({previous}): appointment {why}",
    )
    return True


def publish_closed(appointment_id: int) -> None:
    """After commit: both participants' screens of an ended video visit refresh."""
    live.publish(VIDEO_TOPIC, appointment_id)
