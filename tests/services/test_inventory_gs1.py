"""Scanning real-world GS1 codes: what a keyboard-wedge scanner types for a GS1 DataMatrix or a
GS1-128 label (with or without the symbology prefix, with ASCII 29 group separators, with a stand-in
for them, with none where the fixed-length fields come first), the bracketed human-readable line
typed by hand, a bare EAN-13 off a box, and what is not a product code at all; then finding the
item and pack a scan stands for. Item labels print the code as Code 128."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from hms_app.clock import local_today
from hms_app.errors import Forbidden, NotFound, ValidationError
from hms_app.services.inventory.barcodes import code128_svg, identify_scan, parse_gs1
from hms_app.services.inventory.ledger import receive_stock
from tests.services.inventory_world import build_world

GS = "\x1d"
SYRINGE = "09506000134352"  # the syringe's own GTIN (inventory_world)
SYRINGE_BOX = "19506000134359"  # its box of 50
EXPIRY = date(2028, 12, 31)


@pytest.mark.parametrize(
    ("scanned", "expected"),
    [
        # GS1 DataMatrix as a scanner sends it: ]d2, then GTIN, expiry, lot, GS, serial.
        (f"]d201{SYRINGE}17281231106789{GS}21SN123", (SYRINGE, "6789", EXPIRY, "SN123")),
        # Lot before expiry: the separator ends the variable-length lot.
        (f"]d201{SYRINGE}10LOT-42{GS}17281231", (SYRINGE, "LOT-42", EXPIRY, None)),
        # A trailing separator some printers add after the last field.
        (f"]d201{SYRINGE}1728123110ABC{GS}", (SYRINGE, "ABC", EXPIRY, None)),
        # GS1-128 (]C1) as printed on an outer carton, with the pack's GTIN.
        (f"]C101{SYRINGE_BOX}1028A1234{GS}17281231", (SYRINGE_BOX, "28A1234", EXPIRY, None)),
        # No prefix and no separator: the fixed-length fields first, the variable lot last.
        (f"01{SYRINGE}172812311012345", (SYRINGE, "12345", EXPIRY, None)),
        # Expiry day 00: the end of that month.
        (f"01{SYRINGE}172812001012345", (SYRINGE, "12345", EXPIRY, None)),
        # The human-readable line under the code, typed in with its brackets.
        (f"(01){SYRINGE}(17)281231(10)ABC123(21)XYZ", (SYRINGE, "ABC123", EXPIRY, "XYZ")),
        # Scanners that cannot send ASCII 29 send a stand-in: <GS>, {GS}, a typed \x1d, or ␝.
        (f"01{SYRINGE}1728123110LOT7<GS>21S9", (SYRINGE, "LOT7", EXPIRY, "S9")),
        (f"01{SYRINGE}1728123110LOT7{{GS}}21S9", (SYRINGE, "LOT7", EXPIRY, "S9")),
        (f"01{SYRINGE}1728123110LOT7\\x1d21S9", (SYRINGE, "LOT7", EXPIRY, "S9")),
        (f"01{SYRINGE}1728123110LOT7\u241d21S9", (SYRINGE, "LOT7", EXPIRY, "S9")),
        # Leading and trailing blanks (and the Enter) a scanner or a hand adds.
        (f"  ]d201{SYRINGE}10A1\n", (SYRINGE, "A1", None, None)),
        # A bare EAN-13 (GTIN-13), with or without its ]E0 prefix: the product number only.
        ("9506000134352", (SYRINGE, None, None, None)),
        ("]E09506000134352", (SYRINGE, None, None, None)),
    ],
)
def test_real_world_scans_are_read(scanned, expected):
    scan = parse_gs1(scanned)
    assert (scan.gtin, scan.lot_number, scan.expiry_date, scan.serial) == expected


@pytest.mark.parametrize(
    ("scanned", "message"),
    [
        ("", "Scan a barcode first."),
        ("   ", "Scan a barcode first."),
        ("hello world", "That barcode is not a GS1 code (no product number, lot or expiry in it)."),
        (
            "https://example.org/item/42",
            "That barcode is not a GS1 code (no product number, lot or expiry in it).",
        ),
        ("(10)ABC123(17)281231", "That barcode has no product number (GTIN) in it."),
        ("]d210ABC123", "That barcode has no product number (GTIN) in it."),
        (
            "01095060001343531028A1",
            "The product number 09506000134353 in that barcode does not add up (its check digit is wrong): "
            "scan it again.",
        ),
        ("0" * 201, "That is too long to be a barcode."),
    ],
)
def test_what_is_not_a_product_code_is_refused_plainly(scanned, message):
    with pytest.raises(ValidationError) as caught:
        parse_gs1(scanned)
    assert str(caught.value) == message
    assert caught.value.field == "scan"


@pytest.fixture
def world(session):
    return build_world(session)


def test_a_scan_finds_the_item_by_its_own_gtin_and_the_lot_in_stock(session, world):
    lot_expiry = local_today() + timedelta(days=200)
    receive_stock(
        session,
        actor=world.storekeeper,
        item_id=world.syringe,
        location_id=world.central,
        quantity=5,
        lot_number="L-77",
        expiry_date=lot_expiry,
    )
    match = identify_scan(
        session, actor=world.nurse, text=f"]d201{SYRINGE}17{lot_expiry:%y%m%d}10L-77{GS}21S-1"
    )
    assert (match.item_id, match.item_code, match.pack, match.pack_quantity) == (
        world.syringe,
        "SYR-10",
        "each",
        1,
    )
    assert (match.lot_number, match.expiry_date, match.serial) == ("L-77", lot_expiry, "S-1")
    assert match.lot_id is not None  # the lot already in stock: an issue can name it
    fresh = identify_scan(session, actor=world.nurse, text=f"01{SYRINGE}10NEW-LOT")
    assert (fresh.lot_number, fresh.lot_id) == ("NEW-LOT", None)
    # The item's GTIN scanned as a bare EAN-13 is the same item.
    assert identify_scan(session, actor=world.nurse, text="9506000134352").item_id == world.syringe


def test_a_scan_of_a_packs_gtin_finds_the_pack(session, world):
    match = identify_scan(session, actor=world.storekeeper, text=f"]C101{SYRINGE_BOX}10B9{GS}17281231")
    assert (match.item_id, match.pack, match.pack_quantity, match.lot_number) == (
        world.syringe,
        "box",
        50,
        "B9",
    )
    gloves = identify_scan(session, actor=world.storekeeper, text="(01)15012345678907")
    assert (gloves.item_id, gloves.pack, gloves.pack_quantity) == (world.gloves, "box", 100)


def test_an_unknown_gtin_says_what_to_do(session, world):
    with pytest.raises(NotFound) as caught:
        identify_scan(session, actor=world.storekeeper, text="(01)04006381333931(10)X")
    assert str(caught.value) == (
        "No stock item has the product number 04006381333931: add it to the item (or its pack) first."
    )


def test_only_stock_users_identify_scans(session, world):
    with pytest.raises(Forbidden):
        identify_scan(session, actor=world.receptionist, text=f"01{SYRINGE}")


def test_item_labels_are_code_128_svg():
    svg = code128_svg("SYR-10")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "SYR-10" in svg
    assert svg.count("<rect") > 20  # the bars
    for bad in ("", "é-accent", "x" * 41, "tab\there"):
        with pytest.raises(ValidationError, match="A label needs a short printable code."):
            code128_svg(bad)
