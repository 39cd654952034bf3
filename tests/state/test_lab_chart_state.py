"""The laboratory side of the patient chart driven as a clinician's browser tab would: the Results
tab (empty, then orders in progress, specimens to collect, the cumulative table with its flags and a
test's trend), the order dialog (type-ahead, panels, priority, duplicates that need "Order anyway",
each field's message), cancelling an order, collecting a specimen, and the printable label page.
Attackers: a role without ``lab.order`` calling the order handlers by name, specimen and order ids
of another patient or of nothing, forged priorities and oversized clinical questions."""

from __future__ import annotations

import pytest
import reflex as rx
from reflex_base import constants
from sqlalchemy import func, select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.laboratory import LabOrder, LabRequest, Specimen
from hms_app.models.security import AuditEvent
from hms_app.services import accounts
from hms_app.services.laboratory.results import enter_result, verify_results
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.chart.lab_order import ChartLabOrderState
from hms_app.state.chart.lab_results import ChartLabResultsState
from hms_app.state.chart.page import ChartState
from hms_app.state.lab_label import SpecimenLabelState
from tests.state.chart_tab import Tab
from tests.state.lab_desk_world import build_desk, order, quiet, receive  # noqa: F401  (quiet: autouse)
from tests.state.test_patients_state import PASSWORD, _call, _tab, _toasts

BMP, POTASSIUM, SODIUM = "51990-0", "2823-3", "2951-2"


@pytest.fixture(autouse=True, scope="module")
def route_argument():
    """The chart's [patient_id] and the label's [specimen_id], as compiling the routes declares them."""
    rx.State.setup_dynamic_args(
        {"patient_id": constants.RouteArgType.SINGLE, "specimen_id": constants.RouteArgType.SINGLE}
    )


def _world(session):
    world = build_desk(session)
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="doc",
        display_name="Dr Doc",
        password=PASSWORD,
        roles=["physician"],
    )
    session.commit()
    return world


async def _results_tab(pid: int, username: str) -> Tab:
    tab = Tab(pid, username, PASSWORD)
    await tab.call(ChartState, "load")
    await tab.call(ChartState, "set_tab", "results")
    return tab


def _count(model) -> int:
    with hms_db.session_scope() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def _specimen_status(specimen_id: int) -> str:
    with hms_db.session_scope() as s:
        return s.get(Specimen, specimen_id).status


def _denied() -> list[str]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(select(AuditEvent.detail).where(AuditEvent.action == "access.denied")).scalars()
        )


async def _order(tab: Tab, *codes: str, priority: str = "routine", form: dict | None = None) -> list:
    """Open the dialog, find and pick each test by its code, choose the priority and submit."""
    await tab.call(ChartLabOrderState, "open_order")
    state = tab[ChartLabOrderState]
    for code in codes:
        await tab.call(ChartLabOrderState, "search", code)
        hit = next(h for h in state.hits if h.code == code)
        await tab.call(ChartLabOrderState, "pick", hit.id)
    await tab.call(ChartLabOrderState, "set_priority", priority)
    return await tab.call(ChartLabOrderState, "submit_order", form or {})


