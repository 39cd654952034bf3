"""Uploads are refused before their body is read: session first, then permission, then size.

Reflex's ``/_upload`` endpoint stores the whole multipart body (Starlette spools it to disk)
and only then runs the named handler, whose ``@requires`` check and size checks come too late
to stop an anonymous client streaming gigabytes. Here the request's own headers are enough to
decide: ``reflex-client-token`` names the tab, whose state holds its session token on the
server, and ``reflex-event-handler`` names the handler, whose permission ``@requires``
recorded. The body is then let through only while it stays under ``HMS_MAX_UPLOAD_MB`` (plus
room for the form's framing): a declared ``Content-Length`` over it is refused at once, and a
body without one (chunked) is counted as it streams and cut off at the cap.
"""

from __future__ import annotations

import asyncio
import json

import reflex as rx
from reflex_base import constants
from reflex_base.config import get_config
from reflex_base.registry import RegistrationContext
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hms_app.db import session_scope
from hms_app.services import security
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor
from hms_app.settings import get_settings
from hms_app.state.session import SessionState

# Multipart boundaries, part headers and the handler's bound arguments around the file itself.
FORM_ALLOWANCE_BYTES = 64 * 1024


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1").strip()
    return ""


def _record_denial(actor: Actor, detail: str) -> None:
    with session_scope() as session:
        record_audit(session, actor, "access.denied", outcome="denied", detail=detail)
        session.commit()


def _resolve(token: str, path: str) -> Actor | None:
    with session_scope() as session:
        return security.resolve_session(session, token=token, screen=path, touch=False)


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                # The client may still be sending the body we refused to read.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class UploadGuard:
    def __init__(self, app: ASGIApp, reflex_app: rx.App) -> None:
        self.app = app
        self.reflex_app = reflex_app
        self.path = get_config().prepend_backend_path(str(constants.Endpoint.UPLOAD))
        self.max_upload_mb = get_settings().max_upload_mb
        self.cap = get_settings().max_upload_bytes + FORM_ALLOWANCE_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(scope)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        await self._within_cap(scope, receive, send)

    def _handler(self, handler_name: str) -> tuple[str, str | None]:
        """The handler's name as the audit trail shows it, and the permission ``@requires`` gave it."""
        with self.reflex_app.set_contexts():
            registered = RegistrationContext.get().event_handlers.get(handler_name)
        if registered is None:
            return handler_name, None
        owner = registered.states[-1].__name__ if registered.states else ""
        name = f"{owner}.{handler_name.rsplit('.', 1)[-1]}"
        return name, getattr(registered.handler.fn, "__hms_permission__", None)

    async def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        tab, handler_name = _header(scope, b"reflex-client-token"), _header(scope, b"reflex-event-handler")
        if not tab or not handler_name:
            return 400, "Missing reflex-client-token or reflex-event-handler header."
        handler, permission = self._handler(handler_name)
        if permission is None:
            # Unknown, or not guarded by @requires: nothing HMS accepts uploads for.
            return 403, "Uploads are not accepted here."
        actor = None
        if await self.reflex_app.event_namespace._token_manager.is_token_connected(tab):
            state = await self.reflex_app.state_manager.get_state(
                rx.BaseStateToken(ident=tab, cls=SessionState)
            )
            token = (await state.get_state(SessionState)).auth_token
            if token:
                actor = await asyncio.to_thread(_resolve, token, scope["path"])
        if actor is None:
            return 401, "Please sign in."
        if permission != "signed-in" and not actor.can(permission):
            await asyncio.to_thread(_record_denial, actor, f"upload to {handler} needs {permission}")
            return 403, "Your role does not allow this."
        declared = _header(scope, b"content-length")
        if declared and (not declared.isdigit() or int(declared) > self.cap):
            return 413, f"The file is larger than {self.max_upload_mb} MB."
        return None

    async def _within_cap(self, scope: Scope, receive: Receive, send: Send) -> None:
        received, over, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.cap:
                    # Reflex sees the client go away: it drops what it spooled and runs no handler.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # Reflex's answer to the "disconnect"; the client gets the 413 below
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if over and not started:
            await _answer(send, 413, f"The file is larger than {self.max_upload_mb} MB.")
