"""Each check kind, positive and negative: allergy (with cross-sensitivity), allergy not assessed, duplicate
therapy, dose per dose and per day by age and weight, renal bands at their edges, pregnancy and lactation."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from hms_app.cds.medications import SEVERITIES, DrugUse, PatientContext, UnknownDrug, check_order

ASSESSED = {"allergy_status": "no_known"}


def patient(**fields) -> PatientContext:
    return PatientContext(**{**ASSESSED, **fields})


def kinds(alerts, kind):
    return [alert for alert in alerts if alert.kind == kind]


def one(alerts, rule):
    found = [alert for alert in alerts if alert.rule == rule]
    assert len(found) == 1, f"expected {rule} once in {[a.rule for a in alerts]}"
    return found[0]


# --------------------------------------------------------------------------- interactions


def test_warfarin_ordered_for_a_patient_on_an_nsaid_interrupts():
    alerts = check_order(DrugUse("Warfarin"), patient(current=(DrugUse("naproxen"),)))
    alert = one(alerts, "ddi:warfarin+nsaid")
    assert alert.interrupt and alert.severity == "major" and alert.drugs == ("naproxen", "warfarin")
    assert "INR" in alert.action and "naproxen" in alert.message.lower()


def test_no_interaction_alert_without_an_interacting_current_drug():
    alerts = check_order(DrugUse("warfarin"), patient(current=(DrugUse("amlodipine"),)))
    assert kinds(alerts, "interaction") == []


def test_an_unknown_current_drug_is_reported_not_ignored_and_an_unknown_order_is_refused():
    alerts = check_order(DrugUse("warfarin"), patient(current=(DrugUse("Grandma's tonic"),)))
    assert one(alerts, "kb:unknown-current-drug").severity == "info"
    with pytest.raises(UnknownDrug):
        check_order(DrugUse("tonic"), patient())


def test_alerts_come_interrupting_first_then_by_severity():
    alerts = check_order(
        DrugUse("simvastatin", D(80), "mg", D(1), "oral"),
        patient(current=(DrugUse("amlodipine"), DrugUse("clarithromycin"), DrugUse("atorvastatin"))),
    )
    order = [(not a.interrupt, SEVERITIES.index(a.severity)) for a in alerts]
    assert order == sorted(order) and alerts[0].rule == "ddi:onc-hp:statin+cyp3a4-inhibitor"
    assert not alerts[-1].interrupt


def test_a_non_interruptive_onc_pair_informs_after_the_interrupting_alert():
    alerts = check_order(DrugUse("warfarin"), patient(current=(DrugUse("naproxen"), DrugUse("omeprazole"))))
    assert alerts[0].rule == "ddi:warfarin+nsaid" and alerts[0].interrupt
    ppi = one(alerts, "ddi:onc-ni:warfarin+ppi")
    assert not ppi.interrupt and ppi.severity == "minor" and ppi.drugs == ("omeprazole", "warfarin")
    assert "INR" in ppi.action


# --------------------------------------------------------------------------- allergies


def test_penicillin_allergy_interrupts_amoxicillin():
    alert = one(
        check_order(DrugUse("amoxicillin"), patient(allergy_status="recorded", allergies=("Penicillin",))),
        "allergy:penicillins:penicillin",
    )
    assert alert.kind == "allergy" and alert.interrupt and alert.severity == "major"


@pytest.mark.parametrize("drug", ["cefazolin", "ceftriaxone", "meropenem"])
def test_penicillin_allergy_warns_on_cephalosporins_and_carbapenems_as_a_lesser_warning(drug):
    alerts = kinds(
        check_order(DrugUse(drug), patient(allergy_status="recorded", allergies=("penicillins",))), "allergy"
    )
    assert len(alerts) == 1 and not alerts[0].interrupt and alerts[0].severity == "moderate"


def test_an_allergy_recorded_as_an_ingredient_covers_its_class_and_the_drug_itself():
    record = patient(allergy_status="recorded", allergies=("amoxicillin",))
    assert (
        one(check_order(DrugUse("amoxicillin"), record), "allergy:ingredient").severity == "contraindicated"
    )
    assert one(check_order(DrugUse("piperacillin"), record), "allergy:penicillins:penicillin").interrupt
    assert not one(check_order(DrugUse("cephalexin"), record), "allergy:penicillins:cephalosporin").interrupt


def test_sulfa_allergy_interrupts_sulfamethoxazole_but_only_informs_on_furosemide():
    record = patient(allergy_status="recorded", allergies=("Sulfa drugs",))
    assert one(check_order(DrugUse("Bactrim"), record), "allergy:sulfonamides:antibiotic").interrupt
    lesser = one(check_order(DrugUse("furosemide"), record), "allergy:sulfonamides:non-antibiotic")
    assert not lesser.interrupt and lesser.severity == "minor"


def test_nsaid_allergy_covers_aspirin_and_aspirin_allergy_covers_ibuprofen():
    assert one(
        check_order(DrugUse("aspirin"), patient(allergy_status="recorded", allergies=("NSAIDs",))),
        "allergy:nsaids:nsaid",
    ).interrupt
    assert one(
        check_order(DrugUse("ibuprofen"), patient(allergy_status="recorded", allergies=("aspirin",))),
        "allergy:nsaids:nsaid",
    ).interrupt


def test_an_unrelated_allergy_gives_no_alert():
    alerts = check_order(
        DrugUse("azithromycin"), patient(allergy_status="recorded", allergies=("penicillin", "latex"))
    )
    assert kinds(alerts, "allergy") == [] and kinds(alerts, "allergy_not_assessed") == []


def test_allergies_not_assessed_is_itself_an_info_alert_and_no_known_gives_none():
    alert = one(check_order(DrugUse("amoxicillin"), PatientContext()), "allergy:not-assessed")
    assert alert.kind == "allergy_not_assessed" and alert.severity == "info" and not alert.interrupt
    assert kinds(check_order(DrugUse("amoxicillin"), patient()), "allergy_not_assessed") == []
    # The allergy list is ignored unless the status says it was recorded: not assessed stays not assessed.
    unassessed = check_order(DrugUse("amoxicillin"), PatientContext(allergies=("penicillin",)))
    assert kinds(unassessed, "allergy_not_assessed") and not kinds(unassessed, "allergy")


# --------------------------------------------------------------------------- duplicates


def test_two_members_of_a_class_are_duplicate_therapy():
    alert = one(
        check_order(DrugUse("apixaban"), patient(current=(DrugUse("warfarin"),))), "dup:oral_anticoagulant"
    )
    assert alert.kind == "duplicate_therapy" and alert.interrupt and alert.drugs == ("apixaban", "warfarin")
    assert (
        one(
            check_order(DrugUse("omeprazole"), patient(current=(DrugUse("pantoprazole"),))), "dup:ppi"
        ).severity
        == "moderate"
    )


def test_the_same_ingredient_twice_is_a_duplicate_and_different_classes_are_not():
    assert one(
        check_order(DrugUse("acetaminophen"), patient(current=(DrugUse("Tylenol"),))), "dup:same-ingredient"
    )
    assert (
        kinds(
            check_order(DrugUse("metformin"), patient(current=(DrugUse("lisinopril"),))), "duplicate_therapy"
        )
        == []
    )
    # Basal plus rapid insulin is the usual regimen, not a duplicate.
    assert (
        kinds(
            check_order(DrugUse("insulin lispro"), patient(current=(DrugUse("insulin glargine"),))),
            "duplicate_therapy",
        )
        == []
    )


# --------------------------------------------------------------------------- dose ranges


def test_adult_doses_per_dose_and_per_day():
    adult = patient(age_years=D(40), weight_kg=D(80))
    assert check_order(DrugUse("acetaminophen", D(1), "g", D(4), "oral"), adult) == []
    over_dose = check_order(DrugUse("acetaminophen", D(1500), "mg", D(2), "oral"), adult)
    assert one(over_dose, "dose:acetaminophen:per-dose").interrupt and not kinds(over_dose, "dose_per_day")
    over_day = check_order(DrugUse("acetaminophen", D(1000), "mg", D(6), "oral"), adult)
    assert "6000 mg" in one(over_day, "dose:acetaminophen:per-day").message and not kinds(
        over_day, "dose_per_dose"
    )


def test_child_doses_are_per_kg_and_capped_at_the_adult_dose():
    child = patient(age_years=D(6), weight_kg=D(20))
    assert (
        check_order(DrugUse("acetaminophen", D(300), "mg", D(4), "oral"), child) == []
    )  # 15 mg/kg, 60 mg/kg/day
    alert = one(
        check_order(DrugUse("acetaminophen", D(500), "mg", D(1), "oral"), child),
        "dose:acetaminophen:per-dose",
    )
    assert "300 mg" in alert.message and "15 mg/kg" in alert.message
    day = one(
        check_order(DrugUse("acetaminophen", D(300), "mg", D(6), "oral"), child), "dose:acetaminophen:per-day"
    )
    assert "1500 mg" in day.message  # 75 mg/kg x 20 kg
    big_teen = patient(age_years=D(16), weight_kg=D(120))  # 15 mg/kg would be 1800 mg: capped at 1000
    assert one(
        check_order(DrugUse("acetaminophen", D(1200), "mg", D(1), "oral"), big_teen),
        "dose:acetaminophen:per-dose",
    )


def test_a_child_without_a_weight_gets_an_info_alert_instead_of_a_guess():
    alert = one(
        check_order(DrugUse("ibuprofen", D(100), "mg", D(3), "oral"), patient(age_years=D(4))),
        "dose:ibuprofen:weight-needed",
    )
    assert alert.severity == "info" and not alert.interrupt


def test_age_bands_and_routes_pick_the_right_limit():
    assert not kinds(
        check_order(DrugUse("citalopram", D(40), "mg", D(1), "oral"), patient(age_years=D(59))),
        "dose_per_dose",
    )
    assert one(
        check_order(DrugUse("citalopram", D(40), "mg", D(1), "oral"), patient(age_years=D(60))),
        "dose:citalopram:per-dose",
    )
    assert one(
        check_order(DrugUse("ketorolac", D(20), "mg", D(1), "oral"), patient(age_years=D(30))),
        "dose:ketorolac:per-dose",
    )
    assert not kinds(
        check_order(DrugUse("ketorolac", D(20), "mg", D(1), "iv"), patient(age_years=D(30))), "dose_per_dose"
    )


def test_units_convert_and_uncheckable_units_raise_nothing():
    assert one(
        check_order(DrugUse("levothyroxine", D("0.4"), "mg", D(1), "oral"), patient(age_years=D(50))),
        "dose:levothyroxine:per-dose",
    )
    assert not check_order(DrugUse("levothyroxine", D(100), "mcg", D(1), "oral"), patient(age_years=D(50)))
    assert not check_order(DrugUse("acetaminophen", D(50), "mL", D(4), "oral"), patient(age_years=D(50)))


# --------------------------------------------------------------------------- renal bands


@pytest.mark.parametrize(
    ("egfr", "rule"),
    [
        ("29.9", "renal:metformin:lt30"),
        ("30", "renal:metformin:30-44"),
        ("44.9", "renal:metformin:30-44"),
        ("45", None),
        ("90", None),
    ],
)
def test_metformin_renal_bands_at_their_edges(egfr, rule):
    alerts = kinds(
        check_order(DrugUse("metformin", D(1000), "mg", D(2), "oral"), patient(egfr=D(egfr))), "renal"
    )
    assert [a.rule for a in alerts] == ([rule] if rule else [])
    if rule == "renal:metformin:lt30":
        assert alerts[0].interrupt and alerts[0].severity == "contraindicated"


def test_an_order_already_within_the_bands_maximum_raises_no_renal_alert():
    within = check_order(DrugUse("metformin", D(500), "mg", D(2), "oral"), patient(egfr=D(40)))
    assert kinds(within, "renal") == []
    unknown_dose = check_order(DrugUse("metformin"), patient(egfr=D(40)))
    assert kinds(unknown_dose, "renal")


@pytest.mark.parametrize(
    ("egfr", "rule"),
    [
        ("14.9", "renal:gabapentin:lt15"),
        ("15", "renal:gabapentin:15-29"),
        ("29.99", "renal:gabapentin:15-29"),
        ("30", "renal:gabapentin:30-59"),
        ("59.9", "renal:gabapentin:30-59"),
        ("60", None),
    ],
)
def test_gabapentin_renal_bands_at_their_edges(egfr, rule):
    alerts = kinds(
        check_order(DrugUse("gabapentin", D(600), "mg", D(3), "oral"), patient(egfr=D(egfr))), "renal"
    )
    assert [a.rule for a in alerts] == ([rule] if rule else [])


def test_class_renal_rules_and_no_egfr_means_no_renal_alert():
    assert one(check_order(DrugUse("ibuprofen"), patient(egfr=D(20))), "renal:nsaid:lt30").interrupt
    assert kinds(check_order(DrugUse("ibuprofen"), patient()), "renal") == []


# --------------------------------------------------------------------------- pregnancy and lactation


def test_pregnancy_flags_interrupt_when_contraindicated_and_inform_otherwise():
    pregnant = patient(sex="female", age_years=D(30), pregnant=True)
    assert one(check_order(DrugUse("lisinopril"), pregnant), "pregnancy:lisinopril").interrupt
    statin = one(check_order(DrugUse("atorvastatin"), pregnant), "pregnancy:atorvastatin")
    assert statin.severity == "major" and not statin.interrupt
    assert kinds(check_order(DrugUse("amoxicillin"), pregnant), "pregnancy") == []
    assert (
        kinds(
            check_order(DrugUse("isotretinoin"), patient(sex="female", age_years=D(30), pregnant=False)),
            "pregnancy",
        )
        == []
    )


def test_an_unknown_pregnancy_status_is_asked_for_only_for_teratogens_in_women_of_childbearing_age():
    assert (
        one(
            check_order(DrugUse("valproic acid"), patient(sex="female", age_years=D(25))),
            "pregnancy:valproic acid:status-unknown",
        ).severity
        == "info"
    )
    assert (
        kinds(check_order(DrugUse("valproic acid"), patient(sex="female", age_years=D(70))), "pregnancy")
        == []
    )
    assert (
        kinds(check_order(DrugUse("valproic acid"), patient(sex="male", age_years=D(25))), "pregnancy") == []
    )


def test_lactation_flags():
    nursing = patient(sex="female", age_years=D(30), lactating=True)
    assert one(check_order(DrugUse("codeine"), nursing), "lactation:codeine").interrupt
    assert (
        kinds(
            check_order(DrugUse("codeine"), patient(sex="female", age_years=D(30), lactating=False)),
            "lactation",
        )
        == []
    )
