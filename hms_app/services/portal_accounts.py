"""Self sign-up for the patient portal: a new account with a new patient record of its own.

Nobody is signed in when this runs, so there is no actor to authorize: everything the visitor
sends is validated here instead, attempts are limited per browser and per network address, and
every attempt is written to the audit trail as ``portal.signup``.

The rules (also in the README):

- A sign-up form answers every visitor the same way (``CHECK_MAIL``), whether the e-mail address
  or the username is new or taken: it must not answer "is X a patient here?" or "does this
  address have an account?". The account is created only when the person follows the one-time
  link mailed to the address (``/portal/signup/confirm?token=...``, valid ``LINK_HOURS``), so only
  the owner of the mailbox learns anything: an address that already has an account gets a mail
  saying so instead of a link, and a taken username a mail asking to choose another.
- A sign-up never opens an existing record. Knowing someone's name, date of birth and phone number
  is not proof of being them, and the portal shows the whole record; so every sign-up gets a new
  patient record. When the given and family names (compared without case, accents, spaces or
  punctuation), the date of birth AND the phone number or email address match exactly one live
  record without a portal account, the audit row of the sign-up names that record: registration
  staff check the patient's identity at the desk and merge the two records, and the merge moves
  the account onto the earlier record.
- Usernames and email addresses are unique among accounts; the password policy is the one of
  every account (``security.check_password_policy``). Every wrong field is named at once.
- At most ``BROWSER_LIMIT`` requests per browser in ``BROWSER_WINDOW`` and ``ADDRESS_LIMIT`` per
  network address in ``ADDRESS_WINDOW`` (counted in the audit trail, so every backend worker
  sees the same count). The browser is a key the server issued to the tab (never a value the
  client chose); the address is the peer's, or behind ``HMS_TRUSTED_PROXY_HOPS`` proxies the one
  they recorded.
- Confirming is one transaction: the patient record and the account are both written, or neither.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import DomainError, FieldErrors, InvalidFields
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, AuditEvent, SignupRequest
from hms_app.services import accounts, reminders, security
from hms_app.services import patients as patient_service
from hms_app.services.audit import record_audit
from hms_app.services.patient_keys import fold, phone_digits
from hms_app.services.permissions import Actor
from hms_app.settings import get_settings

log = logging.getLogger(__name__)

SIGNUP_ACTION = "portal.signup"
CONFIRM_ACTION = "portal.signup_confirm"
CONFIRM_PATH = "/portal/signup/confirm"
BROWSER_LIMIT, BROWSER_WINDOW = 5, timedelta(minutes=15)
ADDRESS_LIMIT, ADDRESS_WINDOW = 20, timedelta(hours=1)
LINK_HOURS = 24
MIN_AGE_YEARS = 16  # younger patients are registered with a guardian at the desk
CHECK_MAIL = (
    "Check your e-mail: we have sent a message to the address you gave. Follow the link in it "
    "within 24 hours to finish creating your account. If nothing arrives, check the address and "
    "your spam folder, or ask reception."
)
ACCOUNT_MESSAGE = (
    "Your account is ready. If you have been our patient before, show an ID at your next visit and "
    "the front desk will connect your earlier records to it."
)
LINK_UNUSABLE = (
    "This link has expired or has already been used. Sign up again to get a new one, or sign in "
    "if your account is ready."
)
TAKEN_SINCE = (
    "An account with this username or e-mail address was created after you signed up. Sign in, or "
    "sign up again with another username."
)
TOO_MANY = (
    "Too many sign-up attempts from this device or network. Please wait {minutes} minutes, "
    "or ask reception to create your account."
)
DUPLICATE_REASON = (
    "Self-registered in the patient portal; registration staff to check for a duplicate record."
)
DEMOGRAPHICS = ("given_name", "family_name", "sex", "birth_date", "phone", "email")

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
class ConfirmResult:
    username: str
    message: str = ACCOUNT_MESSAGE


def new_browser_key() -> str:
    """A key for one browser tab's sign-up attempts, issued by the server (kept in the tab's
    backend-only state): nothing the client sends can choose it or pass for another's."""
    return secrets.token_urlsafe(16)


