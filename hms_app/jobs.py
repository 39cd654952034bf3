"""Periodic work every backend worker runs while the app is up: reminders and waitlist offers.
`hms jobs` runs the same round by hand (or from cron, for a deployment that wants it there).

Each job is an ordinary service call as the system actor. Several workers may run the same job
at the same moment; the services claim their rows with conditional updates, so a reminder is
sent once and an offer expires once whoever gets there first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hms_app.db import session_scope
from hms_app.services import reminders, scheduling
from hms_app.services.permissions import SYSTEM_ACTOR

log = logging.getLogger("hms.jobs")

INTERVAL_SECONDS = 30.0
# Each reminder is its own short write; a small batch per round leaves the write lock to
# the people using the app (SQLite has one writer at a time).
REMINDERS_PER_ROUND = 50


def run_due_jobs() -> dict[str, int]:
    """Expire waitlist offers that ran out (offering the time to the next patient), then send due reminders."""
    done: dict[str, int] = {}
    with session_scope() as session:
        done["offers_expired"] = scheduling.expire_offers(session, actor=SYSTEM_ACTOR)
    with session_scope() as session:
        done["reminders_released"] = reminders.release_stuck(session)
    with session_scope() as session:
        report = reminders.send_due_reminders(session, actor=SYSTEM_ACTOR, limit=REMINDERS_PER_ROUND)
        done.update(
            reminders_sent=report.sent, reminders_retried=report.retried, reminders_failed=report.failed
        )
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
