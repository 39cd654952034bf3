"""The MAR screen (/patients/[patient_id]/mar) driven as a nurse's tab would: it shows the patient's
inpatient order with its dose due now, opens the record dialog only for a dose it shows, keeps the
dialog open with the wristband's field message when the wrong patient's band is scanned, and shows
the dose given once the right band and medicine are scanned. Attacker cases: an order or dose time
the tab does not show, another patient's order, and a receptionist calling the handlers by name get
refusals and write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.patients import Patient
from hms_app.models.pharmacy import MedicationAdministration
from hms_app.services import accounts
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.pharmacy.verification import verify_order
from hms_app.state.mar import MarState
from tests.services.dispensing_world import PASSWORD, build_dispense_world, signed_order
from tests.services.pharmacy_world import engine  # noqa: F401 - the fixture
from tests.state.lab_desk_world import quiet  # noqa: F401  (autouse: quick hashes, no notices)
from tests.state.test_patients_state import _call, _toasts
from tests.state.test_pharmacy_queue_state import _tab


@pytest.fixture
def world(session, engine):  # noqa: F811
    world = build_dispense_world(session)
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="rita",
        display_name="Rita",
        password=PASSWORD,
        roles=["receptionist"],
    )
    session.commit()
    return world


def stat_dose(session, world, patient_id: int) -> int:
    """A verified inpatient paracetamol 1 g once, now: one dose, due now."""
    order_id = signed_order(
        session, world, patient_id=patient_id, setting="inpatient", frequency="once", duration_days="1"
    )
    verify_order(session, actor=world.pharmacist, order_id=order_id)
    return order_id


def charted() -> int:
    with hms_db.session_scope() as s:
        return s.execute(select(func.count(MedicationAdministration.id))).scalar_one()


def mrn(patient_id: int) -> str:
    with hms_db.session_scope() as s:
        return s.get(Patient, patient_id).mrn


async def test_a_nurse_scans_and_records_the_dose_due(session, world):
    order_id = stat_dose(session, world, world.rx.man)
    other_order = stat_dose(session, world, world.rx.woman)
    tab = _tab(MarState, f"/patients/{world.rx.man}/mar", "nurse.pw")
    await _call(tab, "load")
    assert tab.problem == "" and [row.order_id for row in tab.rows] == [order_id]
    (due,) = [cell for cell in tab.rows[0].cells if cell.state]
    assert due.state == "due" and tab.due == 1

    # Ids the tab does not show: another patient's order, a dose time it does not show.
    for args in ((other_order, due.key), (order_id, "2026-01-01T08:00:00+00:00"), ("x", due.key)):
        events = await _call(tab, "open_dose", *args)
        assert _toasts(events) and not tab.dialog_open
    await _call(tab, "record", {"wristband": mrn(world.rx.man)})  # no dialog open: nothing happens
    assert charted() == 0

    await _call(tab, "open_dose", order_id, due.key)
    assert tab.dialog_open and tab.dialog_dose == "1" and tab.dialog_route == "oral"
    form = {"wristband": mrn(world.rx.woman), "medicine": "RX-APAP-500-TAB", "dose": "1", "route": "oral"}
    await _call(tab, "record", form)
    assert tab.dialog_open and tab.dialog_error_field == "wristband" and "Wrong patient" in tab.dialog_error
    assert charted() == 0

    await _call(tab, "record", {**form, "wristband": mrn(world.rx.man)})
    assert not tab.dialog_open and charted() == 1
    (given,) = [cell for cell in tab.rows[0].cells if cell.state]
    assert given.state == "given" and "nurse.pw" in given.title
    assert [entry.outcome for entry in tab.entries] == ["given"]


async def test_a_receptionist_calling_the_handlers_by_name_is_refused(session, world):
    order_id = stat_dose(session, world, world.rx.man)
    nurse = _tab(MarState, f"/patients/{world.rx.man}/mar", "nurse.pw")
    await _call(nurse, "load")
    key = next(cell.key for cell in nurse.rows[0].cells if cell.state)

    tab = _tab(MarState, f"/patients/{world.rx.man}/mar", "rita")
    events = await _call(tab, "load")
    assert _toasts(events) and tab.rows == []
    tab.rows = nurse.rows  # even with the rows forged into its state
    await _call(tab, "open_dose", order_id, key)
    assert not tab.dialog_open
    tab._order_id, tab._scheduled = order_id, key
    form = {"wristband": mrn(world.rx.man), "medicine": "RX-APAP-500-TAB", "dose": "1", "route": "oral"}
    await _call(tab, "record", form)
    assert charted() == 0


async def test_an_address_that_names_no_patient(session, world):
    tab = _tab(MarState, "/patients/999999/mar", "nurse.pw")
    await _call(tab, "load")
    assert tab.loaded and "does not exist" in tab.problem
    tab = _tab(MarState, "/patients/abc/mar", "nurse.pw")
    await _call(tab, "load")
    assert "does not name a patient" in tab.problem
