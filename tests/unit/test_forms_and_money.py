"""One form reader and one money parser for every screen: what a browser may send, and the answers."""

from __future__ import annotations

from datetime import date

import pytest

from hms_app.errors import ValidationError
from hms_app.money import MAX_AMOUNT_CENTS, format_money, parse_money
from hms_app.state.forms import form_fields, form_text


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("20", 2000), ("12.5", 1250), ("12,50", 1250), ("1,234.00", 123400), ("1,234", 123400), (" 7 ", 700)],
)
def test_amounts_people_type_are_read_in_cents(typed, cents):
    assert parse_money(typed) == cents


@pytest.mark.parametrize("typed", ["abc", "1.234", "12.345", "1,23,4", "", "1e5"])
def test_anything_else_is_refused_with_a_plain_message(typed):
    with pytest.raises(ValidationError, match="as a number such as 20 or 12.50") as error:
        parse_money(typed, field="amount")
    assert error.value.field == "amount"


def test_negative_zero_blank_and_too_large_amounts_each_get_their_own_message():
    with pytest.raises(ValidationError, match="positive"):
        parse_money("-5")
    with pytest.raises(ValidationError, match="greater than zero"):
        parse_money("0.00")
    assert parse_money("0", allow_zero=True) == 0
    assert parse_money("", blank_is_zero=True) == 0
    with pytest.raises(ValidationError, match="The co-pay is too large"):
        parse_money(str(MAX_AMOUNT_CENTS // 100 + 1), label="the co-pay")


def test_money_is_shown_with_grouped_thousands_and_exact_cents():
    assert format_money(123456) == "1,234.56"
    assert format_money(-5) == "-0.05"
    assert format_money(None) == "0.00"
    assert format_money(123456, symbol="$") == "$1,234.56"
    assert format_money(-500, symbol="$") == "-$5.00"
    assert parse_money(format_money(123456)) == 123456


def test_the_form_reader_refuses_what_no_form_field_sends():
    assert form_text({"name": "Ann "}, "name") == "Ann "
    assert form_text({}, "name") == "" and form_text(None, "name") == ""
    assert form_text({"agree": True}, "agree") == "on" and form_text({"agree": False}, "agree") == ""
    with pytest.raises(ValidationError, match="could not be read") as error:
        form_text({"name": ["a", "b"]}, "name")
    assert error.value.field == "name"
    with pytest.raises(ValidationError, match="under 10 characters"):
        form_text({"name": "x" * 11}, "name", limit=10)
    assert form_fields({"a": "1", "b": None}, ("a", "b", "c")) == {"a": "1", "b": "", "c": ""}


def test_billing_invoice_filters_refuse_a_day_at_the_calendars_end():
    from hms_app.state.billing.common import _date

    assert _date("2026-11-26", "From") == date(2026, 11, 26)
    for day in ("9999-12-31", "0001-01-01"):
        with pytest.raises(ValidationError, match="between 1900 and 2199"):
            _date(day, "To")
