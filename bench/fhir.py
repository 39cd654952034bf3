"""FHIR API figures, measured through the whole stack: a Starlette TestClient over ``build_api()``
with a real SMART bearer token (a registered client, ``system/*.read``), so token resolution,
permission checks, rendering and the audit rows are all in the time.

==============================  ==============================================================
fhir_observation_search_p95_ms  ``GET /fhir/Observation?patient=X&code=Y`` for ``SEARCHES``
                                random patient+code pairs among 10,000,000 observations of
                                100,000 patients (10 LOINC codes); p50 and p95 (target: p95
                                under 50 ms)
fhir_everything_ms              ``GET /fhir/Patient/<id>/$everything`` for a patient with 2,000
                                encounters, 20,000 observations and 50 problems; median of
                                ``EVERYTHING_RUNS`` after a warm-up (target: under 1 s)
fhir_export_rows_per_s          ``GET /fhir/$export`` of a second database (2,000 patients,
                                200,000 observations ...): resources written per second, from
                                kick-off until the status answers with the manifest
==============================  ==============================================================

Run on SQLite (scratch files) under the names above and on PostgreSQL when it can be reached
(scratch databases ``HMS_BENCH_FHIR_DB`` / ``..._export``, default ``hms_bench_fhir``) with a
``_postgresql`` suffix. The rows are bulk loaded (SQLite: executemany in big transactions; PostgreSQL:
COPY), the observation table's secondary indexes are dropped during the load and built after it,
then ANALYZE; the load's seconds are printed on stderr (``fhir_load_10m_s`` is reported too).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.run import Skip, hms_environment, percentiles, report, say, scratch_postgres

PATIENTS = 100_000
OBSERVATIONS = 10_000_000
EXPORT_PATIENTS = 2_000
EXPORT_OBSERVATIONS = 200_000
HEAVY_ENCOUNTERS = 2_000
HEAVY_OBS_PER_ENCOUNTER = 10
HEAVY_PROBLEMS = 50
SEARCHES = 300
WARM_UPS = 20
EVERYTHING_RUNS = 5
CHUNK = 500_000
SEED = 4
DB = os.environ.get("HMS_BENCH_FHIR_DB", "hms_bench_fhir")
CODES = [  # (LOINC, display, unit, mean, sd)
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 128, 16),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 80, 10),
    ("8867-4", "Heart rate", "/min", 76, 10),
    ("9279-1", "Respiratory rate", "/min", 16, 3),
    ("8310-5", "Body temperature", "Cel", 36.8, 0.4),
    ("2708-6", "Oxygen saturation", "%", 97, 2),
    ("29463-7", "Body weight", "kg", 75, 15),
    ("8302-2", "Body height", "cm", 170, 10),
    ("39156-5", "Body mass index", "kg/m2", 27, 5),
    ("2339-0", "Glucose", "mg/dL", 100, 20),
]
SEARCH_FIGURES = ["fhir_observation_search_p95_ms", "fhir_observation_search_p50_ms"]
EVERYTHING_FIGURES = ["fhir_everything_ms"]
EXPORT_FIGURES = ["fhir_export_rows_per_s"]
NAMES = [*SEARCH_FIGURES, *EVERYTHING_FIGURES, *EXPORT_FIGURES, "fhir_load_10m_s"]
BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- loading


def _times(count: int, fmt: str) -> list[str]:
    """A pool of distinct timestamps (formatted once, drawn from many times)."""
    return [(BASE_TIME + timedelta(minutes=7 * k)).strftime(fmt) for k in range(count)]


def _observation_chunks(patients: int, total: int, first_id: int, fmt: str):
    """Observation rows as tuples, ``CHUNK`` at a time, in the table's column order."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    pool = np.array(_times(200_000, fmt), dtype=object)
    codes = np.array([c[0] for c in CODES], dtype=object)
    displays = np.array([c[1] for c in CODES], dtype=object)
    units = np.array([c[2] for c in CODES], dtype=object)
    means = np.array([c[3] for c in CODES], dtype=float)
    sds = np.array([c[4] for c in CODES], dtype=float)
    for start in range(0, total, CHUNK):
        n = min(CHUNK, total - start)
        ids = np.arange(first_id + start, first_id + start + n)
        patient = rng.integers(1, patients + 1, n)
        which = rng.integers(0, len(CODES), n)
        values = np.round(rng.normal(means[which], sds[which]), 1)
        when = pool[rng.integers(0, len(pool), n)]
        yield ids, patient, codes[which], displays[which], values, units[which], when


def _patient_rows(patients: int, fmt: str):
    now = datetime.now(UTC).strftime(fmt)
    given, family = ("Ana", "Ben", "Cara", "Dev", "Eli", "Fay"), ("Smith", "Lopez", "Okafor", "Chen", "Novak")
    for i in range(1, patients + 1):
        g, f = given[i % 6], family[i % 5]
        yield (
            i, f"F{i:09d}", g, f, ("female", "male")[i % 2], f"{1940 + i % 70}-{1 + i % 12:02d}-{1 + i % 28:02d}",
            False, False, False, True, g.lower(), f.lower(), g.upper(), f.upper(), now, now,
        )  # fmt: skip


