"""Alembic environment: the URL comes from HMS settings (or the caller), never from alembic.ini."""

import hms_app.models  # noqa: F401  (registers every table)
from alembic import context
from hms_app.db import make_engine
from hms_app.models import metadata
from hms_app.settings import get_settings

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("HMS migrations run online only: use `hms migrate`.")
run_migrations_online()
