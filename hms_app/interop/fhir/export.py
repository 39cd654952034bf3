"""FHIR Bulk Data Access (IG v2): ``$export`` jobs that write one NDJSON file per resource type.

A system client kicks a job off (``start``), polls it (``status``), fetches its files
(``open_file``) and may cancel it (``cancel``). The job runs in a thread of the process that
started it: it streams each type's rows from the database in chunks (a server-side cursor on
PostgreSQL), renders each as a read would (the type's mapper over its kept FHIR version), and
appends it to ``<data>/fhir-export/<job>/<Type>.ndjson``. No table is ever held in memory: one
chunk of rows and their kept versions at a time.

Only tokens of system clients export (not a patient's token, not a browser): a bulk export is
data about many patients at once, so it is audited as one row at kick-off and one per file
fetched, with the counts, not one row per patient. Jobs are rows (``fhir_export_job``): a
finished job's files can be fetched after a restart; a job whose process stopped is reported
failed at the next poll. Jobs and their files are deleted 24 hours after they were started.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.db import session_scope
from hms_app.interop.fhir import store
from hms_app.interop.fhir.access import Access, BrowserAccess
from hms_app.interop.fhir.elements import instant
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.registry import mappers, sources_for
from hms_app.interop.fhir.render import render, without_gc_pauses
from hms_app.models.fhir_export import FhirExportJob
from hms_app.services.audit import record_audit
from hms_app.settings import get_settings

CHUNK = 2000  # rows fetched, rendered and written at a time
KEEP_FOR = timedelta(hours=24)
HEARTBEAT_S = 2.0
# A running job whose process has not written a heartbeat for this long has stopped (restart).
STALE_AFTER = timedelta(minutes=2)
MAX_ACTIVE_PER_CLIENT = 2
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
PARAMETERS = ("_type", "_since", "_outputFormat")
ACTIVE = ("queued", "running")
# This process: a job started here and still "running" but with no live thread here has died.
WORKER = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
_threads: dict[str, threading.Thread] = {}
_cancelled: dict[str, threading.Event] = {}
_lock = threading.Lock()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobState:
    status: str  # queued | running | done | failed
    progress: str = ""
    manifest: dict | None = None
    error: str = ""


def export_root() -> Path:
    return get_settings().data_dir / "fhir-export"


def _folder(job_id: str) -> Path:
    return export_root() / job_id


def require_system_client(access: Access) -> None:
    """Bulk data is for registered system clients: a patient's token or a browser is refused."""
    if isinstance(access, BrowserAccess) or access.patient_id is not None:
        raise fail(
            403,
            "Bulk export is for system clients (SMART Backend Services tokens without a patient).",
            code="forbidden",
            denial=("FHIR $export: not a system client", access.patient_id),
        )


def readable_types(access: Access, *, patient_level: bool) -> list[str]:
    """Every type the token's scopes and the client's role let it read (in the compartment only
    for a Patient-level export)."""
    return [
        name
        for name, mapper in mappers().items()
        if mapper.read_permission is not None
        and (not patient_level or mapper.patient_column)
        and access.allows(name, "read")
        and any(access.actor.can(m.read_permission) for m in sources_for(name))
    ]


def requested_types(access: Access, text: str | None, *, patient_level: bool) -> list[str]:
    allowed = readable_types(access, patient_level=patient_level)
    if text is None or not text.strip():
        if not allowed:
            raise fail(
                403, "The token's scopes and the client's role allow no type to export.", code="forbidden"
            )
        return allowed
    wanted: list[str] = []
    for name in (part.strip() for part in text.split(",")):
        if name and name not in wanted:
            wanted.append(name)
    unknown = [name for name in wanted if name not in mappers()]
    if unknown:
        raise fail(
            400,
            f"_type names types this server does not have: {', '.join(unknown)[:200]} "
            "(see /fhir/metadata for the supported ones).",
            code="not-supported",
            expression="_type",
        )
    if patient_level:
        outside = [name for name in wanted if not mappers()[name].patient_column]
        if outside:
            raise fail(
                400,
                f"Patient/$export exports the patient compartment; not in it: {', '.join(outside)[:200]}.",
                code="not-supported",
                expression="_type",
            )
    refused = [name for name in wanted if name not in allowed]
    if refused:
        raise fail(
            403,
            f"The token's scopes or the client's role do not allow reading {', '.join(refused)[:200]}.",
            code="forbidden",
            denial=(f"FHIR $export of {', '.join(refused)[:200]}: not allowed", None),
        )
    return wanted


