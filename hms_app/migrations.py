"""Schema migrations with Alembic: `hms migrate` and every start-up bring a database to head."""

from __future__ import annotations

import sqlalchemy as sa
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


def add_roles_and_grants(bind, roles: dict[str, str], grants: dict[str, list[str]]) -> None:
    """A data migration's step for a database that already has roles: create ``roles`` where
    missing and grant each role its ``grants`` where missing; an administrator's changes stay.
    A database never seeded gets every role and grant from the role seeding instead."""
    if bind.execute(sa.text("SELECT 1 FROM role")).first() is None:
        return
    for name, label in roles.items():
        if bind.execute(sa.text("SELECT 1 FROM role WHERE name = :n"), {"n": name}).first() is None:
            bind.execute(
                sa.text("INSERT INTO role (name, label, mfa_required) VALUES (:n, :l, false)"),
                {"n": name, "l": label},
            )
    for role, permissions in grants.items():
        role_id = bind.execute(sa.text("SELECT id FROM role WHERE name = :n"), {"n": role}).scalar()
        if role_id is None:
            continue
        for permission in permissions:
            held = bind.execute(
                sa.text("SELECT 1 FROM role_permission WHERE role_id = :r AND permission = :p"),
                {"r": role_id, "p": permission},
            ).first()
            if not held:
                bind.execute(
                    sa.text("INSERT INTO role_permission (role_id, permission) VALUES (:r, :p)"),
                    {"r": role_id, "p": permission},
                )


def remove_roles_and_grants(bind, roles: dict[str, str], permissions: list[str]) -> None:
    """Undo ``add_roles_and_grants``: the permissions from every role, then the roles."""
    bind.execute(
        sa.text("DELETE FROM role_permission WHERE permission IN :names").bindparams(
            sa.bindparam("names", expanding=True)
        ),
        {"names": permissions},
    )
    for name in roles:
        role_id = bind.execute(sa.text("SELECT id FROM role WHERE name = :n"), {"n": name}).scalar()
        if role_id is not None:
            bind.execute(sa.text("DELETE FROM user_role WHERE role_id = :r"), {"r": role_id})
            bind.execute(sa.text("DELETE FROM role WHERE id = :r"), {"r": role_id})
