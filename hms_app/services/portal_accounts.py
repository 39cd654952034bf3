"""Self sign-up for the patient portal: a new account with a new patient record of its own.

Nobody is signed in when this runs, so there is no actor to authorize: everything the visitor
sends is validated here instead, attempts are limited per browser and per network address, and
every attempt is written to the audit trail as ``portal.signup``.

The rules (also in the README):

- A sign-up never opens an existing record. Knowing someone's name, date of birth and phone number
  is not proof of being them, and the portal shows the whole record; so every sign-up gets a new
  patient record. When the given and family names (compared without case, accents, spaces or
  punctuation), the date of birth AND the phone number or email address match exactly one live
  record without a portal account, the audit row of the sign-up names that record: registration
  staff check the patient's identity at the desk and merge the two records, and the merge moves
  the account onto the earlier record.
- Every visitor is told the same thing (``ACCOUNT_MESSAGE``): a sign-up form must not answer "is X
  a patient here?".
- Usernames and email addresses are unique among accounts; the password policy is the one of
  every account (``security.check_password_policy``).
- At most ``BROWSER_LIMIT`` attempts per browser in ``BROWSER_WINDOW`` and ``ADDRESS_LIMIT`` per
  network address in ``ADDRESS_WINDOW`` (counted in the audit trail, so every backend worker
  sees the same count).
- Everything is one transaction: the patient record, the account and its first session are
  all written, or none is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, DomainError, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services import accounts, security
from hms_app.services import patients as patient_service
from hms_app.services.audit import record_audit
from hms_app.services.patient_keys import fold, phone_digits
from hms_app.services.permissions import Actor

SIGNUP_ACTION = "portal.signup"
BROWSER_LIMIT, BROWSER_WINDOW = 5, timedelta(minutes=15)
ADDRESS_LIMIT, ADDRESS_WINDOW = 20, timedelta(hours=1)
MIN_AGE_YEARS = 16  # younger patients are registered with a guardian at the desk
ACCOUNT_MESSAGE = (
    "Your account is ready. If you have been our patient before, show an ID at your next visit and "
    "the front desk will connect your earlier records to it."
)
TOO_MANY = (
    "Too many sign-up attempts from this device or network. Please wait {minutes} minutes, "
    "or ask reception to create your account."
)
DUPLICATE_REASON = (
    "Self-registered in the patient portal; registration staff to check for a duplicate record."
)

# The portal itself registers patients and creates their accounts: it may do exactly that, and
# acts under its own name in the audit trail. It never reaches a state handler.
PORTAL_SIGNUP_ACTOR = Actor(
    user_id=0,
    username="portal.signup",
    display_name="Patient portal sign-up",
    roles=frozenset({"system"}),
    permissions=frozenset({"patient.read", "patient.write", "user.manage"}),
    screen="/portal/signup",
)


@dataclass(frozen=True)
class SignupResult:
    """``stage`` "active": ``token`` is a live session; otherwise the user signs in (second factor)."""

    stage: str
    token: str
    home: str
    message: str = ACCOUNT_MESSAGE


def _client_key(client_token: str | None) -> str:
    """The browser, as a short hash of its tab token: the audit trail never holds the token itself."""
    token = (client_token or "").strip()
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else "none"


def _client_detail(client_ip: str | None, browser: str) -> str:
    return f"ip={(client_ip or 'unknown')[:64]} browser={browser}"


def _attempts(session: Session, *, pattern: str, since) -> int:
    return session.execute(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == SIGNUP_ACTION,
            AuditEvent.occurred_at >= since,
            AuditEvent.outcome.in_(("success", "failure")),
            AuditEvent.detail.like(pattern),
        )
    ).scalar_one()


def _check_rate(session: Session, *, client_ip: str | None, browser: str) -> None:
    now = utcnow()
    limits = [(f"%browser={browser}%", BROWSER_LIMIT, BROWSER_WINDOW)] if browser != "none" else []
    if client_ip:
        limits.append((f"%ip={client_ip[:64]} %", ADDRESS_LIMIT, ADDRESS_WINDOW))
    for pattern, limit, window in limits:
        if _attempts(session, pattern=pattern, since=now - window) >= limit:
            record_audit(
                session,
                None,
                SIGNUP_ACTION,
                outcome="refused",
                detail=_client_detail(client_ip, browser) + " rate limit reached",
                username="portal.signup",
            )
            session.commit()
            raise DomainError(TOO_MANY.format(minutes=int(window.total_seconds() // 60)))


def _validate(form: dict, *, today: date) -> dict:
    """The sign-up form, cleaned; the first wrong field raises with its name."""

    def text(key: str, limit: int = 256) -> str:
        value = form.get(key)
        return "" if value is None else str(value)[:limit]

    if not str(form.get("email") or "").strip():
        raise ValidationError("Email is required.", field="email")
    if not str(form.get("phone") or "").strip():
        raise ValidationError("Phone is required.", field="phone")
    demographics = patient_service.validate_demographics(
        {key: text(key) for key in ("given_name", "family_name", "sex", "birth_date", "phone", "email")},
        today=today,
    )
    if patient_service.age_years(demographics["birth_date"], today) < MIN_AGE_YEARS:
        raise ValidationError(
            f"Portal accounts are for patients aged {MIN_AGE_YEARS} or over. "
            "A parent or guardian can register a child at reception.",
            field="birth_date",
        )
    username = text("username", 100).strip().lower()
    if not security.USERNAME_RE.fullmatch(username):
        raise ValidationError(
            "The username must be 3 to 60 characters: lowercase letters, digits, dots, dashes or underscores.",
            field="username",
        )
    password, confirm = text("password"), text("password_confirm")
    security.check_password_policy(password, username=username)
    if password != confirm:
        raise ValidationError("The two passwords are not the same.", field="password_confirm")
    if str(form.get("consent") or "").strip().lower() not in ("on", "true", "1", "yes"):
        raise ValidationError(
            "Please accept the terms of use and the privacy notice to create an account.", field="consent"
        )
    return {**demographics, "username": username, "password": password}


def _unique(session: Session, *, username: str, email: str) -> None:
    if session.execute(select(AppUser.id).where(AppUser.username == username)).first():
        raise Conflict("That username is taken. Choose another one.", field="username")
    if session.execute(select(AppUser.id).where(func.lower(AppUser.email) == email.lower())).first():
        raise Conflict(
            "An account with this email address already exists. Sign in, or ask reception to reset "
            "your password.",
            field="email",
        )


def matching_patient_id(session: Session, *, clean: dict) -> int | None:
    """The one live patient without an account whose names, birth date and phone or email match, else None.

    Used only to point registration staff at a likely earlier record, never to link to it."""
    contact = [func.lower(Patient.email) == clean["email"].lower()]
    digits = phone_digits(clean["phone"])
    if digits:
        contact.append(Patient.phone_digits == digits)
    linked = exists().where(AppUser.patient_id == Patient.id)
    rows = session.execute(
        select(Patient.id)
        .where(
            Patient.family_key == fold(clean["family_name"]),
            Patient.given_key == fold(clean["given_name"]),
            Patient.birth_date == clean["birth_date"],
            Patient.merged_into_id.is_(None),
            Patient.active.is_(True),
            Patient.deceased_at.is_(None),
            or_(*contact),
            ~linked,
        )
        .limit(2)
    ).all()
    if len(rows) != 1:
        return None
    patient_id = rows[0][0]
    # Two sign-ups racing for the same record: the second waits for this lock, then sees the
    # first one's account (a new statement reads what has been committed) and gets a new record.
    session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update()).one()
    if session.execute(select(AppUser.id).where(AppUser.patient_id == patient_id)).first():
        return None
    return patient_id


def sign_up(
    session: Session,
    *,
    form: dict,
    client_ip: str | None = None,
    client_token: str | None = None,
) -> SignupResult:
    """Create a patient's portal account (linked to their record or a new one) and sign them in."""
    browser = _client_key(client_token)
    where = _client_detail(client_ip, browser)
    _check_rate(session, client_ip=client_ip, browser=browser)
    clean = _validate(form, today=utcnow().date())
    try:
        _unique(session, username=clean["username"], email=clean["email"])
        return _create(session, clean=clean, client_ip=client_ip, where=where)
    except IntegrityError as error:
        # Only the username is unique in the database: someone took it a moment ago.
        session.rollback()
        raise Conflict("That username is taken. Choose another one.", field="username") from error
    except Conflict as error:
        session.rollback()
        record_audit(
            session,
            None,
            SIGNUP_ACTION,
            outcome="failure",
            detail=f"{where} {error.field or 'conflict'} taken",
            username="portal.signup",
        )
        session.commit()
        raise
    except BaseException:
        session.rollback()
        raise


