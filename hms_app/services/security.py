"""Sign-in, sessions, MFA, user accounts and the role-permission matrix."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import qrcode
import qrcode.image.svg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, DomainError, Forbidden, NotFound, NotSignedIn, ValidationError
from hms_app.models.security import AppUser, Role, RolePermission, UserRole, UserSession
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
from hms_app.settings import get_settings

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that a wrong username costs the
# same time as a wrong password and usernames cannot be discovered by timing.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,59}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COMMON_PASSWORDS = frozenset(
    {
        "password123",
        "password1234",
        "qwerty123456",
        "123456789012",
        "letmein12345",
        "welcome12345",
        "hospital1234",
        "changeme1234",
        "administrator1",
    }
)
MIN_PASSWORD_LENGTH = 10
PENDING_MINUTES = 5
MFA_ISSUER = "HMS"


# --------------------------------------------------------------------------- passwords


def check_password_policy(password: str, *, username: str = "") -> None:
    """Raise a plain-language ValidationError unless ``password`` is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.", field="password"
        )
    if len(password) > 256:
        raise ValidationError("The password must be at most 256 characters long.", field="password")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise ValidationError("The password must contain both letters and digits.", field="password")
    if username and username.lower() in password.lower():
        raise ValidationError("The password must not contain the username.", field="password")
    if password.lower() in COMMON_PASSWORDS:
        raise ValidationError("That password is too common; choose another.", field="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class SignInResult:
    """``stage`` is "active" (signed in), "mfa" (ask for a code) or "enrol" (set up MFA first)."""

    stage: str
    token: str
    display_name: str = ""
    home: str = "/"


def _roles_of(session: Session, user_id: int) -> list[Role]:
    return list(
        session.execute(
            select(Role).join(UserRole, UserRole.role_id == Role.id).where(UserRole.user_id == user_id)
        )
        .scalars()
        .all()
    )


def _permissions_of(session: Session, role_ids: list[int]) -> frozenset[str]:
    if not role_ids:
        return frozenset()
    rows = session.execute(
        select(RolePermission.permission).where(RolePermission.role_id.in_(role_ids))
    ).scalars()
    return frozenset(rows)


def home_for(roles: frozenset[str] | set[str]) -> str:
    return "/portal" if roles and set(roles) <= PORTAL_ROLES else "/"


def _new_session(session: Session, user: AppUser, stage: str, client_ip: str | None) -> str:
    settings = get_settings()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = (
        timedelta(hours=settings.session_hours) if stage == "active" else timedelta(minutes=PENDING_MINUTES)
    )
    session.add(
        UserSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            stage=stage,
            client_ip=(client_ip or "")[:64] or None,
        )
    )
    return token


def _register_failure(session: Session, user: AppUser, action: str, reason: str) -> None:
    settings = get_settings()
    user.failed_attempts += 1
    detail = reason
    if user.failed_attempts >= settings.lockout_attempts:
        user.locked_until = utcnow() + timedelta(minutes=settings.lockout_minutes)
        user.failed_attempts = 0
        detail = f"{reason}; account locked for {settings.lockout_minutes} minutes"
    session.add(user)
    record_audit(
        session,
        None,
        action,
        target_type="user",
        target_id=user.id,
        outcome="failure",
        detail=detail,
        username=user.username,
    )
    session.commit()


