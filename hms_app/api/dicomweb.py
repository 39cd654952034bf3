"""DICOMweb routes (PS3.18) for the viewer and for DICOMweb clients, under ``/api/dicomweb``.

QIDO-RS: ``/studies``, ``/studies/{study}/series``, ``/studies/{study}/series/{series}/instances``.
WADO-RS: an instance (``application/dicom``, multipart or single part), its frames (raw pixel data,
``application/octet-stream``, multipart or a single part for one frame), metadata at the study,
series and instance levels (``application/dicom+json``) and a series thumbnail (PNG).

``hms_app/api/routes.py`` mounts ``ENDPOINTS`` behind its session and ``imaging.read`` guard; the
service (``hms_app/services/radiology/dicomweb.py``) checks again, looks up and audits. Answers:
400 for a malformed UID or frame list, 404 for an unknown one (the same text whatever the reason),
406 for a media type not offered.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from hms_app.db import session_scope
from hms_app.errors import Forbidden, NotFound, ValidationError, Withheld
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor
from hms_app.services.radiology import dicomweb

PREFIX = "/api/dicomweb"
_STUDIES = PREFIX + "/studies"
DICOM_JSON = "application/dicom+json"
PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
QUERY_KEYS = {
    "PatientID",
    "00100020",
    "StudyInstanceUID",
    "0020000D",
    "AccessionNumber",
    "00080050",
    "StudyDate",
    "00080020",
    "ModalitiesInStudy",
    "00080061",
}


def _accepted(request: Request) -> list[tuple[str, dict[str, str]]]:
    """The Accept header's media types with their parameters, in the client's order (q ignored)."""
    found = []
    for item in request.headers.get("accept", "").split(","):
        parts = [p.strip() for p in item.split(";") if p.strip()]
        if not parts:
            continue
        params = {}
        for part in parts[1:]:
            key, _, value = part.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        found.append((parts[0].lower(), params))
    return found or [("*/*", {})]


def _multipart(parts: list[tuple[bytes, str]], part_type: str) -> Response:
    boundary = secrets.token_hex(16)
    chunks = []
    for data, content_type in parts:
        chunks += [f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    media = f'multipart/related; type="{part_type}"; boundary={boundary}'
    return Response(b"".join(chunks), media_type=media, headers=PRIVATE)


async def _run(request: Request, actor: Actor, job: Callable) -> object:
    """Run ``job(session)`` in a worker thread; errors become the exceptions the caller maps."""

    def work():
        with session_scope(read_only=True) as session:
            return job(session)

    return await asyncio.to_thread(work)


def _deny(actor: Actor, request: Request, why: str) -> None:
    with session_scope() as session:
        record_audit(
            session, actor, "access.denied", outcome="denied", detail=f"GET {request.url.path}: {why}"
        )
        session.commit()


def answers(handler: Callable[[Request, Actor], Awaitable[Response]]):
    """Domain errors as DICOMweb status codes, with no more detail than the error's own sentence."""

    async def endpoint(request: Request, actor: Actor | None) -> Response:
        # The audit trail names the study's address, not each frame's (the screen column is short).
        study = request.path_params.get("study", "")
        actor = replace(actor, screen=(f"{_STUDIES}/{study}" if study else _STUDIES)[:120])
        try:
            return await handler(request, actor)
        except ValidationError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except Withheld as error:
            # Someone else's study: the answer an unknown UID gets, and a refusal on the audit trail.
            await asyncio.to_thread(_deny, actor, request, "withheld")
            return JSONResponse({"error": str(error)}, status_code=404)
        except NotFound as error:
            return JSONResponse({"error": str(error)}, status_code=404)
        except Forbidden as error:
            await asyncio.to_thread(_deny, actor, request, str(error))
            return JSONResponse({"error": str(error)}, status_code=403)

    return endpoint


def _ids(request: Request) -> dict[str, str]:
    names = {"study": "study_uid", "series": "series_uid", "instance": "sop_uid"}
    return {names[k]: v for k, v in request.path_params.items() if k in names}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


@answers
async def search_studies(request: Request, actor: Actor) -> Response:
    query = request.query_params
    filters = {k: v for k, v in query.items() if k in QUERY_KEYS and v}
    try:
        limit, offset = int(query.get("limit", 50)), int(query.get("offset", 0))
    except ValueError as error:
        raise ValidationError("limit and offset are whole numbers.") from error
    found = await _run(
        request,
        actor,
        lambda s: dicomweb.search_studies(s, actor=actor, filters=filters, limit=limit, offset=offset),
    )
    return JSONResponse(found, media_type=DICOM_JSON, headers=PRIVATE)


