"""Specimen reception (/lab/reception) driven as a browser tab would: the list of specimens on their
way (STAT first), a scan that receives one (and scans that cannot), the rejection dialog with each
field's message, and the refusals of roles that do not receive specimens."""

from __future__ import annotations

from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.laboratory import Specimen
from hms_app.models.security import AuditEvent
from hms_app.state.laboratory.reception import ReceptionState
from tests.state.lab_desk_world import build_desk, order, quiet  # noqa: F401  (quiet: an autouse fixture)
from tests.state.test_patients_state import _call, _tab, _toasts


def _status(accession: str) -> str:
    with hms_db.session_scope() as s:
        return s.execute(select(Specimen.status).where(Specimen.accession == accession)).scalar_one()


async def test_a_technician_scans_specimens_in_and_rejects_one(session, configured_db):
    world = build_desk(session)
    routine = order(world, world.man, "2823-3")
    stat = order(world, world.woman, "2951-2", priority="stat")
    pending = order(world, world.child, "2823-3", collect=False)

    tab = _tab(ReceptionState, "/lab/reception", "lara")
    await _call(tab, "load")
    # Collected specimens only, the STAT one first although it was collected last.
    assert [(r.accession, r.priority, r.waiting) for r in tab.waiting_rows] == [
        (stat.accessions[0], "stat", True),
        (routine.accessions[0], "routine", True),
    ]
    assert tab.waiting_rows[0].patient_name == "FRAU, Eve" and tab.waiting_rows[0].tests == "Na"
    assert tab.handled_rows == []

    # Scans that cannot receive anything say why, change nothing, and keep the focus in the box.
    events = await _call(tab, "scan", {"scan": "S-99999999"})
    assert not tab.last.ok and tab.last.text == "No specimen has the label S-99999999."
    assert any("No specimen has the label" in t for t in _toasts(events))
    await _call(tab, "scan", {"scan": pending.accessions[0]})
    assert tab.last.text == f"Specimen {pending.accessions[0]} has not been collected yet."
    assert _status(pending.accessions[0]) == "pending"

    # The scanner types the accession (lower case, with a stray space) and Enter.
    await _call(tab, "scan", {"scan": f" {stat.accessions[0].lower()} "})
    assert tab.last.ok and tab.last.accession == stat.accessions[0]
    assert tab.last.text.startswith("STAT · FRAU, Eve") and tab.last.text.endswith("· Na")
    assert _status(stat.accessions[0]) == "received"
    assert [r.accession for r in tab.waiting_rows] == [routine.accessions[0]]
    assert [(r.accession, r.status_label) for r in tab.handled_rows] == [(stat.accessions[0], "Received")]
    assert tab.received_here == 1
    await _call(tab, "scan", {"scan": stat.accessions[0]})
    assert tab.last.text == f"Specimen {stat.accessions[0]} was already received."

    # Rejecting the routine one: the reason is required, the note is kept short.
    await _call(tab, "open_reject", tab.waiting_rows[0].id)
    assert tab.dialog_open and tab.rejecting.accession == routine.accessions[0]
    await _call(tab, "submit_reject", {"reason": "", "note": "x"})
    assert tab.field_errors == {"reason": "Choose why the specimen is rejected."} and tab.dialog_open
    await _call(tab, "submit_reject", {"reason": "haemolysed", "note": "n" * 301})
    assert tab.field_errors == {"note": "The note can be at most 300 characters long."}
    events = await _call(tab, "submit_reject", {"reason": "haemolysed", "note": "Pink serum"})
    assert not tab.dialog_open
    toast = next(t for t in _toasts(events) if "rejected" in t)
    assert f"{routine.accessions[0]} rejected (haemolysed): a new sample S-" in toast
    assert _status(routine.accessions[0]) == "rejected"
    rejected = next(r for r in tab.handled_rows if r.accession == routine.accessions[0])
    assert (rejected.status, rejected.reason, rejected.rejectable) == ("rejected", "Haemolysed", False)
    assert tab.waiting_rows == []
    # A rejected specimen cannot be opened for rejection again.
    events = await _call(tab, "open_reject", rejected.id)
    assert not tab.dialog_open and any("can no longer be rejected" in t for t in _toasts(events))


async def test_roles_that_do_not_receive_specimens_are_refused(session, configured_db):
    world = build_desk(session)
    placed = order(world, world.man, "2823-3")
    for username in ("nina", "rita", "ada"):
        tab = _tab(ReceptionState, "/lab/reception", username)
        events = await _call(tab, "load")
        assert tab.rows == [] and any("Your role does not allow this" in t for t in _toasts(events))
        await _call(tab, "scan", {"scan": placed.accessions[0]})
        assert not tab.last.ok and tab.last.text == ""
    assert _status(placed.accessions[0]) == "collected"
    with hms_db.session_scope() as s:
        denied = s.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "access.denied").order_by(AuditEvent.id)
        ).scalars()
        assert "ReceptionState.scan needs lab.work" in list(denied)
