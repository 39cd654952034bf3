"""The pharmacy queue (/pharmacy) driven as browser tabs would: a pharmacist reviews a signed
order (the alerts and override reasons at signing), verifies it, sees the lots before dispensing
part of it, finds it owed, dispenses the rest, prints, returns; a second tab sees the change on its
next live refresh. Attacker cases: ids the tab does not show, malformed ids and forms, and roles
without the permissions (a nurse, a receptionist) get refusals and change nothing."""

from __future__ import annotations

import pytest
import reflex as rx
from reflex import constants
from sqlalchemy import func, select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.pharmacy import MedicationDispense, MedicationVerification
from hms_app.services import accounts, security
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.dispensary.controlled import RegisterState
from hms_app.state.dispensary.label import DispenseLabelState
from hms_app.state.dispensary.queue import PharmacyQueueState
from tests.services.dispensing_world import PASSWORD, build_dispense_world, morphine_order, signed_order
from tests.services.pharmacy_world import engine  # noqa: F401 - the fixture
from tests.state.lab_desk_world import quiet  # noqa: F401  (autouse: quick hashes, no notices)
from tests.state.test_patients_state import _call, _toasts


def _tab(cls, path: str, username: str, password: str = PASSWORD):
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
    with hms_db.session_scope() as s:
        state.auth_token = security.sign_in(s, username=username, password=password).token
    return state


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


def _count(model) -> int:
    with hms_db.session_scope() as s:
        return s.execute(select(func.count(model.id))).scalar_one()


async def test_a_pharmacist_verifies_dispenses_part_then_the_rest_and_returns(session, world):
    order_id = signed_order(session, world)
    other = signed_order(session, world, patient_id=world.rx.woman)
    tab = _tab(PharmacyQueueState, "/pharmacy", "pharm.two")
    await _call(tab, "load")
    assert tab.view == "verify" and {r.order_id for r in tab.rows} == {order_id, other}
    assert tab.counts == {"verify": 2, "dispense": 0}
    watcher = _tab(PharmacyQueueState, "/pharmacy", "pharm.two")
    await _call(watcher, "load")

    await _call(tab, "open_verify", order_id)
    assert tab.verify_open and tab.v_sig == "1 g oral QID for 5 days" and tab.v_quantity == "40 tablets"
    answer = await type(tab).event_handlers["verify"].fn(tab)  # Reflex refuses a None among events
    assert answer and None not in answer
    assert not tab.verify_open and [r.order_id for r in tab.rows] == [other]
    await _call(watcher, "refresh")
    assert [r.order_id for r in watcher.rows] == [other]

    await _call(tab, "set_view", "dispense")
    assert [(r.order_id, r.owed) for r in tab.rows] == [(order_id, 40)]
    await _call(tab, "open_dispense", order_id)
    assert [(lot.lot, lot.quantity) for lot in tab.d_lots] == [("PCM-SOON", 30), ("PCM-LATE", 10)]
    await _call(tab, "set_quantity", "15")
    assert tab.d_quantity == 15 and [(lot.lot, lot.quantity) for lot in tab.d_lots] == [("PCM-SOON", 15)]
    await _call(tab, "set_quantity", "99")
    assert "Only 40 tablets of" in tab.d_error
    await _call(tab, "dispense", {"quantity": "15", "witness_username": "", "witness_password": ""})
    assert not tab.dispense_open and tab.last_dispense_id > 0
    assert [(r.order_id, r.dispensed, r.owed) for r in tab.rows] == [(order_id, 15, 25)]
    await _call(tab, "open_dispense", order_id)
    await _call(tab, "dispense", {"quantity": ""})
    assert tab.rows == []

    await _call(tab, "set_view", "today")
    assert [r.quantity for r in tab.rows] == ["25 tablets", "15 tablets"]
    first = tab.rows[-1]
    label = _tab(DispenseLabelState, f"/pharmacy/dispensed/{first.dispense_id}/label", "pharm.two")
    await _call(label, "load")
    assert label.problem == "" and label.quantity == "15 tablets" and label.owed == "25 tablets still owed"
    assert label.lots == [f"Lot PCM-SOON, expires {world_soon():%d %b %Y} (15)"]

    await _call(tab, "open_return", first.dispense_id)
    await _call(tab, "return_stock", {"quantity": "16", "reason": "Unused"})
    assert tab.return_open and "Only 15 tablets of" in tab.r_error
    await _call(tab, "return_stock", {"quantity": "5", "reason": "Unused"})
    assert not tab.return_open and tab.rows[-1].quantity == "15 tablets (5 returned)"


def world_soon():
    from tests.services.dispensing_world import SOON

    return SOON


