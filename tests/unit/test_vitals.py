"""Vital-sign limits, BMI and its category, and the trend figure's normal band."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from hms_app.analytics.vitals import vital_trend_figure
from hms_app.cds import scores
from hms_app.cds import vitals as vital_rules
from hms_app.settings import get_settings


@pytest.mark.parametrize("key", list(vital_rules.VITALS))
def test_plausibility_accepts_both_edges_and_refuses_just_beyond(key):
    spec = vital_rules.VITALS[key]
    step = 10**-spec.decimals
    assert vital_rules.check_plausible(key, spec.low) == spec.low
    assert vital_rules.check_plausible(key, spec.high) == spec.high
    for beyond in (spec.low - step, spec.high + step):
        with pytest.raises(vital_rules.ImplausibleValue, match=f"expected {spec.low:g} to {spec.high:g}"):
            vital_rules.check_plausible(key, beyond)


def test_a_pulse_of_900_reads_as_a_typing_error():
    with pytest.raises(vital_rules.ImplausibleValue) as refused:
        vital_rules.check_plausible("heart_rate", 900)
    assert (
        str(refused.value)
        == "A heart rate of 900 /min is not possible; expected 20 to 300 /min. Check the number."
    )


def test_values_are_kept_to_the_precision_of_their_vital():
    assert vital_rules.check_plausible("temperature", 37.26) == 37.3
    assert vital_rules.check_plausible("heart_rate", 71.6) == 72
    assert vital_rules.check_plausible("weight", 70.04) == 70.0


def test_normal_bands_lie_inside_the_plausible_limits():
    for spec in (*vital_rules.VITALS.values(), vital_rules.BMI):
        if spec.normal_low is not None:
            assert spec.low < spec.normal_low < spec.normal_high <= spec.high, spec.key


@pytest.mark.parametrize(
    ("weight", "height", "bmi", "category"),
    [
        (70, 175, 22.9, "healthy weight"),
        (50, 170, 17.3, "underweight"),
        (85, 180, 26.2, "overweight"),
        (100, 170, 34.6, "obesity"),
        (3.5, 50, 14.0, "underweight"),
    ],
)
def test_bmi_and_its_category(weight, height, bmi, category):
    assert round(vital_rules.bmi(weight, height), 1) == bmi
    assert vital_rules.bmi_category(vital_rules.bmi(weight, height)) == category


def test_the_bmi_category_comes_from_the_exact_value_and_only_the_display_rounds():
    """68 kg at 165 cm is 24.977 kg/m²: a healthy weight, although it shows as 25.0."""
    value = vital_rules.bmi(68, 165)
    assert 24.97 < value < 24.98 and f"{value:.1f}" == "25.0"
    assert vital_rules.bmi_category(value) == "healthy weight"
    assert (
        vital_rules.bmi(81, 180) == 25.0
        and vital_rules.bmi_category(vital_rules.bmi(81, 180)) == "overweight"
    )
    assert vital_rules.display_value("bmi", value, "kg/m2") == "25 kg/m²"  # the portal's words
    score = scores.body_mass_index(weight_kg=68, height_cm=165)
    assert (score.band, score.interpretation) == ("healthy weight", "Healthy weight (18.5 to 24.9 kg/m²).")


@pytest.mark.parametrize(
    ("value", "category"),
    [
        (18.4, "underweight"),
        (18.5, "healthy weight"),
        (24.9, "healthy weight"),
        (25.0, "overweight"),
        (29.9, "overweight"),
        (30.0, "obesity"),
    ],
)
def test_bmi_category_edges(value, category):
    assert vital_rules.bmi_category(value) == category


def test_bmi_needs_a_positive_weight_and_height():
    for weight, height in ((0, 170), (70, 0), (-1, 170)):
        with pytest.raises(ValueError):
            vital_rules.bmi(weight, height)


@dataclass(frozen=True)
class Point:
    taken_at: datetime
    value: float


@pytest.fixture
def hospital_in_new_york(monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", "America/New_York")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_trend_shades_the_normal_band_and_shows_local_times(hospital_in_new_york):
    points = [
        Point(datetime(2026, 1, 5, 14, 0, tzinfo=UTC), 88),
        Point(datetime(2026, 1, 6, 14, 0, tzinfo=UTC), 104),
    ]
    figure = vital_trend_figure(points, "heart_rate")
    (band,) = figure.layout.shapes
    assert (band.y0, band.y1, band.type) == (60, 100, "rect")
    (trace,) = figure.data
    assert list(trace.y) == [88, 104]
    assert [t.hour for t in trace.x] == [9, 9]  # 14:00 UTC is 09:00 in New York in January
    low, high = figure.layout.yaxis.range
    assert low < 60 and high > 104  # the whole band and every point are in view
    assert "Heart rate (/min)" in figure.layout.title.text and "60–100" in figure.layout.title.text


def test_readings_that_share_a_day_are_told_apart_by_their_time_on_the_axis(hospital_in_new_york):
    """Four-hourly obs on one day: ticks closer than a day say the time, not four times the date."""
    points = [Point(datetime(2026, 1, 5, hour, 0, tzinfo=UTC), 80 + hour) for hour in (10, 14, 18, 22)]
    figure = vital_trend_figure(points, "heart_rate")
    assert [t.strftime("%H:%M") for t in figure.data[0].x] == ["05:00", "09:00", "13:00", "17:00"]
    stops = {tuple(stop.dtickrange): stop.value for stop in figure.layout.xaxis.tickformatstops}
    hourly = next(value for (low, high), value in stops.items() if low is None)  # hour-spaced ticks
    daily = next(value for (low, high), value in stops.items() if high is None)  # day-spaced ticks
    assert "%H:%M" in hourly and "%H" not in daily
    assert next(high for (low, high) in stops if low is None) < 24 * 3600 * 1000
    assert figure.data[0].hovertemplate.startswith("%{x|%Y-%m-%d %H:%M}")


def test_bmi_trend_names_the_category_of_each_point():
    figure = vital_trend_figure([Point(datetime(2026, 2, 1, tzinfo=UTC), 31.6)], "bmi")
    assert list(figure.data[0].text) == ["31.6 kg/m² · obesity"]
    assert (figure.layout.shapes[0].y0, figure.layout.shapes[0].y1) == (18.5, 25)


def test_a_vital_without_a_band_or_points_still_draws():
    figure = vital_trend_figure([], "weight")
    assert figure.layout.shapes == () and figure.layout.annotations[0].text == "No measurements yet"


def test_patient_reported_points_are_orange_diamonds_named_in_the_legend():
    @dataclass(frozen=True)
    class Reading:
        taken_at: datetime
        value: float
        patient_reported: bool

    points = [
        Reading(datetime(2026, 2, 1, 9, tzinfo=UTC), 150, False),
        Reading(datetime(2026, 2, 2, 7, tzinfo=UTC), 172, True),
    ]
    figure = vital_trend_figure(points, "systolic_bp")
    line, staff, home = figure.data
    assert list(line.y) == [150, 172]  # one line through both, in time order
    assert list(line.marker.symbol) == ["circle", "diamond"] and line.marker.color[1] == "#ea580c"
    assert list(line.text) == ["150 mmHg", "172 mmHg · patient-reported"]
    assert (staff.name, home.name, figure.layout.showlegend) == (
        "Recorded by staff",
        "Patient-reported (home)",
        True,
    )
    # Only home points: the legend names only them; only staff's: no legend at all.
    only_home = vital_trend_figure(points[1:], "systolic_bp")
    assert [trace.name for trace in only_home.data[1:]] == ["Patient-reported (home)"]
    only_staff = vital_trend_figure(points[:1], "systolic_bp")
    assert len(only_staff.data) == 1 and only_staff.layout.showlegend is False


def test_meter_glucose_has_a_trend_with_its_target_band():
    figure = vital_trend_figure([Point(datetime(2026, 2, 1, tzinfo=UTC), 141)], "glucose")
    assert "Blood glucose (meter) (mg/dL)" in figure.layout.title.text
    assert (figure.layout.shapes[0].y0, figure.layout.shapes[0].y1) == (70, 180)
