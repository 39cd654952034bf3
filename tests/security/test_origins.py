"""Item 3 against the running server: a page on another origin gets nothing, with or without
the staff cookie, over HTTP or the websocket."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.production_server import Server
from tests.security.attacker import SESSION_COOKIE, request, staff_token, store_document, websocket_upgrade


@pytest.fixture(scope="module")
def stolen(hms_server: Server) -> tuple[str, dict[str, str]]:
    """A patient document and a physician's cookie as their browser would send it."""
    document_id = store_document(hms_server)
    return f"/api/documents/{document_id}", {
        "Cookie": f"{SESSION_COOKIE}={staff_token(hms_server, 'dr.grey')}"
    }


def _other_port(server: Server) -> str:
    port = urlsplit(server.url).port
    return f"http://127.0.0.1:{port + 1}"


def test_a_page_on_another_port_cannot_read_a_document_with_the_staff_cookie(hms_server: Server, stolen):
    path, cookie = stolen
    answer = request(hms_server.url, "GET", path, {**cookie, "Origin": _other_port(hms_server)})
    assert answer.status == 403
    assert b"%PDF" not in answer.body
    assert not [name for name in answer.headers if name.startswith("access-control-")]

    preflight = request(
        hms_server.url,
        "OPTIONS",
        path,
        {"Origin": _other_port(hms_server), "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status == 403 and preflight.header("access-control-allow-origin") is None


def test_the_apps_own_origin_and_a_plain_link_still_get_it(hms_server: Server, stolen):
    path, cookie = stolen
    own = request(hms_server.url, "GET", path, {**cookie, "Origin": hms_server.url})
    assert own.status == 200 and own.body.startswith(b"%PDF")
    assert request(hms_server.url, "GET", path, cookie).body.startswith(b"%PDF")


@pytest.mark.parametrize("forged", ["http://evil.example", "null", "http://localhost:1"])
def test_forged_origins_are_refused_on_the_api_the_upload_and_the_pages(hms_server: Server, forged):
    for method, path in (("GET", "/api/health"), ("POST", "/_upload"), ("GET", "/login")):
        answer = request(hms_server.url, method, path, {"Origin": forged})
        assert answer.status == 403, (method, path)
        assert answer.header("access-control-allow-credentials") is None


def test_the_websocket_refuses_another_origin_before_it_opens(hms_server: Server, stolen):
    _path, cookie = stolen
    refused = websocket_upgrade(hms_server.url, {**cookie, "Origin": _other_port(hms_server)})
    assert refused.status == 403
    opened = websocket_upgrade(hms_server.url, {**cookie, "Origin": hms_server.url})
    assert opened.status == 101


def test_a_socketio_client_posing_as_another_site_is_turned_away(hms_server: Server, stolen):
    import socketio

    _path, cookie = stolen
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(
            f"{hms_server.url}?token=attacker-tab",
            socketio_path="/_event",
            transports=["websocket"],
            namespaces=["/_event"],
            headers={**cookie, "Origin": _other_port(hms_server)},
            wait_timeout=10,
        )
    assert not client.connected
