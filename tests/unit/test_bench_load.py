"""The load benchmark's arithmetic and what it counts as a keystroke or an error (no timing here)."""

from __future__ import annotations

import math

from bench.load import is_error_event, percentile, summarize, typed


def test_p95_is_a_measured_latency_by_nearest_rank():
    samples = [float(n) for n in range(1, 101)]  # 1 .. 100 ms
    assert percentile(samples, 0.95) == 95.0
    assert percentile(samples, 0.5) == 50.0
    assert percentile([7.0], 0.95) == 7.0
    # Twenty samples: the 19th smallest is the p95, whatever order they came in.
    shuffled = [float(n) for n in (20, 3, 19, 1, 18, 2, 17, 4, 16, 5, 15, 6, 14, 7, 13, 8, 12, 9, 11, 10)]
    assert percentile(shuffled, 0.95) == 19.0
    assert math.isnan(percentile([], 0.95))


def test_one_slow_search_in_ten_shows_in_the_p95_and_the_max():
    summary = summarize([10.0] * 9 + [900.0])
    assert (summary.count, summary.p50, summary.p95, summary.max) == (10, 10.0, 900.0, 900.0)
    assert summarize([]).count == 0
    assert summarize([]).text() == "no samples"


def test_three_keystrokes_send_two_three_and_four_letters():
    assert typed("O'Brien") == ["ob", "obr", "obri"]
    assert typed("Li") == ["li"]  # a short name is typed once, whole


def test_error_toasts_and_a_sign_in_redirect_are_errors_other_events_are_not():
    toast = {"name": "_call_function", "payload": {"function": "toast.error('Search failed')"}}
    assert is_error_event(toast)
    assert is_error_event({"name": "_redirect", "payload": {"path": "/login?next=/patients"}})
    assert not is_error_event({"name": "_redirect", "payload": {"path": "/patients/12"}})
    assert not is_error_event({"name": "_call_function", "payload": {"function": "toast.success('Saved')"}})
