"""The laboratory worklist (/lab) driven as browser tabs would: the queues and their counts, STAT
first, search; the entry grid (a wrong value keeps its message under its input, a saved one moves
the focus on and shows its flag; a coded result is saved when chosen); verification by a second
technician, which refuses one's own entries with the server's message; a second tab that sees
the change on its next live refresh; and the refusals of roles without the permission."""

from __future__ import annotations

import re

from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.laboratory import CriticalAlert, LabResult
from hms_app.services import live
from hms_app.state.laboratory.worklist import WorklistState
from tests.state.lab_desk_world import build_desk, order, quiet, receive  # noqa: F401  (quiet: autouse)
from tests.state.test_patients_state import _arguments, _call, _tab, _toasts


def _focus(events) -> list[str]:
    """The entries the handler's answer moves the focus to (a script focusing ``[data-entry=...]``)."""
    scripts = [_arguments(event).get("javascript_code") for event in events]
    found = [re.search(r'data-entry=\\"([^"\\]+)\\"', s._var_value) for s in scripts if s is not None]
    return [match.group(1) for match in found if match]


def _results() -> list[tuple[str, str | None, str]]:
    with hms_db.session_scope() as s:
        rows = s.execute(
            select(LabResult.entered_by, LabResult.flag, LabResult.status).order_by(LabResult.id)
        ).all()
    return [tuple(row) for row in rows]


def _line(tab, accession: str, code: str):
    return next(r for r in tab.rows if r.accession == accession and r.test_code == code)


