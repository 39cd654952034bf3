"""Replenishment: suggested orders bring a store up to its maximum in whole packs, grouped by
supplier; a purchase order goes draft -> approved (by a second person) -> sent -> partly received ->
received -> closed; goods are received against it with lot and expiry, over-delivery is refused
beyond the tolerance unless accepted with a reason, under-delivery is closed short; every receipt
is an expense of the supplier in the same transaction; and two people receiving one line at once
never take in more than the order allows. The ledger equals the balances after all of it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hms_app import db as hms_db
from hms_app.clock import local_today
from hms_app.errors import Conflict, DomainError, Forbidden, ValidationError
from hms_app.models.billing import Expense
from hms_app.models.inventory import (
    PurchaseOrder,
    PurchaseOrderLine,
    StockBalance,
    StockItem,
    StockLevel,
    StockLot,
    StockMove,
    Supplier,
)
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services.billing.expenses import list_expenses
from hms_app.services.inventory.balances import balance_mismatches, negative_balances
from hms_app.services.inventory.ledger import receive_stock
from hms_app.services.inventory.order_views import find_items, list_orders, order_detail
from hms_app.services.inventory.purchasing import (
    approve_order,
    cancel_order,
    close_order,
    create_order,
    create_order_from_suggestion,
    remove_order_line,
    send_order,
    set_order_line,
    suggested_orders,
)
from hms_app.services.inventory.receiving import receive_order
from hms_app.services.inventory.suppliers import create_supplier, list_suppliers, update_supplier
from hms_app.services.permissions import Actor
from tests.services.inventory_world import build_world

LATER = local_today() + timedelta(days=400)
MANAGER_PERMISSIONS = frozenset({"inventory.read", "inventory.approve", "billing.read"})


@pytest.fixture
def world(session):
    return build_world(session)


@pytest.fixture
def manager(session) -> Actor:
    user = AppUser(username="maya", display_name="Maya Manager", password_hash="x")
    session.add(user)
    session.commit()
    return Actor(user.id, "maya", roles=frozenset({"manager"}), permissions=MANAGER_PERMISSIONS)


@pytest.fixture
def keeper2(session) -> Actor:
    """A second storekeeper: may approve what the first created."""
    user = AppUser(username="stores2", display_name="Second Storekeeper", password_hash="x")
    session.add(user)
    session.commit()
    from tests.services.inventory_world import STOREKEEPER_PERMISSIONS

    return Actor(user.id, "stores2", roles=frozenset({"storekeeper"}), permissions=STOREKEEPER_PERMISSIONS)


def _level(session, item, location, reorder, most, minimum=0):
    session.add(
        StockLevel(
            item_id=item, location_id=location, min_quantity=minimum, reorder_point=reorder, max_quantity=most
        )
    )
    session.commit()


def _stock(session, world, item, quantity, *, location=None, lot=None, cost=10):
    return receive_stock(
        session,
        actor=world.storekeeper,
        item_id=item,
        location_id=location or world.central,
        quantity=quantity,
        lot_number=lot,
        expiry_date=LATER if lot else None,
        unit_cost_cents=cost,
    )


def _balance(session, location, item) -> int:
    return session.execute(
        select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
            StockBalance.location_id == location, StockBalance.item_id == item
        )
    ).scalar_one()


def _sent_order(session, world, approver, lines, *, location=None):
    order = create_order(
        session,
        actor=world.storekeeper,
        supplier_id=world.supplier,
        location_id=location or world.central,
        lines=lines,
    )
    approve_order(session, actor=approver, order_id=order.id)
    return send_order(session, actor=world.storekeeper, order_id=order.id)


def _line_id(session, order_id, item_id) -> int:
    return session.execute(
        select(PurchaseOrderLine.id).where(
            PurchaseOrderLine.order_id == order_id, PurchaseOrderLine.item_id == item_id
        )
    ).scalar_one()


# ---------------------------------------------------------------------- suggested orders


def test_suggestions_bring_each_store_up_to_its_maximum_in_whole_packs_grouped_by_supplier(
    session, world, keeper2
):
    other = Supplier(name="PharmaDirect", lead_time_days=2)
    session.add(other)
    session.flush()
    bandage = StockItem(code="BND", name="Bandage", category="supply", base_unit="roll", track_lots=False)
    session.add(bandage)
    session.flush()
    session.execute(
        StockItem.__table__.update().where(StockItem.id == world.paracetamol).values(supplier_id=other.id)
    )
    session.commit()
    # Gloves (box of 100): 250 held, reorder at 300, max 1,000 -> 750 short -> 8 boxes = 800.
    _level(session, world.gloves, world.central, 300, 1000, minimum=100)
    _stock(session, world, world.gloves, 250)
    # Syringes: 40 usable and 100 expired; the expired do not count -> 40 <= 50 -> 160 to 200.
    _level(session, world.syringe, world.central, 50, 200)
    _stock(session, world, world.syringe, 40, lot="S-OK")
    _stock(session, world, world.syringe, 100, lot="S-OLD")
    session.execute(
        StockLot.__table__.update()
        .where(StockLot.lot_number == "S-OLD")
        .values(expiry_date=local_today() - timedelta(days=1))
    )
    # Paracetamol from the other supplier: exactly at the reorder point (100) -> suggested up to 500.
    _level(session, world.paracetamol, world.central, 100, 500)
    _stock(session, world, world.paracetamol, 100, lot="P1", cost=3)
    # A bandage without a supplier: suggested, in its own group that cannot become an order.
    _level(session, bandage.id, world.central, 5, 20)
    # The ward store: gloves above their reorder point are not suggested; syringes on order are.
    _level(session, world.gloves, world.ward_store, 50, 200)
    _stock(session, world, world.gloves, 51, location=world.ward_store)
    _level(session, world.syringe, world.ward_store, 30, 60)
    _sent_order(
        session,
        world,
        keeper2,
        [{"item_id": world.syringe, "quantity": 25, "unit_cost_cents": 12}],
        location=world.ward_store,
    )
    session.commit()

    groups = suggested_orders(session, actor=world.nurse)
    summary = {
        (g.location, g.supplier): [(line.code, line.usable, line.on_order, line.quantity) for line in g.lines]
        for g in groups
    }
    assert summary == {
        ("Central store", "MedSupply Ltd"): [("GLV-M", 250, 0, 800), ("SYR-10", 40, 0, 160)],
        ("Central store", "PharmaDirect"): [("PCM-500", 100, 0, 400)],
        ("Central store", "No supplier set"): [("BND", 0, 0, 20)],
        # 0 held + 25 on order <= 30 -> 35 to reach 60.
        ("Ward 3 store", "MedSupply Ltd"): [("SYR-10", 0, 25, 35)],
    }
    central = next(g for g in groups if g.location == "Central store" and g.supplier == "MedSupply Ltd")
    # The last price agreed with the supplier (12 for syringes), else the average cost (gloves: 10).
    assert [(line.code, line.unit_cost_cents) for line in central.lines] == [("GLV-M", 10), ("SYR-10", 12)]
    assert central.total_cents == 800 * 10 + 160 * 12
    assert central.lead_time_days == 5
    assert [
        g.supplier for g in suggested_orders(session, actor=world.nurse, location_id=world.ward_store)
    ] == ["MedSupply Ltd"]
    with pytest.raises(ValidationError, match="no supplier"):
        create_order_from_suggestion(
            session, actor=world.storekeeper, location_id=world.central, supplier_id=0
        )


def test_a_suggestion_becomes_one_draft_and_is_then_on_order(session, world):
    _level(session, world.gloves, world.central, 300, 1000)
    _level(session, world.syringe, world.central, 10, 50)
    draft = create_order_from_suggestion(
        session, actor=world.storekeeper, location_id=world.central, supplier_id=world.supplier
    )
    assert draft.status == "draft" and draft.reference == "PO-000001" and draft.created_by == "stores"
    lines = session.execute(
        select(PurchaseOrderLine.item_id, PurchaseOrderLine.quantity_ordered).where(
            PurchaseOrderLine.order_id == draft.id
        )
    ).all()
    assert sorted(lines) == sorted([(world.gloves, 1000), (world.syringe, 50)])
    # The draft counts as on order: nothing is suggested twice, and a second press is refused.
    assert suggested_orders(session, actor=world.storekeeper, location_id=world.central) == []
    with pytest.raises(Conflict, match="may already be on order"):
        create_order_from_suggestion(
            session, actor=world.storekeeper, location_id=world.central, supplier_id=world.supplier
        )
    # Cancelling the draft brings the suggestion back.
    cancel_order(session, actor=world.storekeeper, order_id=draft.id, reason="Wrong store")
    assert [g.supplier for g in suggested_orders(session, actor=world.storekeeper)] == ["MedSupply Ltd"]


# ---------------------------------------------------------------------- the lifecycle


def test_the_whole_order_lifecycle_with_a_second_person_approving_and_the_expense_posted(
    session, world, manager
):
    order = create_order(
        session,
        actor=world.storekeeper,
        supplier_id=world.supplier,
        location_id=world.central,
        lines=[{"item_id": world.syringe, "quantity": 100, "unit_cost_cents": 20}],
        note="Monthly top-up",
    )
    set_order_line(
        session,
        actor=world.storekeeper,
        order_id=order.id,
        item_id=world.paracetamol,
        quantity=1000,
        unit_cost_cents=2,
    )
    set_order_line(
        session,
        actor=world.storekeeper,
        order_id=order.id,
        item_id=world.gloves,
        quantity=1,
        unit_cost_cents=1,
    )
    remove_order_line(
        session, actor=world.storekeeper, order_id=order.id, line_id=_line_id(session, order.id, world.gloves)
    )
    # The one who created it may not approve it, however many permissions they hold.
    with pytest.raises(Forbidden, match="a second person must approve"):
        approve_order(session, actor=world.storekeeper, order_id=order.id)
    with pytest.raises(Forbidden):
        approve_order(session, actor=world.nurse, order_id=order.id)
    with pytest.raises(Conflict, match="approved first"):
        send_order(session, actor=world.storekeeper, order_id=order.id)
    approved = approve_order(session, actor=manager, order_id=order.id)
    assert (approved.status, approved.approved_by) == ("approved", "maya")
    with pytest.raises(Conflict, match="only a draft can be changed"):
        set_order_line(
            session,
            actor=world.storekeeper,
            order_id=order.id,
            item_id=world.syringe,
            quantity=5,
            unit_cost_cents=1,
        )
    with pytest.raises(Conflict, match="not been sent"):
        receive_order(
            session,
            actor=world.storekeeper,
            order_id=order.id,
            lines=[{"line_id": _line_id(session, order.id, world.syringe), "quantity": 1}],
        )
    sent = send_order(session, actor=world.storekeeper, order_id=order.id)
    assert sent.status == "sent" and sent.expected_on == local_today() + timedelta(days=5)

    syringe_line = _line_id(session, order.id, world.syringe)
    pcm_line = _line_id(session, order.id, world.paracetamol)
    first = receive_order(
        session,
        actor=world.storekeeper,
        order_id=order.id,
        lines=[
            {
                "line_id": syringe_line,
                "quantity": 100,
                "lot_number": "SY-9",
                "expiry_date": LATER.isoformat(),
            },
            {"line_id": pcm_line, "quantity": 600, "lot_number": "PC-1", "expiry_date": LATER},
        ],
        delivery_note="DN-4411",
    )
    assert first.status == "partly_received" and first.received_at is None
    assert _balance(session, world.central, world.syringe) == 100
    assert _balance(session, world.central, world.paracetamol) == 600
    moves = session.execute(
        select(StockMove).where(StockMove.kind == "receipt").order_by(StockMove.id)
    ).scalars()
    assert {(m.order_line_id, m.quantity, m.reference, m.unit_cost_cents, m.reason) for m in moves} == {
        (syringe_line, 100, "PO-000001", 20, "Delivery note DN-4411"),
        (pcm_line, 600, "PO-000001", 2, "Delivery note DN-4411"),
    }
    lot = session.execute(select(StockLot).where(StockLot.lot_number == "SY-9")).scalar_one()
    assert lot.expiry_date == LATER

    # The receipt is an expense of the supplier: drugs for the medicine, supplies for the rest.
    expenses = session.execute(select(Expense).order_by(Expense.category)).scalars().all()
    assert [(e.category, e.supplier, e.amount_cents, e.incurred_on) for e in expenses] == [
        ("drugs", "MedSupply Ltd", 600 * 2, local_today()),
        ("supplies", "MedSupply Ltd", 100 * 20, local_today()),
    ]
    assert all(e.description.startswith("PO-000001") and e.entered_by == "stores" for e in expenses)
    _rows, count, total = list_expenses(session, actor=manager)
    assert (count, total) == (2, 600 * 2 + 100 * 20)

    second = receive_order(
        session,
        actor=world.storekeeper,
        order_id=order.id,
        lines=[{"line_id": pcm_line, "quantity": 400, "lot_number": "PC-2", "expiry_date": LATER}],
    )
    assert second.status == "received" and second.received_at is not None
    with pytest.raises(Conflict, match="nothing more is received"):
        receive_order(
            session,
            actor=world.storekeeper,
            order_id=order.id,
            lines=[{"line_id": pcm_line, "quantity": 1, "lot_number": "PC-2", "expiry_date": LATER}],
        )
    closed = close_order(session, actor=world.storekeeper, order_id=order.id)
    assert (closed.status, closed.closed_by, closed.close_reason) == ("closed", "stores", None)

    detail = order_detail(session, actor=world.nurse, order_id=order.id)
    assert [(x.code, x.ordered, x.received, x.outstanding) for x in detail.lines] == [
        ("PCM-500", 1000, 1000, 0),
        ("SYR-10", 100, 100, 0),
    ]
    assert detail.total_cents == detail.received_cents == 1000 * 2 + 100 * 20
    assert len(detail.receipts) == 3
    rows, total_rows = list_orders(session, actor=world.nurse, status="closed")
    assert total_rows == 1 and rows[0].total_cents == 4000 and rows[0].lines == 2
    assert list_orders(session, actor=world.nurse, status="open") == ([], 0)
    assert session.execute(select(func.sum(Expense.amount_cents))).scalar_one() == 4000
    actions = set(
        session.execute(select(AuditEvent.action).where(AuditEvent.action.like("inventory.po_%"))).scalars()
    )
    assert {
        "inventory.po_create",
        "inventory.po_approve",
        "inventory.po_send",
        "inventory.po_receive",
        "inventory.po_close",
    } <= actions
    assert balance_mismatches(session) == [] and negative_balances(session) == 0


def test_over_delivery_is_refused_beyond_the_tolerance_unless_accepted_with_a_reason(session, world, manager):
    order = _sent_order(
        session,
        world,
        manager,
        [
            {"item_id": world.gloves, "quantity": 100, "unit_cost_cents": 5},
            {"item_id": world.syringe, "quantity": 10, "unit_cost_cents": 30},
        ],
    )
    gloves, syringes = _line_id(session, order.id, world.gloves), _line_id(session, order.id, world.syringe)
    with pytest.raises(ValidationError, match=r"over the order by more than 5% \(at most 105 can") as refused:
        receive_order(
            session, actor=world.storekeeper, order_id=order.id, lines=[{"line_id": gloves, "quantity": 106}]
        )
    assert refused.value.field == f"quantity:{gloves}"
    session.rollback()
    assert _balance(session, world.central, world.gloves) == 0
    assert session.execute(select(func.count(Expense.id))).scalar_one() == 0
    # Within the tolerance (5% of 100) it is simply taken in.
    receive_order(
        session, actor=world.storekeeper, order_id=order.id, lines=[{"line_id": gloves, "quantity": 105}]
    )
    syringe_in = {"line_id": syringes, "quantity": 12, "lot_number": "OV-1", "expiry_date": LATER}
    with pytest.raises(ValidationError, match="at most 10 can be taken in"):
        receive_order(session, actor=world.storekeeper, order_id=order.id, lines=[syringe_in])
    session.rollback()
    with pytest.raises(ValidationError, match="Say why more than was ordered is accepted"):
        receive_order(
            session, actor=world.storekeeper, order_id=order.id, lines=[syringe_in], accept_over=True
        )
    session.rollback()
    done = receive_order(
        session,
        actor=world.storekeeper,
        order_id=order.id,
        lines=[syringe_in],
        accept_over=True,
        over_reason="Supplier sends whole boxes of 12; agreed by phone",
    )
    assert done.status == "received"
    reason = session.execute(select(StockMove.reason).where(StockMove.order_line_id == syringes)).scalar_one()
    assert reason == "Over-delivery accepted: Supplier sends whole boxes of 12; agreed by phone"
    received = session.execute(
        select(PurchaseOrderLine.quantity_received).where(PurchaseOrderLine.id == syringes)
    ).scalar_one()
    assert received == 12
    # The expense is what was received, not what was ordered.
    assert session.execute(select(func.sum(Expense.amount_cents))).scalar_one() == 105 * 5 + 12 * 30
    assert balance_mismatches(session) == []


def test_an_under_delivery_stays_partly_received_and_is_closed_short_with_a_reason(session, world, manager):
    _level(session, world.gloves, world.central, 100, 500)
    order = _sent_order(
        session, world, manager, [{"item_id": world.gloves, "quantity": 500, "unit_cost_cents": 4}]
    )
    line = _line_id(session, order.id, world.gloves)
    partly = receive_order(
        session, actor=world.storekeeper, order_id=order.id, lines=[{"line_id": line, "quantity": 300}]
    )
    assert partly.status == "partly_received"
    # The 200 still to come are on order: 300 + 200 is above the reorder point, nothing suggested.
    assert suggested_orders(session, actor=world.storekeeper) == []
    rows, _ = list_orders(session, actor=world.storekeeper, status="partly_received")
    assert [(r.reference, r.total_cents, r.received_cents) for r in rows] == [("PO-000001", 2000, 1200)]
    with pytest.raises(ValidationError, match="Say why the order is closed before everything came"):
        close_order(session, actor=world.storekeeper, order_id=order.id, reason="")
    session.rollback()
    closed = close_order(
        session, actor=world.storekeeper, order_id=order.id, reason="Discontinued by the supplier"
    )
    assert (closed.status, closed.close_reason) == ("closed", "Discontinued by the supplier")
    # Closed short: the 200 are no longer expected, so the store is below its reorder point again?
    # 300 held > 100: still not suggested; issue 250 and it is.
    from hms_app.services.inventory.ledger import issue_stock

    issue_stock(
        session,
        actor=world.storekeeper,
        item_id=world.gloves,
        location_id=world.central,
        quantity=250,
        department_id=world.ward_department,
        reason="Ward top-up",
    )
    (group,) = suggested_orders(session, actor=world.storekeeper)
    assert [(x.usable, x.on_order, x.quantity) for x in group.lines] == [(50, 0, 500)]
    with pytest.raises(Conflict, match="cannot be closed"):
        close_order(session, actor=world.storekeeper, order_id=order.id, reason="again")


def test_only_an_order_not_yet_sent_is_cancelled_and_only_with_a_reason(session, world, manager):
    draft = create_order(
        session, actor=world.storekeeper, supplier_id=world.supplier, location_id=world.central
    )
    with pytest.raises(ValidationError, match="no lines"):
        approve_order(session, actor=manager, order_id=draft.id)
    with pytest.raises(ValidationError, match="Say why the order is cancelled"):
        cancel_order(session, actor=world.storekeeper, order_id=draft.id, reason=" ")
    assert (
        cancel_order(session, actor=world.storekeeper, order_id=draft.id, reason="Duplicate").status
        == "cancelled"
    )
    sent = _sent_order(
        session, world, manager, [{"item_id": world.gloves, "quantity": 10, "unit_cost_cents": 1}]
    )
    with pytest.raises(Conflict, match="close a sent one short instead"):
        cancel_order(session, actor=world.storekeeper, order_id=sent.id, reason="Too late")
    assert close_order(
        session, actor=world.storekeeper, order_id=sent.id, reason="Never delivered"
    ).status == ("closed")


def test_a_refused_line_leaves_the_whole_receipt_untaken(session, world, manager):
    order = _sent_order(
        session,
        world,
        manager,
        [
            {"item_id": world.gloves, "quantity": 100, "unit_cost_cents": 5},
            {"item_id": world.syringe, "quantity": 10, "unit_cost_cents": 30},
        ],
    )
    syringes = _line_id(session, order.id, world.syringe)
    with pytest.raises(
        ValidationError, match="Syringe 10 ml is tracked by lot: enter the lot number"
    ) as refused:
        receive_order(
            session,
            actor=world.storekeeper,
            order_id=order.id,
            lines=[
                {"line_id": _line_id(session, order.id, world.gloves), "quantity": 100},
                {"line_id": syringes, "quantity": 10, "expiry_date": LATER},
            ],
        )
    assert refused.value.field == f"lot_number:{syringes}"
    session.rollback()
    session.expire_all()
    assert session.execute(select(func.count(StockMove.id))).scalar_one() == 0
    assert session.execute(select(func.sum(PurchaseOrderLine.quantity_received))).scalar_one() == 0
    assert session.execute(select(func.count(Expense.id))).scalar_one() == 0
    assert session.get(PurchaseOrder, order.id).status == "sent"


def test_each_step_is_for_those_allowed(session, world, manager):
    with pytest.raises(Forbidden):
        create_order(session, actor=world.nurse, supplier_id=world.supplier, location_id=world.ward_store)
    with pytest.raises(Forbidden):
        create_order(session, actor=manager, supplier_id=world.supplier, location_id=world.central)
    order = _sent_order(
        session,
        world,
        manager,
        [{"item_id": world.gloves, "quantity": 10, "unit_cost_cents": 1}],
        location=world.pharmacy,
    )
    line = _line_id(session, order.id, world.gloves)
    with pytest.raises(Forbidden):
        receive_order(session, actor=world.nurse, order_id=order.id, lines=[{"line_id": line, "quantity": 1}])
    # The pharmacist keeps the pharmacy's store: they receive its deliveries.
    assert (
        receive_order(
            session, actor=world.pharmacist, order_id=order.id, lines=[{"line_id": line, "quantity": 10}]
        ).status
        == "received"
    )
    assert [i.code for i in find_items(session, actor=world.nurse, query="syr")] == ["SYR-10"]
    assert [i.code for i in find_items(session, actor=world.nurse, query="09506000134352")] == ["SYR-10"]


def test_suppliers_have_unique_names_valid_contacts_and_lead_times(session, world):
    created = create_supplier(
        session,
        actor=world.storekeeper,
        data={
            "name": " Surgical  Goods ",
            "email": "Orders@Surgical.example",
            "phone": "+1 555 010 2030",
            "lead_time_days": "14",
        },
    )
    assert (created.name, created.email, created.lead_time_days) == (
        "Surgical Goods",
        "orders@surgical.example",
        14,
    )
    with pytest.raises(ValidationError, match="already on the list"):
        create_supplier(
            session, actor=world.storekeeper, data={"name": "surgical goods", "lead_time_days": 1}
        )
    session.rollback()
    with pytest.raises(DomainError) as refused:
        create_supplier(
            session,
            actor=world.storekeeper,
            data={"name": "X", "email": "nobody", "phone": "12", "lead_time_days": "400"},
        )
    assert set(refused.value.errors) == {"name", "email", "phone", "lead_time_days"}
    session.rollback()
    with pytest.raises(Forbidden):
        create_supplier(session, actor=world.nurse, data={"name": "Nurse Supplies", "lead_time_days": 1})
    session.rollback()
    updated = update_supplier(
        session,
        actor=world.storekeeper,
        supplier_id=created.id,
        data={"name": "Surgical Goods", "lead_time_days": 0, "active": False},
    )
    assert (updated.lead_time_days, updated.active) == (0, False)
    with pytest.raises(ValidationError, match="already on the list"):
        update_supplier(
            session,
            actor=world.storekeeper,
            supplier_id=created.id,
            data={"name": "MEDSUPPLY LTD", "lead_time_days": 1},
        )
    session.rollback()
    rows, total = list_suppliers(session, actor=world.nurse)
    assert total == 2 and [(r.name, r.active, r.items) for r in rows] == [
        ("MedSupply Ltd", True, 3),
        ("Surgical Goods", False, 0),
    ]
    with pytest.raises(ValidationError, match="no longer used"):
        create_order(session, actor=world.storekeeper, supplier_id=created.id, location_id=world.central)


# ---------------------------------------------------------------------- concurrency


def _race(session, configured_db: str, attempts: list[dict], actor: Actor, order_id: int):
    session.rollback()  # the test's own session holds no lock while the others race
    barrier = threading.Barrier(len(attempts))
    won, refused, crashed = [], [], []
    lock = threading.Lock()

    def attempt(line: dict) -> None:
        barrier.wait()
        try:
            with hms_db.session_scope(configured_db) as s:
                receive_order(s, actor=actor, order_id=order_id, lines=[line])
            with lock:
                won.append(line["quantity"])
        except DomainError as error:
            with lock:
                refused.append(str(error))
        except BaseException as error:  # noqa: BLE001 - anything else is the failure under test
            with lock:
                crashed.append(error)

    threads = [threading.Thread(target=attempt, args=(line,)) for line in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return won, refused, crashed


def test_people_receiving_one_line_at_once_never_take_in_more_than_the_order_allows(
    configured_db, session, world, manager
):
    order = _sent_order(
        session, world, manager, [{"item_id": world.syringe, "quantity": 100, "unit_cost_cents": 7}]
    )
    line = _line_id(session, order.id, world.syringe)
    whole = {"line_id": line, "quantity": 100, "lot_number": "RACE", "expiry_date": LATER.isoformat()}
    won, refused, crashed = _race(
        session, configured_db, [dict(whole) for _ in range(6)], world.storekeeper, order.id
    )
    assert crashed == []
    assert won == [100] and len(refused) == 5, refused
    session.expire_all()
    assert session.get(PurchaseOrderLine, line).quantity_received == 100
    assert session.get(PurchaseOrder, order.id).status == "received"
    assert _balance(session, world.central, world.syringe) == 100
    assert session.execute(select(func.count(StockMove.id))).scalar_one() == 1
    assert session.execute(select(func.sum(Expense.amount_cents))).scalar_one() == 700
    assert balance_mismatches(session) == [] and negative_balances(session) == 0


def test_partial_receipts_of_one_line_at_once_stop_at_the_tolerance(configured_db, session, world, manager):
    order = _sent_order(
        session, world, manager, [{"item_id": world.gloves, "quantity": 100, "unit_cost_cents": 3}]
    )
    line = _line_id(session, order.id, world.gloves)
    won, refused, crashed = _race(
        session,
        configured_db,
        [{"line_id": line, "quantity": 30} for _ in range(5)],
        world.storekeeper,
        order.id,
    )
    assert crashed == []
    # 30 + 30 + 30 = 90; a fourth would be 120, over 105: refused, however the threads interleave.
    assert won == [30, 30, 30] and len(refused) == 2
    session.expire_all()
    assert session.get(PurchaseOrderLine, line).quantity_received == 90
    assert session.get(PurchaseOrder, order.id).status == "partly_received"
    assert _balance(session, world.central, world.gloves) == 90
    assert session.execute(select(func.sum(Expense.amount_cents))).scalar_one() == 270
    assert balance_mismatches(session) == []