async def test_overrides_must_be_ticked_and_send_back_shows_its_message(session, world):
    order_id = signed_order(session, world)
    tab = _tab(PharmacyQueueState, "/pharmacy", "pharm.two")
    await _call(tab, "load")
    await _call(tab, "open_verify", order_id)
    await _call(tab, "send_back", {"reason": ""})
    assert tab.verify_open and "reason is required" in tab.v_error
    await _call(tab, "send_back", {"reason": "Dose too high for age"})
    assert not tab.verify_open and tab.rows == []
    with hms_db.session_scope() as s:
        assert s.execute(select(MedicationVerification.outcome)).scalars().all() == ["returned"]


async def test_a_controlled_dispense_on_screen_needs_the_witness(session, world):
    order_id = morphine_order(session, world)
    tab = _tab(PharmacyQueueState, "/pharmacy", "pharm.two")
    await _call(tab, "load")
    await _call(tab, "open_verify", order_id)
    await _call(tab, "verify")
    await _call(tab, "set_view", "dispense")
    await _call(tab, "open_dispense", order_id)
    assert tab.d_controlled
    await _call(
        tab, "dispense", {"quantity": "1", "witness_username": "pharm.two", "witness_password": PASSWORD}
    )
    assert tab.dispense_open and "someone other than" in tab.d_error and _count(MedicationDispense) == 0
    # pharm.rx (the rx world's pharmacist) has no password: make one a witness through a real account.
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="pharm.three",
        display_name="P3",
        password=PASSWORD,
        roles=["pharmacist"],
    )
    session.commit()
    await _call(
        tab, "dispense", {"quantity": "1", "witness_username": "pharm.three", "witness_password": PASSWORD}
    )
    assert not tab.dispense_open and _count(MedicationDispense) == 1
    register = _tab(RegisterState, "/pharmacy/controlled", "pharm.two")
    await _call(register, "load")
    assert [
        (line["kind"], line["quantity"], line["balance"], line["witness"]) for line in register.lines
    ] == [("Dispensed", "-1", "9", "pharm.three")]
    events = await _call(register, "set_product", "99999")
    assert any("Choose a controlled product" in t for t in _toasts(events))


async def test_ids_the_tab_does_not_show_and_malformed_input_are_refused(session, world):
    shown = signed_order(session, world)
    tab = _tab(PharmacyQueueState, "/pharmacy", "pharm.two")
    await _call(tab, "load")
    hidden = signed_order(session, world, patient_id=world.rx.woman)  # signed after the tab loaded
    for bad in (hidden, "1 OR 1=1", -1, True, None, [shown]):
        events = await _call(tab, "open_verify", bad)
        assert _toasts(events) and not tab.verify_open
    for bad in (shown, "x"):
        events = await _call(tab, "open_dispense", bad)  # not in the dispense list (not verified)
        assert _toasts(events) and not tab.dispense_open
    events = await _call(tab, "open_return", 12345)
    assert _toasts(events) and not tab.return_open
    # Handlers of a closed dialog do nothing, whatever the form says.
    await _call(tab, "verify")
    await _call(tab, "dispense", {"quantity": "40"})
    await _call(tab, "send_back", "not a form")
    events = await _call(tab, "set_view", "everything")
    assert _toasts(events) and tab.view == "verify"
    assert _count(MedicationVerification) == 0 and _count(MedicationDispense) == 0


@pytest.mark.parametrize(("username", "password"), [("nurse.pw", PASSWORD), ("rita", PASSWORD)])
async def test_roles_without_pharmacy_permissions_are_refused(session, world, username, password):
    order_id = signed_order(session, world)
    pharmacist = _tab(PharmacyQueueState, "/pharmacy", "pharm.two")
    await _call(pharmacist, "load")
    tab = _tab(PharmacyQueueState, "/pharmacy", username, password)
    events = await _call(tab, "load")
    assert tab.rows == [] and _toasts(events)
    tab.rows = pharmacist.rows  # even with the row on screen, the server refuses
    for name, args in (
        ("open_verify", (order_id,)),
        ("verify", ()),
        ("open_dispense", (order_id,)),
        ("dispense", ({"quantity": "1"},)),
        ("open_return", (1,)),
    ):
        events = await _call(tab, name, *args)
        assert any("Your role does not allow this" in t for t in _toasts(events)), name
    assert not tab.verify_open and not tab.dispense_open
    label = _tab(DispenseLabelState, "/pharmacy/dispensed/1/label", username, password)
    events = await _call(label, "load")
    assert label.product == "" and any("Your role does not allow this" in t for t in _toasts(events))
    assert _count(MedicationVerification) == 0 and _count(MedicationDispense) == 0
