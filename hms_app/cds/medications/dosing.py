"""Dose range per dose and per day (by age and weight) and renal adjustment by eGFR band.

Units: order doses in g, mg or mcg are converted to the table's unit; "unit"/"units" and "mmol" compare as they
are; any other unit (mL, tablets, puffs) cannot be checked without the product's strength and raises nothing.
Age bands: ``age_from`` inclusive, ``age_below`` exclusive; with no age recorded the adult rows apply.
eGFR bands: ``egfr_from`` inclusive, ``egfr_below`` exclusive (so metformin's "30-44" band is 30 <= eGFR < 45).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from hms_app.cds.medications.model import Alert

if TYPE_CHECKING:
    from hms_app.cds.medications.knowledge import Knowledge
    from hms_app.cds.medications.model import DrugUse, PatientContext
    from hms_app.cds.medications.records import DoseLimit

_MASS_IN_MG = {
    "g": Decimal(1000),
    "mg": Decimal(1),
    "mcg": Decimal("0.001"),
    "microgram": Decimal("0.001"),
    "micrograms": Decimal("0.001"),
    "ug": Decimal("0.001"),
    "µg": Decimal("0.001"),
}
_SAME = {"unit": "unit", "units": "unit", "u": "unit", "mmol": "mmol"}
ADULT_AGE = Decimal(18)


def convert(amount: Decimal, unit: str | None, target: str) -> Decimal | None:
    """``amount`` of ``unit`` in ``target`` units, or None when they cannot be compared."""
    if unit is None:
        return None
    unit = unit.strip().lower()
    if target in ("mg", "mcg") and unit in _MASS_IN_MG:
        in_mg = amount * _MASS_IN_MG[unit]
        return in_mg if target == "mg" else in_mg * 1000
    if _SAME.get(unit) == target:
        return amount
    return None


def _show(value: Decimal) -> str:
    text = f"{value.quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return text or "0"


def select_limit(limits: tuple[DoseLimit, ...], route: str | None, age: Decimal | None) -> DoseLimit | None:
    """The row for this route and age: a route-specific row beats "any"; the narrowest age band wins."""
    route = (route or "").strip().lower()
    candidates = []
    for limit in limits:
        if limit.route != "any" and limit.route != route:
            continue
        if age is None:
            # No age recorded: the open-ended adult rows, never a child's per-kg row.
            if limit.age_below is not None or (limit.age_from is not None and limit.age_from > ADULT_AGE):
                continue
        elif (limit.age_from is not None and age < limit.age_from) or (
            limit.age_below is not None and age >= limit.age_below
        ):
            continue
        width = (limit.age_below or Decimal(200)) - (limit.age_from or Decimal(0))
        candidates.append((limit.route == "any", width, limit))
    if not candidates:
        return None
    return min(candidates, key=lambda found: (found[0], found[1]))[2]


def _ceiling(
    limit: DoseLimit, per_kg: Decimal | None, cap: Decimal | None, weight: Decimal | None
) -> Decimal | None:
    if per_kg is None:
        return None
    if not limit.per_kg:
        return per_kg
    assert weight is not None
    value = per_kg * weight
    return min(value, cap) if cap is not None else value


def dose_alerts(kb: Knowledge, name: str, drug: DrugUse, patient: PatientContext | None) -> list[Alert]:
    """Per-dose and per-day maxima for ``drug`` (named ``name`` in the knowledge base)."""
    limits = kb.dose_limits.get(name)
    if not limits or drug.dose is None:
        return []
    age = patient.age_years if patient else None
    weight = patient.weight_kg if patient else None
    limit = select_limit(limits, drug.route, age)
    if limit is None:
        return []
    dose = convert(drug.dose, drug.dose_unit, limit.unit)
    if dose is None:
        return []
    if limit.per_kg and not weight:
        return [
            Alert(
                kind="dose_per_dose",
                drugs=(name,),
                severity="info",
                interrupt=False,
                message=f"The dose of {name} could not be checked: its limit is per kg and no weight is recorded.",
                action="Record the patient's weight and re-check the dose.",
                rule=f"dose:{name}:weight-needed",
            )
        ]
    basis = f" ({limit.note})" if limit.note else ""
    unit = limit.unit
    alerts = []
    per_dose = _ceiling(limit, limit.max_per_dose, limit.cap_per_dose, weight)
    if per_dose is not None and dose > per_dose:
        how = f" ({_show(limit.max_per_dose)} {unit}/kg)" if limit.per_kg else ""
        alerts.append(
            Alert(
                kind="dose_per_dose",
                drugs=(name,),
                severity="major",
                interrupt=True,
                message=f"{_show(dose)} {unit} of {name} is above the largest single dose of {_show(per_dose)} {unit}"
                f"{how}{basis}.",
                action=f"Check the dose; give at most {_show(per_dose)} {unit} per dose.",
                rule=f"dose:{name}:per-dose",
            )
        )
    per_day = _ceiling(limit, limit.max_per_day, limit.cap_per_day, weight)
    if per_day is not None and drug.doses_per_day is not None:
        daily = dose * drug.doses_per_day
        if daily > per_day:
            how = f" ({_show(limit.max_per_day)} {unit}/kg)" if limit.per_kg else ""
            alerts.append(
                Alert(
                    kind="dose_per_day",
                    drugs=(name,),
                    severity="major",
                    interrupt=True,
                    message=f"{_show(daily)} {unit} of {name} a day is above the daily maximum of {_show(per_day)} "
                    f"{unit}{how}{basis}.",
                    action=f"Reduce the dose or the frequency to at most {_show(per_day)} {unit} a day.",
                    rule=f"dose:{name}:per-day",
                )
            )
    return alerts


def renal_alerts(kb: Knowledge, name: str, drug: DrugUse, patient: PatientContext | None) -> list[Alert]:
    """The eGFR band the patient is in for ``name``, unless the order already respects the band's maximum."""
    if patient is None or patient.egfr is None:
        return []
    egfr = patient.egfr
    for band in kb.renal.get(name, ()):
        if not band.egfr_from <= egfr < band.egfr_below:
            continue
        if band.max_per_day is not None and drug.dose is not None and drug.doses_per_day is not None:
            dose = convert(drug.dose, drug.dose_unit, band.unit)
            if dose is not None and dose * drug.doses_per_day <= band.max_per_day:
                return []
        return [
            Alert(
                kind="renal",
                drugs=(name,),
                severity=band.severity,
                interrupt=band.interrupt,
                message=f"eGFR {_show(egfr)}: {band.message}",
                action=band.action,
                rule=band.rule,
            )
        ]
    return []
