"""Video visit history for the demo: the completed virtual appointments of the schedule's past get
the measures a real call would have left (waiting room, admission, media flowing, setup time), so
the operations dashboard's telehealth figures have weeks to show. No signalling rows: those never
outlive a call."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hms_app.models.scheduling import Appointment, AppointmentType
from hms_app.models.video_visits import VideoVisit
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.audit import record_audit
from hms_app.services.permissions import SYSTEM_ACTOR


@seeder("video_visits", order=57)
def seed_video_visits(ctx: SeedContext) -> None:
    """A video visit row per completed virtual appointment that has none."""
    rows = ctx.session.execute(
        select(Appointment)
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .outerjoin(VideoVisit, VideoVisit.appointment_id == Appointment.id)
        .where(
            AppointmentType.mode == "virtual",
            Appointment.status == "completed",
            VideoVisit.id.is_(None),
        )
        .order_by(Appointment.id)
    ).scalars()
    count = 0
    for appointment in rows:
        rng = ctx.rng
        waiting = appointment.arrived_at or appointment.start_at - timedelta(minutes=rng.randint(1, 8))
        admitted = appointment.in_room_at or waiting + timedelta(minutes=rng.randint(1, 12))
        join_delay_ms = int(rng.lognormvariate(7.6, 0.45))  # ~2 s, a long tail on slow networks
        flowing = admitted + timedelta(milliseconds=join_delay_ms)
        ended = appointment.completed_at or flowing + timedelta(minutes=rng.randint(8, 20))
        ctx.session.add(
            VideoVisit(
                appointment_id=appointment.id,
                patient_id=appointment.patient_id,
                department_id=appointment.department_id,
                status="ended",
                waiting_since=waiting,
                admitted_at=admitted,
                started_at=flowing,
                media_flowing_at=flowing,
                ended_at=max(ended, flowing),
                join_delay_ms=join_delay_ms,
                setup_ms=int(join_delay_ms * rng.uniform(0.4, 0.8)),
                reconnects=1 if rng.random() < 0.07 else 0,
                patient_media_at=flowing,
                clinician_media_at=flowing,
            )
        )
        count += 1
    if count:
        record_audit(ctx.session, SYSTEM_ACTOR, "seed.video_visits", detail=f"{count} video visits")
    ctx.session.commit()
