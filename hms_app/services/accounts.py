"""User accounts and the role-permission matrix: what administrators manage, and one's own account.

Sign-in, sessions, passwords and the second factor live in ``services/security.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import (
    Conflict,
    DomainError,
    FieldErrors,
    Forbidden,
    NotFound,
    NotSignedIn,
    ValidationError,
)
from hms_app.models.security import AppUser, Role, RolePermission, UserRole
from hms_app.services.audit import record_audit
from hms_app.services.permissions import (
    DEFAULT_GRANTS,
    LOCKED_GRANTS,
    PERMISSIONS,
    PORTAL_ROLES,
    ROLES,
    Actor,
    authorize,
)
from hms_app.services.security import (
    EMAIL_RE,
    USERNAME_RE,
    _lock_message,
    _register_failure,
    _require_user,
    _roles_of,
    _verify_password,
    check_password_policy,
    hash_password,
    is_service_account,
    revoke_sessions,
)

# --------------------------------------------------------------------------- roles


def ensure_roles(session: Session) -> None:
    """Create the built-in roles with their default grants (idempotent; keeps edits)."""
    existing = {r.name: r for r in session.execute(select(Role)).scalars()}
    for name, label in ROLES.items():
        if name in existing:
            continue
        role = Role(name=name, label=label)
        session.add(role)
        session.flush()
        for permission in sorted(DEFAULT_GRANTS.get(name, ())):
            session.add(RolePermission(role_id=role.id, permission=permission))
    session.commit()


def _role(session: Session, name: str) -> Role:
    role = session.execute(select(Role).where(Role.name == name)).scalar_one_or_none()
    if role is None:
        raise NotFound(f"There is no role called {name!r}.")
    return role


@dataclass(frozen=True)
class RoleRow:
    name: str
    label: str
    mfa_required: bool
    permissions: frozenset[str]


def role_matrix(session: Session, *, actor: Actor) -> list[RoleRow]:
    """Every role with its permissions and MFA policy."""
    authorize(actor, "role.manage")
    roles = session.execute(select(Role).order_by(Role.id)).scalars().all()
    grants: dict[int, set[str]] = {}
    for role_id, permission in session.execute(select(RolePermission.role_id, RolePermission.permission)):
        grants.setdefault(role_id, set()).add(permission)
    return [RoleRow(r.name, r.label, r.mfa_required, frozenset(grants.get(r.id, ()))) for r in roles]


def set_role_permission(session: Session, *, actor: Actor, role: str, permission: str, granted: bool) -> None:
    """Grant or withdraw one permission from one role."""
    authorize(actor, "role.manage")
    if permission not in PERMISSIONS:
        raise ValidationError(f"There is no permission called {permission!r}.")
    target = _role(session, role)
    if not granted and permission in LOCKED_GRANTS.get(role, ()):
        raise Forbidden(
            f"The {target.label} role always keeps {permission!r}, or nobody could manage access."
        )
    if role in PORTAL_ROLES and granted and permission != "portal.self":
        raise Forbidden(
            "Patients may only be granted portal access; staff permissions would expose other patients."
        )
    current = session.execute(
        select(RolePermission).where(
            RolePermission.role_id == target.id, RolePermission.permission == permission
        )
    ).scalar_one_or_none()
    if granted and current is None:
        session.add(RolePermission(role_id=target.id, permission=permission))
    elif not granted and current is not None:
        session.delete(current)
    else:
        return
    record_audit(
        session,
        actor,
        "role.grant" if granted else "role.revoke",
        target_type="role",
        target_id=role,
        detail=permission,
    )
    session.commit()


def set_role_mfa_required(session: Session, *, actor: Actor, role: str, required: bool) -> None:
    """Make two-factor sign-in mandatory (or optional) for everyone holding ``role``."""
    authorize(actor, "role.manage")
    target = _role(session, role)
    if target.mfa_required == required:
        return
    target.mfa_required = required
    session.add(target)
    record_audit(
        session,
        actor,
        "role.mfa_policy",
        target_type="role",
        target_id=role,
        detail="MFA required" if required else "MFA optional",
    )
    session.commit()


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    display_name: str
    email: str
    roles: tuple[str, ...]
    is_active: bool
    locked: bool
    mfa_enabled: bool
    last_sign_in_at: datetime | None


def list_users(
    session: Session, *, actor: Actor, query: str = "", role: str = "", page: int = 1, page_size: int = 25
) -> tuple[list[UserRow], int]:
    """One page of user accounts matching ``query`` (username or name) and ``role``."""
    authorize(actor, "user.manage")
    page, page_size = max(page, 1), min(max(page_size, 1), 100)
    conditions = []
    if query.strip():
        pattern = f"%{query.strip().lower()}%"
        conditions.append(
            or_(func.lower(AppUser.username).like(pattern), func.lower(AppUser.display_name).like(pattern))
        )
    if role:
        conditions.append(
            AppUser.id.in_(
                select(UserRole.user_id).join(Role, Role.id == UserRole.role_id).where(Role.name == role)
            )
        )
    total = session.execute(select(func.count()).select_from(AppUser).where(*conditions)).scalar_one()
    users = (
        session.execute(
            select(AppUser)
            .where(*conditions)
            .order_by(AppUser.username)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        .scalars()
        .all()
    )
    role_names: dict[int, list[str]] = {}
    if users:
        for user_id, name in session.execute(
            select(UserRole.user_id, Role.name)
            .join(Role, Role.id == UserRole.role_id)
            .where(UserRole.user_id.in_([u.id for u in users]))
        ):
            role_names.setdefault(user_id, []).append(name)
    now = utcnow()
    rows = [
        UserRow(
            u.id,
            u.username,
            u.display_name,
            u.email or "",
            tuple(sorted(role_names.get(u.id, []))),
            u.is_active,
            bool(u.locked_until and u.locked_until > now),
            u.mfa_enabled,
            u.last_sign_in_at,
        )
        for u in users
    ]
    return rows, total


def _require_person(user: AppUser) -> AppUser:
    """A FHIR client's own account is managed with its client, never as a person's account: a
    password set on it here would let it sign in on the screens."""
    if is_service_account(user.username):
        raise Forbidden("This account belongs to a FHIR client: manage it on the FHIR clients screen.")
    return user


def _validate_roles(roles: list[str] | tuple[str, ...]) -> list[str]:
    roles = sorted(set(roles))
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValidationError(f"Unknown role: {', '.join(unknown)}.", field="roles")
    if not roles:
        raise ValidationError("Choose at least one role.", field="roles")
    if set(roles) & PORTAL_ROLES and set(roles) - PORTAL_ROLES:
        raise ValidationError("A patient account cannot also hold a staff role.", field="roles")
    return roles


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    display_name: str,
    password: str,
    roles: list[str] | tuple[str, ...],
    email: str | None = None,
    patient_id: int | None = None,
    department_id: int | None = None,
) -> AppUser:
    """Create a sign-in account with the given roles."""
    authorize(actor, "user.manage")
    username = (username or "").strip().lower()
    display_name = (display_name or "").strip()
    email = (email or "").strip() or None
    errors = FieldErrors()  # every field's message at once, so the administrator fixes them in one go
    if not USERNAME_RE.fullmatch(username):
        errors.add(
            "username",
            "The username must be 3 to 60 characters: lowercase letters, digits, dots, dashes or underscores.",
        )
    if not display_name or len(display_name) > 120:
        errors.add("display_name", "Enter the person's full name (up to 120 characters).")
    if email and (len(email) > 200 or not EMAIL_RE.fullmatch(email)):
        errors.add("email", "That email address does not look right.")
    roles = errors.check(_validate_roles, roles)
    if roles and set(roles) & PORTAL_ROLES and patient_id is None:
        errors.add("roles", "A patient account must be linked to a patient record.")
    errors.check(check_password_policy, password, username=username)
    errors.raise_any()
    if session.execute(select(AppUser.id).where(AppUser.username == username)).first():
        raise Conflict(f"The username {username!r} is taken.", field="username")
    user = AppUser(
        username=username,
        display_name=display_name,
        email=email,
        password_hash=hash_password(password),
        patient_id=patient_id,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    for name in roles:
        session.add(UserRole(user_id=user.id, role_id=_role(session, name).id))
    record_audit(
        session,
        actor,
        "user.create",
        target_type="user",
        target_id=user.id,
        detail=f"{username} roles={','.join(roles)}",
    )
    session.commit()
    return user


def set_user_roles(
    session: Session, *, actor: Actor, user_id: int, roles: list[str] | tuple[str, ...]
) -> None:
    """Replace a user's roles."""
    authorize(actor, "user.manage")
    user = _require_person(_require_user(session, user_id))
    roles = _validate_roles(roles)
    if user.id == actor.user_id and "admin" in actor.roles and "admin" not in roles:
        raise Forbidden("You cannot take the administrator role away from yourself.")
    if set(roles) & PORTAL_ROLES and user.patient_id is None:
        raise ValidationError(
            "Only an account linked to a patient record can hold the patient role.", field="roles"
        )
    if not set(roles) & PORTAL_ROLES and user.patient_id is not None:
        raise ValidationError("A patient's portal account cannot hold staff roles.", field="roles")
    session.execute(delete(UserRole).where(UserRole.user_id == user.id))
    for name in roles:
        session.add(UserRole(user_id=user.id, role_id=_role(session, name).id))
    record_audit(session, actor, "user.roles", target_type="user", target_id=user.id, detail=",".join(roles))
    session.commit()


