"""UCUM units: checking a catalogue unit and converting an analyser's value to the test's unit.

Parsing and conversion are done by ``ucumvert`` (a UCUM grammar that builds ``pint`` quantities),
never by a hand-kept table of factors. What is converted, and what is refused with a message:

* the same unit (as written) is never converted;
* units of the same dimension convert by pint: mg/dL -> g/L, umol/L -> mmol/L, 10*9/L -> 10*3/uL,
  U/L -> ukat/L, ng/mL -> ug/L;
* mass <-> amount of substance (mg/dL glucose -> mmol/L) needs the analyte's molar mass. It is
  not a property of the unit but of the analyte, so it is looked up by the test's LOINC code in
  ``MOLAR_MASS_G_PER_MOL`` below (both the mass and the substance codes of an analyte are listed).
  A test not listed there refuses a mass <-> substance conversion;
* equivalents (meq/L) convert to moles only for the ions whose charge is listed in
  ``VALENCE`` (mmol = meq / charge); any other test refuses them;
* a test whose units are different scales rather than sizes (``SCALES_NOT_UNITS``: HbA1c %
  <-> mmol/mol is a regression, though both are dimensionless and pint would convert them) and
  anything the parser does not know ({INR} is a ratio with no unit; [pH]) convert only to
  themselves and are refused otherwise.

The converted value is rounded to the test's decimals: that is the value reported, flagged and
shown, as if the analyser had sent it in the test's unit.
"""

from __future__ import annotations

import functools
import re
import threading
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from hms_app.errors import ValidationError

# Units valid in UCUM that the pint-backed parser does not know; they convert only to themselves.
UNPARSED_UCUM = frozenset({"[pH]"})

# g/mol of the analyte measured by the test, keyed by LOINC code (mass and substance codes alike).
MOLAR_MASS_G_PER_MOL: dict[str, Decimal] = {
    code: Decimal(mass)
    for codes, mass in (
        (("2345-7", "14749-6", "2339-0", "15074-8", "1558-6", "14771-0"), "180.156"),  # glucose
        (("2160-0", "14682-9"), "113.12"),  # creatinine
        (("3094-0", "22664-7"), "60.06"),  # urea (BUN is reported as urea nitrogen: 28.014)
        (("2093-3", "14647-2", "13457-7", "2089-1", "22748-8", "2085-9", "14646-4"), "386.65"),  # cholesterol
        (("2571-8", "14927-8"), "885.7"),  # triglycerides (as triolein)
        (("1975-2", "14631-6", "1968-7", "14629-0"), "584.66"),  # bilirubin
        (("17861-6", "2000-8"), "40.078"),  # calcium
        (("19123-9", "2601-3"), "24.305"),  # magnesium
        (("2777-1", "14879-1"), "30.974"),  # phosphate (as phosphorus)
        (("3084-1", "14933-6"), "168.11"),  # urate
        (("2498-4", "14798-3"), "55.845"),  # iron
        (("3016-3", "3024-7", "3026-2", "14920-3"), "776.87"),  # free T4 (thyroxine)
    )
    for code in codes
}
# Charge of the ion, for milliequivalents <-> millimoles.
VALENCE: dict[str, int] = {
    "2951-2": 1,  # sodium
    "2823-3": 1,  # potassium
    "2075-0": 1,  # chloride
    "1963-8": 1,  # bicarbonate
    "17861-6": 2,  # calcium
    "2000-8": 2,
    "19123-9": 2,  # magnesium
}

# Tests whose units name different measurement scales, not different sizes of one quantity: pint
# would happily turn 48 mmol/mol into 4.8 %, but HbA1c of 48 mmol/mol (IFCC) is 6.5 % (NGSP),
# related by a regression. Only the test's own unit is accepted for them.
SCALES_NOT_UNITS: dict[str, str] = {
    "4548-4": "HbA1c in % (NGSP) and in mmol/mol (IFCC) are different scales",
    "17856-6": "HbA1c in % (NGSP) and in mmol/mol (IFCC) are different scales",
}

