"""Periodic work every backend worker runs while the app is up: the jobs each module declares
in the registry (today: waitlist offers that ran out, and reminders).
`hms jobs` runs the same round by hand (or from cron, for a deployment that wants it there).

Each job is an ordinary service call as the system actor. Several workers may run the same job
at the same moment; the services claim their rows with conditional updates, so a reminder is
sent once and an offer expires once whoever gets there first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hms_app import modules
from hms_app.db import session_scope
from hms_app.services.audit_chain import seal_pending
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings

log = logging.getLogger("hms.jobs")

INTERVAL_SECONDS = 30.0


def run_due_jobs() -> dict[str, int]:
    """One round of every module's periodic jobs, each in its own transaction, in registry order."""
    done: dict[str, int] = {}
    for job in modules.collect("jobs"):
        with session_scope() as session:
            result = modules.resolve(job.target)(session, actor=SYSTEM_ACTOR)
        done.update(result if isinstance(result, dict) else {job.name: result})
    return done


async def periodic_jobs(interval: float = INTERVAL_SECONDS, run: Callable[[], dict[str, int]] = run_due_jobs):
    """The lifespan task: run the due jobs every ``interval`` seconds until the app stops."""
    while True:
        try:
            done = await asyncio.to_thread(run)
            if any(done.values()):
                log.info("periodic jobs: %s", done)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one failed round must not stop the next
            log.exception("periodic jobs failed; trying again in %s s", interval)
        await asyncio.sleep(interval)


SEAL_INTERVAL_SECONDS = 2.0


def seal_audit_round() -> int:
    with session_scope() as session:
        return seal_pending(session)


async def audit_sequencer(interval: float = SEAL_INTERVAL_SECONDS):
    """The lifespan task that seals new audit rows into the chain a couple of seconds after they
    are written. Every worker runs it; a worker that finds another sealing skips its round."""
    while True:
        try:
            await asyncio.to_thread(seal_audit_round)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - rows not sealed now are sealed next round
            log.exception("sealing the audit trail failed; trying again in %s s", interval)
        await asyncio.sleep(interval)


async def dicom_listener() -> None:
    """The lifespan task of the in-process DICOM listener (``HMS_DICOM_PORT``): modalities send
    images straight to the app, whose boards then hear of them in-process, as the embedded,
    one-process deployment needs. A worker that finds the port taken (another worker has it)
    leaves it to that one."""
    settings = get_settings()
    if settings.dicom_port is None:
        return
    from hms_app.services.radiology import dicom_net

    try:
        server = await asyncio.to_thread(dicom_net.start_listener, settings.dicom_host, settings.dicom_port)
    except OSError as error:
        log.warning(
            "DICOM listener not started on %s:%s: %s", settings.dicom_host, settings.dicom_port, error
        )
        return
    log.info("listening for DICOM C-STORE and C-ECHO on %s:%s", settings.dicom_host, settings.dicom_port)
    try:
        while True:
            await asyncio.sleep(3600)
    finally:
        await asyncio.to_thread(server.shutdown)
