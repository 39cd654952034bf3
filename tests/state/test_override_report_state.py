"""The order-check override report (/pharmacy/overrides) driven as a pharmacist's tab would: the last
90 days by default, the rules with their rates and the noisy one flagged, the figure, the span typed
wrong (each message under its field), every alert or interrupting ones only, the CSV. A nurse calling
the handlers by name gets a refusal and no numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app.clock import local_today
from hms_app.state.dispensary import overrides as overrides_state
from hms_app.state.dispensary.overrides import OverrideReportState
from tests.services.dispensing_world import build_dispense_world
from tests.services.pharmacy_world import engine  # noqa: F401 - the fixture
from tests.services.test_pharmacy_override_report import alerts
from tests.state.lab_desk_world import quiet  # noqa: F401  (autouse: quick hashes, no notices)
from tests.state.test_patients_state import _call, _toasts
from tests.state.test_pharmacy_queue_state import _tab

PATH = "/pharmacy/overrides"


@pytest.fixture
def world(session, engine):  # noqa: F811
    world = build_dispense_world(session)
    alerts(session, world.rx, "ddi:warfarin+nsaid", shown=10, overridden=9)
    alerts(session, world.rx, "dup:same-ingredient", shown=4, overridden=1, kind="duplicate_therapy")
    alerts(
        session,
        world.rx,
        "dup:same-ingredient",
        shown=3,
        overridden=3,
        kind="duplicate_therapy",
        days_ago=200,
    )
    alerts(
        session,
        world.rx,
        "allergy:not-assessed",
        shown=5,
        overridden=0,
        kind="allergy_not_assessed",
        interrupt=False,
    )
    return world


async def test_a_pharmacist_reads_the_last_90_days_then_changes_the_span_and_the_scope(world, monkeypatch):
    tab = _tab(OverrideReportState, PATH, "pharm.two")
    await _call(tab, "load")
    today = local_today()
    assert (tab.date_from, tab.date_to) == ((today - timedelta(days=89)).isoformat(), today.isoformat())
    assert [(r.rule, r.kind, r.shown, r.overridden, r.rate, r.noisy) for r in tab.rows] == [
        ("ddi:warfarin+nsaid", "Interaction", 10, 9, "90.0 %", True),
        ("dup:same-ingredient", "Duplicate therapy", 4, 1, "25.0 %", False),
    ]
    assert tab.noisy_count == 1 and tab.summary == "2 rules · 14 alerts shown · 10 overridden"
    assert list(tab.figure.data[0].y) == ["ddi:warfarin+nsaid", "dup:same-ingredient"]
    assert tab.loaded and not tab.loading

    await _call(tab, "set_interrupting_only", False)
    assert [r.rule for r in tab.rows] == ["ddi:warfarin+nsaid", "dup:same-ingredient", "allergy:not-assessed"]

    await _call(
        tab, "apply", {"date_from": (today - timedelta(days=365)).isoformat(), "date_to": today.isoformat()}
    )
    assert tab.error_field == "" and {r.rule: r.shown for r in tab.rows}["dup:same-ingredient"] == 7

    written = []
    monkeypatch.setattr(overrides_state, "override_csv", lambda rows: written.append(rows) or "csv")
    events = await _call(tab, "download_csv")
    assert "download" in repr(events[-1]).lower() and "order-check-overrides_all_" in repr(events[-1])
    assert [(r.rule, r.shown) for r in written[0]] == [(r.rule, r.shown) for r in tab.rows]

    await _call(tab, "reset_span")
    assert tab.date_from == (today - timedelta(days=89)).isoformat() and len(tab.rows) == 3


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"date_from": "", "date_to": "2026-01-31"}, "date_from", "Choose the from date."),
        ({"date_from": "31/01/2026", "date_to": "2026-01-31"}, "date_from", "The from date is not a date"),
        (
            {"date_from": "2026-02-01", "date_to": "2026-01-31"},
            "date_to",
            "The from date is after the to date.",
        ),
        ({"date_from": "1800-01-01", "date_to": "2026-01-31"}, "date_from", "between 1900 and 2199"),
        ({"date_from": "2026-01-01", "date_to": "x" * 500}, "date_to", "at most 10 characters"),
    ],
)
async def test_a_wrong_span_is_named_under_its_field_and_keeps_the_report(world, form, field, message):
    tab = _tab(OverrideReportState, PATH, "pharm.two")
    await _call(tab, "load")
    before = (tab.date_from, tab.date_to, list(tab.rows))
    await _call(tab, "apply", form)
    assert tab.error_field == field and message in tab.error_text
    assert (tab.date_from, tab.date_to, list(tab.rows)) == before


async def test_a_future_end_is_refused_and_a_nurse_gets_no_numbers(world):
    tab = _tab(OverrideReportState, PATH, "pharm.two")
    await _call(tab, "load")
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    await _call(tab, "apply", {"date_from": local_today().isoformat(), "date_to": tomorrow})
    assert tab.error_field == "date_to" and "future" in tab.error_text

    nurse = _tab(OverrideReportState, PATH, "nurse.pw")
    for handler, args in (("load", ()), ("set_interrupting_only", (False,)), ("download_csv", ())):
        events = await _call(nurse, handler, *args)
        assert any("does not allow this" in t for t in _toasts(events))
        assert nurse.rows == [] and not nurse.loaded
