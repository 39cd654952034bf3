"""The periodic jobs: `hms jobs` and the app's lifespan task expire offers and send reminders."""

from __future__ import annotations

import asyncio

from hms_app import jobs


def test_run_due_jobs_reports_each_job_on_an_empty_hospital(configured_db):
    assert jobs.run_due_jobs() == {
        "offers_expired": 0,
        "reminders_released": 0,
        "reminders_sent": 0,
        "reminders_retried": 0,
        "reminders_failed": 0,
        "maintenance_due": 0,
        "critical_escalated": 0,
        "orders_completed": 0,
        "tokens": 0,  # expired FHIR access tokens purged
        "assertions": 0,  # used FHIR client assertions past their expiry purged
        "video_signals_purged": 0,  # signalling messages of ended video calls forgotten
    }


def test_a_failed_round_does_not_stop_the_next():
    rounds: list[int] = []

    def flaky() -> dict[str, int]:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeError("database restarting")
        return {"reminders_sent": 1}

    async def scenario():
        task = asyncio.create_task(jobs.periodic_jobs(interval=0.01, run=flaky))
        while len(rounds) < 3:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    assert len(rounds) >= 3


def test_the_app_runs_the_jobs_while_it_is_up():
    # Without this a laptop install would never send a reminder or expire a waitlist offer.
    from hms_app.hms_app import app

    assert jobs.periodic_jobs in app._lifespan_tasks