@answers
async def search_series(request: Request, actor: Actor) -> Response:
    found = await _run(request, actor, lambda s: dicomweb.search_series(s, actor=actor, **_ids(request)))
    return JSONResponse(found, media_type=DICOM_JSON, headers=PRIVATE)


@answers
async def search_instances(request: Request, actor: Actor) -> Response:
    found = await _run(request, actor, lambda s: dicomweb.search_instances(s, actor=actor, **_ids(request)))
    return JSONResponse(found, media_type=DICOM_JSON, headers=PRIVATE)


@answers
async def metadata(request: Request, actor: Actor) -> Response:
    found = await _run(
        request,
        actor,
        lambda s: dicomweb.retrieve_metadata(s, actor=actor, base_url=_base(request), **_ids(request)),
    )
    return JSONResponse(found, media_type=DICOM_JSON, headers=PRIVATE)


@answers
async def thumbnail(request: Request, actor: Actor) -> Response:
    png = await _run(request, actor, lambda s: dicomweb.series_thumbnail(s, actor=actor, **_ids(request)))
    return Response(png, media_type="image/png", headers=PRIVATE)


@answers
async def instance(request: Request, actor: Actor) -> Response:
    """The stored file: ``application/dicom`` alone when asked for, else one multipart part."""
    single = any(media == "application/dicom" for media, _ in _accepted(request))
    wanted = [m for m, p in _accepted(request) if m in ("*/*", "application/dicom", "multipart/related")]
    if not wanted:
        return JSONResponse({"error": "This resource is offered as application/dicom."}, status_code=406)
    path = await _run(request, actor, lambda s: dicomweb.instance_path(s, actor=actor, **_ids(request)))
    if single:
        return FileResponse(path, media_type="application/dicom", headers=PRIVATE)
    content = await asyncio.to_thread(path.read_bytes)
    return _multipart([(content, "application/dicom")], "application/dicom")


def _frame_numbers(text: str) -> list[int]:
    try:
        numbers = [int(part) for part in text.split(",")]
    except ValueError as error:
        raise ValidationError("Frames are numbers separated by commas.") from error
    if not numbers or len(numbers) > 1000:
        raise ValidationError("Ask for between 1 and 1000 frames.")
    return numbers


@answers
async def frames(request: Request, actor: Actor) -> Response:
    """Raw frames: native little endian unless the client accepts the stored (compressed) syntax."""
    numbers = _frame_numbers(request.path_params["frames"])
    accepted = _accepted(request)
    single = any(media == "application/octet-stream" for media, _ in accepted)
    usable = [
        p for m, p in accepted if m in ("*/*", "application/octet-stream", "multipart/related", "image/*")
    ]
    if not usable:
        return JSONResponse({"error": "Frames are offered as application/octet-stream."}, status_code=406)
    stored = any(p.get("transfer-syntax") == "*" or p.get("type", "").startswith("image/") for p in usable)
    found = await _run(
        request,
        actor,
        lambda s: dicomweb.retrieve_frames(
            s, actor=actor, numbers=numbers, accept_stored=stored, **_ids(request)
        ),
    )
    if single and len(found) == 1 and found[0].media_type == "application/octet-stream":
        headers = {
            **PRIVATE,
            "Content-Type": f"application/octet-stream; transfer-syntax={found[0].transfer_syntax}",
        }
        return Response(found[0].data, headers=headers)
    parts = [(f.data, f"{f.media_type}; transfer-syntax={f.transfer_syntax}") for f in found]
    kinds = {f.media_type for f in found}
    return _multipart(parts, kinds.pop() if len(kinds) == 1 else "application/octet-stream")


_STUDY = PREFIX + "/studies/{study}"
_SERIES = _STUDY + "/series/{series}"
_INSTANCE = _SERIES + "/instances/{instance}"
# Mounted by hms_app/api/routes.py, each behind the session and imaging.read guard.
ENDPOINTS: tuple[tuple[str, Callable[[Request, Actor | None], Awaitable[Response]]], ...] = (
    (PREFIX + "/studies", search_studies),
    (_STUDY + "/series", search_series),
    (_STUDY + "/metadata", metadata),
    (_SERIES + "/instances", search_instances),
    (_SERIES + "/metadata", metadata),
    (_SERIES + "/thumbnail", thumbnail),
    (_INSTANCE, instance),
    (_INSTANCE + "/metadata", metadata),
    (_INSTANCE + "/frames/{frames}", frames),
)