async def test_results_are_entered_on_the_grid_and_verified_by_a_second_technician(session, configured_db):
    world = build_desk(session)
    routine = order(world, world.man, "2823-3", "2951-2")  # K and Na share one serum tube
    stat = order(world, world.woman, "2823-3", priority="stat")
    urine = order(world, world.child, "20454-5")  # a coded result: Negative|Trace|1+...
    waiting = order(world, world.child, "2951-2", collect=False)
    for placed in (routine, stat, urine):
        receive(world, placed)

    lara = _tab(WorklistState, "/lab", "lara")
    await _call(lara, "load")
    assert lara.view == "open"
    assert [(r.accession, r.test, r.stat) for r in lara.rows] == [
        (stat.accessions[0], "K", True),
        (routine.accessions[0], "K", False),
        (routine.accessions[0], "Na", False),
        (urine.accessions[0], "U prot", False),
    ]
    assert lara.queue_counts == {"collect": 1, "open": 4, "to_verify": 0} and lara.stat_open == 1
    assert all(r.enterable for r in lara.rows)
    assert lara.rows[0].next_input == f"result-{lara.rows[1].order_id}"
    assert lara.rows[-1].next_input == ""
    urine_line = lara.rows[-1]
    assert (urine_line.kind, urine_line.choices[:3]) == ("coded", ["Negative", "Trace", "1+"])

    # Search by MRN, then by accession; the other queues.
    await _call(lara, "search", lara.rows[0].mrn)
    assert [r.accession for r in lara.rows] == [stat.accessions[0]]
    await _call(lara, "search", "")
    await _call(lara, "set_view", "collect")
    assert [(r.accession, r.enterable) for r in lara.rows] == [(waiting.accessions[0], False)]
    await _call(lara, "set_priority", "stat")
    assert lara.rows == []
    await _call(lara, "set_priority", "any")
    await _call(lara, "set_view", "open")

    # A value that is not a number stays on its row with the service's message; the focus stays.
    stat_k = _line(lara, stat.accessions[0], "2823-3")
    events = await _call(lara, "enter", {"order_id": str(stat_k.order_id), "value": "high"})
    assert "number" in lara.row_errors[str(stat_k.order_id)]
    assert _focus(events) == [stat_k.input_id] and _results() == []

    # A critical potassium: saved, flagged HH, the clinician alerted, the focus on the next row.
    events = await _call(lara, "enter", {"order_id": str(stat_k.order_id), "value": "6.9"})
    assert str(stat_k.order_id) not in lara.row_errors
    assert any("Critical K 6.9 mmol/L" in t for t in _toasts(events))
    assert _focus(events) == [stat_k.next_input]
    assert [(e.test, e.value, e.flag) for e in lara.recent] == [("K", "6.9 mmol/L", "HH")]
    assert stat_k.order_id not in {r.order_id for r in lara.rows}  # it left "In lab"
    assert lara.queue_counts["to_verify"] == 1 and lara.stat_open == 0
    with hms_db.session_scope() as s:
        assert s.execute(select(CriticalAlert.summary)).scalars().all() != []

    # Enter through the routine tube; the coded urine protein is saved when chosen.
    k = _line(lara, routine.accessions[0], "2823-3")
    await _call(lara, "enter", {"order_id": str(k.order_id), "value": "3.2"})
    na = _line(lara, routine.accessions[0], "2951-2")
    events = await _call(lara, "enter", {"order_id": str(na.order_id), "value": "140"})
    assert _focus(events) == [urine_line.input_id]
    await _call(lara, "choose", urine_line.order_id, "Nonsense")
    assert "Choose one of" in lara.row_errors[str(urine_line.order_id)]
    await _call(lara, "choose", urine_line.order_id, "1+")
    assert lara.rows == [] and lara.queue_counts["to_verify"] == 4
    assert [(e.test, e.flag) for e in lara.recent] == [("U prot", "A"), ("Na", "N"), ("K", "L"), ("K", "HH")]
    # A row that has gone (or was never shown) cannot be entered by id.
    events = await _call(lara, "enter", {"order_id": str(na.order_id), "value": "141"})
    assert any("no longer waiting for a result here" in t for t in _toasts(events))

    # Lara cannot verify what she entered: the server's message, nothing released.
    await _call(lara, "set_view", "to_verify")
    assert [r.mine for r in lara.rows] == [True] * 4 and not any(r.enterable for r in lara.rows)
    await _call(lara, "tick", lara.rows[0].result_id, True)
    events = await _call(lara, "verify")
    assert any("You entered one of these results yourself" in t for t in _toasts(events))
    assert {status for _, _, status in _results()} == {"preliminary"}

    # Leo verifies all four; Lara's tab sees it on its next live refresh.
    leo = _tab(WorklistState, "/lab", "leo")
    await _call(leo, "load")
    await _call(leo, "set_view", "to_verify")
    assert [r.mine for r in leo.rows] == [False] * 4
    await _call(leo, "tick_all", True)
    assert sorted(leo.selected) == sorted(r.result_id for r in leo.rows) and leo.all_selected
    events = await _call(leo, "verify")
    assert any("4 results verified and released." in t for t in _toasts(events))
    assert leo.rows == [] and leo.selected == []
    assert {status for _, _, status in _results()} == {"final"}
    before = lara.version
    live.hub().delivered += 1  # the notice of Leo's release reaches Lara's tab
    await _call(lara, "refresh")
    assert lara.rows == [] and lara.selected == [] and lara.version == before + 1


async def test_roles_without_the_permission_are_refused(session, configured_db):
    world = build_desk(session)
    placed = order(world, world.man, "2823-3")
    receive(world, placed)

    # A nurse reads the worklist but enters and verifies nothing.
    nina = _tab(WorklistState, "/lab", "nina")
    await _call(nina, "load")
    line = nina.rows[0]
    assert line.accession == placed.accessions[0]
    events = await _call(nina, "enter", {"order_id": str(line.order_id), "value": "4.0"})
    assert any("Your role does not allow this" in t for t in _toasts(events))
    assert _results() == []

    lara = _tab(WorklistState, "/lab", "lara")
    await _call(lara, "load")
    await _call(lara, "enter", {"order_id": str(lara.rows[0].order_id), "value": "4.0"})
    await _call(nina, "set_view", "to_verify")
    events = await _call(nina, "tick_all", True)
    assert any("Your role does not allow this" in t for t in _toasts(events)) and nina.selected == []
    events = await _call(nina, "verify")
    assert any("Your role does not allow this" in t for t in _toasts(events))

    # A receptionist and an administrator see no worklist at all.
    for username in ("rita", "ada"):
        tab = _tab(WorklistState, "/lab", username)
        events = await _call(tab, "load")
        assert tab.rows == [] and any("Your role does not allow this" in t for t in _toasts(events))
    assert [status for _, _, status in _results()] == ["preliminary"]
