"""Money arithmetic of billing: rounding, cents as text and back, and the invoice-line amounts
(the money rules are in the package's docstring, ``services/billing/__init__.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from hms_app.money import MAX_AMOUNT_CENTS, format_money, parse_money  # noqa: F401  (billing's money words)


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


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
