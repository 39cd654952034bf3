"""Laboratory result flags and delta checks: pure functions, no database.

The edges, as ``LabReferenceRange`` writes them down:

* an age band runs from ``age_min_days`` (inclusive) up to ``age_max_days`` (exclusive; none: no
  upper bound), the age being counted in whole days on the day of collection;
* a range for the patient's own sex wins over one for ``any`` sex (patients of sex ``other`` or
  ``unknown`` are judged by the ``any`` ranges only);
* the normal limits are inclusive: a value equal to ``low`` or ``high`` is normal (``N``); below
  ``low`` is ``L``, above ``high`` is ``H``;
* a critical limit is reached AT or beyond it: ``value <= critical_low`` is ``LL``, ``value >=
  critical_high`` is ``HH`` (critical wins over low/high);
* a coded or text result is ``N`` when it equals the range's ``normal_text`` (ignoring case and
  surrounding spaces) and ``A`` (abnormal) otherwise; without a normal text it is not flagged;
* a delta check fires when the change from the previous released result is LARGER than
  ``delta_limit`` (a change exactly equal to it does not fire).

A missing limit is simply not applied; a numeric test with no range for the patient gets no flag
(``""``), never a guessed one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

CRITICAL_FLAGS = frozenset({"LL", "HH"})
ABNORMAL_FLAGS = frozenset({"LL", "L", "H", "HH", "A"})


@dataclass(frozen=True)
class Limits:
    """One reference range as the flag functions need it."""

    sex: str = "any"
    age_min_days: int = 0
    age_max_days: int | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None
    delta_limit: Decimal | None = None
    normal_text: str | None = None


def age_in_days(birth_date: date, on: date) -> int:
    """Whole days of age on a day (0 on the day of birth)."""
    return (on - birth_date).days


def covers_age(limits: Limits, age_days: int) -> bool:
    return limits.age_min_days <= age_days and (limits.age_max_days is None or age_days < limits.age_max_days)


def select_range(ranges: Iterable[Limits], *, sex: str, age_days: int) -> Limits | None:
    """The range that applies to a patient of ``sex`` aged ``age_days``: their own sex's band
    first, else the ``any`` band; None when no band covers the age."""
    sex = (sex or "").lower()
    candidates = [r for r in ranges if covers_age(r, age_days)]
    for wanted in ((sex,) if sex in ("male", "female") else ()) + ("any",):
        matching = [r for r in candidates if r.sex == wanted]
        if matching:
            # Bands of one sex never overlap (the catalogue refuses it); the narrowest wins if
            # old data ever has them overlap.
            return min(matching, key=lambda r: (r.age_max_days or 10**9) - r.age_min_days)
    return None


def numeric_flag(value: Decimal, limits: Limits | None) -> str:
    """LL / L / N / H / HH of a number against a range ("" without one)."""
    if limits is None:
        return ""
    if limits.critical_low is not None and value <= limits.critical_low:
        return "LL"
    if limits.critical_high is not None and value >= limits.critical_high:
        return "HH"
    if limits.low is not None and value < limits.low:
        return "L"
    if limits.high is not None and value > limits.high:
        return "H"
    if limits.low is None and limits.high is None:
        return ""  # only critical limits: within them says nothing about normal
    return "N"


def coded_flag(value: str, limits: Limits | None) -> str:
    """N when a coded or text result equals the normal text, A otherwise ("" without one)."""
    if limits is None or not (limits.normal_text or "").strip():
        return ""
    return "N" if value.strip().casefold() == limits.normal_text.strip().casefold() else "A"


def delta_exceeded(value: Decimal, previous: Decimal | None, limits: Limits | None) -> bool:
    """Whether the change since ``previous`` is larger than the range's delta limit."""
    if previous is None or limits is None or limits.delta_limit is None:
        return False
    return abs(value - previous) > limits.delta_limit


def format_number(value: Decimal | None, decimals: int) -> str:
    """A stored number as the test shows it: ``5.4`` with one decimal, ``140`` with none."""
    if value is None:
        return ""
    quantum = Decimal(1).scaleb(-max(0, decimals))
    return str(Decimal(value).quantize(quantum))


def reference_text(limits: Limits | None, decimals: int) -> str:
    """The range a result was judged by, as printed beside it: ``3.5-5.1``, ``<= 5.6``,
    ``>= 60``, or the normal text of a coded test."""
    if limits is None:
        return ""
    low, high = format_number(limits.low, decimals), format_number(limits.high, decimals)
    if low and high:
        return f"{low}-{high}"
    if high:
        return f"<= {high}"
    if low:
        return f">= {low}"
    return (limits.normal_text or "").strip()[:60]


def critical_summary(name: str, value: str, unit: str, flag: str) -> str:
    """What a critical alert says: ``K 6.9 mmol/L (HH)`` (the laboratory passes the test's short name)."""
    return " ".join(part for part in (name, value, unit, f"({flag})") if part)[:200]