def _browser(browser_key: str | None) -> str:
    """The browser as a short hash of its key: the audit trail never holds the key itself."""
    key = (browser_key or "").strip()
    return hashlib.sha256(key.encode()).hexdigest()[:16] if key else "none"


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
    """The sign-up form, cleaned; every wrong field is named at once (``InvalidFields``)."""

    def text(key: str, limit: int = 256) -> str:
        value = form.get(key)
        return "" if value is None else str(value)[:limit]

    errors = FieldErrors()
    if not text("email").strip():
        errors.add("email", "Email is required.")
    if not text("phone").strip():
        errors.add("phone", "Phone is required.")
    demographics = errors.check(
        patient_service.validate_demographics, {key: text(key) for key in DEMOGRAPHICS}, today=today
    )
    if demographics and patient_service.age_years(demographics["birth_date"], today) < MIN_AGE_YEARS:
        errors.add(
            "birth_date",
            f"Portal accounts are for patients aged {MIN_AGE_YEARS} or over. "
            "A parent or guardian can register a child at reception.",
        )
    username = text("username", 100).strip().lower()
    if not security.USERNAME_RE.fullmatch(username):
        errors.add(
            "username",
            "The username must be 3 to 60 characters: lowercase letters, digits, dots, dashes or underscores.",
        )
    password, confirm = text("password"), text("password_confirm")
    errors.check(security.check_password_policy, password, username=username)
    if password != confirm:
        errors.add("password_confirm", "The two passwords are not the same.")
    if text("consent").strip().lower() not in ("on", "true", "1", "yes"):
        errors.add("consent", "Please accept the terms of use and the privacy notice to create an account.")
    if errors.errors:
        order = (*DEMOGRAPHICS, "username", "password", "password_confirm", "consent")
        found = errors.errors
        raise InvalidFields({f: found[f] for f in order if f in found} | found)
    return {**demographics, "username": username, "password": password}


def _taken(session: Session, *, username: str, email: str) -> str | None:
    """ "email" or "username" when an account already has it, else None."""
    if session.execute(select(AppUser.id).where(func.lower(AppUser.email) == email.lower())).first():
        return "email"
    if session.execute(select(AppUser.id).where(AppUser.username == username)).first():
        return "username"
    return None


def _mail(recipient: str, subject: str, body: str) -> None:
    """Send one e-mail with the reminders' sender (SMTP when configured, else the outbox file)."""
    try:
        reminders.default_sender()(reminders.OutgoingMessage(0, "email", recipient, subject, body))
    except Exception:  # noqa: BLE001  (the visitor is told the same either way; operators see the log)
        log.warning("portal sign-up: the e-mail to one address could not be sent", exc_info=True)


def _hospital() -> str:
    return get_settings().hospital_name


