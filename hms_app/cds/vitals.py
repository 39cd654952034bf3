"""Vital signs: their LOINC codes, units, plausibility limits, normal bands, and BMI.

Plausibility limits reject what cannot be a measurement of a living patient (a pulse of
900 is a typing error); normal bands are what the trend charts shade. Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from hms_app import words


@dataclass(frozen=True)
class VitalSpec:
    key: str
    loinc: str
    display: str
    unit: str
    low: float  # plausibility: below this cannot be real
    high: float
    normal_low: float | None
    normal_high: float | None
    decimals: int = 0


VITALS: dict[str, VitalSpec] = {
    spec.key: spec
    for spec in (
        VitalSpec("heart_rate", "8867-4", "Heart rate", "/min", 20, 300, 60, 100),
        VitalSpec("respiratory_rate", "9279-1", "Respiratory rate", "/min", 3, 80, 12, 20),
        VitalSpec("systolic_bp", "8480-6", "Systolic blood pressure", "mm[Hg]", 40, 300, 90, 140),
        VitalSpec("diastolic_bp", "8462-4", "Diastolic blood pressure", "mm[Hg]", 20, 200, 60, 90),
        VitalSpec("temperature", "8310-5", "Body temperature", "Cel", 25, 45, 36.1, 37.8, 1),
        VitalSpec("spo2", "59408-5", "Oxygen saturation (SpO2)", "%", 40, 100, 94, 100),
        VitalSpec("weight", "29463-7", "Body weight", "kg", 0.3, 500, None, None, 1),
        VitalSpec("height", "8302-2", "Body height", "cm", 20, 260, None, None, 1),
        # For NEWS2: 0 L/min means breathing room air; any flow means supplemental oxygen.
        VitalSpec("oxygen_flow", "3151-8", "Inhaled oxygen flow rate", "L/min", 0, 60, None, None, 1),
        # LOINC 67775-7 "Level of responsiveness"; the value is the position in ACVPU (0 = Alert).
        VitalSpec("consciousness", "67775-7", "Level of consciousness (ACVPU)", "{ACVPU}", 0, 4, None, None),
    )
}
BMI = VitalSpec("bmi", "39156-5", "Body mass index (BMI)", "kg/m2", 5, 150, 18.5, 25, 1)
# Capillary blood glucose from a patient's own meter (LOINC 41653-7, "Glucose [Mass/volume] in
# Capillary blood by Glucometer"), kept in mg/dL: home readings enter it (hms_app/cds/home_readings.py);
# it has a trend in the chart but no box on the nurse's vitals form. Plausible 10-1000 mg/dL (meters
# read about 20-600; below 10 or above 1000 is a typing error); the shaded band is the 70-180 mg/dL
# "time in range" target of the ADA/ATTD consensus.
GLUCOSE = VitalSpec("glucose", "41653-7", "Blood glucose (meter)", "mg/dL", 10, 1000, 70, 180)
BY_LOINC = {spec.loinc: spec for spec in (*VITALS.values(), BMI, GLUCOSE)}
# Every measurement with a trend, by key: the vital signs, BMI and meter glucose.
TREND_SPECS: dict[str, VitalSpec] = {**VITALS, BMI.key: BMI, GLUCOSE.key: GLUCOSE}
# ``Observation.recorded_by`` of a measurement a patient entered at home (in the portal):
# "home:<their username>". Usernames have no colon, so no member of staff ever matches it.
PATIENT_REPORTED_PREFIX = "home:"


def patient_reported(recorded_by: str | None) -> bool:
    """Whether an observation with this ``recorded_by`` was entered by the patient at home."""
    return bool(recorded_by) and recorded_by.startswith(PATIENT_REPORTED_PREFIX)


# ACVPU (RCP NEWS2, 2017): Alert, new Confusion, responds to Voice, to Pain, Unresponsive. The
# record stores the position (0-4) because an Observation's value is a number.
ACVPU = ("A", "C", "V", "P", "U")
ACVPU_LABELS = {
    "A": "Alert",
    "C": "New confusion",
    "V": "Responds to voice",
    "P": "Responds to pain",
    "U": "Unresponsive",
}


def acvpu_letter(value: float) -> str:
    """The ACVPU letter stored as ``value`` (its position, 0 = Alert)."""
    index = int(value)
    if index != value or not 0 <= index < len(ACVPU):
        raise ValueError(f"{value!r} is not an ACVPU level (0 to 4)")
    return ACVPU[index]


def display_value(key: str, value: float, unit: str) -> str:
    """A stored vital as a person reads it: '37.2 °C' (units as people write them, never UCUM
    codes); ACVPU and room air become words."""
    if key == "consciousness":
        letter = acvpu_letter(value)
        return f"{letter} · {ACVPU_LABELS[letter]}"
    if key == "oxygen_flow" and value == 0:
        return "Room air (0 L/min)"
    spec = TREND_SPECS.get(key)
    if spec is not None:  # stored exact (a BMI of 24.977...), shown to the vital's decimals
        value = round(value, spec.decimals)
    return f"{value:g} {words.unit(unit)}"


class ImplausibleValue(ValueError):
    """A value outside what any living patient could have."""


def check_plausible(key: str, value: float) -> float:
    """Return ``value`` if it is a possible measurement of ``key``; raise ImplausibleValue otherwise."""
    spec = VITALS[key] if key in VITALS else TREND_SPECS[key]
    if not spec.low <= value <= spec.high:
        raise ImplausibleValue(
            f"A {spec.display.lower()} of {value:g} {spec.unit} is not possible; "
            f"expected {spec.low:g} to {spec.high:g} {spec.unit}. Check the number."
        )
    return round(value, spec.decimals)


def bmi(weight_kg: float, height_cm: float) -> float:
    """Body mass index: weight (kg) divided by the square of height (m), exact. Its category is
    taken from this value (68 kg at 165 cm is 24.98: a healthy weight); only a display rounds it
    (to one decimal: "25.0")."""
    if weight_kg <= 0 or height_cm <= 0:
        raise ValueError("weight and height must be positive")
    # In kg·10⁴/cm² so that a round case stays round (81 kg at 180 cm is 25.0, not 24.999...);
    # six decimals absorb what float division still adds and are far finer than any category edge.
    return round(weight_kg * 10_000 / (height_cm * height_cm), 6)


def bmi_category(value: float) -> str:
    """WHO adult categories."""
    if value < 18.5:
        return "underweight"
    if value < 25:
        return "healthy weight"
    if value < 30:
        return "overweight"
    return "obesity"
