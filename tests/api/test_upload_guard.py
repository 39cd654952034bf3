"""Uploads are refused before their body is read (issue 11, item 6).

Reflex stored the whole body and then ran the handler, whose permission and size checks came
too late: anyone could stream any size. Now the tab's session is checked first, then the
handler's permission (refusals audited), then the size: a declared ``Content-Length`` over
``HMS_MAX_UPLOAD_MB`` is refused at once and a chunked body is cut off at the cap.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app.edge.uploads import FORM_ALLOWANCE_BYTES, UploadGuard
from hms_app.hms_app import app as hms
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, security
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings
from hms_app.state.auth import SignInState
from hms_app.state.chart.documents import ChartDocumentsState
from hms_app.state.patients.details import PatientDetailsState
from hms_app.state.session import SessionState

PASSWORD = "Ward-round-42"
TAB = "5b1d-upload-tab"
DOCUMENT_HANDLER = f"{ChartDocumentsState.get_full_name()}.upload_document"
PHOTO_HANDLER = f"{PatientDetailsState.get_full_name()}.upload_photo"
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(autouse=True)
def one_megabyte_cap(configured_db, monkeypatch):
    monkeypatch.setenv("HMS_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def staff(session):
    accounts.ensure_roles(session)
    for username, role in (("dr.house", "physician"), ("bill", "billing_clerk"), ("rita", "receptionist")):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username,
            password=PASSWORD,
            roles=[role],
        )

    def token(username: str) -> str:
        return security.sign_in(session, username=username, password=PASSWORD).token

    return token


class TabServer:
    """Reflex as the guard sees it: one tab (``TAB``), connected or not, signed in or not."""

    def __init__(self, token: str = "", connected: bool = True) -> None:
        root = rx.State()
        root._update_router_vars(
            {
                constants.RouteVar.PATH: "/patients/1/chart",
                constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
                constants.RouteVar.CLIENT_TOKEN: TAB,
            },
            {},
        )
        root.get_substate(SignInState.get_full_name().split(".")[1:]).auth_token = token
        self.root, self.connected = root, connected
        self.event_namespace = SimpleNamespace(
            _token_manager=SimpleNamespace(is_token_connected=self._connected)
        )
        self.state_manager = SimpleNamespace(get_state=self._get_state)

    async def _connected(self, tab: str) -> bool:
        return self.connected and tab == TAB

    async def _get_state(self, token):
        assert token.ident == TAB and token.cls is SessionState
        return self.root

    def set_contexts(self):
        return hms.set_contexts()


class Reflex:
    """Stands in for Reflex's upload endpoint: reads the whole body, as it would store it."""

    def __init__(self) -> None:
        self.called, self.read = False, 0

    async def __call__(self, scope, receive, send) -> None:
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _upload(
    tab_server: TabServer,
    *,
    handler: str = DOCUMENT_HANDLER,
    size: int = 1000,
    declared: bool = True,
    chunk: int = MB // 4,
):
    """POST /_upload as a client would; returns (status, body, what Reflex got, body bytes the client got to send)."""
    reflex = Reflex()
    guard = UploadGuard(reflex, tab_server)
    headers = [(b"reflex-client-token", TAB.encode()), (b"reflex-event-handler", handler.encode())]
    if declared:
        headers.append((b"content-length", str(size).encode()))
    scope = {"type": "http", "method": "POST", "path": "/_upload", "headers": headers}
    sent, replies = {"bytes": 0}, []

    async def receive():
        part = min(chunk, size - sent["bytes"])
        sent["bytes"] += part
        return {"type": "http.request", "body": b"x" * part, "more_body": sent["bytes"] < size}

    async def send(message):
        replies.append(message)

    await guard(scope, receive, send)
    status = replies[0]["status"]
    body = b"".join(m.get("body", b"") for m in replies[1:])
    return status, body, reflex, sent["bytes"]


def _denials() -> list[tuple[str, str]]:
    from hms_app import db as hms_db

    with hms_db.session_scope() as s:
        # In the order they were written: without ORDER BY, PostgreSQL returns a row the sealer
        # has since updated wherever its new version landed.
        rows = s.execute(
            select(AuditEvent).where(AuditEvent.action == "access.denied").order_by(AuditEvent.id)
        ).scalars()
        return [(r.username, r.detail) for r in rows]


async def test_an_anonymous_upload_is_refused_before_a_byte_is_read(configured_db):
    status, body, reflex, sent = await _upload(TabServer(token=""), size=50 * MB)
    assert status == 401 and b"sign in" in body
    assert not reflex.called and sent == 0


async def test_a_made_up_or_closed_tab_is_anonymous(staff):
    status, _body, reflex, sent = await _upload(TabServer(token=staff("dr.house"), connected=False))
    assert status == 401 and not reflex.called and sent == 0
    status, _body, reflex, sent = await _upload(TabServer(token="not-a-session"))
    assert status == 401 and not reflex.called and sent == 0


async def test_a_role_without_the_handlers_permission_is_refused_and_audited(staff):
    status, body, reflex, sent = await _upload(TabServer(token=staff("bill")), size=50 * MB)
    assert status == 403 and b"does not allow" in body
    assert not reflex.called and sent == 0
    status, _body, _reflex, _sent = await _upload(TabServer(token=staff("bill")), handler=PHOTO_HANDLER)
    assert status == 403
    assert _denials() == [
        ("bill", "upload to ChartDocumentsState.upload_document needs emr.write"),
        ("bill", "upload to PatientDetailsState.upload_photo needs patient.write"),
    ]


@pytest.mark.parametrize(
    "handler",
    [
        f"{SignInState.get_full_name()}.submit_password",
        f"{SessionState.get_full_name()}.no_such_handler",
        "x",
    ],
)
async def test_only_guarded_handlers_take_uploads(staff, handler):
    status, _body, reflex, sent = await _upload(TabServer(token=staff("dr.house")), handler=handler)
    assert status == 403 and not reflex.called and sent == 0


async def test_a_declared_size_over_the_cap_is_refused_without_reading_it(staff):
    cap = get_settings().max_upload_bytes + FORM_ALLOWANCE_BYTES
    status, body, reflex, sent = await _upload(TabServer(token=staff("dr.house")), size=cap + 1)
    assert status == 413 and b"larger than 1 MB" in body
    assert not reflex.called and sent == 0


async def test_a_chunked_body_is_cut_off_at_the_cap(staff):
    status, body, reflex, sent = await _upload(
        TabServer(token=staff("dr.house")), size=100 * MB, declared=False
    )
    assert status == 413 and b"larger than 1 MB" in body
    cap = get_settings().max_upload_bytes + FORM_ALLOWANCE_BYTES
    assert reflex.read <= cap and sent <= cap + MB // 4  # stopped within one chunk of the cap


async def test_an_upload_within_the_cap_reaches_the_handler(staff):
    for token, handler in ((staff("dr.house"), DOCUMENT_HANDLER), (staff("rita"), PHOTO_HANDLER)):
        status, _body, reflex, sent = await _upload(TabServer(token=token), handler=handler, size=MB)
        assert status == 202 and reflex.read == sent == MB
        status, _body, reflex, _sent = await _upload(
            TabServer(token=token), handler=handler, size=MB, declared=False
        )
        assert status == 202 and reflex.read == MB


async def test_other_requests_pass_untouched(configured_db):
    reflex = Reflex()
    guard = UploadGuard(reflex, TabServer())
    replies = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        replies.append(message)

    await guard({"type": "http", "method": "GET", "path": "/_upload/photo.png", "headers": []}, receive, send)
    assert reflex.called and replies[0]["status"] == 202
