"""Issue 13 figures: the laboratory worklist and a patient's cumulative results.

Figures (``--only`` takes the names in the first column; ``laboratory`` means both):

======================  ==================================================================
lab_worklist_p95_ms     ``views.worklist`` (status "open", STAT first, first page of 50) with
                        10,000 open orders among 40,000, p50/p95 over ``RUNS`` calls, each in
                        its own session opened outside the clock (target: p95 under 100 ms)
lab_cumulative_p95_ms   ``views.cumulative`` (first page of 10 collection times, audited as the
                        screen's read is) for a patient with 5,000 released results (500
                        collections of 10 tests), p50/p95 over ``RUNS`` calls (target: p95
                        under 300 ms)
======================  ==================================================================

Both run on SQLite (a scratch file), reported under the names above, and on PostgreSQL when it
can be reached (a scratch database ``HMS_BENCH_LAB_DB``, default ``hms_bench_lab``, on
``HMS_BENCH_POSTGRES_SERVER``, created and dropped), reported with a ``_postgresql`` suffix. The
catalogue, the staff and 200 patients go in through the seed and the services; the orders,
specimens and results are bulk loaded with SQL inserts, then ANALYZE.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench.run import Skip, hms_environment, percentiles, report, say, scratch_postgres

OPEN_ORDERS = 10_000
CLOSED_ORDERS = 30_000
CUMULATIVE_COLLECTIONS = 500
CUMULATIVE_TESTS = 10
PATIENTS = 200
RUNS = 40
WARM_UPS = 3
CHUNK = 5000
SEED = 13
DB = os.environ.get("HMS_BENCH_LAB_DB", "hms_bench_lab")
NAMES = ("lab_worklist_p95_ms", "lab_cumulative_p95_ms")


def _build(url: str) -> dict:
    """The catalogue, staff, patients (services) and the orders, specimens, results (SQL)."""
    from sqlalchemy import insert, select

    from hms_app import migrations
    from hms_app.db import analyze, session_scope
    from hms_app.models.laboratory import LabOrder, LabRequest, LabResult, LabTest, Specimen
    from hms_app.models.organization import Department
    from hms_app.models.security import AppUser
    from hms_app.seed.laboratory import load_catalogue
    from hms_app.services import patients
    from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor

    started = time.perf_counter()
    migrations.upgrade(url)
    rng = random.Random(SEED)
    with session_scope(url) as session:
        session.add_all([Department(code="LAB", name="Laboratory"), Department(code="GEN", name="General")])
        session.flush()
        load_catalogue(session)
        physician = AppUser(username="bench.dr", display_name="Dr Bench", password_hash="x")
        tech = AppUser(username="bench.tech", display_name="Tech Bench", password_hash="x")
        session.add_all([physician, tech])
        session.commit()
        given = ["Ana", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun"]
        family = ["Smith", "Lopez", "Okafor", "Chen", "Novak", "Haddad", "Kowal", "Silva", "Berg", "Tanaka"]
        pool = [
            patients.register_patient(
                session,
                actor=SYSTEM_ACTOR,
                data={
                    "given_name": given[n % 10],
                    "family_name": f"{family[n // 10 % 10]}-{chr(65 + n // 100)}",
                    "sex": ("female", "male")[n % 2],
                    "birth_date": f"{1940 + n % 70}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                },
                duplicate_reason="benchmark patients",
            ).id
            for n in range(PATIENTS)
        ]
        tests = session.execute(
            select(LabTest.id, LabTest.code, LabTest.specimen_type, LabTest.container, LabTest.unit).where(
                LabTest.is_panel.is_(False), LabTest.result_type == "numeric"
            )
        ).all()
        now = datetime.now(UTC)
        requests, specimens, orders, results = [], [], [], []
        ids = {"request": 0, "specimen": 0, "order": 0, "result": 0}

        def take(kind: str) -> int:
            ids[kind] += 1
            return ids[kind]

        def request(patient_id: int, at: datetime, chosen, status: str, priority: str) -> None:
            request_id = take("request")
            requests.append(
                {
                    "id": request_id,
                    "reference": f"LR-{request_id:06d}",
                    "patient_id": patient_id,
                    "ordered_by_id": physician.id,
                    "ordered_by": "bench.dr",
                    "ordered_at": at,
                    "priority": priority,
                    "fasting": False,
                }
            )
            specimen_id = take("specimen")
            specimens.append(
                {
                    "id": specimen_id,
                    "accession": f"S-{specimen_id:08d}",
                    "request_id": request_id,
                    "patient_id": patient_id,
                    "specimen_type": chosen[0].specimen_type,
                    "container": chosen[0].container,
                    "status": "received",
                    "collected_at": at + timedelta(minutes=20),
                    "collected_by": "nurse",
                    "received_at": at + timedelta(minutes=45),
                    "received_by": "bench.tech",
                }
            )
            for test in chosen:
                order_id = take("order")
                orders.append(
                    {
                        "id": order_id,
                        "request_id": request_id,
                        "patient_id": patient_id,
                        "test_id": test.id,
                        "specimen_id": specimen_id,
                        "priority": priority,
                        "status": status,
                        "ordered_at": at,
                    }
                )
                if status == "released":
                    done = at + timedelta(minutes=90)
                    results.append(
                        {
                            "id": take("result"),
                            "order_id": order_id,
                            "patient_id": patient_id,
                            "test_id": test.id,
                            "value_numeric": Decimal(rng.randint(10, 900)) / 10,
                            "unit": test.unit,
                            "flag": rng.choice(["N", "N", "N", "H", "L"]),
                            "delta_flag": False,
                            "status": "final",
                            "source": "analyser",
                            "resulted_at": done,
                            "entered_by": "AU680",
                            "verified_at": done,
                            "verified_by": "bench.tech",
                            "released_at": done,
                            "portal_visible_from": done,
                        }
                    )

        by_tube: dict[tuple[str, str], list] = {}
        for test in tests:
            by_tube.setdefault((test.specimen_type, test.container), []).append(test)
        tubes = [group for group in by_tube.values() if len(group) >= 5]
        for kind, count in (("received", OPEN_ORDERS), ("released", CLOSED_ORDERS)):
            made = 0
            while made < count:
                group = rng.choice(tubes)
                chosen = rng.sample(group, min(5, len(group), count - made))
                at = now - timedelta(minutes=rng.randint(5, 60 * 24 * (2 if kind == "received" else 365)))
                priority = rng.choices(["routine", "urgent", "stat"], weights=[85, 10, 5])[0]
                request(rng.choice(pool[1:]), at, chosen, kind, priority)
                made += len(chosen)
        heavy = pool[0]
        serum = by_tube[max(by_tube, key=lambda key: len(by_tube[key]))][:CUMULATIVE_TESTS]
        for n in range(CUMULATIVE_COLLECTIONS):
            request(heavy, now - timedelta(hours=6 * (n + 1)), serum, "released", "routine")
        for model, rows in (
            (LabRequest, requests),
            (Specimen, specimens),
            (LabOrder, orders),
            (LabResult, results),
        ):
            for start in range(0, len(rows), CHUNK):
                session.execute(insert(model.__table__), rows[start : start + CHUNK])
        if url.startswith("postgresql"):
            from sqlalchemy import text

            for table in ("lab_request", "specimen", "lab_order", "lab_result"):
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                    )
                )
        session.commit()
        analyze(session)
        session.commit()
        say(
            f"  loaded {len(orders):,} orders ({OPEN_ORDERS:,} open), {len(results):,} results "
            f"in {time.perf_counter() - started:.1f} s"
        )
        permissions = DEFAULT_GRANTS["lab_technician"] | DEFAULT_GRANTS["physician"]
        return {
            "tech": Actor(
                tech.id, "bench.tech", roles=frozenset({"lab_technician"}), permissions=permissions
            ),
            "heavy": heavy,
        }


def _measure(url: str, call) -> tuple[float, float]:
    from hms_app.db import session_scope

    samples = []
    for n in range(WARM_UPS + RUNS):
        with session_scope(url) as session:
            started = time.perf_counter()
            call(session)
            elapsed = (time.perf_counter() - started) * 1000
        if n >= WARM_UPS:
            samples.append(elapsed)
    return percentiles(samples)


def _bench(url: str, figures: set[str], suffix: str) -> None:
    from hms_app.services.laboratory.views import cumulative, worklist

    ids = _build(url)
    if "lab_worklist_p95_ms" in figures:
        page = {}

        def first_page(session):
            page["rows"] = worklist(session, actor=ids["tech"], status="open", page=0, page_size=50)

        p50, p95 = _measure(url, first_page)
        if page["rows"].total != OPEN_ORDERS or len(page["rows"].rows) != 50:
            raise RuntimeError(f"the worklist showed {page['rows'].total} open orders, not {OPEN_ORDERS}")
        say(
            f"  worklist, first page of 50 of {OPEN_ORDERS:,} open orders, {RUNS} runs{suffix and ' (PostgreSQL)'}"
        )
        report(f"lab_worklist_p50_ms{suffix}", p50, "ms")
        report(f"lab_worklist_p95_ms{suffix}", p95, "ms")
    if "lab_cumulative_p95_ms" in figures:
        table = {}

        def heavy_patient(session):
            table["value"] = cumulative(
                session, actor=ids["tech"], patient_id=ids["heavy"], page=0, columns=10
            )

        p50, p95 = _measure(url, heavy_patient)
        shown = table["value"]
        results = CUMULATIVE_COLLECTIONS * CUMULATIVE_TESTS
        if shown.total_times != CUMULATIVE_COLLECTIONS or len(shown.rows) != CUMULATIVE_TESTS:
            raise RuntimeError("the cumulative table did not show the patient's results")
        say(
            f"  cumulative table, first 10 of {CUMULATIVE_COLLECTIONS} collections ({results:,} results), {RUNS} runs"
        )
        report(f"lab_cumulative_p50_ms{suffix}", p50, "ms")
        report(f"lab_cumulative_p95_ms{suffix}", p95, "ms")


def run(stack: contextlib.ExitStack, figures: set[str]) -> None:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-lab-")))
    url = f"sqlite:///{workdir / 'lab.db'}"
    with hms_environment(url, workdir):
        say("SQLite:")
        _bench(url, figures, "")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        say("skipping the PostgreSQL figures: psycopg is not installed")
        return
    try:
        pg_url = scratch_postgres(stack, DB)
    except Skip as reason:
        say(f"skipping the PostgreSQL figures: {reason}")
        return
    with hms_environment(pg_url, workdir):
        say("PostgreSQL:")
        _bench(pg_url, figures, "_postgresql")


BENCHMARKS = [(NAMES, run)]  # hooked into bench/run.py
GROUPS: dict[str, list[str]] = {"laboratory": list(NAMES)}
