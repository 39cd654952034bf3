"""The services behind the audit page's "Verify chain" and the account page."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from hms_app.errors import Forbidden, InvalidFields, NotSignedIn
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services import accounts, security
from hms_app.services.audit import verify_audit_chain
from hms_app.services.audit_chain import seal_all
from hms_app.services.permissions import SYSTEM_ACTOR


def _signed_in(session, username: str, roles: list[str]):
    accounts.ensure_roles(session)
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username=username,
        display_name=username.title(),
        password="Ward-round-42",
        roles=roles,
    )
    token = security.sign_in(session, username=username, password="Ward-round-42").token
    return security.resolve_session(session, token=token, screen="/admin/audit")


def test_verify_audit_chain_reports_an_intact_chain_and_is_itself_audited(session):
    auditor = _signed_in(session, "ada", ["admin"])
    rows_before = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    report = verify_audit_chain(session, actor=auditor)  # seals what waits, then checks it all
    assert report.ok and report.rows_checked == rows_before
    last = session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    assert (last.action, last.username, last.outcome, last.screen) == (
        "audit.verify",
        "ada",
        "success",
        "/admin/audit",
    )
    assert last.detail == f"audit chain intact: {rows_before} rows"


def test_verify_audit_chain_names_the_altered_row_and_records_a_failure(session):
    auditor = _signed_in(session, "ada", ["admin"])
    seal_all(session)
    session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(detail="covered up"))
    session.commit()
    report = verify_audit_chain(session, actor=auditor)
    assert not report.ok and report.first_bad_seq == 2 and report.rows_checked == 1
    last = session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    assert last.action == "audit.verify" and last.outcome == "failure"
    assert last.detail == "row 2 was altered after it was sealed; rows checked before it: 1"


def test_verify_audit_chain_refuses_a_role_without_audit_read(session):
    nurse = _signed_in(session, "nina", ["nurse"])
    before = session.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc())).scalars().first()
    with pytest.raises(Forbidden):
        verify_audit_chain(session, actor=nurse)
    after = session.execute(select(AuditEvent.id).order_by(AuditEvent.id.desc())).scalars().first()
    assert after == before


def test_own_account_shows_roles_and_follows_mfa_enrolment_and_policy(session):
    nurse = _signed_in(session, "nina", ["nurse", "receptionist"])
    account = accounts.get_own_account(session, actor=nurse)
    assert (account.username, account.roles, account.mfa_enabled, account.mfa_required) == (
        "nina",
        ("nurse", "receptionist"),
        False,
        False,
    )
    accounts.set_role_mfa_required(session, actor=SYSTEM_ACTOR, role="receptionist", required=True)
    assert accounts.get_own_account(session, actor=nurse).mfa_required
    import pyotp

    enrolment = security.begin_mfa_enrolment(session, actor=nurse)
    security.confirm_mfa_enrolment(session, actor=nurse, code=pyotp.TOTP(enrolment.secret).now())
    assert accounts.get_own_account(session, actor=nurse).mfa_enabled


def test_own_account_needs_a_signed_in_user(session):
    with pytest.raises(NotSignedIn):
        accounts.get_own_account(session, actor=None)


def test_a_new_user_form_gets_every_field_message_at_once_and_nothing_is_created(session):
    admin = _signed_in(session, "ada", ["admin"])
    before = session.execute(select(func.count()).select_from(AppUser)).scalar_one()
    with pytest.raises(InvalidFields) as caught:
        accounts.create_user(
            session,
            actor=admin,
            username="X!",
            display_name=" ",
            password="short",
            roles=[],
            email="nobody@",
        )
    assert caught.value.errors == {
        "username": "The username must be 3 to 60 characters: lowercase letters, digits, dots, dashes or "
        "underscores.",
        "display_name": "Enter the person's full name (up to 120 characters).",
        "email": "That email address does not look right.",
        "roles": "Choose at least one role.",
        "password": "The password must be at least 10 characters long.",
    }
    assert session.execute(select(func.count()).select_from(AppUser)).scalar_one() == before
