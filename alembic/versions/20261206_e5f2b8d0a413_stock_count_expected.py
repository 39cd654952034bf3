"""Stock counts: when each line was counted and what the book expected at that moment.

A count freezes the book quantities when it starts, but the store keeps working while it is
counted: an issue or a delivery between the snapshot and the counting would otherwise be taken
for a loss or a find. Each counted line keeps the balance read when it was counted (the book
plus the moves since the snapshot); its variance is the counted quantity minus that.

A branch of its own (label ``inventory_counts``) off the inventory revision.

Revision ID: e5f2b8d0a413
Revises: d4e1a7c9b302
Create Date: 2026-12-06 10:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "e5f2b8d0a413"
down_revision: str | None = "d4e1a7c9b302"
branch_labels: str | Sequence[str] | None = ("inventory_counts",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stock_count_line") as batch:
        batch.add_column(sa.Column("counted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("expected_quantity", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stock_count_line") as batch:
        batch.drop_column("expected_quantity")
        batch.drop_column("counted_at")
