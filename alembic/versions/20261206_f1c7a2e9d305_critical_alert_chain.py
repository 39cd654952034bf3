"""Critical alerts: the unit they escalate in and the clinician who ordered the result.

Escalation goes to the charge nurse and then the department lead of the alert's department;
radiology's findings reuse the loop, so the department is the alert's own column rather than
read through a lab request. The ordering clinician (the first recipient) is kept apart from the
current recipient: they may still acknowledge after the alert has moved up the chain.

A branch of its own (label ``laboratory_critical``) off the laboratory revision.

Revision ID: f1c7a2e9d305
Revises: e5f2b8d0c413
Create Date: 2026-12-06 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "f1c7a2e9d305"
down_revision: str | None = "e5f2b8d0c413"
branch_labels: str | Sequence[str] | None = ("laboratory_critical",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("critical_alert") as batch:
        batch.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("clinician_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_critical_alert_department", "department", ["department_id"], ["id"])
        batch.create_foreign_key("fk_critical_alert_clinician", "app_user", ["clinician_id"], ["id"])
        batch.create_index(batch.f("ix_critical_alert_department_id"), ["department_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("critical_alert") as batch:
        batch.drop_index(batch.f("ix_critical_alert_department_id"))
        batch.drop_constraint("fk_critical_alert_clinician", type_="foreignkey")
        batch.drop_constraint("fk_critical_alert_department", type_="foreignkey")
        batch.drop_column("clinician_id")
        batch.drop_column("department_id")