async def test_a_physician_orders_a_panel_collects_it_and_reads_the_released_results(session, configured_db):
    world = _world(session)
    tab = await _results_tab(world.man, "doc")
    results, dialog = tab[ChartLabResultsState], tab[ChartLabOrderState]
    # Nothing yet: each part of the tab says so.
    assert results.lab_loaded and not results.lab_forbidden
    assert (results.results, results.orders, results.to_collect, results.times) == ([], [], [], [])

    # The type-ahead finds the panel by words of its name; panels first, with their size.
    await tab.call(ChartLabOrderState, "open_order")
    assert dialog.order_open and dialog.hits and dialog.picked == []
    await tab.call(ChartLabOrderState, "search", "basic ")
    assert dialog.query == "basic "  # as typed: the space before the next word stays in the box
    await tab.call(ChartLabOrderState, "search", "metabolic")
    bmp = next(h for h in dialog.hits if h.code == BMP)
    assert bmp.is_panel and bmp.detail == "Panel of 8 tests" and dialog.hits[0].is_panel
    # Nothing picked: the dialog says what is missing and orders nothing.
    await tab.call(ChartLabOrderState, "submit_order", {})
    assert (dialog.error_field, dialog.error_text) == ("test_ids", "Choose at least one test.")
    await tab.call(ChartLabOrderState, "pick", bmp.id)
    await tab.call(ChartLabOrderState, "pick", bmp.id)  # a second click adds nothing
    assert [p.code for p in dialog.picked] == [BMP] and dialog.error_text == ""
    await tab.call(ChartLabOrderState, "set_priority", "stat")
    events = await tab.call(
        ChartLabOrderState,
        "submit_order",
        {"clinical_question": "Weakness, on spironolactone", "fasting": "on"},
    )
    toast = next(t for t in _toasts(events) if "Ordered" in t)
    assert "Ordered LR-" in toast and "(STAT): 1 specimen to collect." in toast
    assert not dialog.order_open
    with hms_db.session_scope() as s:
        request = s.execute(select(LabRequest)).scalar_one()
        assert (request.priority, request.clinical_question, request.fasting) == (
            "stat",
            "Weakness, on spironolactone",
            True,
        )
    # The tab shows the panel's eight orders and the one tube to collect, STAT.
    assert len(results.orders) == 8 and {o.status_label for o in results.orders} == {"To collect"}
    assert all(o.cancellable and o.priority == "stat" for o in results.orders)
    [tube] = results.to_collect
    assert (tube.priority, tube.container) == ("stat", "Serum separator (gold)") and "K" in tube.tests

    # The same panel again within a day: the duplicates are listed and nothing is ordered ...
    await _order(tab, BMP, priority="routine")
    assert dialog.order_open and len(dialog.warnings) == 8
    assert any(w.startswith("K was already ordered") and request.reference in w for w in dialog.warnings)
    assert _count(LabRequest) == 1
    # ... changing the tests forgets the warning: a confirmation is for exactly the tests warned about.
    await tab.call(ChartLabOrderState, "search", SODIUM)
    await tab.call(ChartLabOrderState, "pick", dialog.hits[0].id)
    assert dialog.warnings == []
    await tab.call(ChartLabOrderState, "submit_order", {"confirm": "yes"})
    assert len(dialog.warnings) == 8 and _count(LabRequest) == 1  # Na is in the panel: warned, not ordered
    events = await tab.call(ChartLabOrderState, "submit_order", {"confirm": "yes"})
    assert any("Ordered LR-" in t for t in _toasts(events)) and _count(LabRequest) == 2
    assert len(results.to_collect) == 2

    # Cancel the repeat's potassium: a reason is required and kept.
    repeat_k = next(o for o in results.orders if o.test.startswith("Potassium") and o.priority == "routine")
    await tab.call(ChartLabOrderState, "ask_cancel", repeat_k.order_id)
    assert dialog.cancel_open and "Potassium" in dialog.cancel_subject
    await tab.call(ChartLabOrderState, "submit_cancel", {"reason": "  "})
    assert dialog.cancel_error == "Say why the order is cancelled." and dialog.cancel_open
    events = await tab.call(ChartLabOrderState, "submit_cancel", {"reason": "Ordered twice"})
    assert any("Cancelled Potassium" in t and "Ordered twice" in t for t in _toasts(events))
    with hms_db.session_scope() as s:
        cancelled = s.get(LabOrder, repeat_k.order_id)
        assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "Ordered twice")
    assert repeat_k.order_id not in {o.order_id for o in results.orders}

    # Collect the STAT tube from the chart: it leaves the list, the orders are on their way.
    events = await tab.call(ChartLabResultsState, "collect", tube.id)
    assert any(f"{tube.accession} collected" in t for t in _toasts(events))
    assert _specimen_status(tube.id) == "collected"
    assert tube.id not in {line.id for line in results.to_collect}
    stat_orders = [o for o in results.orders if o.priority == "stat"]
    assert {o.status_label for o in stat_orders} == {"On its way"}
    events = await tab.call(ChartLabResultsState, "collect", tube.id)  # a second click: no longer there
    assert any("not waiting to be collected from this patient" in t for t in _toasts(events))

    # The laboratory results the potassium (high) and sodium (critically low); another verifies.
    with hms_db.session_scope() as s:
        from hms_app.services.laboratory.specimens import receive_specimen

        receive_specimen(s, actor=world.tech, scan=tube.accession)
        ids = []
        for o in stat_orders:
            if o.test.startswith(("Potassium", "Sodium")):
                value = "5.6" if o.test.startswith("Potassium") else "118"
                ids.append(enter_result(s, actor=world.tech, order_id=o.order_id, value=value).id)
        verify_results(s, actor=world.second_tech, result_ids=ids)

    await tab.call(ChartLabResultsState, "reload_lab")
    assert len(results.times) == 1 and results.times_total == 1
    by_code = {line.code: line for line in results.results}
    assert set(by_code) == {POTASSIUM, SODIUM}
    k, na = by_code[POTASSIUM].cells[0], by_code[SODIUM].cells[0]
    assert (k.value, k.flag, k.tone, k.flag_label) == ("5.6", "H", "abnormal", "High")
    assert (na.value, na.flag, na.tone, na.flag_label) == ("118", "LL", "critical", "Critically low")
    assert by_code[POTASSIUM].reference == "3.5-5.1" and by_code[POTASSIUM].unit == "mmol/L"
    # The released ones left "in progress"; the trend of potassium has its one point and its band.
    assert {o.test for o in results.orders if o.status == "released"} == set()
    k_choice = next(c for c in results.trend_choices if c.label == "K")
    await tab.call(ChartLabResultsState, "set_trend_test", k_choice.value)
    assert results.trend_test == k_choice.value and results.trend_count == 1
    events = await tab.call(ChartLabResultsState, "set_trend_test", "99999")
    assert any("Choose a test from the list." in t for t in _toasts(events))
    assert results.trend_test == k_choice.value