def parse_since(text: str) -> datetime:
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None or "T" not in value:
        raise fail(
            400,
            f"_since must be a FHIR instant with a time zone, like 2026-01-31T12:00:00Z (got {value[:40]!r}).",
            code="invalid",
            expression="_since",
        )
    return moment.astimezone(UTC)


def check_parameters(query: list[tuple[str, str]]) -> dict[str, str]:
    """The kick-off's parameters, each once and each one this server supports."""
    given: dict[str, str] = {}
    for name, value in query:
        if name not in PARAMETERS:
            raise fail(
                400,
                f"This server does not support the $export parameter {name[:40]!r} "
                f"(supported: {', '.join(PARAMETERS)}).",
                code="not-supported",
                expression=name[:40],
            )
        if name in given:
            raise fail(400, f"Give {name} once (a comma list for several types).", expression=name)
        given[name] = value
    output_format = given.get("_outputFormat")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise fail(
            400,
            f"_outputFormat must be application/fhir+ndjson, not {output_format[:60]!r}.",
            code="not-supported",
            expression="_outputFormat",
        )
    return given


# --------------------------------------------------------------------------- the client's calls


def start(access: Access, query: list[tuple[str, str]], *, request_url: str, patient_level: bool) -> str:
    """Check and record a kick-off, start its job in a thread; the job's id."""
    require_system_client(access)
    given = check_parameters(query)
    types = requested_types(access, given.get("_type"), patient_level=patient_level)
    since = parse_since(given["_since"]) if given.get("_since", "").strip() else None
    job_id = secrets.token_hex(16)
    with session_scope() as session:
        purge_expired(session)
        active = session.execute(
            select(func.count())
            .select_from(FhirExportJob)
            .where(FhirExportJob.requested_by == access.actor.user_id, FhirExportJob.status.in_(ACTIVE))
        ).scalar_one()
        if active >= MAX_ACTIVE_PER_CLIENT:
            raise fail(
                429,
                f"This client already has {active} exports running: wait for them, or cancel one.",
                code="too-costly",
            )
        session.add(
            FhirExportJob(
                id=job_id,
                requested_by=access.actor.user_id,
                client_name=str(getattr(access, "client_name", access.actor.username))[:60],
                request=request_url[:2000],
                # Each table the client may read (a type kept in two tables, one of them
                # outside the role, exports the other's rows only).
                types=",".join(
                    m.identity_key
                    for name in types
                    for m in sources_for(name)
                    if access.actor.can(m.read_permission)
                ),
                since=since,
                worker=WORKER,
                heartbeat_at=utcnow(),
            )
        )
        record_audit(
            session,
            access.actor,
            "fhir.export",
            target_type="FhirExportJob",
            target_id=job_id,
            detail=f"{'Patient/' if patient_level else ''}$export of {', '.join(types)}"
            + (f" changed since {instant(since)}" if since else ""),
        )
        session.commit()
    event = threading.Event()
    thread = threading.Thread(
        target=run_job, args=(job_id, event), name=f"fhir-export-{job_id[:8]}", daemon=True
    )
    with _lock:
        _cancelled[job_id] = event
        _threads[job_id] = thread
    thread.start()
    return job_id


def _own_job(session: Session, access: Access, job_id: str) -> FhirExportJob:
    """The job, if this client started it; any other job is answered as a missing one."""
    require_system_client(access)
    job = session.get(FhirExportJob, job_id[:32]) if job_id.isalnum() else None
    if job is None or job.requested_by != access.actor.user_id or job.status == "cancelled":
        raise fail(404, "There is no such export (or it was cancelled, or has expired).", code="not-found")
    return job


