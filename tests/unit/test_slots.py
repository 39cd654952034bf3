"""Slot derivation rules: weekly templates in local time (DST included), busy time, start grid."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hms_app.services.scheduling.slots import (
    RuleWindow,
    block_starts,
    blocks_to_busy,
    day_bounds,
    fits,
    free_starts,
    local_moment,
    merge,
    rule_windows,
    step_for,
    subtract,
)

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 12, 7)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def rules(*spans, weekday=0, valid_from=date(2026, 1, 1), valid_to=None):
    return [RuleWindow(weekday, time(a), time(b), valid_from, valid_to) for a, b in spans]


def test_rules_apply_on_their_weekday_and_validity_only():
    assert rule_windows(MONDAY, rules((8, 12)), BERLIN) == [(utc(2026, 12, 7, 7), utc(2026, 12, 7, 11))]
    assert rule_windows(MONDAY + timedelta(days=1), rules((8, 12)), BERLIN) == []
    assert rule_windows(MONDAY, rules((8, 12), valid_to=date(2026, 12, 6)), BERLIN) == []
    assert rule_windows(MONDAY, rules((8, 12), valid_from=date(2026, 12, 8)), BERLIN) == []
    # Morning and afternoon lines; touching lines join into one window.
    assert rule_windows(MONDAY, rules((8, 12), (13, 17)), BERLIN) == [
        (utc(2026, 12, 7, 7), utc(2026, 12, 7, 11)),
        (utc(2026, 12, 7, 12), utc(2026, 12, 7, 16)),
    ]
    assert rule_windows(MONDAY, rules((8, 12), (12, 17)), BERLIN) == [
        (utc(2026, 12, 7, 7), utc(2026, 12, 7, 16))
    ]


def test_summer_and_winter_local_hours_map_to_different_utc_hours():
    summer = date(2026, 7, 6)  # a Monday, UTC+2
    assert rule_windows(summer, rules((8, 12)), BERLIN) == [(utc(2026, 7, 6, 6), utc(2026, 7, 6, 10))]


def test_dst_nights_keep_wall_clock_hours():
    spring = date(2026, 3, 29)  # a Sunday: 02:00 jumps to 03:00
    (window,) = rule_windows(spring, rules((1, 4), weekday=6), BERLIN)
    assert window[1] - window[0] == timedelta(hours=2)  # 01:00-04:00 local is two real hours
    start, end = day_bounds(spring, BERLIN)
    assert end - start == timedelta(hours=23)
    autumn = date(2026, 10, 25)  # a Sunday: 03:00 falls back to 02:00
    (window,) = rule_windows(autumn, rules((1, 4), weekday=6), BERLIN)
    assert window[1] - window[0] == timedelta(hours=4)
    start, end = day_bounds(autumn, BERLIN)
    assert end - start == timedelta(hours=25)
    # A wall time inside the spring gap lands after it.
    assert local_moment(spring, time(2, 30), BERLIN).astimezone(BERLIN).time() == time(3, 30)


def test_subtract_and_merge():
    a, b = utc(2026, 1, 1, 8), utc(2026, 1, 1, 12)
    busy = [(utc(2026, 1, 1, 9), utc(2026, 1, 1, 10)), (utc(2026, 1, 1, 9, 30), utc(2026, 1, 1, 10, 30))]
    assert merge(busy) == [(utc(2026, 1, 1, 9), utc(2026, 1, 1, 10, 30))]
    assert subtract([(a, b)], busy) == [(a, utc(2026, 1, 1, 9)), (utc(2026, 1, 1, 10, 30), b)]
    assert subtract([(a, b)], [(utc(2026, 1, 1, 7), utc(2026, 1, 1, 13))]) == []
    assert subtract([(a, b)], []) == [(a, b)]


def test_blocks_become_busy_intervals():
    starts = [utc(2026, 1, 1, 9, m) for m in (0, 5, 10, 30)]
    assert blocks_to_busy(starts) == [
        (utc(2026, 1, 1, 9), utc(2026, 1, 1, 9, 15)),
        (utc(2026, 1, 1, 9, 30), utc(2026, 1, 1, 9, 35)),
    ]
    assert block_starts(utc(2026, 1, 1, 9), utc(2026, 1, 1, 9, 20)) == starts[:3] + [utc(2026, 1, 1, 9, 15)]


def test_starts_follow_the_grid_and_use_gaps_from_their_beginning():
    anchor = utc(2026, 1, 1, 0)
    free = [(utc(2026, 1, 1, 8), utc(2026, 1, 1, 9)), (utc(2026, 1, 1, 9, 25), utc(2026, 1, 1, 10))]
    twenty = timedelta(minutes=20)
    starts = free_starts(free, twenty, anchor=anchor, step=step_for(twenty), not_before=None)
    assert [s.strftime("%H:%M") for s in starts] == ["08:00", "08:15", "08:30", "09:25", "09:30"]
    # Short visits step by their own length.
    ten = timedelta(minutes=10)
    assert step_for(ten) == ten
    starts = free_starts(free[:1], ten, anchor=anchor, step=step_for(ten), not_before=utc(2026, 1, 1, 8, 31))
    assert [s.strftime("%H:%M") for s in starts] == ["08:35", "08:40", "08:50"]


def test_fits_needs_one_free_interval_to_hold_the_whole_visit():
    free = [(utc(2026, 1, 1, 8), utc(2026, 1, 1, 9)), (utc(2026, 1, 1, 9, 5), utc(2026, 1, 1, 10))]
    assert fits(free, utc(2026, 1, 1, 8, 40), utc(2026, 1, 1, 9))
    assert not fits(free, utc(2026, 1, 1, 8, 50), utc(2026, 1, 1, 9, 10))  # spans a busy gap
