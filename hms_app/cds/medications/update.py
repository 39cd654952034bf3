"""Installing a newer interactions table (``hms meds update FILE``): validate everything, then swap atomically.

A table is refused, and nothing changes, when any line is wrong (the error names the line), when its version
is not newer than the one in use, or when it drops a rule of the ONC high-priority list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hms_app.cds.medications.knowledge import (
    BUNDLED_DIR,
    INTERACTION_COLUMNS,
    INTERACTIONS_FILE,
    parse_interactions,
)
from hms_app.cds.medications.tables import TableError, parse_table, read_table, version_key


@dataclass(frozen=True)
class Installed:
    version: str
    path: Path
    rules: int
    interrupting: int


def _onc_high_priority(data_dir: Path) -> set[str]:
    bundled = read_table(data_dir / INTERACTIONS_FILE, INTERACTION_COLUMNS)
    return {row["rule_id"] for row in bundled.rows if row["source"] == "onc-hp-2012"}


def install_interactions(
    file: Path, target_dir: Path, *, current_version: str, data_dir: Path = BUNDLED_DIR
) -> Installed:
    """Validate ``file`` and install it as ``target_dir/interactions.csv``; raise ``TableError`` if it is refused."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TableError(file.name, 1, "the file is not UTF-8 text") from None
    table = parse_table(text, file.name, INTERACTION_COLUMNS)
    rules = parse_interactions(table, data_dir)
    if not rules:
        raise TableError(file.name, table.version_line, "the table has no interactions")
    if version_key(table.version) <= version_key(current_version):
        raise TableError(
            file.name,
            table.version_line,
            f"version {table.version} is not newer than the version in use ({current_version})",
        )
    missing = sorted(_onc_high_priority(data_dir) - {rule.rule for rule in rules})
    if missing:
        raise TableError(
            file.name, table.version_line, f"ONC high-priority rules are missing: {', '.join(missing)}"
        )
    target_dir.mkdir(parents=True, exist_ok=True)
    staging = target_dir / f".{INTERACTIONS_FILE}.{os.getpid()}.tmp"
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, target_dir / INTERACTIONS_FILE)  # readers see the old table or the new, never half
    return Installed(
        table.version, target_dir / INTERACTIONS_FILE, len(rules), sum(rule.interrupt for rule in rules)
    )
