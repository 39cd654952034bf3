"""Self sign-up for the portal: the same answer for everyone, the account made only from the mailed
link, who gets linked to which record, every wrong field named at once, limits."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from hms_app.errors import DomainError, InvalidFields
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, AuditEvent, Role, SignupRequest, UserSession
from hms_app.services import accounts, patients, portal_accounts, security
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings

PASSWORD = "Sunny-meadow-42"
EXISTING = {
    "given_name": "Zoë",
    "family_name": "O'Neill",
    "sex": "female",
    "birth_date": "1979-11-02",
    "phone": "+1 (555) 010-7788",
    "email": "zoe.oneill@example.org",
}


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def roles(session):
    accounts.ensure_roles(session)


def _form(**changes) -> dict:
    form = {
        "given_name": "Zoe",
        "family_name": "oneill",
        "sex": "female",
        "birth_date": "1979-11-02",
        "phone": "555 010 7788",
        "email": "z.o@example.net",
        "username": "zoe.o",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "consent": "on",
    }
    form.update(changes)
    return form


def outbox() -> list[dict]:
    """The mails sent so far (the file sender's outbox under HMS_DATA_DIR), oldest first."""
    path = get_settings().data_dir / "outbox.log"
    if not path.exists():
        return []
    mails = []
    for block in path.read_text().split("--- ")[1:]:
        head, subject, body = block.split("\n", 2)
        mails.append(
            {"to": head.split(" to ", 1)[1], "subject": subject.removeprefix("Subject: "), "body": body}
        )
    return mails


def link_token(mail: dict) -> str:
    return re.search(r"/portal/signup/confirm\?token=([\w-]+)", mail["body"]).group(1)


def _request(session, form: dict, *, browser: str = "tab-1", ip: str = "198.51.100.7") -> str:
    return portal_accounts.request_signup(session, form=form, client_ip=ip, browser_key=browser)


def _sign_up(session, form: dict, *, browser: str = "tab-1", ip: str = "198.51.100.7"):
    """Ask, then follow the mailed link: the account exists from then on."""
    assert _request(session, form, browser=browser, ip=ip) == portal_accounts.CHECK_MAIL
    result = portal_accounts.confirm_signup(session, token=link_token(outbox()[-1]), client_ip=ip)
    token = security.sign_in(session, username=result.username, password=form["password"]).token
    return result, token


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _signups(session, action: str = "portal.signup_confirm") -> list[tuple[str, int | None, str]]:
    rows = session.execute(
        select(AuditEvent.outcome, AuditEvent.patient_id, AuditEvent.detail)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.id)
    ).all()
    return [(outcome, patient_id, detail or "") for outcome, patient_id, detail in rows]


def test_a_returning_patient_gets_a_record_of_their_own_until_the_desk_checks_their_id(session, roles):
    """Knowing someone's name, birth date and phone must never open their record."""
    existing = patients.register_patient(session, actor=SYSTEM_ACTOR, data=EXISTING)
    result, token = _sign_up(session, _form())
    assert result.message == portal_accounts.ACCOUNT_MESSAGE and result.username == "zoe.o"
    actor = security.resolve_session(session, token=token)
    assert actor is not None and actor.patient_id not in (None, existing.id)
    assert actor.roles == frozenset({"patient"}) and actor.can("portal.self")
    assert not actor.can("patient.read")
    user = session.execute(select(AppUser).where(AppUser.username == "zoe.o")).scalar_one()
    assert user.email == "z.o@example.net" and user.display_name == "Zoe oneill"
    [(outcome, patient_id, detail)] = _signups(session)
    assert (outcome, patient_id) == ("success", actor.patient_id)
    assert f"likely the same person as patient {existing.id}" in detail and "ip=198.51.100.7" in detail
    assert "tab-1" not in detail  # the browser's key itself never reaches the audit trail

    # At the desk: ID checked, the clerk merges the new record into the earlier one, and the
    # account now opens the earlier record.
    patients.merge_patients(
        session, actor=SYSTEM_ACTOR, survivor_id=existing.id, merged_id=actor.patient_id, reason="ID checked"
    )
    session.expire_all()
    assert security.resolve_session(session, token=token).patient_id == existing.id