_lock = threading.Lock()


@functools.cache
def _registry():
    """The UCUM registry: built once (about a second), on first use, not at import."""
    from ucumvert import PintUcumRegistry

    return PintUcumRegistry()


@functools.lru_cache(maxsize=512)
def _quantity(unit: str):
    """One of ``unit`` as a pint quantity, or None when it cannot be parsed (or is only an
    annotation such as ``{INR}``)."""
    import pint

    with _lock:  # the lark parser is not documented as thread safe; conversions are rare and quick
        try:
            parsed = _registry().from_ucum(unit)
        except Exception:  # noqa: BLE001 - the grammar raises its own visit errors for a bad unit
            return None
    return parsed if isinstance(parsed, pint.Quantity) else None


def clean_unit(unit: str | None) -> str:
    return str(unit or "").strip()


def is_valid_unit(unit: str) -> bool:
    """A unit the catalogue accepts: parsed by the UCUM grammar, a pure annotation (``{INR}``), or
    one of the UCUM units the parser lacks."""
    unit = clean_unit(unit)
    if not unit or len(unit) > 20:
        return False
    if unit in UNPARSED_UCUM or re.fullmatch(r"\{[^{}]+\}", unit):
        return True
    return _quantity(unit) is not None


def _has_equivalents(unit: str) -> bool:
    return re.search(r"(?<![a-z])[munp]?eq(?![a-z])", unit) is not None


def _factor(source: str, target: str, test_code: str) -> Decimal:
    """How many ``target`` in one ``source`` for this test's analyte."""
    import pint

    if test_code in SCALES_NOT_UNITS:
        raise ValidationError(
            f"{source} cannot be converted to {target}: {SCALES_NOT_UNITS[test_code]}.", field="unit"
        )
    src, dst = _quantity(source), _quantity(target)
    if src is None or dst is None:
        bad = source if src is None else target
        raise ValidationError(f"{bad} is not a unit that can be converted to {target}.", field="unit")
    valence = VALENCE.get(test_code)
    if (_has_equivalents(source) or _has_equivalents(target)) and valence is None:
        raise ValidationError(
            f"{source} cannot be converted to {target}: equivalents need the charge of the ion.", field="unit"
        )
    charge = Decimal(1)
    if _has_equivalents(source) and not _has_equivalents(target):
        charge = Decimal(1) / valence
    elif _has_equivalents(target) and not _has_equivalents(source):
        charge = Decimal(valence)
    registry = _registry()
    try:
        return Decimal(repr(float((1 * src).to(dst).magnitude))) * charge
    except pint.DimensionalityError:
        pass
    molar_mass = MOLAR_MASS_G_PER_MOL.get(test_code)
    if molar_mass is None:
        raise ValidationError(
            f"{source} cannot be converted to {target} for this test "
            "(a different kind of quantity, and no molar mass is known for it).",
            field="unit",
        ) from None
    per_mole = registry.from_ucum("g/mol") * float(molar_mass)
    for candidate in ((1 * src) / per_mole, (1 * src) * per_mole):  # mass -> moles, moles -> mass
        try:
            return Decimal(repr(float(candidate.to(dst).magnitude))) * charge
        except pint.DimensionalityError:
            continue
    raise ValidationError(f"{source} cannot be converted to {target}.", field="unit")


def convert(
    value: Decimal, *, source: str | None, target: str | None, test_code: str, decimals: int
) -> Decimal:
    """``value`` in ``source`` expressed in ``target`` (the test's unit), rounded to ``decimals``.
    No source unit, or the same one, leaves the value as it is."""
    source, target = clean_unit(source), clean_unit(target)
    if not source or source == target:
        return value
    if not target:
        raise ValidationError(f"This test has no unit; a value in {source} cannot be stored.", field="unit")
    try:
        converted = value * _factor(source, target, test_code)
        return converted.quantize(Decimal(1).scaleb(-max(0, decimals)), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValidationError("The converted value is out of range.", field="value") from None
