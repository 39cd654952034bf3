"""The FHIR R4 REST API, mounted at ``/fhir`` on the backend.

Who is asking: a SMART bearer token (a registered system client, or one bound to a patient), or
for reads only a signed-in staff member's browser. What is answered: JSON (``application/fhir+json``);
a client asking only for XML gets 406. Every refusal is an OperationOutcome with its status, never
a traceback; refusals of access are audited once the request's transaction is over.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import orjson
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hms_app.api import fhir_auth, fhir_export
from hms_app.db import session_scope
from hms_app.errors import DomainError
from hms_app.interop.fhir import FHIR_JSON, bundle, engine, writes
from hms_app.interop.fhir.access import Access, BrowserAccess
from hms_app.interop.fhir.capability import capability_statement
from hms_app.interop.fhir.outcome import FhirError, fail, from_domain_error
from hms_app.services import security
from hms_app.settings import get_settings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024  # a transaction Bundle of a few thousand resources
SESSION_COOKIE = "hms_session"


def answer(body: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=FHIR_JSON + "; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", **(headers or {})},
    )


def base_url() -> str:
    return get_settings().public_url + "/fhir"


def _wants_xml(request: Request) -> bool:
    fmt = request.query_params.get("_format", "")
    if "xml" in fmt:
        return True
    accept = request.headers.get("accept", "")
    return bool(accept) and "xml" in accept and "json" not in accept and "*/*" not in accept


async def _access(request: Request, *, write: bool) -> Access:
    header = request.headers.get("authorization", "")
    if header:
        access = await fhir_auth.bearer_access(request)
        if access is None:
            raise fail(401, "The access token is not valid (unknown, expired or revoked).", code="login")
        return access
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and not write:

        def resolve():
            with session_scope() as session:
                return security.resolve_session(session, token=token, screen=request.url.path[:120])

        actor = await asyncio.to_thread(resolve)
        if actor is not None and actor.patient_id is None:
            return BrowserAccess(actor)
    raise fail(
        401,
        "A bearer token is needed: get one from /fhir/auth/token (SMART Backend Services).",
        code="login",
    )


async def _body(request: Request) -> object:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (FHIR_JSON, "application/json"):
        raise fail(
            415, f"Send {FHIR_JSON}, not {content_type[:60] or 'no content type'}.", code="not-supported"
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise fail(413, f"The body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.", code="too-costly")
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > MAX_BODY_BYTES:
            raise fail(
                413, f"The body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MB.", code="too-costly"
            )
    try:
        return json.loads(bytes(data))
    except (ValueError, UnicodeDecodeError) as error:
        raise fail(400, f"The body is not JSON: {str(error)[:120]}", code="structure") from error


Handler = Callable[[Request, Access], Awaitable[Response]]


def interaction(handler: Handler, *, write: bool = False) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if _wants_xml(request):
            return answer(operation_outcome_406(), 406)
        access = None
        try:
            access = await _access(request, write=write)
            return await handler(request, access)
        except FhirError as error:
            if access is not None and error.denial is not None:
                await asyncio.to_thread(engine.record_denial, access, error)
            headers = {"WWW-Authenticate": 'Bearer realm="fhir"'} if error.status == 401 else None
            return answer(error.outcome(), error.status, headers)
        except DomainError as error:
            refusal = from_domain_error(request.path_params.get("type", "Resource"), error)
            return answer(refusal.outcome(), refusal.status)
        except IntegrityError:
            # Two writers raced for the same unique thing (a second registration, a booked slot):
            # the loser's transaction was rolled back whole.
            return answer(
                operation_outcome_error(
                    "Someone else changed this at the same moment; read it again.", code="conflict"
                ),
                409,
            )
        except OperationalError:
            log.warning("FHIR %s %s: database busy", request.method, request.url.path, exc_info=True)
            return answer(
                operation_outcome_error(
                    "The database is busy; nothing was changed. Try again in a moment.", code="transient"
                ),
                503,
                {"Retry-After": "2"},
            )
        except Exception:  # noqa: BLE001  (a client never gets a traceback; the log keeps it)
            log.exception("FHIR %s %s failed", request.method, request.url.path)
            return answer(
                operation_outcome_error("The server could not complete this request; it was logged."), 500
            )

    return endpoint


def operation_outcome_406() -> dict:
    return operation_outcome_error(
        "This server answers JSON only (application/fhir+json).", code="not-supported"
    )


def operation_outcome_error(message: str, *, code: str = "exception") -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }


def _query(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


async def metadata(request: Request) -> Response:
    if _wants_xml(request):
        return answer(operation_outcome_406(), 406)
    return answer(await asyncio.to_thread(capability_statement))


async def read(request: Request, access: Access) -> Response:
    p = request.path_params
    resource = await asyncio.to_thread(engine.read, access, p["type"], p["id"])
    return answer(resource, headers={"ETag": f'W/"{resource["meta"]["versionId"]}"'})


async def vread(request: Request, access: Access) -> Response:
    p = request.path_params
    resource = await asyncio.to_thread(engine.vread, access, p["type"], p["id"], p["vid"])
    return answer(resource, headers={"ETag": f'W/"{p["vid"]}"'})


async def history(request: Request, access: Access) -> Response:
    p = request.path_params
    return answer(await asyncio.to_thread(engine.history, access, p["type"], p["id"], base_url()))


async def search(request: Request, access: Access) -> Response:
    query = _query(request)
    if request.method == "POST":
        if (
            request.headers.get("content-type", "").split(";")[0].strip()
            != "application/x-www-form-urlencoded"
        ):
            raise fail(
                415, "POST _search takes application/x-www-form-urlencoded parameters.", code="not-supported"
            )
        raw = await request.body()
        if len(raw) > 64 * 1024:
            raise fail(413, "The search parameters are longer than 64 KB.", code="too-costly")
        query += parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return answer(
        await asyncio.to_thread(engine.search, access, request.path_params["type"], query, base_url())
    )


async def create(request: Request, access: Access) -> Response:
    body = await _body(request)
    written = await asyncio.to_thread(
        writes.create,
        access,
        request.path_params["type"],
        body,
        if_none_exist=request.headers.get("if-none-exist"),
    )
    return answer(
        written.resource,
        written.status,
        {
            "Location": f"{base_url()}/{written.location}",
            "ETag": f'W/"{written.resource["meta"]["versionId"]}"',
        },
    )


async def update(request: Request, access: Access) -> Response:
    body = await _body(request)
    p = request.path_params
    written = await asyncio.to_thread(
        writes.update, access, p["type"], p["id"], body, if_match=request.headers.get("if-match")
    )
    return answer(
        written.resource,
        written.status,
        {
            "Location": f"{base_url()}/{written.location}",
            "ETag": f'W/"{written.resource["meta"]["versionId"]}"',
        },
    )


async def everything(request: Request, access: Access) -> Response:
    return answer(await asyncio.to_thread(engine.everything, access, request.path_params["id"], base_url()))


async def transaction(request: Request, access: Access) -> Response:
    body = await _body(request)
    return answer(await asyncio.to_thread(bundle.transaction, access, body, base_url()))


async def not_allowed(request: Request, _access: Access) -> Response:
    raise fail(405, f"{request.method} is not supported on {request.url.path[:120]}.", code="not-supported")


ROUTES = [
    Route("/metadata", metadata, methods=["GET"]),
    *fhir_auth.ROUTES,
    Route("/", interaction(transaction, write=True), methods=["POST"]),
    Route("/Patient/{id}/$everything", interaction(everything), methods=["GET"]),
    Route("/$export", interaction(fhir_export.kick_off), methods=["GET"]),
    Route("/Patient/$export", interaction(fhir_export.kick_off_patients), methods=["GET"]),
    Route("/$export-status/{id}", interaction(fhir_export.poll), methods=["GET"]),
    Route("/$export-status/{id}", interaction(fhir_export.cancel), methods=["DELETE"]),
    Route("/$export-file/{id}/{file}", interaction(fhir_export.download), methods=["GET"]),
    Route("/{type}/_search", interaction(search), methods=["POST"]),
    Route("/{type}/{id}/_history/{vid}", interaction(vread), methods=["GET"]),
    Route("/{type}/{id}/_history", interaction(history), methods=["GET"]),
    Route("/{type}/{id}", interaction(read), methods=["GET"]),
    Route("/{type}/{id}", interaction(update, write=True), methods=["PUT"]),
    Route("/{type}/{id}", interaction(not_allowed, write=True), methods=["DELETE", "PATCH"]),
    Route("/{type}", interaction(search), methods=["GET"]),
    Route("/{type}", interaction(create, write=True), methods=["POST"]),
]


def build() -> Starlette:
    return Starlette(routes=ROUTES)
