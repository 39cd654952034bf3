"""Search parameters as SQL: each mapper names its parameters and the column each one reads.

A parameter builder turns one value (``ge2024-01-01``, ``http://loinc.org|8867-4``, ``smi``)
and its modifier into a SQL condition; a comma in a value means OR and a repeated parameter
means AND, as FHIR's search rules say. Every value is checked and a bad one is refused with a
message naming the parameter, never passed to the database as it came.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.sql import ColumnElement

from hms_app.interop.fhir.outcome import fail
from hms_app.settings import get_settings

Clause = ColumnElement[bool]


@dataclass(frozen=True)
class Param:
    """A search parameter: its FHIR type (for the CapabilityStatement) and how it becomes SQL."""

    kind: str  # token | date | string | reference | number
    build: Callable[[str, str | None, str], Clause]  # (value, modifier, name) -> condition
    documentation: str = ""


# Parameters every search understands (besides the mapper's own).
RESULT_PARAMS = frozenset({"_count", "_offset", "_sort", "_total", "_format", "_summary", "_elements"})
DEFAULT_COUNT = 50
MAX_COUNT = 1000
MAX_VALUES = 100  # OR-ed values in one parameter: a longer list is refused rather than sent to SQL


def split_values(raw: str, name: str) -> list[str]:
    values = [v for v in re.split(r"(?<!\\),", raw)]
    if len(values) > MAX_VALUES:
        raise fail(400, f"Search parameter {name} has more than {MAX_VALUES} values.", code="too-costly")
    return [v.replace("\\,", ",") for v in values]


def _any(clauses: list[Clause]) -> Clause:
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


def _no_modifier(modifier: str | None, name: str, allowed: tuple[str, ...] = ()) -> None:
    if modifier is not None and modifier not in allowed:
        raise fail(400, f"The modifier :{modifier} is not supported on {name}.", code="not-supported")


def token(
    column, *, system: str | None = None, lower: bool = False, values: Mapping[str, str] | None = None
) -> Param:
    """``code``, ``system|code``, ``|code`` or ``system|``: the column holds codes of ``system``.

    ``values`` maps FHIR codes onto what the column stores when the two differ.
    """

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name, ("not",))
        clauses = []
        for value in split_values(raw, name):
            wanted_system, bar, code = value.rpartition("|") if "|" in value else ("", "", value)
            if bar and wanted_system and system is not None and wanted_system != system:
                clauses.append(false())
                continue
            if bar and wanted_system and system is None:
                clauses.append(false())
                continue
            if not code:  # "system|": every code of that system
                clauses.append(true())
                continue
            if len(code) > 200:
                raise fail(400, f"Search parameter {name} has a code longer than 200 characters.")
            stored = values.get(code, None) if values is not None else code
            if stored is None:
                clauses.append(false())
                continue
            clauses.append(func.lower(column) == stored.lower() if lower else column == stored)
        clause = _any(clauses)
        return ~clause if modifier == "not" else clause

    return Param("token", build)


def boolean(column) -> Param:
    def build(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name)
        if raw not in ("true", "false"):
            raise fail(400, f"Search parameter {name} takes true or false, not {raw[:40]!r}.")
        return column.is_(raw == "true")

    return Param("token", build)


def string(*columns) -> Param:
    """Starts-with, case-insensitive, on any of the columns (``:exact`` and ``:contains`` too)."""

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name, ("exact", "contains"))
        clauses = []
        for value in split_values(raw, name):
            value = value.strip()
            if not value or len(value) > 200:
                raise fail(400, f"Search parameter {name} needs a value of 1 to 200 characters.")
            for column in columns:
                if modifier == "exact":
                    clauses.append(column == value)
                elif modifier == "contains":
                    clauses.append(func.lower(column).contains(value.lower(), autoescape=True))
                else:
                    clauses.append(func.lower(column).startswith(value.lower(), autoescape=True))
        return _any(clauses)

    return Param("string", build)


def reference(column, target: str) -> Param:
    """``Patient/12``, ``12`` or a full URL ending in ``Patient/12``: the row id in ``column``."""

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name, (target,))
        ids = []
        for value in split_values(raw, name):
            ids.append(reference_id(value, target, name))
        return column.in_(ids) if len(ids) > 1 else column == ids[0]

    return Param("reference", build)


def reference_id(value: str, target: str, name: str) -> int:
    value = value.strip()
    match = re.fullmatch(rf"(?:.*/)?(?:{target}/)?([0-9]{{1,18}})", value)
    if match is None or ("/" in value and f"{target}/" not in value):
        raise fail(
            400,
            f"Search parameter {name} takes a {target} reference such as {target}/12, not {value[:60]!r}.",
        )
    return int(match.group(1))


def resource_id(column, prefix: str = "") -> Param:
    """``_id``: the FHIR id, which is the row id (behind ``prefix`` for a type kept in two tables)."""

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name)
        ids = []
        for value in split_values(raw, name):
            value = value.strip()
            if not value.startswith(prefix) or not value[len(prefix) :].isdigit() or len(value) > 64:
                ids.append(-1)  # an id this server never gives: matches nothing
            else:
                ids.append(int(value[len(prefix) :]))
        return column.in_(ids)

    return Param("token", build)


_DATE = re.compile(
    r"(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb)?"
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d{1,9})?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def parse_date_range(value: str, name: str) -> tuple[str, datetime, datetime]:
    """A FHIR search date as its prefix and the half-open range [start, end) it stands for.

    A date without a time zone is the hospital's local day (or month, or year).
    """
    match = _DATE.fullmatch(value.strip())
    if match is None:
        raise fail(
            400,
            f"Search parameter {name} takes a date such as 2024-05-01 or ge2024-05-01T08:00:00Z, not {value[:40]!r}.",
        )
    parts = match.groupdict()
    zone = parts["zone"]
    tz = UTC if zone == "Z" else get_settings().tz
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        from datetime import timezone

        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        year = int(parts["year"])
        if parts["month"] is None:
            start, end = datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)
        elif parts["day"] is None:
            month = int(parts["month"])
            start = datetime(year, month, 1, tzinfo=tz)
            end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
        elif parts["hour"] is None:
            day = date(year, int(parts["month"]), int(parts["day"]))
            start = datetime.combine(day, time(), tzinfo=tz)
            end = start + timedelta(days=1)
        else:
            day = date(year, int(parts["month"]), int(parts["day"]))
            clock = time(int(parts["hour"]), int(parts["minute"]), int(parts["second"] or 0))
            start = datetime.combine(day, clock, tzinfo=tz)
            end = start + (timedelta(seconds=1) if parts["second"] else timedelta(minutes=1))
    except ValueError as error:
        raise fail(400, f"Search parameter {name} has an impossible date {value[:40]!r}: {error}.") from error
    return parts["prefix"] or "eq", start.astimezone(UTC), end.astimezone(UTC)


def date_param(column, *, is_date: bool = False) -> Param:
    """A date or moment column searched with FHIR's prefixes (eq, ne, gt, lt, ge, le, sa, eb)."""

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name)
        clauses = []
        for value in split_values(raw, name):
            prefix, start, end = parse_date_range(value, name)
            low, high = (start.date(), end.date()) if is_date else (start, end)
            if is_date and start.time() != time() or is_date and end.time() != time():
                # A moment searched against a date column: the day the moment falls on.
                low, high = start.date(), start.date() + timedelta(days=1)
            clauses.append(
                {
                    "eq": and_(column >= low, column < high),
                    "ne": or_(column < low, column >= high),
                    "gt": column >= high,
                    "sa": column >= high,
                    "lt": column < low,
                    "eb": column < low,
                    "ge": column >= low,
                    "le": column < high,
                }[prefix]
            )
        return _any(clauses)

    return Param("date", build)