def _create(session: Session, *, clean: dict, client_ip: str | None, where: str) -> SignupResult:
    # The services called below each commit; joined to this one connection through savepoints,
    # their commits only release a savepoint, so the record, the account and the session land
    # together when this transaction commits, or not at all.
    inner = Session(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        earlier = matching_patient_id(inner, clean=clean)
        demographics = {
            k: clean[k] for k in ("given_name", "family_name", "sex", "birth_date", "phone", "email")
        }
        patient = patient_service.register_patient(
            inner, actor=PORTAL_SIGNUP_ACTOR, data=demographics, duplicate_reason=DUPLICATE_REASON
        )
        patient_id = patient.id
        how = "new patient record"
        if earlier is not None:
            how += f"; likely the same person as patient {earlier}: check ID at the desk, then merge"
        user = accounts.create_user(
            inner,
            actor=PORTAL_SIGNUP_ACTOR,
            username=clean["username"],
            display_name=f"{clean['given_name']} {clean['family_name']}"[:120],
            password=clean["password"],
            roles=["patient"],
            email=clean["email"],
            patient_id=patient_id,
        )
        record_audit(
            inner,
            PORTAL_SIGNUP_ACTOR,
            SIGNUP_ACTION,
            patient_id=patient_id,
            target_type="user",
            target_id=user.id,
            detail=f"{where} {how}",
        )
        signed_in = security.sign_in(
            inner, username=clean["username"], password=clean["password"], client_ip=client_ip
        )
        inner.commit()
    finally:
        inner.close()
    session.commit()
    return SignupResult(stage=signed_in.stage, token=signed_in.token, home=signed_in.home)
