"""The FHIR Bulk Data Access endpoints (IG v2): ``$export`` kick-off, status and files.

Handlers take ``(request, access)`` and are wrapped by ``api.fhir.interaction`` in its ``ROUTES``
(who is asking, refusals as OperationOutcomes); the jobs themselves are ``interop/fhir/export``.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from hms_app.interop.fhir import export
from hms_app.interop.fhir.access import Access
from hms_app.interop.fhir.outcome import fail
from hms_app.settings import get_settings

NDJSON = "application/fhir+ndjson"
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
RETRY_AFTER_S = 2


def _base() -> str:
    return get_settings().public_url + "/fhir"


def _prefers_async(request: Request) -> bool:
    return any(
        part.strip().lower() == "respond-async"
        for value in request.headers.getlist("prefer")
        for part in value.split(",")
    )


async def _kick_off(request: Request, access: Access, *, patient_level: bool) -> Response:
    export.require_system_client(access)
    if not _prefers_async(request):
        raise fail(400, "A bulk export runs asynchronously: send the header Prefer: respond-async.")
    path = "Patient/$export" if patient_level else "$export"
    query = request.url.query
    job_id = await asyncio.to_thread(
        export.start,
        access,
        list(request.query_params.multi_items()),
        request_url=f"{_base()}/{path}" + (f"?{query}" if query else ""),
        patient_level=patient_level,
    )
    return Response(
        status_code=202, headers={"Content-Location": f"{_base()}/$export-status/{job_id}", **NO_STORE}
    )


async def kick_off(request: Request, access: Access) -> Response:
    return await _kick_off(request, access, patient_level=False)


async def kick_off_patients(request: Request, access: Access) -> Response:
    return await _kick_off(request, access, patient_level=True)


async def poll(request: Request, access: Access) -> Response:
    state = await asyncio.to_thread(export.status, access, request.path_params["id"], _base())
    if state.status in export.ACTIVE:
        return Response(
            status_code=202,
            headers={"X-Progress": state.progress[:200], "Retry-After": str(RETRY_AFTER_S), **NO_STORE},
        )
    if state.status == "failed":
        raise fail(500, state.error, code="exception")
    return JSONResponse(state.manifest, headers=NO_STORE)


async def cancel(request: Request, access: Access) -> Response:
    await asyncio.to_thread(export.cancel, access, request.path_params["id"])
    return Response(status_code=202, headers=NO_STORE)


async def download(request: Request, access: Access) -> Response:
    name = request.path_params["file"]
    if not name.endswith(".ndjson"):
        raise fail(404, "Export files are named <Type>.ndjson.", code="not-found")
    path, _count = await asyncio.to_thread(
        export.open_file, access, request.path_params["id"], name.removesuffix(".ndjson")
    )
    # Sent in chunks from the file, never read whole into memory.
    return FileResponse(path, media_type=NDJSON, headers=NO_STORE)
