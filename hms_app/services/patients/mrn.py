"""Medical record numbers: a prefix, seven digits and a Luhn check digit that catches typos."""

from __future__ import annotations

MRN_PREFIX = "H"


def mrn_check_digit(number: int) -> int:
    """Luhn check digit over the MRN's digits: catches any single typo and most swaps."""
    total = 0
    for index, char in enumerate(reversed(str(number))):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def format_mrn(number: int) -> str:
    """The printed MRN: prefix, seven digits and the check digit, e.g. H0001234-4."""
    return f"{MRN_PREFIX}{number:07d}-{mrn_check_digit(number)}"


def is_valid_mrn(mrn: str) -> bool:
    mrn = mrn.strip().upper()
    if not mrn.startswith(MRN_PREFIX) or "-" not in mrn:
        return False
    body, _, check = mrn[len(MRN_PREFIX) :].partition("-")
    return body.isdigit() and check.isdigit() and len(check) == 1 and mrn_check_digit(int(body)) == int(check)
