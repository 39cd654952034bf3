"""Clinical scores against their publications: every band edge, both SpO2 scales, worked examples.

Expected numbers are read off the published charts and equations (RCP NEWS2 2017 chart 1; Seymour
2016; Lip 2010; Inker 2021), never taken from the code under test.
"""

from __future__ import annotations

import pytest

from hms_app.cds import scores

NORMAL = {
    "respiratory_rate_per_min": 16,
    "spo2_percent": 97,
    "on_supplemental_oxygen": False,
    "systolic_mmhg": 120,
    "pulse_per_min": 70,
    "consciousness": "A",
    "temperature_celsius": 37.0,
}


def news(**changes) -> scores.News2:
    return scores.news2(**{**NORMAL, **changes})


# ------------------------------------------------------------------------------------ NEWS2 bands


@pytest.mark.parametrize(
    ("rate", "points"),
    [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (20.5, 2), (0, 3)],
)
def test_news2_respiration_rate_edges(rate, points):
    assert news(respiratory_rate_per_min=rate).points["respiratory_rate_per_min"] == points


@pytest.mark.parametrize(("spo2", "points"), [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)])
def test_news2_spo2_scale_1_edges(spo2, points):
    assert news(spo2_percent=spo2).points["spo2_percent"] == points
    # Scale 1 does not care whether the saturation is reached on oxygen (oxygen scores apart).
    assert news(spo2_percent=spo2, on_supplemental_oxygen=True).points["spo2_percent"] == points


@pytest.mark.parametrize(
    ("spo2", "on_air", "on_oxygen"),
    [
        (83, 3, 3),
        (84, 2, 2),
        (85, 2, 2),
        (86, 1, 1),
        (87, 1, 1),
        (88, 0, 0),
        (92, 0, 0),
        (93, 0, 1),  # above target: fine on air, too much oxygen on oxygen
        (94, 0, 1),
        (95, 0, 2),
        (96, 0, 2),
        (97, 0, 3),
        (100, 0, 3),
    ],
)
def test_news2_spo2_scale_2_edges_on_air_and_on_oxygen(spo2, on_air, on_oxygen):
    air = news(spo2_percent=spo2, spo2_scale=2)
    oxygen = news(spo2_percent=spo2, spo2_scale=2, on_supplemental_oxygen=True)
    assert air.points["spo2_percent"] == on_air
    assert oxygen.points["spo2_percent"] == on_oxygen
    assert oxygen.points["on_supplemental_oxygen"] == 2 and air.points["on_supplemental_oxygen"] == 0
    assert air.spo2_scale == 2 and air.inputs[1].label == "SpO2 (scale 2)"


@pytest.mark.parametrize(
    ("systolic", "points"),
    [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)],
)
def test_news2_systolic_edges(systolic, points):
    assert news(systolic_mmhg=systolic).points["systolic_mmhg"] == points


@pytest.mark.parametrize(
    ("pulse", "points"),
    [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)],
)
def test_news2_pulse_edges(pulse, points):
    assert news(pulse_per_min=pulse).points["pulse_per_min"] == points


@pytest.mark.parametrize(
    ("temperature", "points"),
    [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2)],
)
def test_news2_temperature_edges(temperature, points):
    assert news(temperature_celsius=temperature).points["temperature_celsius"] == points


