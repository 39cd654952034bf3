"""Money arithmetic of billing: rounding, cents as text and back, and the invoice-line amounts
(the money rules are in the package's docstring, ``services/billing/__init__.py``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hms_app.errors import ValidationError

MAX_AMOUNT_CENTS = 100_000_000  # one million: larger is a typing error, not a hospital bill


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def format_money(cents: int | None) -> str:
    """12345 -> '123.45'; -500 -> '-5.00'."""
    cents = int(cents or 0)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d}"


def parse_money(value, *, field: str = "amount", label: str = "the amount", allow_zero: bool = False) -> int:
    """'12.5' / '12,50' / '1,234.00' -> cents; raises ValidationError with a plain message."""
    text = str(value if value is not None else "").strip().replace(" ", "")
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d{1,2})?", text):
        text = text.replace(",", "")
    text = text.replace(",", ".")
    if not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", text):
        raise ValidationError(f"Enter {label} as a number such as 20 or 12.50.", field=field)
    whole, _, fraction = text.partition(".")
    cents = int(whole) * 100 + int((fraction + "00")[:2])
    if cents == 0 and not allow_zero:
        raise ValidationError(f"Enter {label} greater than zero.", field=field)
    if cents > MAX_AMOUNT_CENTS:
        raise ValidationError(f"{label.capitalize()} is too large.", field=field)
    return cents


@dataclass(frozen=True)
class LineInput:
    quantity: int
    unit_price_cents: int
    discount_cents: int = 0
    tax_rate_bp: int = 0


@dataclass(frozen=True)
class LineAmounts:
    gross_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int
    patient_cents: int
    payer_cents: int


@dataclass(frozen=True)
class ShareTerms:
    """What a coverage makes the patient pay; ``None`` terms mean self-pay."""

    copay_cents: int = 0
    coinsurance_percent: int = 0
    payer_cap_cents: int | None = None


def compute_lines(lines: list[LineInput], terms: ShareTerms | None) -> list[LineAmounts]:
    """Apply the money rules of this module's docstring to invoice lines, in order."""
    base = []
    for line in lines:
        gross = line.quantity * line.unit_price_cents
        discount = min(max(line.discount_cents, 0), gross)
        net = gross - discount
        tax = round_half_up(net * line.tax_rate_bp, 10_000)
        base.append((gross, discount, tax, net + tax))
    if terms is None:
        return [LineAmounts(g, d, t, total, total, 0) for g, d, t, total in base]
    copay_left = max(terms.copay_cents, 0)
    patient = []
    for _g, _d, _t, total in base:
        copay = min(copay_left, total)
        copay_left -= copay
        patient.append(copay + round_half_up((total - copay) * terms.coinsurance_percent, 100))
    payer = [total - share for (_g, _d, _t, total), share in zip(base, patient, strict=True)]
    if terms.payer_cap_cents is not None:
        excess = sum(payer) - max(terms.payer_cap_cents, 0)
        for index in range(len(payer) - 1, -1, -1):
            if excess <= 0:
                break
            moved = min(excess, payer[index])
            payer[index] -= moved
            patient[index] += moved
            excess -= moved
    return [
        LineAmounts(g, d, t, total, p, y) for (g, d, t, total), p, y in zip(base, patient, payer, strict=True)
    ]
