"""Dispensing as a pharmacist, the stores and billing see it: a verified order is dispensed from the
pharmacy first expiry first out, the stock, the charge and the dispense are written together or not
at all, a partial dispense leaves the rest owed, a return puts stock back and lowers the charge, a
controlled drug is written in the register with its running balance and a real second witness,
two pharmacists cannot both take the last stock, and other roles are refused."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, func, select, update
from sqlmodel import Session

from hms_app import db as hms_db
from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.billing import ChargeItem, ChargeItemDefinition
from hms_app.models.inventory import StockBalance, StockLot, StockMove
from hms_app.models.pharmacy import ControlledDrugRegister, MedicationDispense
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services.inventory.balances import balance_mismatches, negative_balances
from hms_app.services.pharmacy.dispense_views import dispense_label, dispensed_on, to_dispense
from hms_app.services.pharmacy.dispensing import dispense_order, plan_dispense, return_dispense
from hms_app.services.pharmacy.register import register_lines
from hms_app.services.pharmacy.verification import send_back_order, verify_order
from tests.services.dispensing_world import (
    LATER,
    PASSWORD,
    SOON,
    build_dispense_world,
    morphine_order,
    signed_order,
)
from tests.services.pharmacy_world import engine  # noqa: F401 - the fixture


@pytest.fixture
def world(session, engine):  # noqa: F811
    return build_dispense_world(session)


def verified(session, world, order_id: int) -> int:
    verify_order(session, actor=world.pharmacist, order_id=order_id)
    return order_id


def held(session, world, lot_number: str) -> int:
    session.expire_all()
    return session.execute(
        select(StockBalance.quantity)
        .join(StockLot, StockLot.id == StockBalance.lot_id)
        .where(StockLot.lot_number == lot_number, StockBalance.location_id == world.store)
    ).scalar_one()


def charges(session) -> list[tuple[int, str]]:
    session.expire_all()
    return [
        (c.quantity, c.status)
        for c in session.execute(select(ChargeItem).where(ChargeItem.source_type == "stock")).scalars()
    ]


def test_a_dispense_takes_the_first_expiring_lot_first_and_charges_once(session, world):
    order_id = verified(session, world, signed_order(session, world))
    plan = plan_dispense(session, actor=world.pharmacist, order_id=order_id)
    assert (plan.quantity, plan.owed, plan.unit, plan.location, plan.short) == (
        40,
        40,
        "tablet",
        "Main pharmacy",
        False,
    )
    assert [(lot.lot_number, lot.expiry_date, lot.quantity) for lot in plan.lots] == [
        ("PCM-SOON", SOON, 30),
        ("PCM-LATE", LATER, 10),
    ]
    dispense = dispense_order(session, actor=world.pharmacist, order_id=order_id)
    assert (held(session, world, "PCM-SOON"), held(session, world, "PCM-LATE")) == (0, 90)
    assert charges(session) == [(40, "open")]
    label = dispense_label(session, actor=world.pharmacist, dispense_id=dispense.id)
    assert (label.sig, label.product) == (
        "1 g oral QID for 5 days",
        "Paracetamol (acetaminophen) 500 mg tablet",
    )
    assert (label.quantity, label.unit, label.owed, label.store) == (40, "tablet", 0, "Main pharmacy")
    assert [(lot.lot_number, lot.expiry_date, lot.quantity) for lot in label.lots] == [
        ("PCM-SOON", SOON, 30),
        ("PCM-LATE", LATER, 10),
    ]
    assert label.order_reference.startswith("RX-") and label.reference == "DSP-000001"
    assert label.patient.startswith("WARFARIN, Walter")
    assert to_dispense(session, actor=world.pharmacist) == []
    assert [r.dispense_id for r in dispensed_on(session, actor=world.pharmacist)] == [dispense.id]
    assert balance_mismatches(session) == [] and negative_balances(session) == 0


def test_only_verified_active_orders_are_dispensed(session, world):
    waiting = signed_order(session, world)
    with pytest.raises(Conflict, match="is not verified yet"):
        dispense_order(session, actor=world.pharmacist, order_id=waiting)
    session.rollback()
    send_back_order(session, actor=world.pharmacist, order_id=waiting, reason="Wrong patient weight")
    with pytest.raises(Conflict, match="sent back to the prescriber"):
        dispense_order(session, actor=world.pharmacist, order_id=waiting)
    session.rollback()
    assert session.execute(select(func.count(MedicationDispense.id))).scalar_one() == 0


def test_a_failing_charge_leaves_no_dispense_and_no_stock_move(session, world):
    order_id = verified(session, world, signed_order(session, world))
    session.execute(
        update(ChargeItemDefinition).where(ChargeItemDefinition.code == "DRUG-PCM-TAB").values(active=False)
    )
    session.commit()
    moves_before = session.execute(select(func.count(StockMove.id))).scalar_one()
    with pytest.raises(ValidationError, match="no active service with the code DRUG-PCM-TAB"):
        dispense_order(session, actor=world.pharmacist, order_id=order_id)
    session.rollback()
    assert session.execute(select(func.count(StockMove.id))).scalar_one() == moves_before
    assert session.execute(select(func.count(MedicationDispense.id))).scalar_one() == 0
    assert (held(session, world, "PCM-SOON"), held(session, world, "PCM-LATE")) == (30, 100)
    assert charges(session) == []
    assert session.execute(select(AuditEvent).where(AuditEvent.action == "pharmacy.dispense")).first() is None


def test_a_partial_dispense_leaves_the_rest_owed_until_supplied(session, world):
    order_id = verified(session, world, signed_order(session, world))
    first = dispense_order(session, actor=world.pharmacist, order_id=order_id, quantity="15")
    [owed] = to_dispense(session, actor=world.pharmacist)
    assert (owed.order.order_id, owed.dispensed, owed.owed) == (order_id, 15, 25)
    with pytest.raises(ValidationError, match="Only 25 tablets of RX-.* are still owed"):
        dispense_order(session, actor=world.pharmacist, order_id=order_id, quantity=26)
    session.rollback()
    for bad in ("0", "-2", "two", "1.5"):
        with pytest.raises(ValidationError):
            dispense_order(session, actor=world.pharmacist, order_id=order_id, quantity=bad)
        session.rollback()
    second = dispense_order(session, actor=world.pharmacist, order_id=order_id)
    assert (first.quantity, second.quantity) == (15, 25)
    assert to_dispense(session, actor=world.pharmacist) == []
    with pytest.raises(Conflict, match="dispensed in full"):
        dispense_order(session, actor=world.pharmacist, order_id=order_id)
    session.rollback()
    rows = dispensed_on(session, actor=world.pharmacist)
    assert [(r.quantity, r.owed) for r in rows] == [(25, 0), (15, 0)]
    assert charges(session) == [(15, "open"), (25, "open")]


def test_a_return_puts_stock_back_latest_expiry_first_and_lowers_the_charge(session, world):
    order_id = verified(session, world, signed_order(session, world))
    dispense = dispense_order(session, actor=world.pharmacist, order_id=order_id)
    with pytest.raises(ValidationError, match="Say why"):
        return_dispense(session, actor=world.pharmacist, dispense_id=dispense.id, quantity=5, reason="")
    session.rollback()
    return_dispense(
        session, actor=world.pharmacist, dispense_id=dispense.id, quantity=35, reason="Discharged early"
    )
    assert (held(session, world, "PCM-SOON"), held(session, world, "PCM-LATE")) == (25, 100)
    assert charges(session) == [(5, "open")]
    with pytest.raises(ValidationError, match="Only 5 tablets of"):
        return_dispense(session, actor=world.pharmacist, dispense_id=dispense.id, quantity=6, reason="Unused")
    session.rollback()
    return_dispense(session, actor=world.pharmacist, dispense_id=dispense.id, quantity=5, reason="Unused")
    assert charges(session) == [(5, "void")]
    assert session.get(MedicationDispense, dispense.id).returned == 40
    assert balance_mismatches(session) == [] and negative_balances(session) == 0


def test_a_controlled_drug_needs_a_real_second_witness(session, world):
    order_id = verified(session, world, morphine_order(session, world))
    attempts = [
        ({}, "needs a witness"),
        ({"witness_username": "pharm.rx", "witness_password": PASSWORD}, "someone other than"),
        (
            {"witness_username": "pharm.two", "witness_password": "wrong-1234"},
            "username or password is not right",
        ),
        ({"witness_username": "nobody", "witness_password": PASSWORD}, "username or password is not right"),
        ({"witness_username": "nurse.pw", "witness_password": PASSWORD}, "may not dispense"),
    ]
    for extra, message in attempts:
        with pytest.raises(ValidationError, match=message):
            dispense_order(session, actor=world.pharmacist, order_id=order_id, quantity=2, **extra)
        session.rollback()
    assert session.execute(select(func.count(MedicationDispense.id))).scalar_one() == 0
    assert session.execute(select(func.count(ControlledDrugRegister.id))).scalar_one() == 0
    assert held(session, world, "MOR-1") == 10
    witness = session.get(AppUser, world.witness.user_id)
    assert witness.failed_attempts == 1  # the wrong password counts towards the witness's lock-out
    dispense = dispense_order(
        session,
        actor=world.pharmacist,
        order_id=order_id,
        quantity=2,
        witness_username="PHARM.TWO",
        witness_password=PASSWORD,
    )
    assert (dispense.witness, dispense.dispensed_by) == ("pharm.two", "pharm.rx")


def test_the_register_keeps_a_running_balance_per_product_and_store(session, world):
    order_id = verified(session, world, morphine_order(session, world))
    witness = {"witness_username": "pharm.two", "witness_password": PASSWORD}
    first = dispense_order(session, actor=world.pharmacist, order_id=order_id, quantity=2, **witness)
    dispense_order(session, actor=world.pharmacist, order_id=order_id, quantity=1, **witness)
    with pytest.raises(ValidationError, match="needs a witness"):
        return_dispense(
            session, actor=world.pharmacist, dispense_id=first.id, quantity=1, reason="Dose not given"
        )
    session.rollback()
    return_dispense(
        session, actor=world.pharmacist, dispense_id=first.id, quantity=1, reason="Dose not given", **witness
    )
    lines = list(reversed(register_lines(session, actor=world.pharmacist)))
    assert [(line.kind, line.quantity, line.balance) for line in lines] == [
        ("dispense", -2, 8),
        ("dispense", -1, 7),
        ("return", 1, 8),
    ]
    assert {(line.recorded_by, line.witness, line.store) for line in lines} == {
        ("pharm.rx", "pharm.two", "Main pharmacy")
    }
    assert lines[0].lots == f"MOR-1 (exp {LATER.isoformat()}) x 2" and lines[2].reason == "Dose not given"
    assert lines[-1].balance == held(session, world, "MOR-1")
    # Non-controlled dispenses write no register line.
    verified_pcm = verified(session, world, signed_order(session, world))
    dispense_order(session, actor=world.pharmacist, order_id=verified_pcm)
    assert len(register_lines(session, actor=world.pharmacist)) == 3
    with pytest.raises(Forbidden):
        register_lines(session, actor=world.rx.nurse)


@pytest.mark.parametrize("who", ["physician", "nurse", "receptionist"])
def test_other_roles_cannot_dispense_return_or_print(session, world, who):
    order_id = verified(session, world, signed_order(session, world))
    dispense = dispense_order(session, actor=world.pharmacist, order_id=order_id, quantity=10)
    actor = getattr(world.rx, who)
    for call in (
        lambda: plan_dispense(session, actor=actor, order_id=order_id),
        lambda: dispense_order(session, actor=actor, order_id=order_id),
        lambda: return_dispense(session, actor=actor, dispense_id=dispense.id, quantity=1, reason="Unused"),
        lambda: dispense_label(session, actor=actor, dispense_id=dispense.id),
        lambda: to_dispense(session, actor=actor),
        lambda: dispensed_on(session, actor=actor),
    ):
        with pytest.raises(Forbidden):
            call()
        session.rollback()
    assert session.execute(select(func.count(MedicationDispense.id))).scalar_one() == 1


def test_stores_other_than_ones_own_pharmacy_are_refused(session, world):
    order_id = verified(session, world, signed_order(session, world))
    with pytest.raises(ValidationError, match="not a pharmacy"):
        dispense_order(session, actor=world.pharmacist, order_id=order_id, location_id=world.ward_store)
    session.rollback()
    with pytest.raises(Forbidden, match="own department"):
        dispense_order(session, actor=world.other_pharmacist, order_id=order_id, location_id=world.store)
    session.rollback()
    with pytest.raises(ValidationError, match="Choose the pharmacy store"):
        dispense_order(session, actor=world.other_pharmacist, order_id=order_id)
    session.rollback()
    for bad in (10**9, "x", None):
        with pytest.raises((NotFound, ValidationError)):
            dispense_label(session, actor=world.pharmacist, dispense_id=bad)
    assert session.execute(select(func.count(MedicationDispense.id))).scalar_one() == 0


def _engine(url: str):
    if url.startswith("sqlite"):
        return hms_db.make_engine(url)
    return create_engine(url, pool_size=4, max_overflow=0)


def test_two_pharmacists_dispensing_the_last_stock_at_once_exactly_one_succeeds(
    configured_db, session, world
):
    # Two orders of 104 tablets; the pharmacy holds 130: each dispenses 100, only one can.
    orders = [
        verified(session, world, signed_order(session, world, duration_days="13", patient_id=patient))
        for patient in (world.rx.man, world.rx.woman)
    ]
    session.rollback()
    sqlite = configured_db.startswith("sqlite")
    engine_ = _engine(configured_db)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []
    lock = threading.Lock()

    def pharmacist(order_id: int, actor) -> None:
        with Session(engine_, expire_on_commit=False) as own:
            if not sqlite:
                own.connection()
            barrier.wait()
            try:
                dispense_order(own, actor=actor, order_id=order_id, quantity=100)
                result: object = "dispensed"
            except ValidationError as error:
                own.rollback()
                result = str(error)
            except BaseException as error:  # noqa: BLE001 - anything else is the failure under test
                own.rollback()
                result = error
        with lock:
            outcomes.append(result)

    threads = [
        threading.Thread(target=pharmacist, args=(orders[0], world.pharmacist)),
        threading.Thread(target=pharmacist, args=(orders[1], world.witness)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engine_.dispose()
    assert sorted(outcomes, key=str) == [
        "Cannot issue 100 tablet: Main pharmacy holds only 30 tablet of Paracetamol 500 mg tablet (30 in lot PCM-LATE).",
        "dispensed",
    ]
    session.expire_all()
    assert session.execute(select(func.count(MedicationDispense.id))).scalar_one() == 1
    assert (held(session, world, "PCM-SOON"), held(session, world, "PCM-LATE")) == (0, 30)
    assert charges(session) == [(100, "open")]
    assert balance_mismatches(session) == [] and negative_balances(session) == 0
