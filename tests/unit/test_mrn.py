"""Medical record numbers: a check digit that catches typos at the front desk."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hms_app.services.patients.mrn import MRN_PREFIX, format_mrn, is_valid_mrn, mrn_check_digit

numbers = st.integers(min_value=0, max_value=9_999_999)


def luhn_valid(digits: str) -> bool:
    """The textbook Luhn test, written independently of the code under test."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def test_known_values():
    assert mrn_check_digit(0) == 0
    assert mrn_check_digit(1234) == 4  # Luhn: 1234 -> 12344
    assert mrn_check_digit(79927398713 // 10) == 3  # the classic Luhn example 7992739871-3
    assert format_mrn(1234) == f"{MRN_PREFIX}0001234-4"
    assert format_mrn(1) == "H0000001-8"


@given(numbers)
def test_the_check_digit_is_luhns(number):
    assert luhn_valid(f"{number}{mrn_check_digit(number)}")


@given(numbers)
def test_every_formatted_mrn_is_valid_and_tolerates_case_and_spaces(number):
    mrn = format_mrn(number)
    assert len(mrn) == len("H0000000-0")
    assert is_valid_mrn(mrn)
    assert is_valid_mrn(f"  {mrn.lower()} ")


@given(numbers, st.integers(min_value=0, max_value=7), st.integers(min_value=1, max_value=9))
def test_any_single_digit_typo_is_detected(number, position, shift):
    mrn = format_mrn(number)
    digit_positions = [i for i, char in enumerate(mrn) if char.isdigit()]  # 7 body digits and the check digit
    index = digit_positions[position]
    typo = mrn[:index] + str((int(mrn[index]) + shift) % 10) + mrn[index + 1 :]
    assert typo != mrn
    assert not is_valid_mrn(typo)


@given(numbers, st.integers(min_value=0, max_value=5))
def test_swapping_two_neighbouring_digits_is_detected_unless_they_are_0_and_9(number, position):
    mrn = format_mrn(number)
    index = 1 + position  # within the seven body digits
    a, b = mrn[index], mrn[index + 1]
    swapped = mrn[:index] + b + a + mrn[index + 2 :]
    if a == b or {a, b} == {"0", "9"}:  # Luhn's one known blind spot
        return
    assert not is_valid_mrn(swapped)


def test_malformed_mrns_are_invalid():
    good = format_mrn(1234)
    for bad in [
        "",
        "H",
        "0001234-4",
        "X0001234-4",
        "H0001234",
        "H0001234-",
        "H0001234-44",
        "H00012a4-4",
        "H0001234-a",
        "H-4",
        good.replace("-", ""),
    ]:
        assert not is_valid_mrn(bad), bad
    assert is_valid_mrn(good)