async def test_the_label_page_prints_a_specimen_for_those_who_collect(session, configured_db):
    world = _world(session)
    placed = order(world, world.woman, POTASSIUM, priority="urgent", collect=False)
    specimen_id = placed.specimen_ids[0]

    nurse = _tab(SpecimenLabelState, f"/lab/specimens/{specimen_id}/label", "nina")
    await _call(nurse, "load")
    assert nurse.loaded and nurse.problem == ""
    assert nurse.svg.startswith("<svg") and "FRAU, Eve" in nurse.svg
    assert (nurse.accession, nurse.patient_name, nurse.patient_id) == (
        placed.accessions[0],
        "FRAU, Eve",
        world.woman,
    )
    assert (nurse.specimen, nurse.tests, nurse.priority_label, nurse.collected) == (
        "Venous blood, serum · Serum separator (gold)",
        "K",
        "Urgent",
        "",
    )
    with hms_db.session_scope() as s:
        printed = s.execute(select(AuditEvent.detail).where(AuditEvent.action == "lab.label")).scalars().all()
    assert printed == [placed.accessions[0]]

    for path, message in (
        ("/lab/specimens/999999/label", "That specimen does not exist."),
        ("/lab/specimens/abc/label", "This address does not name a specimen."),
        ("/lab/specimens/0/label", "This address does not name a specimen."),
    ):
        tab = _tab(SpecimenLabelState, path, "nina")
        await _call(tab, "load")
        assert tab.problem.startswith(message) and tab.svg == "" and tab.patient_name == ""

    # A receptionist (no lab.collect) is refused on the server: no label, no patient's name.
    desk = _tab(SpecimenLabelState, f"/lab/specimens/{specimen_id}/label", "rita")
    events = await _call(desk, "load")
    assert any("Your role does not allow this" in t for t in _toasts(events))
    assert (desk.svg, desk.patient_name, desk.loaded) == ("", "", False)
    assert "SpecimenLabelState.load needs lab.collect" in _denied()


async def test_a_nurse_collects_but_cannot_order_even_by_calling_the_handlers(session, configured_db):
    world = _world(session)
    placed = order(world, world.man, POTASSIUM, collect=False)
    tab = await _results_tab(world.man, "nina")
    results, dialog = tab[ChartLabResultsState], tab[ChartLabOrderState]
    assert [line.id for line in results.to_collect] == placed.specimen_ids

    for name, args in (
        ("open_order", ()),
        ("search", ("potassium",)),
        ("pick", (world.test(POTASSIUM),)),
        ("set_priority", ("stat",)),
        ("submit_order", ({"clinical_question": "x", "confirm": "yes"},)),
        ("ask_cancel", (results.orders[0].order_id,)),
        ("submit_cancel", ({"reason": "because"},)),
    ):
        events = await tab.call(ChartLabOrderState, name, *args)
        assert any("Your role does not allow this" in t for t in _toasts(events)), name
    assert (dialog.order_open, dialog.hits, dialog.picked, dialog.cancel_open) == (False, [], [], False)
    assert _count(LabRequest) == 1
    with hms_db.session_scope() as s:
        assert s.execute(select(LabOrder.status)).scalars().all() == ["ordered"]
    denied = _denied()
    assert "ChartLabOrderState.submit_order needs lab.order" in denied
    assert "ChartLabOrderState.ask_cancel needs lab.order" in denied

    # Collecting is hers to do.
    await tab.call(ChartLabResultsState, "collect", placed.specimen_ids[0])
    assert _specimen_status(placed.specimen_ids[0]) == "collected"


