"""The demo's staff as acting users: what a seeder passes to a service as the person doing the work,
with the permissions of their roles, so that demo history goes through the same checks as staff."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from hms_app.models.security import AppUser, Role, UserRole
from hms_app.services.permissions import DEFAULT_GRANTS, Actor


def demo_actors(session: Session) -> dict[str, Actor]:
    """Every active staff user by username, with the default grants of their roles."""
    return {username: actor for username, (actor, _department) in staff_with_departments(session).items()}


def staff_with_departments(session: Session) -> dict[str, tuple[Actor, int | None]]:
    """Every active staff user by username: the actor and their department."""
    rows = session.execute(
        select(AppUser.id, AppUser.username, AppUser.display_name, AppUser.department_id, Role.name)
        .join(UserRole, UserRole.user_id == AppUser.id)
        .join(Role, Role.id == UserRole.role_id)
        .where(AppUser.is_active.is_(True), AppUser.patient_id.is_(None))
        .order_by(AppUser.username)
    ).all()
    found: dict[str, tuple[Actor, int | None]] = {}
    for user_id, username, display, department_id, role in rows:
        known = found.get(username)
        roles = (known[0].roles if known else frozenset()) | {role}
        permissions = frozenset().union(*(DEFAULT_GRANTS.get(r, frozenset()) for r in roles))
        found[username] = (
            Actor(user_id, username, display, roles=roles, permissions=permissions),
            department_id,
        )
    return found