@pytest.mark.parametrize(("level", "points"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_news2_consciousness_new_confusion_scores_3(level, points):
    assert news(consciousness=level).points["consciousness"] == points


# ------------------------------------------------------------------------- NEWS2 aggregate bands


def test_news2_all_normal_is_0_low_and_no_alert():
    result = news()
    assert (result.value, result.band, result.alert, result.red_parameter) == (0, "low", False, "")
    assert "12 hours" in result.interpretation


def test_news2_4_without_a_single_3_is_low():
    # RR 21 (2) + SpO2 95 (1) + temperature 38.1 (1) = 4
    result = news(respiratory_rate_per_min=21, spo2_percent=95, temperature_celsius=38.1)
    assert (result.value, result.band, result.alert) == (4, "low", False)


def test_news2_a_single_3_alone_is_low_medium_and_alerts():
    result = news(consciousness="C")  # new confusion: 3, everything else 0
    assert (result.value, result.band, result.alert) == (3, "low-medium", True)
    assert result.red_parameter == "Consciousness"
    assert "Urgent ward-based response" in result.interpretation and "Consciousness" in result.interpretation


def test_news2_5_is_medium_and_alerts():
    # oxygen (2) + SpO2 94 (1) + pulse 91 (1) + RR 9 (1) = 5
    result = news(on_supplemental_oxygen=True, spo2_percent=94, pulse_per_min=91, respiratory_rate_per_min=9)
    assert (result.value, result.band, result.alert) == (5, "medium", True)
    assert "urgent response" in result.interpretation


def test_news2_6_is_still_medium_and_7_is_high():
    six = news(on_supplemental_oxygen=True, spo2_percent=93, pulse_per_min=111)  # 2 + 2 + 2
    seven = news(on_supplemental_oxygen=True, spo2_percent=93, pulse_per_min=111, temperature_celsius=38.5)
    assert (six.value, six.band) == (6, "medium")
    assert (seven.value, seven.band, seven.alert) == (7, "high", True)
    assert "emergency response" in seven.interpretation


def test_news2_worked_example_septic_patient_on_oxygen():
    # RR 24 (2), SpO2 93 % scale 1 (2), oxygen (2), SBP 105 (1), pulse 115 (2), alert (0), 38.4 °C (1)
    result = scores.news2(
        respiratory_rate_per_min=24,
        spo2_percent=93,
        on_supplemental_oxygen=True,
        systolic_mmhg=105,
        pulse_per_min=115,
        consciousness="A",
        temperature_celsius=38.4,
    )
    assert result.points == {
        "respiratory_rate_per_min": 2,
        "spo2_percent": 2,
        "on_supplemental_oxygen": 2,
        "systolic_mmhg": 1,
        "pulse_per_min": 2,
        "consciousness": 0,
        "temperature_celsius": 1,
    }
    assert (result.value, result.band) == (10, "high")
    assert [(i.label, i.value, i.unit) for i in result.inputs][:2] == [
        ("Respiration rate", "24", "/min"),
        ("SpO2 (scale 1)", "93", "%"),
    ]


def test_news2_worked_example_copd_on_scale_2_on_target_scores_less_than_on_scale_1():
    # A patient in hypercapnic failure on 2 L oxygen at 90 %: scale 2 scores the saturation 0
    # (on target); scale 1 would have scored it 3.
    common = {**NORMAL, "spo2_percent": 90, "on_supplemental_oxygen": True}
    assert scores.news2(**common, spo2_scale=2).value == 2  # the oxygen only
    assert scores.news2(**common).value == 5


def test_news2_maximum_is_20():
    result = scores.news2(
        respiratory_rate_per_min=30,
        spo2_percent=80,
        on_supplemental_oxygen=True,
        systolic_mmhg=80,
        pulse_per_min=140,
        consciousness="U",
        temperature_celsius=34.0,
    )
    assert result.value == 20 and result.band == "high"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"respiratory_rate_per_min": -1}, "Respiratory rate of -1 /min is outside 0 to 100 /min"),
        ({"spo2_percent": 101}, "SpO2 of 101 % is outside 0 to 100 %"),
        ({"systolic_mmhg": 500}, "Systolic blood pressure of 500 mmHg is outside"),
        ({"pulse_per_min": "80"}, "Pulse must be a number in /min"),
        ({"temperature_celsius": 98.6}, "Temperature of 98.6 °C is outside 20 to 46 °C"),
        ({"temperature_celsius": float("nan")}, "Temperature must be a number"),
        ({"consciousness": "alert"}, "one of A, C, V, P or U"),
        ({"on_supplemental_oxygen": 1}, "Supplemental oxygen must be yes or no"),
        ({"spo2_scale": 3}, "SpO2 scale must be 1 or 2"),
        ({"systolic_mmhg": True}, "Systolic blood pressure must be a number"),
    ],
)
def test_news2_refuses_impossible_inputs(change, message):
    with pytest.raises(ValueError, match=message):
        news(**change)


# ------------------------------------------------------------------------------------------ qSOFA


@pytest.mark.parametrize(
    ("rate", "systolic", "altered", "value", "band"),
    [
        (21, 101, False, 0, "negative"),
        (22, 101, False, 1, "negative"),
        (21, 100, False, 1, "negative"),
        (21, 101, True, 1, "negative"),
        (22, 100, False, 2, "positive"),
        (22, 101, True, 2, "positive"),
        (21, 100, True, 2, "positive"),
        (30, 80, True, 3, "positive"),
    ],
)
def test_qsofa_criteria_edges_and_the_threshold_of_2(rate, systolic, altered, value, band):
    result = scores.qsofa(respiratory_rate_per_min=rate, systolic_mmhg=systolic, altered_mentation=altered)
    assert (result.value, result.band) == (value, band)


def test_qsofa_says_a_negative_does_not_rule_out_sepsis():
    result = scores.qsofa(respiratory_rate_per_min=16, systolic_mmhg=120, altered_mentation=False)
    assert "does not rule out sepsis" in result.interpretation
    assert [i.points for i in result.inputs] == [0, 0, 0]