def status(access: Access, job_id: str, base: str) -> JobState:
    with session_scope(read_only=True) as session:
        job = _own_job(session, access, job_id)
    if job.status in ACTIVE and _has_died(job):
        message = "The export stopped when the server restarted; start it again."
        with session_scope() as session:
            # Only a job still marked active is dead: one whose thread finished between the read
            # above and the check keeps the status its thread wrote.
            marked = session.execute(
                update(FhirExportJob)
                .where(FhirExportJob.id == job.id, FhirExportJob.status.in_(ACTIVE))
                .values(status="failed", error=message, finished_at=utcnow())
            ).rowcount
            session.commit()
        if marked:
            return JobState("failed", error=message)
        with session_scope(read_only=True) as session:
            job = _own_job(session, access, job_id)
    if job.status in ACTIVE:
        return JobState(job.status, progress=job.progress or job.status)
    if job.status == "failed":
        return JobState("failed", error=job.error or "The export failed.")
    manifest = {
        "transactionTime": instant(job.transaction_time),
        "request": job.request,
        "requiresAccessToken": True,
        "output": [
            {
                "type": o["type"],
                "url": f"{base}/$export-file/{job.id}/{o['type']}.ndjson",
                "count": o["count"],
            }
            for o in json.loads(job.output)
        ],
        "error": [],
    }
    return JobState("done", manifest=manifest)


def _has_died(job: FhirExportJob) -> bool:
    if job.worker == WORKER:
        with _lock:
            thread = _threads.get(job.id)
        return thread is None or not thread.is_alive()
    beat = job.heartbeat_at or job.created_at
    return beat < utcnow() - STALE_AFTER


def cancel(access: Access, job_id: str) -> None:
    """Stop a job (or forget a finished one) and delete its files."""
    with session_scope() as session:
        job = _own_job(session, access, job_id)
        job.status, job.finished_at = "cancelled", utcnow()
        record_audit(
            session, access.actor, "fhir.export.cancel", target_type="FhirExportJob", target_id=job.id
        )
        session.commit()
    with _lock:
        event = _cancelled.get(job_id)
    if event is not None:
        event.set()
    shutil.rmtree(_folder(job_id), ignore_errors=True)


def open_file(access: Access, job_id: str, resource_type: str) -> tuple[Path, int]:
    """The path of one finished file of the client's job and its count (audited)."""
    with session_scope(read_only=True) as session:  # the audit row commits on its own
        job = _own_job(session, access, job_id)
        counts = {o["type"]: o["count"] for o in json.loads(job.output)} if job.status == "done" else {}
        if resource_type not in counts:
            raise fail(404, "This export has no such file.", code="not-found")
        path = _folder(job.id) / f"{resource_type}.ndjson"
        if not path.is_file():
            raise fail(404, "This export's files are gone (expired or removed).", code="not-found")
        record_audit(
            session,
            access.actor,
            "fhir.export.download",
            target_type="FhirExportJob",
            target_id=job.id,
            detail=f"{resource_type}.ndjson of export {job.id}: {counts[resource_type]} resources",
        )
    return path, counts[resource_type]


def purge_expired(session: Session) -> int:
    """Delete the jobs started more than a day ago, and their files (the caller commits)."""
    cutoff = utcnow() - KEEP_FOR
    old = list(session.execute(select(FhirExportJob.id).where(FhirExportJob.created_at < cutoff)).scalars())
    for job_id in old:
        with _lock:
            event = _cancelled.get(job_id)
        if event is not None:
            event.set()
        shutil.rmtree(_folder(job_id), ignore_errors=True)
    if old:
        session.execute(delete(FhirExportJob).where(FhirExportJob.id.in_(old)))
    return len(old)


# --------------------------------------------------------------------------- the job


class Cancelled(Exception):
    pass


