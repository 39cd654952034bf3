"""Stock counts: the book is frozen when a count starts; what the store does afterwards is neither a
loss nor a find (variance = counted - (book + moves since the snapshot, up to the counting)); a
second person approves and every variance is posted to the ledger together, or none is; and the
ledger equals the balances after all of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hms_app.clock import local_today
from hms_app.errors import Conflict, Forbidden, ValidationError
from hms_app.models.inventory import StockBalance, StockCountLine, StockLot, StockMove
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services.inventory.balances import balance_mismatches, negative_balances
from hms_app.services.inventory.count_views import count_sheet, list_counts
from hms_app.services.inventory.counts import (
    add_found_lot,
    approve_count,
    cancel_count,
    enter_counts,
    return_count,
    start_count,
    submit_count,
)
from hms_app.services.inventory.ledger import issue_stock, receive_stock
from hms_app.services.permissions import Actor
from tests.services.inventory_world import build_world

LATER = local_today() + timedelta(days=300)
SOON = local_today() + timedelta(days=40)


@pytest.fixture
def world(session):
    return build_world(session)


@pytest.fixture
def manager(session) -> Actor:
    user = AppUser(username="maya", display_name="Maya Manager", password_hash="x")
    session.add(user)
    session.commit()
    return Actor(
        user.id,
        "maya",
        roles=frozenset({"manager"}),
        permissions=frozenset({"inventory.read", "inventory.approve"}),
    )


def _receive(session, world, item, quantity, *, lot=None, expiry=LATER, location=None, cost=10):
    receive_stock(
        session,
        actor=world.storekeeper,
        item_id=item,
        location_id=location or world.central,
        quantity=quantity,
        lot_number=lot,
        expiry_date=expiry if lot else None,
        unit_cost_cents=cost,
    )


def _lot(session, number) -> int:
    return session.execute(select(StockLot.id).where(StockLot.lot_number == number)).scalar_one()


def _lines(session, count_id) -> dict[str, StockCountLine]:
    rows = session.execute(
        select(StockLot.lot_number, StockCountLine)
        .join(StockLot, StockLot.id == StockCountLine.lot_id)
        .where(StockCountLine.count_id == count_id)
    ).all()
    return {number: line for number, line in rows}


def _balance(session, location, lot) -> int:
    return session.execute(
        select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
            StockBalance.location_id == location, StockBalance.lot_id == lot
        )
    ).scalar_one()


def _issue(session, world, item, quantity, lot):
    issue_stock(
        session,
        actor=world.storekeeper,
        item_id=item,
        location_id=world.central,
        quantity=quantity,
        lot_id=lot,
        department_id=world.ward_department,
        reason="Ward top-up",
    )


def _stocked_central(session, world):
    _receive(session, world, world.gloves, 300)
    _receive(session, world, world.syringe, 100, lot="A", expiry=SOON, cost=20)
    _receive(session, world, world.syringe, 50, lot="B", cost=20)
    _receive(session, world, world.paracetamol, 10, lot="P-GONE", cost=2)
    _issue(session, world, world.paracetamol, 10, _lot(session, "P-GONE"))  # a lot with no stock left


def test_a_full_count_freezes_the_book_and_posts_each_variance_on_a_second_persons_approval(
    session, world, manager
):
    _stocked_central(session, world)
    count = start_count(session, actor=world.storekeeper, location_id=world.central, kind="full")
    assert (count.reference, count.status, count.kind) == ("SC-000001", "counting", "full")
    lines = _lines(session, count.id)
    assert {n: line.book_quantity for n, line in lines.items()} == {"-": 300, "A": 100, "B": 50}
    # The snapshot is frozen: an issue after it does not change the book.
    _issue(session, world, world.syringe, 10, _lot(session, "A"))
    session.expire_all()
    assert _lines(session, count.id)["A"].book_quantity == 100
    sheet = count_sheet(session, actor=world.nurse, count_id=count.id)
    assert {x.lot_number: (x.book, x.moved_since, x.counted) for x in sheet.page} == {
        "-": (300, 0, None),
        "A": (100, -10, None),
        "B": (50, 0, None),
    }

    enter_counts(
        session,
        actor=world.storekeeper,
        count_id=count.id,
        counts=[
            {"line_id": lines["-"].id, "counted": "295"},  # 5 gloves gone
            {"line_id": lines["A"].id, "counted": 88},  # 90 expected (100 - 10 issued): 2 gone
            {"line_id": lines["B"].id, "counted": 50},
        ],
    )
    found = add_found_lot(
        session,
        actor=world.storekeeper,
        count_id=count.id,
        item_id=world.paracetamol,
        lot_number="P-FOUND",
        expiry_date=LATER.isoformat(),
        counted=12,
    )
    assert (found.book_quantity, found.expected_quantity, found.counted_quantity) == (0, 0, 12)
    sheet = count_sheet(session, actor=world.nurse, count_id=count.id, show="variances")
    assert {x.lot_number: (x.book, x.moved_since, x.counted, x.variance) for x in sheet.page} == {
        "-": (300, 0, 295, -5),
        "A": (100, -10, 88, -2),
        "P-FOUND": (0, 0, 12, 12),
    }
    assert (sheet.lines, sheet.counted, sheet.variances, sheet.shown) == (4, 4, 3, 3)
    # Gloves at their average cost (10), syringes at lot A's price (20), the found lot at the
    # paracetamol's average cost (2).
    assert sheet.variance_cents == -5 * 10 - 2 * 20 + 12 * 2

    submitted = submit_count(session, actor=world.storekeeper, count_id=count.id)
    assert (submitted.status, submitted.submitted_by) == ("submitted", "stores")
    with pytest.raises(Forbidden, match="a second person must approve"):
        approve_count(session, actor=world.storekeeper, count_id=count.id)
    with pytest.raises(Forbidden):
        approve_count(session, actor=world.nurse, count_id=count.id)
    approved = approve_count(session, actor=manager, count_id=count.id)
    assert (approved.status, approved.approved_by) == ("approved", "maya")

    moves = session.execute(
        select(StockLot.lot_number, StockMove.quantity, StockMove.count_id, StockMove.moved_by)
        .join(StockLot, StockLot.id == StockMove.lot_id)
        .where(StockMove.kind == "count_variance")
    ).all()
    assert sorted(moves) == sorted(
        [("-", -5, count.id, "maya"), ("A", -2, count.id, "maya"), ("P-FOUND", 12, count.id, "maya")]
    )
    assert _balance(session, world.central, _lot(session, "-")) == 295
    assert _balance(session, world.central, _lot(session, "A")) == 88
    assert _balance(session, world.central, _lot(session, "B")) == 50
    assert _balance(session, world.central, _lot(session, "P-FOUND")) == 12
    assert balance_mismatches(session) == [] and negative_balances(session) == 0
    rows, total = list_counts(session, actor=world.nurse, status="approved")
    assert total == 1 and (rows[0].lines, rows[0].counted, rows[0].variances) == (4, 4, 3)
    actions = set(
        session.execute(select(AuditEvent.action).where(AuditEvent.action.like("inventory.count%"))).scalars()
    )
    assert {
        "inventory.count_start",
        "inventory.count_enter",
        "inventory.count_found",
        "inventory.count_submit",
        "inventory.count_approve",
        "inventory.count_variance",
    } <= actions


def test_moves_between_the_counting_and_the_approval_are_neither_losses_nor_finds(session, world, manager):
    _receive(session, world, world.syringe, 100, lot="A", cost=20)
    _receive(session, world, world.syringe, 100, lot="B", cost=20)
    count = start_count(session, actor=world.storekeeper, location_id=world.central, item_ids=[world.syringe])
    lines = _lines(session, count.id)
    # A: a delivery of 40 between the snapshot and the counting, then 100 + 40 counted: no variance.
    _receive(session, world, world.syringe, 40, lot="A", cost=20)
    # B: counted 95 (5 missing), then 30 issued before the approval.
    enter_counts(
        session,
        actor=world.storekeeper,
        count_id=count.id,
        counts=[{"line_id": lines["A"].id, "counted": 140}, {"line_id": lines["B"].id, "counted": 95}],
    )
    _issue(session, world, world.syringe, 30, _lot(session, "B"))
    _issue(session, world, world.syringe, 15, _lot(session, "A"))
    submit_count(session, actor=world.storekeeper, count_id=count.id)
    session.expire_all()
    lines = _lines(session, count.id)
    assert (lines["A"].book_quantity, lines["A"].expected_quantity, lines["A"].counted_quantity) == (
        100,
        140,
        140,
    )
    assert (lines["B"].book_quantity, lines["B"].expected_quantity, lines["B"].counted_quantity) == (
        100,
        100,
        95,
    )
    approve_count(session, actor=manager, count_id=count.id)
    variances = session.execute(
        select(StockMove.lot_id, StockMove.quantity).where(StockMove.kind == "count_variance")
    ).all()
    assert variances == [(_lot(session, "B"), -5)]
    # What the shelf holds now: A 140 - 15; B 95 - 30.
    assert _balance(session, world.central, _lot(session, "A")) == 125
    assert _balance(session, world.central, _lot(session, "B")) == 65
    assert balance_mismatches(session) == []


def test_a_variance_that_can_no_longer_be_taken_off_refuses_the_whole_approval(session, world, manager):
    _receive(session, world, world.syringe, 100, lot="A", cost=20)
    _receive(session, world, world.gloves, 50)
    count = start_count(session, actor=world.storekeeper, location_id=world.central, kind="full")
    lines = _lines(session, count.id)
    enter_counts(
        session,
        actor=world.storekeeper,
        count_id=count.id,
        counts=[{"line_id": lines["A"].id, "counted": 40}, {"line_id": lines["-"].id, "counted": 55}],
    )
    # 50 issued after the counting although the count says only 40 were there: the 60 to take off
    # no longer fit into the 50 left.
    _issue(session, world, world.syringe, 50, _lot(session, "A"))
    submit_count(session, actor=world.storekeeper, count_id=count.id)
    with pytest.raises(ValidationError, match="Send the count back for a recount"):
        approve_count(session, actor=manager, count_id=count.id)
    session.rollback()
    session.expire_all()
    assert session.execute(select(func.count()).where(StockMove.kind == "count_variance")).scalar_one() == 0
    assert _balance(session, world.central, _lot(session, "-")) == 50  # the gloves' +5 was not posted either
    returned = return_count(session, actor=manager, count_id=count.id, reason="Recount syringes")
    assert returned.status == "counting"
    enter_counts(
        session,
        actor=world.storekeeper,
        count_id=count.id,
        counts=[{"line_id": lines["A"].id, "counted": 50}],
    )
    submit_count(session, actor=world.storekeeper, count_id=count.id)
    approve_count(session, actor=manager, count_id=count.id)
    assert _balance(session, world.central, _lot(session, "A")) == 50
    assert _balance(session, world.central, _lot(session, "-")) == 55
    assert balance_mismatches(session) == [] and negative_balances(session) == 0


def test_a_cycle_count_takes_the_items_counted_longest_ago(session, world, manager):
    _stocked_central(session, world)
    _receive(session, world, world.paracetamol, 30, lot="P-NEW", cost=2)
    first = start_count(session, actor=world.storekeeper, location_id=world.central, item_ids=[world.gloves])
    assert set(_lines(session, first.id)) == {"-"}
    (line,) = _lines(session, first.id).values()
    enter_counts(
        session, actor=world.storekeeper, count_id=first.id, counts=[{"line_id": line.id, "counted": 300}]
    )
    with pytest.raises(ValidationError, match="not part of this cycle count"):
        add_found_lot(
            session,
            actor=world.storekeeper,
            count_id=first.id,
            item_id=world.syringe,
            lot_number="A",
            counted=1,
        )
    session.rollback()
    submit_count(session, actor=world.storekeeper, count_id=first.id)
    approve_count(session, actor=manager, count_id=first.id)
    # Never counted first: the syringes and the paracetamol, not the gloves just counted.
    second = start_count(session, actor=world.storekeeper, location_id=world.central, oldest=2)
    assert set(_lines(session, second.id)) == {"A", "B", "P-NEW"}
    cancel_count(session, actor=world.storekeeper, count_id=second.id, reason="Started by mistake")
    third = start_count(session, actor=world.storekeeper, location_id=world.central, oldest="1")
    assert set(_lines(session, third.id)) == {"P-NEW"}  # PCM-500 before SYR-10: both never counted


def test_one_open_count_per_store_and_each_step_in_its_turn(session, world, manager):
    _receive(session, world, world.gloves, 20, location=world.pharmacy)
    with pytest.raises(ValidationError, match="nothing to count"):
        start_count(session, actor=world.storekeeper, location_id=world.central, kind="full")
    session.rollback()
    with pytest.raises(ValidationError, match="Choose the items to count"):
        start_count(session, actor=world.storekeeper, location_id=world.pharmacy, kind="cycle")
    session.rollback()
    with pytest.raises(Forbidden):
        start_count(session, actor=world.nurse, location_id=world.ward_store, kind="full")
    session.rollback()
    # The pharmacist keeps the pharmacy: they count it.
    count = start_count(session, actor=world.pharmacist, location_id=world.pharmacy, kind="full")
    with pytest.raises(Conflict, match="SC-000001 is still open at Main pharmacy"):
        start_count(session, actor=world.storekeeper, location_id=world.pharmacy, kind="full")
    session.rollback()
    with pytest.raises(ValidationError, match="1 line\\(s\\) of SC-000001 are not counted yet"):
        submit_count(session, actor=world.pharmacist, count_id=count.id)
    session.rollback()
    with pytest.raises(Conflict, match="only a submitted count"):
        approve_count(session, actor=manager, count_id=count.id)
    session.rollback()
    (line,) = _lines(session, count.id).values()
    with pytest.raises(ValidationError, match="at least 0"):
        enter_counts(
            session, actor=world.pharmacist, count_id=count.id, counts=[{"line_id": line.id, "counted": -1}]
        )
    session.rollback()
    with pytest.raises(ValidationError, match="not on SC-000001"):
        enter_counts(
            session, actor=world.pharmacist, count_id=count.id, counts=[{"line_id": 999, "counted": 1}]
        )
    session.rollback()
    with pytest.raises(ValidationError, match="on the sheet already"):
        add_found_lot(session, actor=world.pharmacist, count_id=count.id, item_id=world.gloves, counted=3)
    session.rollback()
    with pytest.raises(ValidationError, match="Say why the count is cancelled"):
        cancel_count(session, actor=world.pharmacist, count_id=count.id, reason="")
    session.rollback()
    cancelled = cancel_count(
        session, actor=world.pharmacist, count_id=count.id, reason="Pharmacy closed today"
    )
    assert cancelled.status == "cancelled"
    with pytest.raises(Conflict, match="can no longer be changed"):
        enter_counts(
            session, actor=world.pharmacist, count_id=count.id, counts=[{"line_id": line.id, "counted": 20}]
        )
    session.rollback()
    assert list_counts(session, actor=world.nurse) == ([], 0)
    assert session.execute(select(func.count()).select_from(StockMove)).scalar_one() == 1  # the one receipt
