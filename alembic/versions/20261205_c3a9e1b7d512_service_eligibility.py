"""Who a service is for: an age range and a sex, so the portal offers only services that fit the
patient (issue 11, item 25). Every existing service stays open to everyone (NULL).

A branch of its own (label ``service_eligibility``) off the scheduling revision.

Revision ID: c3a9e1b7d512
Revises: 5a1c3e7f9b20
Create Date: 2026-12-05 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "c3a9e1b7d512"
down_revision: str | None = "5a1c3e7f9b20"
branch_labels: str | Sequence[str] | None = ("service_eligibility",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("healthcare_service") as batch:
        batch.add_column(sa.Column("min_age", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_age", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("for_sex", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("healthcare_service") as batch:
        batch.drop_column("for_sex")
        batch.drop_column("max_age")
        batch.drop_column("min_age")