async def test_ids_of_another_patient_or_of_nothing_are_refused(session, configured_db):
    world = _world(session)
    mine = order(world, world.man, POTASSIUM, collect=False)
    theirs = order(world, world.woman, POTASSIUM, collect=False)
    tab = await _results_tab(world.man, "doc")
    results, dialog = tab[ChartLabResultsState], tab[ChartLabOrderState]
    assert [line.id for line in results.to_collect] == mine.specimen_ids

    # Another patient's specimen, one that does not exist, and things that are not ids.
    for forged in (theirs.specimen_ids[0], 999999):
        events = await tab.call(ChartLabResultsState, "collect", forged)
        assert any("not waiting to be collected from this patient" in t for t in _toasts(events))
    for forged in ("abc", -1, 0, True, None, "1; drop", 10**15):
        events = await tab.call(ChartLabResultsState, "collect", forged)
        assert any("Choose a specimen from the list." in t for t in _toasts(events)), forged
    assert _specimen_status(theirs.specimen_ids[0]) == "pending"

    # Another patient's order cannot be cancelled from this chart.
    with hms_db.session_scope() as s:
        their_order = s.execute(select(LabOrder.id).where(LabOrder.patient_id == world.woman)).scalar_one()
    events = await tab.call(ChartLabOrderState, "ask_cancel", their_order)
    assert any("not open on this chart" in t for t in _toasts(events)) and not dialog.cancel_open
    events = await tab.call(ChartLabOrderState, "submit_cancel", {"reason": "forged"})
    assert not dialog.cancel_open
    with hms_db.session_scope() as s:
        assert s.get(LabOrder, their_order).status == "ordered"

    # A test id that the search did not show cannot be picked.
    await tab.call(ChartLabOrderState, "open_order")
    await tab.call(ChartLabOrderState, "search", "sodium")
    events = await tab.call(ChartLabOrderState, "pick", world.test(POTASSIUM))
    assert any("Choose a test from the search results." in t for t in _toasts(events))
    assert dialog.picked == []
    events = await tab.call(ChartLabOrderState, "search", "x" * 500)
    assert _toasts(events) and dialog.query == "sodium"


async def test_forged_priorities_and_oversized_questions_are_refused(session, configured_db):
    world = _world(session)
    tab = await _results_tab(world.man, "doc")
    dialog = tab[ChartLabOrderState]
    await tab.call(ChartLabOrderState, "open_order")
    await tab.call(ChartLabOrderState, "search", POTASSIUM)
    await tab.call(ChartLabOrderState, "pick", dialog.hits[0].id)

    for forged in ("emergency", "STAT ", "", None, 3, ["stat"], "stat'; --"):
        events = await tab.call(ChartLabOrderState, "set_priority", forged)
        assert any("Choose routine, urgent or STAT." in t for t in _toasts(events)), forged
        assert dialog.priority == "routine"
    await tab.call(ChartLabOrderState, "set_priority", "urgent")
    assert dialog.priority == "urgent" and dialog.error_text == ""

    await tab.call(ChartLabOrderState, "submit_order", {"clinical_question": "q" * 301})
    assert dialog.error_field == "clinical_question"
    assert dialog.error_text == "The clinical question can be at most 300 characters."
    await tab.call(ChartLabOrderState, "submit_order", {"clinical_question": "q" * 50_000})
    assert dialog.error_field == "clinical_question" and "clinical question" in dialog.error_text.lower()
    await tab.call(ChartLabOrderState, "submit_order", {"clinical_question": {"not": "text"}})
    assert dialog.error_text != ""
    assert _count(LabRequest) == 0 and dialog.order_open

    # A submit with no dialog open (called by name) does nothing.
    await tab.call(ChartLabOrderState, "on_order_dialog_change", False)
    await tab.call(ChartLabOrderState, "submit_order", {"clinical_question": "ok"})
    assert _count(LabRequest) == 0

    # A role without laboratory results sees the tab refused, and cannot collect by name.
    desk = await _results_tab(world.man, "rita")
    assert desk[ChartLabResultsState].lab_forbidden and desk[ChartLabResultsState].results == []
    events = await desk.call(ChartLabResultsState, "collect", 1)
    assert any("Your role does not allow this" in t for t in _toasts(events))
