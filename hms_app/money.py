"""Money as integer cents: one way to read an amount a person typed, one way to show one."""

from __future__ import annotations

import re

from hms_app.errors import ValidationError

MAX_AMOUNT_CENTS = 100_000_000  # one million: larger is a typing error, not a hospital bill
_GROUPED = re.compile(r"\d{1,3}(,\d{3})+(\.\d{1,2})?")  # 1,234.00: commas group thousands
_PLAIN = re.compile(r"\d{1,9}(\.\d{1,2})?")


def format_money(cents: int | None, *, symbol: str = "") -> str:
    """12345 -> '123.45' (or '$123.45' with the symbol); -500 -> '-5.00'."""
    cents = int(cents or 0)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{symbol}{whole:,}.{part:02d}"


def parse_money(
    value,
    *,
    field: str = "amount",
    label: str = "the amount",
    allow_zero: bool = False,
    blank_is_zero: bool = False,
    max_cents: int = MAX_AMOUNT_CENTS,
) -> int:
    """'12.5', '12,50' and '1,234.00' -> cents; anything else raises a plain ValidationError.

    A comma followed by exactly three digits groups thousands; any other comma is a decimal
    comma. Negative amounts are refused: a refund or a discount is its own kind of entry.
    """
    text = str(value if value is not None else "").strip().replace(" ", "")
    if not text and blank_is_zero:
        return 0
    if text.startswith("-"):
        raise ValidationError(f"Enter {label} as a positive amount.", field=field)
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    text = text.replace(",", ".")
    if not _PLAIN.fullmatch(text):
        raise ValidationError(f"Enter {label} as a number such as 20 or 12.50.", field=field)
    whole, _, fraction = text.partition(".")
    cents = int(whole) * 100 + int((fraction + "00")[:2])
    if cents == 0 and not allow_zero:
        raise ValidationError(f"Enter {label} greater than zero.", field=field)
    if cents > max_cents:
        raise ValidationError(f"{label[0].upper()}{label[1:]} is too large.", field=field)
    return cents
