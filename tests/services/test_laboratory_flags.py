"""Flags and delta checks at every edge, as ``LabReferenceRange`` writes them down: normal limits
inclusive, critical limits reached at the limit, age bands from their first day up to (not
including) their last, the patient's own sex before ``any``; and the same rules through the
results service, by sex and by age on the day of collection."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from hms_app.cds.lab_flags import (
    Limits,
    coded_flag,
    delta_exceeded,
    numeric_flag,
    reference_text,
    select_range,
)
from hms_app.clock import held_at, local_today
from hms_app.models.laboratory import LabResult
from hms_app.services import patients
from hms_app.services.laboratory.results import enter_result, verify_results
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings
from tests.services.lab_world import build_lab_world, received_order

D = Decimal
POTASSIUM = Limits(
    low=D("3.5"), high=D("5.1"), critical_low=D("2.8"), critical_high=D("6.2"), delta_limit=D("1.0")
)


@pytest.mark.parametrize(
    ("value", "flag"),
    [
        ("2.7", "LL"),
        ("2.8", "LL"),  # at the critical limit: critical
        ("2.9", "L"),
        ("3.4", "L"),
        ("3.49", "L"),
        ("3.5", "N"),  # at the low limit: normal
        ("4.2", "N"),
        ("5.1", "N"),  # at the high limit: normal
        ("5.11", "H"),
        ("6.19", "H"),
        ("6.2", "HH"),  # at the critical limit: critical
        ("9.9", "HH"),
    ],
)
def test_a_number_is_flagged_with_inclusive_normal_and_critical_edges(value, flag):
    assert numeric_flag(D(value), POTASSIUM) == flag


def test_missing_limits_are_not_applied_and_no_range_gives_no_flag():
    only_high = Limits(high=D("99"))
    assert numeric_flag(D("0"), only_high) == "N"
    assert numeric_flag(D("100"), only_high) == "H"
    only_low = Limits(low=D("40"))  # HDL
    assert numeric_flag(D("39"), only_low) == "L" and numeric_flag(D("400"), only_low) == "N"
    only_critical = Limits(critical_high=D("5.0"))
    assert numeric_flag(D("4.9"), only_critical) == "" and numeric_flag(D("5.0"), only_critical) == "HH"
    assert numeric_flag(D("4.2"), None) == ""


def test_coded_and_text_results_are_normal_only_when_they_equal_the_normal_text():
    negative = Limits(normal_text="Negative")
    assert coded_flag("Negative", negative) == "N"
    assert coded_flag("  negative ", negative) == "N"
    assert coded_flag("Trace", negative) == "A"
    assert coded_flag("Positive", Limits()) == ""
    assert coded_flag("Positive", None) == ""


def test_the_delta_check_fires_only_beyond_the_limit():
    assert delta_exceeded(D("5.0"), D("4.0"), POTASSIUM) is False  # exactly 1.0: not beyond
    assert delta_exceeded(D("5.01"), D("4.0"), POTASSIUM) is True
    assert delta_exceeded(D("3.0"), D("4.01"), POTASSIUM) is True  # a fall counts as a rise does
    assert delta_exceeded(D("9"), None, POTASSIUM) is False  # nothing to compare with
    assert delta_exceeded(D("9"), D("1"), Limits()) is False  # no delta limit


BANDS = [
    Limits(sex="any", age_min_days=0, age_max_days=30, low=D("1")),
    Limits(sex="any", age_min_days=30, age_max_days=365, low=D("2")),
    Limits(sex="any", age_min_days=365, age_max_days=None, low=D("3")),
    Limits(sex="male", age_min_days=6575, age_max_days=None, low=D("4")),
    Limits(sex="female", age_min_days=6575, age_max_days=None, low=D("5")),
]


@pytest.mark.parametrize(
    ("sex", "age", "low"),
    [
        ("female", 0, "1"),  # the day of birth is in the first band
        ("female", 29, "1"),
        ("female", 30, "2"),  # the band's last day is exclusive: day 30 belongs to the next
        ("male", 364, "2"),
        ("male", 365, "3"),
        ("male", 6574, "3"),  # the day before turning 18: still the any-sex child band
        ("male", 6575, "4"),  # an adult man: his own sex's band wins over "any"
        ("female", 6575, "5"),
        ("other", 6575, "3"),  # neither male nor female: the "any" band
        ("unknown", 20000, "3"),
    ],
)
def test_the_range_is_chosen_by_age_in_days_and_sex(sex, age, low):
    assert select_range(BANDS, sex=sex, age_days=age).low == D(low)


def test_no_band_covering_the_age_means_no_range():
    assert (
        select_range([Limits(sex="male", age_min_days=6575, low=D("4"))], sex="female", age_days=9000) is None
    )
    assert select_range([Limits(age_min_days=100, age_max_days=200)], sex="male", age_days=200) is None


def test_the_reference_text_prints_the_limits_at_the_test_precision():
    assert reference_text(POTASSIUM, 1) == "3.5-5.1"
    assert reference_text(Limits(high=D("99")), 0) == "<= 99"
    assert reference_text(Limits(low=D("40")), 0) == ">= 40"
    assert reference_text(Limits(normal_text="Negative"), 0) == "Negative"
    assert reference_text(None, 1) == ""


# --------------------------------------------------------------------------- through the service


@pytest.fixture
def world(session):
    return build_lab_world(session)


def _flag(session, world, patient_id, code, value):
    order_id, _ = received_order(session, world, patient_id, code)
    return enter_result(session, actor=world.tech, order_id=order_id, value=value)


def test_results_are_flagged_by_the_patients_sex(session, world):
    # Haemoglobin 13.0 g/dL: low for an adult man (13.5-17.5), normal for a woman (12.0-15.5).
    man = _flag(session, world, world.man, "718-7", "13.0")
    woman = _flag(session, world, world.woman, "718-7", "13.0")
    assert (man.flag, man.reference_text) == ("L", "13.5-17.5")
    assert (woman.flag, woman.reference_text) == ("N", "12.0-15.5")
    # Creatinine 1.20 mg/dL: normal for him, high for her.
    assert _flag(session, world, world.man, "2160-0", "1.20").flag == "N"
    assert _flag(session, world, world.woman, "2160-0", "1.20").flag == "H"


NAMES = {29: "Nine", 30: "Thirty", 364: "Short", 365: "Year"}


def _born(session, days_before: int, collected: datetime) -> int:
    birth = collected.date() - timedelta(days=days_before)  # a local moment: its local day
    return patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "given_name": "Baby",
            "family_name": NAMES[days_before],
            "sex": "male",
            "birth_date": birth.isoformat(),
        },
        duplicate_reason="laboratory tests",
    ).id


@pytest.mark.parametrize(
    ("age_days", "flag", "reference"),
    [
        (29, "N", "3.7-5.9"),  # newborn band: potassium 5.5 is normal
        (30, "H", "4.1-5.3"),  # first day of the infant band (its start is inclusive)
        (364, "H", "4.1-5.3"),
        (365, "H", "3.4-4.7"),  # one year old: the child band
    ],
)
def test_results_are_flagged_by_age_in_days_on_the_day_of_collection(
    session, world, age_days, flag, reference
):
    # Collected at noon, hospital time, two days ago: the age is counted on that local day.
    collected = datetime.combine(local_today() - timedelta(days=2), time(12, 0), tzinfo=get_settings().tz)
    patient_id = _born(session, age_days, collected)
    with held_at(collected):
        row = _flag(session, world, patient_id, "2823-3", "5.5")
    assert (row.flag, row.reference_text) == (flag, reference)


def test_a_critical_value_of_a_child_is_judged_by_the_child_limits(session, world):
    assert _flag(session, world, world.child, "2823-3", "6.2").flag == "HH"
    assert _flag(session, world, world.child, "2823-3", "6.1").flag == "H"


def test_the_delta_check_compares_with_the_previous_released_result(session, world):
    first = _flag(session, world, world.man, "2823-3", "4.0")
    assert first.delta_flag is False  # nothing before it
    verify_results(session, actor=world.second_tech, result_ids=[first.id])
    same_change = _flag(session, world, world.man, "2823-3", "5.0")  # +1.0: the limit, not beyond
    assert same_change.delta_flag is False
    jump = _flag(session, world, world.man, "2823-3", "5.1")  # +1.1 from the released 4.0
    assert jump.delta_flag is True and jump.flag == "N"
    stored = session.execute(select(LabResult.delta_flag).where(LabResult.id == jump.id)).scalar_one()
    assert stored is True


def test_coded_results_are_flagged_abnormal_unless_normal(session, world):
    assert _flag(session, world, world.woman, "5802-4", "positive").flag == "A"
    normal = _flag(session, world, world.woman, "5802-4", "negative")
    assert (normal.flag, normal.value) == ("N", "Negative")  # stored as the catalogue spells it
