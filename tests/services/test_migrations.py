"""The Alembic scripts build exactly the schema the models describe, on SQLite and PostgreSQL.

Each run uses a scratch database of its own (not the shared test fixture database): a
SQLite file, and a PostgreSQL database next to the test one (``<test db>_mig``) that is
dropped and created again here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import make_url

from hms_app import migrations
from hms_app.db import make_engine
from hms_app.models import metadata

POSTGRES_URL = os.environ.get("HMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _scratch_postgres() -> Iterator[str]:
    url = make_url(POSTGRES_URL)
    scratch = url.set(database=f"{url.database}_mig")
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    def run(statement: str) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(statement)

    try:
        run(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)')
        run(f'CREATE DATABASE "{scratch.database}"')
    except psycopg.Error as error:
        pytest.fail(f"PostgreSQL at {admin} is required for these tests and could not be reached: {error}")
    # Left behind on purpose: the next run's setup drops it. Dropping a database makes PostgreSQL
    # checkpoint, which took 40 s on a server busy with the other workers' tests.
    yield scratch.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
    else:
        yield from _scratch_postgres()


def _inspect(url: str) -> tuple[set[str], str | None, list]:
    """Tables, Alembic revision, and the differences autogenerate would write (`alembic check`)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(sa_inspect(conn).get_table_names())
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": conn.dialect.name == "sqlite"}
            )
            heads = context.get_current_heads()
            revision = "+".join(sorted(heads)) if heads else None
            return tables, revision, compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_upgrade_from_empty_builds_the_models_schema_and_every_downgrade_undoes_its_step(empty_database):
    from alembic.script import ScriptDirectory

    model_tables = set(metadata.tables)
    assert model_tables, "no tables registered: hms_app.models was not imported"
    tables, revision, _ = _inspect(empty_database)
    assert tables == set() and revision is None

    migrations.upgrade(empty_database)
    tables, revision, differences = _inspect(empty_database)
    assert model_tables <= tables, f"tables no migration creates: {model_tables - tables}"
    assert tables - model_tables <= {"alembic_version"}, f"tables no model describes: {tables - model_tables}"
    assert revision == migrations.head_revision()
    assert differences == [], f"models and migrations differ; write a migration for: {differences}"

    # Down one revision at a time, so that each downgrade script is run from the revision above it.
    # Each domain's migrations are a branch of their own; ``<rev>@-1`` unapplies just that revision.
    script = ScriptDirectory.from_config(migrations.alembic_config(empty_database))
    revisions = list(script.walk_revisions())  # every revision comes before the one it revises
    assert "+".join(sorted(rev.revision for rev in revisions if rev.is_head)) == migrations.head_revision()
    for rev in revisions:
        applied = set((_inspect(empty_database)[1] or "").split("+"))
        assert rev.revision in applied, f"{rev.revision} should still be applied"
        # A merge revision (a domain that needs the tables of several branches) has no single step
        # down; downgrading to one of its parents unapplies just the merge.
        merge = not isinstance(rev.down_revision, str) and rev.down_revision is not None
        migrations.downgrade(empty_database, rev.down_revision[0] if merge else f"{rev.revision}@-1")
        remaining = set((_inspect(empty_database)[1] or "").split("+")) - {""}
        assert rev.revision not in remaining
        parents = {rev.down_revision} if isinstance(rev.down_revision, str) else set(rev.down_revision or ())
        assert remaining <= (applied - {rev.revision}) | parents, "a downgrade must not apply anything"
    tables, _, _ = _inspect(empty_database)
    assert tables <= {"alembic_version"}, f"left behind after downgrading to base: {tables}"

    migrations.upgrade(empty_database)
    tables, revision, differences = _inspect(empty_database)
    assert model_tables <= tables and revision == migrations.head_revision()
    assert differences == []
