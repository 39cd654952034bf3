"""Every HTTP route in ROUTES is refused on the server without the right session.

The routes are enumerated from ``hms_app.api.routes.ROUTES`` (the list ``build_api``
mounts), so a route added later is covered without editing this file.
"""

from __future__ import annotations

import functools

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from starlette.testclient import TestClient

from hms_app.api import dicomweb as dicomweb_api
from hms_app.api import video as video_api
from hms_app.api.routes import ROUTES, SESSION_COOKIE, build_api
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, emr, patients, security
from hms_app.services.permissions import DEFAULT_GRANTS, PERMISSIONS, SYSTEM_ACTOR
from tests.api.test_message_attachments import attachment_url
from tests.services.radiology_images import a_patient, ct_study

PASSWORD = "Ward-round-42"
PUBLIC = [r for r in ROUTES if r.permission is None]
GUARDED = [r for r in ROUTES if r.permission is not None]
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _document_url(session, *, own_patient: bool = False) -> str:
    """A stored document, so that the documents routes have something real to serve."""
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Dana", "family_name": "Docs", "sex": "female", "birth_date": "1970-05-06"},
    )
    row = emr.store_document(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=patient.id,
        title="Discharge letter",
        content=PDF,
        content_type="application/pdf",
    )
    return str(row.id), patient.id


# A route with a path parameter needs an example that builds what it serves; a new such
# route fails test_every_parameterised_route_has_an_example until one is added here.
EXAMPLES = {
    "/api/documents/{document_id:int}": lambda session: "/api/documents/" + _document_url(session)[0],
    "/api/portal/documents/{document_id:int}": lambda session: (
        "/api/portal/documents/" + _document_url(session)[0]
    ),
    "/api/messages/attachments/{attachment_id:int}": lambda session: attachment_url(
        session, "/api/messages/attachments"
    ),
    "/api/portal/messages/attachments/{attachment_id:int}": lambda session: attachment_url(
        session, "/api/portal/messages/attachments"
    ),
}


def _dicomweb_url(session, path: str) -> str:
    """A route path of the DICOMweb routes with the UIDs of a stored one-slice CT study."""
    study = ct_study(session, patient_id=a_patient(session), slices=1, size=16, seed=path)
    uids = {"study": study.study_uid, "series": study.series_uids[0], "instance": study.sop_uids[0][0]}
    return path.format(frames="1", **uids)


EXAMPLES.update(
    {
        path: functools.partial(lambda path, session: _dicomweb_url(session, path), path)
        for path, _endpoint in dicomweb_api.ENDPOINTS
        if "{" in path
    }
)


def _url(route, session) -> str:
    return EXAMPLES[route.path](session) if "{" in route.path else route.path


def test_every_parameterised_route_has_an_example():
    assert {r.path for r in ROUTES if "{" in r.path} == set(EXAMPLES)


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def client(configured_db):
    with TestClient(build_api()) as test_client:
        yield test_client


def _session_of_role(session, role: str) -> str:
    accounts.ensure_roles(session)
    username = f"{role.replace('_', '-')}.user"
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username=username,
        display_name=role.title(),
        password=PASSWORD,
        roles=[role],
    )
    return security.sign_in(session, username=username, password=PASSWORD).token


def _role_with(permission: str) -> str:
    return next(role for role, grants in sorted(DEFAULT_GRANTS.items()) if permission in grants)


def _role_without(permission: str) -> str:
    return next(role for role, grants in sorted(DEFAULT_GRANTS.items()) if permission not in grants)


def test_routes_are_all_mounted_and_each_is_public_or_guarded_by_a_real_permission():
    mounted = {route.path for route in build_api().routes}
    # /fhir is a mount with guards of its own (bearer tokens and scopes): tests/api/test_fhir_*.py;
    # the video signalling WebSocket checks cookie, origin and the visit's two people:
    # tests/api/test_video_signalling.py
    assert mounted == {r.path for r in ROUTES} | {"/fhir", video_api.PATH}
    assert PUBLIC and GUARDED
    for route in ROUTES:
        assert route.permission is None or route.permission in PERMISSIONS, route.path


@pytest.mark.parametrize("route", PUBLIC, ids=lambda r: r.path)
def test_a_public_route_says_why_and_answers_without_a_session(route, client):
    assert route.why_public.strip(), f"{route.path} is public without a reason"
    response = client.get(route.path)
    assert response.status_code not in (401, 403)
    assert response.status_code < 500, response.text  # answered, not crashed


@pytest.mark.parametrize("route", GUARDED, ids=lambda r: r.path)
def test_a_guarded_route_needs_a_session(route, client, session):
    url = _url(route, session)
    assert client.get(url).status_code == 401
    bogus = client.get(url, headers={"cookie": f"{SESSION_COOKIE}=not-a-real-session-token"})
    assert bogus.status_code == 401
    assert "sign in" in bogus.json()["error"].lower()


