"""Issue 15 figure: the modality work list.

======================  ==================================================================
imaging_worklist_p95_ms ``services.radiology.worklist.worklist`` (every open order, STAT first,
                        then by booked time; first page of 50) with 5,000 open orders among
                        20,000, p50/p95 over ``RUNS`` calls, each in its own session opened
                        outside the clock (target: p95 under 100 ms)
======================  ==================================================================

Runs on SQLite (a scratch file), reported under the name above, and on PostgreSQL when it can be
reached (a scratch database ``HMS_BENCH_RAD_DB``, default ``hms_bench_rad``), reported with a
``_postgresql`` suffix. The catalogue (the seed's), a radiographer and 200 patients go in through
the seed and the services; the orders are bulk loaded with SQL inserts, then ANALYZE.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.run import Skip, hms_environment, percentiles, report, say, scratch_postgres

OPEN_ORDERS = 5_000
CLOSED_ORDERS = 15_000
PATIENTS = 200
RUNS = 40
WARM_UPS = 3
CHUNK = 5000
SEED = 15
DB = os.environ.get("HMS_BENCH_RAD_DB", "hms_bench_rad")
NAMES = ("imaging_worklist_p95_ms",)
OPEN_STEPS = ("requested", "scheduled", "arrived", "in_progress", "images_received", "preliminary")


def _build(url: str):
    from sqlalchemy import insert, select, text

    from hms_app import migrations
    from hms_app.db import analyze, session_scope
    from hms_app.models.organization import Department
    from hms_app.models.radiology import ImagingOrder, ImagingProcedure
    from hms_app.models.security import AppUser
    from hms_app.seed.radiology import load_catalogue
    from hms_app.services import patients
    from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor

    started = time.perf_counter()
    migrations.upgrade(url)
    rng = random.Random(SEED)
    with session_scope(url) as session:
        session.add(Department(code="RAD", name="Radiology"))
        session.flush()
        load_catalogue(session)
        physician = AppUser(username="bench.dr", display_name="Dr Bench", password_hash="x")
        radiographer = AppUser(username="bench.rt", display_name="RT Bench", password_hash="x")
        session.add_all([physician, radiographer])
        session.commit()
        pool = [
            patients.register_patient(
                session,
                actor=SYSTEM_ACTOR,
                data={
                    "given_name": ("Ana", "Ben", "Cara", "Dev", "Eli")[n % 5],
                    "family_name": f"Bench-{chr(65 + n // 26 % 26)}{chr(97 + n % 26)}",
                    "sex": ("female", "male")[n % 2],
                    "birth_date": f"{1940 + n % 70}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                },
                duplicate_reason="benchmark patients",
            ).id
            for n in range(PATIENTS)
        ]
        procedures = list(session.execute(select(ImagingProcedure.id)).scalars())
        now = datetime.now(UTC)
        rows = []
        for n in range(OPEN_ORDERS + CLOSED_ORDERS):
            open_order = n < OPEN_ORDERS
            status = rng.choice(OPEN_STEPS) if open_order else rng.choice(("final", "final", "cancelled"))
            at = now - timedelta(minutes=rng.randint(5, 60 * 24 * (3 if open_order else 365)))
            booked = status != "requested"
            rows.append(
                {
                    "id": n + 1,
                    "accession": f"ACC{n + 1:08d}",
                    "patient_id": rng.choice(pool),
                    "procedure_id": rng.choice(procedures),
                    "priority": rng.choices(["routine", "urgent", "stat"], weights=[85, 10, 5])[0],
                    "clinical_question": "Benchmark question",
                    "status": status,
                    "ordered_by_id": physician.id,
                    "ordered_by": "bench.dr",
                    "ordered_at": at,
                    "scheduled_at": at + timedelta(hours=rng.randint(1, 48)) if booked else None,
                    "status_changed_at": at,
                    "charged": False,
                }
            )
        for start in range(0, len(rows), CHUNK):
            session.execute(insert(ImagingOrder.__table__), rows[start : start + CHUNK])
        if url.startswith("postgresql"):
            session.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('imaging_order', 'id'), (SELECT MAX(id) FROM imaging_order))"
                )
            )
        session.commit()
        analyze(session)
        session.commit()
        say(
            f"  loaded {len(rows):,} imaging orders ({OPEN_ORDERS:,} open) in {time.perf_counter() - started:.1f} s"
        )
        return Actor(
            radiographer.id,
            "bench.rt",
            roles=frozenset({"radiographer"}),
            permissions=DEFAULT_GRANTS["radiographer"],
        )


def _bench(url: str, suffix: str) -> None:
    from hms_app.db import session_scope
    from hms_app.services.radiology.worklist import worklist

    actor = _build(url)
    samples, page = [], {}
    for n in range(WARM_UPS + RUNS):
        with session_scope(url) as session:
            started = time.perf_counter()
            page["value"] = worklist(session, actor=actor, page=0, page_size=50)
            elapsed = (time.perf_counter() - started) * 1000
        if n >= WARM_UPS:
            samples.append(elapsed)
    shown = page["value"]
    if shown.total != OPEN_ORDERS or len(shown.rows) != 50:
        raise RuntimeError(f"the work list showed {shown.total} open orders, not {OPEN_ORDERS}")
    p50, p95 = percentiles(samples)
    say(
        f"  work list, first page of 50 of {OPEN_ORDERS:,} open orders, {RUNS} runs{suffix and ' (PostgreSQL)'}"
    )
    report(f"imaging_worklist_p50_ms{suffix}", p50, "ms")
    report(f"imaging_worklist_p95_ms{suffix}", p95, "ms")


def run(stack: contextlib.ExitStack, figures: set[str]) -> None:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-rad-")))
    url = f"sqlite:///{workdir / 'rad.db'}"
    with hms_environment(url, workdir):
        say("SQLite:")
        _bench(url, "")
    try:
        pg_url = scratch_postgres(stack, DB)
    except Skip as reason:
        say(f"skipping the PostgreSQL figures: {reason}")
        return
    with hms_environment(pg_url, workdir):
        say("PostgreSQL:")
        _bench(pg_url, "_postgresql")


BENCHMARKS = [(NAMES, run)]  # hooked into bench/run.py
GROUPS: dict[str, list[str]] = {"radiology_worklist": list(NAMES)}
