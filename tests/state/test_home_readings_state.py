"""The home-readings screens driven as browser tabs would, with real sessions: the patient's portal
page (/portal/readings) and the staff board (/home-readings), its live watcher, and the attacker's
cases: another patient's id smuggled into the form or sent by name, staff without
``reading.review``, a patient on the staff board, ids the board never showed, implausible values
and a time in the future sent past the page."""

from __future__ import annotations

import asyncio
import inspect
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import select

from hms_app import db as hms_db
from hms_app.clock import format_local, utcnow
from hms_app.hms_app import app  # the app module: registers every page and state
from hms_app.models.emr import Observation
from hms_app.models.home_readings import HomeReading, HomeReadingLimit
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, security
from hms_app.services import patients as patient_svc
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.home_readings.board import ReadingsBoardState, ReadingsPatientState
from hms_app.state.home_readings.portal import PortalReadingsState
from tests.state.test_patients_state import PASSWORD, _call, _redirects, _tab, _toasts


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def people(session) -> dict[str, int]:
    accounts.ensure_roles(session)
    ids = {}
    for given, family in (("Paula", "Pressure"), ("Otto", "Other")):
        ids[given.lower()] = patient_svc.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={"given_name": given, "family_name": family, "sex": "female", "birth_date": "1960-02-03"},
        ).id
    for username, role, patient_id in (
        ("paula", "patient", ids["paula"]),
        ("otto", "patient", ids["otto"]),
        ("nina", "nurse", None),
        ("rita", "receptionist", None),
    ):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
            patient_id=patient_id,
        )
    session.commit()
    return ids


def _board_tab(cls, path: str, username: str):
    """A tab as ``_tab`` opens it, with the socket token a watcher needs."""
    state = _tab(cls, path, username)
    root = state
    while root.parent_state is not None:
        root = root.parent_state
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.QUERY: {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
            constants.RouteVar.CLIENT_TOKEN: f"readings-tab-{username}",
        },
        {},
    )
    return state


def _readings() -> list[tuple[int, str]]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(select(HomeReading.patient_id, HomeReading.kind).order_by(HomeReading.id)).all()
        )


def _denials() -> int:
    with hms_db.session_scope() as s:
        return len(s.execute(select(AuditEvent.id).where(AuditEvent.action == "access.denied")).all())


async def _enter(tab, kind: str, form: dict) -> list:
    await _call(tab, "set_kind", kind)
    return await _call(tab, "submit", form)


async def test_the_patient_enters_readings_and_sees_errors_under_each_box(people, configured_db):
    paula = _tab(PortalReadingsState, "/portal/readings", "paula")
    await _call(paula, "load")
    assert paula.loaded and paula.total == 0 and paula.rows == []

    await _enter(paula, "blood_pressure", {"systolic": "400", "diastolic": "95", "pulse": "900"})
    assert set(paula.field_errors) == {"systolic", "pulse"}
    assert "expected 40 to 300 mmHg" in paula.field_errors["systolic"]
    assert _readings() == []

    await _enter(paula, "blood_pressure", {"systolic": "185", "diastolic": "95", "pulse": "80"})
    assert paula.field_errors == {} and paula.saved_text.startswith("Saved: blood pressure 185/95 mmHg")
    assert paula.alert_text == "Systolic pressure 185 mmHg is above the alert limit of 180 mmHg"
    await _enter(paula, "glucose", {"glucose": "6.1"})  # mg/dL chosen: 6.1 mg/dL is not possible
    assert "not possible" in paula.field_errors["glucose"]
    await _call(paula, "set_glucose_unit", "mmol/L")
    await _call(paula, "submit", {"glucose": "6.1"})
    assert paula.saved_text.startswith("Saved: blood glucose 110 mg/dL") and paula.alert_text == ""
    assert paula.total == 2 and [row.what for row in paula.rows] == ["Blood glucose", "Blood pressure"]
    assert paula.rows[0].entered_as == "entered as 6.1 mmol/L"
    assert paula.rows[1].status_label == "Your care team has been alerted"
    assert paula.chart_measure == "glucose" and paula.chart_points == 1


