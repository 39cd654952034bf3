"""The signalling relay: offers, answers and network candidates on their way between the two
browsers of a call, through the database so that any backend worker can carry either side.

A browser's channel (``hms_app/api/video.py``) is opened with ``open_channel`` (the seat is
checked and the join audited), writes with ``post_signal`` and reads the other side's messages
with ``signals_after``; ``live.publish("video", appointment_id)`` wakes the reader. The browsers
also report when media flows both ways, which gives the measures of the call (join delay, setup).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.video_visits import VideoSignal, VideoVisit
from hms_app.services import live
from hms_app.services.permissions import Actor, authorize
from hms_app.services.video_visits.access import authorize_participant, require_open, seat_for, visit_of
from hms_app.services.video_visits.visits import VIDEO, audit_visit

MAX_MESSAGE_BYTES = 64 * 1024  # an offer with many codecs is ~10 kB; nothing legitimate is larger
RELAYED = ("hello", "offer", "answer", "ice", "bye")
REPORTS = ("media",)
STALE_AFTER = timedelta(hours=2)  # a call's leftover messages: nobody ended it


@dataclass(frozen=True)
class Channel:
    """An open signalling channel of one participant."""

    visit_id: int
    appointment_id: int
    side: str
    patient_id: int
    last_id: int  # messages before this were sent before the channel opened: not for it


def open_channel(session: Session, *, actor: Actor, appointment_id, now: datetime | None = None) -> Channel:
    """A participant joins the call: refused before admission and after the end; audited."""
    now = now or utcnow()
    seat = seat_for(session, actor, appointment_id)
    require_open(seat, now)
    visit = visit_of(session, seat.appointment_id)
    if visit is None or visit.status != "admitted":
        raise Conflict("The call opens when the clinician admits the patient.")
    if visit.media_flowing_at is not None:
        session.execute(
            update(VideoVisit).where(VideoVisit.id == visit.id).values(reconnects=VideoVisit.reconnects + 1)
        )
    last = session.execute(
        select(VideoSignal.id)
        .where(VideoSignal.visit_id == visit.id)
        .order_by(VideoSignal.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    audit_visit(session, actor, "video.join", seat, f"{seat.side} joined the call")
    session.commit()
    return Channel(visit.id, seat.appointment_id, seat.side, seat.patient_id, last or 0)


def close_channel(session: Session, *, actor: Actor, channel: Channel) -> None:
    """A participant's channel closed (left, reloaded, lost the network): audited."""
    authorize_participant(actor)
    seat = seat_for(session, actor, channel.appointment_id)
    audit_visit(session, actor, "video.leave", seat, f"{seat.side} left the call")
    session.commit()


def _message(raw: str) -> dict:
    if len(raw.encode("utf-8", "replace")) > MAX_MESSAGE_BYTES:
        raise ValidationError("That signalling message is too large.")
    try:
        message = json.loads(raw)
    except ValueError as error:
        raise ValidationError("A signalling message is a JSON object.") from error
    if not isinstance(message, dict) or message.get("type") not in RELAYED + REPORTS:
        raise ValidationError("Unknown signalling message.")
    return message


def post_signal(
    session: Session, *, actor: Actor, channel: Channel, raw: str, now: datetime | None = None
) -> str:
    """Relay one message to the other side (or record a media report); returns its type."""
    authorize_participant(actor)
    now = now or utcnow()
    message = _message(raw)
    if message["type"] == "media":
        _record_media(session, actor, channel, message, now)
        return "media"
    status = session.execute(
        select(VideoVisit.status).where(VideoVisit.id == channel.visit_id)
    ).scalar_one_or_none()
    if status != "admitted":
        raise Conflict("This call has ended.")
    session.add(VideoSignal(visit_id=channel.visit_id, sender=channel.side, payload=raw, created_at=now))
    session.commit()
    live.publish(VIDEO, channel.appointment_id)
    return message["type"]


def _record_media(session: Session, actor: Actor, channel: Channel, message: dict, now: datetime) -> None:
    """The browser receives the other side's media. Both sides so far: the call has started (once).

    Conditional updates, not read-then-write: the two browsers report at the same moment, and
    neither report may overwrite the other's."""
    this = VideoVisit.patient_media_at if channel.side == "patient" else VideoVisit.clinician_media_at
    admitted = (VideoVisit.id == channel.visit_id) & (VideoVisit.status == "admitted")
    reported = session.execute(update(VideoVisit).where(admitted, this.is_(None)).values({this.key: now}))
    setup = message.get("setup_ms")
    if channel.side == "clinician" and isinstance(setup, int) and 0 <= setup < 3_600_000:
        session.execute(
            update(VideoVisit).where(admitted, VideoVisit.setup_ms.is_(None)).values(setup_ms=setup)
        )
    started = session.execute(
        update(VideoVisit)
        .where(
            admitted,
            VideoVisit.media_flowing_at.is_(None),
            VideoVisit.patient_media_at.is_not(None),
            VideoVisit.clinician_media_at.is_not(None),
        )
        .values(media_flowing_at=now, started_at=now)
    )
    if reported.rowcount == 0 and started.rowcount == 0:
        session.commit()
        return
    if started.rowcount:
        admitted_at = session.execute(
            select(VideoVisit.admitted_at).where(VideoVisit.id == channel.visit_id)
        ).scalar_one()
        if admitted_at is not None:
            delay = max(0, int((now - admitted_at).total_seconds() * 1000))
            session.execute(
                update(VideoVisit).where(VideoVisit.id == channel.visit_id).values(join_delay_ms=delay)
            )
        seat = seat_for(session, actor, channel.appointment_id)
        audit_visit(session, actor, "video.call_start", seat, "media flowing both ways")
    session.commit()


def signals_after(
    session: Session, *, channel: Channel, after_id: int, limit: int = 100
) -> list[tuple[int, str]]:
    """The other side's messages after ``after_id``, oldest first (the channel's own reader)."""
    return [
        (row.id, row.payload)
        for row in session.execute(
            select(VideoSignal.id, VideoSignal.payload)
            .where(
                VideoSignal.visit_id == channel.visit_id,
                VideoSignal.id > after_id,
                VideoSignal.sender != channel.side,
            )
            .order_by(VideoSignal.id)
            .limit(limit)
        )
    ]


def channel_open(session: Session, *, channel: Channel) -> bool:
    """Whether the call is still on (the reader closes the channel once it has ended)."""
    status = session.execute(
        select(VideoVisit.status).where(VideoVisit.id == channel.visit_id)
    ).scalar_one_or_none()
    return status == "admitted"


def purge_signals(session: Session, *, actor: Actor, now: datetime | None = None) -> int:
    """A periodic job: forgets the signalling messages of calls that are over (ended here, or their
    appointment completed, cancelled or missed elsewhere) and any left over for hours."""
    from hms_app.models.scheduling import Appointment

    authorize(actor, "telehealth.conduct")
    now = now or utcnow()
    over = (
        select(VideoVisit.id)
        .join(Appointment, Appointment.id == VideoVisit.appointment_id)
        .where((VideoVisit.status == "ended") | Appointment.status.not_in(("arrived", "in_room")))
    )
    result = session.execute(
        delete(VideoSignal).where(
            (VideoSignal.visit_id.in_(over)) | (VideoSignal.created_at < now - STALE_AFTER)
        )
    )
    session.commit()
    return int(result.rowcount or 0)
