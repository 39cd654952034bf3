"""The stock catalogue: items, packs, stores and levels are checked field by field with messages a
storekeeper can act on, only a storekeeper changes them, every change is audited, and the lists
page and sum in SQL what the stores hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hms_app.clock import local_today
from hms_app.errors import Forbidden, InvalidFields, NotFound, ValidationError
from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.inventory import StockItem, StockLevel, StockLocation, StockPackUnit
from hms_app.models.security import AuditEvent
from hms_app.models.wards import Ward
from hms_app.services.inventory.catalogue import (
    normalize_gtin,
    remove_level,
    remove_pack,
    save_item,
    save_level,
    save_pack,
    save_store,
)
from hms_app.services.inventory.catalogue_views import (
    catalogue_choices,
    item_detail,
    list_items,
    list_stores,
    store_stock,
    visible_stores,
)
from hms_app.services.inventory.ledger import issue_stock, receive_stock
from tests.services.inventory_world import build_world

LATER = local_today() + timedelta(days=300)
SOON = local_today() + timedelta(days=10)
ITEM = {
    "code": "gauze-10",
    "name": "Gauze swab 10 x 10 cm",
    "category": "supply",
    "base_unit": "Each",
    "gtin": "4006381333931",
    "track_lots": "on",
    "order_pack_size": "100",
}


@pytest.fixture
def world(session):
    return build_world(session)


def _audits(session, action: str) -> list[str]:
    return list(
        session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


def _errors(call) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        call()
    error = caught.value
    return error.errors if isinstance(error, InvalidFields) else {error.field or "": str(error)}


def test_a_storekeeper_adds_an_item_normalised_and_audited(session, world):
    item = save_item(session, actor=world.storekeeper, data=ITEM)
    assert (item.code, item.base_unit, item.gtin, item.track_lots) == (
        "GAUZE-10",
        "each",
        "04006381333931",
        True,
    )
    assert (item.chargeable, item.charge_code, item.order_pack_size, item.active) == (False, None, 100, True)
    assert _audits(session, "inventory.item") == ["added GAUZE-10 Gauze swab 10 x 10 cm"]

    changed = save_item(
        session, actor=world.storekeeper, data={**ITEM, "name": "Gauze swab, sterile"}, item_id=item.id
    )
    assert changed.name == "Gauze swab, sterile"
    assert _audits(session, "inventory.item")[-1] == (
        "changed GAUZE-10: name Gauze swab 10 x 10 cm -> Gauze swab, sterile"
    )


def test_every_mistake_in_the_item_form_is_reported_at_once(session, world):
    errors = _errors(
        lambda: save_item(
            session,
            actor=world.storekeeper,
            data={
                "code": "GLV-M",  # taken by the gloves
                "name": "x",
                "category": "toys",
                "base_unit": "",
                "gtin": "4006381333932",  # wrong check digit
                "chargeable": "on",
                "charge_code": "",
                "order_pack_size": "0",
            },
        )
    )
    assert errors == {
        "code": "Another item already has the code GLV-M.",
        "name": "Enter the item's name (2 to 160 characters).",
        "category": "Choose the category.",
        "base_unit": "Enter the unit it is counted in (each, ml, tablet, vial ...).",
        "gtin": "4006381333932 is not a valid GTIN: its last digit (the check digit) does not match.",
        "charge_code": "A chargeable item needs its price code from the service catalogue.",
        "order_pack_size": "The order pack size must be at least 1.",
    }
    assert session.execute(select(StockItem).where(StockItem.name == "x")).first() is None
    assert _audits(session, "inventory.item") == []


@pytest.mark.parametrize(
    ("gtin", "message"),
    [
        ("12345", "A GTIN has 8, 12, 13 or 14 digits."),
        ("ABCDEFGHIJKLM", "A GTIN has 8, 12, 13 or 14 digits."),
        (
            "09506000134353",
            "09506000134353 is not a valid GTIN: its last digit (the check digit) does not match.",
        ),
    ],
)
def test_a_gtin_must_have_a_valid_check_digit(gtin, message):
    with pytest.raises(ValidationError) as caught:
        normalize_gtin(gtin)
    assert str(caught.value) == message


def test_gtins_are_read_in_any_length_and_one_gtin_belongs_to_one_product(session, world):
    assert normalize_gtin("9506000134352") == normalize_gtin("0950-6000-134352") == "09506000134352"
    assert normalize_gtin("") is None
    # The syringe carries 09506000134352; the same number typed as a GTIN-13 is still taken.
    errors = _errors(
        lambda: save_item(session, actor=world.storekeeper, data={**ITEM, "gtin": "9506000134352"})
    )
    assert errors == {
        "gtin": "The GTIN 09506000134352 is already on SYR-10 Syringe 10 ml: one GTIN, one product."
    }
    # ... and so is a pack's.
    errors = _errors(
        lambda: save_item(session, actor=world.storekeeper, data={**ITEM, "gtin": "15012345678907"})
    )
    assert errors == {
        "gtin": "The GTIN 15012345678907 is already on the box of GLV-M: one GTIN, one product."
    }
    # An item keeps its own GTIN when it is saved again.
    syringe = session.get(StockItem, world.syringe)
    data = {
        "code": syringe.code,
        "name": syringe.name,
        "category": syringe.category,
        "base_unit": syringe.base_unit,
        "gtin": syringe.gtin,
        "chargeable": "on",
        "charge_code": "sup-syr",
        "track_lots": "on",
    }
    saved = save_item(session, actor=world.storekeeper, data=data, item_id=world.syringe)
    assert (saved.gtin, saved.charge_code) == ("09506000134352", "SUP-SYR")


def test_a_chargeable_item_needs_an_active_price_code(session, world):
    session.add(ChargeItemDefinition(code="OLD-CODE", name="Retired", price_cents=5, active=False))
    session.commit()
    for code, message in (
        ("NOPE", "There is no service with the code NOPE in the catalogue."),
        ("old-code", "The service OLD-CODE is retired: choose an active price code."),
    ):
        errors = _errors(
            lambda code=code: save_item(
                session, actor=world.storekeeper, data={**ITEM, "chargeable": "on", "charge_code": code}
            )
        )
        assert errors == {"charge_code": message}
    item = save_item(
        session, actor=world.storekeeper, data={**ITEM, "chargeable": "on", "charge_code": "SUP-SYR"}
    )
    assert (item.chargeable, item.charge_code) == (True, "SUP-SYR")


def test_lot_tracking_goes_off_only_when_no_tracked_stock_is_held(session, world):
    receive_stock(
        session,
        actor=world.storekeeper,
        item_id=world.syringe,
        location_id=world.central,
        quantity=5,
        lot_number="L1",
        expiry_date=LATER,
    )
    data = {
        "code": "SYR-10",
        "name": "Syringe 10 ml",
        "category": "supply",
        "base_unit": "each",
        "chargeable": "on",
        "charge_code": "SUP-SYR",
        "track_lots": "",
    }
    errors = _errors(lambda: save_item(session, actor=world.storekeeper, data=data, item_id=world.syringe))
    assert errors == {
        "track_lots": "5 each of Syringe 10 ml are held in lots: lot tracking can be turned off only when "
        "none is in stock."
    }
    # Its unit cannot change either, now that stock has moved in it; nor can it stop being stocked.
    errors = _errors(
        lambda: save_item(
            session,
            actor=world.storekeeper,
            data={**data, "track_lots": "on", "base_unit": "box", "active": ""},
            item_id=world.syringe,
        )
    )
    assert errors == {
        "base_unit": "Syringe 10 ml has stock moves counted in each: the unit cannot change now.",
        "active": "5 each of Syringe 10 ml are still in stock: issue, move or write them off before it "
        "stops being stocked.",
    }
    issue_stock(
        session,
        actor=world.storekeeper,
        item_id=world.syringe,
        location_id=world.central,
        quantity=5,
        department_id=world.ward_department,
        reason="Ward top-up",
    )
    saved = save_item(session, actor=world.storekeeper, data=data, item_id=world.syringe)
    assert saved.track_lots is False
    assert "track_lots True -> False" in _audits(session, "inventory.item")[-1]


def test_packs_convert_to_base_units_and_are_checked(session, world):
    pack = save_pack(
        session,
        actor=world.storekeeper,
        item_id=world.paracetamol,
        data={"name": "Strip", "base_quantity": "10", "gtin": "4006381333931"},
    )
    assert (pack.name, pack.base_quantity, pack.gtin) == ("strip", 10, "04006381333931")
    errors = _errors(
        lambda: save_pack(
            session,
            actor=world.storekeeper,
            item_id=world.paracetamol,
            data={"name": "strip", "base_quantity": "1", "gtin": "04006381333931"},
        )
    )
    assert errors == {
        "name": "Paracetamol 500 mg tablet already has a pack called strip.",
        "base_quantity": "The number of tablet in the pack must be at least 2.",
        "gtin": "The GTIN 04006381333931 is already on the strip of PCM-500: one GTIN, one product.",
    }
    errors = _errors(
        lambda: save_pack(
            session,
            actor=world.storekeeper,
            item_id=world.paracetamol,
            data={"name": "tablet", "base_quantity": "2"},
        )
    )
    assert errors == {"name": "tablet is the base unit itself: name the pack it comes in."}
    changed = save_pack(
        session,
        actor=world.storekeeper,
        item_id=world.paracetamol,
        data={"name": "strip", "base_quantity": "12", "gtin": "4006381333931"},
        pack_id=pack.id,
    )
    assert changed.base_quantity == 12
    receive_stock(
        session,
        actor=world.storekeeper,
        item_id=world.paracetamol,
        location_id=world.central,
        quantity=2,
        pack="strip",
        lot_number="P1",
        expiry_date=LATER,
    )
    assert remove_pack(session, actor=world.storekeeper, pack_id=pack.id) == "strip of PCM-500"
    assert session.get(StockPackUnit, pack.id) is None
    assert _audits(session, "inventory.pack") == [
        "PCM-500: strip = 10 tablet, GTIN 04006381333931",
        "PCM-500: strip = 12 tablet, GTIN 04006381333931 (was strip = 10, GTIN 04006381333931)",
        "removed the strip of PCM-500 (12 tablet)",
    ]
    rows, _ = list_items(session, actor=world.nurse, query="PCM")
    assert [(r.code, r.on_hand) for r in rows] == [("PCM-500", 24)]


def test_stores_are_checked_and_a_ward_store_takes_its_wards_department(session, world):
    ward = Ward(name="Ward 7", department_id=world.ward_department)
    session.add(ward)
    session.commit()
    errors = _errors(
        lambda: save_store(
            session,
            actor=world.storekeeper,
            data={"code": "cs", "name": "", "kind": "garage", "department_id": "x"},
        )
    )
    assert errors == {
        "code": "Another store already has the code CS.",
        "name": "Enter the store's name (2 to 120 characters).",
        "kind": "Choose what kind of store it is.",
        "department_id": "Choose the department from the list.",
    }
    errors = _errors(
        lambda: save_store(
            session, actor=world.storekeeper, data={"code": "W7", "name": "Ward 7 store", "kind": "ward"}
        )
    )
    assert errors == {"ward_id": "A ward store serves a ward: choose it."}
    errors = _errors(
        lambda: save_store(
            session,
            actor=world.storekeeper,
            data={
                "code": "W7",
                "name": "Ward 7 store",
                "kind": "ward",
                "ward_id": str(ward.id),
                "department_id": str(world.pharmacy_department),
            },
        )
    )
    assert errors == {"department_id": "Ward 7 belongs to another department: choose that one."}
    store = save_store(
        session,
        actor=world.storekeeper,
        data={"code": "w7", "name": "Ward 7 store", "kind": "ward", "ward_id": str(ward.id)},
    )
    assert (store.code, store.department_id, store.ward_id, store.active) == (
        "W7",
        world.ward_department,
        ward.id,
        True,
    )
    receive_stock(session, actor=world.storekeeper, item_id=world.gloves, location_id=store.id, quantity=3)
    errors = _errors(
        lambda: save_store(
            session,
            actor=world.storekeeper,
            data={
                "code": "W7",
                "name": "Ward 7 store",
                "kind": "ward",
                "ward_id": str(ward.id),
                "active": "",
            },
            location_id=store.id,
        )
    )
    assert errors == {"active": "Ward 7 store still holds stock: move or write it off before closing it."}
    renamed = save_store(
        session,
        actor=world.storekeeper,
        data={"code": "W7", "name": "Ward 7 supplies", "kind": "ward", "ward_id": str(ward.id)},
        location_id=store.id,
    )
    assert renamed.name == "Ward 7 supplies"
    assert _audits(session, "inventory.store") == [
        "opened W7 Ward 7 store",
        "changed W7: name Ward 7 store -> Ward 7 supplies",
    ]
    stores = {s.code: s for s in list_stores(session, actor=world.nurse)}
    assert (stores["W7"].department, stores["W7"].ward, stores["W7"].items_held) == (
        "General Medicine",
        "Ward 7",
        1,
    )


def test_levels_keep_min_below_reorder_below_max(session, world):
    def level(data):
        return save_level(
            session, actor=world.storekeeper, item_id=world.syringe, location_id=world.ward_store, data=data
        )

    errors = _errors(lambda: level({"min_quantity": "10", "reorder_point": "5", "max_quantity": "4"}))
    assert errors == {
        "reorder_point": "The reorder point must not be below the minimum.",
        "max_quantity": "The maximum must not be below the reorder point.",
    }
    errors = _errors(lambda: level({"min_quantity": "-1", "reorder_point": "x", "max_quantity": "0"}))
    assert errors == {
        "min_quantity": "The minimum must be at least 0.",
        "reorder_point": "The reorder point must be a whole number.",
        "max_quantity": "The maximum must be above zero: it is what the store is filled up to.",
    }
    saved = level({"min_quantity": "5", "reorder_point": "10", "max_quantity": "40", "bin": " A-03 "})
    assert (saved.min_quantity, saved.reorder_point, saved.max_quantity, saved.bin) == (5, 10, 40, "A-03")
    again = level({"min_quantity": "2", "reorder_point": "10", "max_quantity": "40", "bin": ""})
    assert again.id == saved.id and again.bin is None
    detail = item_detail(session, actor=world.nurse, item_id=world.syringe)
    assert [(lv.store, lv.min_quantity, lv.reorder_point, lv.max_quantity) for lv in detail.levels] == [
        ("Ward 3 store", 2, 10, 40)
    ]
    assert [(p.name, p.base_quantity) for p in detail.packs] == [("box", 50)]
    assert remove_level(
        session, actor=world.storekeeper, item_id=world.syringe, location_id=world.ward_store
    ) == ("Syringe 10 ml at Ward 3 store")
    assert session.execute(select(StockLevel)).first() is None
    assert _audits(session, "inventory.level") == [
        "SYR-10 at Ward 3 store: min 5, reorder at 10, max 40, bin A-03",
        "SYR-10 at Ward 3 store: min 2, reorder at 10, max 40, bin - (was 5/10/40, bin A-03)",
        "SYR-10 at Ward 3 store: levels removed (were 2/10/40)",
    ]


def test_only_a_storekeeper_changes_the_catalogue(session, world):
    store_data = {"code": "X1", "name": "X store", "kind": "central"}
    for actor in (world.nurse, world.pharmacist, world.receptionist):
        for call in (
            lambda a: save_item(session, actor=a, data=ITEM),
            lambda a: save_item(session, actor=a, data=ITEM, item_id=world.gloves),
            lambda a: save_pack(
                session, actor=a, item_id=world.gloves, data={"name": "case", "base_quantity": 5}
            ),
            lambda a: remove_pack(session, actor=a, pack_id=1),
            lambda a: save_store(session, actor=a, data=store_data),
            lambda a: save_level(
                session, actor=a, item_id=world.gloves, location_id=world.central, data={"max_quantity": 5}
            ),
            lambda a: remove_level(session, actor=a, item_id=world.gloves, location_id=world.central),
        ):
            with pytest.raises(Forbidden):
                call(actor)
    # A receptionist does not even read it.
    for read in (list_items, list_stores, visible_stores, catalogue_choices):
        with pytest.raises(Forbidden):
            read(session, actor=world.receptionist)
    assert session.execute(select(StockLocation).where(StockLocation.code == "X1")).first() is None
    assert _audits(session, "inventory.item") == _audits(session, "inventory.store") == []


def test_the_item_list_pages_searches_and_sums_every_store(session, world):
    receive_stock(
        session,
        actor=world.storekeeper,
        item_id=world.gloves,
        location_id=world.central,
        quantity=2,
        pack="box",
    )
    receive_stock(
        session, actor=world.storekeeper, item_id=world.gloves, location_id=world.ward_store, quantity=30
    )
    rows, total = list_items(session, actor=world.nurse)
    assert total == 3 and [(r.code, r.on_hand) for r in rows] == [
        ("GLV-M", 230),
        ("PCM-500", 0),
        ("SYR-10", 0),
    ]
    rows, total = list_items(session, actor=world.nurse, offset=1, limit=1)
    assert total == 3 and [r.code for r in rows] == ["PCM-500"]
    assert [r.code for r in list_items(session, actor=world.nurse, query="syringe")[0]] == ["SYR-10"]
    assert [r.code for r in list_items(session, actor=world.nurse, query="5012345678900")[0]] == ["GLV-M"]
    assert [r.code for r in list_items(session, actor=world.nurse, category="medicine")[0]] == ["PCM-500"]
    assert list_items(session, actor=world.nurse, query="100%_")[1] == 0  # wildcards are only characters


def test_each_user_sees_the_stores_of_their_department(session, world):
    assert [s.name for s in visible_stores(session, actor=world.storekeeper)] == [
        "Cardiology store",
        "Central store",
        "Main pharmacy",
        "Ward 3 store",
    ]
    nurse = visible_stores(session, actor=world.nurse)
    assert [(s.name, s.can_issue, s.can_keep) for s in nurse] == [("Ward 3 store", True, False)]
    pharmacist = visible_stores(session, actor=world.pharmacist)
    assert [(s.name, s.can_issue, s.can_keep) for s in pharmacist] == [("Main pharmacy", True, True)]
    with pytest.raises(NotFound):
        store_stock(session, actor=world.nurse, location_id=world.other_ward_store)


def test_a_stores_stock_shows_lots_expiry_and_reorder_flags(session, world):
    for lot, expiry, quantity in (("LATE", LATER, 4), ("EARLY", SOON, 3)):
        receive_stock(
            session,
            actor=world.storekeeper,
            item_id=world.syringe,
            location_id=world.ward_store,
            quantity=quantity,
            lot_number=lot,
            expiry_date=expiry,
        )
    receive_stock(
        session, actor=world.storekeeper, item_id=world.gloves, location_id=world.ward_store, quantity=500
    )
    for item, numbers in (
        (world.syringe, (5, 10, 30)),
        (world.paracetamol, (0, 20, 100)),
        (world.gloves, (50, 100, 800)),
    ):
        save_level(
            session,
            actor=world.storekeeper,
            item_id=item,
            location_id=world.ward_store,
            data=dict(zip(("min_quantity", "reorder_point", "max_quantity"), numbers, strict=True)),
        )
    rows, total = store_stock(session, actor=world.nurse, location_id=world.ward_store)
    assert total == 3
    shown = {r.code: r for r in rows}
    assert [r.code for r in rows] == ["GLV-M", "PCM-500", "SYR-10"]  # by name
    syringe = shown["SYR-10"]
    assert (syringe.on_hand, syringe.usable, syringe.flag, syringe.next_expiry) == (7, 7, "reorder", SOON)
    assert [(lot.lot_number, lot.quantity, lot.expiring) for lot in syringe.lots] == [
        ("EARLY", 3, True),
        ("LATE", 4, False),
    ]
    assert (shown["PCM-500"].on_hand, shown["PCM-500"].flag) == (0, "out")
    assert (shown["GLV-M"].flag, shown["GLV-M"].lots[0].lot_number) == ("", "")  # untracked
    low, total = store_stock(session, actor=world.nurse, location_id=world.ward_store, low_only=True)
    assert total == 2 and [r.code for r in low] == ["PCM-500", "SYR-10"]
    page, total = store_stock(
        session, actor=world.nurse, location_id=world.ward_store, query="glove", limit=1
    )
    assert total == 1 and page[0].code == "GLV-M"