PATIENT_COLUMNS = (
    "id, mrn, given_name, family_name, sex, birth_date, consent_data_sharing, consent_sms, "
    "consent_research, active, given_key, family_key, given_sound, family_sound, created_at, updated_at"
)
OBS_COLUMNS = "id, patient_id, code, display, value, unit, effective_at, category, status"


def _load_sqlite(path: Path, patients: int, observations: int) -> None:
    fmt = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='observation' AND sql IS NOT NULL"
    ).fetchall()
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT INTO patient ({PATIENT_COLUMNS}) VALUES ({', '.join('?' * 16)})",
        _patient_rows(patients, fmt),
    )
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    for ids, patient, codes, displays, values, units, when in _observation_chunks(
        patients, observations, 1, fmt
    ):
        conn.executemany(
            f"INSERT INTO observation ({OBS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 'vital-signs', 'final')",
            zip(ids.tolist(), patient.tolist(), codes, displays, values.tolist(), units, when, strict=True),
        )
    conn.execute("COMMIT")
    for _name, sql in indexes:
        conn.execute(sql)
    conn.close()


def _load_postgresql(url: str, patients: int, observations: int) -> None:
    import pandas as pd
    import psycopg

    fmt = "%Y-%m-%d %H:%M:%S.%f+00"
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        indexes = conn.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname "
            "JOIN pg_index x ON x.indexrelid = c.oid WHERE i.tablename = 'observation' "
            "AND NOT x.indisprimary AND NOT x.indisunique"
        ).fetchall()
        for name, _ddl in indexes:
            conn.execute(f'DROP INDEX "{name}"')

        def copy(table: str, columns: str, frame) -> None:
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, header=False)
            buffer.seek(0)
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as c,
            ):
                while data := buffer.read(1 << 20):
                    c.write(data)

        copy("patient", PATIENT_COLUMNS, pd.DataFrame(list(_patient_rows(patients, fmt))))
        for ids, patient, codes, displays, values, units, when in _observation_chunks(
            patients, observations, 1, fmt
        ):
            frame = pd.DataFrame(
                {"id": ids, "p": patient, "c": codes, "d": displays, "v": values, "u": units, "w": when}
            )
            frame["cat"], frame["s"] = "vital-signs", "final"
            copy("observation", OBS_COLUMNS, frame)
        conn.commit()
        for _name, ddl in indexes:
            conn.execute(ddl)
        for table in ("patient", "observation"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
        conn.commit()


def _heavy_chart(url: str, patient_id: int) -> None:
    """Encounters, their vital signs and a problem list for one patient, through SQL inserts."""
    from sqlalchemy import insert

    from hms_app.db import session_scope
    from hms_app.models.emr import Condition, Encounter, Observation

    rng = random.Random(SEED)
    with session_scope(url) as session:
        for n in range(HEAVY_ENCOUNTERS):
            start = BASE_TIME + timedelta(days=n // 3, hours=n % 3)
            encounter_id = session.execute(
                insert(Encounter)
                .values(
                    patient_id=patient_id, encounter_class="outpatient", status="finished", start_at=start
                )
                .returning(Encounter.id)
            ).scalar_one()
            session.execute(
                insert(Observation),
                [
                    {
                        "patient_id": patient_id,
                        "encounter_id": encounter_id,
                        "code": code,
                        "display": display,
                        "value": round(rng.gauss(mean, sd), 1),
                        "unit": unit,
                        "effective_at": start,
                    }  # fmt: skip
                    for code, display, unit, mean, sd in CODES[:HEAVY_OBS_PER_ENCOUNTER]
                ],
            )
        session.execute(
            insert(Condition),
            [{"patient_id": patient_id, "code": "I10", "display": "Essential hypertension"}] * HEAVY_PROBLEMS,
        )
        session.commit()


def build(url: str, patients: int, observations: int, *, heavy: bool) -> float:
    """Migrate, load and ANALYZE; the seconds it took."""
    from hms_app import migrations
    from hms_app.db import analyze, session_scope

    started = time.perf_counter()
    migrations.upgrade(url)
    if url.startswith("sqlite"):
        _load_sqlite(Path(url.removeprefix("sqlite:///")), patients, observations)
    else:
        _load_postgresql(url, patients, observations)
    if heavy:
        _heavy_chart(url, 1)
    with session_scope(url) as session:
        analyze(session, ("patient", "observation", "encounter", "condition"))
        session.commit()
    seconds = time.perf_counter() - started
    say(f"  loaded {patients:,} patients and {observations:,} observations in {seconds:.0f} s")
    return seconds


# --------------------------------------------------------------------------- measuring


def _client():
    from starlette.testclient import TestClient

    from hms_app.api.routes import build_api

    return TestClient(build_api(), base_url="http://bench")


def _token(url: str) -> dict[str, str]:
    from hms_app.db import session_scope
    from hms_app.services import accounts, fhir_clients

    with session_scope(url) as session:
        accounts.ensure_roles(session)
        grant = fhir_clients.issue_token_for_operator(
            session, client_name="bench-fhir", scope="system/*.read"
        )
        session.commit()
    return {"Authorization": f"Bearer {grant.access_token}", "Accept": "application/fhir+json"}


def _search(url: str, suffix: str) -> None:
    rng = random.Random(SEED)
    auth = _token(url)
    samples, found = [], 0
    with _client() as api:
        for n in range(WARM_UPS + SEARCHES):
            path = f"/fhir/Observation?patient={rng.randint(1, PATIENTS)}&code={rng.choice(CODES)[0]}"
            started = time.perf_counter()
            answer = api.get(path, headers=auth)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:300]}")
            if n >= WARM_UPS:
                samples.append(elapsed)
                found += answer.json()["total"]
    p50, p95 = percentiles(samples)
    say(f"  {SEARCHES} searches, {found / SEARCHES:.1f} observations found on average")
    report(f"fhir_observation_search_p50_ms{suffix}", p50, "ms")
    report(f"fhir_observation_search_p95_ms{suffix}", p95, "ms")


