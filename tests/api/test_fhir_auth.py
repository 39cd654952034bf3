"""The FHIR token endpoint and discovery over HTTP, as a client and as an attacker would use them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from hms_app import cli
from hms_app.api.fhir_auth import ROUTES, bearer_access
from hms_app.db import session_scope
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, fhir_clients, patients
from hms_app.services.fhir_clients import CLIENT_ASSERTION_TYPE
from hms_app.services.permissions import SYSTEM_ACTOR
from tests.services.fhir_keys import assertion, ec_key, public_jwks, rsa_key

SCOPES = "system/Patient.read system/Observation.rs"


async def whoami(request: Request):
    """A stand-in for a FHIR route: what ``bearer_access`` makes of the request's token."""
    access = await bearer_access(request)
    if access is None:
        return JSONResponse({"error": "no token"}, status_code=401)
    return JSONResponse(
        {"client": access.client_name, "user": access.actor.username, "patient_id": access.patient_id}
    )


@pytest.fixture
def http(configured_db):
    with session_scope() as session:
        accounts.ensure_roles(session)
        fhir_clients.register_client(
            session,
            actor=SYSTEM_ACTOR,
            name="lab-sync",
            allowed_scopes=SCOPES,
            jwks=public_jwks(rsa_key(), ec_key()),
        )
    app = Starlette(routes=[Mount("/fhir", routes=[*ROUTES, Route("/whoami", whoami)])])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _form(key=None, **fields) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion(key or rsa_key(), client="lab-sync"),
        "scope": SCOPES,
    }
    form.update(fields)
    return {name: value for name, value in form.items() if value is not None}


