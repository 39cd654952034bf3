"""Population health figures over 1,000,000 patients and 10,000,000 observations on PostgreSQL.

Figures (``--only`` takes the names in the first column; ``population_1m`` means all of them):

==============================  ===========================================================
population_refresh              ``refresh_population``: rebuilding the summary tables from the
                                raw record, with the planner statistics of the source tables
                                wiped first as a fresh bulk load leaves them (reported as
                                ``population_refresh_1m_postgresql_s``, also as the older name
                                ``population_refresh_s``)
population_figures              each dashboard figure's function as the app calls it (its own
                                session, the permission check, every query it runs), median of
                                5 after a warm-up, as ``population_<figure>_ms`` (target: under
                                1 s), next to the best single SQL query computing the same
                                numbers from the raw tables, ``population_<figure>_raw_sql_ms``,
                                and their ratio ``population_<figure>_ratio`` (target: at most
                                1.5)
population_cohort_count         ``count_cohort`` p50/p95 over a fixed mix of 40 filter sets
                                (target: p95 under 300 ms)
==============================  ===========================================================

The data are built once with COPY into the PostgreSQL database ``hms_bench_pop``
(``HMS_BENCH_POP_DB`` on ``HMS_BENCH_POSTGRES_SERVER``) and reused while it is at the current
Alembic head and holds the expected rows; otherwise it is rebuilt under a temporary name that
becomes ``hms_bench_pop`` only when complete. The build prints its progress on stderr and reports
``population_build_s``. Nothing is loaded whole into Python: the generator writes chunks of a
million rows, and every figure is an SQL aggregate.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.run import Skip, _postgres_server, hms_environment, percentiles, report, say

PATIENTS = 1_000_000
OBSERVATIONS = 10_000_000
PROVIDERS = 40
CHUNK = 1_000_000
SEED = 8
DB = os.environ.get("HMS_BENCH_POP_DB", "hms_bench_pop")
RUNS = 5

# (ICD-10-CM code, display, adult prevalence): enough for every registry and every exclusion.
PROBLEMS = [
    ("I10", "Essential (primary) hypertension", 0.28),
    ("E11.9", "Type 2 diabetes mellitus without complications", 0.10),
    ("E10.9", "Type 1 diabetes mellitus without complications", 0.006),
    ("E78.5", "Hyperlipidemia, unspecified", 0.18),
    ("N18.30", "Chronic kidney disease, stage 3 unspecified", 0.05),
    ("N18.6", "End stage renal disease", 0.003),
    ("J45.909", "Unspecified asthma, uncomplicated", 0.07),
    ("J44.9", "Chronic obstructive pulmonary disease, unspecified", 0.04),
    ("I50.9", "Heart failure, unspecified", 0.025),
    ("Z51.5", "Encounter for palliative care", 0.004),
    ("Z33.1", "Pregnant state, incidental", 0.01),
]
VITALS = [  # per encounter: (LOINC, display, unit, mean, sd)
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 128, 16),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 80, 10),
    ("39156-5", "Body mass index", "kg/m2", 27.5, 5),
    ("8867-4", "Heart rate", "/min", 76, 10),
]


# --------------------------------------------------------------------------- build


def _copy(conn, table: str, frame) -> None:
    """COPY a DataFrame into ``table`` (its columns by name) as CSV."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="")
    buffer.seek(0)
    columns = ", ".join(frame.columns)
    statement = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        while data := buffer.read(1 << 20):
            copy.write(data)


def _without_indexes(conn, tables: list[str]) -> list[str]:
    """Drop the plain indexes of ``tables`` (kept: keys and unique constraints); return their DDL."""
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid "
        "WHERE i.schemaname = 'public' AND i.tablename = ANY(%s) AND NOT x.indisprimary AND NOT x.indisunique",
        (tables,),
    ).fetchall()
    for name, _ddl in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [ddl for _name, ddl in rows]


