"""Identity and access: passwords, sign-in, lockout, sessions, MFA, users and the role matrix.

Time is moved by replacing the clock the security service reads
(``hms_app.services.security.utcnow``), never by sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from hms_app import db as hms_db
from hms_app.errors import Conflict, DomainError, Forbidden, NotFound, NotSignedIn, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, AuditEvent, Role, UserSession
from hms_app.services import accounts, security
from hms_app.services.audit import verify_chain
from hms_app.services.audit_chain import seal_all
from hms_app.services.permissions import DEFAULT_GRANTS, LOCKED_GRANTS, PERMISSIONS, SYSTEM_ACTOR
from hms_app.settings import get_settings

PASSWORD = "Ward-round-42"
NEW_PASSWORD = "Night-shift-77"
WRONG = "Not-the-password-1"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    """Argon2 with a small work factor, so that dozens of sign-ins stay fast.

    Verification is the same code path; the production parameters are checked on their
    own in ``test_production_hashes_are_argon2id_with_a_real_work_factor``.
    """
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    # A whole TOTP step boundary, so that codes computed from it are unambiguous.
    start = datetime.now(UTC).replace(microsecond=0)
    start -= timedelta(seconds=start.second % 30) - timedelta(seconds=5)
    c = Clock(start)
    monkeypatch.setattr(security, "utcnow", c)
    return c


@pytest.fixture
def roles(session):
    accounts.ensure_roles(session)
    return session


def make_user(session, username: str, role_names=("nurse",), password: str = PASSWORD, **extra) -> AppUser:
    return accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username=username,
        display_name=username.title(),
        password=password,
        roles=list(role_names),
        **extra,
    )


@pytest.fixture
def admin(roles):
    """A signed-in administrator (a real account and session, resolved like the app does)."""
    make_user(roles, "root.admin", ["admin"])
    token = security.sign_in(roles, username="root.admin", password=PASSWORD).token
    return security.resolve_session(roles, token=token)


def audit_rows(session, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(session.execute(query).scalars())


def last_audit(session) -> AuditEvent:
    return session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()


def reload(session, user_id: int) -> AppUser:
    session.expire_all()
    return session.get(AppUser, user_id)


def totp_code(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


# --------------------------------------------------------------------------- password policy


@pytest.mark.parametrize(
    ("password", "username", "complaint"),
    [
        ("Ab1-short", "", "at least 10 characters"),
        ("", "", "at least 10 characters"),
        ("x1" * 129, "", "at most 256"),
        ("onlyletters-here", "", "letters and digits"),
        ("1234567890-123", "", "letters and digits"),
        ("nina-Ward-42x", "nina", "must not contain the username"),
        ("NINA-ward-42x", "nina", "must not contain the username"),
        ("Password123", "", "too common"),
        ("hospital1234", "", "too common"),
    ],
)
def test_password_policy_refuses_weak_passwords_with_a_plain_reason(password, username, complaint):
    with pytest.raises(ValidationError) as refused:
        security.check_password_policy(password, username=username)
    assert complaint in str(refused.value)
    assert refused.value.field == "password"


@pytest.mark.parametrize("password", [PASSWORD, "correct horse battery 9", "x1" * 128])
def test_password_policy_accepts_reasonable_passwords(password):
    security.check_password_policy(password, username="nina")


def test_hashes_are_salted_argon2_and_never_the_password():
    first, second = security.hash_password(PASSWORD), security.hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and second.startswith("$argon2id$")
    assert PASSWORD not in first
    assert first != second  # a fresh salt every time
    assert security._verify_password(first, PASSWORD) and security._verify_password(second, PASSWORD)
    assert not security._verify_password(first, PASSWORD + "x")
    assert not security._verify_password("not a hash", PASSWORD)


def test_production_hashes_are_argon2id_with_a_real_work_factor():
    # Hashed at import time with the production hasher (the fixture only swaps it later).
    params = security._DUMMY_HASH.split("$")[3]
    assert security._DUMMY_HASH.startswith("$argon2id$v=19$")
    memory, time_cost, _ = (int(p.split("=")[1]) for p in params.split(","))
    assert memory >= 19 * 1024 and time_cost >= 2  # at least OWASP's argon2id minimum


def test_created_users_store_only_the_hash(roles):
    user = make_user(roles, "nina")
    stored = roles.execute(select(AppUser.password_hash).where(AppUser.id == user.id)).scalar_one()
    assert stored != PASSWORD and PASSWORD not in stored and stored.startswith("$argon2")


# --------------------------------------------------------------------------- sign-in


def test_sign_in_starts_a_session_for_the_users_roles_and_audits_it(roles):
    user = make_user(roles, "nina", ["nurse"])
    result = security.sign_in(roles, username="  NINA ", password=PASSWORD, client_ip="10.0.0.7")
    assert result.stage == "active" and result.home == "/" and result.display_name == "Nina"
    actor = security.resolve_session(roles, token=result.token, screen="/patients")
    assert actor.user_id == user.id and actor.roles == {"nurse"} and actor.screen == "/patients"
    assert actor.permissions == DEFAULT_GRANTS["nurse"]
    stored = roles.execute(select(UserSession).where(UserSession.user_id == user.id)).scalar_one()
    assert stored.token_hash != result.token and result.token not in stored.token_hash  # only a hash is kept
    assert stored.client_ip == "10.0.0.7"
    row = last_audit(roles)
    assert (row.action, row.outcome, row.target_id, row.username) == (
        "auth.sign_in",
        "success",
        str(user.id),
        "nina",
    )
    assert reload(roles, user.id).last_sign_in_at is not None


def test_wrong_username_and_wrong_password_get_the_same_answer_and_are_audited_as_failures(roles):
    user = make_user(roles, "nina")
    with pytest.raises(DomainError) as wrong_password:
        security.sign_in(roles, username="nina", password=WRONG)
    with pytest.raises(DomainError) as wrong_username:
        security.sign_in(roles, username="nobody", password=PASSWORD)
    assert str(wrong_password.value) == str(wrong_username.value) == "Wrong username or password."
    failures = [r for r in audit_rows(roles, "auth.sign_in") if r.outcome == "failure"]
    assert [(r.username, r.detail) for r in failures] == [
        ("nina", "wrong password"),
        ("nobody", "unknown username"),
    ]
    assert failures[0].target_id == str(user.id) and failures[1].target_id is None
    assert reload(roles, user.id).failed_attempts == 1
    assert roles.execute(select(func.count()).select_from(UserSession)).scalar_one() == 0


def test_a_blank_form_is_refused_before_anything_is_looked_up(roles):
    with pytest.raises(ValidationError):
        security.sign_in(roles, username=" ", password=PASSWORD)
    with pytest.raises(ValidationError):
        security.sign_in(roles, username="nina", password="")
    assert audit_rows(roles) == []


def test_a_successful_sign_in_resets_the_failure_count(roles):
    user = make_user(roles, "nina")
    for _ in range(get_settings().lockout_attempts - 1):
        with pytest.raises(DomainError):
            security.sign_in(roles, username="nina", password=WRONG)
    security.sign_in(roles, username="nina", password=PASSWORD)
    assert reload(roles, user.id).failed_attempts == 0
    with pytest.raises(DomainError, match="Wrong username"):
        security.sign_in(roles, username="nina", password=WRONG)  # one failure again, not the last straw


# --------------------------------------------------------------------------- lockout


def _fail(session, username: str, times: int) -> list[str]:
    messages = []
    for _ in range(times):
        with pytest.raises(DomainError) as refused:
            security.sign_in(session, username=username, password=WRONG)
        messages.append(str(refused.value))
    return messages


def test_five_failed_sign_ins_lock_the_account_until_the_lock_runs_out(roles, clock):
    settings = get_settings()
    assert settings.lockout_attempts == 5  # the default HMS_LOCKOUT_ATTEMPTS
    user = make_user(roles, "nina")
    messages = _fail(roles, "nina", settings.lockout_attempts)
    assert messages[:-1] == ["Wrong username or password."] * (settings.lockout_attempts - 1)
    assert "locked" in messages[-1]
    locked = reload(roles, user.id)
    assert locked.locked_until == clock.now + timedelta(minutes=settings.lockout_minutes)
    lock_row = [r for r in audit_rows(roles, "auth.sign_in") if r.outcome == "failure"][-1]
    assert "account locked" in lock_row.detail

    # The right password is refused while the lock lasts, and the refusal is audited.
    with pytest.raises(DomainError, match="locked"):
        security.sign_in(roles, username="nina", password=PASSWORD)
    assert last_audit(roles).detail == "account locked" and last_audit(roles).outcome == "failure"
    clock.advance(minutes=settings.lockout_minutes - 1)
    with pytest.raises(DomainError, match="locked"):
        security.sign_in(roles, username="nina", password=PASSWORD)

    clock.advance(minutes=1, seconds=1)
    assert security.sign_in(roles, username="nina", password=PASSWORD).stage == "active"


def test_the_lockout_threshold_is_a_setting(roles, monkeypatch):
    monkeypatch.setenv("HMS_LOCKOUT_ATTEMPTS", "3")
    get_settings.cache_clear()
    make_user(roles, "nina")
    messages = _fail(roles, "nina", 3)
    assert "locked" in messages[-1] and "locked" not in messages[-2]


def test_a_lock_that_was_moved_into_the_past_by_the_database_no_longer_holds(roles):
    user = make_user(roles, "nina")
    _fail(roles, "nina", 5)
    roles.execute(
        update(AppUser)
        .where(AppUser.id == user.id)
        .values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
    )
    roles.commit()
    assert security.sign_in(roles, username="nina", password=PASSWORD).stage == "active"


def test_an_administrator_can_unlock_an_account(admin, roles):
    user = make_user(roles, "nina")
    _fail(roles, "nina", 5)
    accounts.unlock_user(roles, actor=admin, user_id=user.id)
    row = last_audit(roles)
    assert (row.action, row.username, row.target_id) == ("user.unlock", "root.admin", str(user.id))
    unlocked = reload(roles, user.id)
    assert unlocked.locked_until is None and unlocked.failed_attempts == 0
    assert security.sign_in(roles, username="nina", password=PASSWORD).stage == "active"


def test_a_password_reset_unlocks_the_account_and_ends_its_sessions(admin, roles):
    user = make_user(roles, "nina")
    old_session = security.sign_in(roles, username="nina", password=PASSWORD).token
    _fail(roles, "nina", 5)
    with pytest.raises(ValidationError):
        accounts.reset_password(roles, actor=admin, user_id=user.id, new_password="short1")
    accounts.reset_password(roles, actor=admin, user_id=user.id, new_password=NEW_PASSWORD)
    assert last_audit(roles).action == "user.reset_password"
    assert security.resolve_session(roles, token=old_session) is None
    with pytest.raises(DomainError, match="Wrong username"):
        security.sign_in(roles, username="nina", password=PASSWORD)
    assert security.sign_in(roles, username="nina", password=NEW_PASSWORD).stage == "active"


# --------------------------------------------------------------------------- disabled accounts


def test_disabling_an_account_ends_its_live_sessions_and_refuses_sign_in(admin, roles):
    user = make_user(roles, "nina")
    tokens = [security.sign_in(roles, username="nina", password=PASSWORD).token for _ in range(2)]
    assert all(security.resolve_session(roles, token=t) for t in tokens)
    accounts.set_user_active(roles, actor=admin, user_id=user.id, active=False)
    row = last_audit(roles)
    assert (row.action, row.target_id, row.detail) == ("user.disable", str(user.id), "2 sessions ended")
    assert [security.resolve_session(roles, token=t) for t in tokens] == [None, None]
    with pytest.raises(
        DomainError, match="^Wrong username or password.$"
    ):  # a right password confirms nothing
        security.sign_in(roles, username="nina", password=PASSWORD)
    assert last_audit(roles).detail == "account disabled" and last_audit(roles).outcome == "failure"

    accounts.set_user_active(roles, actor=admin, user_id=user.id, active=True)
    assert last_audit(roles).action == "user.enable"
    assert security.sign_in(roles, username="nina", password=PASSWORD).stage == "active"


def test_a_session_stops_resolving_as_soon_as_the_account_is_disabled_by_sql(roles):
    user = make_user(roles, "nina")
    token = security.sign_in(roles, username="nina", password=PASSWORD).token
    roles.execute(update(AppUser).where(AppUser.id == user.id).values(is_active=False))
    roles.commit()
    assert security.resolve_session(roles, token=token) is None


def test_an_administrator_cannot_disable_themself(admin, roles):
    with pytest.raises(Forbidden):
        accounts.set_user_active(roles, actor=admin, user_id=admin.user_id, active=False)
    assert reload(roles, admin.user_id).is_active


# --------------------------------------------------------------------------- sessions


def test_a_busy_session_still_ends_after_its_absolute_lifetime(roles, clock):
    settings = get_settings()
    make_user(roles, "nina")
    token = security.sign_in(roles, username="nina", password=PASSWORD).token
    started = clock.now
    while clock.now + timedelta(minutes=30) < started + timedelta(hours=settings.session_hours):
        clock.advance(minutes=30)  # the user clicks every half hour: never idle
        assert security.resolve_session(roles, token=token) is not None
    clock.advance(minutes=31)
    assert clock.now > started + timedelta(hours=settings.session_hours)
    assert security.resolve_session(roles, token=token) is None


def test_an_idle_session_ends_after_the_idle_timeout(roles, clock):
    idle = get_settings().session_idle_minutes
    make_user(roles, "nina")
    token = security.sign_in(roles, username="nina", password=PASSWORD).token
    clock.advance(minutes=idle - 1)
    assert security.resolve_session(roles, token=token) is not None  # and this use counts as activity
    clock.advance(minutes=idle - 1)
    assert security.resolve_session(roles, token=token) is not None
    clock.advance(minutes=idle, seconds=1)
    assert security.resolve_session(roles, token=token) is None


def test_sign_out_revokes_the_session_once_and_is_audited(roles):
    user = make_user(roles, "nina")
    token = security.sign_in(roles, username="nina", password=PASSWORD).token
    other = security.sign_in(roles, username="nina", password=PASSWORD).token
    security.sign_out(roles, token=token)
    assert security.resolve_session(roles, token=token) is None
    assert security.resolve_session(roles, token=other) is not None  # only that tab's session ends
    sign_outs = audit_rows(roles, "auth.sign_out")
    assert [(r.username, r.target_id) for r in sign_outs] == [("nina", str(user.id))]
    security.sign_out(roles, token=token)
    security.sign_out(roles, token="made-up-token")
    security.sign_out(roles, token="")
    assert len(audit_rows(roles, "auth.sign_out")) == 1


def test_unknown_and_empty_tokens_resolve_to_nobody(roles):
    assert security.resolve_session(roles, token="") is None
    assert security.resolve_session(roles, token="made-up-token") is None


# --------------------------------------------------------------------------- MFA


def _enrol(session, username: str, clock: Clock) -> str:
    token = security.sign_in(session, username=username, password=PASSWORD).token
    actor = security.resolve_session(session, token=token)
    enrolment = security.begin_mfa_enrolment(session, actor=actor)
    assert enrolment.qr_svg_data_url.startswith("data:image/svg+xml;base64,")
    assert (
        enrolment.uri.startswith("otpauth://totp/")
        and "issuer=HMS" in enrolment.uri
        and username in enrolment.uri
    )
    with pytest.raises(DomainError):
        security.confirm_mfa_enrolment(session, actor=actor, code=_a_wrong_code(enrolment.secret, clock))
    user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
    assert not reload(session, user.id).mfa_enabled
    security.confirm_mfa_enrolment(session, actor=actor, code=totp_code(enrolment.secret, clock.now))
    assert reload(session, user.id).mfa_enabled
    row = last_audit(session)
    assert (row.action, row.username) == ("auth.mfa_enrol", username)
    return enrolment.secret


def _a_wrong_code(secret: str, clock: Clock) -> str:
    near = {totp_code(secret, clock.now + timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222") if code not in near)


def test_mfa_enrolment_then_sign_in_asks_for_a_code_that_works_once(roles, clock):
    user = make_user(roles, "nina")
    secret = _enrol(roles, "nina", clock)
    clock.advance(seconds=30)  # the enrolment used this step's code

    first = security.sign_in(roles, username="nina", password=PASSWORD)
    assert first.stage == "mfa"
    assert security.resolve_session(roles, token=first.token) is None  # half signed-in acts on nothing
    assert last_audit(roles).action == "auth.password_ok"

    with pytest.raises(DomainError, match="not valid"):
        security.complete_mfa(roles, token=first.token, code=_a_wrong_code(secret, clock))
    # Wrong codes have their own count: a right password never clears it.
    assert reload(roles, user.id).mfa_failed_attempts == 1
    assert reload(roles, user.id).failed_attempts == 0
    assert (last_audit(roles).action, last_audit(roles).outcome) == ("auth.mfa", "failure")
    with pytest.raises(ValidationError):
        security.complete_mfa(roles, token=first.token, code="12ab")

    code = totp_code(secret, clock.now)
    result = security.complete_mfa(roles, token=first.token, code=code)
    assert result.stage == "active"
    actor = security.resolve_session(roles, token=first.token)
    assert actor is not None and actor.user_id == user.id
    assert reload(roles, user.id).mfa_failed_attempts == 0  # a right code clears it
    assert (last_audit(roles).action, last_audit(roles).detail) == ("auth.sign_in", "with second factor")

    # The same code cannot be used again, even for a new sign-in inside its 30 seconds.
    second = security.sign_in(roles, username="nina", password=PASSWORD)
    with pytest.raises(DomainError, match="not valid"):
        security.complete_mfa(roles, token=second.token, code=code)
    assert security.resolve_session(roles, token=second.token) is None
    clock.advance(seconds=30)
    assert (
        security.complete_mfa(roles, token=second.token, code=totp_code(secret, clock.now)).stage == "active"
    )


def test_an_active_session_cannot_be_fed_to_the_second_factor_step(roles, clock):
    make_user(roles, "nina")
    token = security.sign_in(roles, username="nina", password=PASSWORD).token
    with pytest.raises(DomainError, match="expired"):
        security.complete_mfa(roles, token=token, code="123456")


def test_a_pending_second_factor_step_expires(roles, clock):
    make_user(roles, "nina")
    secret = _enrol(roles, "nina", clock)
    pending = security.sign_in(roles, username="nina", password=PASSWORD).token
    clock.advance(minutes=security.PENDING_MINUTES, seconds=1)
    with pytest.raises(DomainError, match="expired"):
        security.complete_mfa(roles, token=pending, code=totp_code(secret, clock.now))


def test_wrong_codes_count_towards_the_lockout(roles, clock, monkeypatch):
    monkeypatch.setattr(security, "MFA_CODES_PER_SIGN_IN", 10)  # the account's lock, not the sign-in's cap
    user = make_user(roles, "nina")
    secret = _enrol(roles, "nina", clock)
    clock.advance(seconds=30)
    pending = security.sign_in(roles, username="nina", password=PASSWORD).token
    messages = []
    for _ in range(get_settings().lockout_attempts):
        with pytest.raises(DomainError) as refused:
            security.complete_mfa(roles, token=pending, code=_a_wrong_code(secret, clock))
        messages.append(str(refused.value))
    assert "locked" in messages[-1] and "locked" not in messages[0]
    assert reload(roles, user.id).locked_until is not None
    with pytest.raises(DomainError, match="locked"):
        security.complete_mfa(roles, token=pending, code=totp_code(secret, clock.now))
    assert security.resolve_session(roles, token=pending) is None


def test_enrolling_twice_is_refused_until_an_administrator_resets_mfa(admin, roles, clock):
    user = make_user(roles, "nina")
    secret = _enrol(roles, "nina", clock)
    clock.advance(seconds=30)
    pending = security.sign_in(roles, username="nina", password=PASSWORD).token
    security.complete_mfa(roles, token=pending, code=totp_code(secret, clock.now))
    nina = security.resolve_session(roles, token=pending)
    with pytest.raises(Conflict):
        security.begin_mfa_enrolment(roles, actor=nina)

    accounts.reset_mfa(roles, actor=admin, user_id=user.id)
    assert (last_audit(roles).action, last_audit(roles).target_id) == ("user.reset_mfa", str(user.id))
    reset = reload(roles, user.id)
    assert not reset.mfa_enabled and reset.mfa_secret is None
    assert security.resolve_session(roles, token=pending) is None  # a lost phone ends the sessions too
    assert security.sign_in(roles, username="nina", password=PASSWORD).stage == "active"


def test_a_role_can_be_made_to_require_mfa_and_its_users_enrol_at_sign_in(admin, roles, clock):
    user = make_user(roles, "nina", ["nurse"])
    make_user(roles, "dr.who", ["physician"])
    accounts.set_role_mfa_required(roles, actor=admin, role="nurse", required=True)
    row = last_audit(roles)
    assert (row.action, row.target_id, row.detail) == ("role.mfa_policy", "nurse", "MFA required")
    assert (
        security.sign_in(roles, username="dr.who", password=PASSWORD).stage == "active"
    )  # other roles unaffected

    pending = security.sign_in(roles, username="nina", password=PASSWORD)
    assert pending.stage == "enrol"
    assert security.resolve_session(roles, token=pending.token) is None
    with pytest.raises(DomainError, match="expired"):
        security.complete_mfa(roles, token=pending.token, code="123456")  # an enrol token is not an mfa token
    enrolment = security.begin_pending_enrolment(roles, token=pending.token)
    with pytest.raises(DomainError, match="not valid"):
        security.finish_pending_enrolment(
            roles, token=pending.token, code=_a_wrong_code(enrolment.secret, clock)
        )
    assert reload(roles, user.id).mfa_failed_attempts == 1  # a wrong code while enrolling is a wrong code
    result = security.finish_pending_enrolment(
        roles, token=pending.token, code=totp_code(enrolment.secret, clock.now)
    )
    assert result.stage == "active"
    assert security.resolve_session(roles, token=pending.token).user_id == user.id
    assert reload(roles, user.id).mfa_enabled
    actions = [r.action for r in audit_rows(roles)][-2:]
    assert actions == ["auth.mfa_enrol", "auth.sign_in"]

    clock.advance(seconds=30)
    assert security.sign_in(roles, username="nina", password=PASSWORD).stage == "mfa"
    with pytest.raises(DomainError, match="expired"):
        security.begin_pending_enrolment(
            roles, token=security.sign_in(roles, username="nina", password=PASSWORD).token
        )


def test_setting_the_same_mfa_policy_again_changes_nothing(admin, roles):
    accounts.set_role_mfa_required(roles, actor=admin, role="nurse", required=False)
    assert audit_rows(roles, "role.mfa_policy") == []
    with pytest.raises(NotFound):
        accounts.set_role_mfa_required(roles, actor=admin, role="janitor", required=True)


def test_self_service_account_functions_need_a_signed_in_user(roles):
    with pytest.raises(NotSignedIn):
        security.begin_mfa_enrolment(roles, actor=None)
    with pytest.raises(NotSignedIn):
        security.confirm_mfa_enrolment(roles, actor=None, code="123456")
    with pytest.raises(NotSignedIn):
        accounts.change_own_password(roles, actor=None, current_password=PASSWORD, new_password=NEW_PASSWORD)


def test_changing_ones_own_password_needs_the_current_one(roles):
    make_user(roles, "nina")
    nina = security.resolve_session(
        roles, token=security.sign_in(roles, username="nina", password=PASSWORD).token
    )
    with pytest.raises(ValidationError):
        accounts.change_own_password(roles, actor=nina, current_password=WRONG, new_password=NEW_PASSWORD)
    with pytest.raises(ValidationError):
        accounts.change_own_password(
            roles, actor=nina, current_password=PASSWORD, new_password="nina-12345678"
        )
    accounts.change_own_password(roles, actor=nina, current_password=PASSWORD, new_password=NEW_PASSWORD)
    assert last_audit(roles).action == "user.change_password"
    assert security.sign_in(roles, username="nina", password=NEW_PASSWORD).stage == "active"


# --------------------------------------------------------------------------- user administration


def _a_patient(session) -> Patient:
    patient = Patient(
        mrn="H0000001-8",
        given_name="Pat",
        family_name="Ient",
        sex="female",
        birth_date=datetime(1980, 1, 1).date(),
    )
    session.add(patient)
    session.commit()
    return patient


CREATE_USER_REFUSALS = [
    ({"username": "ab"}, ValidationError, "username"),
    ({"username": "bad name!"}, ValidationError, "username"),
    ({"username": "-leading-dash"}, ValidationError, "username"),
    ({"display_name": "  "}, ValidationError, "display_name"),
    ({"email": "not-an-email"}, ValidationError, "email"),
    ({"roles": []}, ValidationError, "roles"),
    ({"roles": ["nurse", "wizard"]}, ValidationError, "roles"),
    ({"roles": ["patient"]}, ValidationError, "roles"),  # a portal account needs its patient
    ({"roles": ["patient", "nurse"], "patient_id": "PATIENT"}, ValidationError, "roles"),
    ({"password": "password123"}, ValidationError, "password"),
    ({"password": "new.nurse-2026"}, ValidationError, "password"),  # contains the username
]


def test_create_user_refuses_bad_input_and_writes_nothing(admin, roles):
    patient_id = _a_patient(roles).id
    before_users = roles.execute(select(func.count()).select_from(AppUser)).scalar_one()
    before_audit = len(audit_rows(roles))
    for changes, error, field in CREATE_USER_REFUSALS:
        if changes.get("patient_id") == "PATIENT":
            changes = {**changes, "patient_id": patient_id}
        arguments = {
            "username": "new.nurse",
            "display_name": "New Nurse",
            "password": PASSWORD,
            "roles": ["nurse"],
            **changes,
        }
        with pytest.raises(error) as refused:
            accounts.create_user(roles, actor=admin, **arguments)
        assert refused.value.field == field, changes
        roles.rollback()
    assert roles.execute(select(func.count()).select_from(AppUser)).scalar_one() == before_users
    assert len(audit_rows(roles)) == before_audit
    # The same form with nothing wrong goes through, so each refusal above was for its own reason.
    accounts.create_user(
        roles, actor=admin, username="new.nurse", display_name="New Nurse", password=PASSWORD, roles=["nurse"]
    )


def test_create_user_refuses_a_taken_username_whatever_its_case(admin, roles):
    make_user(roles, "nina")
    with pytest.raises(Conflict):
        accounts.create_user(
            roles, actor=admin, username="NINA", display_name="Other Nina", password=PASSWORD, roles=["nurse"]
        )


def test_create_user_audits_who_created_whom_with_which_roles(admin, roles):
    user = accounts.create_user(
        roles,
        actor=admin,
        username="Dr.House",
        display_name=" Greg House ",
        password=PASSWORD,
        roles=["physician", "nurse"],
        email="house@example.org",
    )
    assert (user.username, user.display_name) == ("dr.house", "Greg House")
    row = last_audit(roles)
    assert (row.action, row.username, row.roles, row.target_id) == (
        "user.create",
        "root.admin",
        "admin",
        str(user.id),
    )
    assert row.detail == "dr.house roles=nurse,physician"
    actor = security.resolve_session(
        roles, token=security.sign_in(roles, username="dr.house", password=PASSWORD).token
    )
    assert actor.roles == {"physician", "nurse"}
    assert actor.permissions == DEFAULT_GRANTS["physician"] | DEFAULT_GRANTS["nurse"]


def test_a_portal_account_is_linked_to_its_patient_and_lands_on_the_portal(admin, roles):
    patient = _a_patient(roles)
    accounts.create_user(
        roles,
        actor=admin,
        username="pat",
        display_name="Pat Ient",
        password=PASSWORD,
        roles=["patient"],
        patient_id=patient.id,
    )
    result = security.sign_in(roles, username="pat", password=PASSWORD)
    assert result.home == "/portal"
    actor = security.resolve_session(roles, token=result.token)
    assert actor.patient_id == patient.id and actor.permissions == {"portal.self"}


def test_set_user_roles_replaces_roles_and_is_audited(admin, roles):
    user = make_user(roles, "nina", ["nurse"])
    token = security.sign_in(roles, username="nina", password=PASSWORD).token
    accounts.set_user_roles(roles, actor=admin, user_id=user.id, roles=["receptionist", "lab_technician"])
    row = last_audit(roles)
    assert (row.action, row.target_id, row.detail) == (
        "user.roles",
        str(user.id),
        "lab_technician,receptionist",
    )
    actor = security.resolve_session(roles, token=token)  # a live session sees the new roles at once
    assert actor.roles == {"receptionist", "lab_technician"} and "emr.write" not in actor.permissions
    with pytest.raises(ValidationError):
        accounts.set_user_roles(roles, actor=admin, user_id=user.id, roles=["patient"])
    with pytest.raises(ValidationError):
        accounts.set_user_roles(roles, actor=admin, user_id=user.id, roles=[])
    with pytest.raises(NotFound):
        accounts.set_user_roles(roles, actor=admin, user_id=99_999, roles=["nurse"])


def test_a_portal_account_cannot_be_given_staff_roles(admin, roles):
    patient = _a_patient(roles)
    user = accounts.create_user(
        roles,
        actor=admin,
        username="pat",
        display_name="Pat Ient",
        password=PASSWORD,
        roles=["patient"],
        patient_id=patient.id,
    )
    with pytest.raises(ValidationError):
        accounts.set_user_roles(roles, actor=admin, user_id=user.id, roles=["nurse"])
    with pytest.raises(ValidationError):
        accounts.set_user_roles(roles, actor=admin, user_id=user.id, roles=["patient", "nurse"])


def test_an_administrator_cannot_take_away_their_own_admin_role(admin, roles):
    with pytest.raises(Forbidden):
        accounts.set_user_roles(roles, actor=admin, user_id=admin.user_id, roles=["manager"])
    accounts.set_user_roles(roles, actor=admin, user_id=admin.user_id, roles=["admin", "manager"])
    assert security.resolve_session(
        roles, token=security.sign_in(roles, username="root.admin", password=PASSWORD).token
    ).roles == {"admin", "manager"}


def test_list_users_pages_filters_and_flags_accounts(admin, roles, clock):
    for name in ("nina", "nora", "ned"):
        make_user(roles, name)
    make_user(roles, "dr.grey", ["physician"])
    _fail(roles, "ned", 5)
    rows, total = accounts.list_users(roles, actor=admin, query="N", page=1, page_size=2)
    assert total == 4 and [r.username for r in rows] == ["ned", "nina"]  # "n" is also in "root.admin"
    rows, total = accounts.list_users(roles, actor=admin, query="n", page=2, page_size=2)
    assert [r.username for r in rows] == ["nora", "root.admin"]
    rows, total = accounts.list_users(roles, actor=admin, role="physician")
    assert total == 1 and rows[0].username == "dr.grey" and rows[0].roles == ("physician",)
    ned = accounts.list_users(roles, actor=admin, query="ned")[0][0]
    assert ned.locked and ned.is_active and not ned.mfa_enabled


# --------------------------------------------------------------------------- the role matrix


def test_granting_and_revoking_a_permission_changes_what_a_live_session_may_do(admin, roles):
    make_user(roles, "nina", ["nurse"])
    token = security.sign_in(roles, username="nina", password=PASSWORD).token
    assert not security.resolve_session(roles, token=token).can("appointment.book")

    accounts.set_role_permission(
        roles, actor=admin, role="nurse", permission="appointment.book", granted=True
    )
    assert security.resolve_session(roles, token=token).can("appointment.book")
    row = last_audit(roles)
    assert (row.action, row.target_type, row.target_id, row.detail) == (
        "role.grant",
        "role",
        "nurse",
        "appointment.book",
    )
    accounts.set_role_permission(roles, actor=admin, role="nurse", permission="emr.write", granted=False)
    nurse = security.resolve_session(roles, token=token)
    assert not nurse.can("emr.write") and nurse.can("patient.read")
    assert (last_audit(roles).action, last_audit(roles).detail) == ("role.revoke", "emr.write")

    matrix = {r.name: r for r in accounts.role_matrix(roles, actor=admin)}
    assert matrix["nurse"].permissions == (DEFAULT_GRANTS["nurse"] | {"appointment.book"}) - {"emr.write"}
    assert set(matrix) == set(DEFAULT_GRANTS)


def test_granting_what_is_already_granted_writes_nothing(admin, roles):
    before = len(audit_rows(roles))
    accounts.set_role_permission(roles, actor=admin, role="nurse", permission="patient.read", granted=True)
    accounts.set_role_permission(roles, actor=admin, role="nurse", permission="billing.post", granted=False)
    assert len(audit_rows(roles)) == before


def test_locked_grants_cannot_be_removed(admin, roles):
    for role, permissions in LOCKED_GRANTS.items():
        for permission in sorted(permissions):
            with pytest.raises(Forbidden):
                accounts.set_role_permission(
                    roles, actor=admin, role=role, permission=permission, granted=False
                )
    admin_now = security.resolve_session(
        roles, token=security.sign_in(roles, username="root.admin", password=PASSWORD).token
    )
    assert LOCKED_GRANTS["admin"] <= admin_now.permissions
    # An unlocked admin grant can be withdrawn: the lock is specific, not a blanket refusal.
    accounts.set_role_permission(roles, actor=admin, role="admin", permission="analytics.read", granted=False)


def test_the_patient_role_cannot_be_given_staff_permissions(admin, roles):
    for permission in sorted(set(PERMISSIONS) - {"portal.self"}):
        with pytest.raises(Forbidden):
            accounts.set_role_permission(
                roles, actor=admin, role="patient", permission=permission, granted=True
            )
    matrix = {r.name: r for r in accounts.role_matrix(roles, actor=admin)}
    assert matrix["patient"].permissions == {"portal.self"}


def test_the_matrix_refuses_unknown_roles_and_permissions(admin, roles):
    with pytest.raises(ValidationError):
        accounts.set_role_permission(
            roles, actor=admin, role="nurse", permission="launch.missiles", granted=True
        )
    with pytest.raises(NotFound):
        accounts.set_role_permission(
            roles, actor=admin, role="janitor", permission="patient.read", granted=True
        )


def test_ensure_roles_is_idempotent_and_keeps_an_administrators_edits(admin, roles):
    accounts.set_role_permission(roles, actor=admin, role="nurse", permission="emr.write", granted=False)
    accounts.ensure_roles(roles)
    assert roles.execute(select(func.count()).select_from(Role)).scalar_one() == len(DEFAULT_GRANTS)
    matrix = {r.name: r for r in accounts.role_matrix(roles, actor=admin)}
    assert "emr.write" not in matrix["nurse"].permissions


def test_every_write_in_these_tests_left_an_intact_chain(admin, roles, clock, configured_db):
    user = make_user(roles, "nina")
    _fail(roles, "nina", 2)
    accounts.unlock_user(roles, actor=admin, user_id=user.id)
    accounts.set_role_permission(roles, actor=admin, role="nurse", permission="lab.work", granted=True)
    with hms_db.session_scope(configured_db) as fresh:
        seal_all(fresh)
        report = verify_chain(fresh)
    assert report.ok, report.message
    assert report.rows_checked == len(audit_rows(roles))


# --------------------------------------------------------------------------- portal: one's own record only


def test_a_portal_user_reads_only_their_own_record_and_the_read_is_audited(roles):
    from hms_app.services import patients

    for number in range(1, 7):
        roles.add(
            Patient(
                mrn=f"H{number:07d}-0",
                given_name=f"Given{number}",
                family_name="Family",
                sex="female",
                birth_date=datetime(1990, 1, number).date(),
            )
        )
    roles.commit()
    ids = roles.execute(select(Patient.id).order_by(Patient.id)).scalars().all()
    fifth, sixth = ids[4], ids[5]
    accounts.create_user(
        roles,
        actor=SYSTEM_ACTOR,
        username="pat5",
        display_name="Given5 Family",
        password=PASSWORD,
        roles=["patient"],
        patient_id=fifth,
    )
    portal = security.resolve_session(
        roles, token=security.sign_in(roles, username="pat5", password=PASSWORD).token
    )
    assert portal.patient_id == fifth
    before = len(audit_rows(roles))

    with pytest.raises(Forbidden):
        patients.get_patient_summary(roles, actor=portal, patient_id=sixth)
    assert len(audit_rows(roles)) == before  # a refused read leaves no "patient.read" behind

    summary = patients.get_patient_summary(roles, actor=portal, patient_id=fifth)
    assert summary.id == fifth and summary.name == "Given5 Family"
    row = last_audit(roles)
    assert (row.action, row.patient_id, row.username, row.roles, row.outcome) == (
        "patient.read",
        fifth,
        "pat5",
        "patient",
        "success",
    )
