"""Loading the patient-specific tables: allergy classes and rules, dose limits, renal bands, pregnancy flags.

They name ingredients and ``@groups``; the vocabulary loader (``knowledge._Loader``) expands those, so this
module only knows the shape of each table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from hms_app.cds.medications.records import AllergyClass, AllergyRule, DoseLimit, PregnancyFlag, RenalBand
from hms_app.cds.medications.tables import Row, Table, number, severity, split, yes_no

ALLERGY_GROUP_COLUMNS = ("id", "label", "names", "members")
ALLERGY_RULE_COLUMNS = ("rule_id", "allergy", "targets", "severity", "interrupt", "note")
DOSE_COLUMNS = (
    "ingredient",
    "route",
    "age_from",
    "age_below",
    "basis",
    "unit",
    "max_per_dose",
    "max_per_day",
    "cap_per_dose",
    "cap_per_day",
    "note",
)
RENAL_COLUMNS = (
    "rule_id",
    "target",
    "egfr_from",
    "egfr_below",
    "severity",
    "interrupt",
    "max_per_day",
    "unit",
    "message",
    "action",
)
PREGNANCY_COLUMNS = ("target", "pregnancy", "lactation", "pregnancy_note", "lactation_note")
DOSE_UNITS = ("mg", "mcg", "unit", "mmol")
FLAG_SEVERITIES = ("contraindicated", "major", "moderate")


class Vocabulary(Protocol):
    ingredients: dict[str, Any]

    def table(self, file: str, columns: tuple[str, ...]) -> Table: ...

    def expand(self, table: Table, row: Row, cell: str, column: str) -> frozenset[str]: ...


def load_clinical_tables(kb: Any, vocabulary: Vocabulary) -> None:
    """Fill ``kb``'s allergy, dose, renal and pregnancy indexes."""
    _allergies(kb, vocabulary)
    _doses(kb, vocabulary)
    _renal(kb, vocabulary)
    _pregnancy(kb, vocabulary)


def _allergies(kb: Any, vocabulary: Vocabulary) -> None:
    classes = vocabulary.table("allergy_groups.csv", ALLERGY_GROUP_COLUMNS)
    for row in classes.rows:
        cid = row["id"].lower()
        names = split(row["names"])
        for name in names:
            if name in kb.allergy_names:
                raise classes.error(
                    row, f"allergy name {name!r} already belongs to {kb.allergy_names[name]!r}"
                )
            kb.allergy_names[name] = cid
        members = vocabulary.expand(classes, row, row["members"], "members")
        kb.allergy_classes[cid] = AllergyClass(cid, row["label"], names, members)
    rules = vocabulary.table("allergy_rules.csv", ALLERGY_RULE_COLUMNS)
    by_class: dict[str, list[AllergyRule]] = {}
    for row in rules.rows:
        cid = row["allergy"].lower()
        if cid not in kb.allergy_classes:
            raise rules.error(row, f"unknown allergy class {cid!r}")
        rule = AllergyRule(
            row["rule_id"],
            cid,
            vocabulary.expand(rules, row, row["targets"], "targets"),
            severity(rules, row),
            yes_no(rules, row, "interrupt"),
            row["note"],
        )
        by_class.setdefault(cid, []).append(rule)
    kb.allergy_rules = {cid: tuple(found) for cid, found in by_class.items()}


def _doses(kb: Any, vocabulary: Vocabulary) -> None:
    table = vocabulary.table("dose_limits.csv", DOSE_COLUMNS)
    limits: dict[str, list[DoseLimit]] = {}
    for row in table.rows:
        name = row["ingredient"].lower()
        if name not in vocabulary.ingredients:
            raise table.error(row, f"unknown ingredient {name!r}")
        if row["basis"] not in ("absolute", "per_kg"):
            raise table.error(row, "basis must be absolute or per_kg")
        if row["unit"] not in DOSE_UNITS:
            raise table.error(row, f"unit must be one of {', '.join(DOSE_UNITS)}")
        limit = DoseLimit(
            name,
            (row["route"] or "any").lower(),
            number(table, row, "age_from"),
            number(table, row, "age_below"),
            row["basis"] == "per_kg",
            row["unit"],
            number(table, row, "max_per_dose"),
            number(table, row, "max_per_day"),
            number(table, row, "cap_per_dose"),
            number(table, row, "cap_per_day"),
            row["note"],
        )
        limits.setdefault(name, []).append(limit)
    kb.dose_limits = {name: tuple(found) for name, found in limits.items()}


def _renal(kb: Any, vocabulary: Vocabulary) -> None:
    table = vocabulary.table("renal.csv", RENAL_COLUMNS)
    bands: dict[str, list[RenalBand]] = {}
    for row in table.rows:
        egfr_below = number(table, row, "egfr_below")
        if egfr_below is None:
            raise table.error(row, "egfr_below is required")
        egfr_from = number(table, row, "egfr_from") or Decimal(0)
        if egfr_from >= egfr_below:
            raise table.error(row, "egfr_from must be below egfr_below")
        max_per_day = number(table, row, "max_per_day")
        if max_per_day is not None and row["unit"] not in DOSE_UNITS:
            raise table.error(row, f"a max_per_day needs a unit ({', '.join(DOSE_UNITS)})")
        band = RenalBand(
            row["rule_id"],
            egfr_from,
            egfr_below,
            severity(table, row),
            yes_no(table, row, "interrupt"),
            max_per_day,
            row["unit"],
            row["message"],
            row["action"],
        )
        for name in vocabulary.expand(table, row, row["target"], "target"):
            bands.setdefault(name, []).append(band)
    for name, found in bands.items():
        ordered = sorted(found, key=lambda band: band.egfr_from)
        for lower, upper in zip(ordered, ordered[1:], strict=False):
            if upper.egfr_from < lower.egfr_below:
                raise table.error(
                    table.rows[0], f"the eGFR bands of {name!r} overlap ({lower.rule}, {upper.rule})"
                )
    kb.renal = {name: tuple(found) for name, found in bands.items()}


def _pregnancy(kb: Any, vocabulary: Vocabulary) -> None:
    table = vocabulary.table("pregnancy.csv", PREGNANCY_COLUMNS)
    for row in table.rows:
        flags = []
        for column in ("pregnancy", "lactation"):
            value = row[column].lower()
            if value and value not in FLAG_SEVERITIES:
                raise table.error(row, f"{column} must be blank or one of {', '.join(FLAG_SEVERITIES)}")
            flags.append(value)
        flag = PregnancyFlag(flags[0], flags[1], row["pregnancy_note"], row["lactation_note"])
        for name in vocabulary.expand(table, row, row["target"], "target"):
            if name in kb.pregnancy:
                raise table.error(row, f"{name!r} already has pregnancy flags")
            kb.pregnancy[name] = flag