async def test_a_forged_form_or_argument_cannot_write_into_another_patients_record(people, configured_db):
    paula = _tab(PortalReadingsState, "/portal/readings", "paula")
    await _call(paula, "load")
    forged = {"systolic": "130", "diastolic": "80", "patient_id": str(people["otto"]), "kind": "weight"}
    await _call(paula, "submit", forged)
    assert _readings() == [(people["paula"], "blood_pressure")]  # her own record, the kind she chose
    # No handler takes a patient: an id sent by name cannot even be passed.
    for name in ("load", "submit", "set_kind"):
        parameters = list(
            inspect.signature(PortalReadingsState.event_handlers[name].fn.__wrapped__).parameters
        )
        assert "patient_id" not in parameters
    with pytest.raises(TypeError):
        await _call(paula, "load", people["otto"])
    # setvar reaches only the guarded, checking setter.
    planted = type(paula).event_handlers["setvar"].fn(paula, "kind", "anything")
    if inspect.isawaitable(planted):
        await planted
    assert type(paula).event_handlers["setvar"].fn(paula, "total", 99) is None
    assert paula.kind == "blood_pressure" and paula.total == 1
    # Forged choices are refused with a message, not stored.
    assert _toasts(await _call(paula, "set_kind", "cholesterol")) and paula.kind == "blood_pressure"
    assert _toasts(await _call(paula, "set_glucose_unit", "g/L")) and paula.glucose_unit == "mg/dL"
    assert _toasts(await _call(paula, "set_chart_days", "100000"))
    # A time in the future, sent past the page's picker, is refused under its box.
    ahead = format_local(utcnow() + timedelta(hours=3), "%Y-%m-%dT%H:%M")
    await _call(paula, "submit", {"systolic": "130", "diastolic": "80", "measured_at": ahead})
    assert paula.field_errors == {"measured_at": "The time you measured cannot be in the future."}
    await _call(paula, "submit", {"systolic": "130", "diastolic": "80", "measured_at": "x" * 5000})
    assert paula.field_errors and len(_readings()) == 1
    # Otto's page shows none of hers.
    otto = _tab(PortalReadingsState, "/portal/readings", "otto")
    await _call(otto, "load")
    assert otto.total == 0 and otto.rows == []


async def test_staff_have_no_portal_readings_page(people, configured_db):
    nina = _tab(PortalReadingsState, "/portal/readings", "nina")
    events = await _call(nina, "load")
    assert not nina.loaded and any("does not allow" in t for t in _toasts(events))
    await _call(nina, "submit", {"systolic": "130", "diastolic": "80"})
    assert _readings() == [] and _denials() == 2


async def test_the_nurse_clears_an_alert_with_a_note_and_sets_the_patients_limits(people, configured_db):
    paula = _tab(PortalReadingsState, "/portal/readings", "paula")
    await _call(paula, "load")
    await _enter(paula, "blood_pressure", {"systolic": "172", "diastolic": "96"})
    assert paula.alert_text == ""  # the default systolic limit is 180

    board = _tab(ReadingsBoardState, "/home-readings", "nina")
    await _call(board, "load")
    assert board.loaded and board.rows == [] and board.open_count == 0

    panel = _tab(ReadingsPatientState, "/home-readings", "nina")
    await _call(panel, "open_patient", people["paula"])
    assert panel.patient_name == "Paula Pressure" and panel.total == 1
    assert {row.measure: (row.low, row.high, row.source) for row in panel.limits}["systolic"] == (
        "90",
        "180",
        "default",
    )
    limits = {f"{row.measure}_{side}": getattr(row, side) for row in panel.limits for side in ("low", "high")}
    await _call(panel, "save_limits", {**limits, "systolic_high": "200", "systolic_low": "210", "reason": ""})
    assert set(panel.limit_errors) == {"systolic_high"}
    await _call(panel, "save_limits", {**limits, "systolic_high": "160", "reason": "Dr Grey's target"})
    assert panel.limit_errors == {}
    assert {row.measure: row.high for row in panel.limits}["systolic"] == "160"

    await _enter(paula, "blood_pressure", {"systolic": "168", "diastolic": "92"})
    assert paula.alert_text == "Systolic pressure 168 mmHg is above the alert limit of 160 mmHg"
    await _call(board, "refresh")
    [line] = board.rows
    assert (line.patient_name, line.value_text, line.open) == ("Paula Pressure", "168/92 mmHg", True)
    assert board.open_count == 1 and board.patients_open == 1

    await _call(board, "start_clear", line.id)
    assert board.clearing_id == line.id
    await _call(board, "clear", {"note": ""})
    assert board.clear_error and board.clearing_id == line.id
    await _call(board, "clear", {"note": "Called: rechecked 142/88 after rest."})
    assert board.clearing_id == 0 and board.rows == [] and board.open_count == 0
    await _call(board, "set_show", "cleared")
    [done] = board.rows
    assert "by nina: Called: rechecked 142/88 after rest." in done.cleared
    await _call(paula, "load")
    assert paula.rows[0].status_label == "Reviewed by your care team"


