"""The one permission model: named permissions granted to roles, one check for all.

The catalogue and the default grants are gathered from the module registry
(``hms_app/modules.py``); the live grants live in the ``role_permission`` table, which
administrators edit on the role matrix page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hms_app import modules
from hms_app.errors import Forbidden, NotSignedIn, Withheld

# Each module declares its permissions, roles and default grants in the registry.
PERMISSIONS: dict[str, str] = modules.merged("permissions")
ROLES: dict[str, str] = modules.merged("roles")
DEFAULT_GRANTS: dict[str, frozenset[str]] = modules.default_grants()

# Permissions an administrator can never take away from the admin role: without them
# nobody could ever give anything back.
LOCKED_GRANTS: dict[str, frozenset[str]] = {"admin": frozenset({"user.manage", "role.manage"})}

# Roles given to people signing in to the portal; a staff role never mixes with them.
PORTAL_ROLES = frozenset({"patient"})


@dataclass(frozen=True)
class Actor:
    """Who is acting, built on the server from the signed-in session."""

    user_id: int
    username: str
    display_name: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    permissions: frozenset[str] = field(default_factory=frozenset)
    patient_id: int | None = None  # set for portal users: they may only touch this patient
    session_id: int | None = None
    screen: str | None = None  # where the action came from, for the audit trail
    # The account must choose a new password first (the demo administrator): it may do nothing else.
    must_change_password: bool = False

    def can(self, permission: str) -> bool:
        return permission in self.permissions


# Who acts when the operator runs the command line or the seeders: not a person who
# signs in, but every action is still written to the audit trail under this name.
SYSTEM_ACTOR = Actor(
    user_id=0,
    username="system",
    display_name="System (command line)",
    roles=frozenset({"system"}),
    permissions=frozenset(PERMISSIONS) - {"portal.self"},
)


PASSWORD_CHANGE_FIRST = "Choose a new password before anything else (Account, Change password)."


def require_actor(actor: Actor | None) -> Actor:
    """For services any signed-in user may call: refuse nobody, and an account that must choose a
    new password first (it may only change it)."""
    if actor is None:
        raise NotSignedIn("Please sign in to continue.")
    if actor.must_change_password:
        raise Forbidden(PASSWORD_CHANGE_FIRST)
    return actor


def authorize(actor: Actor | None, permission: str, *, patient_id: int | None = None) -> Actor:
    """Raise unless ``actor`` holds ``permission`` (and, for portal users, owns ``patient_id``)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    if actor is None:
        raise NotSignedIn("Please sign in to continue.")
    if actor.must_change_password:
        raise Forbidden(PASSWORD_CHANGE_FIRST)
    if permission not in actor.permissions:
        raise Forbidden(f"Your role does not allow this ({PERMISSIONS[permission].lower()}).")
    if actor.patient_id is not None and patient_id is not None and patient_id != actor.patient_id:
        raise Forbidden("You can only see your own record.")
    return actor


def authorize_owner(actor: Actor | None, permission: str, *, patient_id: int, missing: str) -> Actor:
    """``authorize`` for a row that was found by an id the caller sent: a portal user who does not own
    it is told ``missing``, word for word what they are told when no row has that id (``Withheld``),
    so that trying ids never tells which ones exist."""
    authorize(actor, permission)
    if actor.patient_id is not None and patient_id != actor.patient_id:
        raise Withheld(missing)
    return actor
