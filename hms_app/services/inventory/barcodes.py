"""Barcodes: reading the GS1 codes on medical packaging and printing item labels.

A GS1 DataMatrix or GS1-128 code carries the product's GTIN (01), its lot (10), expiry (17) and
serial number (21). Scanners send it as text: with or without the ``]d2`` / ``]C1`` symbology
prefix, with the group separator (ASCII 29) after variable-length fields, or as the
human-readable form with the identifiers in brackets. ``biip`` (a maintained GS1 library) parses
all of them; this module turns the result into what a receipt or issue line needs and finds the
item and pack the GTIN belongs to. Labels carry the item code as Code 128 (python-barcode).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import barcode
import biip
from barcode.writer import SVGWriter
from biip.gs1_messages import GS1Message
from sqlalchemy import select
from sqlmodel import Session

from hms_app.errors import NotFound, ValidationError
from hms_app.models.inventory import StockItem, StockLot, StockPackUnit
from hms_app.services.permissions import Actor, authorize

MAX_SCAN = 200  # characters: a GS1 code is far shorter; more is not a scan
GROUP_SEPARATOR = "\x1d"
# Keyboard-wedge scanners that cannot type ASCII 29 are often set to send one of these instead.
SEPARATOR_STAND_INS = ("<GS>", "{GS}", "\\x1d", "\u241d")


@dataclass(frozen=True)
class Gs1Scan:
    gtin: str | None
    lot_number: str | None
    expiry_date: date | None
    serial: str | None


def parse_gs1(text: str) -> Gs1Scan:
    """The GS1 element strings of a scanned code, or a message saying it is not one."""
    raw = str(text or "").strip()
    if not raw:
        raise ValidationError("Scan a barcode first.", field="scan")
    if len(raw) > MAX_SCAN:
        raise ValidationError("That is too long to be a barcode.", field="scan")
    for stand_in in SEPARATOR_STAND_INS:
        raw = raw.replace(stand_in, GROUP_SEPARATOR)
    plain = None  # a bare EAN-13, UPC-A or GTIN-14 (only the product number, as on many boxes)
    try:
        if raw.startswith("("):
            message = GS1Message.parse_hri(raw)
        else:
            result = biip.parse(raw)
            message = result.gs1_message
            plain = result.gtin.as_gtin_14() if result.gtin is not None else None
    except (biip.ParseError, ValueError):
        message = None
    if plain is not None and (message is None or not any(e.ai.ai == "01" for e in message.element_strings)):
        return Gs1Scan(gtin=plain, lot_number=None, expiry_date=None, serial=None)
    if message is None:
        raise ValidationError(
            "That barcode is not a GS1 code (no product number, lot or expiry in it).", field="scan"
        )
    found: dict[str, object] = {}
    for element in message.element_strings:
        ai = element.ai.ai
        if ai == "01":
            if element.gtin_error:
                raise ValidationError(
                    f"The product number {element.value} in that barcode does not add up (its check digit "
                    "is wrong): scan it again.",
                    field="scan",
                )
            found["gtin"] = element.value
        elif ai == "10":
            found["lot_number"] = element.value
        elif ai == "17":
            found["expiry_date"] = element.date
        elif ai == "21":
            found["serial"] = element.value
    if "gtin" not in found:
        raise ValidationError("That barcode has no product number (GTIN) in it.", field="scan")
    return Gs1Scan(
        gtin=str(found["gtin"]),
        lot_number=found.get("lot_number"),
        expiry_date=found.get("expiry_date"),
        serial=found.get("serial"),
    )


def _gtin_keys(gtin: str) -> tuple[str, ...]:
    """A GTIN as stored: GTIN-14 with leading zeros, or the shorter GTIN-13/12 it pads."""
    stripped = gtin.lstrip("0")
    return tuple({gtin, gtin.zfill(14), stripped.zfill(13), stripped.zfill(12)})


@dataclass(frozen=True)
class ScanMatch:
    item_id: int
    item_code: str
    item_name: str
    base_unit: str
    pack: str  # the pack name the code is printed on, or the base unit
    pack_quantity: int  # base units in that pack
    lot_number: str
    expiry_date: date | None
    serial: str
    lot_id: int | None  # the lot when it is already in stock


def identify_scan(session: Session, *, actor: Actor, text: str) -> ScanMatch:
    """The item, pack, lot and expiry a scanned GS1 code stands for."""
    authorize(actor, "inventory.read")
    scan = parse_gs1(text)
    keys = _gtin_keys(scan.gtin)
    pack_row = session.execute(
        select(StockPackUnit, StockItem).join(StockItem).where(StockPackUnit.gtin.in_(keys)).limit(1)
    ).first()
    if pack_row is not None:
        pack, item = pack_row
        pack_name, per_pack = pack.name, pack.base_quantity
    else:
        item = session.execute(
            select(StockItem).where(StockItem.gtin.in_(keys)).limit(1)
        ).scalar_one_or_none()
        if item is None:
            raise NotFound(
                f"No stock item has the product number {scan.gtin}: add it to the item (or its pack) first."
            )
        pack_name, per_pack = item.base_unit, 1
    lot_id = None
    if scan.lot_number:
        lot_id = session.execute(
            select(StockLot.id).where(StockLot.item_id == item.id, StockLot.lot_number == scan.lot_number)
        ).scalar_one_or_none()
    return ScanMatch(
        item_id=item.id,
        item_code=item.code,
        item_name=item.name,
        base_unit=item.base_unit,
        pack=pack_name,
        pack_quantity=per_pack,
        lot_number=scan.lot_number or "",
        expiry_date=scan.expiry_date,
        serial=scan.serial or "",
        lot_id=lot_id,
    )


def code128_svg(value: str) -> str:
    """A Code 128 barcode of ``value`` with the text under it, as an SVG document."""
    value = str(value or "").strip()
    if not value or len(value) > 40 or not value.isascii() or not value.isprintable():
        raise ValidationError("A label needs a short printable code.", field="code")
    out = io.BytesIO()
    barcode.get("code128", value, writer=SVGWriter()).write(
        out, options={"module_height": 12.0, "font_size": 8, "text_distance": 4.0, "quiet_zone": 4.0}
    )
    return out.getvalue().decode()
