"""Every HTTP route in ROUTES is refused on the server without the right session.

The routes are enumerated from ``hms_app.api.routes.ROUTES`` (the list ``build_api``
mounts), so a route added later is covered without editing this file.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from starlette.testclient import TestClient

from hms_app.api.routes import ROUTES, SESSION_COOKIE, build_api
from hms_app.models.security import AuditEvent
from hms_app.services import security
from hms_app.services.permissions import DEFAULT_GRANTS, PERMISSIONS, SYSTEM_ACTOR

PASSWORD = "Ward-round-42"
PUBLIC = [r for r in ROUTES if r.permission is None]
GUARDED = [r for r in ROUTES if r.permission is not None]


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def client(configured_db):
    with TestClient(build_api()) as test_client:
        yield test_client


def _session_of_role(session, role: str) -> str:
    security.ensure_roles(session)
    username = f"{role.replace('_', '-')}.user"
    security.create_user(
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
    assert mounted == {r.path for r in ROUTES}
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
def test_a_guarded_route_needs_a_session(route, client):
    assert client.get(route.path).status_code == 401
    bogus = client.get(route.path, headers={"cookie": f"{SESSION_COOKIE}=not-a-real-session-token"})
    assert bogus.status_code == 401
    assert "sign in" in bogus.json()["error"].lower()


@pytest.mark.parametrize("route", GUARDED, ids=lambda r: r.path)
def test_a_guarded_route_refuses_a_role_without_the_permission_and_audits_it(route, client, session):
    role = _role_without(route.permission)
    token = _session_of_role(session, role)
    response = client.get(route.path, headers={"cookie": f"{SESSION_COOKIE}={token}"})
    assert response.status_code == 403, response.text
    session.expire_all()
    denied = session.execute(select(AuditEvent).where(AuditEvent.action == "access.denied")).scalars().all()
    assert [(r.roles, r.outcome, r.screen, r.detail) for r in denied] == [
        (role, "denied", route.path, f"GET {route.path} needs {route.permission}")
    ]


@pytest.mark.parametrize("route", GUARDED, ids=lambda r: r.path)
def test_a_guarded_route_answers_a_role_with_the_permission(route, client, session):
    token = _session_of_role(session, _role_with(route.permission))
    response = client.get(route.path, headers={"cookie": f"{SESSION_COOKIE}={token}"})
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
