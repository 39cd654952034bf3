"""Video visits, service level: the waiting room, admission, the signalling relay between the two
participants only, the measures, and ending (completed, charged once, note kept, all audited)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError, Withheld
from hms_app.models.billing import ChargeItem, ChargeItemDefinition
from hms_app.models.emr import ClinicalNote, Encounter
from hms_app.models.scheduling import Appointment
from hms_app.models.security import AuditEvent
from hms_app.models.video_visits import VideoSignal, VideoVisit
from hms_app.services import video_visits as video
from hms_app.services.emr.notes import save_note
from hms_app.services.permissions import SYSTEM_ACTOR
from tests.services.video_world import VideoWorld, fast_hashes


@pytest.fixture
def world(session, monkeypatch) -> VideoWorld:
    fast_hashes(monkeypatch)
    return VideoWorld(session).build()


def _actions(session, appointment_id: int) -> list[str]:
    session.rollback()
    return list(
        session.execute(
            select(AuditEvent.action)
            .where(AuditEvent.target_type == "appointment", AuditEvent.target_id == str(appointment_id))
            .order_by(AuditEvent.id)
        ).scalars()
    )


def _admitted(world: VideoWorld) -> int:
    visit_id = world.visit()
    video.enter_waiting_room(world.session, actor=world.actor("patient.a"), appointment_id=visit_id)
    video.admit_patient(world.session, actor=world.actor("dr.video"), appointment_id=visit_id)
    return visit_id


def test_a_video_visit_from_the_waiting_room_to_its_end(world):
    s = world.session
    patient, doctor = world.actor("patient.a"), world.actor("dr.video")
    visit_id = world.visit()

    waiting = video.enter_waiting_room(s, actor=patient, appointment_id=visit_id)
    assert waiting.status == "waiting"
    s.rollback()
    appointment = s.get(Appointment, visit_id)
    assert appointment.status == "arrived" and appointment.queue_token.startswith("V-")

    # The flow board's video waiting room: the booked doctor may admit, a receptionist only sees.
    [entry] = video.video_queue(s, actor=doctor)
    assert (entry.appointment_id, entry.status, entry.mine, entry.patient) == (
        visit_id,
        "waiting",
        True,
        "Ada Video",
    )
    [seen] = video.video_queue(s, actor=world.actor("clerk.video"))
    assert not seen.mine

    admitted = video.admit_patient(s, actor=doctor, appointment_id=visit_id)
    assert admitted.status == "admitted"
    s.rollback()
    row = s.execute(select(VideoVisit).where(VideoVisit.appointment_id == visit_id)).scalar_one()
    assert s.get(Appointment, visit_id).status == "in_room"
    encounter = s.get(Encounter, row.encounter_id)
    assert (encounter.encounter_class, encounter.status, encounter.patient_id) == (
        "virtual",
        "in-progress",
        world.patient_a,
    )

    # Both join; what one sends, only the other reads.
    mine = video.open_channel(s, actor=doctor, appointment_id=visit_id)
    theirs = video.open_channel(s, actor=patient, appointment_id=visit_id)
    offer = json.dumps({"type": "offer", "gen": 1, "sdp": "v=0"})
    assert video.post_signal(s, actor=doctor, channel=mine, raw=offer) == "offer"
    assert video.signals_after(s, channel=theirs, after_id=0)[0][1] == offer
    assert video.signals_after(s, channel=mine, after_id=0) == []

    # Media flows both ways: the call has started; its measures are kept.
    video.post_signal(s, actor=doctor, channel=mine, raw=json.dumps({"type": "media", "setup_ms": 850}))
    s.rollback()
    assert s.get(VideoVisit, row.id).media_flowing_at is None  # one side is not a call
    video.post_signal(s, actor=patient, channel=theirs, raw=json.dumps({"type": "media", "setup_ms": 99999}))
    s.rollback()
    row = s.get(VideoVisit, row.id)
    assert row.media_flowing_at is not None and row.started_at == row.media_flowing_at
    assert row.setup_ms == 850  # the clinician's measure, not the patient's
    assert row.join_delay_ms == int((row.media_flowing_at - row.admitted_at).total_seconds() * 1000)

    note = save_note(
        s, actor=doctor, encounter_id=row.encounter_id, subjective="Cough for 3 days", plan="Rest"
    )
    video.close_channel(s, actor=patient, channel=theirs)
    video.end_visit(s, actor=doctor, appointment_id=visit_id)

    s.rollback()
    appointment = s.get(Appointment, visit_id)
    assert appointment.status == "completed" and appointment.completed_at is not None
    charges = (
        s.execute(
            select(ChargeItem).where(
                ChargeItem.source_type == "appointment", ChargeItem.source_id == visit_id
            )
        )
        .scalars()
        .all()
    )
    assert [(c.code, c.patient_id) for c in charges] == [("VISIT-VIDEO-T", world.patient_a)]
    row = s.get(VideoVisit, row.id)
    assert row.status == "ended" and row.ended_at is not None
    assert s.get(Encounter, row.encounter_id).status == "finished"
    assert s.execute(select(func.count()).select_from(VideoSignal)).scalar_one() == 0  # nothing kept
    assert s.get(ClinicalNote, note.id).subjective == "Cough for 3 days"  # the note stays

    actions = _actions(s, visit_id)
    for expected in (
        "appointment.check_in",
        "video.join",
        "video.admit",
        "appointment.call",
        "video.call_start",
        "video.leave",
        "video.call_end",
        "appointment.complete",
    ):
        assert expected in actions, (expected, actions)
    assert actions.count("video.join") == 3  # the waiting room and both channels


def test_ending_twice_charges_once_and_the_call_is_closed(world):
    s = world.session
    visit_id = _admitted(world)
    doctor = world.actor("dr.video")
    channel = video.open_channel(s, actor=doctor, appointment_id=visit_id)
    video.end_visit(s, actor=doctor, appointment_id=visit_id)
    with pytest.raises(Conflict):
        video.end_visit(s, actor=doctor, appointment_id=visit_id)
    with pytest.raises(Conflict):
        video.open_channel(s, actor=world.actor("patient.a"), appointment_id=visit_id)
    with pytest.raises(Conflict):
        video.post_signal(s, actor=doctor, channel=channel, raw=json.dumps({"type": "hello"}))
    assert not video.channel_open(s, channel=channel)
    s.rollback()
    assert (
        s.execute(
            select(func.count()).select_from(ChargeItem).where(ChargeItem.source_id == visit_id)
        ).scalar_one()
        == 1
    )


def test_a_charge_that_cannot_post_leaves_the_visit_in_its_call(world):
    s = world.session
    visit_id = _admitted(world)
    s.rollback()
    definition = s.execute(
        select(ChargeItemDefinition).where(ChargeItemDefinition.code == "VISIT-VIDEO-T")
    ).scalar_one()
    definition.active = False
    s.add(definition)
    s.commit()
    with pytest.raises(ValidationError):
        video.end_visit(s, actor=world.actor("dr.video"), appointment_id=visit_id)
    s.rollback()
    assert s.get(Appointment, visit_id).status == "in_room"
    assert (
        s.execute(select(VideoVisit.status).where(VideoVisit.appointment_id == visit_id)).scalar_one()
        == "admitted"
    )


@pytest.mark.parametrize("who", ["dr.other", "nurse.video", "patient.b"])
def test_someone_else_is_told_the_visit_does_not_exist(world, who):
    s = world.session
    visit_id = _admitted(world)
    for call in (
        video.open_channel,
        video.visit_state,
        video.enter_waiting_room,
        video.admit_patient,
        video.end_visit,
    ):
        with pytest.raises(Withheld) as refused:
            call(s, actor=world.actor(who), appointment_id=visit_id)
        assert str(refused.value) == video.MISSING


def test_a_receptionist_cannot_take_part_at_all(world):
    visit_id = _admitted(world)
    with pytest.raises(Forbidden):
        video.open_channel(world.session, actor=world.actor("clerk.video"), appointment_id=visit_id)


def test_missing_and_in_person_visits_are_the_same_answer(world):
    s = world.session
    in_person = world.visit(virtual=False)
    for appointment_id in (in_person, 987654, "1; drop table", -3):
        with pytest.raises(NotFound) as refused:
            video.visit_state(s, actor=world.actor("patient.a"), appointment_id=appointment_id)
        assert str(refused.value) == video.MISSING


def test_the_order_of_the_visit_is_kept(world):
    s = world.session
    patient, doctor = world.actor("patient.a"), world.actor("dr.video")
    early = world.visit(start=timedelta(minutes=30))
    with pytest.raises(Conflict, match="10 minutes before"):
        video.enter_waiting_room(s, actor=patient, appointment_id=early)
    visit_id = world.visit()
    with pytest.raises(Conflict):
        video.admit_patient(s, actor=doctor, appointment_id=visit_id)  # nobody is waiting
    with pytest.raises(Conflict):
        video.enter_waiting_room(s, actor=doctor, appointment_id=visit_id)  # only the patient waits
    video.enter_waiting_room(s, actor=patient, appointment_id=visit_id)
    with pytest.raises(Conflict):
        video.open_channel(s, actor=patient, appointment_id=visit_id)  # not admitted yet
    with pytest.raises(Conflict):
        video.admit_patient(s, actor=patient, appointment_id=visit_id)  # the patient cannot let themself in
    video.admit_patient(s, actor=doctor, appointment_id=visit_id)
    with pytest.raises(Conflict):
        video.end_visit(s, actor=patient, appointment_id=visit_id)  # the patient leaves; the doctor ends
    # Re-entering after a reload keeps the admission.
    assert video.enter_waiting_room(s, actor=patient, appointment_id=visit_id).status == "admitted"


def test_signalling_messages_are_checked(world):
    s = world.session
    visit_id = _admitted(world)
    doctor = world.actor("dr.video")
    channel = video.open_channel(s, actor=doctor, appointment_id=visit_id)
    for raw in (
        "not json",
        json.dumps([1]),
        json.dumps({"type": "shell"}),
        "x" * (video.MAX_MESSAGE_BYTES + 1),
    ):
        with pytest.raises(ValidationError):
            video.post_signal(s, actor=doctor, channel=channel, raw=raw)
    s.rollback()
    assert s.execute(select(func.count()).select_from(VideoSignal)).scalar_one() == 0


def test_the_purge_job_forgets_ended_and_stale_signals_only(world):
    s = world.session
    ended, live_call, completed_elsewhere = _admitted(world), _admitted(world), _admitted(world)
    doctor = world.actor("dr.video")
    for visit_id in (ended, live_call, completed_elsewhere):
        channel = video.open_channel(s, actor=doctor, appointment_id=visit_id)
        video.post_signal(s, actor=doctor, channel=channel, raw=json.dumps({"type": "hello"}))
    s.rollback()
    ended_row = s.execute(select(VideoVisit).where(VideoVisit.appointment_id == ended)).scalar_one()
    ended_row.status = "ended"  # a call whose end left its rows (a crash between the two)
    s.add(ended_row)
    s.get(Appointment, completed_elsewhere).status = "completed"  # from the flow board's Complete
    s.commit()
    assert video.purge_signals(s, actor=SYSTEM_ACTOR) == 2
    assert video.purge_signals(s, actor=SYSTEM_ACTOR, now=world.now + timedelta(hours=3)) == 1
    s.rollback()
    assert s.execute(select(func.count()).select_from(VideoSignal)).scalar_one() == 0


def test_the_measures_count_calls_per_week_with_their_percentiles(world):
    s = world.session
    monday = date(2026, 11, 2)
    setups = [400, 500, 600, 700, 5000]
    for i, setup in enumerate(setups):
        visit_id = world.visit(start=timedelta(days=-30 - i))
        started = pd.Timestamp(monday, tz="UTC") + pd.Timedelta(days=i % 2 * 7, hours=10)
        s.add(
            VideoVisit(
                appointment_id=visit_id,
                patient_id=world.patient_a,
                department_id=world.department.id,
                status="ended",
                started_at=started.to_pydatetime(),
                media_flowing_at=started.to_pydatetime(),
                join_delay_ms=setup * 2,
                setup_ms=setup,
            )
        )
    s.commit()
    measures = video.video_measures(s, actor=SYSTEM_ACTOR, start=monday, end=date(2026, 11, 22))
    weekly = measures.weekly.set_index("week")
    assert list(weekly["visits"]) == [3, 2, 0]
    first = [400, 600, 5000]
    assert weekly.loc[monday, "setup_p95_ms"] == pytest.approx(pd.Series(first).quantile(0.95))
    assert measures.visits == 5
    assert measures.setup_p95_ms == pytest.approx(pd.Series(setups).quantile(0.95))
    assert measures.join_delay_p95_ms == pytest.approx(pd.Series(setups).quantile(0.95) * 2)
    with pytest.raises(Forbidden):
        video.video_measures(s, actor=world.actor("patient.a"), start=monday, end=monday)
