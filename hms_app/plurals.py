"""Counts in words: the noun agrees with its number ("1 measurement", "2 measurements")."""

from __future__ import annotations


def noun(n: int, singular: str, plural: str | None = None) -> str:
    """``singular`` for exactly one, else ``plural`` (the singular with an s, unless given)."""
    return singular if n == 1 else (plural or singular + "s")


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """The number and its noun: "1 patient", "1,204 patients", "0 patients"."""
    return f"{n:,} {noun(n, singular, plural)}"
