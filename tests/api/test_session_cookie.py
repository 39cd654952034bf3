"""The session cookie is HttpOnly, SameSite=Strict, Secure over https, and set by an HTTP
answer, never by page script (issue 11, item 4).

Signing in happens over the websocket; the tab is handed a one-time claim code (never the
token) and its page posts it to ``/api/session/claim``, whose answer sets the cookie. A tab
opened later finds the session in the cookie its websocket was opened with.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
from http.cookies import SimpleCookie
from types import SimpleNamespace

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from starlette.testclient import TestClient

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app.api.routes import SESSION_COOKIE
from hms_app.edge.stack import behind_the_edge
from hms_app.services import accounts, security
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings
from hms_app.state import session as session_module
from hms_app.state.auth import SignInState
from hms_app.state.home import HomeState
from hms_app.state.session import SESSION_CLAIM_PATH, SESSION_END_PATH, SessionState

PASSWORD = "Ward-round-42"
TAB = "3f0c7c9e-tab-token"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def nina(session):
    accounts.ensure_roles(session)
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="nina",
        display_name="Nina Nurse",
        password=PASSWORD,
        roles=["nurse"],
    )
    return "nina"


def _tree(path: str = "/login", cookie: str = ""):
    """A tab's whole state tree; ``cookie`` is the Cookie header its websocket was opened with."""
    root = rx.State()
    headers = {"origin": "http://localhost:3000", **({"cookie": cookie} if cookie else {})}
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.QUERY: {},
            constants.RouteVar.HEADERS: headers,
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
            constants.RouteVar.CLIENT_TOKEN: TAB,
        },
        {},
    )
    return root


def _state(root, cls):
    return root.get_substate(cls.get_full_name().split(".")[1:])


def _flatten(result) -> list:
    if result is None:
        return []
    if isinstance(result, (list, tuple)):
        return [e for item in result for e in _flatten(item)]
    return [result]


def _scripts(result) -> list[str]:
    scripts = []
    for event in _flatten(result):
        for name, value in getattr(event, "args", ()):
            if name._js_expr == "javascript_code":
                scripts.append(str(value._var_value))
    return scripts


async def _run(handler, state, *args):
    fn = handler.fn
    if inspect.isasyncgenfunction(fn):
        return [item async for item in fn(state, *args)]
    result = fn(state, *args)
    return await result if inspect.isawaitable(result) else result


class TabServer:
    """What the edge needs of Reflex: which tabs have a websocket open, and their states."""

    def __init__(self, root, connected: bool = True) -> None:
        self.root, self.connected = root, connected
        self.event_namespace = SimpleNamespace(
            _token_manager=SimpleNamespace(is_token_connected=self._connected)
        )

    async def _connected(self, tab: str) -> bool:
        return self.connected and tab == TAB

    @contextlib.asynccontextmanager
    async def modify_state(self, token):
        assert token.ident == TAB and token.cls is SessionState
        yield self.root


async def _signed_in_tab(username: str = "nina"):
    root = _tree()
    sign_in = _state(root, SignInState)
    events = await _run(
        SignInState.event_handlers["submit_password"], sign_in, {"username": username, "password": PASSWORD}
    )
    return root, sign_in, events


def _claim_from(script: str) -> dict:
    body = re.search(r"body: (\".*\")}\)$", script).group(1)
    return json.loads(json.loads(body))


def _client(root, *, connected: bool = True) -> TestClient:
    get_settings.cache_clear()
    return TestClient(
        behind_the_edge(_app_not_found, TabServer(root, connected)), base_url="http://localhost:3000"
    )


