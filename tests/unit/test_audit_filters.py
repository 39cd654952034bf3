"""The audit page's filter form: what it accepts and the message for what it refuses."""

from __future__ import annotations

from datetime import date

import pytest

from hms_app.errors import ValidationError
from hms_app.state.audit import parse_filters


def test_filters_are_trimmed_and_typed():
    typed, filters = parse_filters(
        {
            "username": " Nurse.Joy ",
            "patient_id": " 1024 ",
            "action": "patient.",
            "date_from": "2026-01-01",
            "date_to": "2026-01-31",
        }
    )
    assert filters.username == "nurse.joy" and filters.patient_id == 1024 and filters.action == "patient."
    assert (filters.date_from, filters.date_to) == (date(2026, 1, 1), date(2026, 1, 31))
    assert typed["patient_id"] == "1024"


@pytest.mark.parametrize("value", ["12a", "-3", "1.5", "1e3", "٣"])
def test_a_patient_id_that_is_not_a_whole_number_is_refused_on_its_field(value):
    with pytest.raises(ValidationError) as error:
        parse_filters({"patient_id": value})
    assert error.value.field == "patient_id" and "whole number" in str(error.value)


def test_a_patient_id_beyond_any_row_is_refused():
    with pytest.raises(ValidationError, match="no patient"):
        parse_filters({"patient_id": "99999999999"})


def test_dates_in_the_wrong_order_or_shape_are_refused():
    with pytest.raises(ValidationError, match="after the to date"):
        parse_filters({"date_from": "2026-02-01", "date_to": "2026-01-01"})
    with pytest.raises(ValidationError) as error:
        parse_filters({"date_from": "31/01/2026"})
    assert error.value.field == "date_from"


@pytest.mark.parametrize("field", ["date_from", "date_to"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "2200-01-01"])
def test_a_date_no_record_can_have_gets_a_field_message_not_an_overflow(field, day):
    """9999-12-31 once reached search_audit, which adds a day to it: OverflowError, a traceback."""
    with pytest.raises(ValidationError) as error:
        parse_filters({field: day})
    assert error.value.field == field and "between 1900 and 2199" in str(error.value)


def test_over_long_text_is_refused_not_cut():
    with pytest.raises(ValidationError) as error:
        parse_filters({"action": "x" * 81})
    assert error.value.field == "action"
