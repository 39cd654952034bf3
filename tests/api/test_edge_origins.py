"""Only pages on the public origin (HMS_PUBLIC_URL) may talk to HMS (issue 11, item 3).

Reflex's default allows every origin with credentials: a page on another port of the same
host could read a patient document with the staff cookie. The edge refuses such a request,
websocket or HTTP, before Reflex's CORS middleware can answer it. Here the edge wraps the API
exactly as ``HmsApp`` wraps Reflex's app (with Reflex's own CORS middleware inside it).
"""

from __future__ import annotations

import importlib
import sys

import pytest
import reflex as rx
from argon2 import PasswordHasher
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from hms_app.api.routes import SESSION_COOKIE, build_api
from hms_app.edge.stack import behind_the_edge
from hms_app.services import accounts, emr, patients, security
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings

PASSWORD = "Ward-round-42"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
OTHER_PORT = "http://localhost:8081"  # another app on the same host: same site, other origin


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


async def _socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hello from /_event")
    await websocket.close()


def _rxconfig():
    """rxconfig.py's config, read afresh as ``reflex run`` reads it at start-up."""
    sys.modules.pop("rxconfig", None)
    return importlib.import_module("rxconfig").config


@pytest.fixture
def served(configured_db, monkeypatch):
    """``served(public_url)``: the API and a websocket, with Reflex's CORS middleware configured
    from rxconfig.py as at start-up, behind the edge, as ``HmsApp`` serves them."""
    import reflex.app as reflex_app_module

    def serve(public_url: str | None) -> TestClient:
        if public_url:
            monkeypatch.setenv("HMS_PUBLIC_URL", public_url)
        else:
            monkeypatch.delenv("HMS_PUBLIC_URL", raising=False)
        monkeypatch.setenv("HMS_PORT", "3000")
        get_settings.cache_clear()
        config = _rxconfig()
        monkeypatch.setattr(reflex_app_module, "get_config", lambda: config)
        api = build_api()
        api.router.routes.append(WebSocketRoute("/_event/", _socket))
        rx.App._add_cors(api)
        return TestClient(behind_the_edge(api, reflex_app=None))

    yield serve
    monkeypatch.undo()
    get_settings.cache_clear()
    sys.modules.pop("rxconfig", None)


@pytest.fixture
def document(session):
    """A staff member's session and a patient document they may read."""
    accounts.ensure_roles(session)
    accounts.create_user(
        session, actor=SYSTEM_ACTOR, username="nina", display_name="Nina", password=PASSWORD, roles=["nurse"]
    )
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
    token = security.sign_in(session, username="nina", password=PASSWORD).token
    return f"/api/documents/{row.id}", {"cookie": f"{SESSION_COOKIE}={token}"}


def test_the_configured_origins_replace_reflexs_allow_everyone(served):
    served("https://hms.example.org")
    assert _rxconfig().cors_allowed_origins == ("https://hms.example.org",)
    served(None)
    assert "*" not in _rxconfig().cors_allowed_origins
    assert _rxconfig().cors_allowed_origins == (
        "http://localhost:3000",
        "http://127.0.0.1:3000",
        "http://[::1]:3000",
    )


def test_a_page_on_another_port_cannot_read_a_patient_document_with_the_staff_cookie(served, document):
    client = served(None)
    url, cookie = document
    response = client.get(url, headers={**cookie, "origin": OTHER_PORT})
    assert response.status_code == 403
    assert b"%PDF" not in response.content
    # Nothing that would let the other page read the answer, not even half of CORS.
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]

    preflight = client.options(url, headers={"origin": OTHER_PORT, "access-control-request-method": "GET"})
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers


def test_the_public_origin_and_plain_links_still_get_the_document(served, document):
    client = served(None)
    url, cookie = document
    for origin in ("http://localhost:3000", "http://127.0.0.1:3000", "http://[::1]:3000"):
        response = client.get(url, headers={**cookie, "origin": origin})
        assert response.status_code == 200 and response.content == PDF
        assert response.headers["access-control-allow-origin"] == origin
    # A typed address or a link sends no Origin at all.
    assert client.get(url, headers=cookie).content == PDF


@pytest.mark.parametrize(
    "forged",
    [OTHER_PORT, "http://localhost:3001", "https://localhost:3000", "http://evil.example", "null"],
)
def test_forged_origins_are_refused_on_every_route(served, forged):
    client = served(None)
    for method, path in (("GET", "/api/health"), ("POST", "/_upload"), ("POST", "/api/session/claim")):
        response = client.request(method, path, headers={"origin": forged})
        assert response.status_code == 403, (method, path)
        assert "access-control-allow-credentials" not in response.headers


def test_a_websocket_from_another_origin_is_refused_before_it_opens(served):
    client = served(None)
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/_event/", headers={"origin": OTHER_PORT}),
    ):
        pass
    assert refused.value.code == 1008
    with client.websocket_connect("/_event/", headers={"origin": "http://localhost:3000"}) as socket:
        assert socket.receive_text() == "hello from /_event"


def test_a_public_https_url_allows_only_itself(served):
    client = served("https://hms.example.org:443/")
    assert get_settings().allowed_origins == ("https://hms.example.org",)
    assert client.get("/api/health", headers={"origin": "https://hms.example.org"}).status_code == 200
    for forged in (
        "http://hms.example.org",
        "https://localhost:3000",
        "https://hms.example.org.evil.example",
    ):
        assert client.get("/api/health", headers={"origin": forged}).status_code == 403


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://hms.example.org", "must look like"),
        ("https://hms.example.org/hms", "only the scheme, host and port"),
        ("https://hms.example.org:99999", "impossible port"),
    ],
)
def test_a_public_url_that_cannot_be_an_origin_is_refused_at_start(monkeypatch, value, message):
    monkeypatch.setenv("HMS_PUBLIC_URL", value)
    get_settings.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=message):
            get_settings()
    finally:
        get_settings.cache_clear()
