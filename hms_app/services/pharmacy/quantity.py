"""The dispense quantity of an order, for every dose form. Pure arithmetic, no database.

A dose is written either in the first ingredient's strength unit (mg, mcg, g, unit) or in the
product's counting unit (tablet, capsule, mL, puff, unit, patch, drop). It becomes counting units
per dose; the number of doses comes from the frequency and the days (a PRN order counts its
maximum doses a day, the most the patient can take); the total is rounded to what the pharmacy
can hand over. Worked examples, one per form (the tests check every one):

* **tablets, capsules**: whole units, rounded up. Paracetamol 500 mg tablets, 1 g QID for 5 days:
  2 tablets x 20 doses = 40 tablets. A half tablet is allowed only for a scored tablet: 0.5
  tablet QD for 7 days is 3.5, so 4 tablets. A capsule cannot be split.
* **oral liquids**, in mL: volume = dose / concentration x doses, rounded up to whole bottles.
  Amoxicillin 250 mg/5 mL in 100 mL bottles, 500 mg TID for 7 days: 10 mL x 21 = 210 mL, 3 bottles.
* **injections, infusions, nebules** (single-use containers): each dose takes whole containers,
  the rest is discarded. Morphine 10 mg/1 mL ampoules, 5 mg q4h PRN at most 6 a day for 2 days:
  0.5 mL a dose still opens 1 ampoule, x 12 doses = 12 ampoules.
* **inhalers**: puffs -> devices by the doses per device. Salbutamol 100 mcg/puff, 200-puff
  inhaler, 2 puffs QID for 30 days: 240 puffs, 2 inhalers.
* **insulin** in units: pens of 300 units, with the priming (air shot) units before every
  injection; an opened pen or vial is discarded after 28 days, so never fewer than one per started
  28 days. Glargine 20 units QD for 30 days, 2 priming units: 22 x 30 = 660 units, 3 pens. Soluble
  insulin 10 units TID for 30 days from 1000-unit vials: 900 units, but 30 days > 28, so 2 vials.
* **patches**: one application per patch change interval (the product's wear time, which the
  frequency must match). Fentanyl 25 mcg/h, changed every 72 hours, for 30 days: 10 patches.
* **eye drops**: drops -> mL at about 20 drops a mL -> bottles, and a bottle is discarded 28 days
  after opening. A dose is the drops of one administration (both eyes: 2 drops). Timolol 5 mL,
  1 drop each eye BID for 30 days: 2 x 60 = 120 drops = 6 mL, 2 bottles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from hms_app.errors import ValidationError
from hms_app.models.pharmacy import FORMS
from hms_app.plurals import counted, noun
from hms_app.services.pharmacy.frequencies import Frequency

MASS = {"g": Decimal(1000000), "mg": Decimal(1000), "mcg": Decimal(1)}  # micrograms in one
IN_USE_DAYS = 28  # an opened insulin pen or vial, or an eye-drop bottle, is discarded after this
SINGLE_USE = ("injection", "infusion", "nebule")
MAX_UNITS_PER_DOSE = {"tablet": 20, "capsule": 20, "puff": 8, "patch": 4, "drop": 10}


@dataclass(frozen=True)
class ProductSpec:
    """What the arithmetic needs of a formulary product."""

    name: str
    dose_form: str  # models.pharmacy.FORMS
    strength: Decimal  # the first ingredient's, per ``strength_volume`` counting units
    strength_unit: str
    dispense_unit: str
    package_size: Decimal = Decimal(1)  # counting units in one dispense unit
    strength_volume: Decimal = Decimal(1)
    scored: bool = False
    priming_units: int = 0
    wear_hours: int | None = None
    drops_per_ml: int | None = None

    @property
    def counting_unit(self) -> str:
        return FORMS[self.dose_form][1]


@dataclass(frozen=True)
class Quantity:
    per_dose: Decimal  # counting units a dose (mL, tablets, puffs, units ...)
    doses: int
    total: Decimal  # counting units over the order, priming included
    counting_unit: str
    dispense_quantity: int
    dispense_unit: str
    basis: str  # the computation in words, shown before signing


# Units of measure read the same for any number ("150 mL"); the others are counted things.
MEASURES = frozenset({"mL", "L", "g", "mg", "mcg", "kg"})


def unit_noun(count: int, unit: str) -> str:
    """A dispense unit agreeing with its number: "tablet", "tablets", "patches", "mL"."""
    if unit in MEASURES or unit.endswith("s"):  # a measure, or written plural already
        return unit
    return noun(count, unit, unit + "es" if unit.endswith(("ch", "sh", "x", "z")) else None)


def dispense_amount(count: int, unit: str) -> str:
    """ "15 tablets", "1 inhaler", "2 patches", "150 mL": a quantity in its dispense unit, as every
    screen, label, message and printed prescription writes it."""
    if unit in MEASURES or unit.endswith("s"):
        return f"{count:,} {unit}"
    return counted(count, unit, unit_noun(2, unit))


def dose_units(spec: ProductSpec) -> list[str]:
    """The units a dose of this product may be written in: the strength's (with its mass
    siblings) and the counting unit."""
    units = [spec.strength_unit] if spec.strength_unit in MASS or spec.strength_unit == "unit" else []
    if spec.strength_unit in MASS:
        units += [u for u in MASS if u != spec.strength_unit]
    if spec.counting_unit not in units:
        units.append(spec.counting_unit)
    return units


def _plain(number: Decimal) -> str:
    text = f"{number.normalize():f}"
    return text


def _count(number: Decimal, unit: str) -> str:
    """``2 tablets``, ``0.5 tablet``, ``10 mL``: a unit of its own is plural from more than one."""
    plural = number > 1 and unit != "mL"
    return f"{_plain(number)} {unit}{'s' if plural else ''}"


def per_dose(spec: ProductSpec, dose: Decimal, dose_unit: str) -> Decimal:
    """Counting units in one dose, or a message when the dose cannot be given with this product."""
    if dose_unit == spec.counting_unit:
        units = dose
    elif dose_unit == spec.strength_unit:
        units = dose * spec.strength_volume / spec.strength
    elif dose_unit in MASS and spec.strength_unit in MASS:
        units = dose * MASS[dose_unit] / MASS[spec.strength_unit] * spec.strength_volume / spec.strength
    else:
        raise ValidationError(
            f"Write the dose of {spec.name} in {' or '.join(dose_units(spec))}.", field="dose_unit"
        )
    counting = spec.counting_unit
    if spec.dose_form in ("tablet", "capsule", "patch", "inhaler", "eye_drops"):
        step = Decimal("0.5") if spec.dose_form == "tablet" and spec.scored else Decimal(1)
        if units % step:
            what = "half tablets" if step < 1 else f"whole {counting}s"
            raise ValidationError(
                f"{spec.name} can only be given in {what}: {_plain(dose)} {dose_unit} is "
                f"{_plain(units.quantize(Decimal('0.01')))} {counting}s.",
                field="dose",
            )
    limit = MAX_UNITS_PER_DOSE.get(counting)
    if limit and units > limit:
        raise ValidationError(
            f"{_plain(dose)} {dose_unit} is {_plain(units)} {counting}s a dose, more than {limit}: check the dose.",
            field="dose",
        )
    return units


def _ceil(number: Decimal) -> int:
    return int(number.to_integral_value(rounding=ROUND_CEILING))


def dose_count(frequency: Frequency, days: int, *, prn: bool, max_doses_per_day: int | None) -> int:
    """Doses over the order: a PRN order counts its maximum a day (the most the patient can take)."""
    if frequency.code == "once":
        return 1
    if prn or frequency.prn_only:
        return (max_doses_per_day or 0) * days
    return frequency.doses_in(days)


def compute_quantity(
    spec: ProductSpec,
    *,
    dose: Decimal,
    dose_unit: str,
    frequency: Frequency,
    days: int,
    prn: bool = False,
    max_doses_per_day: int | None = None,
) -> Quantity:
    """What to dispense for ``days`` of this order (see the module docstring for each form)."""
    units = per_dose(spec, dose, dose_unit)
    if spec.dose_form == "patch" and spec.wear_hours and frequency.interval_hours != spec.wear_hours:
        raise ValidationError(
            f"{spec.name} is changed every {spec.wear_hours} hours: choose the frequency that says so.",
            field="frequency",
        )
    doses = dose_count(frequency, days, prn=prn, max_doses_per_day=max_doses_per_day)
    form, unit = spec.dose_form, spec.counting_unit
    how = f"{_count(units, unit)} x {doses} doses"
    if form in ("tablet", "capsule", "patch"):
        total = units * doses
        count = _ceil(total)
        return Quantity(
            units, doses, total, unit, count, spec.dispense_unit, f"{how} = {_count(Decimal(count), unit)}"
        )
    if form in SINGLE_USE:
        containers = _ceil(units / spec.package_size)
        count = containers * doses
        basis = (
            f"{_plain(units)} mL a dose takes {containers} x {_plain(spec.package_size)} mL "
            f"{spec.dispense_unit} x {doses} doses = {count}"
        )
        return Quantity(units, doses, units * doses, unit, count, spec.dispense_unit, basis)
    if form == "liquid":
        total = units * doses
        count = _ceil(total / spec.package_size)
        basis = (
            f"{how} = {_plain(total)} mL, in {_plain(spec.package_size)} mL {spec.dispense_unit}s: {count}"
        )
        return Quantity(units, doses, total, unit, count, spec.dispense_unit, basis)
    if form == "inhaler":
        total = units * doses
        count = _ceil(total / spec.package_size)
        basis = f"{how} = {_plain(total)} puffs, {_plain(spec.package_size)} a device: {count}"
        return Quantity(units, doses, total, unit, count, spec.dispense_unit, basis)
    if form in ("insulin_pen", "insulin_vial"):
        priming = Decimal(spec.priming_units if form == "insulin_pen" else 0)
        total = (units + priming) * doses
        by_units = _ceil(total / spec.package_size)
        count = max(by_units, math.ceil(days / IN_USE_DAYS) if doses else 0)
        basis = (
            f"({_plain(units)} + {_plain(priming)} priming) units x {doses} doses = {_plain(total)} units, "
            f"{_plain(spec.package_size)} a {spec.dispense_unit}: {by_units}"
        )
        if count > by_units:
            basis += f"; opened ones last {IN_USE_DAYS} days, so {count}"
        return Quantity(units, doses, total, unit, count, spec.dispense_unit, basis)
    if form == "eye_drops":
        drops = units * doses
        per_ml = Decimal(spec.drops_per_ml or 20)
        volume = drops / per_ml
        by_volume = _ceil(volume / spec.package_size)
        count = max(by_volume, math.ceil(days / IN_USE_DAYS) if doses else 0)
        basis = (
            f"{how} = {_plain(drops)} drops = {_plain(volume.quantize(Decimal('0.1')))} mL at {per_ml} drops/mL, "
            f"{_plain(spec.package_size)} mL a {spec.dispense_unit}: {by_volume}"
        )
        if count > by_volume:
            basis += f"; an opened bottle lasts {IN_USE_DAYS} days, so {count}"
        return Quantity(units, doses, drops, unit, count, spec.dispense_unit, basis)
    raise ValueError(f"no quantity rule for dose form {form!r}")
