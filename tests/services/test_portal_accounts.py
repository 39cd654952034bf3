"""Self sign-up for the portal: who gets linked to which record, what the visitor is told, limits."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from hms_app.errors import Conflict, DomainError, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, AuditEvent, Role, UserSession
from hms_app.services import accounts, patients, portal_accounts, security
from hms_app.services.permissions import SYSTEM_ACTOR

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


def _sign_up(session, form: dict, *, browser: str = "tab-1", ip: str = "198.51.100.7"):
    return portal_accounts.sign_up(session, form=form, client_ip=ip, client_token=browser)


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _signups(session) -> list[tuple[str, int | None, str]]:
    rows = session.execute(
        select(AuditEvent.outcome, AuditEvent.patient_id, AuditEvent.detail)
        .where(AuditEvent.action == "portal.signup")
        .order_by(AuditEvent.id)
    ).all()
    return [(outcome, patient_id, detail or "") for outcome, patient_id, detail in rows]


def test_a_returning_patient_gets_a_record_of_their_own_until_the_desk_checks_their_id(session, roles):
    """Knowing someone's name, birth date and phone must never open their record."""
    existing = patients.register_patient(session, actor=SYSTEM_ACTOR, data=EXISTING)
    result = _sign_up(session, _form())
    assert result.stage == "active" and result.home == "/portal"
    assert result.message == portal_accounts.ACCOUNT_MESSAGE
    actor = security.resolve_session(session, token=result.token)
    assert actor is not None and actor.patient_id not in (None, existing.id)
    assert actor.roles == frozenset({"patient"}) and actor.can("portal.self")
    assert not actor.can("patient.read")
    user = session.execute(select(AppUser).where(AppUser.username == "zoe.o")).scalar_one()
    assert user.email == "z.o@example.net" and user.display_name == "Zoe oneill"
    [(outcome, patient_id, detail)] = _signups(session)
    assert (outcome, patient_id) == ("success", actor.patient_id)
    assert f"likely the same person as patient {existing.id}" in detail and "ip=198.51.100.7" in detail
    assert "tab-1" not in detail  # the browser's token itself never reaches the audit trail

    # At the desk: ID checked, the clerk merges the new record into the earlier one, and the
    # account now opens the earlier record.
    patients.merge_patients(
        session, actor=SYSTEM_ACTOR, survivor_id=existing.id, merged_id=actor.patient_id, reason="ID checked"
    )
    session.expire_all()
    assert security.resolve_session(session, token=result.token).patient_id == existing.id


def test_a_new_visitor_gets_a_new_record_and_is_told_exactly_the_same(session, roles):
    patients.register_patient(session, actor=SYSTEM_ACTOR, data=EXISTING)
    result = _sign_up(session, _form(given_name="Zelda", username="zelda"))
    assert result.message == portal_accounts.ACCOUNT_MESSAGE
    actor = security.resolve_session(session, token=result.token)
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
    result = _sign_up(session, _form(**changes))
    actor = security.resolve_session(session, token=result.token)
    assert actor.patient_id != existing.id
    assert result.message == portal_accounts.ACCOUNT_MESSAGE
    [(_outcome, _patient_id, detail)] = _signups(session)
    assert "likely the same person" not in detail


def test_the_email_alone_points_to_the_earlier_record_when_the_phone_differs(session, roles):
    existing = patients.register_patient(session, actor=SYSTEM_ACTOR, data=EXISTING)
    result = _sign_up(session, _form(phone="555 123 4567", email="ZOE.ONEILL@example.org"))
    assert security.resolve_session(session, token=result.token).patient_id != existing.id
    [(_outcome, _patient_id, detail)] = _signups(session)
    assert f"likely the same person as patient {existing.id}" in detail


