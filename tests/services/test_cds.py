"""The chart's clinical scores on hand-built patients, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from hms_app.cds import vitals as vital_rules
from hms_app.clock import utcnow
from hms_app.errors import Forbidden, NotFound
from hms_app.models.emr import Condition, Encounter, Observation
from hms_app.models.security import AuditEvent
from hms_app.services import cds
from hms_app.services.patients import age_years, register_patient
from hms_app.services.permissions import SYSTEM_ACTOR, Actor

DOCTOR = Actor(
    user_id=7, username="dr.test", roles=frozenset({"physician"}), permissions=frozenset({"patient.read"})
)
CLERK = Actor(
    user_id=8, username="bill", roles=frozenset({"billing_clerk"}), permissions=frozenset({"billing.read"})
)
# A complete NEWS2 set with nothing wrong: RR 16, SpO2 97 on air, BP 120, pulse 70, alert, 37.0 °C.
CALM_SET = {
    "respiratory_rate": 16,
    "spo2": 97,
    "oxygen_flow": 0,
    "systolic_bp": 120,
    "diastolic_bp": 80,
    "heart_rate": 70,
    "consciousness": 0,
    "temperature": 37.0,
}


def _patient(session, sex: str = "female", born: str = "1950-03-01", family: str = "Vale") -> int:
    return register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Iris", "family_name": family, "sex": sex, "birth_date": born},
    ).id


def _vitals(session, patient_id: int, values: dict, taken_at, encounter_id: int | None = None) -> None:
    for key, value in values.items():
        spec = vital_rules.VITALS[key]
        session.add(
            Observation(
                patient_id=patient_id,
                encounter_id=encounter_id,
                code=spec.loinc,
                display=spec.display,
                value=value,
                unit=spec.unit,
                effective_at=taken_at,
            )
        )
    session.commit()


def _creatinine(session, patient_id: int, value: float, taken_at, unit: str = "mg/dL") -> None:
    session.add(
        Observation(
            patient_id=patient_id,
            category="laboratory",
            code="2160-0",
            display="Creatinine [Mass/volume] in Serum or Plasma",
            value=value,
            unit=unit,
            effective_at=taken_at,
        )
    )
    session.commit()


def _conditions(session, patient_id: int, *codes: str, status: str = "active") -> None:
    for code in codes:
        session.add(Condition(patient_id=patient_id, code=code, display=code, clinical_status=status))
    session.commit()


def _scores(session, patient_id: int, **kwargs) -> cds.ChartScores:
    return cds.chart_scores(session, actor=DOCTOR, patient_id=patient_id, audit=False, **kwargs)


def test_a_patient_with_nothing_recorded_has_no_scores_and_nothing_to_explain(session):
    found = _scores(session, _patient(session))
    assert found.scores == () and found.missing == () and found.alert == ""


def test_a_complete_calm_set_gives_news2_0_and_qsofa_0_with_the_time_of_each_input(session):
    pid = _patient(session)
    taken = utcnow() - timedelta(minutes=30)
    _vitals(session, pid, CALM_SET, taken)
    found = _scores(session, pid)
    news = found.get("news2")
    assert (news.score.value, news.score.band) == (0, "low") and found.alert == ""
    assert [(i.label, i.value, i.unit) for i in news.inputs] == [
        ("Respiration rate", "16", "/min"),
        ("SpO2 (scale 1)", "97", "%"),
        ("Air or oxygen", "Air", ""),
        ("Systolic blood pressure", "120", "mmHg"),
        ("Pulse", "70", "/min"),
        ("Consciousness", "A (Alert)", ""),
        ("Temperature", "37.0", "°C"),
    ]
    assert {i.taken_at for i in news.inputs} == {taken}
    assert news.inputs[0].source == "LOINC 9279-1"
    assert found.get("qsofa").score.value == 0


def test_the_latest_value_wins_and_raises_the_alert(session):
    pid = _patient(session)
    now = utcnow()
    _vitals(session, pid, CALM_SET, now - timedelta(days=2))
    # Today: RR 25 (3) on 2 L oxygen (2) with SpO2 94 (1), BP 100 (2): NEWS2 8, high.
    _vitals(
        session,
        pid,
        {
            **CALM_SET,
            "respiratory_rate": 25,
            "oxygen_flow": 2,
            "spo2": 94,
            "systolic_bp": 100,
            "diastolic_bp": 60,
        },
        now - timedelta(minutes=5),
    )
    found = _scores(session, pid)
    news = found.get("news2").score
    assert (news.value, news.band) == (8, "high")
    assert found.alert == "NEWS2 8 (high clinical risk): urgent clinical review"
    assert found.get("news2").inputs[2].value == "Oxygen 2 L/min"
    # qSOFA from the same set: RR ≥ 22 and SBP ≤ 100.
    assert (found.get("qsofa").score.value, found.get("qsofa").score.band) == (2, "positive")


def test_an_old_set_at_a_trigger_shows_its_score_but_raises_no_alert(session):
    pid = _patient(session)
    _vitals(
        session, pid, {**CALM_SET, "respiratory_rate": 26, "heart_rate": 135}, utcnow() - timedelta(hours=25)
    )
    found = _scores(session, pid)
    assert found.get("news2").score.value == 6  # still shown, with its date
    assert found.alert == ""


def test_an_old_set_at_a_trigger_alerts_while_its_encounter_is_in_progress(session):
    pid = _patient(session)
    taken = utcnow() - timedelta(hours=30)
    encounter = Encounter(patient_id=pid, encounter_class="emergency", status="in-progress", start_at=taken)
    session.add(encounter)
    session.commit()
    _vitals(session, pid, {**CALM_SET, "respiratory_rate": 26, "heart_rate": 135}, taken, encounter.id)
    assert _scores(session, pid).alert == "NEWS2 6 (medium clinical risk): urgent clinical review"
    encounter.status = "finished"
    session.add(encounter)
    session.commit()
    assert _scores(session, pid).alert == ""  # discharged: the old set is history


def test_a_single_parameter_of_3_alerts_even_when_the_total_is_low(session):
    pid = _patient(session)
    _vitals(session, pid, {**CALM_SET, "consciousness": 1}, utcnow())  # new confusion
    found = _scores(session, pid)
    assert found.get("news2").score.value == 3
    assert found.alert == "NEWS2 3 (Consciousness scores 3): urgent clinical review"


def test_two_values_taken_at_the_same_moment_the_later_recorded_wins(session):
    pid = _patient(session)
    taken = utcnow() - timedelta(minutes=10)
    _vitals(session, pid, CALM_SET, taken)
    _vitals(session, pid, {"heart_rate": 135}, taken)  # a correction at the same time: 3 points
    news = _scores(session, pid).get("news2")
    assert news.score.points["pulse_per_min"] == 3 and news.inputs[4].value == "135"


def test_news2_needs_every_parameter_and_says_which_is_missing(session):
    pid = _patient(session)
    incomplete = {k: v for k, v in CALM_SET.items() if k not in ("consciousness", "oxygen_flow")}
    _vitals(session, pid, incomplete, utcnow())
    found = _scores(session, pid)
    assert found.get("news2") is None and found.get("qsofa") is None and found.alert == ""
    assert any(
        m.startswith("NEWS2 needs inhaled oxygen flow rate, level of consciousness (acvpu)")
        for m in found.missing
    )


def test_news2_is_not_built_from_observations_hours_apart(session):
    pid = _patient(session)
    now = utcnow()
    _vitals(session, pid, {k: v for k, v in CALM_SET.items() if k != "temperature"}, now)
    _vitals(session, pid, {"temperature": 39.5}, now - timedelta(hours=3))
    found = _scores(session, pid)
    assert found.get("news2") is None
    assert any("body temperature was taken more than an hour before the rest" in m for m in found.missing)
    assert found.get("qsofa") is not None  # qSOFA's three were taken together


def test_spo2_scale_2_is_used_for_hypercapnic_respiratory_failure_on_the_problem_list(session):
    pid = _patient(session)
    _conditions(session, pid, "J96.12")
    _vitals(session, pid, {**CALM_SET, "spo2": 90, "oxygen_flow": 2}, utcnow())
    news = _scores(session, pid).get("news2")
    assert news.score.spo2_scale == 2 and news.score.points["spo2_percent"] == 0 and news.score.value == 2
    assert "J96.12" in news.inputs[1].source
    # Resolved, it no longer applies: scale 1 scores 90 % as 3.
    session.execute(Condition.__table__.update().values(clinical_status="resolved"))
    session.commit()
    assert _scores(session, pid).get("news2").score.points["spo2_percent"] == 3


def test_children_get_no_news2(session):
    pid = _patient(session, born=(date.today() - timedelta(days=365 * 10)).isoformat())
    _vitals(session, pid, CALM_SET, utcnow())
    found = _scores(session, pid)
    assert found.get("news2") is None and found.get("qsofa") is None and found.get("bmi") is None


def test_egfr_from_the_latest_creatinine_age_when_taken_and_sex(session):
    pid = _patient(session, sex="male", born="1970-06-15")
    _creatinine(session, pid, 2.0, utcnow() - timedelta(days=400))
    latest = utcnow() - timedelta(days=3)
    _creatinine(session, pid, 1.0, latest)
    egfr = _scores(session, pid).get("egfr")
    age = age_years(date(1970, 6, 15), latest.date())
    # 142 × (1.0/0.9)^-1.2 × 0.9938^age (male), worked out apart: 55 → 88.88, 56 → 88.33, 57 → 87.79 ...
    expected = {55: 89, 56: 88, 57: 88, 58: 87, 59: 87, 60: 86}
    assert egfr.score.value == expected[age]
    assert [(i.label, i.value, i.unit) for i in egfr.inputs] == [
        ("Serum creatinine", "1.00", "mg/dL"),
        ("Age when taken", str(age), "years"),
        ("Sex", "Male", ""),
    ]
    assert egfr.inputs[0].taken_at == latest and egfr.inputs[0].source == "LOINC 2160-0"


def test_egfr_from_micromoles_and_not_for_unknown_sex(session):
    pid = _patient(session, sex="female", born="1976-01-01")
    _creatinine(session, pid, 88.4, datetime(2026, 1, 2, 9, 0, tzinfo=UTC), unit="umol/L")  # aged 50
    egfr = _scores(session, pid).get("egfr")
    assert egfr.score.value == 69  # 142 × (1.0/0.7)^-1.2 × 0.9938^50 × 1.012 = 68.63
    assert egfr.inputs[0].value == "88.4 µmol/L = 1.00"
    other = _patient(session, sex="unknown", born="1976-01-01", family="Okafor")
    _creatinine(session, other, 1.0, utcnow())
    found = _scores(session, other)
    assert found.get("egfr") is None
    assert "eGFR needs the patient's sex recorded as female or male." in found.missing


def test_cha2ds2_vasc_only_with_atrial_fibrillation(session):
    born = date(utcnow().year - 80, 1, 1).isoformat()  # 79 or 80: 75 or over either way
    pid = _patient(session, sex="female", born=born)
    _conditions(session, pid, "I10", "E11.9", "I50.9")
    assert _scores(session, pid).get("cha2ds2_vasc") is None  # no atrial fibrillation: not shown
    _conditions(session, pid, "I48.91")
    _conditions(session, pid, "I63.9", status="resolved")  # a past stroke still counts
    _conditions(session, pid, "I25.10", status="inactive")
    cha = _scores(session, pid).get("cha2ds2_vasc")
    # C 1 + H 1 + A2 2 + D 1 + S2 2 + V 1 + Sc 1 = 9
    assert (cha.score.value, cha.score.band) == (9, "high")
    labels = {i.label: i for i in cha.inputs}
    assert labels["Congestive heart failure"].source == "ICD-10-CM I50.9"
    assert labels["Congestive heart failure"].taken_at is not None
    assert labels["Sex category"].value == "Female" and labels["Sex category"].source == "registration"


def test_cha2ds2_vasc_ignores_resolved_hypertension_and_shows_what_is_absent(session):
    pid = _patient(session, sex="male", born=date(utcnow().year - 50, 1, 1).isoformat())
    _conditions(session, pid, "I48.0")
    _conditions(session, pid, "I10", status="resolved")
    cha = _scores(session, pid).get("cha2ds2_vasc")
    assert (cha.score.value, cha.score.band) == (0, "low")
    assert {i.label: i.value for i in cha.inputs}["Hypertension"] == "Not on the problem list"


def test_bmi_from_the_latest_weight_and_height(session):
    pid = _patient(session)
    now = utcnow()
    _vitals(session, pid, {"weight": 70.0, "height": 175.0}, now - timedelta(days=30))
    _vitals(session, pid, {"weight": 100.0}, now)
    bmi = _scores(session, pid).get("bmi")
    assert (round(bmi.score.value, 1), bmi.score.band) == (32.7, "obesity")  # 100 / 1.75² = 32.65
    assert [i.taken_at for i in bmi.inputs] == [now, now - timedelta(days=30)]


def test_scores_are_read_with_patient_read_and_audited(session):
    pid = _patient(session)
    with pytest.raises(Forbidden):
        cds.chart_scores(session, actor=CLERK, patient_id=pid)
    portal = Actor(
        user_id=9,
        username="p",
        roles=frozenset({"patient"}),
        permissions=frozenset({"patient.read"}),
        patient_id=pid + 1,
    )
    with pytest.raises(Forbidden):
        cds.chart_scores(session, actor=portal, patient_id=pid)
    with pytest.raises(NotFound):
        cds.chart_scores(session, actor=DOCTOR, patient_id=pid + 1000)
    cds.chart_scores(session, actor=DOCTOR, patient_id=pid)
    last = session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    assert (last.action, last.patient_id, last.username, last.detail) == (
        "patient.read",
        pid,
        "dr.test",
        "clinical scores",
    )
