"""The backend's HTTP API. Every route is listed in ROUTES with who may call it.

A route's permission is checked from the session cookie on the server, exactly as the
event handlers are; ``tests/api/test_route_guards.py`` enumerates ROUTES.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from hms_app.api import dicomweb, fhir, video
from hms_app.db import session_scope
from hms_app.errors import Forbidden, NotFound, Withheld
from hms_app.migrations import current_revision, head_revision
from hms_app.services import emr, messaging, security
from hms_app.services.audit import record_audit, verify_chain
from hms_app.services.audit_chain import seal_all
from hms_app.services.permissions import Actor

SESSION_COOKIE = "hms_session"


@dataclass(frozen=True)
class ApiRoute:
    path: str
    permission: str | None  # None: public
    endpoint: Callable[[Request, Actor | None], Awaitable[Response]]
    why_public: str = ""


def _actor_from(request: Request) -> Actor | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    with session_scope() as session:
        # The audit trail's screen column holds 120 characters; a DICOMweb frame's path is longer.
        return security.resolve_session(session, token=token, screen=request.url.path[:120])


def _record_denial(actor: Actor, detail: str) -> None:
    with session_scope() as session:
        record_audit(session, actor, "access.denied", outcome="denied", detail=detail)
        session.commit()


async def health(_request: Request, _actor: Actor | None) -> Response:
    def check() -> dict:
        with session_scope(read_only=True) as session:
            session.execute(text("SELECT 1"))
        current, head = current_revision(), head_revision()
        return {
            "status": "ok" if current == head else "migrations pending",
            "schema": current,
            "expected": head,
        }

    try:
        body = await asyncio.to_thread(check)
    except Exception:  # noqa: BLE001  (health reports, it never raises)
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


async def audit_verify(_request: Request, _actor: Actor | None) -> Response:
    def check():
        with session_scope() as sealer:
            seal_all(sealer)  # what was written a moment ago is checked too
        with session_scope(read_only=True) as session:
            return verify_chain(session)

    report = await asyncio.to_thread(check)
    return JSONResponse({"ok": report.ok, "rows_checked": report.rows_checked, "message": report.message})


async def document(request: Request, actor: Actor | None) -> Response:
    """A patient document's bytes, for a user allowed to read that patient (the service checks and audits)."""

    def load():
        with session_scope() as session:
            row, path = emr.open_document(
                session, actor=actor, document_id=request.path_params["document_id"]
            )
            return row.title, row.content_type, path

    try:
        title, content_type, path = await asyncio.to_thread(load)
    except Forbidden as error:
        await asyncio.to_thread(_record_denial, actor, f"{request.method} {request.url.path}: {error}")
        return JSONResponse({"error": str(error)}, status_code=403)
    except NotFound as error:
        if isinstance(error, Withheld):
            # Someone else's document: answered exactly as a missing one, and audited as a refusal.
            await asyncio.to_thread(_record_denial, actor, f"{request.method} {request.url.path}: withheld")
        return JSONResponse({"error": str(error)}, status_code=404)
    extension = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}.get(content_type, "")
    filename = "".join(c if c.isalnum() or c in " -_." else "_" for c in title)[:80] + extension
    return FileResponse(
        path,
        media_type=content_type,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            # Patient data: never kept by shared caches or proxies, never sniffed into another type.
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def message_attachment(request: Request, actor: Actor | None) -> Response:
    """A file sent with a secure message: for the thread's patient (portal) or staff who answer
    messages; the service checks and audits, another patient's file is answered as a missing one."""

    def load():
        with session_scope() as session:
            return messaging.open_attachment(
                session, actor=actor, attachment_id=request.path_params["attachment_id"]
            )

    try:
        found = await asyncio.to_thread(load)
    except Forbidden as error:
        await asyncio.to_thread(_record_denial, actor, f"{request.method} {request.url.path}: {error}")
        return JSONResponse({"error": str(error)}, status_code=403)
    except NotFound as error:
        if isinstance(error, Withheld):
            await asyncio.to_thread(_record_denial, actor, f"{request.method} {request.url.path}: withheld")
        return JSONResponse({"error": str(error)}, status_code=404)
    return FileResponse(
        found.path,
        media_type=found.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("/api/health", None, health, why_public="load balancers probe it; it reveals no data"),
    ApiRoute("/api/audit/verify", "audit.read", audit_verify),
    ApiRoute("/api/documents/{document_id:int}", "patient.read", document),
    ApiRoute("/api/portal/documents/{document_id:int}", "portal.self", document),
    ApiRoute("/api/messages/attachments/{attachment_id:int}", "message.staff", message_attachment),
    ApiRoute("/api/portal/messages/attachments/{attachment_id:int}", "portal.self", message_attachment),
    *(ApiRoute(path, "imaging.read", endpoint) for path, endpoint in dicomweb.ENDPOINTS),
)


def _guard(route: ApiRoute) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        actor = None
        if route.permission is not None:
            actor = await asyncio.to_thread(_actor_from, request)
            if actor is None:
                return JSONResponse({"error": "Please sign in."}, status_code=401)
            if not actor.can(route.permission):
                # Audited like a refused event handler: an auditor sees probing of the API too.
                await asyncio.to_thread(
                    _record_denial, actor, f"{request.method} {route.path} needs {route.permission}"
                )
                return JSONResponse({"error": "Your role does not allow this."}, status_code=403)
        return await route.endpoint(request, actor)

    return endpoint


def build_api() -> Starlette:
    return Starlette(
        routes=[
            *(Route(r.path, _guard(r), methods=["GET"]) for r in ROUTES),
            # FHIR has its own guard: bearer tokens and scopes, answers as OperationOutcomes.
            Mount("/fhir", app=fhir.build()),
            # A video visit's signalling channel: its own guard (cookie, Origin, the visit's two people).
            WebSocketRoute(video.PATH, video.signal),
        ]
    )
