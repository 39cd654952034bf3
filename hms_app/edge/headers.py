"""Security headers on every response, and a Content-Security-Policy on every page.

The policy a page gets allows:
- scripts from this origin, ``'unsafe-eval'`` (Reflex runs ``rx.call_script`` code with eval)
  and the page's own inline scripts by their sha256 (React Router and Reflex inline a few
  small boot scripts; the hashes are computed from the bytes served, so a script injected
  into a page, or inserted later, does not run);
- inline styles (Emotion and Radix set them at run time);
- images, fonts and connections (fetch and the websocket) to this origin only;
- no plugins, no framing by anyone, forms and ``<base>`` only to this origin.

Anything else (documents, JSON, scripts, images) gets only ``frame-ancestors 'none'``: a
script policy on a PDF would break the browser's own PDF viewer.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import re
import zlib
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("hms.edge")

HSTS_SECONDS = 365 * 24 * 3600
INLINE_SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
HAS_SRC = re.compile(rb"\bsrc\s*=", re.IGNORECASE)
NOT_FOR_PAGES = "frame-ancestors 'none'"
# Headers this middleware owns: an inner answer's own copy is replaced, never duplicated.
OWNED = {
    b"content-security-policy",
    b"x-content-type-options",
    b"x-frame-options",
    b"referrer-policy",
    b"strict-transport-security",
}


def inline_script_hashes(html: bytes) -> list[str]:
    """The CSP sources (``'sha256-…'``) of every inline script in ``html``, in page order."""
    hashes: list[str] = []
    for match in INLINE_SCRIPT.finditer(html):
        attributes, body = match.groups()
        if HAS_SRC.search(attributes) or not body:
            continue
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        source = f"'sha256-{digest}'"
        if source not in hashes:
            hashes.append(source)
    return hashes


def page_policy(script_hashes: Iterable[str], connect_sources: Iterable[str]) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self' 'unsafe-eval'", *script_hashes]),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            " ".join(["connect-src 'self'", *connect_sources]),
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _decoded(body: bytes, encoding: str) -> bytes | None:
    if encoding in ("", "identity"):
        return body
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, EOFError, zlib.error):
        return None
    return None


def websocket_origins(origins: Iterable[str]) -> list[str]:
    """The websocket form of each allowed origin (``'self'`` covers them only in newer browsers).

    An IPv6 literal is left out: browsers reject it as a source (and ``'self'`` covers it).
    """
    return [
        origin.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        for origin in origins
        if "[" not in origin
    ]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.fixed = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
        ]
        if https:
            self.fixed.append((b"strict-transport-security", f"max-age={HSTS_SECONDS}".encode()))
        self.connect_sources = websocket_origins(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        body = bytearray()

        async def send_with_headers(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in OWNED]
                headers += self.fixed
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                is_page = (
                    content_type.lower().startswith(b"text/html")
                    and message.get("status", 200) != 304
                    and scope.get("method") != "HEAD"
                )
                if not is_page:
                    if message.get("status") != 304:
                        # A 304 keeps the policy the cached copy was served with.
                        headers.append((b"content-security-policy", NOT_FOR_PAGES.encode()))
                    await send({**message, "headers": headers})
                    return
                held = {**message, "headers": headers}  # a page: its policy needs its body
                return
            if held is None:
                await send(message)
                return
            if message["type"] == "http.response.pathsend":
                # The server streams the file itself (ASGI pathsend); a page is small, read it here.
                with open(message["path"], "rb") as page:
                    body.extend(page.read())
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
            else:
                await send(message)
                return
            await send(self._with_page_policy(held, bytes(body)))
            await send({"type": "http.response.body", "body": bytes(body)})

        await self.app(scope, receive, send_with_headers)

    def _with_page_policy(self, start: Message, body: bytes) -> Message:
        headers = start["headers"]
        encoding = (
            next((v for k, v in headers if k.lower() == b"content-encoding"), b"").decode().strip().lower()
        )
        html = _decoded(body, encoding)
        if html is None:
            # Only gzip is built (rxconfig.py); the page's scripts are then refused, not let through.
            log.error(
                "cannot read a page served with Content-Encoding %r: its inline scripts are blocked", encoding
            )
            hashes: list[str] = []
        else:
            hashes = inline_script_hashes(html)
        policy = page_policy(hashes, self.connect_sources)
        return {**start, "headers": [*headers, (b"content-security-policy", policy.encode())]}
