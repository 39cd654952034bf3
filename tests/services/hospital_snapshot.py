"""A seeded demo hospital, seeded once per database and size and copied into each test after.

``run_seeders`` costs 10-30 s whatever the number of patients (catalogues, a month of stock,
schedules); tests that only need *a* seeded hospital to start from (the backup tests) take a
copy instead: SQLite's online backup of the whole file, PostgreSQL's COPY of every table and
the sequences' positions. The data directory comes along, because the audit trail was sealed
with the key kept there. The first test of each kind still seeds through ``run_seeders``.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import text

from hms_app.models import metadata
from hms_app.seed.registry import run_seeders
from hms_app.settings import get_settings


@dataclass
class _Snapshot:
    data_dir: Path
    sqlite_file: Path | None = None
    tables: dict[str, bytes] | None = None
    sequences: list[tuple[str, int, bool]] | None = None


_SNAPSHOTS: dict[tuple, _Snapshot] = {}


def seeded_hospital(session, **seed_args) -> None:
    """``run_seeders(session, **seed_args)`` into the session's emptied database, or its copy."""
    engine = session.get_bind()
    key = (engine.url.render_as_string(hide_password=False), *sorted(seed_args.items()))
    snapshot = _SNAPSHOTS.get(key)
    if snapshot is None:
        run_seeders(session, **seed_args)
        session.commit()
        _SNAPSHOTS[key] = _take(engine)
    else:
        _put_back(engine, snapshot)


def _take(engine) -> _Snapshot:
    home = Path(tempfile.mkdtemp(prefix="hms-seeded-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    data_dir = home / "data"
    source = get_settings().data_dir
    if source.exists():
        shutil.copytree(source, data_dir)
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            file = data_dir.parent / "hospital.db"
            with sqlite3.connect(file) as target:
                raw.driver_connection.backup(target)
            target.close()
            return _Snapshot(data_dir, sqlite_file=file)
        tables, conn = {}, raw.driver_connection
        with conn.cursor() as cursor:
            for table in metadata.sorted_tables:
                with cursor.copy(f"COPY {table.name} TO STDOUT (FORMAT BINARY)") as copy:
                    tables[table.name] = b"".join(bytes(chunk) for chunk in copy)
            names = cursor.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
            ).fetchall()
            sequences = [
                (name, *cursor.execute(f'SELECT last_value, is_called FROM "{name}"').fetchone())
                for (name,) in names
            ]
        conn.rollback()
        return _Snapshot(data_dir, tables=tables, sequences=sequences)
    finally:
        raw.close()


def _put_back(engine, snapshot: _Snapshot) -> None:
    if snapshot.data_dir.exists():
        shutil.copytree(snapshot.data_dir, get_settings().data_dir, dirs_exist_ok=True)
    raw = engine.raw_connection()
    try:
        if snapshot.sqlite_file is not None:
            with sqlite3.connect(snapshot.sqlite_file) as source:
                source.backup(raw.driver_connection)
            source.close()
            return
        conn = raw.driver_connection
        with conn.cursor() as cursor:
            for table in metadata.sorted_tables:  # parents first: foreign keys hold row by row
                with cursor.copy(f"COPY {table.name} FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(snapshot.tables[table.name])
            for name, value, called in snapshot.sequences:
                cursor.execute("SELECT setval(%s, %s, %s)", (name, value, called))
        conn.commit()
    finally:
        raw.close()
    # What was bulk-loaded is queried next: the planner must know its size, as after seeding.
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))


def seed_args(patients: int, stock_days: int) -> dict:
    """The backup tests' hospital: fixed seed and date, so that every copy is the same."""
    return {"patients": patients, "seed": 3, "as_of": date(2026, 11, 1), "stock_days": stock_days}