async def test_the_board_refuses_other_roles_patients_and_ids_it_never_showed(people, configured_db):
    paula = _tab(PortalReadingsState, "/portal/readings", "paula")
    await _call(paula, "load")
    await _enter(paula, "blood_pressure", {"systolic": "190", "diastolic": "96"})

    rita = _tab(ReadingsBoardState, "/home-readings", "rita")
    events = await _call(rita, "load")
    assert rita.rows == [] and not rita.loaded and any("does not allow" in t for t in _toasts(events))
    rita_panel = _tab(ReadingsPatientState, "/home-readings", "rita")
    await _call(rita_panel, "open_patient", people["paula"])
    await _call(rita_panel, "save_limits", {"systolic_high": "250"})
    assert rita_panel.rows == [] and rita_panel.patient_name == ""

    patient_on_board = _tab(ReadingsBoardState, "/home-readings", "paula")
    events = await _call(patient_on_board, "load")
    assert _redirects(events) == ["/portal"] and patient_on_board.rows == []
    otto_panel = _tab(ReadingsPatientState, "/home-readings", "otto")
    await _call(otto_panel, "open_patient", people["paula"])
    assert otto_panel.rows == []
    with hms_db.session_scope() as s:
        assert s.execute(select(HomeReadingLimit.id)).first() is None

    board = _tab(ReadingsBoardState, "/home-readings", "nina")
    await _call(board, "load")
    [line] = board.rows
    for forged in (line.id + 1000, "1; drop", -3, None, 10**15):
        assert _toasts(await _call(board, "start_clear", forged))
        assert board.clearing_id == 0
    await _call(board, "clear", {"note": "nothing chosen"})  # no alert chosen: nothing happens
    panel = _tab(ReadingsPatientState, "/home-readings", "nina")
    for forged in ("abc", -1, None):
        assert _toasts(await _call(panel, "open_patient", forged)) and panel.patient_id == 0
    assert _toasts(await _call(panel, "open_patient", 999_999)) and panel.patient_id == 0
    with hms_db.session_scope() as s:
        assert s.execute(select(HomeReading.alert_status)).scalars().all() == ["open"]
        # Her reading is in the chart as observations, whoever looked.
        assert len(s.execute(select(Observation.id)).all()) == 2


async def test_the_boards_watcher_wakes_when_a_patient_enters_a_reading(people, configured_db, monkeypatch):
    board = _board_tab(ReadingsBoardState, "/home-readings", "nina")  # a tab with its socket token
    token = board.router.session.client_token
    monkeypatch.setattr(type(app.event_namespace), "token_to_sid", property(lambda _self: {token: "sid-1"}))
    await _call(board, "load")
    watch = type(board).event_handlers["watch"].fn(board)
    first = asyncio.ensure_future(watch.__anext__())
    await asyncio.sleep(0.5)
    assert not first.done()

    paula = _tab(PortalReadingsState, "/portal/readings", "paula")
    await _call(paula, "load")
    await _enter(paula, "spo2", {"spo2": "88"})
    woke = await asyncio.wait_for(first, timeout=10)
    assert woke.fn.__name__ == "refresh"
    await _call(board, "refresh")
    [line] = board.rows
    assert line.crossed == "Oxygen saturation 88 % is below the alert limit of 92 %"
    await watch.aclose()

    # A role without reading.review gets no subscription at all.
    rita = _board_tab(ReadingsBoardState, "/home-readings", "rita")
    produced = [item async for item in type(rita).event_handlers["watch"].fn(rita)]
    assert produced == [] and _denials() == 1