def set_user_active(session: Session, *, actor: Actor, user_id: int, active: bool) -> None:
    """Enable or disable an account; disabling ends its sessions at once."""
    authorize(actor, "user.manage")
    user = _require_person(_require_user(session, user_id))
    if user.id == actor.user_id and not active:
        raise Forbidden("You cannot disable your own account.")
    user.is_active = active
    session.add(user)
    ended = 0 if active else revoke_sessions(session, user.id)
    record_audit(
        session,
        actor,
        "user.enable" if active else "user.disable",
        target_type="user",
        target_id=user.id,
        detail=None if active else f"{ended} sessions ended",
    )
    session.commit()


def reset_password(session: Session, *, actor: Actor, user_id: int, new_password: str) -> None:
    """Set a new password, unlock the account and end its sessions."""
    authorize(actor, "user.manage")
    user = _require_person(_require_user(session, user_id))
    check_password_policy(new_password, username=user.username)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.failed_attempts, user.mfa_failed_attempts, user.locked_until = 0, 0, None
    session.add(user)
    revoke_sessions(session, user.id)
    record_audit(session, actor, "user.reset_password", target_type="user", target_id=user.id)
    session.commit()


def unlock_user(session: Session, *, actor: Actor, user_id: int) -> None:
    authorize(actor, "user.manage")
    user = _require_user(session, user_id)
    user.failed_attempts, user.mfa_failed_attempts, user.locked_until = 0, 0, None
    session.add(user)
    record_audit(session, actor, "user.unlock", target_type="user", target_id=user.id)
    session.commit()