async def _app_not_found(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _set_cookie(response) -> SimpleCookie:
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


async def test_sign_in_hands_the_page_a_one_time_code_never_the_token(nina, configured_db):
    root, sign_in, events = await _signed_in_tab()
    token = sign_in.auth_token
    assert token
    (script,) = _scripts(events)
    assert SESSION_CLAIM_PATH in script and "credentials: 'same-origin'" in script
    assert token not in script
    claim = _claim_from(script)
    assert claim["tab"] == TAB and len(claim["code"]) >= 40
    # Nothing the page is sent holds the token: not a var, not a cookie the page script writes.
    assert token not in json.dumps(root.dict(), default=str)
    assert "auth_token" not in SessionState.vars


async def test_the_claim_sets_an_httponly_strict_cookie_once(nina, configured_db):
    root, sign_in, events = await _signed_in_tab()
    claim = _claim_from(_scripts(events)[0])
    client = _client(root)

    response = client.post(SESSION_CLAIM_PATH, json=claim, headers={"origin": "http://localhost:3000"})
    assert response.status_code == 204
    morsel = _set_cookie(response)[SESSION_COOKIE]
    assert morsel.value == sign_in.auth_token
    assert morsel["httponly"] is True and morsel["samesite"].lower() == "strict" and morsel["path"] == "/"
    assert morsel["secure"] == ""  # plain http on this machine: a Secure cookie would never come back
    assert int(morsel["max-age"]) == get_settings().session_hours * 3600
    assert response.headers["cache-control"] == "no-store"

    again = client.post(SESSION_CLAIM_PATH, json=claim)
    assert again.status_code == 403 and "set-cookie" not in again.headers


async def test_the_cookie_is_secure_when_the_public_url_is_https(nina, configured_db, monkeypatch):
    monkeypatch.setenv("HMS_PUBLIC_URL", "https://hms.example.org")
    root, _sign_in, events = await _signed_in_tab()
    get_settings.cache_clear()
    client = TestClient(behind_the_edge(_app_not_found, TabServer(root)), base_url="https://hms.example.org")
    response = client.post(SESSION_CLAIM_PATH, json=_claim_from(_scripts(events)[0]))
    assert response.status_code == 204
    assert _set_cookie(response)[SESSION_COOKIE]["secure"] is True
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "forge",
    [
        lambda claim: {**claim, "code": "guessed-" + claim["code"][8:]},
        lambda claim: {**claim, "tab": "another-tab"},
        lambda claim: {"tab": claim["tab"]},
        lambda claim: [claim],
        lambda claim: {**claim, "code": {"$ne": ""}},
    ],
    ids=["wrong code", "other tab", "no code", "not an object", "not a string"],
)
async def test_a_forged_claim_gets_no_cookie(nina, configured_db, forge):
    root, _sign_in, events = await _signed_in_tab()
    client = _client(root)
    response = client.post(SESSION_CLAIM_PATH, json=forge(_claim_from(_scripts(events)[0])))
    assert response.status_code == 403 and "set-cookie" not in response.headers


async def test_a_claim_is_worthless_after_a_minute_and_for_a_tab_without_a_websocket(
    nina, configured_db, monkeypatch
):
    root, _sign_in, events = await _signed_in_tab()
    claim = _claim_from(_scripts(events)[0])
    assert _client(root, connected=False).post(SESSION_CLAIM_PATH, json=claim).status_code == 403

    clock = session_module.time.time() + session_module.COOKIE_CLAIM_SECONDS + 1
    monkeypatch.setattr(session_module.time, "time", lambda: clock)
    response = _client(root).post(SESSION_CLAIM_PATH, json=claim)
    assert response.status_code == 403 and "set-cookie" not in response.headers


async def test_the_claim_takes_only_post_from_this_origin(nina, configured_db):
    root, _sign_in, events = await _signed_in_tab()
    client = _client(root)
    assert client.get(SESSION_CLAIM_PATH).status_code == 405
    forged = client.post(
        SESSION_CLAIM_PATH, json=_claim_from(_scripts(events)[0]), headers={"origin": "http://localhost:8081"}
    )
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    oversized = client.post(SESSION_CLAIM_PATH, content=b"{" + b" " * 5000 + b"}")
    assert oversized.status_code == 403


async def test_sign_out_clears_the_cookie_through_the_end_route(nina, configured_db):
    root, sign_in, _events = await _signed_in_tab()
    result = await _run(SessionState.event_handlers["sign_out"], _state(root, SessionState))
    assert any(SESSION_END_PATH in script for script in _scripts(result))

    response = _client(root).post(SESSION_END_PATH, headers={"origin": "http://localhost:3000"})
    assert response.status_code == 204
    morsel = _set_cookie(response)[SESSION_COOKIE]
    assert morsel.value == "" and int(morsel["max-age"]) == 0 and morsel["httponly"] is True
    assert sign_in.auth_token == ""


async def test_a_tab_opened_later_acts_in_the_session_of_the_cookie_its_websocket_sent(nina, configured_db):
    _root, sign_in, _events = await _signed_in_tab()
    token = sign_in.auth_token
    later = _state(_tree("/", cookie=f"theme=dark; {SESSION_COOKIE}={token}; other=1"), HomeState)
    actor = await later._current_actor()
    assert actor is not None and actor.username == "nina"

    forged = _state(_tree("/", cookie=f"{SESSION_COOKIE}=made-up"), HomeState)
    assert await forged._current_actor() is None
    anonymous = _state(_tree("/"), HomeState)
    assert anonymous.auth_token == "" and await anonymous._current_actor() is None
