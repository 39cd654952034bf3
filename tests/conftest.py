"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is not optional: when it cannot be reached the tests fail (they never skip),
so CI cannot pass without having run them against it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from hms_app import db as hms_db
from hms_app import migrations
from hms_app.models import metadata
from hms_app.settings import get_settings

# The production build for tests/e2e and tests/security: one server, started only when asked for.
pytest_plugins = ["tests.production_server"]

TESTS_DIR = Path(__file__).resolve().parent
POSTGRES_URL = os.environ.get("HMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _worker_database(url: str, worker: str) -> str:
    """Each pytest-xdist worker empties and migrates a PostgreSQL database of its own (``test_gw0``,
    ``test_gw1``...), created here when missing, so that two workers never reset each other's tables."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    base = make_url(url)
    own = base.set(database=f"{base.database}_{worker}")
    admin = base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (own.database,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(own.database)))
    except psycopg.Error as error:
        pytest.fail(f"PostgreSQL at {admin} is required for these tests and could not be reached: {error}")
    return own.render_as_string(hide_password=False)


if os.environ.get("PYTEST_XDIST_WORKER"):
    POSTGRES_URL = _worker_database(POSTGRES_URL, os.environ["PYTEST_XDIST_WORKER"])
    # Test modules that make scratch databases of their own name them after this one.
    os.environ["HMS_TEST_POSTGRES_URL"] = POSTGRES_URL
BACKENDS = ["sqlite", "postgresql"]


def _reset_postgres(url: str) -> None:
    try:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {url} is required for these tests and could not be reached: {error}")


# The browser and the attacker's probes talk to a server that hashes for real; their accounts made
# here must cost what the server's do, or a timing probe would measure the difference.
_REAL_HASH_SUITES = ("e2e", "security")


@pytest.fixture(autouse=True)
def fast_password_hashes(request, monkeypatch) -> None:
    """Argon2 with a small work factor in the in-process tests: the production parameters cost
    ~0.1-0.9 s per hash or check on this machine, and hundreds of tests create and sign in users.
    Verification is the same code path; the production parameters are checked on their own in
    tests/services/test_security.py (``_DUMMY_HASH`` is hashed at import with the real hasher)."""
    if Path(request.node.path).relative_to(TESTS_DIR).parts[0] in _REAL_HASH_SUITES:
        return
    from argon2 import PasswordHasher

    from hms_app.services import security

    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def pytest_collection_modifyitems(config, items) -> None:
    """``@pytest.mark.on_postgresql_only_if(when=predicate)``: the PostgreSQL copy of a parametrized case
    runs only when ``predicate(params)`` holds (SQLite runs them all). For cases whose
    database work is one shared code path, so that a sample proves it on PostgreSQL."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("on_postgresql_only_if")
        params = item.callspec.params if hasattr(item, "callspec") else {}
        if marker and params.get("database_url") == "postgresql" and not marker.kwargs["when"](params):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:
    """A migrated, empty database of each kind, created once per test run."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hms-test.db'}"
    else:
        url = POSTGRES_URL
        _reset_postgres(url)
    migrations.upgrade(url)
    return url


# One round trip names the tables that hold rows: most tests leave all but a few empty, and a
# DELETE per table (111 of them) cost ~0.2 s per test on PostgreSQL, ~2,500 times a run.
_TABLES = [t.name for t in reversed(metadata.sorted_tables)]
_NON_EMPTY = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in _TABLES)
# ALTER SEQUENCE ... RESTART rewrites the sequence, so only those that moved from their start
# (handed out a value, or set elsewhere) are restarted.
_RESTART_MOVED_SEQUENCES = (
    "DO $$ DECLARE s record; moved boolean; BEGIN "
    "FOR s IN SELECT sequencename, start_value FROM pg_sequences WHERE schemaname = 'public' LOOP "
    "EXECUTE format('SELECT is_called OR last_value <> %s FROM %I', s.start_value, s.sequencename) INTO moved; "
    "IF moved THEN EXECUTE format('ALTER SEQUENCE %I RESTART', s.sequencename); END IF; "
    "END LOOP; END $$"
)


def _truncate(url: str) -> None:
    """Empty every table and reset the ids. DELETE in dependency order is far cheaper than TRUNCATE
    on a busy PostgreSQL (TRUNCATE takes exclusive locks and rewrites files)."""
    engine = hms_db.get_engine(url)
    with engine.begin() as conn:
        filled = {row[0] for row in conn.exec_driver_sql(_NON_EMPTY)}
        if filled:
            # The stock ledger's no-change triggers are lifted only when it has rows to delete.
            guard = hms_db.ledger_unguarded(conn) if "stock_move" in filled else contextlib.nullcontext()
            with guard:
                for name in (t for t in _TABLES if t in filled):
                    conn.exec_driver_sql(f"DELETE FROM {name}")
        if url.startswith("postgresql"):
            conn.execute(text(_RESTART_MOVED_SEQUENCES))
        else:
            has_sequences = conn.execute(
                text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")
            ).first()
            if has_sequences:
                conn.execute(text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def configured_db(database_url, monkeypatch, tmp_path) -> Iterator[str]:
    """Point the app's settings at the test database, emptied for this test."""
    monkeypatch.setenv("HMS_DATABASE_URL", database_url)
    monkeypatch.setenv("HMS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    _truncate(database_url)
    yield database_url
    get_settings.cache_clear()


@pytest.fixture
def session(configured_db) -> Iterator[Session]:
    with hms_db.session_scope(configured_db) as s:
        yield s


@pytest.fixture
def backend(configured_db) -> str:
    return "postgresql" if configured_db.startswith("postgresql") else "sqlite"
