"""Search keys of a patient's name and phone: pure functions, used on every write and by search."""

from __future__ import annotations

import re
import unicodedata

import jellyfish


def fold(text: str | None) -> str:
    """Lowercase ASCII without accents, punctuation or spaces: 'O'Brien-Núñez' -> 'obriennunez'."""
    if not text:
        return ""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", ascii_text.lower())[:80]


def sound(text: str | None) -> str:
    """A phonetic code (Metaphone) so that 'Catherine' and 'Kathryn', 'Smith' and 'Smyth' meet."""
    folded = fold(text)
    return jellyfish.metaphone(folded)[:20] if folded else ""


def phone_digits(phone: str | None) -> str | None:
    """The last ten digits of a phone number, so '+1 (555) 010-2030' and '555-010-2030' meet."""
    digits = re.sub(r"\D", "", phone or "")
    return digits[-10:] if len(digits) >= 7 else None


def search_keys(*, given_name: str, family_name: str, phone: str | None) -> dict[str, str | None]:
    return {
        "family_key": fold(family_name),
        "given_key": fold(given_name),
        "family_sound": sound(family_name),
        "given_sound": sound(given_name),
        "phone_digits": phone_digits(phone),
    }
