"""Schema migrations with Alembic: `hms migrate` and every start-up bring a database to head."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from hms_app.db import get_engine
from hms_app.settings import PROJECT_ROOT, get_settings


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.attributes["url"] = url or get_settings().database_url
    return config


def head_revision() -> str:
    """The revision a fully migrated database is at. Each domain's migrations form their own
    branch off the shared base, so there may be several heads: they are joined with "+"."""
    return "+".join(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


def current_revision(url: str | None = None) -> str | None:
    with get_engine(url).connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return "+".join(sorted(heads)) if heads else None


def upgrade(url: str | None = None, revision: str = "heads") -> None:
    """Bring the database at ``url`` (default: the configured one) up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