def test_altered_mentation_is_a_gcs_below_15_or_anything_but_alert():
    assert scores.altered_mentation_from_gcs(15) is False
    assert scores.altered_mentation_from_gcs(14) is True
    assert scores.altered_mentation_from_gcs(3) is True
    for bad in (2, 16, 14.5, True):
        with pytest.raises(ValueError, match="3 to 15"):
            scores.altered_mentation_from_gcs(bad)
    assert scores.altered_mentation_from_acvpu("A") is False
    assert all(scores.altered_mentation_from_acvpu(x) for x in "CVPU")
    with pytest.raises(ValueError):
        scores.altered_mentation_from_acvpu("X")


def test_qsofa_refuses_impossible_inputs():
    with pytest.raises(ValueError, match="Respiratory rate"):
        scores.qsofa(respiratory_rate_per_min=150, systolic_mmhg=120, altered_mentation=False)
    with pytest.raises(ValueError, match="Altered mentation must be yes or no"):
        scores.qsofa(respiratory_rate_per_min=20, systolic_mmhg=120, altered_mentation="no")


# ----------------------------------------------------------------------------------- CHA2DS2-VASc

NONE = {
    "congestive_heart_failure": False,
    "hypertension": False,
    "diabetes": False,
    "stroke_tia_thromboembolism": False,
    "vascular_disease": False,
}


def cha(age=50, sex="male", **criteria) -> scores.Score:
    return scores.cha2ds2_vasc(age_years=age, sex=sex, **{**NONE, **criteria})


@pytest.mark.parametrize(("age", "points"), [(64, 0), (65, 1), (74, 1), (75, 2), (90, 2)])
def test_cha2ds2_vasc_age_edges(age, points):
    assert cha(age).points["age_years"] == points


@pytest.mark.parametrize(
    ("criterion", "points"),
    [
        ("congestive_heart_failure", 1),
        ("hypertension", 1),
        ("diabetes", 1),
        ("stroke_tia_thromboembolism", 2),
        ("vascular_disease", 1),
    ],
)
def test_cha2ds2_vasc_each_criterion(criterion, points):
    assert cha(**{criterion: True}).value == points


def test_cha2ds2_vasc_bands_treat_female_sex_as_a_modifier():
    # Men 0 / 1 / 2+; women 1 / 2 / 3+ (female sex alone is low risk).
    assert (cha().value, cha().band) == (0, "low")
    assert (cha(sex="female").value, cha(sex="female").band) == (1, "low")
    assert (cha(hypertension=True).value, cha(hypertension=True).band) == (1, "intermediate")
    assert cha(sex="female", hypertension=True).value == 2
    assert cha(sex="female", hypertension=True).band == "intermediate"
    assert (cha(age=65, hypertension=True).value, cha(age=65, hypertension=True).band) == (2, "high")
    assert cha(sex="female", age=65, hypertension=True).value == 3
    assert cha(sex="female", age=65, hypertension=True).band == "high"
    assert "recommended" in cha(age=75).interpretation


def test_cha2ds2_vasc_worked_examples_from_lip_2010():
    # A 78-year-old woman with hypertension and diabetes: A2 2 + H 1 + D 1 + Sc 1 = 5.
    assert cha(age=78, sex="female", hypertension=True, diabetes=True).value == 5
    # Every criterion, 75 or over, female: 1 + 1 + 2 + 1 + 2 + 1 + 1 = 9, the maximum.
    everything = dict.fromkeys(NONE, True)
    assert scores.cha2ds2_vasc(age_years=80, sex="female", **everything).value == 9
    # A 70-year-old man after a TIA: A 1 + S2 2 = 3.
    assert cha(age=70, stroke_tia_thromboembolism=True).value == 3


def test_cha2ds2_vasc_is_only_defined_for_female_or_male_and_real_ages():
    for sex in ("other", "unknown", "F", ""):
        with pytest.raises(ValueError, match="'female' or 'male'"):
            cha(sex=sex)
    with pytest.raises(ValueError, match="whole number of years"):
        cha(age=70.5)
    with pytest.raises(ValueError, match="outside 0 to 130"):
        cha(age=-1)
    with pytest.raises(ValueError, match="Diabetes must be yes or no"):
        cha(diabetes="yes")


# ------------------------------------------------------------------------- eGFR, CKD-EPI 2021
# Expected values worked from 142 × min(Scr/κ,1)^α × max(Scr/κ,1)^-1.200 × 0.9938^age × 1.012[F],
# computed apart from this code; the unrounded value is in each comment.