def _generate(conn, today: date) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    started = time.perf_counter()

    def progress(step: str) -> None:
        say(f"  {step} ({time.perf_counter() - started:.0f} s)")

    users = pd.DataFrame(
        {
            "id": np.arange(1, PROVIDERS + 1),
            "username": [f"bench.dr{i}" for i in range(1, PROVIDERS + 1)],
            "display_name": [f"Dr Bench {i:02d}" for i in range(1, PROVIDERS + 1)],
            "password_hash": "x",
            "is_active": True,
            "failed_attempts": 0,
            "mfa_enabled": False,
            "created_at": now,
            "password_changed_at": now,
        }
    )
    _copy(conn, "app_user", users)

    ids = np.arange(1, PATIENTS + 1)
    ages_days = rng.integers(0, 95 * 365, PATIENTS)
    birth = pd.to_datetime(today) - pd.to_timedelta(ages_days, unit="D")
    sex = rng.choice(np.array(["female", "male", "other"]), PATIENTS, p=[0.505, 0.49, 0.005])
    given = rng.choice(
        np.array(["Ana", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jin"]), PATIENTS
    )
    family = rng.choice(
        np.array(["Smith", "Lopez", "Okafor", "Chen", "Novak", "Haddad", "Kim", "Silva"]), PATIENTS
    )
    deceased = rng.random(PATIENTS) < 0.01
    for start in range(0, PATIENTS, CHUNK):
        part = slice(start, start + CHUNK)
        frame = pd.DataFrame(
            {
                "id": ids[part],
                "mrn": [f"B{i:09d}" for i in ids[part]],
                "given_name": given[part],
                "family_name": family[part],
                "sex": sex[part],
                "birth_date": birth[part].strftime("%Y-%m-%d"),
                "consent_data_sharing": False,
                "consent_sms": False,
                "consent_research": False,
                "active": ~deceased[part],
                "deceased_at": np.where(deceased[part], now.isoformat(), ""),
                "family_key": np.char.lower(family[part].astype(str)),
                "given_key": np.char.lower(given[part].astype(str)),
                "family_sound": np.char.upper(family[part].astype(str)),  # not phonetic: never searched here
                "given_sound": np.char.upper(given[part].astype(str)),
                "created_at": now.isoformat(),
                "updated_at": now.isoformat(),
            }
        )
        _copy(conn, "patient", frame)
    progress(f"{PATIENTS:,} patients")

    adult = ages_days >= 18 * 365
    old = ages_days >= 55 * 365
    diabetic = np.zeros(PATIENTS, dtype=bool)
    conditions = []
    for code, display, prevalence in PROBLEMS:
        chance = np.where(old, prevalence * 1.6, prevalence * 0.7) * adult
        has = rng.random(PATIENTS) < chance
        if code.startswith("E1"):
            diabetic |= has
        who = ids[has]
        conditions.append(
            pd.DataFrame(
                {
                    "patient_id": who,
                    "code": code,
                    "display": display,
                    "clinical_status": np.where(rng.random(len(who)) < 0.03, "resolved", "active"),
                    "onset_date": (
                        pd.to_datetime(today) - pd.to_timedelta(rng.integers(30, 3650, len(who)), unit="D")
                    ).strftime("%Y-%m-%d"),
                    "recorded_at": now.isoformat(),
                    "recorded_by": "bench",
                }
            )
        )
    condition_frame = pd.concat(conditions, ignore_index=True)
    _copy(conn, "condition", condition_frame)
    progress(f"{len(condition_frame):,} problems")

    meds = condition_frame[condition_frame["code"].isin(["I10", "E11.9", "E78.5"])]
    names = meds["code"].map({"I10": "Lisinopril", "E11.9": "Metformin", "E78.5": "Atorvastatin"})
    _copy(
        conn,
        "medication_statement",
        pd.DataFrame(
            {
                "patient_id": meds["patient_id"],
                "medication": names,
                "status": "active",
                "recorded_at": now.isoformat(),
            }
        ),
    )

    # Laboratory results: HbA1c for most diabetics, creatinine for some adults (1-4 each, 3 years).
    labs = []
    for code, display, unit, who, low, high in (
        ("4548-4", "Hemoglobin A1c", "%", ids[diabetic & (rng.random(PATIENTS) < 0.85)], 5.4, 12.5),
        ("2160-0", "Creatinine", "mg/dL", ids[adult & (rng.random(PATIENTS) < 0.35)], 0.5, 3.2),
    ):
        repeats = rng.integers(1, 5, len(who))
        patient = np.repeat(who, repeats)
        labs.append(
            pd.DataFrame(
                {
                    "patient_id": patient,
                    "category": "laboratory",
                    "code": code,
                    "display": display,
                    "value": np.round(rng.uniform(low, high, len(patient)), 1),
                    "unit": unit,
                    "effective_at": now
                    - pd.to_timedelta(rng.integers(0, 3 * 365 * 24 * 60, len(patient)), unit="m"),
                    "status": "final",
                }
            )
        )
    lab_frame = pd.concat(labs, ignore_index=True)
    vitals_needed = OBSERVATIONS - len(lab_frame)
    encounters = vitals_needed // len(VITALS)
    extra = vitals_needed - encounters * len(VITALS)
    say(f"  {len(lab_frame):,} laboratory results; {encounters:,} visits with {len(VITALS)} vitals each")

    enc_patient = rng.integers(1, PATIENTS + 1, encounters)
    enc_start = now - pd.to_timedelta(rng.integers(0, 3 * 365 * 24 * 60, encounters), unit="m")
    practitioner = rng.integers(1, PROVIDERS + 1, encounters).astype(float)
    practitioner[rng.random(encounters) < 0.08] = np.nan
    for start in range(0, encounters, CHUNK):
        part = slice(start, start + CHUNK)
        _copy(
            conn,
            "encounter",
            pd.DataFrame(
                {
                    "id": np.arange(start + 1, min(start + CHUNK, encounters) + 1),
                    "patient_id": enc_patient[part],
                    "encounter_class": "outpatient",
                    "status": "finished",
                    "practitioner_id": pd.array(practitioner[part], dtype="Int64"),
                    "start_at": enc_start[part],
                }
            ),
        )
    progress(f"{encounters:,} encounters")
    conn.execute("SELECT setval(pg_get_serial_sequence('encounter', 'id'), %s)", (encounters,))
    conn.execute("SELECT setval(pg_get_serial_sequence('patient', 'id'), %s)", (PATIENTS,))
    conn.execute("SELECT setval(pg_get_serial_sequence('app_user', 'id'), %s)", (PROVIDERS,))

    _copy(conn, "observation", lab_frame)
    per_chunk = CHUNK // len(VITALS)
    baseline = rng.normal(0, 1, PATIENTS + 1)  # a personal offset: some patients run high
    for start in range(0, encounters, per_chunk):
        stop = min(start + per_chunk, encounters)
        count = stop - start
        patient = enc_patient[start:stop]
        frames = []
        for code, display, unit, mean, sd in VITALS:
            values = mean + sd * (0.6 * baseline[patient] + 0.8 * rng.normal(0, 1, count))
            frames.append(
                pd.DataFrame(
                    {
                        "patient_id": patient,
                        "encounter_id": np.arange(start + 1, stop + 1),
                        "category": "vital-signs",
                        "code": code,
                        "display": display,
                        "value": np.round(values, 1 if code == "39156-5" else 0),
                        "unit": unit,
                        "effective_at": enc_start[start:stop],
                        "status": "final",
                    }
                )
            )
        _copy(conn, "observation", pd.concat(frames, ignore_index=True))
        say(f"  observations: {len(lab_frame) + stop * len(VITALS):,}/{OBSERVATIONS:,}")
    if extra:
        _copy(
            conn,
            "observation",
            pd.DataFrame(
                {
                    "patient_id": enc_patient[:extra],
                    "encounter_id": np.arange(1, extra + 1),
                    "category": "vital-signs",
                    "code": "8310-5",
                    "display": "Body temperature",
                    "value": 36.8,
                    "unit": "Cel",
                    "effective_at": enc_start[:extra],
                    "status": "final",
                }
            ),
        )
    progress(f"{OBSERVATIONS:,} observations")


def _stale_reason(url: str) -> str | None:
    from sqlalchemy import func, select

    from hms_app import migrations
    from hms_app.db import session_scope
    from hms_app.models.emr import Observation
    from hms_app.models.patients import Patient
    from hms_app.models.population import PopulationRefresh

    current, head = migrations.current_revision(url), migrations.head_revision()
    if current != head:
        return f"it is at revision {current}, the head is {head}"
    from sqlalchemy import inspect as sa_inspect

    from hms_app.db import get_engine
    from hms_app.models import metadata

    missing = set(metadata.tables) - set(sa_inspect(get_engine(url)).get_table_names())
    if missing:  # a model changed under the same revision while it was being written
        return f"it lacks the tables {', '.join(sorted(missing))}"
    with session_scope(url, read_only=True) as session:
        patients = session.execute(select(func.count()).select_from(Patient)).scalar_one()
        observations = session.execute(select(func.count()).select_from(Observation)).scalar_one()
        refreshed = session.execute(select(func.count()).select_from(PopulationRefresh)).scalar_one()
    if (patients, observations) != (PATIENTS, OBSERVATIONS):
        return f"it holds {patients:,} patients and {observations:,} observations"
    if not refreshed:
        return "its population summary was never computed"
    return None


def database(stack: contextlib.ExitStack) -> tuple[str, float | None]:
    """The cached database's URL (built first if missing or stale) and the refresh seconds if built."""
    import psycopg
    from psycopg import sql

    server = _postgres_server()
    try:
        admin = psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise Skip(f"PostgreSQL is not reachable at {server}: {error}".strip()) from error
    stack.callback(admin.close)
    driver = server.replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{driver}/{DB}"
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-pop-")))
    if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone():
        with hms_environment(url, workdir):
            reason = _stale_reason(url)
        if reason is None:
            say(
                f"reusing the cached PostgreSQL database {DB!r} ({PATIENTS:,} patients, {OBSERVATIONS:,} observations)"
            )
            return url, None
        say(f"rebuilding {DB!r}: {reason}")
    else:
        say(f"building the PostgreSQL database {DB!r}: it does not exist yet")
    building = f"{DB}_building"

    def drop(name: str) -> None:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    drop(DB)
    drop(building)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
    stack.callback(drop, building)  # a no-op once renamed
    started = time.perf_counter()
    building_url = f"{driver}/{building}"
    with hms_environment(building_url, workdir):
        from hms_app import migrations
        from hms_app.db import session_scope
        from hms_app.services import population
        from hms_app.services.permissions import SYSTEM_ACTOR

        migrations.upgrade(building_url)
        with psycopg.connect(f"{server}/{building}") as conn:
            indexes = _without_indexes(
                conn, ["patient", "condition", "encounter", "observation", "medication_statement"]
            )
            _generate(conn, date.today())
            say(f"  recreating {len(indexes)} indexes ...")
            for ddl in indexes:
                conn.execute(ddl)
            conn.commit()
        with psycopg.connect(f"{server}/{building}", autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        say(
            f"  loaded, indexed and analysed in {time.perf_counter() - started:.0f} s; refreshing the summary ..."
        )
        with session_scope(building_url) as session:
            info = population.refresh_population(session, actor=SYSTEM_ACTOR)
        with psycopg.connect(f"{server}/{building}", autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    report("population_build_s", time.perf_counter() - started, "s")
    admin.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(DB))
    )
    return url, info.seconds


# --------------------------------------------------------------------------- the raw queries

POPULATION = "p.active AND p.deceased_at IS NULL AND p.merged_into_id IS NULL"
MEMBERS_SQL = f"""
    SELECT rc.registry_id, c.patient_id, MIN(COALESCE(c.onset_date, c.recorded_at::date)) AS onset
    FROM condition c
    JOIN registry_code rc ON c.code LIKE rc.code_prefix || '%%'
    JOIN registry r ON r.id = rc.registry_id AND r.active {{registry}}
    JOIN patient p ON p.id = c.patient_id AND {POPULATION}
    WHERE c.clinical_status = 'active'
    GROUP BY rc.registry_id, c.patient_id
"""


MEMBERS = MEMBERS_SQL.format(registry="")
ONE_REGISTRY = MEMBERS_SQL.format(registry="AND r.id = %(registry)s")


def _age_band_sql(column: str, today: date) -> str:
    from hms_app.analytics.population import AGE_BANDS
    from hms_app.analytics.population import years_before as _years_before

    whens = " ".join(
        f"WHEN {column} > DATE '{_years_before(today, high + 1)}' THEN '{label}'"
        for label, _low, high in AGE_BANDS[:-1]
    )
    return f"CASE {whens} ELSE '{AGE_BANDS[-1][0]}' END"


def raw_queries(today: date, as_of: datetime) -> dict[str, tuple[str, dict]]:
    """The best single SQL query over the raw tables for each figure's numbers."""
    from hms_app.analytics.population import years_before as _years_before
    from hms_app.services.population.measures import period_start

    adult = _years_before(today, 18)
    start = period_start(as_of, 12)
    from hms_app.analytics.population import month_ends

    ends = month_ends(today, 24)
    trend_columns = ", ".join(f"COUNT(*) FILTER (WHERE onset < DATE '{end}')" for end in ends)
    latest = """
        SELECT DISTINCT ON (o.patient_id) o.patient_id, o.value, o.effective_at FROM observation o
        WHERE o.code = %(code)s AND o.status IN ('final', 'amended', 'corrected') {extra}
        ORDER BY o.patient_id, o.effective_at DESC, o.id DESC
    """
    return {
        "prevalence": (
            f"""WITH m AS ({MEMBERS})
            SELECT m.registry_id, p.sex, COUNT(*) FROM m JOIN patient p ON p.id = m.patient_id GROUP BY 1, 2
            UNION ALL SELECT NULL, p.sex, COUNT(*) FROM patient p WHERE {POPULATION} GROUP BY 2""",
            {},
        ),
        "age_bands": (
            f"""WITH m AS ({ONE_REGISTRY})
            SELECT 1, {_age_band_sql("p.birth_date", today)}, p.sex, COUNT(*)
            FROM m JOIN patient p ON p.id = m.patient_id GROUP BY 2, 3
            UNION ALL SELECT 0, {_age_band_sql("p.birth_date", today)}, p.sex, COUNT(*) FROM patient p
            WHERE {POPULATION} GROUP BY 2, 3""",
            {},
        ),
        "trend": (
            f"WITH m AS ({MEMBERS}) SELECT registry_id, {trend_columns} FROM m GROUP BY registry_id",
            {},
        ),
        "measure_hba1c": (
            f"""WITH dm AS (
                SELECT DISTINCT c.patient_id FROM condition c JOIN patient p ON p.id = c.patient_id AND {POPULATION}
                WHERE c.clinical_status = 'active' AND (c.code LIKE 'E10%%' OR c.code LIKE 'E11%%' OR c.code LIKE 'E13%%')
                  AND p.birth_date <= %(age18)s AND p.birth_date > %(age76)s),
            pal AS (SELECT DISTINCT patient_id FROM condition WHERE clinical_status = 'active' AND code LIKE 'Z51.5%%'),
            a1c AS ({latest.format(extra="AND o.patient_id IN (SELECT patient_id FROM dm)")}),
            prov AS (SELECT DISTINCT ON (e.patient_id) e.patient_id, e.practitioner_id FROM encounter e
                WHERE e.practitioner_id IS NOT NULL AND e.status IN ('finished', 'in-progress')
                  AND e.patient_id IN (SELECT patient_id FROM dm)
                ORDER BY e.patient_id, e.start_at DESC, e.id DESC)
            SELECT prov.practitioner_id, COUNT(*), COUNT(pal.patient_id),
                   COUNT(*) FILTER (WHERE pal.patient_id IS NULL AND (a1c.effective_at IS NULL
                       OR a1c.effective_at < %(start)s OR a1c.value > 9.0))
            FROM dm LEFT JOIN pal USING (patient_id) LEFT JOIN a1c USING (patient_id) LEFT JOIN prov USING (patient_id)
            GROUP BY 1""",
            {"code": "4548-4", "start": start, "age18": adult, "age76": _years_before(today, 76)},
        ),
        "egfr": (
            f"""WITH cr AS ({latest.format(extra="")}),
            g AS (SELECT FLOOR(142 * CASE WHEN cr.value / k < 1 THEN POWER(cr.value / k, a) ELSE POWER(cr.value / k, -1.2) END
                    * POWER(0.9938, DATE_PART('year', AGE(%(today)s, p.birth_date))) * f + 0.5) AS egfr
                FROM cr JOIN patient p ON p.id = cr.patient_id AND {POPULATION}
                CROSS JOIN LATERAL (SELECT CASE WHEN p.sex = 'female' THEN 0.7 ELSE 0.9 END AS k,
                    CASE WHEN p.sex = 'female' THEN -0.241 ELSE -0.302 END AS a,
                    CASE WHEN p.sex = 'female' THEN 1.012 ELSE 1.0 END AS f) x
                WHERE p.sex IN ('female', 'male') AND p.birth_date <= %(age18)s)
            SELECT CASE WHEN egfr >= 90 THEN 'G1' WHEN egfr >= 60 THEN 'G2' WHEN egfr >= 45 THEN 'G3a'
                WHEN egfr >= 30 THEN 'G3b' WHEN egfr >= 15 THEN 'G4' ELSE 'G5' END, COUNT(*) FROM g GROUP BY 1""",
            {"code": "2160-0", "today": today, "age18": adult},
        ),
        "bmi": (
            f"""WITH b AS ({latest.format(extra="")})
            SELECT CASE WHEN b.value < 18.5 THEN 'Underweight' WHEN b.value < 25 THEN 'Healthy'
                WHEN b.value < 30 THEN 'Overweight' ELSE 'Obesity' END, COUNT(*)
            FROM b JOIN patient p ON p.id = b.patient_id AND {POPULATION} AND p.birth_date <= %(age18)s GROUP BY 1""",
            {"code": "39156-5", "age18": adult},
        ),
    }


# --------------------------------------------------------------------------- measuring


def _median_ms(call, runs: int = RUNS) -> float:
    call()  # warm-up: plans and caches, as a dashboard that is open
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def cohort_filters(rng: random.Random, registries: list[str]) -> list[dict]:
    mixes = []
    for _ in range(40):
        f: dict = {}
        if rng.random() < 0.6:
            f["age_min"] = rng.choice([18, 40, 65])
        if rng.random() < 0.3:
            f["age_max"] = rng.choice([a for a in (64, 75, 90) if a >= f.get("age_min", 0)])
        if rng.random() < 0.5:
            f["sex"] = rng.choice(["female", "male"])
        if rng.random() < 0.6:
            f["registries"] = rng.sample(registries, rng.choice([1, 1, 2]))
        if rng.random() < 0.3:
            f["hba1c_min"] = rng.choice([7, 8, 9])
        if rng.random() < 0.3:
            f["sbp_min"] = rng.choice([140, 160])
        if rng.random() < 0.2:
            f["bmi_min"] = 30
        if rng.random() < 0.2:
            f["egfr_max"] = rng.choice([45, 60])
        if rng.random() < 0.2:
            f["medication"] = rng.choice(["Metformin", "Lisinopril"])
        if rng.random() < 0.2:
            f["no_visit_days"] = 365
        mixes.append(f)
    mixes[0] = {}  # everyone: the first count the builder shows
    return mixes


def forget_statistics(conn, tables) -> None:
    """Leave ``tables`` as a bulk load leaves them: no column statistics, size unknown (needs a
    superuser, as the benchmark's PostgreSQL is)."""
    for table in tables:
        conn.execute("DELETE FROM pg_statistic WHERE starelid = %s::regclass", (table,))
        conn.execute("UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE relname = %s", (table,))


def run(stack: contextlib.ExitStack, figures: set[str]) -> None:
    import psycopg
    from sqlalchemy import select

    url, built_refresh = database(stack)
    server = _postgres_server()
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-pop-run-")))
    with hms_environment(url, workdir):
        from hms_app.clock import local_today
        from hms_app.db import session_scope
        from hms_app.models.population import PopulationRefresh, Registry
        from hms_app.services import population
        from hms_app.services.permissions import SYSTEM_ACTOR as actor
        from hms_app.services.population import dashboard as charts

        if "population_refresh" in figures:
            from hms_app.services.population.refresh import SOURCE_TABLES

            # As a fresh COPY leaves them: no planner statistics at all. The refresh must
            # analyse before it rebuilds (issue 11 item 19: without, it never finished).
            with psycopg.connect(f"{server}/{DB}", autocommit=True) as conn:
                forget_statistics(conn, SOURCE_TABLES)
            with session_scope(url) as session:
                seconds = population.refresh_population(session, actor=actor).seconds
            say(
                "  refresh_population on a freshly loaded database (no statistics): the summary tables "
                f"rebuilt from 1M patients and 10M observations (the build's own refresh took {built_refresh or 0:.0f} s)"
            )
            report("population_refresh_s", seconds, "s")
            report("population_refresh_1m_postgresql_s", seconds, "s")

        def app(fn, **kwargs):
            def call():
                with session_scope(url, read_only=True) as session:
                    return fn(session, actor=actor, **kwargs)

            return call

        with session_scope(url, read_only=True) as session:
            as_of = session.execute(
                select(PopulationRefresh.refreshed_at).order_by(PopulationRefresh.id.desc())
            ).scalar()
            diabetes = session.execute(select(Registry.id).where(Registry.code == "diabetes")).scalar()
            codes = list(session.execute(select(Registry.code)).scalars())
        today = local_today()

        if "population_figures" in figures:
            figures_app = {
                "prevalence": app(charts.prevalence_frame),
                "age_bands": app(charts.age_band_frame, registry="diabetes"),
                "trend": app(charts.trend_frame),
                "measure_hba1c": app(charts.measure_frame, measure="hba1c_poor", months=12),
                "egfr": app(charts.egfr_frame),
                "bmi": app(charts.bmi_frame),
            }
            queries = raw_queries(today, as_of)
            with psycopg.connect(f"{server}/{DB}") as conn:
                for name, call in figures_app.items():
                    sql_text, params = queries[name]
                    params = {**params, "registry": diabetes}

                    def raw(sql_text=sql_text, params=params):
                        conn.execute(sql_text, params).fetchall()

                    app_ms = _median_ms(call)
                    raw_ms = _median_ms(raw, runs=3)
                    say(f"  {name}: the app's figure {app_ms:.0f} ms; best raw SQL {raw_ms:.0f} ms")
                    report(f"population_{name}_ms", app_ms, "ms")
                    report(f"population_{name}_raw_sql_ms", raw_ms, "ms")
                    report(f"population_{name}_ratio", app_ms / raw_ms, "x")

        if "population_cohort_count" in figures:
            samples = []
            for filters in cohort_filters(random.Random(SEED), codes):
                app(population.count_cohort, filters=filters)()  # warm-up of this plan
                started = time.perf_counter()
                app(population.count_cohort, filters=filters)()
                samples.append((time.perf_counter() - started) * 1000)
            p50, p95 = percentiles(samples)
            say(f"  count_cohort over {len(samples)} filter sets (session, permission check, count)")
            report("population_cohort_count_ms_p50", p50, "ms")
            report("population_cohort_count_ms_p95", p95, "ms")


NAMES = ("population_refresh", "population_figures", "population_cohort_count")
BENCHMARKS = [(NAMES, run)]  # hooked into bench/run.py
GROUPS: dict[str, list[str]] = {"population_1m": list(NAMES)}