def test_a_new_visitor_gets_a_new_record(session, roles):
    patients.register_patient(session, actor=SYSTEM_ACTOR, data=EXISTING)
    _result, token = _sign_up(session, _form(given_name="Zelda", username="zelda"))
    actor = security.resolve_session(session, token=token)
    record = session.get(Patient, actor.patient_id)
    assert (record.given_name, record.family_name, record.phone) == ("Zelda", "oneill", "555 010 7788")
    assert record.mrn and patients.is_valid_mrn(record.mrn)
    assert _count(session, Patient) == 2
    [(outcome, patient_id, detail)] = _signups(session)
    assert outcome == "success" and patient_id == record.id and "new patient record" in detail
    assert "likely the same person" not in detail
    created_by = session.execute(
        select(AuditEvent.username).where(
            AuditEvent.action == "patient.create", AuditEvent.patient_id == record.id
        )
    ).scalar_one()
    assert created_by == "portal.signup"


@pytest.mark.parametrize(
    "changes",
    [
        {"phone": "555 999 0000", "email": "other@example.org"},  # neither contact matches
        {"birth_date": "1979-11-03"},  # a day out
        {"family_name": "Neill"},  # another name
    ],
    ids=["no-contact-match", "other-birth-date", "other-name"],
)
def test_a_partial_match_is_not_pointed_out_to_the_desk(session, roles, changes):
    existing = patients.register_patient(session, actor=SYSTEM_ACTOR, data=EXISTING)
    _result, token = _sign_up(session, _form(**changes))
    assert security.resolve_session(session, token=token).patient_id != existing.id
    [(_outcome, _patient_id, detail)] = _signups(session)
    assert "likely the same person" not in detail


def test_the_email_alone_points_to_the_earlier_record_when_the_phone_differs(session, roles):
    existing = patients.register_patient(session, actor=SYSTEM_ACTOR, data=EXISTING)
    _result, token = _sign_up(session, _form(phone="555 123 4567", email="ZOE.ONEILL@example.org"))
    assert security.resolve_session(session, token=token).patient_id != existing.id
    [(_outcome, _patient_id, detail)] = _signups(session)
    assert f"likely the same person as patient {existing.id}" in detail


def test_merged_and_deceased_records_are_not_pointed_out(session, roles):
    existing = patients.register_patient(session, actor=SYSTEM_ACTOR, data=EXISTING)
    session.execute(update(Patient).where(Patient.id == existing.id).values(deceased_at=func.now()))
    session.commit()
    _result, token = _sign_up(session, _form())
    assert security.resolve_session(session, token=token).patient_id != existing.id
    [(_outcome, _patient_id, detail)] = _signups(session)
    assert "likely the same person" not in detail


# --------------------------------------------------------------------------- item 10: no enumeration


def test_nothing_is_created_until_the_mailed_link_is_followed_and_the_link_works_once(session, roles):
    assert _request(session, _form()) == portal_accounts.CHECK_MAIL
    assert (_count(session, Patient), _count(session, AppUser)) == (0, 0)
    [mail] = outbox()
    assert mail["to"] == "z.o@example.net" and "zoe.o" in mail["body"]
    token = link_token(mail)
    stored = session.execute(select(SignupRequest)).scalar_one()
    assert token not in stored.form and token not in stored.token_hash and PASSWORD not in stored.form
    portal_accounts.confirm_signup(session, token=token)
    assert (_count(session, Patient), _count(session, AppUser)) == (1, 1)
    for reused in (token, token[:-1] + "x", "short"):
        with pytest.raises(DomainError, match="expired or has already been used"):
            portal_accounts.confirm_signup(session, token=reused)
    assert (_count(session, Patient), _count(session, AppUser)) == (1, 1)


def test_a_link_runs_out_after_a_day(session, roles, monkeypatch):
    from datetime import timedelta

    _request(session, _form())
    later = portal_accounts.utcnow() + timedelta(hours=portal_accounts.LINK_HOURS, minutes=1)
    monkeypatch.setattr(portal_accounts, "utcnow", lambda: later)
    with pytest.raises(DomainError, match="expired"):
        portal_accounts.confirm_signup(session, token=link_token(outbox()[-1]))
    assert _count(session, AppUser) == 0


