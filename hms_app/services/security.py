"""Sign-in, sessions, passwords and the second factor. Accounts and roles: ``services/accounts.py``."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import qrcode
import qrcode.image.svg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import and_, case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, DomainError, NotFound, ValidationError
from hms_app.models.security import AppUser, Role, RolePermission, SignInThrottle, UserRole, UserSession
from hms_app.secret_box import open_secret, seal_secret
from hms_app.services.audit import record_audit
from hms_app.services.permissions import (
    PORTAL_ROLES,
    Actor,
    require_actor,
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
# The accounts FHIR clients act as (services/fhir_clients) are named with this prefix, which no
# username typed on the users screen can have (USERNAME_RE has no colon). They never sign in.
SERVICE_ACCOUNT_PREFIX = "fhir:"
# Stored as their password hash: not an argon2 hash, so no password can ever verify against it.
NO_PASSWORD = "!no-password: a FHIR client's account signs in with its keys only"
PENDING_MINUTES = 5
# Wrong codes one pending sign-in may take before it dies (the account's own counter still locks it
# at HMS_LOCKOUT_ATTEMPTS across sign-ins): a new sign-in needs the password again.
MFA_CODES_PER_SIGN_IN = 4
MFA_ISSUER = "HMS"
# Where an account that must choose a new password is sent, and the only screen it may use.
CHANGE_PASSWORD_HOME = "/account"


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


def is_service_account(username: str) -> bool:
    return username.startswith(SERVICE_ACCOUNT_PREFIX)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _require_user(session: Session, user_id: int) -> AppUser:
    user = session.get(AppUser, user_id)
    if user is None:
        raise NotFound("That user does not exist.")
    return user


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


_COUNTERS = ("failed_attempts", "mfa_failed_attempts")


def _register_failure(
    session: Session, user: AppUser, action: str, reason: str, *, counter: str = "failed_attempts"
) -> str | None:
    """Count one failure of ``user`` in ``counter`` and commit it; the lock message if the account
    is locked now (by this failure or by one that raced it), else None.

    The count is incremented in SQL, so parallel wrong attempts on PostgreSQL (each waiting for the
    row's lock) never lose one: exactly the ``lockout_attempts``-th failure locks, and those after it
    get the locked answer. A lock that has run out starts both counts afresh.
    """
    settings = get_settings()
    now = utcnow()
    table = AppUser.__table__
    lapsed = and_(table.c.locked_until.is_not(None), table.c.locked_until <= now)
    values = {}
    for name in _COUNTERS:
        step = 1 if name == counter else 0
        values[name] = case((lapsed, step), else_=table.c[name] + step)
    values["locked_until"] = case((lapsed, None), else_=table.c.locked_until)
    count, locked_until = session.execute(
        table.update()
        .where(table.c.id == user.id)
        .values(values)
        .returning(table.c[counter], table.c.locked_until)
    ).one()
    detail = reason
    if locked_until is not None and locked_until > now:
        detail = f"{reason}; account already locked"
    elif count >= settings.lockout_attempts:
        locked_until = now + timedelta(minutes=settings.lockout_minutes)
        session.execute(table.update().where(table.c.id == user.id).values(locked_until=locked_until))
        detail = f"{reason}; account locked for {settings.lockout_minutes} minutes"
    else:
        locked_until = None
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
    session.expire(user)  # the counts and the lock were written in SQL
    return _lock_text(locked_until)


def _lock_text(locked_until) -> str | None:
    if locked_until and locked_until > utcnow():
        minutes = max(1, int((locked_until - utcnow()).total_seconds() // 60) + 1)
        return f"This account is locked after too many failed sign-ins. Try again in {minutes} minutes or ask an administrator."
    return None


def _lock_message(user: AppUser) -> str | None:
    return _lock_text(user.locked_until)


# --------------------------------------------------------------------------- answers that reveal nothing
# A wrong password is the one answer for every failure that is not the caller's to know about: an
# unknown username counts and locks exactly like a real one (a throttle row keyed on the name), and
# a disabled account answers a right password exactly as a wrong one (and counts it).

WRONG_CREDENTIALS = "Wrong username or password."
THROTTLE_KEEP = timedelta(days=1)  # rows of unknown names untouched this long are forgotten


def _refuse_unknown_username(session: Session, username: str, password: str) -> str:
    """Count a failed sign-in to a username with no account; the answer a real account would give."""
    settings = get_settings()
    now = utcnow()
    row = session.execute(
        select(SignInThrottle.locked_until).where(SignInThrottle.username == username)
    ).first()
    if row is not None and row.locked_until and row.locked_until > now:
        detail, message = "unknown username; locked", _lock_message(row)
    else:
        _verify_password(_DUMMY_HASH, password)  # costs what a real account's check costs
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        session.execute(
            insert(SignInThrottle)
            .values(username=username, failed_attempts=0, updated_at=now)
            .on_conflict_do_nothing(index_elements=["username"])
        )
        failed = session.execute(
            update(SignInThrottle)
            .where(SignInThrottle.username == username)
            .values(failed_attempts=SignInThrottle.failed_attempts + 1, updated_at=now)
            .returning(SignInThrottle.failed_attempts)
        ).scalar_one()
        detail, message = "unknown username", WRONG_CREDENTIALS
        if failed >= settings.lockout_attempts:
            locked_until = now + timedelta(minutes=settings.lockout_minutes)
            session.execute(
                update(SignInThrottle)
                .where(SignInThrottle.username == username)
                .values(failed_attempts=0, locked_until=locked_until)
            )
            detail = f"unknown username; locked for {settings.lockout_minutes} minutes"
            message = _lock_message(SignInThrottle(username=username, locked_until=locked_until)) or message
        session.execute(delete(SignInThrottle).where(SignInThrottle.updated_at < now - THROTTLE_KEEP))
    record_audit(session, None, "auth.sign_in", outcome="failure", detail=detail, username=username)
    session.commit()
    return message


def _refuse_disabled(session: Session, user: AppUser) -> str:
    """A disabled account's right password: counted and answered as a wrong one."""
    _register_failure(session, user, "auth.sign_in", "account disabled")
    return _lock_message(user) or WRONG_CREDENTIALS


def sign_in(session: Session, *, username: str, password: str, client_ip: str | None = None) -> SignInResult:
    """Check a username and password; start a session or the second-factor step."""
    username = (username or "").strip().lower()
    if not username or not password:
        raise ValidationError("Enter your username and password.")
    user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one_or_none()
    if user is None:
        raise DomainError(_refuse_unknown_username(session, username[:60], password))
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
        locked = _register_failure(session, user, "auth.sign_in", "wrong password")
        raise DomainError(locked or "Wrong username or password.")
    if not user.is_active or is_service_account(user.username):
        raise DomainError(_refuse_disabled(session, user))
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
    # Only the password count: wrong second-factor codes stay counted until a right code.
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
    home = CHANGE_PASSWORD_HOME if user.must_change_password else home_for(role_names)
    return SignInResult(stage=stage, token=token, display_name=user.display_name, home=home)


def _pending(session: Session, token: str, stage: str) -> tuple[UserSession, AppUser]:
    row = session.execute(
        select(UserSession)
        .where(UserSession.token_hash == _token_hash(token or ""))
        .with_for_update()
        .execution_options(populate_existing=True)  # the row as the lock found it, not as last read
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
    totp = pyotp.TOTP(open_secret(user.mfa_secret) if user.mfa_secret else "")
    now = utcnow().timestamp()
    current = int(now // totp.interval)
    for step in (current - 1, current, current + 1):  # one step of clock drift either way
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            if user.mfa_last_step is not None and step <= user.mfa_last_step:
                return False  # a code already used may not be used again
            user.mfa_last_step = step
            return True
    return False


def _wrong_code(session: Session, row: UserSession, user: AppUser, action: str, reason: str, answer: str):
    """Count a wrong code for the account and for this pending sign-in, then refuse it. The
    pending sign-in dies at its MFA_CODES_PER_SIGN_IN-th wrong code."""
    table = UserSession.__table__
    wrong = session.execute(
        table.update()
        .where(table.c.id == row.id)
        .values(failed_codes=table.c.failed_codes + 1)
        .returning(table.c.failed_codes)
    ).scalar_one()
    if wrong >= MFA_CODES_PER_SIGN_IN:
        session.execute(table.update().where(table.c.id == row.id).values(revoked_at=utcnow()))
        reason = f"{reason}; sign-in ended after {wrong} wrong codes"
    locked = _register_failure(session, user, action, reason, counter="mfa_failed_attempts")
    session.expire(row)  # its count (and its end) were written in SQL
    if locked:
        raise DomainError(locked)
    if wrong >= MFA_CODES_PER_SIGN_IN:
        raise DomainError("Too many wrong codes for this sign-in. Please sign in again.")
    raise DomainError(answer)


def complete_mfa(session: Session, *, token: str, code: str) -> SignInResult:
    """Second factor: a valid TOTP code turns the pending session into an active one."""
    row, user = _pending(session, token, "mfa")
    locked = _lock_message(user)
    if locked:
        raise DomainError(locked)
    if not _check_totp(session, user, code):
        _wrong_code(
            session,
            row,
            user,
            "auth.mfa",
            "wrong or reused code",
            "That code is not valid. Try the current code.",
        )
    return _activate(session, row, user, "auth.sign_in")


def _activate(session: Session, row: UserSession, user: AppUser, action: str) -> SignInResult:
    settings = get_settings()
    now = utcnow()
    row.stage, row.last_seen_at, row.expires_at = "active", now, now + timedelta(hours=settings.session_hours)
    # A right code: the only thing that clears the count of wrong codes.
    user.failed_attempts, user.mfa_failed_attempts, user.last_sign_in_at = 0, 0, now
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
    home = CHANGE_PASSWORD_HOME if user.must_change_password else home_for(roles)
    return SignInResult(stage="active", token="", display_name=user.display_name, home=home)


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg_data_url: str


def _enrolment_for(user: AppUser) -> Enrolment:
    secret = open_secret(user.mfa_secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=MFA_ISSUER)
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    buffer = io.BytesIO()
    image.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode()
    return Enrolment(secret=secret, uri=uri, qr_svg_data_url=f"data:image/svg+xml;base64,{data}")


def _start_enrolment(session: Session, user: AppUser) -> Enrolment:
    if not user.mfa_secret or not user.mfa_enabled:
        user.mfa_secret = seal_secret(pyotp.random_base32())  # only ciphertext is stored
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
    locked = _lock_message(user)
    if locked:
        raise DomainError(locked)
    if not user.mfa_secret or not _check_totp(session, user, code):
        _wrong_code(
            session,
            row,
            user,
            "auth.mfa_enrol",
            "wrong code while enrolling",
            "That code is not valid. Scan the QR code again and enter the current code.",
        )
    user.mfa_enabled = True
    record_audit(
        session, None, "auth.mfa_enrol", target_type="user", target_id=user.id, username=user.username
    )
    return _activate(session, row, user, "auth.sign_in")


def begin_mfa_enrolment(session: Session, *, actor: Actor) -> Enrolment:
    """A signed-in user sets up (or replaces) their authenticator."""
    require_actor(actor)
    user = _require_user(session, actor.user_id)
    if user.mfa_enabled:
        raise Conflict(
            "Two-factor sign-in is already on. Ask an administrator to reset it to enrol a new device."
        )
    return _start_enrolment(session, user)


def confirm_mfa_enrolment(session: Session, *, actor: Actor, code: str) -> None:
    require_actor(actor)
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
    # An account that must choose a new password holds no permission until it has: every service
    # (``authorize``), API route and screen refuses it, whatever a browser asks for.
    permissions = (
        frozenset() if user.must_change_password else _permissions_of(session, [r.id for r in roles])
    )
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=frozenset(r.name for r in roles),
        permissions=permissions,
        patient_id=user.patient_id,
        session_id=row.id,
        screen=screen,
        must_change_password=user.must_change_password,
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


def revoke_sessions(session: Session, user_id: int, *, keep: int | None = None) -> int:
    """End every live session of ``user_id`` (but the one with id ``keep``); how many ended."""
    conditions = [UserSession.user_id == user_id, UserSession.revoked_at.is_(None)]
    if keep is not None:
        conditions.append(UserSession.id != keep)
    result = session.execute(update(UserSession).where(*conditions).values(revoked_at=utcnow()))
    return result.rowcount or 0
