"""The laboratory trend figure: the reference band as it applied at each point, one-sided ranges as
a line, flags written on the abnormal points (not only coloured), an empty figure that says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hms_app.analytics.lab_trend import ABNORMAL_COLOR, CRITICAL_COLOR, LINE_COLOR, lab_trend_figure

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float
    flag: str
    low: float | None
    high: float | None


def test_the_band_follows_each_points_range_and_flags_are_written_on_the_points():
    points = [
        Point(START, 4.1, "N", 4.1, 5.3),  # an infant's range ...
        Point(START + timedelta(days=400), 5.5, "H", 3.4, 4.7),  # ... then a child's
        Point(START + timedelta(days=401), 6.6, "HH", 3.4, 4.7),
    ]
    figure = lab_trend_figure(points, name="K", unit="mmol/L")
    high, low, values = figure.data
    assert list(high.y) == [5.3, 4.7, 4.7] and list(low.y) == [4.1, 3.4, 3.4] and low.fill == "tonexty"
    assert list(values.y) == [4.1, 5.5, 6.6]
    assert list(values.text) == ["", "H", "HH"]
    assert list(values.marker.color) == [LINE_COLOR, ABNORMAL_COLOR, CRITICAL_COLOR]
    assert "HH (critically high)" in values.customdata[2]
    low_edge, high_edge = figure.layout.yaxis.range
    assert low_edge < 3.4 and high_edge > 6.6
    assert "shaded: reference range" in figure.layout.title.text


def test_a_one_sided_range_is_a_dashed_limit_and_one_point_gets_a_days_axis():
    figure = lab_trend_figure([Point(START, 205.0, "H", None, 199.0)], name="Chol", unit="mg/dL")
    assert len(figure.data) == 1 and figure.layout.shapes[0].y0 == 199.0
    assert "upper reference limit 199" in figure.layout.title.text
    first, last = figure.layout.xaxis.range
    assert (last - first) == timedelta(days=2)


def test_no_points_says_so():
    figure = lab_trend_figure([], name="K", unit="mmol/L")
    assert figure.layout.annotations[0].text == "No numeric results of this test yet"
    assert figure.layout.xaxis.visible is False
