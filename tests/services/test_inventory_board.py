"""The low-stock board: what is at or below the reorder point or the minimum, what is out, and
which lots expire within 30 days, for one store or every store one may see, counted in SQL from the
balances and levels; and the issue screen's reads (the ward's patients, recent issues with their
charge), audited because they show patients."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from hms_app.clock import local_today
from hms_app.errors import Forbidden, NotFound
from hms_app.models.inventory import StockLot
from hms_app.models.security import AuditEvent
from hms_app.models.wards import Bed, Ward
from hms_app.services.inventory.board import low_stock_board
from hms_app.services.inventory.catalogue import save_level
from hms_app.services.inventory.issue_views import recent_issues, ward_patients
from hms_app.services.inventory.ledger import issue_stock, receive_stock
from hms_app.services.inventory.moves import return_stock
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.wards.admissions import admit_patient
from tests.services.inventory_world import build_world

LATER = local_today() + timedelta(days=300)


@pytest.fixture
def world(session):
    return build_world(session)


def _level(session, world, item, location, minimum, reorder, maximum):
    save_level(
        session,
        actor=world.storekeeper,
        item_id=item,
        location_id=location,
        data={"min_quantity": minimum, "reorder_point": reorder, "max_quantity": maximum},
    )


def _receive(session, world, item, location, quantity, lot=None, expiry=None):
    receive_stock(
        session,
        actor=world.storekeeper,
        item_id=item,
        location_id=location,
        quantity=quantity,
        lot_number=lot,
        expiry_date=expiry,
    )


def _expire(session, lot_number: str, days_ago: int = 1) -> None:
    session.execute(
        update(StockLot)
        .where(StockLot.lot_number == lot_number)
        .values(expiry_date=local_today() - timedelta(days=days_ago))
    )
    session.commit()
    session.expire_all()


def test_the_board_lists_what_is_low_out_or_expiring_in_order_of_urgency(session, world):
    _level(session, world, world.syringe, world.ward_store, 5, 10, 40)  # 7 usable: at reorder
    _level(
        session, world, world.paracetamol, world.ward_store, 20, 30, 100
    )  # 12 usable, 8 expired: below min
    _level(session, world, world.gloves, world.ward_store, 10, 20, 200)  # none: out
    _level(session, world, world.gloves, world.central, 10, 20, 200)  # 500: fine
    _receive(session, world, world.syringe, world.ward_store, 7, "S1", local_today() + timedelta(days=12))
    _receive(session, world, world.paracetamol, world.ward_store, 12, "P-GOOD", LATER)
    _receive(
        session, world, world.paracetamol, world.ward_store, 8, "P-OLD", local_today() + timedelta(days=2)
    )
    _expire(session, "P-OLD")
    _receive(session, world, world.gloves, world.central, 5, None, None)
    _receive(session, world, world.gloves, world.central, 495, None, None)

    board = low_stock_board(session, actor=world.storekeeper)
    assert [(r.store, r.code, r.flag, r.usable, r.to_order) for r in board.rows] == [
        ("Ward 3 store", "GLV-M", "out", 0, 200),
        ("Ward 3 store", "PCM-500", "below_min", 12, 88),
        ("Ward 3 store", "SYR-10", "reorder", 7, 33),
    ]
    assert board.rows[1].expired == 8
    assert (board.total, board.stock_outs, board.below_min, board.at_reorder) == (3, 1, 1, 1)
    assert [(lot.lot_number, lot.days_left, lot.quantity) for lot in board.expiring] == [
        ("P-OLD", -1, 8),
        ("S1", 12, 7),
    ]
    assert (board.expiring_total, board.expired_lots) == (2, 1)

    # Paged in SQL: the counts stay those of the whole board.
    page = low_stock_board(
        session, actor=world.storekeeper, offset=1, limit=1, expiring_offset=1, expiring_limit=1
    )
    assert [r.code for r in page.rows] == ["PCM-500"] and page.total == 3 and page.stock_outs == 1
    assert [lot.lot_number for lot in page.expiring] == ["S1"] and page.expiring_total == 2

    # One store only.
    central = low_stock_board(session, actor=world.storekeeper, location_id=world.central)
    assert (central.rows, central.total, central.expiring) == ([], 0, [])

    # Stock coming in takes an item off the board.
    _receive(session, world, world.syringe, world.ward_store, 10, "S2", LATER)
    assert [r.code for r in low_stock_board(session, actor=world.storekeeper).rows] == ["GLV-M", "PCM-500"]


def test_the_board_reads_only_balances_and_levels(session, world, backend):
    """Never the ledger: the board must answer from the two small tables even if the ledger were huge."""
    _level(session, world, world.syringe, world.ward_store, 5, 10, 40)
    _receive(session, world, world.syringe, world.ward_store, 3, "S1", LATER)
    seen: list[str] = []
    from sqlalchemy import event

    engine = session.get_bind()

    def remember(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.lower())

    event.listen(engine, "before_cursor_execute", remember)
    try:
        board = low_stock_board(session, actor=world.nurse)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert [r.code for r in board.rows] == ["SYR-10"]
    assert seen and not any("stock_move" in statement for statement in seen)


def test_each_user_sees_only_the_stores_they_may_see(session, world):
    _level(session, world, world.syringe, world.ward_store, 5, 10, 40)
    _level(session, world, world.syringe, world.other_ward_store, 5, 10, 40)
    nurse = low_stock_board(session, actor=world.nurse)
    assert [s.name for s in nurse.stores] == ["Ward 3 store"]
    assert [r.store for r in nurse.rows] == ["Ward 3 store"]
    assert len(low_stock_board(session, actor=world.storekeeper).rows) == 2
    with pytest.raises(NotFound):
        low_stock_board(session, actor=world.nurse, location_id=world.other_ward_store)
    with pytest.raises(Forbidden):
        low_stock_board(session, actor=world.receptionist)


def test_the_wards_patients_and_recent_issues_with_their_charge(session, world):
    ward = Ward(name="Ward 3", department_id=world.ward_department)
    session.add(ward)
    session.flush()
    bed = Bed(ward_id=ward.id, label="3-01")
    session.add(bed)
    session.commit()
    admit_patient(session, actor=SYSTEM_ACTOR, patient_id=world.patient, bed_id=bed.id, reason="Observation")
    patients = ward_patients(session, actor=world.nurse, location_id=world.ward_store)
    assert [(p.name, p.ward, p.bed) for p in patients] == [("Stock Taker", "Ward 3", "3-01")]
    assert ward_patients(session, actor=world.nurse, location_id=world.ward_store, query="nobody") == []
    with pytest.raises(Forbidden):
        ward_patients(session, actor=world.nurse, location_id=world.other_ward_store)
    assert ward_patients(session, actor=world.storekeeper, location_id=world.central) == []  # serves no ward

    _receive(session, world, world.syringe, world.ward_store, 10, "S1", LATER)
    moves = issue_stock(
        session,
        actor=world.nurse,
        item_id=world.syringe,
        location_id=world.ward_store,
        quantity=3,
        patient_id=world.patient,
    )
    issue_stock(
        session,
        actor=world.nurse,
        item_id=world.syringe,
        location_id=world.ward_store,
        quantity=1,
        department_id=world.ward_department,
        reason="Ward stock for the crash trolley",
    )
    return_stock(session, actor=world.nurse, move_id=moves[0].id, quantity=1, reason="Not opened")
    lines = recent_issues(session, actor=world.nurse, location_id=world.ward_store)
    assert [(line.item, line.quantity, line.returned, line.patient, line.department) for line in lines] == [
        ("Syringe 10 ml", 1, 0, "", "General Medicine"),
        ("Syringe 10 ml", 3, 1, "Stock Taker", "General Medicine"),
    ]
    charged = lines[1]
    assert (charged.charge_code, charged.charge_cents, charged.charge_status, charged.lot) == (
        "SUP-SYR",
        300,
        "open",
        "S1",
    )
    only = recent_issues(session, actor=world.nurse, location_id=world.ward_store, move_ids=[moves[0].id])
    assert [line.move_id for line in only] == [moves[0].id]
    with pytest.raises(Forbidden):
        recent_issues(session, actor=world.cardio_nurse, location_id=world.ward_store)
    audits = session.execute(
        select(AuditEvent.action, AuditEvent.detail)
        .where(AuditEvent.action.in_(("inventory.ward_patients", "inventory.issues_read")))
        .order_by(AuditEvent.id)
    ).all()
    assert audits[0] == ("inventory.ward_patients", "Ward 3 store: 1 inpatient shown")
    assert ("inventory.issues_read", "Ward 3 store: 2 issues to 1 patient") in audits


def test_board_counts_agree_with_a_recount_from_raw_rows(session, world, backend):
    """The board's counts, recomputed by hand from the balance and level rows."""
    for item, store, numbers in (
        (world.syringe, world.ward_store, (5, 10, 40)),
        (world.paracetamol, world.central, (0, 0, 10)),
        (world.gloves, world.pharmacy, (10, 20, 50)),
    ):
        _level(session, world, item, store, *numbers)
    _receive(session, world, world.gloves, world.pharmacy, 15)
    _receive(session, world, world.syringe, world.ward_store, 11, "S1", LATER)
    board = low_stock_board(session, actor=world.storekeeper)
    raw = session.execute(
        text(
            "SELECT l.item_id, l.location_id, l.min_quantity, l.reorder_point, "
            "COALESCE((SELECT SUM(b.quantity) FROM stock_balance b WHERE b.item_id = l.item_id "
            "AND b.location_id = l.location_id), 0) FROM stock_level l"
        )
    ).all()
    low = [(i, loc) for i, loc, _mn, reorder, held in raw if held <= reorder]
    assert sorted((r.item_id, r.location_id) for r in board.rows) == sorted(low)
    assert board.stock_outs == sum(1 for *_, held in raw if held == 0)