def reset_mfa(session: Session, *, actor: Actor, user_id: int) -> None:
    """Turn a user's second factor off (a lost phone); they enrol again at next sign-in if required."""
    authorize(actor, "user.manage")
    user = _require_user(session, user_id)
    user.mfa_enabled, user.mfa_secret, user.mfa_last_step = False, None, None
    user.mfa_failed_attempts = 0
    session.add(user)
    revoke_sessions(session, user.id)
    record_audit(session, actor, "user.reset_mfa", target_type="user", target_id=user.id)
    session.commit()


def change_own_password(session: Session, *, actor: Actor, current_password: str, new_password: str) -> None:
    """Change the signed-in user's password and end their other sessions (not this one).

    A wrong current password counts towards the lock-out like a wrong sign-in, so a borrowed
    session cannot be used to guess it; a locked account cannot change it at all.
    """
    if actor is None:
        raise NotSignedIn("Please sign in to continue.")
    user = _require_user(session, actor.user_id)
    locked = _lock_message(user)
    if locked:
        raise DomainError(locked)
    if not _verify_password(user.password_hash, current_password or ""):
        locked = _register_failure(session, user, "user.change_password", "wrong current password")
        if locked:
            raise DomainError(locked)
        raise ValidationError("The current password is not right.", field="current_password")
    check_password_policy(new_password, username=user.username)
    if _verify_password(user.password_hash, new_password):
        raise ValidationError("Choose a new password that differs from the current one.", field="password")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.failed_attempts, user.must_change_password = 0, False
    session.add(user)
    ended = revoke_sessions(session, user.id, keep=actor.session_id)
    record_audit(
        session,
        actor,
        "user.change_password",
        target_type="user",
        target_id=user.id,
        detail=f"{ended} other sessions ended" if ended else None,
    )
    session.commit()


@dataclass(frozen=True)
class OwnAccount:
    username: str
    display_name: str
    roles: tuple[str, ...]
    mfa_enabled: bool
    mfa_required: bool  # one of the user's roles makes two-factor sign-in mandatory
    password_changed_at: datetime
    must_change_password: bool = False


def get_own_account(session: Session, *, actor: Actor) -> OwnAccount:
    """The signed-in user's own account, as their account page shows it."""
    if actor is None:
        raise NotSignedIn("Please sign in to continue.")
    user = _require_user(session, actor.user_id)
    roles = _roles_of(session, user.id)
    return OwnAccount(
        username=user.username,
        display_name=user.display_name,
        roles=tuple(sorted(r.name for r in roles)),
        mfa_enabled=user.mfa_enabled,
        mfa_required=any(r.mfa_required for r in roles),
        password_changed_at=user.password_changed_at,
        must_change_password=user.must_change_password,
    )
