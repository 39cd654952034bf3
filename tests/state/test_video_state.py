"""The video visit screens driven as the browsers would: the patient's waiting room and the
clinician's call page and flow-board queue; and the attacker's cases (another patient, a doctor
not booked on the visit) refused by the same handlers, with nothing changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
import reflex as rx
from reflex_base import constants
from sqlalchemy import select

from hms_app import db as hms_db
from hms_app.clock import utcnow
from hms_app.hms_app import app  # noqa: F401  (the app module: registers every page and state)
from hms_app.models.billing import ChargeItem
from hms_app.models.scheduling import Appointment
from hms_app.services import video_visits as video
from hms_app.state.boards.flow_board import FlowBoardState
from hms_app.state.portal import appointments as portal_appointments
from hms_app.state.portal.appointments import PortalAppointmentsState
from hms_app.state.portal.video import PortalVideoState
from hms_app.state.video_visits import VideoCallState, VideoQueueState
from tests.services.video_world import VideoWorld, fast_hashes
from tests.state.test_patients_state import _call, _toasts


@pytest.fixture
def world(session, monkeypatch) -> VideoWorld:
    fast_hashes(monkeypatch)
    built = VideoWorld(session).build()
    session.rollback()
    return built


def _tab(cls, path: str, world: VideoWorld, who: str):
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.QUERY: {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
        },
        {},
    )
    state = root.get_substate(cls.get_full_name().split(".")[1:])
    state.auth_token = world.tokens[who]
    return state


def _status(appointment_id: int) -> str:
    with hms_db.session_scope() as s:
        return s.get(Appointment, appointment_id).status


async def test_the_patient_waits_the_doctor_admits_writes_and_ends(world, configured_db):
    visit_id = world.visit()
    patient = _tab(PortalVideoState, f"/portal/video/{visit_id}", world, "patient.a")
    await _call(patient, "load")
    assert (patient.loaded, patient.problem, patient.status, patient.open_now) == (
        True,
        "",
        "not_started",
        True,
    )
    await _call(patient, "enter")
    assert patient.status == "waiting" and _status(visit_id) == "arrived"

    queue = _tab(VideoQueueState, "/boards/flow", world, "dr.video")
    await _call(queue, "load")
    assert [(e.appointment_id, e.status, e.mine) for e in queue.entries] == [(visit_id, "waiting", True)]

    doctor = _tab(VideoCallState, f"/video/{visit_id}", world, "dr.video")
    await _call(doctor, "load")
    assert (doctor.patient, doctor.status, doctor.problem) == ("Ada Video", "waiting", "")
    await _call(doctor, "admit")
    assert doctor.status == "admitted" and doctor.encounter_id > 0
    await _call(doctor, "submit_note", {"subjective": "Headache", "plan": "Rest"})
    assert doctor.note_id > 0 and doctor.note_status == "draft"
    await _call(doctor, "arm_end")
    events = await _call(doctor, "submit_note", {"subjective": "Headache, better", "plan": "Rest"})
    assert doctor.status == "ended", _toasts(events)
    await _call(patient, "refresh")
    assert patient.status == "ended"
    assert _status(visit_id) == "completed"
    with hms_db.session_scope() as s:
        charged = s.execute(select(ChargeItem.code).where(ChargeItem.source_id == visit_id)).scalars().all()
    assert charged == ["VISIT-VIDEO-T"]
    assert doctor.subjective == "Headache, better"


async def test_another_patient_sees_nothing_and_cannot_wait_in_the_room(world, configured_db):
    visit_id = world.visit()
    intruder = _tab(PortalVideoState, f"/portal/video/{visit_id}", world, "patient.b")
    await _call(intruder, "load")
    assert (intruder.problem, intruder.visit_id, intruder.status) == (video.MISSING, 0, "")
    events = await _call(intruder, "enter")
    assert _toasts(events) and _status(visit_id) == "booked"


async def test_a_doctor_not_booked_on_the_visit_cannot_open_or_admit_it(world, configured_db):
    visit_id = world.visit()
    video.enter_waiting_room(world.session, actor=world.actor("patient.a"), appointment_id=visit_id)
    other = _tab(VideoCallState, f"/video/{visit_id}", world, "dr.other")
    await _call(other, "load")
    assert (other.problem, other.patient, other.visit_id) == (video.MISSING, "", 0)
    events = await _call(other, "admit")
    assert _toasts(events)
    queue = _tab(VideoQueueState, "/boards/flow", world, "dr.other")
    await _call(queue, "load")
    assert [(e.appointment_id, e.mine) for e in queue.entries] == [(visit_id, False)]
    events = await _call(queue, "admit", str(visit_id))
    assert _toasts(events)
    assert _status(visit_id) == "arrived"  # still waiting for its own doctor


def _card(board, appointment_id: int):
    return next(c for column in board.columns for c in column.cards if c.id == appointment_id)


async def test_the_flow_board_offers_video_steps_on_a_video_card(world, configured_db):
    visit_id = world.visit(start=timedelta(0))  # today, whatever the hour
    video.enter_waiting_room(world.session, actor=world.actor("patient.a"), appointment_id=visit_id)

    # The receptionist sees a video card: its Call in and Complete are refused by the handlers too.
    desk = _tab(FlowBoardState, "/boards/flow", world, "clerk.video")
    await _call(desk, "load")
    card = _card(desk, visit_id)
    assert (card.status, card.virtual, card.video, desk.me) == ("arrived", True, "waiting", 0)
    assert _toasts(await _call(desk, "call_in", str(visit_id)))
    assert _toasts(await _call(desk, "admit_video", str(visit_id)))  # not theirs to admit
    assert _status(visit_id) == "arrived"

    # Another doctor sees it but is not its clinician: Admit is refused by the service.
    other = _tab(FlowBoardState, "/boards/flow", world, "dr.other")
    await _call(other, "load")
    assert other.me not in _card(other, visit_id).clinician_ids
    assert _toasts(await _call(other, "admit_video", str(visit_id)))
    assert _status(visit_id) == "arrived"

    # The booked doctor admits from the flow board card and is taken to the call.
    doctor = _tab(FlowBoardState, "/boards/flow", world, "dr.video")
    await _call(doctor, "load")
    assert doctor.me in _card(doctor, visit_id).clinician_ids
    events = await _call(doctor, "admit_video", str(visit_id))
    assert _status(visit_id) == "in_room", _toasts(events)
    assert (_card(doctor, visit_id).status, _card(doctor, visit_id).video) == ("in_room", "admitted")
    assert _toasts(await _call(doctor, "complete", str(visit_id)))  # ended on the call page, not here
    assert _status(visit_id) == "in_room"


async def test_the_join_button_turns_on_when_the_waiting_room_opens(world, configured_db, monkeypatch):
    visit_id = world.visit(start=timedelta(minutes=13))  # its waiting room opens in 3 minutes
    page = _tab(PortalAppointmentsState, "/portal/appointments", world, "patient.a")
    await _call(page, "load")
    [line] = [a for a in page.upcoming if a.id == visit_id]
    assert (line.virtual, line.joinable, page.join_pending) == (True, False, True)

    await _call(page, "tick", "")  # the page's timer, before the window: nothing changes
    assert not next(a for a in page.upcoming if a.id == visit_id).joinable

    later = utcnow() + timedelta(minutes=4)
    monkeypatch.setattr(portal_appointments, "utcnow", lambda: later)
    await _call(page, "tick", "")  # the timer after the window opened: the button turns on
    assert next(a for a in page.upcoming if a.id == visit_id).joinable
    # The server still decides: entering early (before the window, by the real clock) is refused.
    patient = _tab(PortalVideoState, f"/portal/video/{visit_id}", world, "patient.a")
    await _call(patient, "load")
    assert _toasts(await _call(patient, "enter")) and _status(visit_id) == "booked"
