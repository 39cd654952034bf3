"""Security headers on every response (issue 11, item 5).

A page may run only its own scripts: the inline ones it was served with (by hash) and the
bundle from this origin. Nothing may frame HMS, sniff a type, or learn HMS addresses from the
Referer; HSTS is sent when HMS is public over https.
"""

from __future__ import annotations

import base64
import gzip
import hashlib

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from hms_app.edge.headers import inline_script_hashes
from hms_app.edge.stack import behind_the_edge
from hms_app.settings import get_settings

BOOT = b'window.__reactRouterContext = {"basename":"/"};'
THEME = b"\n  document.documentElement.dataset.theme = 'light';\n"
PAGE = (
    b"<!DOCTYPE html><html><head><script>" + THEME + b"</script>"
    b'<script type="module" src="/assets/entry.client.js"></script>'
    b"</head><body><div id=root></div><script>" + BOOT + b"</script>"
    b'<script id="_R_">requestAnimationFrame(function(){})</script></body></html>'
)
PDF = b"%PDF-1.4\n%%EOF\n"


def _sha(script: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"


async def page(request: Request) -> Response:
    if "gzip" in request.headers.get("accept-encoding", "") and request.query_params.get("gz"):
        return Response(gzip.compress(PAGE), media_type="text/html", headers={"content-encoding": "gzip"})
    return HTMLResponse(PAGE)


async def pathsend_page(scope, receive, send) -> None:
    """A server that streams files itself (ASGI pathsend), as granian does for the built pages."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
    await send({"type": "http.response.pathsend", "path": scope["page_file"]})


async def document(_request: Request) -> Response:
    return Response(PDF, media_type="application/pdf", headers={"x-content-type-options": "nosniff"})


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@pytest.fixture
def client(monkeypatch):
    def serve(public_url: str | None = None) -> TestClient:
        if public_url:
            monkeypatch.setenv("HMS_PUBLIC_URL", public_url)
        else:
            monkeypatch.delenv("HMS_PUBLIC_URL", raising=False)
        get_settings.cache_clear()
        app = Starlette(
            routes=[
                Route("/login", page),
                Route("/api/documents/1", document),
                Route("/api/health", health),
            ]
        )
        return TestClient(behind_the_edge(app, reflex_app=None))

    yield serve
    monkeypatch.undo()
    get_settings.cache_clear()


def _policy(response) -> dict[str, list[str]]:
    directives = [d.split() for d in response.headers["content-security-policy"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def test_every_response_says_no_framing_no_sniffing_and_same_origin_referrers(client):
    http = client()
    for path in ("/login", "/api/documents/1", "/api/health", "/nowhere"):
        response = http.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["referrer-policy"] == "same-origin", path
        assert _policy(response)["frame-ancestors"] == ["'none'"], path
        assert "strict-transport-security" not in response.headers, path  # not over plain http
    # The document route's own nosniff is replaced, not repeated.
    assert http.get("/api/documents/1").headers.get_list("x-content-type-options") == ["nosniff"]


def test_a_page_runs_only_its_own_inline_scripts_and_this_origins_bundle(client):
    policy = _policy(client().get("/login"))
    scripts = policy["script-src"]
    assert scripts[:2] == ["'self'", "'unsafe-eval'"]  # rx.call_script evaluates what the server sends
    assert set(scripts[2:]) == {_sha(THEME), _sha(BOOT), _sha(b"requestAnimationFrame(function(){})")}
    assert "'unsafe-inline'" not in scripts and "*" not in " ".join(scripts)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert policy["connect-src"][0] == "'self'" and "ws://localhost:3000" in policy["connect-src"]
    assert not [source for source in policy["connect-src"] if "[" in source]  # browsers reject IPv6 sources
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]


def test_a_gzipped_page_is_hashed_from_its_decompressed_scripts(client):
    response = client().get("/login?gz=1", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == PAGE  # the client decompressed the body the edge passed on untouched
    assert set(_policy(response)["script-src"][2:]) == {
        _sha(THEME),
        _sha(BOOT),
        _sha(b"requestAnimationFrame(function(){})"),
    }


def test_a_page_the_server_sends_as_a_file_is_hashed_too(tmp_path, monkeypatch):
    page_file = tmp_path / "login.html"
    page_file.write_bytes(PAGE)
    monkeypatch.delenv("HMS_PUBLIC_URL", raising=False)
    get_settings.cache_clear()
    edge = behind_the_edge(pathsend_page, reflex_app=None)
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    import asyncio

    scope = {"type": "http", "method": "GET", "path": "/login", "headers": [], "page_file": str(page_file)}
    asyncio.run(edge(scope, receive, send))
    start, body = sent
    policy = dict(start["headers"])[b"content-security-policy"].decode()
    assert _sha(BOOT) in policy and _sha(THEME) in policy
    assert body == {"type": "http.response.body", "body": PAGE}


def test_documents_and_data_get_no_script_policy_that_would_break_the_pdf_viewer(client):
    http = client()
    for path in ("/api/documents/1", "/api/health"):
        policy = _policy(http.get(path))
        assert policy == {"frame-ancestors": ["'none'"]}, path


def test_hsts_only_when_the_public_url_is_https(client):
    http = client("https://hms.example.org")
    for path in ("/login", "/api/documents/1", "/api/health"):
        assert http.get(path).headers["strict-transport-security"] == "max-age=31536000", path
    assert "wss://hms.example.org" in _policy(http.get("/login"))["connect-src"]


def test_script_hashes_skip_external_scripts_and_cover_each_inline_one_once():
    html = b"<script src='/a.js'></script><SCRIPT>x()</SCRIPT ><script>x()</script><script>\n</script>"
    assert inline_script_hashes(html) == [_sha(b"x()"), _sha(b"\n")]
