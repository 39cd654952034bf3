"""The critical results board (/lab/critical) driven as a browser tab would: an alert raised by a
critical potassium, its clocks moving on, its escalation to the unit's charge nurse highlighted
after a live refresh, its acknowledgement (shown when asked for), and who may open the board."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.laboratory import CriticalAlert, LabOrder
from hms_app.models.organization import Department
from hms_app.services import accounts, live
from hms_app.services.laboratory.critical import acknowledge_alert, escalate_due_alerts
from hms_app.services.laboratory.results import enter_result
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.laboratory import critical as board_module
from hms_app.state.laboratory.critical import CriticalBoardState
from tests.state.lab_desk_world import build_desk, order, quiet, receive  # noqa: F401  (quiet: autouse)
from tests.state.test_patients_state import PASSWORD, _call, _tab, _toasts


async def test_the_board_shows_escalates_and_clears_a_critical_result(session, configured_db, monkeypatch):
    world = build_desk(session)
    ward = session.execute(select(Department.id).where(Department.code == "GEN")).scalar_one()
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="cora",
        display_name="Cora Charge",
        password=PASSWORD,
        roles=["charge_nurse"],
        department_id=ward,
    )
    tab = _tab(CriticalBoardState, "/lab/critical", "lara")
    await _call(tab, "load")
    assert tab.rows == [] and tab.open_count == 0 and tab.loaded

    placed = order(world, world.man, "2823-3", priority="stat")
    receive(world, placed)
    with hms_db.session_scope() as s:
        order_id = s.execute(select(LabOrder.id)).scalar_one()
        enter_result(s, actor=world.tech, order_id=order_id, value="7.1")
        raised_at = s.execute(select(CriticalAlert.raised_at)).scalar_one()

    # Five minutes after it was raised: with the ordering clinician, ten minutes to escalation.
    monkeypatch.setattr(board_module, "utcnow", lambda: raised_at + timedelta(minutes=5, seconds=10))
    await _call(tab, "refresh")
    [line] = tab.rows
    assert (line.level_name, line.recipient, line.open, line.escalated) == (
        "Ordering clinician",
        "Dr.House",
        True,
        False,
    )
    # As every laboratory screen names them: the patient "FAMILY, Given", the test by its short name.
    assert line.summary == "K 7.1 mmol/L (HH)" and line.patient_name == "MANN, Adam"
    assert (line.minutes_open, line.escalates, line.overdue) == ("5 min", "in 10 min", False)
    assert (tab.open_count, tab.escalated_count) == (1, 0)

    # The clock moves on without a read; past its time the alert is due.
    monkeypatch.setattr(board_module, "utcnow", lambda: raised_at + timedelta(minutes=15, seconds=30))
    tab._draw()
    assert (tab.rows[0].minutes_open, tab.rows[0].escalates, tab.rows[0].overdue) == (
        "15 min",
        "due now",
        True,
    )

    # The job escalates it to the ward's charge nurse; the board's live refresh highlights it.
    with hms_db.session_scope() as s:
        assert escalate_due_alerts(s, now=raised_at + timedelta(minutes=16)) == 1
    monkeypatch.setattr(board_module, "utcnow", lambda: raised_at + timedelta(minutes=17))
    live.hub().delivered += 1  # the job's notice arrived: the boards read again
    await _call(tab, "refresh")
    [line] = tab.rows
    assert (line.level_name, line.recipient, line.escalated, line.escalates) == (
        "Charge nurse",
        "Cora Charge",
        True,
        "in 14 min",
    )
    assert tab.escalated_count == 1

    # Acknowledged by the physician with a read-back: off the board, shown when asked for.
    with hms_db.session_scope() as s:
        alert_id = s.execute(select(CriticalAlert.id)).scalar_one()
        acknowledge_alert(s, actor=world.physician, alert_id=alert_id, read_back="K 7.1 understood")
    live.hub().delivered += 1
    await _call(tab, "refresh")
    assert tab.rows == [] and tab.open_count == 0
    await _call(tab, "set_show_acknowledged", True)
    [line] = tab.rows
    assert not line.open and line.escalates == ""
    assert line.acknowledged.endswith("by Dr.House: “K 7.1 understood”")


async def test_who_may_open_the_board(session, configured_db):
    build_desk(session)
    nurse = _tab(CriticalBoardState, "/lab/critical", "nina")
    await _call(nurse, "load")
    assert nurse.loaded and nurse.rows == []  # a nurse reads laboratory results: she sees the board
    for username in ("rita", "ada"):
        tab = _tab(CriticalBoardState, "/lab/critical", username)
        events = await _call(tab, "load")
        assert not tab.loaded and any("Your role does not allow this" in t for t in _toasts(events))