def test_a_taken_email_or_username_gets_the_same_answer_and_only_the_mailbox_learns_why(session, roles):
    """The form's answer is the same whether the address or the username exists: only the
    address's owner reads, in the mail, that an account exists or the name is taken."""
    _sign_up(session, _form())
    patients_before, users_before = _count(session, Patient), _count(session, AppUser)
    answers = [
        _request(session, _form(username="ZOE.O", email="new@example.org"), browser="tab-2"),
        _request(session, _form(username="zoe.new", email="Z.O@example.net"), browser="tab-2"),
        _request(session, _form(username="fresh.name", email="fresh@example.org"), browser="tab-2"),
    ]
    assert answers == [portal_accounts.CHECK_MAIL] * 3
    taken_name, taken_address, fresh = outbox()[-3:]
    assert taken_name["to"] == "new@example.org" and "already taken" in taken_name["body"]
    assert "token=" not in taken_name["body"]
    assert taken_address["to"] == "z.o@example.net" and "already exists" in taken_address["body"]
    assert "token=" not in taken_address["body"]
    assert "token=" in fresh["body"]
    assert (_count(session, Patient), _count(session, AppUser)) == (patients_before, users_before)
    outcomes = [(o, d.split(" ", 2)[2]) for o, _p, d in _signups(session, "portal.signup")][1:]
    assert outcomes == [
        ("failure", "username taken: notice mailed"),
        ("failure", "email taken: notice mailed"),
        ("success", "confirmation link mailed"),
    ]


def test_a_username_taken_between_the_mail_and_the_click_is_told_to_the_link_holder(session, roles):
    _request(session, _form())
    first = link_token(outbox()[-1])
    _request(session, _form(email="other@example.org"), browser="tab-2")
    portal_accounts.confirm_signup(session, token=link_token(outbox()[-1]))
    with pytest.raises(DomainError, match="was created after you signed up"):
        portal_accounts.confirm_signup(session, token=first)
    assert _count(session, AppUser) == 1


def test_the_password_is_hashed_even_when_nothing_will_be_created(session, roles, monkeypatch):
    """A taken address must not answer faster than a new one (the hash is the slow part)."""
    _sign_up(session, _form())
    hashed = []
    real = security.hash_password
    monkeypatch.setattr(security, "hash_password", lambda p: hashed.append(p) or real(p))
    _request(session, _form(username="zoe.new"), browser="tab-2")
    _request(session, _form(username="zoe.o", email="x@example.org"), browser="tab-2")
    assert len(hashed) == 2


# --------------------------------------------------------------------------- item 20: every field at once


def test_every_wrong_field_is_named_at_once_and_nothing_is_written(session, roles):
    form = _form(
        given_name="<script>",
        sex="robot",
        birth_date="yesterday",
        phone="12",
        email="",
        username="Zo",
        password="short1",
        password_confirm="other",
        consent="",
    )
    with pytest.raises(InvalidFields) as errors:
        _request(session, form)
    fields = errors.value.errors
    assert list(fields) == [
        "given_name",
        "sex",
        "birth_date",
        "phone",
        "email",
        "username",
        "password",
        "password_confirm",
        "consent",
    ]
    assert "letters" in fields["given_name"] and "Choose the sex" in fields["sex"]
    assert "date like" in fields["birth_date"] and "7 to 15 digits" in fields["phone"]
    assert fields["email"] == "Email is required." and "3 to 60" in fields["username"]
    assert "at least 10" in fields["password"] and "not the same" in fields["password_confirm"]
    assert "accept the terms" in fields["consent"]
    assert _count(session, Patient) == 0 and _count(session, AppUser) == 0 and outbox() == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"password": "short1", "password_confirm": "short1"}, "password", "at least 10 characters"),
        ({"password": "zoe.o-12345678", "password_confirm": "zoe.o-12345678"}, "password", "username"),
        ({"password_confirm": PASSWORD + "x"}, "password_confirm", "not the same"),
        ({"consent": ""}, "consent", "accept the terms"),
        ({"username": "Zo"}, "username", "3 to 60 characters"),
        ({"email": ""}, "email", "Email is required"),
        ({"phone": ""}, "phone", "Phone is required"),
        ({"phone": "12"}, "phone", "7 to 15 digits"),
        ({"birth_date": "2999-01-01"}, "birth_date", "future"),
        ({"birth_date": "yesterday"}, "birth_date", "date like"),
        ({"sex": "robot"}, "sex", "Choose the sex"),
        ({"given_name": "<script>"}, "given_name", "letters"),
    ],
)
def test_each_wrong_field_is_named_and_nothing_is_written(session, roles, changes, field, message):
    with pytest.raises(InvalidFields) as error:
        _request(session, _form(**changes))
    assert list(error.value.errors) == [field] and message in error.value.errors[field]
    assert _count(session, Patient) == 0 and _count(session, AppUser) == 0


