"""The portal's results page (/portal/results) driven as the patient's browser would: released results
by day with value, units, usual range and a plain-words flag; an empty page for a patient without
any; a sensitive test only after its delay; and the attacker's cases: another patient's id sent by
name (the handler takes none; setvar cannot plant one), staff accounts refused."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from hms_app import db as hms_db
from hms_app.clock import held_at, utcnow
from hms_app.hms_app import app  # noqa: F401  (the app module: registers every page and state)
from hms_app.models.laboratory import LabResult
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, security
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.portal.results import PortalResultsState, result_days
from tests.services.lab_world import LabWorld, build_lab_world, released_value
from tests.state.test_patients_state import PASSWORD, _call, _tab, _toasts


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(session) -> LabWorld:
    """The laboratory world with portal accounts for Adam Mann and Eve Frau, and a physician."""
    world = build_lab_world(session)
    accounts.ensure_roles(session)
    for username, role, patient_id in (
        ("adam", "patient", world.man),
        ("eve", "patient", world.woman),
        ("kim", "patient", world.child),
        ("grey", "physician", None),
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
    return world


def _released(world: LabWorld, patient_id: int, code: str, value: str) -> int:
    with hms_db.session_scope() as s:
        return released_value(s, world, patient_id, code, value)


async def test_the_patient_sees_her_released_results_by_day_with_plain_words(world, configured_db):
    with held_at(utcnow() - timedelta(days=3)):
        _released(world, world.woman, "2823-3", "3.1")  # potassium, low
    _released(world, world.woman, "2823-3", "6.9")  # critically high
    _released(world, world.woman, "2951-2", "140")  # sodium, within the range
    _released(world, world.man, "2823-3", "5.9")  # someone else's

    eve = _tab(PortalResultsState, "/portal/results", "eve")
    await _call(eve, "load")
    assert eve.loaded and eve.count == 3
    assert [day.day for day in eve.days][0] == "Today" and len(eve.days) == 2
    today, earlier = eve.days
    assert sorted(
        (line.test_name.split(" ")[0], line.value, line.words, line.tone) for line in today.results
    ) == [
        ("Potassium", "6.9", "far above the usual range", "red"),
        ("Sodium", "140", "within the usual range", "green"),
    ]
    [low] = earlier.results
    assert (low.value, low.unit, low.reference, low.flag, low.words, low.tone) == (
        "3.1",
        "mmol/L",
        "3.5-5.1 mmol/L",
        "L",
        "below the usual range",
        "amber",
    )
    # Adam's potassium is nowhere on her page.
    assert "5.9" not in {line.value for day in eve.days for line in day.results}
    with hms_db.session_scope() as s:
        audited = s.execute(
            select(AuditEvent.patient_id, AuditEvent.username).where(
                AuditEvent.action == "lab.portal_results"
            )
        ).all()
    assert audited == [(world.woman, "eve")]


async def test_a_patient_without_results_gets_the_empty_page_and_a_sensitive_test_waits(world, configured_db):
    kim = _tab(PortalResultsState, "/portal/results", "kim")
    await _call(kim, "load")
    assert kim.loaded and kim.days == [] and kim.count == 0

    hiv = _released(world, world.child, "56888-1", "Non-reactive")
    await _call(kim, "load")
    assert kim.days == []  # released, but shown only once the care team had time to talk it through
    with hms_db.session_scope() as s:
        released = s.get(LabResult, hiv).released_at
    with held_at(released + timedelta(hours=72)):
        await _call(kim, "load")
    [line] = [line for day in kim.days for line in day.results]
    assert line.value == "Non-reactive"


async def test_another_patients_results_cannot_be_asked_for(world, configured_db):
    _released(world, world.man, "2823-3", "5.9")
    _released(world, world.woman, "2823-3", "4.4")
    eve = _tab(PortalResultsState, "/portal/results", "eve")

    # The handler takes no patient: an id sent by name cannot even be passed (Reflex reports the
    # malformed event; nothing is read).
    assert list(inspect.signature(PortalResultsState.event_handlers["load"].fn.__wrapped__).parameters) == [
        "self"
    ]
    with pytest.raises(TypeError):
        await _call(eve, "load", world.man)
    assert not eve.loaded and eve.days == []
    # Nor can setvar plant one on the state.
    assert type(eve).event_handlers["setvar"].fn(eve, "patient_id", world.man) is None
    assert type(eve).event_handlers["setvar"].fn(eve, "days", []) is None
    await _call(eve, "load")
    assert [line.value for day in eve.days for line in day.results] == ["4.4"]


async def test_staff_accounts_have_no_portal_results(world, configured_db):
    _released(world, world.man, "2823-3", "5.9")
    grey = _tab(PortalResultsState, "/portal/results", "grey")
    events = await _call(grey, "load")
    assert not grey.loaded and grey.days == []
    assert any("Your role does not allow this" in t for t in _toasts(events))


def test_rows_without_a_flag_or_range_say_nothing_about_the_range():
    from hms_app.services.laboratory.views import PortalResult

    now = utcnow()
    [day] = result_days(
        [
            PortalResult(now, "Blood group", "A Rh+", "", "", ""),
            PortalResult(now, "Culture", "Growth", "", "A", ""),
            PortalResult(now, "HIV screen", "Reactive", "", "A", "Non-reactive"),
        ]
    )
    assert [(line.words, line.tone) for line in day.results] == [
        ("", "gray"),
        ("not the usual result", "amber"),
        ("not the usual result", "amber"),
    ]
    assert day.results[2].reference == "Non-reactive"
