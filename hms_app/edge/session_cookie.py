"""The two routes that set and clear the session cookie, so that it can be HttpOnly.

A sign-in happens over the websocket, which cannot set a cookie page script may not read.
So the signed-in tab's page is handed a one-time claim code (``SessionState._hand_over_cookie``)
and posts it here with the tab's token; this answer sets the cookie. The code is kept in the
tab's own state on the server, so this works with several workers sharing Redis as well.
"""

from __future__ import annotations

import json

import reflex as rx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hms_app.api.routes import SESSION_COOKIE
from hms_app.settings import get_settings
from hms_app.state.session import SESSION_CLAIM_PATH, SESSION_END_PATH, SessionState

MAX_CLAIM_BYTES = 1024


def set_session_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        path="/",
        secure=settings.is_https,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=get_settings().is_https, httponly=True, samesite="strict"
    )


async def _claim_body(request: Request) -> tuple[str, str] | None:
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_CLAIM_BYTES:
                return None
        claim = json.loads(body or b"{}")
    except (ClientDisconnect, ValueError):
        return None
    if not isinstance(claim, dict):
        return None
    tab, code = claim.get("tab"), claim.get("code")
    if not (isinstance(tab, str) and isinstance(code, str) and 0 < len(tab) <= 200 and 0 < len(code) <= 200):
        return None
    return tab, code


class SessionCookieRoutes:
    """``POST /api/session/claim`` sets the cookie for a valid claim; ``POST /api/session/end`` clears it."""

    def __init__(self, app: ASGIApp, reflex_app: rx.App) -> None:
        self.app = app
        self.reflex_app = reflex_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path not in (SESSION_CLAIM_PATH, SESSION_END_PATH):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if request.method != "POST":
            response: Response = JSONResponse(
                {"error": "Use POST."}, status_code=405, headers={"allow": "POST"}
            )
        elif path == SESSION_CLAIM_PATH:
            response = await self.claim(request)
        else:
            response = Response(status_code=204, headers={"cache-control": "no-store"})
            clear_session_cookie(response)
        await response(scope, receive, send)

    async def claim(self, request: Request) -> Response:
        refused = JSONResponse(
            {"error": "That sign-in has expired. Please sign in again."},
            status_code=403,
            headers={"cache-control": "no-store"},
        )
        claim = await _claim_body(request)
        if claim is None:
            return refused
        tab, code = claim
        # Only a tab with an open websocket has a state worth looking at: a made-up tab token
        # must not make the server build one.
        if not await self.reflex_app.event_namespace._token_manager.is_token_connected(tab):
            return refused
        async with self.reflex_app.modify_state(rx.BaseStateToken(ident=tab, cls=SessionState)) as state:
            session_state = await state.get_state(SessionState)
            token = session_state._take_cookie_claim(code)
        if not token:
            return refused
        response = Response(status_code=204, headers={"cache-control": "no-store"})
        set_session_cookie(response, token)
        return response