def request_signup(
    session: Session,
    *,
    form: dict,
    client_ip: str | None = None,
    browser_key: str | None = None,
) -> str:
    """Check a sign-up form and mail its address a one-time link (or a notice that an account
    exists); the answer (``CHECK_MAIL``) is the same whatever exists."""
    browser = _browser(browser_key)
    where = _client_detail(client_ip, browser)
    _check_rate(session, client_ip=client_ip, browser=browser)
    clean = _validate(form, today=utcnow().date())
    # Hashed whatever happens next, so that a taken address costs the same time as a new one.
    password_hash = security.hash_password(clean["password"])
    email, username = clean["email"], clean["username"]
    taken = _taken(session, username=username, email=email)
    token = secrets.token_urlsafe(32)
    if taken is None:
        data = {k: clean[k] for k in DEMOGRAPHICS} | {"password_hash": password_hash}
        data["birth_date"] = clean["birth_date"].isoformat()
        now = utcnow()
        session.add(
            SignupRequest(
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                email=email,
                username=username,
                form=json.dumps(data),
                client=where[:200],
                created_at=now,
                expires_at=now + timedelta(hours=LINK_HOURS),
            )
        )
    outcome = "success" if taken is None else "failure"
    detail = f"{where} " + ("confirmation link mailed" if taken is None else f"{taken} taken: notice mailed")
    record_audit(session, None, SIGNUP_ACTION, outcome=outcome, detail=detail, username="portal.signup")
    session.commit()
    if taken is None:
        link = f"{get_settings().public_url}{CONFIRM_PATH}?token={token}"
        _mail(
            email,
            f"Finish creating your {_hospital()} patient portal account",
            f"Someone, hopefully you, asked for a patient portal account with the username {username}. "
            f"To create it, open this link within {LINK_HOURS} hours:\n\n{link}\n\n"
            "If it was not you, ignore this message: nothing is created without the link.",
        )
    elif taken == "email":
        _mail(
            email,
            f"You already have a {_hospital()} patient portal account",
            "Someone, hopefully you, tried to sign up for the patient portal with this e-mail address, "
            "but an account with this address already exists. Sign in with it, or ask reception to "
            "reset your password. If it was not you, ignore this message.",
        )
    else:
        _mail(
            email,
            f"Choose another username for your {_hospital()} patient portal account",
            f"Someone, hopefully you, tried to sign up for the patient portal with the username {username}, "
            "which is already taken. Sign up again with another username. If it was not you, ignore "
            "this message: nothing was created.",
        )
    return CHECK_MAIL


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


def confirm_signup(session: Session, *, token: str, client_ip: str | None = None) -> ConfirmResult:
    """Create the account (and its new patient record) of a sign-up whose mailed link was followed."""
    token = token if isinstance(token, str) else ""
    if not 20 <= len(token) <= 100:
        raise DomainError(LINK_UNUSABLE)
    request = session.execute(
        select(SignupRequest)
        .where(SignupRequest.token_hash == hashlib.sha256(token.encode()).hexdigest())
        .with_for_update()
    ).scalar_one_or_none()
    if request is None or request.used_at is not None or request.expires_at <= utcnow():
        raise DomainError(LINK_UNUSABLE)
    # Used once, whatever follows: a second click (or a mail scanner) cannot make a second account.
    claimed = session.execute(
        update(SignupRequest)
        .where(SignupRequest.id == request.id, SignupRequest.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if claimed != 1:
        session.rollback()
        raise DomainError(LINK_UNUSABLE)
    data = json.loads(request.form)
    clean = {**data, "birth_date": date.fromisoformat(data["birth_date"]), "username": request.username}
    where = f"{request.client} confirmed from ip={(client_ip or 'unknown')[:64]}"
    if _taken(session, username=request.username, email=request.email) is not None:
        record_audit(
            session,
            None,
            CONFIRM_ACTION,
            outcome="failure",
            detail=f"{where}; taken since",
            username="portal.signup",
        )
        session.commit()
        raise DomainError(TAKEN_SINCE)
    try:
        _create(session, clean=clean, where=where)
    except IntegrityError as error:
        # The username was taken a moment ago by another sign-up.
        session.rollback()
        raise DomainError(TAKEN_SINCE) from error
    except BaseException:
        session.rollback()
        raise
    return ConfirmResult(username=request.username)


def _create(session: Session, *, clean: dict, where: str) -> None:
    # The services called below each commit; joined to this one connection through savepoints,
    # their commits only release a savepoint, so the record, the account and the used link land
    # together when this transaction commits, or not at all.
    inner = Session(
        bind=session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        earlier = matching_patient_id(inner, clean=clean)
        demographics = {k: clean[k] for k in DEMOGRAPHICS}
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
            # Replaced at once by the hash of the password given at sign-up (kept only as a hash).
            password=secrets.token_urlsafe(24) + "a1",
            roles=["patient"],
            email=clean["email"],
            patient_id=patient_id,
        )
        user.password_hash = clean["password_hash"]
        inner.add(user)
        record_audit(
            inner,
            PORTAL_SIGNUP_ACTOR,
            CONFIRM_ACTION,
            patient_id=patient_id,
            target_type="user",
            target_id=user.id,
            detail=f"{where}; {how}",
        )
        inner.commit()
    finally:
        inner.close()
    session.commit()
