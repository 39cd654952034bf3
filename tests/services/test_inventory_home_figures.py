"""The storekeeper's and the biomedical engineer's home cards, checked against a recount of the rows."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from hms_app.clock import local_today
from hms_app.models.inventory import (
    Equipment,
    MaintenancePlan,
    PurchaseOrder,
    StockBalance,
    StockLevel,
    StockLot,
)
from hms_app.pages.home import FIGURE_ICONS
from hms_app.services import home
from hms_app.services.inventory.ledger import issue_stock, receive_stock
from hms_app.services.permissions import DEFAULT_GRANTS, Actor
from tests.services.inventory_world import build_world


def _actor(role: str) -> Actor:
    return Actor(user_id=1, username=role, roles=frozenset({role}), permissions=DEFAULT_GRANTS[role])


def _figures(session, role: str) -> dict[str, int]:
    return {f.key: f.value for f in home.home_figures(session, actor=_actor(role))}


def test_the_storekeepers_cards_match_a_recount(session):
    world = build_world(session)
    today = local_today()
    keeper = world.storekeeper
    receive_stock(session, actor=keeper, item_id=world.gloves, location_id=world.central, quantity=30)
    receive_stock(
        session,
        actor=keeper,
        item_id=world.syringe,
        location_id=world.central,
        quantity=10,
        lot_number="SOON",
        expiry_date=today + timedelta(days=20),
    )
    receive_stock(
        session,
        actor=keeper,
        item_id=world.syringe,
        location_id=world.ward_store,
        quantity=10,
        lot_number="LATE",
        expiry_date=today + timedelta(days=200),
    )
    issue_stock(
        session,
        actor=keeper,
        item_id=world.syringe,
        location_id=world.ward_store,
        quantity=8,
        patient_id=world.patient,
    )
    session.add_all(
        [
            StockLevel(
                item_id=world.gloves,
                location_id=world.central,
                min_quantity=10,
                reorder_point=40,
                max_quantity=100,
            ),
            StockLevel(
                item_id=world.syringe,
                location_id=world.ward_store,
                min_quantity=1,
                reorder_point=2,
                max_quantity=20,
            ),
            StockLevel(
                item_id=world.paracetamol,
                location_id=world.pharmacy,
                min_quantity=5,
                reorder_point=10,
                max_quantity=50,
            ),
            StockLevel(
                item_id=world.syringe,
                location_id=world.central,
                min_quantity=1,
                reorder_point=5,
                max_quantity=50,
            ),
            PurchaseOrder(
                reference="PO-1",
                supplier_id=world.supplier,
                location_id=world.central,
                status="sent",
                created_by="x",
            ),
            PurchaseOrder(
                reference="PO-2",
                supplier_id=world.supplier,
                location_id=world.central,
                status="draft",
                created_by="x",
            ),
        ]
    )
    session.commit()

    balances = pd.DataFrame(
        session.execute(
            select(StockBalance.item_id, StockBalance.location_id, StockBalance.lot_id, StockBalance.quantity)
        ).all()
    )
    lots = pd.DataFrame(session.execute(select(StockLot.id, StockLot.expiry_date)).all()).rename(
        columns={"id": "lot_id"}
    )
    levels = pd.DataFrame(
        session.execute(select(StockLevel.item_id, StockLevel.location_id, StockLevel.reorder_point)).all()
    )
    joined = balances.merge(lots, on="lot_id")
    usable = joined[joined["expiry_date"].isna() | (joined["expiry_date"] >= today)]
    held = usable.groupby(["item_id", "location_id"])["quantity"].sum().reset_index()
    levels = levels.merge(held, on=["item_id", "location_id"], how="left").fillna({"quantity": 0})
    expected_low = int(
        ((levels["reorder_point"] > 0) & (levels["quantity"] <= levels["reorder_point"])).sum()
    )
    in_stock = joined[joined["quantity"] > 0]
    expected_expiring = in_stock[
        in_stock["expiry_date"].notna()
        & (in_stock["expiry_date"] >= today)
        & (in_stock["expiry_date"] <= today + timedelta(days=30))
    ]["lot_id"].nunique()

    cards = _figures(session, "storekeeper")
    assert (cards["stock_low"], cards["lots_expiring"], cards["orders_open"]) == (
        expected_low,
        expected_expiring,
        1,
    )
    # The edges split the rows: gloves 30 <= 40 and the paracetamol never stocked are low, syringes at the
    # central store (10 > 5) and on the ward (2 <= 2) split; only lot SOON expires within 30 days.
    assert (expected_low, expected_expiring) == (3, 1)
    assert {"stock_low", "maintenance_due"}.isdisjoint(_figures(session, "nurse"))


def test_the_biomedical_engineers_cards_match_a_recount(session):
    today = local_today()
    pump = Equipment(asset_tag="A-1", name="Infusion pump")
    monitor = Equipment(asset_tag="A-2", name="Monitor", status="out_of_service")
    old = Equipment(asset_tag="A-3", name="Old pump", status="retired")
    session.add_all([pump, monitor, old])
    session.flush()
    session.add_all(
        [
            MaintenancePlan(
                equipment_id=pump.id,
                kind="preventive",
                description="PM",
                interval_days=180,
                next_due=today - timedelta(days=1),
            ),
            MaintenancePlan(
                equipment_id=pump.id,
                kind="calibration",
                description="Cal",
                interval_days=365,
                next_due=today + timedelta(days=14),
            ),
            MaintenancePlan(
                equipment_id=monitor.id,
                kind="preventive",
                description="PM",
                interval_days=180,
                next_due=today + timedelta(days=15),
            ),
            MaintenancePlan(
                equipment_id=old.id,
                kind="preventive",
                description="PM",
                interval_days=180,
                next_due=today - timedelta(days=90),
            ),
            MaintenancePlan(
                equipment_id=monitor.id,
                kind="calibration",
                description="Off",
                interval_days=30,
                next_due=today - timedelta(days=5),
                active=False,
            ),
        ]
    )
    session.commit()
    cards = _figures(session, "biomed")
    assert (cards["maintenance_overdue"], cards["maintenance_due"], cards["equipment_down"]) == (1, 1, 1)


def test_every_icon_a_home_card_names_is_compiled_into_the_page():
    source = Path(home.__file__).parent.parent.joinpath("analytics", "home.py").read_text()
    named = set(
        re.findall(r'Figure\(\s*"[^"]+",\s*"[^"]+",\s*[^,]+,\s*"[^"]*",\s*"([a-z0-9-]+)"', source, re.S)
    )
    assert len(named) >= 15
    assert named <= set(FIGURE_ICONS)
