"""One unfinished work order per maintenance plan: the due-maintenance job runs every 30 s in
every worker, and a partial unique index lets exactly one of two simultaneous attempts open the
work order of a plan's due date (manual opening is held to the same rule).

A branch of its own (label ``equipment``) off the inventory revision.

Revision ID: e6a3c9d1f254
Revises: d4e1a7c9b302
Create Date: 2026-12-05 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e6a3c9d1f254"
down_revision: str | None = "d4e1a7c9b302"
branch_labels: str | Sequence[str] | None = ("equipment",)
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('open', 'in_progress')"


def upgrade() -> None:
    with op.batch_alter_table("work_order") as batch:
        batch.create_index(
            "uq_work_order_open_plan",
            ["plan_id"],
            unique=True,
            sqlite_where=sa.text(OPEN),
            postgresql_where=sa.text(OPEN),
        )


def downgrade() -> None:
    with op.batch_alter_table("work_order") as batch:
        batch.drop_index("uq_work_order_open_plan")
