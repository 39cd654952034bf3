"""The frequency codes a medication order is written with, each with its administration times.

Times are the hospital's local clock (the MAR's scheduled doses); a code with an interval in hours
gives the doses a day that interval allows (q4h: 6). ``weekly`` is one dose on the start's weekday
at 08:00; ``PRN`` alone has no times (the order's maximum doses a day bounds it); ``once`` is a
single dose at the start. Data only, no database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import time
from decimal import Decimal


@dataclass(frozen=True)
class Frequency:
    code: str
    label: str
    times: tuple[time, ...]  # local administration times within a day (weekly: on one day)
    per_day: Decimal  # doses in 24 hours (weekly: 1/7); 0 for PRN (the order's maximum counts)
    interval_hours: int | None = None  # the least time between doses, where the code says it

    @property
    def prn_only(self) -> bool:
        return self.code == "PRN"

    def doses_in(self, days: int) -> int:
        """Scheduled doses over ``days`` whole days. Less than daily counts every started interval,
        the first dose being on day one: weekly over 8 days is 2 doses, q72h over 7 days is 3."""
        if self.code == "once":
            return 1
        if self.per_day == self.per_day.to_integral_value():
            return int(self.per_day) * days
        return math.ceil(days * 24 / self.interval_hours)


def _t(*hours: int) -> tuple[time, ...]:
    return tuple(time(hour) for hour in hours)


FREQUENCIES: dict[str, Frequency] = {
    f.code: f
    for f in (
        Frequency("QD", "Once a day", _t(8), Decimal(1), 24),
        Frequency("QHS", "At bedtime", _t(22), Decimal(1), 24),
        Frequency("BID", "Twice a day", _t(8, 20), Decimal(2), 12),
        Frequency("TID", "Three times a day", _t(8, 14, 20), Decimal(3), 6),
        Frequency("QID", "Four times a day", _t(8, 12, 16, 20), Decimal(4), 4),
        Frequency("q4h", "Every 4 hours", _t(2, 6, 10, 14, 18, 22), Decimal(6), 4),
        Frequency("q6h", "Every 6 hours", _t(0, 6, 12, 18), Decimal(4), 6),
        Frequency("q8h", "Every 8 hours", _t(6, 14, 22), Decimal(3), 8),
        Frequency("q12h", "Every 12 hours", _t(8, 20), Decimal(2), 12),
        Frequency("q24h", "Every 24 hours", _t(8), Decimal(1), 24),
        Frequency("q72h", "Every 72 hours", _t(8), Decimal(1) / Decimal(3), 72),
        Frequency("weekly", "Once a week", _t(8), Decimal(1) / Decimal(7), 168),
        Frequency("once", "Once only", (), Decimal(0)),
        Frequency("PRN", "When required", (), Decimal(0)),
    )
}


def frequency(code) -> Frequency | None:
    """The frequency for a code as typed: case matters only to tell nothing apart, so ``bid`` is BID."""
    text = str(code or "").strip()
    if text in FREQUENCIES:
        return FREQUENCIES[text]
    folded = {key.lower(): value for key, value in FREQUENCIES.items()}
    return folded.get(text.lower())


def frequency_choices() -> list[tuple[str, str]]:
    """(code, label with its times) for a form's list, in the table's order."""
    return [
        (f.code, f"{f.code}: {f.label}" + (f" ({times_text(f)})" if f.times else ""))
        for f in FREQUENCIES.values()
    ]


def times_text(f: Frequency) -> str:
    return ", ".join(t.strftime("%H:%M") for t in f.times)