@dataclass(frozen=True)
class Criteria:
    """A search request, checked: conditions, sort, page."""

    conditions: tuple[Clause, ...]
    sort: tuple[tuple[str, bool], ...]  # (parameter, descending)
    count: int
    offset: int
    echo: tuple[tuple[str, str], ...]  # the parameters as understood, for the Bundle's links


def parse_criteria(
    resource_type: str,
    query: list[tuple[str, str]],
    params: Mapping[str, Param],
    sorts: Mapping[str, object],
) -> Criteria:
    """Check a search's query string against the type's parameters. Unknown parameters are
    refused (400) rather than ignored: a client that thinks it filtered must not get everything."""
    conditions: list[Clause] = []
    sort: list[tuple[str, bool]] = []
    count, offset = DEFAULT_COUNT, 0
    echo: list[tuple[str, str]] = []
    for key, raw in query:
        name, _, modifier = key.partition(":")
        if name == "_count":
            count = _integer(raw, key, low=0, high=MAX_COUNT)
        elif name == "_offset":
            offset = _integer(raw, key, low=0, high=10_000_000)
        elif name == "_sort":
            for item in split_values(raw, "_sort"):
                field = item.removeprefix("-")
                if field not in sorts:
                    known = ", ".join(sorted(sorts)) or "none"
                    raise fail(
                        400,
                        f"{resource_type} cannot be sorted by {field!r} (supported: {known}).",
                        code="not-supported",
                    )
                sort.append((field, item.startswith("-")))
            echo.append((key, raw))
        elif name == "_summary" and raw == "count":
            count = 0  # the total only
            echo.append((key, raw))
        elif name in ("_format", "_total", "_summary", "_elements"):
            continue  # answered the one way this server answers (JSON, accurate totals, full resources)
        elif name in params:
            if not raw:
                raise fail(400, f"Search parameter {key} has no value.")
            conditions.append(params[name].build(raw, modifier or None, name))
            echo.append((key, raw))
        else:
            known = ", ".join(sorted(params))
            raise fail(
                400,
                f"{resource_type} has no search parameter {name!r} here (supported: {known}).",
                code="not-supported",
            )
    return Criteria(tuple(conditions), tuple(sort), count, offset, tuple(echo))