@pytest.mark.parametrize("route", GUARDED, ids=lambda r: r.path)
def test_a_guarded_route_refuses_a_role_without_the_permission_and_audits_it(route, client, session):
    role = _role_without(route.permission)
    token = _session_of_role(session, role)
    url = _url(route, session)
    response = client.get(url, headers={"cookie": f"{SESSION_COOKIE}={token}"})
    assert response.status_code == 403, response.text
    session.expire_all()
    denied = session.execute(select(AuditEvent).where(AuditEvent.action == "access.denied")).scalars().all()
    assert [(r.roles, r.outcome, r.screen, r.detail) for r in denied] == [
        (role, "denied", url[:120], f"GET {route.path} needs {route.permission}")  # the screen column's width
    ]


@pytest.mark.parametrize("route", GUARDED, ids=lambda r: r.path)
def test_a_guarded_route_answers_a_role_with_the_permission(route, client, session):
    if route.permission == "portal.self":
        return  # a portal role needs its own linked record: see the portal document tests below
    token = _session_of_role(session, _role_with(route.permission))
    response = client.get(_url(route, session), headers={"cookie": f"{SESSION_COOKIE}={token}"})
    assert response.status_code == 200, response.text


def test_a_signed_out_session_is_refused_at_once(client, session):
    token = _session_of_role(session, "admin")
    path = "/api/audit/verify"
    assert client.get(path, headers={"cookie": f"{SESSION_COOKIE}={token}"}).status_code == 200
    security.sign_out(session, token=token)
    assert client.get(path, headers={"cookie": f"{SESSION_COOKIE}={token}"}).status_code == 401


def test_health_reports_the_schema_revision(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["schema"] == body["expected"] and body["schema"]


def test_audit_verify_reports_the_chain(client, session):
    token = _session_of_role(session, "admin")
    body = client.get("/api/audit/verify", headers={"cookie": f"{SESSION_COOKIE}={token}"}).json()
    assert body["ok"] is True and body["rows_checked"] >= 2  # the account's creation and its sign-in


def _portal_token(session, patient_id: int) -> str:
    accounts.ensure_roles(session)
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username=f"portal{patient_id}",
        display_name="Portal User",
        password=PASSWORD,
        roles=["patient"],
        patient_id=patient_id,
    )
    return security.sign_in(session, username=f"portal{patient_id}", password=PASSWORD).token


def test_a_document_is_served_to_staff_who_may_read_the_patient_and_the_read_is_audited(client, session):
    document_id, patient_id = _document_url(session)
    token = _session_of_role(session, "nurse")
    response = client.get(f"/api/documents/{document_id}", headers={"cookie": f"{SESSION_COOKIE}={token}"})
    assert response.status_code == 200 and response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert "no-store" in response.headers["cache-control"]
    session.expire_all()
    reads = session.execute(select(AuditEvent).where(AuditEvent.action == "document.read")).scalars().all()
    assert [(r.username, r.patient_id, r.target_id) for r in reads] == [
        ("nurse.user", patient_id, document_id)
    ]


def test_a_patient_gets_their_own_document_in_the_portal_and_never_another_patients(client, session):
    own_id, own_patient = _document_url(session)
    other_patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Omar", "family_name": "Other", "sex": "male", "birth_date": "1960-01-02"},
    )
    other = emr.store_document(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=other_patient.id,
        title="Not yours",
        content=PDF,
        content_type="application/pdf",
    )
    token = _portal_token(session, own_patient)
    cookie = {"cookie": f"{SESSION_COOKIE}={token}"}
    assert client.get(f"/api/portal/documents/{own_id}", headers=cookie).status_code == 200
    refused = client.get(f"/api/portal/documents/{other.id}", headers=cookie)
    missing = client.get(f"/api/portal/documents/{other.id + 1000}", headers=cookie)
    # Someone else's document is answered exactly as one that does not exist: trying ids tells
    # nothing about which are real. The refusal is still on the audit trail.
    assert (refused.status_code, refused.json()) == (missing.status_code, missing.json())
    assert refused.status_code == 404 and b"%PDF" not in refused.content
    session.expire_all()
    denials = (
        session.execute(
            select(AuditEvent.detail).where(
                AuditEvent.action == "access.denied", AuditEvent.outcome == "denied"
            )
        )
        .scalars()
        .all()
    )
    assert any(f"/api/portal/documents/{other.id}: withheld" in d for d in denials)
    assert not any(f"/api/portal/documents/{other.id + 1000}" in d for d in denials)
    session.commit()  # end the read: SQLite lets the next request write
    # The staff route is not the portal's way in either.
    assert client.get(f"/api/documents/{own_id}", headers=cookie).status_code == 403


def test_a_missing_document_is_404_not_an_error(client, session):
    token = _session_of_role(session, "physician")
    assert (
        client.get("/api/documents/987654", headers={"cookie": f"{SESSION_COOKIE}={token}"}).status_code
        == 404
    )