def _lock_message(user: AppUser) -> str | None:
    if user.locked_until and user.locked_until > utcnow():
        minutes = max(1, int((user.locked_until - utcnow()).total_seconds() // 60) + 1)
        return f"This account is locked after too many failed sign-ins. Try again in {minutes} minutes or ask an administrator."
    return None


def sign_in(session: Session, *, username: str, password: str, client_ip: str | None = None) -> SignInResult:
    """Check a username and password; start a session or the second-factor step."""
    username = (username or "").strip().lower()
    if not username or not password:
        raise ValidationError("Enter your username and password.")
    user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()
    if user is None:
        _verify_password(_DUMMY_HASH, password)
        record_audit(
            session,
            None,
            "auth.sign_in",
            outcome="failure",
            detail="unknown username",
            username=username[:60],
        )
        session.commit()
        raise DomainError("Wrong username or password.")
    locked = _lock_message(user)
    if locked:
        record_audit(
            session,
            None,
            "auth.sign_in",
            target_type="user",
            target_id=user.id,
            outcome="failure",
            detail="account locked",
            username=user.username,
        )
        session.commit()
        raise DomainError(locked)
    if not _verify_password(user.password_hash, password):
        _register_failure(session, user, "auth.sign_in", "wrong password")
        locked = _lock_message(user)
        raise DomainError(locked or "Wrong username or password.")
    if not user.is_active:
        record_audit(
            session,
            None,
            "auth.sign_in",
            target_type="user",
            target_id=user.id,
            outcome="failure",
            detail="account disabled",
            username=user.username,
        )
        session.commit()
        raise DomainError("This account is disabled. Ask an administrator.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    roles = _roles_of(session, user.id)
    role_names = frozenset(r.name for r in roles)
    if user.mfa_enabled:
        stage = "mfa"
    elif any(r.mfa_required for r in roles):
        stage = "enrol"
    else:
        stage = "active"
    user.failed_attempts = 0
    if stage == "active":
        user.last_sign_in_at = utcnow()
    session.add(user)
    token = _new_session(session, user, stage, client_ip)
    record_audit(
        session,
        None,
        "auth.sign_in" if stage == "active" else "auth.password_ok",
        target_type="user",
        target_id=user.id,
        username=user.username,
        detail=None if stage == "active" else f"second factor needed ({stage})",
    )
    session.commit()
    return SignInResult(stage=stage, token=token, display_name=user.display_name, home=home_for(role_names))


def _pending(session: Session, token: str, stage: str) -> tuple[UserSession, AppUser]:
    row = session.execute(
        select(UserSession).where(UserSession.token_hash == _token_hash(token or "")).with_for_update()
    ).scalar_one_or_none()
    if row is None or row.stage != stage or row.revoked_at or row.expires_at <= utcnow():
        raise DomainError("That sign-in step has expired. Please sign in again.")
    user = session.get(AppUser, row.user_id)
    if user is None or not user.is_active:
        raise DomainError("This account is disabled. Ask an administrator.")
    return row, user


def _check_totp(session: Session, user: AppUser, code: str) -> bool:
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        raise ValidationError("Enter the 6-digit code from your authenticator app.", field="code")
    totp = pyotp.TOTP(user.mfa_secret or "")
    now = utcnow().timestamp()
    current = int(now // totp.interval)
    for step in (current - 1, current, current + 1):  # one step of clock drift either way
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            if user.mfa_last_step is not None and step <= user.mfa_last_step:
                return False  # a code already used may not be used again
            user.mfa_last_step = step
            return True
    return False


def complete_mfa(session: Session, *, token: str, code: str) -> SignInResult:
    """Second factor: a valid TOTP code turns the pending session into an active one."""
    row, user = _pending(session, token, "mfa")
    locked = _lock_message(user)
    if locked:
        raise DomainError(locked)
    if not _check_totp(session, user, code):
        _register_failure(session, user, "auth.mfa", "wrong or reused code")
        raise DomainError(_lock_message(user) or "That code is not valid. Try the current code.")
    return _activate(session, row, user, "auth.sign_in")


def _activate(session: Session, row: UserSession, user: AppUser, action: str) -> SignInResult:
    settings = get_settings()
    now = utcnow()
    row.stage, row.last_seen_at, row.expires_at = "active", now, now + timedelta(hours=settings.session_hours)
    user.failed_attempts, user.last_sign_in_at = 0, now
    session.add_all([row, user])
    record_audit(
        session,
        None,
        action,
        target_type="user",
        target_id=user.id,
        username=user.username,
        detail="with second factor",
    )
    session.commit()
    roles = frozenset(r.name for r in _roles_of(session, user.id))
    return SignInResult(stage="active", token="", display_name=user.display_name, home=home_for(roles))


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg_data_url: str


def _enrolment_for(user: AppUser) -> Enrolment:
    uri = pyotp.TOTP(user.mfa_secret).provisioning_uri(name=user.username, issuer_name=MFA_ISSUER)
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    buffer = io.BytesIO()
    image.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode()
    return Enrolment(secret=user.mfa_secret, uri=uri, qr_svg_data_url=f"data:image/svg+xml;base64,{data}")


def _start_enrolment(session: Session, user: AppUser) -> Enrolment:
    if not user.mfa_secret or not user.mfa_enabled:
        user.mfa_secret = pyotp.random_base32()
        user.mfa_last_step = None
        session.add(user)
        session.commit()
    return _enrolment_for(user)


def begin_pending_enrolment(session: Session, *, token: str) -> Enrolment:
    """For a sign-in that must enrol in MFA first: a fresh secret and its QR code."""
    _row, user = _pending(session, token, "enrol")
    return _start_enrolment(session, user)


def finish_pending_enrolment(session: Session, *, token: str, code: str) -> SignInResult:
    """Confirm the authenticator with one code; the pending sign-in becomes active."""
    row, user = _pending(session, token, "enrol")
    if not user.mfa_secret or not _check_totp(session, user, code):
        _register_failure(session, user, "auth.mfa_enrol", "wrong code while enrolling")
        raise DomainError(
            _lock_message(user)
            or "That code is not valid. Scan the QR code again and enter the current code."
        )
    user.mfa_enabled = True
    record_audit(
        session, None, "auth.mfa_enrol", target_type="user", target_id=user.id, username=user.username
    )
    return _activate(session, row, user, "auth.sign_in")


def begin_mfa_enrolment(session: Session, *, actor: Actor) -> Enrolment:
    """A signed-in user sets up (or replaces) their authenticator."""
    if actor is None:
        raise NotSignedIn("Please sign in to continue.")
    user = _require_user(session, actor.user_id)
    if user.mfa_enabled:
        raise Conflict(
            "Two-factor sign-in is already on. Ask an administrator to reset it to enrol a new device."
        )
    return _start_enrolment(session, user)


def confirm_mfa_enrolment(session: Session, *, actor: Actor, code: str) -> None:
    if actor is None:
        raise NotSignedIn("Please sign in to continue.")
    user = _require_user(session, actor.user_id)
    if user.mfa_enabled:
        raise Conflict("Two-factor sign-in is already on.")
    if not user.mfa_secret:
        raise DomainError("Start the enrolment first.")
    if not _check_totp(session, user, code):
        session.rollback()
        raise DomainError("That code is not valid. Enter the current code from your app.")
    user.mfa_enabled = True
    session.add(user)
    record_audit(session, actor, "auth.mfa_enrol", target_type="user", target_id=user.id)
    session.commit()


TOUCH_SECONDS = 60  # how stale last_seen_at may get before an active session records its use


def resolve_session(
    session: Session, *, token: str, screen: str | None = None, touch: bool = True
) -> Actor | None:
    """The actor behind a browser's session token, or None if it is not a live session.

    ``touch=False`` only reads (the screens' frequent re-checks run on a read-only session and
    call ``touch_session`` once a minute instead, so they never queue for the write lock).
    """
    if not token:
        return None
    row = session.execute(
        select(UserSession).where(UserSession.token_hash == _token_hash(token))
    ).scalar_one_or_none()
    now = utcnow()
    settings = get_settings()
    if (
        row is None
        or row.stage != "active"
        or row.revoked_at is not None
        or row.expires_at <= now
        or row.last_seen_at + timedelta(minutes=settings.session_idle_minutes) <= now
    ):
        return None
    user = session.get(AppUser, row.user_id)
    if user is None or not user.is_active:
        return None
    if touch and (now - row.last_seen_at).total_seconds() > TOUCH_SECONDS:
        # Throttled so that a busy screen does not write on every click.
        session.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
        session.commit()
    roles = _roles_of(session, user.id)
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=frozenset(r.name for r in roles),
        permissions=_permissions_of(session, [r.id for r in roles]),
        patient_id=user.patient_id,
        session_id=row.id,
        screen=screen,
    )


def touch_session(session: Session, *, token: str) -> None:
    """Record that the session behind ``token`` is in use (it keeps it from idling out)."""
    now = utcnow()
    session.execute(
        update(UserSession)
        .where(
            UserSession.token_hash == _token_hash(token or ""),
            UserSession.revoked_at.is_(None),
            UserSession.last_seen_at < now - timedelta(seconds=TOUCH_SECONDS),
        )
        .values(last_seen_at=now)
    )
    session.commit()


def sign_out(session: Session, *, token: str) -> None:
    """Revoke the session behind ``token`` (a no-op for an unknown token)."""
    row = session.execute(
        select(UserSession).where(UserSession.token_hash == _token_hash(token or ""))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return
    row.revoked_at = utcnow()
    user = session.get(AppUser, row.user_id)
    session.add(row)
    record_audit(
        session,
        None,
        "auth.sign_out",
        target_type="user",
        target_id=row.user_id,
        username=user.username if user else "unknown",
    )
    session.commit()


def revoke_sessions(session: Session, user_id: int) -> int:
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0


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


def _require_user(session: Session, user_id: int) -> AppUser:
    user = session.get(AppUser, user_id)
    if user is None:
        raise NotFound("That user does not exist.")
    return user


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
    if not USERNAME_RE.fullmatch(username):
        raise ValidationError(
            "The username must be 3 to 60 characters: lowercase letters, digits, dots, dashes or underscores.",
            field="username",
        )
    if not display_name or len(display_name) > 120:
        raise ValidationError("Enter the person's full name (up to 120 characters).", field="display_name")
    if email and (len(email) > 200 or not EMAIL_RE.fullmatch(email)):
        raise ValidationError("That email address does not look right.", field="email")
    roles = _validate_roles(roles)
    if set(roles) & PORTAL_ROLES and patient_id is None:
        raise ValidationError("A patient account must be linked to a patient record.", field="roles")
    check_password_policy(password, username=username)
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
    user = _require_user(session, user_id)
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
    user = _require_user(session, user_id)
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
    user = _require_user(session, user_id)
    check_password_policy(new_password, username=user.username)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    user.failed_attempts, user.locked_until = 0, None
    session.add(user)
    revoke_sessions(session, user.id)
    record_audit(session, actor, "user.reset_password", target_type="user", target_id=user.id)
    session.commit()


def unlock_user(session: Session, *, actor: Actor, user_id: int) -> None:
    authorize(actor, "user.manage")
    user = _require_user(session, user_id)
    user.failed_attempts, user.locked_until = 0, None
    session.add(user)
    record_audit(session, actor, "user.unlock", target_type="user", target_id=user.id)
    session.commit()


def reset_mfa(session: Session, *, actor: Actor, user_id: int) -> None:
    """Turn a user's second factor off (a lost phone); they enrol again at next sign-in if required."""
    authorize(actor, "user.manage")
    user = _require_user(session, user_id)
    user.mfa_enabled, user.mfa_secret, user.mfa_last_step = False, None, None
    session.add(user)
    revoke_sessions(session, user.id)
    record_audit(session, actor, "user.reset_mfa", target_type="user", target_id=user.id)
    session.commit()


def change_own_password(session: Session, *, actor: Actor, current_password: str, new_password: str) -> None:
    if actor is None:
        raise NotSignedIn("Please sign in to continue.")
    user = _require_user(session, actor.user_id)
    if not _verify_password(user.password_hash, current_password or ""):
        raise ValidationError("The current password is not right.", field="current_password")
    check_password_policy(new_password, username=user.username)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    session.add(user)
    record_audit(session, actor, "user.change_password", target_type="user", target_id=user.id)
    session.commit()


@dataclass(frozen=True)
class OwnAccount:
    username: str
    display_name: str
    roles: tuple[str, ...]
    mfa_enabled: bool
    mfa_required: bool  # one of the user's roles makes two-factor sign-in mandatory
    password_changed_at: datetime


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
    )
