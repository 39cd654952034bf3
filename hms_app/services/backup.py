"""`hms backup` / `hms restore`: a consistent copy of every table, taken while the app runs.

One code path for SQLite and PostgreSQL, no external tools. A backup reads every table of
``hms_app.models.metadata`` inside ONE read transaction, so it is a single snapshot
(PostgreSQL: REPEATABLE READ, READ ONLY; SQLite in WAL mode: a read transaction whose
snapshot starts at its first read), streamed in primary-key order and never loaded whole.

The file is gzip-compressed JSON lines::

    {"format": "hms-backup", "version": 1, "revision": ..., "created_at": ..., "tables": [...]}
    {"table": "audit_event"}
    [1, 1, {"$dt": "2026-11-25T21:01:18.897224+00:00"}, ...]      one array per row
    ...
    {"trailer": {"rows": {"audit_event": 3, ...}, "sha256": "..."}}

Values JSON cannot hold are tagged (``$dt`` datetime, ``$d`` date, ``$t`` time, ``$dec``
Decimal, ``$b`` bytes, ``$td`` timedelta, ``$uuid``, ``$j`` JSON documents), so a row comes
back with exactly the types it left with, whichever database it is restored into. The
trailer's sha256 covers every byte before it: a truncated or edited file is refused
before the database is touched. The file is written to a temporary name and renamed, so
a crash never leaves a half backup under the real name.

Secrets stay sealed: TOTP secrets are in the file as the Fernet ciphertext the database holds,
never in the clear. The keys (``data/secret.key``, ``data/audit.key``) are not in the file; keep
them apart from it, and a restore on another machine needs them there.

A restore replaces every row in one transaction (children deleted first, parents inserted
first) and resets PostgreSQL's id sequences; any failure rolls it all back. The audit
chain and its head come back verbatim, and the restore itself is appended to it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Integer, Table, bindparam, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app import migrations
from hms_app.clock import utcnow
from hms_app.db import analyze, get_engine, ledger_unguarded, session_scope
from hms_app.errors import DomainError
from hms_app.models import metadata
from hms_app.plurals import counted
from hms_app.services.audit import record_audit
from hms_app.services.audit_chain import mark_restore, seal_all
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings

FORMAT = "hms-backup"
FORMAT_VERSION = 1
BATCH_SIZE = 2000


class _Corrupt(Exception):
    """The file is not a complete, unedited HMS backup (turned into a DomainError)."""


# --------------------------------------------------------------------------- values


def _encode(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, time):
        return {"$t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, timedelta):
        return {"$td": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, (dict, list)):
        return {"$j": value}
    raise TypeError(f"cannot back up a value of type {type(value).__name__}")


_DECODERS = {
    "$dt": datetime.fromisoformat,
    "$d": date.fromisoformat,
    "$t": time.fromisoformat,
    "$dec": Decimal,
    "$b": lambda raw: base64.b64decode(raw.encode("ascii"), validate=True),
    "$td": lambda parts: timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2]),
    "$uuid": uuid.UUID,
    "$j": lambda document: document,
}


def _decode(value: object) -> object:
    if isinstance(value, dict):
        if len(value) != 1:
            raise _Corrupt("a value has an unknown form")
        ((tag, raw),) = value.items()
        decoder = _DECODERS.get(tag)
        if decoder is None:
            raise _Corrupt(f"a value has the unknown type tag {tag!r}")
        return decoder(raw)
    if isinstance(value, list):
        raise _Corrupt("a value has an unknown form")
    return value


def _line(item: object) -> bytes:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _summary(counts: dict[str, int]) -> str:
    return f"{counted(len(counts), 'table')}, {counted(sum(counts.values()), 'row')}"


def _order_columns(table: Table) -> list:
    return list(table.primary_key.columns) or list(table.columns)


# --------------------------------------------------------------------------- backup


def _read_revision(conn: Connection) -> str:
    try:
        # One row per domain branch of the migrations: the revision is their sorted "+"-joined ids,
        # exactly as ``migrations.current_revision`` reports it.
        versions = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        revision = "+".join(versions) or None
    except Exception as error:  # noqa: BLE001 - any failure here means "no schema"
        raise DomainError("The database has no HMS schema yet: run `hms migrate` first.") from error
    if revision is None:
        raise DomainError("The database has no HMS schema yet: run `hms migrate` first.")
    return revision


def _snapshot_connection(url: str):
    """A connection whose next transaction is one consistent, read-only snapshot."""
    engine = get_engine(url, read_only=True)
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    # SQLite: the read-only engine starts transactions with a plain BEGIN; in WAL mode the
    # snapshot is taken at the first read and writers carry on undisturbed until we finish.
    return conn


def _write_snapshot(conn: Connection, stream, tables: list[Table], batch_size: int) -> dict[str, int]:
    digest = hashlib.sha256()

    def emit(chunk: bytes) -> None:
        digest.update(chunk)
        stream.write(chunk)

    revision = _read_revision(conn)  # the first read: the snapshot starts here
    emit(
        _line(
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "revision": revision,
                "created_at": utcnow().isoformat(),
                "dialect": conn.dialect.name,
                "tables": [{"name": t.name, "columns": [c.name for c in t.columns]} for t in tables],
            }
        )
    )
    counts: dict[str, int] = {}
    for table in tables:
        emit(_line({"table": table.name}))
        count = 0
        result = conn.execution_options(yield_per=batch_size).execute(
            select(*table.columns).order_by(*_order_columns(table))
        )
        for rows in result.partitions():
            emit(b"".join(_line([_encode(value) for value in row]) for row in rows))
            count += len(rows)
        counts[table.name] = count
    stream.write(_line({"trailer": {"rows": counts, "sha256": digest.hexdigest()}}))
    return counts


def backup_database(path: Path, *, url: str | None = None, batch_size: int = BATCH_SIZE) -> str:
    """Write a consistent copy of every table to ``path``; return e.g. "10 tables, 3,412 rows"."""
    url = url or get_settings().database_url
    path = Path(path)
    if path.is_dir():
        raise DomainError(f"{path} is a folder; give a file name for the backup.")
    if not path.parent.is_dir():
        raise DomainError(f"The folder {path.parent} does not exist.")
    tables = list(metadata.sorted_tables)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(temporary, "wb") as raw:
            with (
                gzip.GzipFile(filename=path.name, fileobj=raw, mode="wb", compresslevel=6) as stream,
                _snapshot_connection(url) as conn,
                conn.begin(),
            ):
                counts = _write_snapshot(conn, stream, tables, batch_size)
            raw.flush()
            os.fsync(raw.fileno())  # on disk before the rename makes it the backup
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    summary = _summary(counts)
    # Copying every patient's record is a read an auditor wants to see. It is written
    # after the snapshot, so the backup does not contain its own entry.
    with session_scope(url) as session:
        record_audit(session, SYSTEM_ACTOR, "system.backup", detail=f"{path.name}: {summary}")
        session.commit()
    return summary


# --------------------------------------------------------------------------- reading a backup


def _check_header(header: object, tables: list[Table]) -> dict:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise _Corrupt("it does not start with an HMS backup header")
    if header.get("version") != FORMAT_VERSION:
        raise DomainError(
            f"This backup uses format version {header.get('version')}, but this HMS reads version "
            f"{FORMAT_VERSION}. Restore it with the HMS version that wrote it."
        )
    try:
        columns = {entry["name"]: entry["columns"] for entry in header["tables"]}
    except (KeyError, TypeError) as error:
        raise _Corrupt("its table list is damaged") from error
    expected = {table.name: [c.name for c in table.columns] for table in tables}
    if columns != expected:
        raise DomainError(
            "The backup's tables or columns differ from this database's, although the schema "
            "revision matches. Restore it with the HMS version that wrote it."
        )
    return header


def _read_batches(
    path: Path, *, tables: list[Table], batch_size: int, on_header
) -> Iterator[tuple[Table, list[dict]]]:
    """Stream ``path``'s rows in batches, checking structure, counts and checksum.

    The checksum is only known at the end, so the last check happens when the iteration
    finishes: a caller that writes must do so in a transaction it can still roll back.
    """
    by_name = {table.name: table for table in tables}
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    trailer = None
    try:
        with gzip.open(path, "rb") as stream:
            first = stream.readline()
            if not first.endswith(b"\n"):
                raise _Corrupt("it does not start with an HMS backup header")
            on_header(_check_header(json.loads(first), tables))
            digest.update(first)
            table, names, batch = None, [], []
            for line in stream:
                if trailer is not None:
                    raise _Corrupt("there is data after its end marker")
                if not line.endswith(b"\n"):
                    raise _Corrupt("its last line is cut short")
                item = json.loads(line)
                if isinstance(item, list):
                    if table is None or len(item) != len(names):
                        raise _Corrupt("a row does not belong to any table")
                    batch.append({name: _decode(value) for name, value in zip(names, item, strict=True)})
                    counts[table.name] += 1
                    if len(batch) >= batch_size:
                        yield table, batch
                        batch = []
                elif isinstance(item, dict) and "table" in item:
                    if batch:
                        yield table, batch
                        batch = []
                    table = by_name.get(item["table"])
                    if table is None or table.name in counts:
                        raise _Corrupt(f"it holds an unexpected table section {item['table']!r}")
                    names, counts[table.name] = [c.name for c in table.columns], 0
                elif isinstance(item, dict) and "trailer" in item:
                    if batch:
                        yield table, batch
                        batch = []
                    trailer = item["trailer"]
                    continue  # the trailer is not part of what its checksum covers
                else:
                    raise _Corrupt("it holds a line of unknown kind")
                digest.update(line)
    except (OSError, EOFError, zlib.error, ValueError, TypeError, KeyError) as error:
        raise _Corrupt(str(error) or type(error).__name__) from error
    if trailer is None:
        raise _Corrupt("its end marker is missing (the file was cut short)")
    if not isinstance(trailer, dict) or trailer.get("sha256") != digest.hexdigest():
        raise _Corrupt("its checksum does not match its contents (the file was changed or damaged)")
    if trailer.get("rows") != counts or set(counts) != set(by_name):
        raise _Corrupt("its row counts do not match its contents")


def _corrupt_message(path: Path, error: _Corrupt) -> str:
    return f"{path} is not a complete, unaltered HMS backup: {error}. Nothing was changed."


# --------------------------------------------------------------------------- restore


def _clear(conn: Connection, tables: list[Table]) -> None:
    if conn.dialect.name == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.format_table(t) for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        return
    with ledger_unguarded(conn):  # the stock ledger's rows may not be deleted one by one otherwise
        for table in reversed(tables):
            conn.execute(table.delete())


@contextmanager
def _restore_session(url: str) -> Iterator[Session]:
    """One writing transaction for the whole restore, rolled back unless committed.

    SQLite checks foreign keys row by row: emptying a table that points at itself without
    an index (a merged patient at its survivor) costs a scan of the table per deleted row,
    minutes for 100,000 patients. So enforcement is off on this one connection while the
    restore runs (switched outside the transaction: SQLite ignores the pragma inside one),
    and ``_check_foreign_keys`` checks the whole database before commit instead.
    """
    engine = get_engine(url)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection if engine.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with Session(bind=conn, expire_on_commit=False) as session:
                try:
                    yield session
                except BaseException:
                    session.rollback()
                    raise
        finally:
            if raw is not None:
                try:
                    raw.execute("PRAGMA foreign_keys = ON")
                except Exception:
                    conn.invalidate()  # never hand a connection without its checks back to the pool
                    raise


def _check_foreign_keys(conn: Connection) -> None:
    if conn.dialect.name != "sqlite":
        return  # PostgreSQL checked every row as it went in
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise DomainError(
            f"The backup's rows do not fit together: {len(broken)} point at rows that do not exist "
            f"(first: {table} row {rowid} -> {parent}). Nothing was changed."
        )


def _reset_sequences(conn: Connection, tables: list[Table]) -> None:
    """Make the next generated id follow the restored rows."""
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        key = keys[0]
        if conn.dialect.name == "postgresql":
            # pg_get_serial_sequence is NULL for a key without a sequence; setval(NULL) does nothing.
            conn.execute(
                select(
                    func.setval(
                        func.pg_get_serial_sequence(table.name, key.name),
                        func.coalesce(func.max(key), 1),
                        func.max(key).isnot(None),
                    )
                ).select_from(table)
            )
        elif conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
            conn.execute(
                text("UPDATE sqlite_sequence SET seq = :seq WHERE name = :name"),
                {
                    "seq": conn.execute(select(func.coalesce(func.max(key), 0))).scalar_one(),
                    "name": table.name,
                },
            )


def _forward_references(tables: list[Table]) -> dict[str, list[str]]:
    """Per table, the nullable foreign-key columns that point at its own or a later table.

    Rows go in parent-first order, but a row may point at a row of its own table with a
    higher id (a merged patient at its survivor) or across a cycle. PostgreSQL checks each
    row as it goes in, so these columns are inserted empty and filled in at the end.
    """
    position = {table.name: index for index, table in enumerate(tables)}
    forward: dict[str, list[str]] = {}
    for table in tables:
        names = sorted(
            {
                fk.parent.name
                for fk in table.foreign_keys
                if fk.parent.nullable and position.get(fk.column.table.name, -1) >= position[table.name]
            }
        )
        if names:
            forward[table.name] = names
    return forward


def _fill_forward_references(
    conn: Connection, table: Table, columns: list[str], pending: list[dict], batch_size: int
) -> None:
    keys = list(table.primary_key.columns)
    statement = (
        table.update()
        .where(*[key == bindparam(f"key_{key.name}") for key in keys])
        .values({name: bindparam(f"value_{name}") for name in columns})
    )
    for start in range(0, len(pending), batch_size):
        conn.execute(statement, pending[start : start + batch_size])


def restore_database(path: Path, *, url: str | None = None, batch_size: int = BATCH_SIZE) -> str:
    """Replace every row in the database with the backup at ``path``; all or nothing."""
    url = url or get_settings().database_url
    path = Path(path)
    if not path.is_file():
        raise DomainError(f"There is no backup file at {path}.")
    tables = list(metadata.sorted_tables)
    database_revision = migrations.current_revision(url)
    if database_revision is None:
        raise DomainError("The database has no HMS schema yet: run `hms migrate` first, then restore.")

    def check_revision(header: dict) -> None:
        if header.get("revision") != database_revision:
            raise DomainError(
                f"This backup was taken at schema revision {header.get('revision')}, but the database is at "
                f"revision {database_revision}. Bring the database to the backup's revision (`hms migrate` "
                f"with the HMS version that wrote the backup) or restore with a matching HMS version. "
                f"Nothing was changed."
            )

    headers: list[dict] = []
    # First pass: prove the whole file is intact before touching anything.
    try:
        for _ in _read_batches(
            path,
            tables=tables,
            batch_size=batch_size,
            on_header=lambda h: (check_revision(h), headers.append(h)),
        ):
            pass
    except _Corrupt as error:
        raise DomainError(_corrupt_message(path, error)) from error

    # Second pass: replace everything in one transaction. The file is checked again as it
    # is read, so a file changed between the passes rolls back instead of half-restoring.
    with _restore_session(url) as session:
        try:
            counts = _replace_rows(session.connection(), path, tables, check_revision, batch_size)
        except _Corrupt as error:
            raise DomainError(_corrupt_message(path, error)) from error
        except IntegrityError as error:
            # A file whose checksum holds but whose rows do not fit together (written by a
            # damaged database, or forged): the database refuses it and nothing changes.
            raise DomainError(
                f"The rows in {path} do not fit together, so the database refused them "
                f"({str(error.orig).splitlines()[0]}). Nothing was changed."
            ) from error
        summary = _summary(counts)
        record_audit(
            session,
            SYSTEM_ACTOR,
            "system.restore",
            detail=f"{path.name} (taken {headers[0].get('created_at')}): {summary}",
        )
        session.commit()
        # A restore is a bulk load: the planner learns the new tables before anyone queries them.
        analyze(session)
        session.commit()
        # The database's history is now the backup's: the checkpoints start again from its head.
        mark_restore(session)
        seal_all(session)
    return summary


def _replace_rows(conn: Connection, path: Path, tables: list[Table], check_revision, batch_size: int) -> dict:
    """Empty every table and fill it from ``path``, in the caller's transaction."""
    counts = {table.name: 0 for table in tables}
    forward = _forward_references(tables)
    pending: dict[str, list[dict]] = {name: [] for name in forward}
    _clear(conn, tables)
    for table, rows in _read_batches(path, tables=tables, batch_size=batch_size, on_header=check_revision):
        later = forward.get(table.name)
        if later:
            for row in rows:
                if any(row[name] is not None for name in later):
                    pending[table.name].append(
                        {
                            **{f"key_{key.name}": row[key.name] for key in table.primary_key.columns},
                            **{f"value_{name}": row[name] for name in later},
                        }
                    )
                for name in later:
                    row[name] = None
        conn.execute(table.insert(), rows)
        counts[table.name] += len(rows)
    for table in tables:
        if pending.get(table.name):
            _fill_forward_references(conn, table, forward[table.name], pending[table.name], batch_size)
    _check_foreign_keys(conn)
    _reset_sequences(conn, tables)
    return counts
