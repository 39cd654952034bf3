"""The signalling channel of a video visit: a WebSocket per participant at
``/api/video/{appointment_id}/signal``.

Only the two people of the appointment get a channel: the booked patient's portal account and the
clinician booked on it (``services.video_visits.access``), signed in (the ``hms_session`` cookie),
from a page of this hospital (the ``Origin`` header), once the clinician has admitted the patient.
Every other attempt is refused before the upgrade completes (HTTP 403) and a refused signed-in user
is audited. Messages are small JSON objects (offer, answer, ice, hello, bye; media reports); they
are relayed through the database and a live notice wakes the other side's reader, whichever
backend worker holds it. Media never passes here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from hms_app.db import session_scope
from hms_app.errors import Conflict, DomainError, Forbidden, NotFound, Withheld
from hms_app.services import live, security
from hms_app.services import video_visits as video
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor
from hms_app.settings import get_settings

log = logging.getLogger("hms.video")

SESSION_COOKIE = "hms_session"
PATH = "/api/video/{appointment_id}/signal"
WAKE_SECONDS = 10.0  # a reader also looks without a notice (a notice lost in a Redis restart)
BURST = 300  # messages a browser may send in one window (ICE candidates come in bursts)
BURST_WINDOW_S = 10.0
CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_CONFLICT, CLOSE_ENDED = 1008, 1009, 4409, 4410


def _allowed_origin(websocket: WebSocket) -> bool:
    # A browser always names the page opening a WebSocket; a missing Origin is not a browser of ours.
    origin = websocket.headers.get("origin")
    allowed = {o.lower() for o in get_settings().allowed_origins}
    return origin is not None and origin.lower().rstrip("/") in allowed


def _actor(websocket: WebSocket) -> Actor | None:
    token = websocket.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    with session_scope() as session:
        return security.resolve_session(session, token=token, screen=websocket.url.path[:120])


def _deny(actor: Actor, detail: str) -> None:
    with session_scope() as session:
        record_audit(session, actor, "access.denied", outcome="denied", detail=detail[:300])
        session.commit()


def _run(fn, /, **kwargs):
    with session_scope() as session:
        return fn(session, **kwargs)


async def signal(websocket: WebSocket) -> None:
    appointment_id = websocket.path_params.get("appointment_id")
    if not _allowed_origin(websocket):
        log.warning("video signalling refused: origin %r", websocket.headers.get("origin"))
        await websocket.close(code=CLOSE_POLICY)
        return
    actor = await asyncio.to_thread(_actor, websocket)
    if actor is None:
        await websocket.close(code=CLOSE_POLICY)
        return
    try:
        channel = await asyncio.to_thread(
            _run, video.open_channel, actor=actor, appointment_id=appointment_id
        )
    except (Forbidden, Withheld) as error:
        await asyncio.to_thread(_deny, actor, f"video signalling {appointment_id}: {error}")
        await websocket.close(code=CLOSE_POLICY)
        return
    except NotFound:
        await websocket.close(code=CLOSE_POLICY)
        return
    except Conflict as error:
        # A participant, too early or too late: told why, so the page can say it.
        await websocket.accept()
        await websocket.close(code=CLOSE_CONFLICT, reason=str(error)[:120])
        return
    await websocket.accept()
    try:
        await _serve(websocket, actor, channel)
    finally:
        # Submitted at once, not awaited to start: a channel cancelled by a server shutdown still
        # writes its leave to the audit trail.
        left = asyncio.get_running_loop().run_in_executor(
            None, functools.partial(_run, video.close_channel, actor=actor, channel=channel)
        )
        left.add_done_callback(_log_failure)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(left)


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("video signalling: the leave was not recorded", exc_info=future.exception())


async def _serve(websocket: WebSocket, actor: Actor, channel: video.Channel) -> None:
    async with live.hub().subscribe(
        video.visits_topic(), frozenset({str(channel.appointment_id)})
    ) as changes:
        reader = asyncio.create_task(_relay_out(websocket, channel, changes))
        try:
            await _relay_in(websocket, actor, channel)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader


async def _relay_in(websocket: WebSocket, actor: Actor, channel: video.Channel) -> None:
    window_start, count = time.monotonic(), 0
    while True:
        try:
            raw = await websocket.receive_text()
        except WebSocketDisconnect:
            return
        except (RuntimeError, KeyError):  # a binary frame or a closed socket
            with contextlib.suppress(Exception):
                await websocket.close(code=CLOSE_POLICY)
            return
        if len(raw.encode("utf-8", "replace")) > video.MAX_MESSAGE_BYTES:
            await asyncio.to_thread(
                _deny, actor, f"video signalling {channel.appointment_id}: message too large"
            )
            await websocket.close(code=CLOSE_TOO_BIG)
            return
        now = time.monotonic()
        if now - window_start > BURST_WINDOW_S:
            window_start, count = now, 0
        count += 1
        if count > BURST:
            await websocket.close(code=CLOSE_POLICY)
            return
        try:
            await asyncio.to_thread(_run, video.post_signal, actor=actor, channel=channel, raw=raw)
        except Conflict:
            await websocket.close(code=CLOSE_ENDED, reason="The call has ended.")
            return
        except DomainError as error:
            await websocket.send_json({"type": "error", "message": str(error)})


async def _relay_out(websocket: WebSocket, channel: video.Channel, changes: live.Subscription) -> None:
    last = channel.last_id
    while True:
        rows = await asyncio.to_thread(_run, video.signals_after, channel=channel, after_id=last)
        for row_id, payload in rows:
            await websocket.send_text(payload)
            last = row_id
        if len(rows) == 100:
            continue
        if not await asyncio.to_thread(_run, video.channel_open, channel=channel):
            await websocket.send_json({"type": "ended"})
            await websocket.close(code=CLOSE_ENDED, reason="The call has ended.")
            return
        await changes.wait(WAKE_SECONDS)