def run_job(job_id: str, cancelled: threading.Event) -> None:
    """Write the job's files; record what was written (or why it failed)."""
    folder = _folder(job_id)
    try:
        with session_scope() as session:
            job = session.get(FhirExportJob, job_id)
            if job is None or job.status != "queued":
                return
            job.status, job.heartbeat_at = "running", utcnow()
            keys, since = job.types.split(","), job.since
            session.commit()
        folder.mkdir(parents=True, exist_ok=True)
        beat = _Heartbeat(job_id, cancelled)
        outputs = []
        types = list(dict.fromkeys(key.partition(":")[0] for key in keys))
        for number, resource_type in enumerate(types, start=1):
            count = write_type(
                folder, resource_type, set(keys), since, beat, f"{number} of {len(types)} types"
            )
            if count:
                outputs.append({"type": resource_type, "count": count})
        with session_scope() as session:
            finished = session.execute(
                update(FhirExportJob)
                .where(FhirExportJob.id == job_id, FhirExportJob.status == "running")
                .values(status="done", output=json.dumps(outputs), progress="done", finished_at=utcnow())
            ).rowcount
            session.commit()
        if not finished:
            raise Cancelled
    except Cancelled:
        shutil.rmtree(folder, ignore_errors=True)
    except Exception as error:  # noqa: BLE001  (the client learns it failed; the log keeps why)
        log.exception("FHIR export %s failed", job_id)
        shutil.rmtree(folder, ignore_errors=True)
        with session_scope() as session:
            session.execute(
                update(FhirExportJob)
                .where(FhirExportJob.id == job_id, FhirExportJob.status.in_(ACTIVE))
                .values(
                    status="failed",
                    error=f"The export failed: {type(error).__name__}"[:500],
                    finished_at=utcnow(),
                )
            )
            session.commit()
    finally:
        with _lock:
            _cancelled.pop(job_id, None)
            _threads.pop(job_id, None)


class _Heartbeat:
    """Tells the job's row it is alive and how far it got, every few seconds; finds out there
    whether it was cancelled from another process."""

    def __init__(self, job_id: str, cancelled: threading.Event):
        self.job_id, self.cancelled, self.last = job_id, cancelled, 0.0

    def __call__(self, progress: str, *, force: bool = False) -> None:
        if self.cancelled.is_set():
            raise Cancelled
        now = time.monotonic()
        if not force and now - self.last < HEARTBEAT_S:
            return
        self.last = now
        with session_scope() as session:
            alive = session.execute(
                update(FhirExportJob)
                .where(FhirExportJob.id == self.job_id, FhirExportJob.status == "running")
                .values(progress=progress[:200], heartbeat_at=utcnow())
            ).rowcount
            session.commit()
        if not alive:
            raise Cancelled


def _since_condition(mapper: Mapper, since: datetime):
    """The SQL form of "changed since" when the mapper's lastUpdated is the default one (the
    row's updated_at, else recorded_at, else created_at); None when only the rows can tell."""
    if mapper.updated_column is not None:
        return getattr(mapper.table, mapper.updated_column) >= since
    if type(mapper).last_updated is not Mapper.last_updated:
        return None
    columns = [
        getattr(mapper.table, n)
        for n in ("updated_at", "recorded_at", "created_at")
        if hasattr(mapper.table, n)
    ]
    if not columns:
        return None
    column = columns[0] if len(columns) == 1 else func.coalesce(*columns)
    return column >= since


def write_type(
    folder: Path, resource_type: str, keys: set[str], since: datetime | None, beat: _Heartbeat, step: str
) -> int:
    """Stream one type's resources (from each of its tables named in ``keys``) into
    ``<Type>.ndjson``; how many were written."""
    partial = folder / f"{resource_type}.ndjson.part"
    count = 0
    beat(f"{resource_type}: starting ({step})", force=True)
    with (
        session_scope(read_only=True) as session,
        partial.open("w", encoding="utf-8") as out,
        without_gc_pauses(),
    ):
        for mapper in sources_for(resource_type):
            if mapper.identity_key not in keys:
                continue
            statement = mapper.select()
            if since is not None and (condition := _since_condition(mapper, since)) is not None:
                statement = statement.where(condition)
            statement = mapper.rows(statement.order_by(mapper.table.id)).execution_options(yield_per=CHUNK)
            result = session.execute(statement)
            for rows in (result if mapper.plain_rows else result.scalars()).partitions():
                mapper.prefetch(session, rows)
                kept = store.latest_many(session, resource_type, [mapper.fhir_id(row) for row in rows])
                lines = []
                for row in rows:
                    if since is not None:
                        updated = mapper.last_updated(row)
                        if updated is not None and updated < since:
                            continue
                    resource = render(mapper, row, kept.get(mapper.fhir_id(row)))
                    lines.append(orjson.dumps(resource).decode())
                if lines:
                    out.write("\n".join(lines) + "\n")
                    count += len(lines)
                beat(f"{resource_type}: {count} resources written ({step})")
    if count:
        partial.rename(folder / f"{resource_type}.ndjson")
    else:
        partial.unlink()
    return count
