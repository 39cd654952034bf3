"""The stock ledger: every kind of move keeps the balances equal to the ledger, stock never goes
below zero, issues take the first-expiring lot and never an expired one, a patient's issue is
charged with it, each store is worked only by those allowed to, and the ledger cannot be rewritten."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from hms_app.clock import local_today
from hms_app.errors import Forbidden, NotFound, ValidationError
from hms_app.models.billing import ChargeItem
from hms_app.models.inventory import StockBalance, StockItem, StockLot, StockMove
from hms_app.models.security import AuditEvent
from hms_app.services.inventory.balances import balance_mismatches, negative_balances, stock_on_hand
from hms_app.services.inventory.ledger import issue_stock, lots_on_hand, receive_stock
from hms_app.services.inventory.moves import adjust_stock, return_stock, transfer_stock, write_off_expired
from tests.services.inventory_world import build_world

SOON = local_today() + timedelta(days=30)
LATER = local_today() + timedelta(days=300)


@pytest.fixture
def world(session):
    return build_world(session)


def _balance(session, location_id: int, item_id: int) -> int:
    return session.execute(
        select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
            StockBalance.location_id == location_id, StockBalance.item_id == item_id
        )
    ).scalar_one()


def _receive(session, world, item, quantity, *, lot=None, expiry=None, location=None, cost=10):
    return receive_stock(
        session,
        actor=world.storekeeper,
        item_id=item,
        location_id=location or world.ward_store,
        quantity=quantity,
        lot_number=lot,
        expiry_date=expiry,
        unit_cost_cents=cost,
    )


def test_every_kind_of_move_keeps_the_balances_equal_to_the_ledger(session, world):
    _receive(session, world, world.syringe, 100, lot="A1", expiry=SOON, location=world.central)
    _receive(session, world, world.syringe, 40, lot="B2", expiry=LATER, location=world.central)
    _receive(session, world, world.gloves, 2, location=world.central)  # no pack: 2 each
    receive_stock(
        session,
        actor=world.storekeeper,
        item_id=world.gloves,
        location_id=world.central,
        quantity=3,
        pack="box",
    )
    transfer_stock(
        session,
        actor=world.storekeeper,
        item_id=world.syringe,
        from_location_id=world.central,
        to_location_id=world.ward_store,
        quantity=110,
    )
    issued = issue_stock(
        session,
        actor=world.nurse,
        item_id=world.syringe,
        location_id=world.ward_store,
        quantity=5,
        patient_id=world.patient,
    )
    issue_stock(
        session,
        actor=world.storekeeper,
        item_id=world.gloves,
        location_id=world.central,
        quantity=50,
        department_id=world.ward_department,
        reason="Ward top-up",
    )
    lot_a = session.execute(select(StockLot.id).where(StockLot.lot_number == "A1")).scalar_one()
    adjust_stock(
        session,
        actor=world.storekeeper,
        item_id=world.syringe,
        location_id=world.ward_store,
        lot_id=lot_a,
        change=-2,
        reason="Dropped on the floor",
    )
    adjust_stock(
        session,
        actor=world.storekeeper,
        item_id=world.syringe,
        location_id=world.ward_store,
        lot_id=lot_a,
        change=1,
        reason="Found behind the shelf",
    )
    return_stock(session, actor=world.nurse, move_id=issued[0].id, quantity=2, reason="Not needed")

    assert balance_mismatches(session) == []
    assert negative_balances(session) == 0
    assert _balance(session, world.central, world.gloves) == 302 - 50
    assert _balance(session, world.ward_store, world.syringe) == 110 - 5 - 2 + 1 + 2
    assert _balance(session, world.central, world.syringe) == 140 - 110
    kinds = set(session.execute(select(StockMove.kind)).scalars())
    assert kinds == {
        "receipt",
        "transfer_out",
        "transfer_in",
        "issue_patient",
        "issue_department",
        "adjustment",
        "return",
    }
    by_store = {
        row.location: row.quantity for row in stock_on_hand(session, actor=world.nurse, item_id=world.syringe)
    }
    assert by_store == {"Central store": 30, "Ward 3 store": 106}


def test_an_expiry_write_off_empties_the_expired_lot_and_the_ledger_still_agrees(session, world):
    _receive(session, world, world.paracetamol, 60, lot="OLD", expiry=local_today() + timedelta(days=1))
    lot = session.execute(select(StockLot).where(StockLot.lot_number == "OLD")).scalar_one()
    session.execute(
        StockLot.__table__.update()
        .where(StockLot.id == lot.id)
        .values(expiry_date=local_today() - timedelta(days=1))
    )
    session.commit()
    session.expire_all()
    move = write_off_expired(
        session,
        actor=world.storekeeper,
        location_id=world.ward_store,
        lot_id=lot.id,
        item_id=world.paracetamol,
    )
    assert move.quantity == -60 and move.kind == "expiry_writeoff"
    assert _balance(session, world.ward_store, world.paracetamol) == 0
    assert balance_mismatches(session) == []
    _receive(session, world, world.paracetamol, 10, lot="NEW", expiry=LATER)
    fresh = session.execute(select(StockLot.id).where(StockLot.lot_number == "NEW")).scalar_one()
    with pytest.raises(ValidationError, match="has not expired"):
        write_off_expired(
            session,
            actor=world.storekeeper,
            location_id=world.ward_store,
            lot_id=fresh,
            item_id=world.paracetamol,
        )


def test_issues_take_the_first_expiring_lot_first_and_span_lots(session, world):
    _receive(session, world, world.paracetamol, 30, lot="LATE", expiry=LATER)
    _receive(session, world, world.paracetamol, 20, lot="EARLY", expiry=SOON)
    moves = issue_stock(
        session,
        actor=world.nurse,
        item_id=world.paracetamol,
        location_id=world.ward_store,
        quantity=25,
        patient_id=world.patient,
    )
    taken = {session.get(StockLot, m.lot_id).lot_number: -m.quantity for m in moves}
    assert taken == {"EARLY": 20, "LATE": 5}
    assert [
        (lot.lot_number, lot.quantity) for lot in lots_on_hand(session, world.paracetamol, world.ward_store)
    ] == [("LATE", 25)]


def test_an_expired_lot_is_never_issued(session, world):
    _receive(session, world, world.paracetamol, 10, lot="GOOD", expiry=LATER)
    _receive(session, world, world.paracetamol, 50, lot="STALE", expiry=SOON)
    stale = session.execute(select(StockLot).where(StockLot.lot_number == "STALE")).scalar_one()
    session.execute(
        StockLot.__table__.update()
        .where(StockLot.id == stale.id)
        .values(expiry_date=local_today() - timedelta(days=2))
    )
    session.commit()
    session.expire_all()
    with pytest.raises(ValidationError, match="expired on .*cannot be issued"):
        issue_stock(
            session,
            actor=world.nurse,
            item_id=world.paracetamol,
            location_id=world.ward_store,
            quantity=1,
            lot_id=stale.id,
            patient_id=world.patient,
        )
    # First expiry first out skips the expired lot; asking for more than the good lot holds names both.
    with pytest.raises(ValidationError) as refused:
        issue_stock(
            session,
            actor=world.nurse,
            item_id=world.paracetamol,
            location_id=world.ward_store,
            quantity=11,
            patient_id=world.patient,
        )
    message = str(refused.value)
    assert "holds only 10 tablet" in message and "lot GOOD" in message
    assert "50 tablet more are expired and must be written off" in message
    assert _balance(session, world.ward_store, world.paracetamol) == 60  # nothing was taken
    assert session.execute(select(func.count()).select_from(ChargeItem)).scalar_one() == 0


def test_an_issue_larger_than_the_lot_is_refused_naming_what_is_there(session, world):
    _receive(session, world, world.syringe, 7, lot="S1", expiry=LATER)
    lot = session.execute(select(StockLot.id).where(StockLot.lot_number == "S1")).scalar_one()
    with pytest.raises(ValidationError, match=r"from lot S1: Ward 3 store holds 7 each"):
        issue_stock(
            session,
            actor=world.nurse,
            item_id=world.syringe,
            location_id=world.ward_store,
            quantity=8,
            lot_id=lot,
            patient_id=world.patient,
        )
    assert _balance(session, world.ward_store, world.syringe) == 7
    assert session.execute(select(func.count()).select_from(StockMove)).scalar_one() == 1


def test_a_patient_issue_posts_its_charge_in_the_same_transaction_and_a_return_lowers_it(session, world):
    _receive(session, world, world.syringe, 50, lot="C1", expiry=LATER)
    moves = issue_stock(
        session,
        actor=world.nurse,
        item_id=world.syringe,
        location_id=world.ward_store,
        quantity=4,
        patient_id=world.patient,
    )
    charge = session.execute(select(ChargeItem)).scalar_one()
    assert (charge.patient_id, charge.code, charge.quantity, charge.unit_price_cents) == (
        world.patient,
        "SUP-SYR",
        4,
        150,
    )
    assert (charge.source_type, charge.source_id, charge.entered_by) == ("stock", moves[0].id, "nurse.gen")
    return_stock(session, actor=world.nurse, move_id=moves[0].id, quantity=1, reason="Spare, unopened")
    session.refresh(charge)
    assert charge.quantity == 3 and charge.status == "open"
    return_stock(session, actor=world.nurse, move_id=moves[0].id, quantity=3, reason="Procedure cancelled")
    session.refresh(charge)
    assert charge.status == "void" and charge.void_reason == "Returned to stock"
    with pytest.raises(ValidationError, match="Only 0 each of that issue can come back"):
        return_stock(session, actor=world.nurse, move_id=moves[0].id, quantity=1, reason="Again")
    audit = session.execute(
        select(AuditEvent.action, AuditEvent.patient_id).where(AuditEvent.action.like("inventory.%"))
    ).all()
    assert ("inventory.issue_patient", world.patient) in audit
    assert ("inventory.return", world.patient) in audit


def test_a_failed_charge_leaves_the_stock_where_it_was(session, world):
    _receive(session, world, world.syringe, 10, lot="D1", expiry=LATER)
    session.execute(
        StockItem.__table__.update().where(StockItem.id == world.syringe).values(charge_code="GONE")
    )
    session.commit()
    with pytest.raises(ValidationError, match="no active service with the code GONE"):
        issue_stock(
            session,
            actor=world.nurse,
            item_id=world.syringe,
            location_id=world.ward_store,
            quantity=2,
            patient_id=world.patient,
        )
    session.rollback()
    assert _balance(session, world.ward_store, world.syringe) == 10
    assert balance_mismatches(session) == []


def test_each_store_is_worked_only_by_those_allowed(session, world):
    _receive(session, world, world.gloves, 20, location=world.other_ward_store)
    _receive(session, world, world.gloves, 20, location=world.ward_store)
    with pytest.raises(Forbidden, match="only issue from the stores of your own department"):
        issue_stock(
            session,
            actor=world.nurse,
            item_id=world.gloves,
            location_id=world.other_ward_store,
            quantity=1,
            patient_id=world.patient,
        )
    issue_stock(
        session,
        actor=world.cardio_nurse,
        item_id=world.gloves,
        location_id=world.other_ward_store,
        quantity=1,
        patient_id=world.patient,
    )
    with pytest.raises(Forbidden):  # a nurse issues; receiving is the stores' job
        receive_stock(
            session, actor=world.nurse, item_id=world.gloves, location_id=world.ward_store, quantity=5
        )
    with pytest.raises(Forbidden):
        issue_stock(
            session,
            actor=world.receptionist,
            item_id=world.gloves,
            location_id=world.ward_store,
            quantity=1,
            patient_id=world.patient,
        )
    receive_stock(
        session, actor=world.pharmacist, item_id=world.gloves, location_id=world.pharmacy, quantity=5
    )
    with pytest.raises(Forbidden, match="Central store is not one"):
        receive_stock(
            session, actor=world.pharmacist, item_id=world.gloves, location_id=world.central, quantity=5
        )
    refusals = session.execute(select(func.count()).select_from(StockMove)).scalar_one()
    assert refusals == 4  # two receipts, one issue, the pharmacy's receipt: nothing from the refused calls


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (0, "at least 1"),
        (-5, "at least 1"),
        ("ten", "whole number"),
        (True, "whole number"),
        (10**9, "at most 1,000,000"),
        (None, "whole number"),
    ],
)
def test_quantities_a_person_or_client_sends_are_checked(session, world, quantity, message):
    with pytest.raises(ValidationError, match=message):
        receive_stock(
            session,
            actor=world.storekeeper,
            item_id=world.gloves,
            location_id=world.central,
            quantity=quantity,
        )


def test_receipts_check_lot_expiry_and_pack(session, world):
    kwargs = {
        "actor": world.storekeeper,
        "item_id": world.syringe,
        "location_id": world.central,
        "quantity": 1,
    }
    with pytest.raises(ValidationError, match="enter the lot number"):
        receive_stock(session, **kwargs, expiry_date=LATER)
    with pytest.raises(ValidationError, match="enter the expiry date"):
        receive_stock(session, **kwargs, lot_number="X")
    with pytest.raises(ValidationError, match="must be a date"):
        receive_stock(session, **kwargs, lot_number="X", expiry_date="31/12/2030")
    with pytest.raises(ValidationError, match="do not accept it"):
        receive_stock(session, **kwargs, lot_number="X", expiry_date=local_today() - timedelta(days=1))
    with pytest.raises(ValidationError, match="does not come in a 'crate'"):
        receive_stock(session, **kwargs, lot_number="X", expiry_date=LATER, pack="crate")
    receive_stock(session, **kwargs, lot_number="X", expiry_date=LATER, pack="box")
    with pytest.raises(ValidationError, match="on record with .* but this delivery says"):
        receive_stock(session, **kwargs, lot_number="X", expiry_date=SOON)
    assert _balance(session, world.central, world.syringe) == 50
    with pytest.raises(NotFound):
        receive_stock(session, actor=world.storekeeper, item_id=9999, location_id=world.central, quantity=1)
    with pytest.raises(NotFound):
        receive_stock(
            session, actor=world.storekeeper, item_id="1; DROP", location_id=world.central, quantity=1
        )


def test_receipts_keep_a_moving_average_cost(session, world):
    _receive(session, world, world.gloves, 100, location=world.central, cost=10)
    _receive(session, world, world.gloves, 100, location=world.central, cost=30)
    assert session.get(StockItem, world.gloves).average_cost_cents == 20
    issue_stock(
        session,
        actor=world.storekeeper,
        item_id=world.gloves,
        location_id=world.central,
        quantity=150,
        department_id=world.ward_department,
        reason="Top-up",
    )
    _receive(session, world, world.gloves, 50, location=world.central, cost=40)
    session.expire_all()
    assert session.get(StockItem, world.gloves).average_cost_cents == 30  # (50 x 20 + 50 x 40) / 100


def test_the_ledger_cannot_be_rewritten_by_a_database_writer(session, world, configured_db):
    move = _receive(session, world, world.gloves, 10, location=world.central)
    for statement in (
        f"UPDATE stock_move SET quantity = 1000 WHERE id = {move.id}",
        f"DELETE FROM stock_move WHERE id = {move.id}",
    ):
        with pytest.raises((DBAPIError, IntegrityError), match="never changed or deleted"):
            session.execute(text(statement))
        session.rollback()
    assert session.execute(select(StockMove.quantity).where(StockMove.id == move.id)).scalar_one() == 10
    # A writer who bypasses the services and lowers a balance is caught by the ledger proof.
    session.execute(text("UPDATE stock_balance SET quantity = 3"))
    session.commit()
    mismatches = balance_mismatches(session)
    assert [(m.ledger, m.balance) for m in mismatches] == [(10, 3)]
    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE stock_balance SET quantity = -1"))
    session.rollback()


def test_a_patient_with_stock_issued_can_be_merged_and_the_ledger_stays_as_written(session, world):
    from hms_app.services import patients
    from hms_app.services.patients.merge import merge_patients
    from hms_app.services.permissions import SYSTEM_ACTOR

    twin = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Stock", "family_name": "Takre", "sex": "female", "birth_date": "1980-02-03"},
        duplicate_reason="Registered twice at the front desk",
    )
    _receive(session, world, world.syringe, 10, lot="M1", expiry=LATER)
    moves = issue_stock(
        session,
        actor=world.nurse,
        item_id=world.syringe,
        location_id=world.ward_store,
        quantity=3,
        patient_id=twin.id,
    )
    merge_patients(
        session, actor=SYSTEM_ACTOR, survivor_id=world.patient, merged_id=twin.id, reason="same woman, typo"
    )
    session.expire_all()
    assert session.get(StockMove, moves[0].id).patient_id == twin.id  # the ledger is never rewritten
    charge = session.execute(select(ChargeItem)).scalar_one()
    assert charge.patient_id == world.patient  # the bill follows the surviving record
    return_stock(session, actor=world.nurse, move_id=moves[0].id, quantity=3, reason="Unused")
    session.refresh(charge)
    assert charge.status == "void" and balance_mismatches(session) == []
