"""The video visit's signalling channel (/api/video/{id}/signal) as an attacker meets it: only the
two people of the appointment, signed in, from the hospital's own pages, get a channel; what one
sends reaches the other and nobody else; oversized messages and ended calls close it."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from hms_app.api.routes import SESSION_COOKIE, build_api
from hms_app.models.security import AuditEvent
from hms_app.services import video_visits as video
from hms_app.settings import get_settings
from tests.services.video_world import VideoWorld, fast_hashes


@pytest.fixture
def world(session, monkeypatch) -> VideoWorld:
    fast_hashes(monkeypatch)
    return VideoWorld(session).build()


@pytest.fixture
def client(configured_db):
    with TestClient(build_api()) as test_client:
        yield test_client


def _admitted(world: VideoWorld) -> int:
    visit_id = world.visit()
    video.enter_waiting_room(world.session, actor=world.actor("patient.a"), appointment_id=visit_id)
    video.admit_patient(world.session, actor=world.actor("dr.video"), appointment_id=visit_id)
    world.session.rollback()
    return visit_id


def _headers(world: VideoWorld, who: str | None, origin: str | None = "ours") -> dict:
    headers = {}
    if origin == "ours":
        headers["origin"] = get_settings().allowed_origins[0]
    elif origin is not None:
        headers["origin"] = origin
    if who is not None:
        headers["cookie"] = f"{SESSION_COOKIE}={world.tokens[who]}"
    return headers


def _denials(world: VideoWorld) -> list[str]:
    world.session.rollback()
    details = list(
        world.session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "access.denied").order_by(AuditEvent.id)
        ).scalars()
    )
    # Released at once: on SQLite the open read would hold the write lock, and the channel's
    # leave, still being written by the server, would wait out the busy timeout.
    world.session.rollback()
    return details


def _refused(client, url: str, headers: dict) -> int:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(url, headers=headers) as ws:
        ws.receive_text()
    return closed.value.code


def test_the_two_participants_reach_each_other(world, client):
    visit_id = _admitted(world)
    url = f"/api/video/{visit_id}/signal"
    with (
        client.websocket_connect(url, headers=_headers(world, "dr.video")) as doctor,
        client.websocket_connect(url, headers=_headers(world, "patient.a")) as patient,
    ):
        offer = {"type": "offer", "gen": 7, "sdp": "v=0 offer"}
        doctor.send_text(json.dumps(offer))
        assert patient.receive_json() == offer
        answer = {"type": "answer", "gen": 7, "sdp": "v=0 answer"}
        patient.send_text(json.dumps(answer))
        assert doctor.receive_json() == answer
    # The leave is written as the server closes its side, just after the client has gone.
    for _ in range(100):
        world.session.rollback()
        joins = world.session.execute(
            select(AuditEvent.action, AuditEvent.detail).where(
                AuditEvent.target_id == str(visit_id), AuditEvent.action.in_(("video.join", "video.leave"))
            )
        ).all()
        world.session.rollback()  # on SQLite the test's session must not hold the write lock while it waits
        if {("video.leave", "clinician left the call"), ("video.leave", "patient left the call")} <= set(
            joins
        ):
            break
        time.sleep(0.05)
    assert ("video.join", "clinician joined the call") in joins
    assert ("video.leave", "patient left the call") in joins
    assert ("video.leave", "clinician left the call") in joins


@pytest.mark.parametrize("who", ["dr.other", "nurse.video", "patient.b", "clerk.video"])
def test_anyone_else_signed_in_is_refused_and_audited(world, client, who):
    visit_id = _admitted(world)
    assert _refused(client, f"/api/video/{visit_id}/signal", _headers(world, who)) == 1008
    assert any(f"video signalling {visit_id}" in d for d in _denials(world))


def test_without_a_session_or_from_another_site_nothing_opens(world, client):
    visit_id = _admitted(world)
    url = f"/api/video/{visit_id}/signal"
    assert _refused(client, url, _headers(world, None)) == 1008  # no cookie
    assert _refused(client, url, {**_headers(world, None), "cookie": f"{SESSION_COOKIE}=forged"}) == 1008
    assert _refused(client, url, _headers(world, "dr.video", origin="https://evil.example")) == 1008
    assert _refused(client, url, _headers(world, "dr.video", origin=None)) == 1008  # not a browser page


def test_a_visit_that_does_not_exist_is_refused(world, client):
    in_person = world.visit(virtual=False)
    for visit_id in (in_person, 99999999):
        assert _refused(client, f"/api/video/{visit_id}/signal", _headers(world, "dr.video")) == 1008
    assert _refused(client, "/api/video/abc/signal", _headers(world, "dr.video")) == 1008


def test_before_admission_the_patient_is_told_to_wait(world, client):
    visit_id = world.visit()
    video.enter_waiting_room(world.session, actor=world.actor("patient.a"), appointment_id=visit_id)
    assert _refused(client, f"/api/video/{visit_id}/signal", _headers(world, "patient.a")) == 4409


def test_an_oversized_or_unknown_message_is_refused(world, client):
    visit_id = _admitted(world)
    url = f"/api/video/{visit_id}/signal"
    with client.websocket_connect(url, headers=_headers(world, "dr.video")) as doctor:
        doctor.send_text(json.dumps({"type": "shell", "cmd": "rm"}))
        assert doctor.receive_json()["type"] == "error"
        doctor.send_text("x" * (video.MAX_MESSAGE_BYTES + 1))
        with pytest.raises(WebSocketDisconnect) as closed:
            doctor.receive_text()
        assert closed.value.code == 1009
    assert any("message too large" in d for d in _denials(world))


def test_ending_the_visit_closes_both_channels(world, client):
    visit_id = _admitted(world)
    url = f"/api/video/{visit_id}/signal"
    with client.websocket_connect(url, headers=_headers(world, "patient.a")) as patient:
        video.end_visit(world.session, actor=world.actor("dr.video"), appointment_id=visit_id)
        assert patient.receive_json() == {"type": "ended"}
        with pytest.raises(WebSocketDisconnect) as closed:
            patient.receive_text()
        assert closed.value.code == 4410
