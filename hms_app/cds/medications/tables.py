"""Reading the knowledge tables: CSV with ``#`` comment lines above one header row.

The comment lines carry the table's ``version:`` and document its columns; every error names the table and
the line, so an operator can fix a table by hand.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

SEVERITY_VALUES = ("contraindicated", "major", "moderate", "minor", "info")
_VERSION = re.compile(r"#\s*version:\s*(\S+)")


class TableError(ValueError):
    """A knowledge table that cannot be used; the message names the table and the line."""

    def __init__(self, table: str, line: int, problem: str):
        self.table, self.line, self.problem = table, line, problem
        super().__init__(f"{table}, line {line}: {problem}")


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values[column]


@dataclass(frozen=True)
class Table:
    name: str
    version: str
    rows: tuple[Row, ...]
    version_line: int = 1

    def error(self, row: Row, problem: str) -> TableError:
        return TableError(self.name, row.line, problem)


def version_key(version: str) -> tuple[int, ...]:
    """``2025.1`` -> (2025, 1): versions compare part by part as numbers."""
    if not re.fullmatch(r"\d+(\.\d+)*", version):
        raise ValueError(f"version {version!r} is not dotted numbers like 2025.1")
    return tuple(int(part) for part in version.split("."))


def parse_table(text: str, name: str, columns: tuple[str, ...]) -> Table:
    """Parse one table; the header row must list exactly ``columns``."""
    reader = csv.reader(io.StringIO(text))
    version: str | None = None
    version_line = 1
    header_seen = False
    rows: list[Row] = []
    for fields in reader:
        line = reader.line_num
        if not fields or not "".join(fields).strip():
            continue
        if fields[0].lstrip().startswith("#"):
            match = _VERSION.match(",".join(fields).strip())
            if match:
                version, version_line = match.group(1), line
                try:
                    version_key(version)
                except ValueError as error:
                    raise TableError(name, line, str(error)) from None
            continue
        cells = [cell.strip() for cell in fields]
        if not header_seen:
            if tuple(cells) != columns:
                raise TableError(name, line, f"the header must be {','.join(columns)}, not {','.join(cells)}")
            header_seen = True
            continue
        if len(cells) != len(columns):
            raise TableError(name, line, f"expected {len(columns)} fields, found {len(cells)}")
        rows.append(Row(line, dict(zip(columns, cells, strict=True))))
    if version is None:
        raise TableError(name, 1, "no '# version: ...' comment line above the header")
    if not header_seen:
        raise TableError(name, 1, "no header row")
    return Table(name, version, tuple(rows), version_line)


def read_table(path: Path, columns: tuple[str, ...]) -> Table:
    return parse_table(path.read_text(encoding="utf-8"), path.name, columns)


def split(cell: str) -> tuple[str, ...]:
    """A |-separated cell as its lower-case parts (empty cell: none)."""
    return tuple(part.strip().lower() for part in cell.split("|") if part.strip())


def severity(table: Table, row: Row, column: str = "severity", *, blank: bool = False) -> str:
    value = row[column].lower()
    if blank and not value:
        return ""
    if value not in SEVERITY_VALUES:
        raise table.error(row, f"{column} {row[column]!r} is not one of {', '.join(SEVERITY_VALUES)}")
    return value


def yes_no(table: Table, row: Row, column: str) -> bool:
    value = row[column].lower()
    if value not in ("yes", "no"):
        raise table.error(row, f"{column} must be yes or no, not {row[column]!r}")
    return value == "yes"


def number(table: Table, row: Row, column: str) -> Decimal | None:
    """A non-negative decimal cell (blank: None)."""
    if not row[column]:
        return None
    try:
        value = Decimal(row[column])
    except InvalidOperation:
        raise table.error(row, f"{column} {row[column]!r} is not a number") from None
    if value < 0 or not value.is_finite():
        raise table.error(row, f"{column} must be a finite number of 0 or more")
    return value
