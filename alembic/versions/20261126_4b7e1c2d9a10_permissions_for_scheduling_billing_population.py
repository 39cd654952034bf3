"""Permissions for scheduling, wards, billing voids and population health, granted by default

Revision ID: 4b7e1c2d9a10
Revises: 3db73fef5cff
Create Date: 2026-11-26 00:00:00

A database created before these permissions existed gets them on the roles that hold them
by default (a fresh database gets them from the role seeding). Nothing an administrator
changed is touched: grants are only added where missing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4b7e1c2d9a10"
down_revision: str | None = "3db73fef5cff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here on purpose: later changes to the defaults in code must not rewrite history.
NEW_GRANTS = {
    "admin": ["schedule.manage", "appointment.read"],
    "physician": ["appointment.flow", "population.read"],
    "nurse": ["appointment.flow", "ward.manage"],
    "receptionist": ["appointment.flow", "schedule.manage"],
    "manager": ["billing.void", "population.read", "population.manage"],
}
# The permissions this revision introduces; a downgrade removes them. appointment.read existed
# before (only the admin role gains it here), so a downgrade leaves every grant of it alone.
NEW_PERMISSIONS = sorted({p for perms in NEW_GRANTS.values() for p in perms} - {"appointment.read"})


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
