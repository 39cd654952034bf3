"""The purchasing and stock-count screens' states driven as a browser tab would, against the test
database, with real sign-ins: a storekeeper turns a suggestion into a draft and cannot approve it,
a manager approves it, the receive form's per-line fields reach the service and its refusals come
back under the right line; a count sheet saves a count as the counter leaves the field, shows a
wrong one under its line, and is approved by the manager. Which handlers refuse whom is covered for
every handler by ``test_handler_guards.py``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.clock import local_today
from hms_app.models.inventory import PurchaseOrder, StockLevel, StockMove
from hms_app.services import accounts, security
from hms_app.services.inventory.ledger import receive_stock
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.inventory.count_sheet import CountSheetState
from hms_app.state.inventory.counts import CountsState
from hms_app.state.inventory.order_detail import OrderState
from hms_app.state.inventory.orders import OrdersState
from tests.services.inventory_world import build_world
from tests.state.test_patients_state import PASSWORD, _call, _tab

LATER = (local_today() + timedelta(days=300)).isoformat()


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def stores(session):
    accounts.ensure_roles(session)
    for username, role in (("sam", "storekeeper"), ("mona", "manager")):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
        )
    world = build_world(session)
    session.add_all(
        [
            StockLevel(item_id=world.gloves, location_id=world.central, reorder_point=100, max_quantity=500),
            StockLevel(item_id=world.syringe, location_id=world.central, reorder_point=20, max_quantity=80),
        ]
    )
    session.commit()
    return world


def _messages(events) -> list[str]:
    """The text of every toast the handler produced."""
    return [str(e) for e in events]


async def test_a_suggestion_becomes_a_draft_that_a_second_person_approves_and_is_received(stores):
    orders = _tab(OrdersState, "/inventory/orders", "sam")
    await _call(orders, "load")
    (card,) = orders.suggestions
    assert (card.supplier, card.store, [line.code for line in card.lines]) == (
        "MedSupply Ltd",
        "Central store",
        ["GLV-M", "SYR-10"],
    )
    assert [(line.quantity, line.packs) for line in card.lines] == [("500 each", "5 × 100"), ("80 each", "")]
    events = await _call(orders, "create_from_suggestion", card.card_id)
    with hms_db.session_scope() as s:
        order = s.execute(select(PurchaseOrder)).scalar_one()
    assert any(f"/inventory/orders/{order.id}" in str(e) for e in events)
    await _call(orders, "load")
    assert orders.suggestions == [] and [r.reference for r in orders.rows] == ["PO-000001"]

    path = f"/inventory/orders/{order.id}"
    keeper = _tab(OrderState, path, "sam")
    await _call(keeper, "load")
    assert (keeper.loaded, keeper.status, keeper.is_creator) == (True, "draft", True)
    await _call(keeper, "open_approve")
    await _call(keeper, "confirm_approve")
    assert "a second person must approve" in keeper.error_text and keeper.status == "draft"

    manager = _tab(OrderState, path, "mona")
    await _call(manager, "load")
    assert manager.is_creator is False
    await _call(manager, "confirm_approve")
    assert (manager.status, manager.approved_by, manager.dialog) == ("approved", "mona", "")

    await _call(keeper, "load")
    await _call(keeper, "confirm_send")
    assert keeper.status == "sent" and keeper.expected != ""
    syringe = next(line for line in keeper.lines if line.code == "SYR-10")
    gloves = next(line for line in keeper.lines if line.code == "GLV-M")
    await _call(keeper, "open_receive")
    form = {
        f"quantity:{gloves.id}": "500",
        f"quantity:{syringe.id}": "80",
        f"lot_number:{syringe.id}": "",
        f"expiry_date:{syringe.id}": LATER,
    }
    await _call(keeper, "submit_receive", form)
    assert keeper.dialog == "receive" and keeper.status == "sent"
    assert "enter the lot number" in keeper.field_errors[f"lot_number:{syringe.id}"]
    form[f"lot_number:{syringe.id}"] = "SY-77"
    form[f"quantity:{syringe.id}"] = "40"  # half of the syringes came
    await _call(keeper, "submit_receive", form)
    assert (keeper.dialog, keeper.status) == ("", "partly_received")
    assert [(r.code, r.lot, r.quantity) for r in sorted(keeper.receipts, key=lambda r: r.code)] == [
        ("GLV-M", "", "500 each"),
        ("SYR-10", "SY-77", "40 each"),
    ]
    # Blank and zero quantities are lines that did not come; a delivery of nothing is refused.
    await _call(keeper, "open_receive")
    await _call(keeper, "submit_receive", {f"quantity:{syringe.id}": "0"})
    assert "at least one line" in keeper.error_text


async def test_a_count_sheet_saves_each_count_as_the_counter_leaves_it_and_a_manager_approves(stores):
    with hms_db.session_scope() as s:
        receive_stock(
            s,
            actor=SYSTEM_ACTOR,
            item_id=stores.syringe,
            location_id=stores.central,
            quantity=50,
            lot_number="S1",
            expiry_date=LATER,
            unit_cost_cents=25,
        )
    counts = _tab(CountsState, "/inventory/counts", "sam")
    await _call(counts, "load")
    await _call(counts, "open_start")
    await _call(counts, "set_how", "full")
    events = await _call(counts, "submit_start", {"location_id": str(stores.central)})
    assert counts.dialog == "" and any("/inventory/counts/1" in str(e) for e in events)

    sheet = _tab(CountSheetState, "/inventory/counts/1", "sam")
    await _call(sheet, "load")
    (row,) = sheet.rows
    assert (row.code, row.lot, row.book, row.is_counted) == ("SYR-10", "S1", "50", False)
    await _call(sheet, "save_line", row.id, "-2")
    assert "at least 0" in sheet.line_errors[str(row.id)] and sheet.counted == 0
    await _call(sheet, "save_line", row.id, "")  # leaving an empty field saves nothing
    await _call(sheet, "save_line", row.id, "47")
    assert sheet.line_errors == {} and sheet.counted == 1 and sheet.rows[0].variance == "-3"
    await _call(sheet, "confirm_submit")
    assert sheet.status == "submitted" and sheet.counted_by_me

    review = _tab(CountSheetState, "/inventory/counts/1", "mona")
    await _call(review, "load")
    assert review.counted_by_me is False and review.net_value == "−$0.75"
    await _call(review, "confirm_approve")
    assert (review.status, review.approved_by) == ("approved", "mona")
    with hms_db.session_scope() as s:
        moves = s.execute(select(StockMove.kind, StockMove.quantity).where(StockMove.count_id == 1)).all()
    assert moves == [("count_variance", -3)]
