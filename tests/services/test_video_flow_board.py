"""Video visits on the clinic flow board and in the visit flow: a virtual visit is never called in
from the desk (the service refuses it), the board knows which cards are video visits and who may
admit and join them, and a virtual appointment completed or cancelled by any other path (the
calendar, the flow board) ends its video visit consistently: ended, signals gone, audited."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from hms_app.clock import to_local
from hms_app.errors import Conflict
from hms_app.models.emr import Encounter
from hms_app.models.scheduling import Appointment
from hms_app.models.security import AuditEvent
from hms_app.models.video_visits import VideoSignal, VideoVisit
from hms_app.services import scheduling
from hms_app.services import video_visits as video
from hms_app.services.clinic_boards import flow_board
from hms_app.services.scheduling.virtual import CALL_IN_REFUSED
from tests.services.video_world import VideoWorld, fast_hashes


@pytest.fixture
def world(session, monkeypatch) -> VideoWorld:
    fast_hashes(monkeypatch)
    return VideoWorld(session).build()


def _waiting(world: VideoWorld) -> int:
    visit_id = world.visit()
    video.enter_waiting_room(world.session, actor=world.actor("patient.a"), appointment_id=visit_id)
    return visit_id


def _visit_row(session, appointment_id: int) -> VideoVisit:
    session.rollback()
    return session.execute(select(VideoVisit).where(VideoVisit.appointment_id == appointment_id)).scalar_one()


def _call_ends(session, appointment_id: int) -> list[str]:
    return list(
        session.execute(
            select(AuditEvent.detail).where(
                AuditEvent.action == "video.call_end",
                AuditEvent.target_type == "appointment",
                AuditEvent.target_id == str(appointment_id),
            )
        ).scalars()
    )


def test_calling_in_a_video_visit_is_refused_with_the_reason(world):
    s = world.session
    visit_id = _waiting(world)
    for who in ("clerk.video", "dr.video"):
        with pytest.raises(Conflict) as refused:
            scheduling.call_patient(s, actor=world.actor(who), appointment_id=visit_id)
        assert str(refused.value) == CALL_IN_REFUSED
    s.rollback()
    assert s.get(Appointment, visit_id).status == "arrived"
    assert _visit_row(s, visit_id).status == "waiting"
    # The video way still works after the refusal, and an in-person visit is still called in.
    assert video.admit_patient(s, actor=world.actor("dr.video"), appointment_id=visit_id).status == "admitted"
    in_person = world.visit(virtual=False)
    clerk = world.actor("clerk.video")
    scheduling.check_in(s, actor=clerk, appointment_id=in_person)
    assert scheduling.call_patient(s, actor=clerk, appointment_id=in_person).status == "in_room"


def test_completing_from_the_calendar_ends_the_call_consistently(world):
    s = world.session
    visit_id = _waiting(world)
    doctor, patient = world.actor("dr.video"), world.actor("patient.a")
    video.admit_patient(s, actor=doctor, appointment_id=visit_id)
    mine = video.open_channel(s, actor=doctor, appointment_id=visit_id)
    theirs = video.open_channel(s, actor=patient, appointment_id=visit_id)
    video.post_signal(
        s, actor=doctor, channel=mine, raw=json.dumps({"type": "offer", "gen": 1, "sdp": "v=0"})
    )
    s.rollback()
    assert s.execute(select(func.count()).select_from(VideoSignal)).scalar_one() == 1

    # A receptionist completes it from the calendar/flow (scheduling's completion), not the call page.
    scheduling.complete_appointment(s, actor=world.actor("clerk.video"), appointment_id=visit_id)

    row = _visit_row(s, visit_id)
    assert row.status == "ended" and row.ended_at is not None
    assert s.get(Encounter, row.encounter_id).status == "finished"
    assert s.execute(select(func.count()).select_from(VideoSignal)).scalar_one() == 0
    assert _call_ends(s, visit_id) == ["video visit ended (admitted): appointment completed"]
    # Neither side can carry on in an ended visit; the screens say it ended; it left the video queue.
    with pytest.raises(Conflict):
        video.post_signal(s, actor=patient, channel=theirs, raw=json.dumps({"type": "hello"}))
    assert not video.channel_open(s, channel=mine)
    assert video.visit_state(s, actor=patient, appointment_id=visit_id).status == "ended"
    assert video.video_queue(s, actor=doctor) == []
    with pytest.raises(Conflict):
        video.end_visit(s, actor=doctor, appointment_id=visit_id)


def test_completing_a_visit_still_in_the_waiting_room_ends_it(world):
    s = world.session
    visit_id = _waiting(world)
    scheduling.complete_appointment(s, actor=world.actor("clerk.video"), appointment_id=visit_id)
    row = _visit_row(s, visit_id)
    assert (row.status, row.encounter_id) == ("ended", None) and row.ended_at is not None
    assert _call_ends(s, visit_id) == ["video visit ended (waiting): appointment completed"]
    with pytest.raises(Conflict):
        video.enter_waiting_room(s, actor=world.actor("patient.a"), appointment_id=visit_id)


def test_cancelling_a_virtual_appointment_ends_its_video_visit(world):
    s = world.session
    visit_id = world.visit()  # booked: a video visit row may exist before check-in (e.g. a device check)
    s.add(VideoVisit(appointment_id=visit_id, patient_id=world.patient_a, department_id=world.department.id))
    s.commit()
    scheduling.cancel_appointment(
        s, actor=world.actor("clerk.video"), appointment_id=visit_id, reason="Clinician unwell"
    )
    row = _visit_row(s, visit_id)
    assert row.status == "ended" and row.ended_at is not None
    assert _call_ends(s, visit_id) == ["video visit ended (waiting): appointment cancelled"]


def test_ending_on_the_call_page_is_audited_once(world):
    s = world.session
    visit_id = _waiting(world)
    doctor = world.actor("dr.video")
    video.admit_patient(s, actor=doctor, appointment_id=visit_id)
    video.end_visit(s, actor=doctor, appointment_id=visit_id)
    s.rollback()
    assert len(_call_ends(s, visit_id)) == 1
    assert _visit_row(s, visit_id).status == "ended"


def test_the_flow_board_knows_video_cards_and_their_clinician(world):
    s = world.session
    visit_id = _waiting(world)
    in_person = world.visit(virtual=False)
    s.rollback()
    day = to_local(s.get(Appointment, visit_id).start_at).date()
    board = flow_board(s, actor=world.actor("clerk.video"), day=day, audit=False)
    cards = {c.id: c for column in board.columns.values() for c in column}
    virtual, other = cards[visit_id], cards[in_person]
    assert (virtual.status, virtual.virtual, virtual.video) == ("arrived", True, "waiting")
    assert virtual.clinician_user_ids == (world.users["dr.video"],)
    assert (other.virtual, other.video) == (False, "")
