"""Telehealth: the permissions for video visits, secure messaging and home readings, granted by default

Revision ID: 7e1e4ea1b001
Revises: a6d87f03146f
Create Date: 2026-12-07 00:00:00

The telehealth branch starts here; its tables (video visits, messaging, home readings) are
branches of their own off this revision. A database created before these permissions existed
gets them on the roles that hold them by default (a fresh database gets them from the role
seeding). Nothing an administrator changed is touched: grants are only added where missing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7e1e4ea1b001"
down_revision: str | None = "a6d87f03146f"
branch_labels: str | Sequence[str] | None = ("telehealth",)
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: later changes to the defaults in code must not rewrite history.
NEW_GRANTS = {
    "physician": ["telehealth.conduct", "message.staff", "reading.review"],
    "nurse": ["telehealth.conduct", "message.staff", "reading.review"],
    "receptionist": ["message.staff"],
}
NEW_PERMISSIONS = sorted({p for perms in NEW_GRANTS.values() for p in perms})


def upgrade() -> None:
    bind = op.get_bind()
    for role, permissions in NEW_GRANTS.items():
        role_id = bind.execute(sa.text("SELECT id FROM role WHERE name = :n"), {"n": role}).scalar()
        if role_id is None:
            continue  # a database that was never seeded gets every default grant when it is
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


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("DELETE FROM role_permission WHERE permission IN :names").bindparams(
            sa.bindparam("names", expanding=True)
        ),
        {"names": NEW_PERMISSIONS},
    )
