"""The bundled medication knowledge: loaded once per process, indexed for the checks.

Tables live in ``data/`` beside this module. An operator may install a newer interactions table with
``hms meds update``; it goes to ``<data dir>/medications/interactions.csv`` and is preferred over the bundled
one. Every class in a table (``@group``) is expanded to its member ingredients when loading, so a check is a
dictionary look-up per pair.
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path

from hms_app.cds.medications.clinical_tables import load_clinical_tables
from hms_app.cds.medications.model import UnknownDrug
from hms_app.cds.medications.records import (
    AllergyClass,
    AllergyRule,
    DoseLimit,
    Group,
    Ingredient,
    InteractionRule,
    PregnancyFlag,
    RenalBand,
)
from hms_app.cds.medications.tables import Row, Table, TableError, read_table, severity, split, yes_no

BUNDLED_DIR = Path(__file__).parent / "data"
INTERACTIONS_FILE = "interactions.csv"

INGREDIENT_COLUMNS = ("name", "rxcui", "atc", "groups", "synonyms")
GROUP_COLUMNS = ("id", "label", "duplicate_severity", "duplicate_interrupt")
INTERACTION_COLUMNS = (
    "rule_id",
    "a",
    "b",
    "severity",
    "interrupt",
    "source",
    "mechanism",
    "message",
    "action",
)
INTERACTION_SOURCES = ("onc-hp-2012", "onc-ni-2013", "hms")


class Knowledge:
    """Every table, indexed. Built by ``load_knowledge``; read-only afterwards."""

    def __init__(self, *, version: str, source: str, versions: dict[str, str]):
        self.version = version  # the interactions table's version (the table operators update)
        self.source = source  # "bundled" or the path of the installed interactions table
        self.versions = versions  # every table's version, by file name
        self.ingredients: dict[str, Ingredient] = {}
        self.groups: dict[str, Group] = {}
        self.interactions: tuple[InteractionRule, ...] = ()
        self.pairs: dict[tuple[str, str], tuple[InteractionRule, ...]] = {}
        self.allergy_classes: dict[str, AllergyClass] = {}
        self.allergy_names: dict[str, str] = {}  # recorded name -> allergy class id
        self.allergy_rules: dict[str, tuple[AllergyRule, ...]] = {}  # allergy class id -> rules
        self.dose_limits: dict[str, tuple[DoseLimit, ...]] = {}
        self.renal: dict[str, tuple[RenalBand, ...]] = {}
        self.pregnancy: dict[str, PregnancyFlag] = {}
        self._names: dict[str, str] = {}  # lower-case name or synonym -> ingredient name

    def ingredient(self, name: str) -> Ingredient | None:
        """The ingredient called ``name`` (generic name or synonym, any case), or None."""
        key = self._names.get(" ".join(name.split()).lower())
        return self.ingredients[key] if key else None

    def resolve(self, name: str) -> Ingredient:
        """Like ``ingredient`` but an unknown name raises ``UnknownDrug`` with close suggestions."""
        found = self.ingredient(name)
        if found is None:
            close = difflib.get_close_matches(name.strip().lower(), list(self._names), n=3, cutoff=0.75)
            raise UnknownDrug(name, tuple(dict.fromkeys(self._names[c] for c in close)))
        return found

    def rules_between(self, first: str, second: str) -> tuple[InteractionRule, ...]:
        return self.pairs.get(_pair(first, second), ())

    def allergy_class_of(self, recorded: str) -> str | None:
        return self.allergy_names.get(" ".join(recorded.split()).lower())


def _pair(first: str, second: str) -> tuple[str, str]:
    return (first, second) if first <= second else (second, first)


class _Loader:
    """Reads the tables in dependency order: ingredients and groups first, then everything naming them."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.ingredients: dict[str, Ingredient] = {}
        self.groups: dict[str, Group] = {}
        self.names: dict[str, str] = {}
        self.versions: dict[str, str] = {}

    def table(self, file: str, columns: tuple[str, ...]) -> Table:
        table = read_table(self.data_dir / file, columns)
        self.versions[file] = table.version
        return table

    def load_vocabulary(self) -> None:
        groups = self.table("groups.csv", GROUP_COLUMNS)
        labels = {}
        for row in groups.rows:
            gid = row["id"].lower()
            labels[gid] = (row, severity(groups, row, "duplicate_severity", blank=True))
        ingredients = self.table("ingredients.csv", INGREDIENT_COLUMNS)
        members: dict[str, set[str]] = {gid: set() for gid in labels}
        for row in ingredients.rows:
            name = " ".join(row["name"].split()).lower()
            if not name:
                raise ingredients.error(row, "an ingredient needs a name")
            if name in self.ingredients:
                raise ingredients.error(row, f"{name!r} is listed twice")
            classes = split(row["groups"])
            for gid in classes:
                if gid not in members:
                    raise ingredients.error(row, f"unknown group {gid!r} (not in groups.csv)")
                members[gid].add(name)
            self.ingredients[name] = Ingredient(
                name,
                row["rxcui"] or None,
                tuple(c.upper() for c in split(row["atc"])),
                classes,
                split(row["synonyms"]),
            )
            for alias in (name, *split(row["synonyms"])):
                if self.names.get(alias, name) != name:
                    raise ingredients.error(row, f"{alias!r} already names {self.names[alias]!r}")
                self.names[alias] = name
        for gid, (row, dup_severity) in labels.items():
            if not members[gid]:
                raise groups.error(row, f"group {gid!r} has no member ingredient")
            interrupt = yes_no(groups, row, "duplicate_interrupt") if row["duplicate_interrupt"] else False
            self.groups[gid] = Group(gid, row["label"], dup_severity, interrupt, frozenset(members[gid]))

    def expand(self, table: Table, row: Row, cell: str, column: str) -> frozenset[str]:
        """A cell of ingredients and @groups as the set of member ingredients."""
        found: set[str] = set()
        parts = split(cell)
        if not parts:
            raise table.error(row, f"{column} is empty")
        for part in parts:
            if part.startswith("@"):
                group = self.groups.get(part[1:])
                if group is None:
                    raise table.error(row, f"unknown group {part!r} in {column}")
                found |= group.members
            elif part in self.ingredients:
                found.add(part)
            else:
                raise table.error(row, f"unknown ingredient {part!r} in {column}")
        return frozenset(found)

    def interactions(self, table: Table) -> tuple[InteractionRule, ...]:
        rules, seen = [], set()
        for row in table.rows:
            rule_id = row["rule_id"]
            if not rule_id:
                raise table.error(row, "rule_id is empty")
            if rule_id in seen:
                raise table.error(row, f"rule_id {rule_id!r} is used twice")
            seen.add(rule_id)
            if row["source"] not in INTERACTION_SOURCES:
                raise table.error(row, f"source must be one of {', '.join(INTERACTION_SOURCES)}")
            if not row["message"] or not row["action"]:
                raise table.error(row, "message and action must not be empty")
            rules.append(
                InteractionRule(
                    rule_id,
                    self.expand(table, row, row["a"], "a"),
                    self.expand(table, row, row["b"], "b"),
                    severity(table, row),
                    yes_no(table, row, "interrupt"),
                    row["source"],
                    row["mechanism"],
                    row["message"],
                    row["action"],
                )
            )
        return tuple(rules)


