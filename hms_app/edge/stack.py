"""The edge in the order requests meet it (see the package docstring)."""

from __future__ import annotations

import reflex as rx
from starlette.types import ASGIApp

from hms_app.edge.headers import SecurityHeaders
from hms_app.edge.origins import OriginGuard
from hms_app.edge.session_cookie import SessionCookieRoutes
from hms_app.edge.uploads import UploadGuard
from hms_app.settings import get_settings


def behind_the_edge(asgi: ASGIApp, reflex_app: rx.App) -> ASGIApp:
    """``asgi`` (Reflex's whole app, its CORS middleware included) behind HMS's edge.

    The origin check is outside Reflex's CORS middleware, so that a refusal carries none of its
    headers; the security headers are outermost, so that refusals get them too.
    """
    settings = get_settings()
    asgi = UploadGuard(asgi, reflex_app)
    asgi = SessionCookieRoutes(asgi, reflex_app)
    asgi = OriginGuard(asgi, settings.allowed_origins)
    return SecurityHeaders(asgi, https=settings.is_https, allowed_origins=settings.allowed_origins)
