"""Refuse requests made by pages on other origins (HMS_PUBLIC_URL is the one allowed).

A browser names the page that made a request in its ``Origin`` header on every websocket,
every cross-origin request and every POST. Reflex's CORS middleware answers a refused origin
without ``Access-Control-Allow-Origin`` but still with ``Access-Control-Allow-Credentials``,
and its websocket reads the session cookie whoever opened it; so the refusal happens here,
outside Reflex, before any of it runs. Requests without ``Origin`` (a typed address, a link,
``curl``) pass: a browser always sends it when a page on another origin is asking.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("hms.edge")
REFUSED = json.dumps({"error": "Requests from other sites are refused."}).encode()


def request_origin(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            return value.decode("latin-1").strip()
    return None


class OriginGuard:
    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(origin.lower() for origin in allowed_origins)

    def allows(self, origin: str | None) -> bool:
        return origin is None or origin.lower().rstrip("/") in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            origin = request_origin(scope)
            if not self.allows(origin):
                log.warning("refused %s %s from origin %r", scope["type"], scope.get("path"), origin)
                if scope["type"] == "websocket":
                    # Closing before accepting answers the upgrade with 403 Forbidden.
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(REFUSED)).encode()),
                            (b"cache-control", b"no-store"),
                            (b"vary", b"Origin"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": REFUSED})
                return
        await self.app(scope, receive, send)
