"""Stored codes never reach a person: every vocabulary has words, and an unknown code still reads."""

import pytest

from hms_app import words
from hms_app.cds.vitals import display_value


def test_codes_become_words_and_unknown_codes_are_humanised_not_shown_raw():
    assert words.say(words.APPOINTMENT_STATUS, "in_room") == "In room"
    assert words.say(words.FLOW_STATUS, "in_room") == "With clinician"
    assert words.say(words.ENCOUNTER_CLASS, "outpatient") == "Outpatient visit"
    assert words.say(words.CLINICAL_STATUS, "active") == "Active"
    assert words.say(words.BED_STATUS, "brand_new_state") == "Brand new state"
    assert words.humanise("billing_clerk") == "Billing clerk"


@pytest.mark.parametrize(
    ("key", "value", "ucum", "shown"),
    [
        ("systolic_bp", 120, "mm[Hg]", "120 mmHg"),
        ("temperature", 37.2, "Cel", "37.2 °C"),
        ("heart_rate", 72, "/min", "72 /min"),
    ],
)
def test_patients_read_units_as_people_write_them(key, value, ucum, shown):
    assert display_value(key, value, ucum) == shown
    assert "[" not in shown and "Cel" not in shown


def test_every_vocabulary_speaks_in_sentences():
    for vocabulary in (
        words.APPOINTMENT_STATUS,
        words.FLOW_STATUS,
        words.CLAIM_STATUS,
        words.SETTLEMENT,
        words.BED_STATUS,
        words.PAYMENT_METHOD,
        words.RESOURCE_KIND,
        words.ENCOUNTER_CLASS,
        words.CLINICAL_STATUS,
        words.CHARGE_SOURCE,
    ):
        for code, text in vocabulary.items():
            assert "_" not in text and text[:1].isupper(), (code, text)