@pytest.mark.parametrize(
    ("creatinine", "age", "sex", "expected", "stage"),
    [
        (1.0, 50, "male", 92, "G1"),  # 142 × (1.0/0.9)^-1.2 × 0.9938^50 = 91.69
        (1.0, 50, "female", 69, "G2"),  # 142 × (1.0/0.7)^-1.2 × 0.9938^50 × 1.012 = 68.63
        (0.6, 60, "female", 103, "G1"),  # 142 × (0.6/0.7)^-0.241 × 0.9938^60 × 1.012 = 102.69
        (0.7, 30, "male", 127, "G1"),  # 142 × (0.7/0.9)^-0.302 × 0.9938^30 = 127.12
        (1.3, 70, "female", 44, "G3b"),  # 142 × (1.3/0.7)^-1.2 × 0.9938^70 × 1.012 = 44.24
        (2.5, 80, "male", 25, "G4"),  # 142 × (2.5/0.9)^-1.2 × 0.9938^80 = 25.34
        (5.0, 65, "male", 12, "G5"),  # 142 × (5.0/0.9)^-1.2 × 0.9938^65 = 12.11
        (0.9, 40, "male", 111, "G1"),  # at Scr = κ both terms are 1: 142 × 0.9938^40 = 110.73
        (0.7, 18, "female", 128, "G1"),  # 142 × 0.9938^18 × 1.012 = 128.48
    ],
)
def test_egfr_ckd_epi_2021_worked_examples(creatinine, age, sex, expected, stage):
    result = scores.egfr_ckd_epi_2021(creatinine_mg_dl=creatinine, age_years=age, sex=sex)
    assert (result.value, result.band) == (expected, stage)
    assert isinstance(result.value, int)
    assert result.inputs[0].unit == "mg/dL"


def test_egfr_accepts_micromoles_through_the_explicit_conversion():
    assert scores.creatinine_umol_l_to_mg_dl(88.4) == pytest.approx(1.0)
    assert scores.creatinine_umol_l_to_mg_dl(53.04) == pytest.approx(0.6)
    result = scores.egfr_ckd_epi_2021(
        creatinine_mg_dl=scores.creatinine_umol_l_to_mg_dl(88.4), age_years=50, sex="male"
    )
    assert result.value == 92
    with pytest.raises(ValueError, match="more than 0"):
        scores.creatinine_umol_l_to_mg_dl(0)


@pytest.mark.parametrize(
    ("egfr", "stage"),
    [
        (120, "G1"),
        (90, "G1"),
        (89, "G2"),
        (60, "G2"),
        (59, "G3a"),
        (45, "G3a"),
        (44, "G3b"),
        (30, "G3b"),
        (29, "G4"),
        (15, "G4"),
        (14, "G5"),
        (0, "G5"),
    ],
)
def test_kdigo_gfr_category_edges(egfr, stage):
    assert scores.gfr_category(egfr)[0] == stage


def test_egfr_is_for_adults_with_a_positive_creatinine():
    with pytest.raises(ValueError, match="outside 18 to 130"):
        scores.egfr_ckd_epi_2021(creatinine_mg_dl=0.5, age_years=17, sex="female")
    with pytest.raises(ValueError, match="more than 0 mg/dL"):
        scores.egfr_ckd_epi_2021(creatinine_mg_dl=0, age_years=40, sex="female")
    with pytest.raises(ValueError, match="Creatinine of 95 mg/dL is outside"):
        scores.egfr_ckd_epi_2021(creatinine_mg_dl=95, age_years=40, sex="male")  # µmol/L typed as mg/dL
    with pytest.raises(ValueError, match="'female' or 'male'"):
        scores.egfr_ckd_epi_2021(creatinine_mg_dl=1.0, age_years=40, sex="unknown")


# -------------------------------------------------------------------------------------------- BMI


@pytest.mark.parametrize(
    ("weight", "height", "value", "category"),
    [(70, 175, 22.9, "healthy weight"), (50, 170, 17.3, "underweight"), (100, 170, 34.6, "obesity")],
)
def test_bmi_score_reuses_the_vitals_rule_and_names_the_category(weight, height, value, category):
    result = scores.body_mass_index(weight_kg=weight, height_cm=height)
    assert (round(result.value, 1), result.band) == (value, category)
    assert [(i.label, i.unit) for i in result.inputs] == [("Weight", "kg"), ("Height", "cm")]


def test_bmi_refuses_impossible_inputs():
    with pytest.raises(ValueError, match="Height of 1.75 cm is outside"):
        scores.body_mass_index(weight_kg=70, height_cm=1.75)  # metres typed as centimetres