def _integer(raw: str, name: str, *, low: int, high: int) -> int:
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise fail(400, f"{name} takes a whole number from {low} to {high}, not {raw[:20]!r}.")
    return int(raw)


def identifier(identity_key: str, id_column, own: Mapping[str, object] | None = None) -> Param:
    """``identifier=system|value``: HMS's own identifiers (``own``: system -> column) from the
    tables, any other from those clients gave the resources."""
    from hms_app.interop.fhir import store

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name)
        clauses = []
        for value in split_values(raw, name):
            system, bar, code = value.rpartition("|") if "|" in value else ("", "", value)
            if not code or len(code) > 200 or len(system) > 200:
                raise fail(
                    400,
                    "Search parameter identifier takes system|value or value (each under 200 characters).",
                )
            wanted = system if bar and system else None
            for own_system, column in (own or {}).items():
                if wanted in (None, own_system):
                    clauses.append(column == code)
            clauses.append(id_column.in_(store.identifier_rows(identity_key, wanted, code)))
        return _any(clauses)

    return Param("token", build)


def mapped_token(column, mapping: Mapping[str, str]) -> Param:
    """FHIR codes onto what the column stores when several stored values mean one FHIR code
    (``mapping``: stored -> FHIR; ``active`` is every order still in work)."""

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name)
        wanted = {value.rpartition("|")[2] for value in split_values(raw, name)}
        stored = [ours for ours, fhir in mapping.items() if fhir in wanted]
        return column.in_(stored) if stored else false()

    return Param("token", build)


def fixed_token(code: str) -> Param:
    """A parameter every row of a table answers the same way (its category): all rows or none."""

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name)
        wanted = {value.rpartition("|")[2] for value in split_values(raw, name)}
        return true() if code in wanted else false()

    return Param("token", build)


def through(column, target_id, condition_param: Param) -> Param:
    """A parameter of a related table: rows whose ``column`` is among the ``target_id``s
    matching ``condition_param`` (a result's test code, an order's procedure code)."""

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        return column.in_(select(target_id).where(condition_param.build(raw, modifier, name)))

    return Param(condition_param.kind, build)