def test_merged_and_deceased_records_are_not_pointed_out(session, roles):
    existing = patients.register_patient(session, actor=SYSTEM_ACTOR, data=EXISTING)
    session.execute(update(Patient).where(Patient.id == existing.id).values(deceased_at=func.now()))
    session.commit()
    result = _sign_up(session, _form())
    assert security.resolve_session(session, token=result.token).patient_id != existing.id
    [(_outcome, _patient_id, detail)] = _signups(session)
    assert "likely the same person" not in detail


def test_a_taken_username_or_email_is_refused_clearly_and_writes_nothing(session, roles):
    _sign_up(session, _form())
    patients_before, users_before = _count(session, Patient), _count(session, AppUser)
    with pytest.raises(Conflict, match="That username is taken") as taken:
        _sign_up(session, _form(username="ZOE.O", email="new@example.org"), browser="tab-2")
    assert taken.value.field == "username"
    with pytest.raises(Conflict, match="An account with this email address already exists") as email:
        _sign_up(session, _form(username="zoe.new", email="Z.O@example.net"), browser="tab-2")
    assert email.value.field == "email"
    assert (_count(session, Patient), _count(session, AppUser)) == (patients_before, users_before)
    outcomes = [(outcome, detail.rsplit(" ", 2)[-2:]) for outcome, _p, detail in _signups(session)]
    assert outcomes[1:] == [("failure", ["username", "taken"]), ("failure", ["email", "taken"])]


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
    with pytest.raises(ValidationError, match=message) as error:
        _sign_up(session, _form(**changes))
    assert error.value.field == field
    assert _count(session, Patient) == 0 and _count(session, AppUser) == 0


def test_children_register_at_the_desk(session, roles):
    from datetime import date

    today = date.today()
    with pytest.raises(ValidationError, match="aged 16 or over"):
        _sign_up(session, _form(birth_date=f"{today.year - 10}-01-01"))


def test_attempts_are_limited_per_browser_and_per_network_address(session, roles, monkeypatch):
    for number in range(portal_accounts.BROWSER_LIMIT):
        _sign_up(session, _form(username=f"user{number}", email=f"u{number}@example.org"), browser="tab-a")
    with pytest.raises(DomainError, match="Too many sign-up attempts") as refused:
        _sign_up(session, _form(username="user-late", email="late@example.org"), browser="tab-a")
    assert "15 minutes" in str(refused.value)
    assert not session.execute(select(AppUser.id).where(AppUser.username == "user-late")).first()
    assert _signups(session)[-1][0] == "refused"
    # Another browser on the same network may go on, up to the address's own limit.
    _sign_up(session, _form(username="user-b", email="b@example.org"), browser="tab-b")
    monkeypatch.setattr(portal_accounts, "ADDRESS_LIMIT", portal_accounts.BROWSER_LIMIT + 1)
    with pytest.raises(DomainError, match="60 minutes"):
        _sign_up(session, _form(username="user-c", email="c@example.org"), browser="tab-c")
    # A different network is not affected by either.
    _sign_up(session, _form(username="user-d", email="d@example.org"), browser="tab-d", ip="203.0.113.9")


def test_nothing_half_written_stays_when_the_last_step_fails(session, roles, monkeypatch):
    def broken_sign_in(*_args, **_kwargs):
        raise RuntimeError("session store unavailable")

    monkeypatch.setattr(security, "sign_in", broken_sign_in)
    with pytest.raises(RuntimeError):
        _sign_up(session, _form())
    session.expire_all()
    assert _count(session, Patient) == 0
    assert _count(session, AppUser) == 0
    assert _count(session, UserSession) == 0
    assert _signups(session) == []


def test_when_patients_must_use_two_factor_the_new_account_signs_in_normally(session, roles):
    session.execute(update(Role).where(Role.name == "patient").values(mfa_required=True))
    session.commit()
    result = _sign_up(session, _form())
    assert result.stage == "enrol"
    assert security.resolve_session(session, token=result.token) is None  # not a live session yet
    assert session.execute(select(AppUser.id).where(AppUser.username == "zoe.o")).first()
