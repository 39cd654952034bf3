"""The dispense quantity of every dose form, with the worked examples of the quantity module's
docstring (what a pharmacist would count by hand), and the doses it refuses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hms_app.errors import ValidationError
from hms_app.services.pharmacy.frequencies import FREQUENCIES, frequency, frequency_choices
from hms_app.services.pharmacy.quantity import (
    ProductSpec,
    compute_quantity,
    dispense_amount,
    dose_units,
    unit_noun,
)

D = Decimal


def spec(name, form, strength, unit, dispense, **kw) -> ProductSpec:
    return ProductSpec(
        name=name, dose_form=form, strength=D(strength), strength_unit=unit, dispense_unit=dispense, **kw
    )


PARACETAMOL = spec("Paracetamol 500 mg tablet", "tablet", "500", "mg", "tablet")
WARFARIN_5 = spec("Warfarin 5 mg tablet", "tablet", "5", "mg", "tablet", scored=True)
AMOXICILLIN_CAP = spec("Amoxicillin 500 mg capsule", "capsule", "500", "mg", "capsule")
AMOXICILLIN_LIQ = spec(
    "Amoxicillin 250 mg/5 mL", "liquid", "250", "mg", "bottle", strength_volume=D(5), package_size=D(100)
)
MORPHINE = spec("Morphine 10 mg/1 mL", "injection", "10", "mg", "ampoule")
SALBUTAMOL_NEB = spec(
    "Salbutamol 2.5 mg/2.5 mL",
    "nebule",
    "2.5",
    "mg",
    "nebule",
    strength_volume=D("2.5"),
    package_size=D("2.5"),
)
SALBUTAMOL_INH = spec("Salbutamol 100 mcg inhaler", "inhaler", "100", "mcg", "inhaler", package_size=D(200))
GLARGINE = spec("Glargine pen", "insulin_pen", "1", "unit", "pen", package_size=D(300), priming_units=2)
SOLUBLE = spec("Soluble insulin vial", "insulin_vial", "1", "unit", "vial", package_size=D(1000))
FENTANYL = spec("Fentanyl 25 mcg/h patch", "patch", "25", "mcg/h", "patch", wear_hours=72)
TIMOLOL = spec("Eye drops 5 mL", "eye_drops", "0.5", "%", "bottle", package_size=D(5), drops_per_ml=20)


def q(product, dose, unit, code, days, **kw):
    return compute_quantity(
        product, dose=D(dose), dose_unit=unit, frequency=FREQUENCIES[code], days=days, **kw
    )


def test_tablets_round_up_whole_tablets_and_a_dose_in_mg_becomes_tablets():
    result = q(PARACETAMOL, "1", "g", "QID", 5)
    assert (result.per_dose, result.doses, result.dispense_quantity, result.dispense_unit) == (
        2,
        20,
        40,
        "tablet",
    )
    assert result.basis == "2 tablets x 20 doses = 40 tablets"
    assert q(PARACETAMOL, "2", "tablet", "QID", 5).dispense_quantity == 40


def test_a_scored_tablet_may_be_halved_and_the_half_left_over_is_dispensed_whole():
    result = q(WARFARIN_5, "2.5", "mg", "QD", 7)
    assert (result.per_dose, result.total, result.dispense_quantity) == (D("0.5"), D("3.5"), 4)


def test_an_unscored_tablet_or_a_capsule_cannot_be_split():
    with pytest.raises(
        ValidationError, match="only be given in whole tablets: 250 mg is 0.5 tablets"
    ) as error:
        q(PARACETAMOL, "250", "mg", "QD", 1)
    assert error.value.field == "dose"
    with pytest.raises(ValidationError, match="whole capsules"):
        q(AMOXICILLIN_CAP, "750", "mg", "TID", 5)
    with pytest.raises(ValidationError, match="half tablets: 3 mg is 0.6 tablets"):
        q(WARFARIN_5, "3", "mg", "QD", 7)


def test_capsules():
    result = q(AMOXICILLIN_CAP, "500", "mg", "TID", 7)
    assert (result.dispense_quantity, result.dispense_unit) == (21, "capsule")


def test_liquids_count_millilitres_and_round_up_to_whole_bottles():
    result = q(AMOXICILLIN_LIQ, "500", "mg", "TID", 7)
    assert (result.per_dose, result.total, result.counting_unit) == (10, 210, "mL")
    assert (result.dispense_quantity, result.dispense_unit) == (3, "bottle")
    assert "210 mL, in 100 mL bottles: 3" in result.basis
    # Exactly one bottle's worth is one bottle, not two.
    assert q(AMOXICILLIN_LIQ, "250", "mg", "QID", 5).dispense_quantity == 1


def test_single_use_containers_open_a_whole_one_for_every_dose():
    result = q(MORPHINE, "5", "mg", "q4h", 2, prn=True, max_doses_per_day=6)
    assert (result.per_dose, result.doses, result.dispense_quantity) == (D("0.5"), 12, 12)
    assert q(SALBUTAMOL_NEB, "5", "mg", "QID", 3).dispense_quantity == 24  # 2 nebules a dose


def test_inhalers_count_puffs_and_devices():
    result = q(SALBUTAMOL_INH, "2", "puff", "QID", 30)
    assert (result.total, result.dispense_quantity, result.dispense_unit) == (240, 2, "inhaler")
    assert q(SALBUTAMOL_INH, "200", "mcg", "QID", 25).dispense_quantity == 1  # 200 puffs: one device


def test_insulin_pens_add_the_priming_units_to_every_injection():
    result = q(GLARGINE, "20", "unit", "QD", 30)
    assert (result.total, result.dispense_quantity, result.dispense_unit) == (660, 3, "pen")
    assert "(20 + 2 priming) units x 30 doses = 660 units" in result.basis


def test_an_opened_pen_or_vial_lasts_28_days_whatever_is_left_in_it():
    low = q(GLARGINE, "6", "unit", "QD", 60)  # 480 units fit in 2 pens, but 60 days need 3
    assert (low.total, low.dispense_quantity) == (480, 3)
    assert "opened ones last 28 days, so 3" in low.basis
    vial = q(SOLUBLE, "10", "unit", "TID", 30)
    assert (vial.total, vial.dispense_quantity, vial.dispense_unit) == (900, 2, "vial")


def test_patches_one_per_change_interval_which_the_frequency_must_match():
    assert q(FENTANYL, "1", "patch", "q72h", 30).dispense_quantity == 10
    assert q(FENTANYL, "1", "patch", "q72h", 7).dispense_quantity == 3  # days 1, 4 and 7
    with pytest.raises(ValidationError, match="changed every 72 hours") as error:
        q(FENTANYL, "1", "patch", "QD", 30)
    assert error.value.field == "frequency"


def test_eye_drops_turn_drops_into_millilitres_and_bottles_and_a_bottle_lasts_28_days():
    both_eyes = q(TIMOLOL, "2", "drop", "BID", 30)
    assert (both_eyes.total, both_eyes.dispense_quantity) == (120, 2)
    assert "2 drops x 60 doses = 120 drops = 6 mL at 20 drops/mL" in both_eyes.basis
    one_eye = q(TIMOLOL, "1", "drop", "QD", 14)
    assert one_eye.dispense_quantity == 1


def test_prn_counts_the_maximum_doses_a_day():
    result = q(PARACETAMOL, "1", "g", "PRN", 3, prn=True, max_doses_per_day=4)
    assert (result.doses, result.dispense_quantity) == (12, 24)


def test_weekly_and_once_only():
    assert q(PARACETAMOL, "500", "mg", "weekly", 8).doses == 2
    assert q(PARACETAMOL, "500", "mg", "once", 30).dispense_quantity == 1


def test_a_dose_in_a_unit_the_product_cannot_take_names_the_units_it_can():
    with pytest.raises(
        ValidationError, match="Write the dose of Paracetamol 500 mg tablet in mg or"
    ) as error:
        q(PARACETAMOL, "5", "mL", "QD", 1)
    assert error.value.field == "dose_unit"
    assert dose_units(GLARGINE) == ["unit"]
    assert dose_units(TIMOLOL) == ["drop"]
    assert dose_units(AMOXICILLIN_LIQ)[0] == "mg" and "mL" in dose_units(AMOXICILLIN_LIQ)


def test_an_implausible_number_of_units_a_dose_is_refused():
    with pytest.raises(ValidationError, match="is 40 tablets a dose, more than 20: check the dose"):
        q(PARACETAMOL, "20", "g", "QD", 1)


def test_every_frequency_has_its_times_and_codes_are_read_as_typed():
    assert frequency("bid") is FREQUENCIES["BID"]
    assert frequency("Q8H") is FREQUENCIES["q8h"]
    assert frequency("hourly") is None
    for f in FREQUENCIES.values():
        assert len(f.times) == f.per_day or f.per_day < 1
    assert ("TID", "TID: Three times a day (08:00, 14:00, 20:00)") in frequency_choices()


@pytest.mark.parametrize(
    ("count", "unit", "written"),
    [
        (15, "tablet", "15 tablets"),
        (1, "tablet", "1 tablet"),
        (0, "capsule", "0 capsules"),
        (1, "inhaler", "1 inhaler"),
        (2, "patch", "2 patches"),
        (1, "patch", "1 patch"),
        (150, "mL", "150 mL"),
        (1200, "ampoule", "1,200 ampoules"),
        (3, "boxes", "3 boxes"),  # a unit typed in the plural stays as typed
    ],
)
def test_a_dispense_quantity_agrees_with_its_number(count, unit, written):
    assert dispense_amount(count, unit) == written
    assert written.endswith(unit_noun(count, unit))
