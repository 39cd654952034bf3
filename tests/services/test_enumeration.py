"""Issue 11, item 10: no answer tells an outsider what exists. An unknown username locks like a
real one, a disabled account answers a right password as a wrong one, and a patient asking for
someone else's appointment or document is told exactly what they are told about an id that is
not there (the refusal is still audited)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hms_app.errors import DomainError, NotFound, Withheld
from hms_app.models.security import AuditEvent, SignInThrottle
from hms_app.services import security
from hms_app.services.emr.documents import open_document
from hms_app.services.scheduling.booking import (
    cancel_appointment,
    portal_change_refusal,
    reschedule_appointment,
)
from hms_app.services.scheduling.lists import get_appointment
from hms_app.services.scheduling.waitlist import accept_offer
from hms_app.settings import get_settings
from tests.services.test_billing import world  # noqa: F401  (a fixture)
from tests.services.test_portal_isolation import two_patients  # noqa: F401  (a fixture)
from tests.services.test_scheduling import book, clinic, portal  # noqa: F401  (clinic is a fixture)
from tests.services.test_security import (  # noqa: F401  (roles, clock, fast_hasher are fixtures)
    PASSWORD,
    WRONG,
    clock,
    fast_hasher,
    make_user,
    roles,
)

# --------------------------------------------------------------------------- sign-in


def _answers(session, username: str, password: str, times: int) -> list[str]:
    answers = []
    for _ in range(times):
        with pytest.raises(DomainError) as refused:
            security.sign_in(session, username=username, password=password)
        answers.append(str(refused.value))
    return answers


def test_an_unknown_username_locks_after_as_many_tries_as_a_real_one_and_answers_the_same(roles, clock):  # noqa: F811
    attempts = get_settings().lockout_attempts
    make_user(roles, "nina")
    real = _answers(roles, "nina", WRONG, attempts + 1)
    invented = _answers(roles, "nobody.here", WRONG, attempts + 1)
    assert invented == real
    assert "locked" in invented[-2] and "locked" in invented[-1]
    assert invented[:-2] == ["Wrong username or password."] * (attempts - 1)
    # Even the right password of nobody gets the lock answer while the lock lasts; then it runs out.
    clock.advance(minutes=get_settings().lockout_minutes, seconds=1)
    assert _answers(roles, "nobody.here", PASSWORD, 1) == ["Wrong username or password."]
    failures = [
        r.detail
        for r in roles.execute(
            select(AuditEvent).where(
                AuditEvent.action == "auth.sign_in", AuditEvent.username == "nobody.here"
            )
        ).scalars()
    ]
    assert failures.count("unknown username; locked") == 1 and len(failures) == attempts + 2
    assert roles.execute(select(SignInThrottle.username)).scalars().all() == ["nobody.here"]


def test_throttle_rows_of_names_nobody_tried_for_a_day_are_forgotten(roles, clock):  # noqa: F811
    _answers(roles, "gone.name", WRONG, 1)
    clock.advance(days=1, minutes=1)
    _answers(roles, "other.name", WRONG, 1)
    assert roles.execute(select(SignInThrottle.username)).scalars().all() == ["other.name"]


def test_a_disabled_account_answers_its_right_password_as_a_wrong_one_and_locks_alike(roles):  # noqa: F811
    attempts = get_settings().lockout_attempts
    make_user(roles, "active.one")
    user = make_user(roles, "gone.one")
    user.is_active = False
    roles.add(user)
    roles.commit()
    right_password_of_disabled = _answers(roles, "gone.one", PASSWORD, attempts + 1)
    wrong_password_of_active = _answers(roles, "active.one", WRONG, attempts + 1)
    assert right_password_of_disabled == wrong_password_of_active
    assert not any("disabled" in answer for answer in right_password_of_disabled)
    details = roles.execute(
        select(AuditEvent.detail).where(AuditEvent.username == "gone.one", AuditEvent.outcome == "failure")
    ).scalars()
    assert "account disabled" in list(details)  # the auditor still sees why


# --------------------------------------------------------------------------- appointments


def test_someone_elses_appointment_is_answered_as_a_missing_one(session, clinic):  # noqa: F811
    mine = portal(clinic.patients[0])
    theirs = book(session, clinic, 9, 0, patient=1)
    missing_id = theirs.id + 999
    calls = [
        lambda appointment_id: get_appointment(session, actor=mine, appointment_id=appointment_id),
        lambda appointment_id: portal_change_refusal(session, actor=mine, appointment_id=appointment_id),
        lambda appointment_id: cancel_appointment(
            session, actor=mine, appointment_id=appointment_id, reason="not mine"
        ),
        lambda appointment_id: reschedule_appointment(
            session, actor=mine, appointment_id=appointment_id, start_at=clinic.at(15)
        ),
        lambda appointment_id: accept_offer(session, actor=mine, appointment_id=appointment_id),
    ]
    for call in calls:
        with pytest.raises(NotFound) as existing:
            call(theirs.id)
        session.rollback()
        with pytest.raises(NotFound) as absent:
            call(missing_id)
        session.rollback()
        assert isinstance(existing.value, Withheld) and not isinstance(absent.value, Withheld)
        assert str(existing.value) == str(absent.value) == "That appointment does not exist."


# --------------------------------------------------------------------------- documents


def test_someone_elses_document_is_answered_as_a_missing_one(session, two_patients):  # noqa: F811
    me, theirs = two_patients["me"], two_patients["b"]
    with pytest.raises(NotFound) as existing:
        open_document(session, actor=me, document_id=theirs["document"])
    session.rollback()
    with pytest.raises(NotFound) as absent:
        open_document(session, actor=me, document_id=theirs["document"] + 999)
    session.rollback()
    assert isinstance(existing.value, Withheld) and not isinstance(absent.value, Withheld)
    assert str(existing.value) == str(absent.value) == "That document does not exist."


def test_a_role_without_the_permission_is_refused_before_the_id_is_looked_up(session, two_patients):  # noqa: F811
    from hms_app.errors import Forbidden
    from hms_app.services.permissions import Actor

    porter = Actor(user_id=5, username="porter", roles=frozenset({"porter"}), permissions=frozenset())
    answers = set()
    for document_id in (two_patients["b"]["document"], two_patients["b"]["document"] + 999):
        with pytest.raises(Forbidden) as refused:
            open_document(session, actor=porter, document_id=document_id)
        answers.add(str(refused.value))
        session.rollback()
    assert len(answers) == 1


def test_lockout_minutes_round_like_a_real_account(roles, clock):  # noqa: F811
    """The lock text names the same minutes for an invented name as for a real account."""
    make_user(roles, "nina")
    attempts = get_settings().lockout_attempts
    _answers(roles, "nina", WRONG, attempts)
    _answers(roles, "ghost", WRONG, attempts)
    clock.advance(minutes=3)
    assert _answers(roles, "ghost", WRONG, 1) == _answers(roles, "nina", WRONG, 1)