def _refusal(response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error and body["error_description"]
    return body["error_description"]


@pytest.mark.parametrize("key", [rsa_key, ec_key], ids=["RS384", "ES384"])
def test_a_client_exchanges_its_assertion_for_a_bearer_token_that_works(http, key):
    response = http.post("/fhir/auth/token", data=_form(key()))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300 and body["scope"] == SCOPES
    me = http.get("/fhir/whoami", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"client": "lab-sync", "user": "fhir:lab-sync", "patient_id": None}
    assert http.get("/fhir/whoami", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert (
        http.get("/fhir/whoami", headers={"Authorization": f"Basic {body['access_token']}"}).status_code
        == 401
    )


def test_discovery_names_the_token_endpoint_and_what_it_accepts(http):
    body = http.get("/fhir/.well-known/smart-configuration").json()
    assert body["token_endpoint"] == "http://localhost:3000/fhir/auth/token"
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert body["grant_types_supported"] == ["client_credentials"]
    assert "client-confidential-asymmetric" in body["capabilities"]


def test_bad_requests_are_plain_oauth_errors_never_a_500(http):
    assert "grant_type" in _refusal(
        http.post("/fhir/auth/token", data=_form(grant_type=None)), 400, "invalid_request"
    )
    _refusal(http.post("/fhir/auth/token", data=_form(grant_type="password")), 400, "unsupported_grant_type")
    _refusal(http.post("/fhir/auth/token", data=_form(client_assertion_type="x")), 400, "invalid_request")
    _refusal(http.post("/fhir/auth/token", data=_form(client_assertion="")), 400, "invalid_request")
    _refusal(http.post("/fhir/auth/token", data=_form(scope="")), 400, "invalid_scope")
    _refusal(http.post("/fhir/auth/token", data=_form(scope="user/*.read")), 400, "invalid_scope")
    _refusal(http.post("/fhir/auth/token", data=_form(client_assertion="a.b.c")), 401, "invalid_client")
    # Not a form at all, a JSON body, undecodable bytes, a parameter given twice.
    _refusal(http.post("/fhir/auth/token", json=_form()), 400, "invalid_request")
    bad_bytes = http.post(
        "/fhir/auth/token",
        content=b"grant_type=\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    _refusal(bad_bytes, 400, "invalid_request")
    twice = http.post(
        "/fhir/auth/token",
        content="grant_type=client_credentials&grant_type=client_credentials",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "once" in _refusal(twice, 400, "invalid_request")
    assert http.get("/fhir/auth/token").status_code == 405


def test_an_oversized_body_is_refused_before_it_is_read_whole(http):
    huge = http.post("/fhir/auth/token", data=_form(client_assertion="x" * 40_000))
    assert "larger than" in _refusal(huge, 400, "invalid_request")

    def chunks():  # no Content-Length: the limit is counted as the body arrives
        for _ in range(40):
            yield b"a" * 1024

    streamed = http.post(
        "/fhir/auth/token", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert "larger than" in _refusal(streamed, 400, "invalid_request")


def test_an_attacker_gets_401s_and_each_refusal_is_audited(http, configured_db):
    with session_scope() as session:
        before = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    attempts = [
        _form(client_assertion=assertion(rsa_key("stranger"), client="lab-sync")),  # not its key
        _form(client_assertion=assertion(rsa_key(), client="lab-sync", aud="https://evil.example/token")),
        _form(client_assertion=assertion(rsa_key(), client="lab-sync", exp_in=-300)),
        _form(client_assertion=assertion(rsa_key(), client="ghost")),
    ]
    for form in attempts:
        _refusal(http.post("/fhir/auth/token", data=form), 401, "invalid_client")
    replayed = _form()
    assert http.post("/fhir/auth/token", data=replayed).status_code == 200
    assert "used already" in _refusal(http.post("/fhir/auth/token", data=replayed), 401, "invalid_client")
    with session_scope() as session:
        rows = (
            session.execute(
                select(AuditEvent).where(AuditEvent.action == "fhir.token.issue").order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
        assert [r.outcome for r in rows] == ["failure"] * 4 + ["success", "failure"]
        assert session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == before + 6


def test_the_command_line_prints_a_token_that_works(http, capsys):
    assert cli.main(["fhir", "token", "--client", "nightly-export", "--scope", "system/*.read"]) == 0
    out, err = capsys.readouterr()
    token = out.splitlines()[0]
    assert len(out.splitlines()) == 1 and "expires" in err and "system/*.read" in err
    me = http.get("/fhir/whoami", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["client"] == "nightly-export"
    assert cli.main(["fhir", "clients"]) == 0
    listing = capsys.readouterr().out
    assert "nightly-export" in listing and "lab-sync" in listing and "2 FHIR clients" in listing
    assert cli.main(["fhir", "token", "--client", "nightly-export", "--scope", "system/*.write"]) == 2
    assert "Not among the scopes" in capsys.readouterr().err
    assert cli.main(["fhir", "token", "--client", "x", "--scope", "garbage"]) == 2
    assert "not a SMART scope" in capsys.readouterr().err


def test_real_tokens_work_on_the_real_fhir_api_within_their_scopes_role_and_compartment(configured_db):
    """End to end through the app's API: the token endpoint, then FHIR reads and writes."""
    from hms_app.api.routes import build_api

    with session_scope() as session:
        accounts.ensure_roles(session)
        fhir_clients.register_client(
            session,
            actor=SYSTEM_ACTOR,
            name="lab-sync",
            allowed_scopes="system/Patient.read",
            jwks=public_jwks(rsa_key()),
        )
        mine = patients.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={"given_name": "Pat", "family_name": "Own", "sex": "female", "birth_date": "1980-01-02"},
        )
        theirs = patients.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={"given_name": "Sam", "family_name": "Else", "sex": "male", "birth_date": "1955-05-05"},
        )
        own = fhir_clients.issue_token_for_operator(
            session, client_name="portal-app", scope="patient/*.read", patient_mrn=mine.mrn
        ).access_token
    with TestClient(build_api(), base_url="http://testserver") as api:
        token = api.post("/fhir/auth/token", data=_form(scope="system/Patient.read")).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
        assert api.get(f"/fhir/Patient/{theirs.id}", headers=bearer).status_code == 200
        # system/Patient.read: no write, and no type outside the scopes.
        patient = {
            "resourceType": "Patient",
            "name": [{"family": "New"}],
            "gender": "male",
            "birthDate": "1990-01-01",
        }
        write = api.post(
            "/fhir/Patient", json=patient, headers={**bearer, "Content-Type": "application/fhir+json"}
        )
        assert write.status_code == 403
        assert api.get(f"/fhir/Observation?patient={theirs.id}", headers=bearer).status_code == 403
        # A patient-bound token reaches its own patient and nobody else.
        own_bearer = {"Authorization": f"Bearer {own}", "Accept": "application/fhir+json"}
        assert api.get(f"/fhir/Patient/{mine.id}", headers=own_bearer).status_code == 200
        assert api.get(f"/fhir/Patient/{theirs.id}", headers=own_bearer).status_code == 404
        smart = api.get("/fhir/.well-known/smart-configuration").json()
        assert smart["token_endpoint"].endswith("/fhir/auth/token")
    with session_scope() as session:
        reads = session.execute(
            select(AuditEvent.username, AuditEvent.patient_id, AuditEvent.screen).where(
                AuditEvent.action == "fhir.read"
            )
        ).all()
        assert ("fhir:lab-sync", theirs.id, f"GET /fhir/Patient/{theirs.id}") in reads
        assert ("fhir:portal-app", mine.id, f"GET /fhir/Patient/{mine.id}") in reads
