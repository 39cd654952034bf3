"""The database engine and session factory.

SQLite gets WAL, a busy timeout and enforced foreign keys so that the embedded mode
behaves like the server mode under concurrent users; PostgreSQL gets a pre-pinged pool.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session, SQLModel

from hms_app.settings import get_settings

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, read_only: bool = False, pre_ping: bool = True) -> Engine:
    """Create an engine for ``url`` with the settings HMS relies on.

    ``pre_ping=False`` (PostgreSQL): no round trip to test a pooled connection before each use;
    for a caller that answers a failed first statement by being asked again (the HL7 listener).

    On SQLite, writing transactions start with BEGIN IMMEDIATE: a deferred transaction
    that reads and then writes fails at once with "database is locked" when another
    writer got there first, whereas an immediate one waits its turn (busy timeout).
    Read-only sessions (reports, dashboards) use plain BEGIN and never wait on writers.
    """
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)

        # pysqlite's own transaction handling defers BEGIN; take it over so that a
        # transaction's first statement really starts it and snapshots are consistent.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=pre_ping, pool_size=10, max_overflow=20)


def get_engine(url: str | None = None, *, read_only: bool = False) -> Engine:
    """The process-wide engine for ``url`` (default: the configured database)."""
    url = url or get_settings().database_url
    key = f"{url}#ro" if read_only and url.startswith("sqlite") else url
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = make_engine(url, read_only=read_only)
        return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


# ``session.info`` key of a read-only session: the database URL its audit rows are written to
# (``services.audit.record_audit`` writes them in a short transaction of their own).
READ_ONLY = "hms_read_only_url"


@contextmanager
def session_scope(url: str | None = None, *, read_only: bool = False) -> Iterator[Session]:
    """A session that rolls back whatever was left uncommitted when it closes.

    ``read_only``: for reads that must never wait for writers (on SQLite a plain BEGIN, so no
    write lock is taken). Such a read may still be audited: its audit row goes in a transaction
    of its own, which holds the write lock only for that one insert.
    """
    session = Session(get_engine(url, read_only=read_only), expire_on_commit=False)
    if read_only:
        session.info[READ_ONLY] = url or get_settings().database_url
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# SQLite's ANALYZE reads whole tables unless limited; a sample of this many rows per index gives
# the planner what it needs in a fraction of the time.
SQLITE_ANALYSIS_LIMIT = 1000


def analyze(session: Session, tables: tuple[str, ...] = ()) -> None:
    """Give the query planner fresh statistics of ``tables`` (all tables when empty).

    Run after a bulk load and before anything queries what was loaded: without statistics,
    PostgreSQL takes a freshly loaded table for a small one and plans nested loops over
    derived tables that then run for hours. ANALYZE only samples, takes no lock that blocks
    readers or writers, and may run inside the caller's transaction.
    """
    known = {table.name for table in SQLModel.metadata.sorted_tables}
    unknown = [name for name in tables if name not in known]
    if unknown:
        raise ValueError(f"not tables of this database: {', '.join(unknown)}")
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("ANALYZE " + ", ".join(f'"{name}"' for name in tables)))
        return
    session.execute(text(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}"))
    if not tables:
        session.execute(text("ANALYZE"))
    for name in tables:
        session.execute(text(f'ANALYZE "{name}"'))


@contextmanager
def ledger_unguarded(conn) -> Iterator[None]:
    """Lift the stock ledger's no-change triggers inside ``conn``'s transaction while the whole
    database is emptied (a restore, the tests' clean slate), and put them back before it commits."""
    from hms_app.models.inventory import LEDGER_GUARD, LEDGER_UNGUARD

    dialect = "postgresql" if conn.dialect.name == "postgresql" else "sqlite"
    for statement in LEDGER_UNGUARD[dialect]:
        conn.exec_driver_sql(statement)
    yield
    for statement in LEDGER_GUARD[dialect]:
        conn.exec_driver_sql(statement)