def test_children_register_at_the_desk(session, roles):
    from datetime import date

    today = date.today()
    with pytest.raises(InvalidFields, match="aged 16 or over"):
        _request(session, _form(birth_date=f"{today.year - 10}-01-01"))


# --------------------------------------------------------------------------- item 11: limits


def test_attempts_are_limited_per_browser_and_per_network_address(session, roles, monkeypatch):
    for number in range(portal_accounts.BROWSER_LIMIT):
        _request(session, _form(username=f"user{number}", email=f"u{number}@example.org"), browser="tab-a")
    with pytest.raises(DomainError, match="Too many sign-up attempts") as refused:
        _request(session, _form(username="user-late", email="late@example.org"), browser="tab-a")
    assert "15 minutes" in str(refused.value)
    assert not session.execute(select(SignupRequest.id).where(SignupRequest.username == "user-late")).first()
    assert _signups(session, "portal.signup")[-1][0] == "refused"
    # Another browser on the same network may go on, up to the address's own limit.
    _request(session, _form(username="user-b", email="b@example.org"), browser="tab-b")
    monkeypatch.setattr(portal_accounts, "ADDRESS_LIMIT", portal_accounts.BROWSER_LIMIT + 1)
    with pytest.raises(DomainError, match="60 minutes"):
        _request(session, _form(username="user-c", email="c@example.org"), browser="tab-c")
    # A different network is not affected by either.
    _request(session, _form(username="user-d", email="d@example.org"), browser="tab-d", ip="203.0.113.9")


def test_a_taken_address_counts_towards_the_limits_like_a_new_one(session, roles):
    _sign_up(session, _form(), browser="tab-x")
    for _ in range(portal_accounts.BROWSER_LIMIT - 1):
        _request(session, _form(username="someone.else"), browser="tab-a")  # the address is taken
    _request(session, _form(username="new.one", email="n1@example.org"), browser="tab-a")
    with pytest.raises(DomainError, match="Too many"):
        _request(session, _form(username="new.two", email="n2@example.org"), browser="tab-a")


def test_browser_keys_are_issued_by_the_server():
    keys = {portal_accounts.new_browser_key() for _ in range(50)}
    assert len(keys) == 50 and all(len(k) >= 20 for k in keys)


def test_nothing_half_written_stays_when_the_last_step_fails(session, roles, monkeypatch):
    _request(session, _form())

    def broken_create_user(*_args, **_kwargs):
        raise RuntimeError("account store unavailable")

    monkeypatch.setattr(accounts, "create_user", broken_create_user)
    with pytest.raises(RuntimeError):
        portal_accounts.confirm_signup(session, token=link_token(outbox()[-1]))
    session.expire_all()
    assert _count(session, Patient) == 0
    assert _count(session, AppUser) == 0
    assert _signups(session) == []
    # The link was not used up by the failure: it works once the store is back.
    monkeypatch.undo()
    portal_accounts.confirm_signup(session, token=link_token(outbox()[-1]))
    assert _count(session, AppUser) == 1


def test_when_patients_must_use_two_factor_the_new_account_signs_in_normally(session, roles):
    session.execute(update(Role).where(Role.name == "patient").values(mfa_required=True))
    session.commit()
    _request(session, _form())
    result = portal_accounts.confirm_signup(session, token=link_token(outbox()[-1]))
    signed_in = security.sign_in(session, username=result.username, password=PASSWORD)
    assert signed_in.stage == "enrol"
    assert security.resolve_session(session, token=signed_in.token) is None  # not a live session yet
    assert _count(session, UserSession) == 1