def _everything(url: str, suffix: str) -> None:
    auth = _token(url)
    samples = []
    with _client() as api:
        for n in range(1 + EVERYTHING_RUNS):
            started = time.perf_counter()
            answer = api.get("/fhir/Patient/1/$everything", headers=auth)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200:
                raise RuntimeError(f"$everything answered {answer.status_code}: {answer.text[:300]}")
            if n:
                samples.append(elapsed)
    total = answer.json()["total"]
    say(f"  $everything: {total:,} resources, median of {EVERYTHING_RUNS} (max {max(samples):.0f} ms)")
    report(f"fhir_everything_ms{suffix}", statistics.median(samples), "ms")


def _export(url: str, suffix: str) -> None:
    from urllib.parse import urlsplit

    from hms_app.interop.fhir.registry import mappers

    mappers()  # a server imports its mappers once, at its first FHIR request: not an export's time
    auth = _token(url)
    with _client() as api:
        started = time.perf_counter()
        answer = api.get("/fhir/$export", headers={**auth, "Prefer": "respond-async"})
        if answer.status_code != 202:
            raise RuntimeError(f"$export answered {answer.status_code}: {answer.text[:300]}")
        status = urlsplit(answer.headers["Content-Location"]).path
        while (answer := api.get(status, headers=auth)).status_code == 202:
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        if answer.status_code != 200:
            raise RuntimeError(f"the export answered {answer.status_code}: {answer.text[:300]}")
        outputs = answer.json()["output"]
        api.delete(status, headers=auth)  # its files go
    rows = sum(item["count"] for item in outputs)
    say(f"  exported {rows:,} resources of {len(outputs)} types in {seconds:.1f} s")
    report(f"fhir_export_rows_per_s{suffix}", rows / seconds, "rows/s")


def _measure(
    stack: contextlib.ExitStack, figures: set[str], big: str, small: str, workdir: Path, suffix: str
):
    if figures & {*SEARCH_FIGURES, *EVERYTHING_FIGURES, "fhir_load_10m_s"}:
        with hms_environment(big, workdir):
            seconds = build(big, PATIENTS, OBSERVATIONS, heavy=True)
            report(f"fhir_load_10m_s{suffix}", seconds, "s")
            if figures & set(SEARCH_FIGURES):
                _search(big, suffix)
            if figures & set(EVERYTHING_FIGURES):
                _everything(big, suffix)
    if figures & set(EXPORT_FIGURES):
        with hms_environment(small, workdir):
            build(small, EXPORT_PATIENTS, EXPORT_OBSERVATIONS, heavy=False)
            _export(small, suffix)


def run(stack: contextlib.ExitStack, figures: set[str] | None = None) -> None:
    figures = set(figures or NAMES)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-fhir-")))
    say("SQLite:")
    big, small = f"sqlite:///{workdir / 'fhir.db'}", f"sqlite:///{workdir / 'export.db'}"
    _measure(stack, figures, big, small, workdir, "")
    (workdir / "fhir.db").unlink(missing_ok=True)  # several GB: gone before PostgreSQL's turn
    try:
        pg_big = scratch_postgres(stack, DB)
        pg_small = scratch_postgres(stack, f"{DB}_export")
    except Skip as reason:
        say(f"skipping the PostgreSQL figures: {reason}")
        return
    say("PostgreSQL:")
    _measure(stack, figures, pg_big, pg_small, workdir, "_postgresql")


BENCHMARKS = [(NAMES, run)]  # hooked into bench/run.py
GROUPS: dict[str, list[str]] = {"fhir": NAMES}
