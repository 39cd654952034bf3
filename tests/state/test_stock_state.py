"""The stock screens' states driven as browser tabs would, against the test database: a storekeeper
receives a delivery by scanning (a bad line stays with its message), a nurse issues to a patient on
her ward and sees the charge, returns part of it, the store screen moves and adjusts stock, the
catalogue shows each field's message, and the low-stock board counts its reloads.

The actor comes from a real session token. Which handlers refuse whom is covered for every handler
by ``test_handler_guards.py``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.clock import local_today
from hms_app.models.billing import ChargeItem
from hms_app.models.inventory import StockBalance, StockLot
from hms_app.models.wards import Bed, Ward
from hms_app.services import accounts, live, security
from hms_app.services.inventory.balances import balance_mismatches
from hms_app.services.inventory.ledger import receive_stock
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.wards.admissions import admit_patient
from hms_app.state.inventory.board import LowStockBoardState
from hms_app.state.inventory.catalogue import CatalogueState
from hms_app.state.inventory.issue import IssueState
from hms_app.state.inventory.receive import ReceiveState
from hms_app.state.inventory.stock import StockState
from hms_app.state.inventory.stock_moves import StockMovesState
from tests.services.inventory_world import build_world
from tests.state.test_patients_state import PASSWORD, _call, _tab, _toasts

GS = "\x1d"
LATER = local_today() + timedelta(days=200)


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(live, "publish", lambda *args, **kwargs: None)


@pytest.fixture
def stores(session):
    """The inventory test world, a storekeeper and a ward nurse who can sign in, and a patient on Ward 3."""
    world = build_world(session)
    accounts.ensure_roles(session)
    for username, role, department in (
        ("sam", "storekeeper", None),
        ("nina", "nurse", world.ward_department),
    ):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
            department_id=department,
        )
    ward = Ward(name="Ward 3", department_id=world.ward_department)
    session.add(ward)
    session.flush()
    bed = Bed(ward_id=ward.id, label="3-01")
    session.add(bed)
    session.commit()
    admit_patient(session, actor=SYSTEM_ACTOR, patient_id=world.patient, bed_id=bed.id, reason="Observation")
    return world


def _balance(location_id: int, item_id: int) -> int:
    with hms_db.session_scope() as s:
        return s.execute(
            select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
                StockBalance.location_id == location_id, StockBalance.item_id == item_id
            )
        ).scalar_one()


async def test_a_storekeeper_receives_a_delivery_by_scanning(stores, configured_db):
    tab = _tab(ReceiveState, "/inventory/receive", "sam")
    await _call(tab, "load")
    assert [s.label for s in tab.stores] == [
        "Cardiology store (W-CARD)",
        "Central store (CS)",
        "Main pharmacy (PH)",
        "Ward 3 store (W-GEN)",
    ]
    await _call(tab, "select_store", str(stores.central))
    # A DataMatrix on a box of 50 syringes: the pack, lot, expiry and serial fill in.
    await _call(tab, "scan", {"scan": f"]d201{'19506000134359'}17{LATER:%y%m%d}10LOT-9{GS}21SN-1"})
    assert (tab.item_label, tab.pack, tab.lot, tab.expiry, tab.serial) == (
        "SYR-10 · Syringe 10 ml",
        "box",
        "LOT-9",
        LATER.isoformat(),
        "SN-1",
    )
    await _call(
        tab,
        "add_line",
        {"quantity": "", "pack": "box", "lot_number": "LOT-9", "expiry_date": LATER.isoformat()},
    )
    assert (tab.line_error_field, tab.line_error) == ("quantity", "Quantity must be a whole number.")
    await _call(
        tab,
        "add_line",
        {
            "quantity": "2",
            "pack": "box",
            "lot_number": "LOT-9",
            "expiry_date": LATER.isoformat(),
            "unit_cost": "0.20",
        },
    )
    assert [(line.quantity, line.base_quantity, line.cost) for line in tab.lines] == [(2, 100, "$0.20")]
    assert tab.item_id == 0  # the line form is cleared for the next scan

    # A scan that is not a product code says so and changes nothing.
    events = await _call(tab, "scan", {"scan": "hello"})
    assert tab.scan_error.startswith("That barcode is not a GS1 code")
    assert any("not a GS1 code" in toast for toast in _toasts(events))

    # Manual choice without a scanner; an expired lot fails on receipt and stays with its message.
    await _call(tab, "search_items", "parac")
    assert [o.label for o in tab.item_options] == ["PCM-500 · Paracetamol 500 mg tablet"]
    await _call(tab, "choose_item", tab.item_options[0].value)
    past = (local_today() - timedelta(days=3)).isoformat()
    await _call(tab, "add_line", {"quantity": "30", "lot_number": "OLD", "expiry_date": past})
    assert len(tab.lines) == 2
    events = await _call(tab, "receive", {"reference": "DN-4471"})
    assert [line.status for line in tab.lines] == ["done", "failed"]
    assert tab.lines[0].message == "Received 100 each into Central store (CS), lot LOT-9."
    assert "do not accept it into stock" in tab.lines[1].message
    assert any("1 of 2 lines received" in toast for toast in _toasts(events))
    assert _balance(stores.central, stores.syringe) == 100
    # Receive again: only the failed line is tried again (and fails again), nothing twice.
    await _call(tab, "receive", {"reference": "DN-4471"})
    assert _balance(stores.central, stores.syringe) == 100
    # The failed line goes back into the form to be corrected, with its message.
    await _call(tab, "edit_line", tab.lines[1].key)
    assert (tab.item_label, tab.lot, tab.expiry, tab.quantity_text) == (
        "PCM-500 · Paracetamol 500 mg tablet",
        "OLD",
        past,
        "30",
    )
    assert "do not accept it into stock" in tab.line_error and len(tab.lines) == 1
    await _call(tab, "add_line", {"quantity": "30", "lot_number": "NEW", "expiry_date": LATER.isoformat()})
    await _call(tab, "receive", {"reference": "DN-4471"})
    assert [line.status for line in tab.lines] == ["done", "done"]
    assert _balance(stores.central, stores.paracetamol) == 30
    await _call(tab, "clear_received")
    assert tab.lines == []


async def test_a_nurse_issues_to_a_patient_on_her_ward_sees_the_charge_and_returns_some(
    stores, configured_db
):
    with hms_db.session_scope() as s:
        receive_stock(
            s,
            actor=stores.storekeeper,
            item_id=stores.syringe,
            location_id=stores.ward_store,
            quantity=20,
            lot_number="W-1",
            expiry_date=LATER,
        )
    tab = _tab(IssueState, "/inventory/issue", "nina")
    await _call(tab, "load")
    assert [s.label for s in tab.stores] == ["Ward 3 store (W-GEN)"]  # only her department's store
    assert [(p.label.split(" · ")[0], p.detail) for p in tab.ward_patients] == [
        ("Stock Taker", "Ward 3 · 3-01")
    ]
    # Nothing chosen yet: the form says what is missing.
    await _call(tab, "issue", {"quantity": "3"})
    assert tab.error_field == "item"
    await _call(tab, "scan", {"scan": "(01)09506000134352(10)W-1"})
    assert tab.item_label == "SYR-10 · Syringe 10 ml" and tab.chargeable
    lot = next(c for c in tab.lots if c.value != "fifo")
    assert tab.lot == lot.value  # the scanned lot is in stock: it is the one issued
    await _call(tab, "issue", {"quantity": "3", "pack": "each", "lot_id": tab.lot})
    assert (tab.error_field, tab.error_text) == ("patient", "Choose the patient the item is for.")
    await _call(tab, "choose_patient", "999999")
    await _call(tab, "choose_patient", tab.ward_patients[0].value)
    await _call(tab, "issue", {"quantity": "25", "pack": "each", "lot_id": tab.lot})
    assert tab.error_field == "quantity"
    assert tab.error_text == "Cannot issue 25 each from lot W-1: Ward 3 store holds 20 each of it."
    events = await _call(tab, "issue", {"quantity": "3", "pack": "each", "lot_id": tab.lot})
    assert tab.outcome.startswith("Issued 3 each of SYR-10 · Syringe 10 ml to Stock Taker")
    assert tab.outcome.endswith("from lot W-1.")
    assert tab.outcome_charge == "Charged SUP-SYR $4.50 to Stock Taker's account."
    assert any("Issued 3 each" in toast for toast in _toasts(events))
    assert _balance(stores.ward_store, stores.syringe) == 17
    assert [(r.quantity, r.charge) for r in tab.recent] == [("3 each", "SUP-SYR $4.50 (open)")]

    await _call(tab, "open_return", tab.recent[0].move_id)
    await _call(tab, "submit_return", {"quantity": "5", "reason": "Not used"})
    assert tab.return_error_field == "quantity"
    await _call(tab, "submit_return", {"quantity": "1", "reason": "Not used"})
    assert not tab.return_open
    assert [(r.quantity, r.left_to_return, r.charge) for r in tab.recent] == [
        ("3 each (1 returned)", 2, "SUP-SYR $3.00 (open)")
    ]
    with hms_db.session_scope() as s:
        assert s.execute(select(ChargeItem.quantity)).scalar_one() == 2
        assert balance_mismatches(s) == []


async def test_the_store_screen_lists_moves_adjusts_and_writes_off(stores, configured_db):
    with hms_db.session_scope() as s:
        for lot, expiry in (("GOOD", LATER), ("OLD", local_today() + timedelta(days=1))):
            receive_stock(
                s,
                actor=stores.storekeeper,
                item_id=stores.paracetamol,
                location_id=stores.central,
                quantity=40,
                lot_number=lot,
                expiry_date=expiry,
            )
        s.execute(
            StockLot.__table__.update()
            .where(StockLot.lot_number == "OLD")
            .values(expiry_date=local_today() - timedelta(days=1))
        )
        s.commit()
    moves = _tab(StockMovesState, "/inventory", "sam")
    stock = moves.parent_state
    await _call(stock, "load")
    await _call(stock, "select_store", str(stores.central))
    assert stock.can_keep
    line = next(r for r in stock.rows if r.code == "PCM-500")
    assert (line.on_hand, line.usable, line.expired) == (80, 40, 40)
    await _call(stock, "open_item", line.item_id)
    assert [(h.store, h.quantity, h.usable) for h in stock.holdings] == [("Central store", 80, 40)]

    await _call(moves, "open_transfer", line.item_id)
    assert [c.label for c in moves.store_choices][:1] == ["Cardiology store (W-CARD)"]
    ward = str(stores.ward_store)
    await _call(moves, "submit_transfer", {"to_location_id": ward, "lot_id": "fifo", "quantity": "50"})
    assert moves.error_field == "quantity" and "holds only 40 tablet" in moves.error_text
    events = await _call(
        moves, "submit_transfer", {"to_location_id": ward, "lot_id": "fifo", "quantity": "10"}
    )
    assert any("moved to Ward 3 store (W-GEN)" in t for t in _toasts(events)) and moves.dialog == ""
    assert _balance(stores.ward_store, stores.paracetamol) == 10

    await _call(moves, "open_adjust", line.item_id)
    good = next(c.value for c in moves.lot_choices if "GOOD" in c.label)
    await _call(moves, "submit_adjust", {"lot_id": good, "change": "-2", "reason": ""})
    assert (moves.error_field, moves.error_text) == ("reason", "Say why the stock is adjusted.")
    await _call(moves, "submit_adjust", {"lot_id": good, "change": "-2", "reason": "Blister pack crushed"})
    assert moves.dialog == ""

    line = next(r for r in stock.rows if r.code == "PCM-500")
    old = next(lot for lot in line.lots if lot.expired)
    await _call(moves, "open_write_off", line.item_id, old.lot_id)
    events = await _call(moves, "submit_write_off", {"reason": ""})
    assert any("40 tablet of PCM-500" in t and "written off" in t for t in _toasts(events))
    line = next(r for r in stock.rows if r.code == "PCM-500")
    assert (line.on_hand, line.expired) == (28, 0)

    # A nurse sees only her store, and keeps none of it.
    nurse = _tab(StockState, "/inventory", "nina")
    await _call(nurse, "load")
    assert [s.label for s in nurse.stores] == ["Ward 3 store (W-GEN)"] and not nurse.can_keep


async def test_the_catalogue_shows_each_fields_message_and_saves(stores, configured_db):
    tab = _tab(CatalogueState, "/inventory/items", "sam")
    await _call(tab, "load")
    assert [r.code for r in tab.rows] == ["GLV-M", "PCM-500", "SYR-10"]
    await _call(tab, "new_item")
    await _call(
        tab,
        "save_item",
        {
            "code": "SYR-10",
            "name": "S",
            "category": "supply",
            "base_unit": "each",
            "gtin": "123",
            "active": "on",
        },
    )
    assert tab.dialog == "item"
    assert tab.field_errors == {
        "code": "Another item already has the code SYR-10.",
        "name": "Enter the item's name (2 to 160 characters).",
        "gtin": "A GTIN has 8, 12, 13 or 14 digits.",
    }
    events = await _call(
        tab,
        "save_item",
        {
            "code": "SPO-2",
            "name": "Sponge",
            "category": "supply",
            "base_unit": "each",
            "track_lots": "",
            "active": "on",
        },
    )
    assert any("SPO-2 Sponge saved." in t for t in _toasts(events))
    assert tab.dialog == "" and tab.opened.code == "SPO-2"
    await _call(tab, "edit_level", "")
    await _call(
        tab,
        "save_level",
        {
            "location_id": str(stores.ward_store),
            "min_quantity": "5",
            "reorder_point": "2",
            "max_quantity": "9",
        },
    )
    assert tab.field_errors == {"reorder_point": "The reorder point must not be below the minimum."}
    await _call(
        tab,
        "save_level",
        {
            "location_id": str(stores.ward_store),
            "min_quantity": "2",
            "reorder_point": "5",
            "max_quantity": "9",
        },
    )
    assert [(lv.store, lv.reorder_point) for lv in tab.levels] == [("Ward 3 store", "5")]


async def test_the_board_counts_its_reloads_and_shows_what_is_low(stores, configured_db):
    tab = _tab(CatalogueState, "/inventory/items", "sam")
    await _call(tab, "load")
    await _call(tab, "open_item", stores.syringe)
    await _call(tab, "edit_level", "")
    await _call(
        tab,
        "save_level",
        {
            "location_id": str(stores.ward_store),
            "min_quantity": "5",
            "reorder_point": "10",
            "max_quantity": "40",
        },
    )
    board = _tab(LowStockBoardState, "/inventory/board", "nina")
    await _call(board, "load")
    assert [(r.code, r.flag, r.usable) for r in board.rows] == [("SYR-10", "out", "0 each")]
    assert (board.stock_outs, board.version) == (1, 1)
    with hms_db.session_scope() as s:
        receive_stock(
            s,
            actor=stores.storekeeper,
            item_id=stores.syringe,
            location_id=stores.ward_store,
            quantity=7,
            lot_number="B1",
            expiry_date=local_today() + timedelta(days=9),
        )
    await _call(board, "refresh")
    assert [(r.flag, r.usable) for r in board.rows] == [("reorder", "7 each")]
    assert [(lot.lot, lot.when) for lot in board.expiring] == [("B1", "in 9 days")]
    assert board.version == 2
    await _call(board, "select_store", str(stores.other_ward_store))  # not hers: refused, nothing changes
    assert board.store == "all" and board.version == 2