def index_pairs(rules: tuple[InteractionRule, ...]) -> dict[tuple[str, str], tuple[InteractionRule, ...]]:
    pairs: dict[tuple[str, str], dict[str, InteractionRule]] = {}
    for rule in rules:
        for first in rule.a:
            for second in rule.b:
                if first != second:
                    pairs.setdefault(_pair(first, second), {})[rule.rule] = rule
    return {key: tuple(found.values()) for key, found in pairs.items()}


def parse_interactions(table: Table, data_dir: Path = BUNDLED_DIR) -> tuple[InteractionRule, ...]:
    """Validate an interactions table against the bundled ingredients and groups (for ``hms meds update``)."""
    loader = _Loader(data_dir)
    loader.load_vocabulary()
    return loader.interactions(table)


def load_knowledge(data_dir: Path = BUNDLED_DIR, override_dir: Path | None = None) -> Knowledge:
    """Load and index every table; the interactions table comes from ``override_dir`` when installed there."""
    loader = _Loader(data_dir)
    loader.load_vocabulary()
    installed = override_dir / INTERACTIONS_FILE if override_dir else None
    if installed is not None and installed.is_file():
        interactions = read_table(installed, INTERACTION_COLUMNS)
        source = str(installed)
    else:
        interactions = read_table(data_dir / INTERACTIONS_FILE, INTERACTION_COLUMNS)
        source = "bundled"
    rules = loader.interactions(interactions)
    versions = {**loader.versions, INTERACTIONS_FILE: interactions.version}
    kb = Knowledge(version=interactions.version, source=source, versions=versions)
    kb.ingredients, kb.groups, kb._names = loader.ingredients, loader.groups, loader.names
    kb.interactions, kb.pairs = rules, index_pairs(rules)
    load_clinical_tables(kb, loader)
    kb.versions.update(loader.versions)
    return kb


def override_dir() -> Path:
    """Where ``hms meds update`` installs tables: ``<settings.data_dir>/medications``."""
    from hms_app.settings import get_settings

    return get_settings().data_dir / "medications"


@functools.cache
def knowledge() -> Knowledge:
    """The knowledge base, loaded once per process (``reload_knowledge`` after an update)."""
    return load_knowledge(BUNDLED_DIR, override_dir())


def reload_knowledge() -> Knowledge:
    knowledge.cache_clear()
    return knowledge()


__all__ = ["Knowledge", "Ingredient", "TableError", "knowledge", "load_knowledge", "reload_knowledge"]
