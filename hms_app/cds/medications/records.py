"""The records the knowledge tables load into (one frozen dataclass per row kind)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Ingredient:
    name: str
    rxcui: str | None
    atc: tuple[str, ...]
    classes: tuple[str, ...]  # group ids (therapeutic classes and interaction property groups)
    synonyms: tuple[str, ...]  # brand and other names


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    duplicate_severity: str  # "" when two members together are not a duplicate
    duplicate_interrupt: bool
    members: frozenset[str]


@dataclass(frozen=True)
class InteractionRule:
    rule: str
    a: frozenset[str]
    b: frozenset[str]
    severity: str
    interrupt: bool
    source: str
    mechanism: str
    message: str
    action: str


@dataclass(frozen=True)
class AllergyClass:
    id: str
    label: str
    names: tuple[str, ...]
    members: frozenset[str]


@dataclass(frozen=True)
class AllergyRule:
    rule: str
    allergy: str
    targets: frozenset[str]
    severity: str
    interrupt: bool
    note: str


@dataclass(frozen=True)
class DoseLimit:
    ingredient: str
    route: str  # "any" or a route
    age_from: Decimal | None
    age_below: Decimal | None
    per_kg: bool
    unit: str
    max_per_dose: Decimal | None
    max_per_day: Decimal | None
    cap_per_dose: Decimal | None
    cap_per_day: Decimal | None
    note: str


@dataclass(frozen=True)
class RenalBand:
    rule: str
    egfr_from: Decimal  # inclusive
    egfr_below: Decimal  # exclusive
    severity: str
    interrupt: bool
    max_per_day: Decimal | None
    unit: str
    message: str
    action: str


@dataclass(frozen=True)
class PregnancyFlag:
    pregnancy: str
    lactation: str
    pregnancy_note: str
    lactation_note: str
