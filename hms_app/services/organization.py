"""Departments: the one read every screen's department filter uses.

Not patient data, so it asks for no permission of its own; each caller has already
checked the permission of the screen that offers the filter.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from hms_app.models.organization import Department


def active_departments(session: Session) -> list[tuple[int, str]]:
    """Active departments as (id, name), by name."""
    rows = session.execute(
        select(Department.id, Department.name).where(Department.active.is_(True)).order_by(Department.name)
    ).all()
    return [(int(i), name) for i, name in rows]
