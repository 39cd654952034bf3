"""Home measurements: what a patient may enter, how each value is checked, and the alert limits.

The plausibility limits are the chart's own (``cds.vitals``): a systolic pressure a nurse could not
record cannot be entered at home either. Glucose is kept in mg/dL (LOINC 41653-7, capillary blood by
glucometer); a value entered in mmol/L is converted at 18.016 mg/dL per mmol/L (glucose 180.16 g/mol).

Default alert limits, used for every measure a patient has no limit of their own for:

============  =====  =====  ==============================================================
measure       low    high   why
============  =====  =====  ==============================================================
systolic       90    180    hypotension; a home systolic of 180+ is a hypertensive urgency
diastolic      50    110
pulse          40    130
glucose        70    300    mg/dL: below 70 is hypoglycaemia (ADA level 1); 300+ needs a call
temperature    35.0  38.5   °C
spo2           92     —     %: below 92 at rest needs assessment (BTS); no upper limit
weight          —     —     kg: no default (a weight alert is set per patient, heart failure)
============  =====  =====  ==============================================================

Pure functions: no database, no permission.
"""

from __future__ import annotations

from dataclasses import dataclass

from hms_app.cds import vitals as vital_rules

MMOL_TO_MG = 18.016  # mg/dL per mmol/L of glucose
GLUCOSE_UNITS = ("mg/dL", "mmol/L")


@dataclass(frozen=True)
class Measure:
    key: str  # systolic, diastolic, pulse, glucose, weight, temperature, spo2
    label: str  # "Systolic pressure"
    vital: str  # the chart's key: systolic_bp, heart_rate, glucose ...
    unit: str  # as people write it: mmHg, /min, mg/dL, kg, °C, %
    default_low: float | None
    default_high: float | None

    @property
    def spec(self) -> vital_rules.VitalSpec:
        return vital_rules.TREND_SPECS[self.vital]


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure("systolic", "Systolic pressure", "systolic_bp", "mmHg", 90, 180),
        Measure("diastolic", "Diastolic pressure", "diastolic_bp", "mmHg", 50, 110),
        Measure("pulse", "Pulse", "heart_rate", "/min", 40, 130),
        Measure("glucose", "Blood glucose", "glucose", "mg/dL", 70, 300),
        Measure("weight", "Weight", "weight", "kg", None, None),
        Measure("temperature", "Temperature", "temperature", "°C", 35.0, 38.5),
        Measure("spo2", "Oxygen saturation", "spo2", "%", 92, None),
    )
}


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    measures: tuple[str, ...]  # the values it carries, required first
    optional: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind("blood_pressure", "Blood pressure", ("systolic", "diastolic", "pulse"), optional=("pulse",)),
        Kind("glucose", "Blood glucose", ("glucose",)),
        Kind("weight", "Weight", ("weight",)),
        Kind("temperature", "Temperature", ("temperature",)),
        Kind("spo2", "Oxygen saturation", ("spo2",)),
    )
}


class ReadingProblem(ValueError):
    """A value that cannot be accepted; ``field`` names the form field, ``str()`` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_number(field: str, raw: object, label: str, unit: str) -> float | None:
    """A number typed by a person (a decimal comma accepted); None for an empty box."""
    text = str(raw if raw is not None else "").strip().replace(",", ".")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError as error:
        raise ReadingProblem(field, f"{label} must be a number in {unit}.") from error
    if number != number or number in (float("inf"), float("-inf")):
        raise ReadingProblem(field, f"{label} must be a number in {unit}.")
    return number


def glucose_mg_dl(value: float, unit: str) -> float:
    """A glucose value in mg/dL, from mg/dL or mmol/L."""
    if unit == "mmol/L":
        return value * MMOL_TO_MG  # rounded once, with the other values, by check_value
    if unit == "mg/dL":
        return value
    raise ReadingProblem("glucose_unit", "Choose mg/dL or mmol/L for the glucose.")


def check_value(measure_key: str, value: float, *, field: str | None = None, shown: str = "") -> float:
    """``value`` (in the measure's stored unit) if a living patient could have it, rounded as the
    chart keeps it; ReadingProblem with the chart's own words otherwise. ``shown`` is the value as
    the patient typed it, with its unit, for the message ("0.3 mmol/L")."""
    measure = MEASURES[measure_key]
    spec = measure.spec
    if not spec.low <= value <= spec.high:
        typed = shown or f"{value:g} {measure.unit}"
        raise ReadingProblem(
            field or measure_key,
            f"A {measure.label.lower()} of {typed} is not possible; expected {spec.low:g} to "
            f"{spec.high:g} {measure.unit}. Check the number.",
        )
    return round(value, spec.decimals)


@dataclass(frozen=True)
class Limit:
    measure: str
    low: float | None
    high: float | None
    is_default: bool


def default_limit(measure_key: str) -> Limit:
    measure = MEASURES[measure_key]
    return Limit(measure_key, measure.default_low, measure.default_high, True)


def check_limit_pair(measure_key: str, low: float | None, high: float | None) -> None:
    """Refuse limits that are not possible values or that leave no normal range between them."""
    measure = MEASURES[measure_key]
    for side, value in (("low", low), ("high", high)):
        if value is not None:
            check_value(measure_key, value, field=f"{measure_key}_{side}")
    if low is not None and high is not None and low >= high:
        raise ReadingProblem(
            f"{measure_key}_high",
            f"The upper limit of the {measure.label.lower()} must be above its lower limit.",
        )


def crossings(values: dict[str, float], limits: dict[str, Limit]) -> list[str]:
    """A sentence for each value beyond its limit ("Systolic pressure 172 mmHg is above the alert
    limit of 160 mmHg"); none when every value is within its limits. A value equal to a limit is
    within it."""
    found = []
    for key, value in values.items():
        limit = limits.get(key) or default_limit(key)
        measure = MEASURES[key]
        shown = format_value(key, value)
        if limit.high is not None and value > limit.high:
            found.append(
                f"{measure.label} {shown} is above the alert limit of {format_value(key, limit.high)}"
            )
        elif limit.low is not None and value < limit.low:
            found.append(
                f"{measure.label} {shown} is below the alert limit of {format_value(key, limit.low)}"
            )
    return found


def format_value(measure_key: str, value: float) -> str:
    measure = MEASURES[measure_key]
    decimals = measure.spec.decimals
    return f"{value:.{decimals}f} {measure.unit}"
