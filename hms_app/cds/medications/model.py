"""The check engine's inputs and outputs: what is ordered, who it is for, and what the checks say."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

SEVERITIES = ("contraindicated", "major", "moderate", "minor", "info")
KINDS = (
    "interaction",
    "allergy",
    "allergy_not_assessed",
    "duplicate_therapy",
    "dose_per_dose",
    "dose_per_day",
    "renal",
    "pregnancy",
    "lactation",
)
ALLERGY_STATUSES = ("not_assessed", "no_known", "recorded")


@dataclass(frozen=True)
class DrugUse:
    ingredient: str  # generic ingredient name, any case ("Warfarin"); the knowledge base normalises
    dose: Decimal | None = None  # amount per dose in dose_unit
    dose_unit: str | None = None  # "mg", "mcg", "g", "unit", "mL" ...
    doses_per_day: Decimal | None = None
    route: str | None = None  # "oral", "iv", "im", "sc", "inhaled", "topical", "ophthalmic", ...


@dataclass(frozen=True)
class PatientContext:
    age_years: Decimal | None = None
    weight_kg: Decimal | None = None
    sex: str = "unknown"
    egfr: Decimal | None = None  # latest eGFR (CKD-EPI 2021), mL/min/1.73 m2
    pregnant: bool | None = None  # None: not known
    lactating: bool | None = None
    allergy_status: str = "not_assessed"  # "not_assessed" | "no_known" | "recorded"
    allergies: tuple[str, ...] = ()  # allergen names as recorded: an ingredient or a class
    current: tuple[DrugUse, ...] = ()  # the patient's active medications


@dataclass(frozen=True)
class Alert:
    kind: str
    drugs: tuple[str, ...]  # ingredient names involved, lower-case
    severity: str  # one of SEVERITIES
    interrupt: bool  # an interrupting alert needs an override reason to proceed
    message: str  # one sentence a clinician reads
    action: str  # what to do
    rule: str  # stable id of the rule that fired, e.g. "ddi:onc-hp:ssri+maoi"


class UnknownDrug(ValueError):
    """A drug name the knowledge base does not know."""

    def __init__(self, name: str, suggestions: tuple[str, ...] = ()):
        self.name = name
        self.suggestions = suggestions
        hint = ", ".join(suggestions) if suggestions else "warfarin, amoxicillin or metformin"
        super().__init__(f"Unknown drug {name!r}: use a generic ingredient name such as {hint}.")


def alert_order(alert: Alert) -> tuple:
    """Interrupting alerts first, then by severity, then a stable order."""
    return (not alert.interrupt, SEVERITIES.index(alert.severity), alert.kind, alert.drugs, alert.rule)
