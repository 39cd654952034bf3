"""Files sent with secure messages over HTTP: staff who answer messages get any thread's file, a
patient only their own thread's (another patient's is answered exactly as a missing one, and the
refusal is audited), roles without the permission are refused, and every read is audited."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from starlette.testclient import TestClient

from hms_app.api.routes import SESSION_COOKIE, build_api
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services import accounts, messaging, patients, security
from hms_app.services.messaging import NewFile
from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor

PASSWORD = "Ward-round-42"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 80


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def client(configured_db):
    with TestClient(build_api()) as test_client:
        yield test_client


def portal_account(session, given: str) -> tuple[Actor, str]:
    """A patient with a portal account: the acting patient and a signed-in session token."""
    accounts.ensure_roles(session)
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": given, "family_name": "Files", "sex": "female", "birth_date": "1975-02-03"},
    )
    username = f"{given.lower()}{patient.id}"
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username=username,
        display_name=given,
        password=PASSWORD,
        roles=["patient"],
        patient_id=patient.id,
    )
    user_id = session.execute(select(AppUser.id).where(AppUser.username == username)).scalar_one()
    actor = Actor(
        user_id=user_id,
        username=username,
        roles=frozenset({"patient"}),
        permissions=DEFAULT_GRANTS["patient"],
        patient_id=patient.id,
    )
    return actor, security.sign_in(session, username=username, password=PASSWORD).token


def attachment_of(session, actor: Actor) -> int:
    """A thread the patient started with a photo: the photo's id."""
    thread_id = messaging.start_thread(
        session,
        actor=actor,
        subject="Photo",
        body="See the photo",
        upload=NewFile("arm.png", "image/png", PNG),
    )
    return messaging.open_thread(session, actor=actor, thread_id=thread_id).messages[0].attachments[0].id


def attachment_url(session, prefix: str) -> str:
    """For the route guards' examples: a real attachment behind ``prefix``."""
    actor, _token = portal_account(session, "Ada")
    return f"{prefix}/{attachment_of(session, actor)}"


def staff_token(session, username: str, role: str) -> str:
    accounts.ensure_roles(session)
    accounts.create_user(
        session, actor=SYSTEM_ACTOR, username=username, display_name=username, password=PASSWORD, roles=[role]
    )
    return security.sign_in(session, username=username, password=PASSWORD).token


def _denials(session) -> list[str]:
    session.expire_all()
    return list(
        session.execute(select(AuditEvent.detail).where(AuditEvent.action == "access.denied")).scalars()
    )


def test_staff_who_answer_messages_download_a_file_and_the_read_is_audited(client, session):
    paula, _ = portal_account(session, "Paula")
    file_id = attachment_of(session, paula)
    token = staff_token(session, "nina", "nurse")
    session.commit()
    response = client.get(
        f"/api/messages/attachments/{file_id}", headers={"cookie": f"{SESSION_COOKIE}={token}"}
    )
    assert response.status_code == 200 and response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"] == 'attachment; filename="arm.png"'
    assert (
        "no-store" in response.headers["cache-control"]
        and response.headers["x-content-type-options"] == "nosniff"
    )
    session.expire_all()
    reads = session.execute(
        select(AuditEvent.username, AuditEvent.patient_id, AuditEvent.target_id).where(
            AuditEvent.action == "message.attachment_read"
        )
    ).all()
    assert reads == [("nina", paula.patient_id, str(file_id))]


def test_a_patient_gets_their_own_threads_file_and_never_another_patients(client, session):
    paula, paula_token = portal_account(session, "Paula")
    otto, otto_token = portal_account(session, "Otto")
    paulas = attachment_of(session, paula)
    ottos = attachment_of(session, otto)
    session.commit()
    cookie = {"cookie": f"{SESSION_COOKIE}={paula_token}"}
    assert client.get(f"/api/portal/messages/attachments/{paulas}", headers=cookie).content == PNG
    refused = client.get(f"/api/portal/messages/attachments/{ottos}", headers=cookie)
    missing = client.get(f"/api/portal/messages/attachments/{ottos + 1000}", headers=cookie)
    assert refused.status_code == missing.status_code == 404
    assert refused.json() == missing.json() == {"error": messaging.ATTACHMENT_MISSING}
    assert PNG not in refused.content
    assert any(f"/api/portal/messages/attachments/{ottos}: withheld" in d for d in _denials(session))
    session.commit()
    # The staff route is not a patient's way in, and Otto still gets his own.
    assert client.get(f"/api/messages/attachments/{ottos}", headers=cookie).status_code == 403
    other = client.get(
        f"/api/portal/messages/attachments/{ottos}", headers={"cookie": f"{SESSION_COOKIE}={otto_token}"}
    )
    assert other.status_code == 200


def test_a_role_without_message_access_is_refused_and_it_is_audited(client, session):
    paula, _ = portal_account(session, "Paula")
    file_id = attachment_of(session, paula)
    token = staff_token(session, "lab", "lab_technician")
    session.commit()
    response = client.get(
        f"/api/messages/attachments/{file_id}", headers={"cookie": f"{SESSION_COOKIE}={token}"}
    )
    assert response.status_code == 403 and PNG not in response.content
    assert any("needs message.staff" in d for d in _denials(session))
    assert client.get(f"/api/messages/attachments/{file_id}").status_code == 401
