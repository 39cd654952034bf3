"""Issue 3 figures: patient search, duplicate check and the chart, over 1,000,000 patients.

Figures (``--only`` takes the names in the first column; ``patients_1m`` means all six):

=========================  ==============================================================
patient_search_<db>        ``search_patients`` p50/p95 over a fixed, seeded mix of 225 queries:
                           name prefixes of 2-6 letters, "given family" and "family given"
                           pairs, misspelt and phonetic names, MRNs (full and prefix), phone
                           numbers in six formats, birth dates in three formats, and a few that
                           match nothing (target: p95 under 50 ms)
duplicate_check_<db>       ``find_duplicates`` p50/p95 on 60 near-duplicate registrations of
                           patients on file (typo, phonetic spelling, swapped day and month,
                           nickname, phone only, exact copy); how many found their original
                           is said on stderr
chart_open_<db>            ``open_chart`` p50/p95 over 30 opens of a patient with 2,000
                           encounters and 20,000 observations (target: under 300 ms), and
                           ``vital_series`` p50/p95 for the systolic blood pressure trend
=========================  ==============================================================

``<db>`` is ``sqlite`` or ``postgresql``. Every call goes through the real service as the app
makes it: its own session from ``session_scope()`` (timed with it), the permission check and
the audit row it writes, and the commit. Warm-up calls are made first and not counted.

The million patients are seeded once with the project's seeders (``departments``, ``staff``,
``patients`` and ``clinical``: the first 5,000 patients get ordinary clinical histories, so
the clinical tables are not empty around the big chart) with ``seed=1``, plus the one patient
with the big chart, into cached databases that later runs reuse: the SQLite file
``/tmp/hms-bench-1m.db`` (``HMS_BENCH_1M_SQLITE``) and the PostgreSQL database ``hms_bench_1m``
(``HMS_BENCH_1M_POSTGRES_DB``, on ``HMS_BENCH_POSTGRES_SERVER``). A cache is reused when it is
at the current Alembic head and holds the expected rows; otherwise it is rebuilt, under a
temporary name that only becomes the cache's name once complete, and the seconds spent
seeding are reported as ``seed_1m_<db>_seconds``. Each run adds its audit rows to the cache,
as the same calls would in a hospital.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

from bench.run import Skip, _postgres_server, hms_environment, percentiles, report, say

PATIENTS = 1_000_000
SEED = 1
SEEDERS = ["departments", "staff", "patients", "clinical"]
SQLITE_PATH = Path(os.environ.get("HMS_BENCH_1M_SQLITE", "/tmp/hms-bench-1m.db"))
POSTGRES_DB = os.environ.get("HMS_BENCH_1M_POSTGRES_DB", "hms_bench_1m")
CHART_NUMBER = 500_000  # the MRN number of the patient with the big chart, mid-table
CHART_ENCOUNTERS = 2000
CHART_OBSERVATIONS = 20_000
QUERY_SEED = 2026
WARM_UPS = 20
CHART_OPENS = 30
CHART_WARM_UPS = 3


# --------------------------------------------------------------------------- the cached databases


def _chart_mrn() -> str:
    from hms_app.services.patients import format_mrn

    return format_mrn(CHART_NUMBER)


def _stale_reason(url: str) -> str | None:
    """Why the database at ``url`` cannot be reused as it is, or None if it can."""
    from hms_app import migrations
    from hms_app.db import session_scope
    from hms_app.models.emr import Encounter, Observation
    from hms_app.models.patients import Patient

    current, head = migrations.current_revision(url), migrations.head_revision()
    if current != head:
        return f"it is at revision {current}, the head is {head}"
    with session_scope(url, read_only=True) as session:
        patients = session.execute(select(func.count()).select_from(Patient)).scalar_one()
        if patients != PATIENTS:
            return f"it holds {patients:,} patients, not {PATIENTS:,}"
        chart_id = session.execute(select(Patient.id).where(Patient.mrn == _chart_mrn())).scalar_one_or_none()
        encounters = observations = 0
        if chart_id is not None:
            encounters = session.execute(
                select(func.count()).select_from(Encounter).where(Encounter.patient_id == chart_id)
            ).scalar_one()
            observations = session.execute(
                select(func.count()).select_from(Observation).where(Observation.patient_id == chart_id)
            ).scalar_one()
        if (encounters, observations) != (CHART_ENCOUNTERS, CHART_OBSERVATIONS):
            return f"the big chart has {encounters:,} encounters and {observations:,} observations"
    return None


def _build(url: str, data_dir: Path) -> float:
    """Migrate and seed ``url`` (a fresh, empty database); return the seconds spent seeding."""
    from hms_app import migrations
    from hms_app.db import session_scope
    from hms_app.seed.registry import ConsoleProgress, run_seeders

    with hms_environment(url, data_dir):
        started = time.perf_counter()
        migrations.upgrade(url)
        say(f"  migrated in {time.perf_counter() - started:.1f} s")
        with session_scope(url) as session:
            started = time.perf_counter()
            run_seeders(session, patients=PATIENTS, seed=SEED, only=SEEDERS, progress=ConsoleProgress())
            seconds = time.perf_counter() - started
        say(f"  seeded {PATIENTS:,} patients in {seconds:.0f} s")
        with session_scope(url) as session:
            started = time.perf_counter()
            build_big_chart(session)
            say(f"  built the big chart in {time.perf_counter() - started:.1f} s")
    return seconds


def sqlite_database(stack: contextlib.ExitStack) -> str:
    """The cached SQLite file's URL, built first if it is missing or stale."""
    url = f"sqlite:///{SQLITE_PATH}"
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-1m-")))
    if SQLITE_PATH.exists():
        with hms_environment(url, workdir):
            reason = _stale_reason(url)
        if reason is None:
            say(f"reusing the cached SQLite database {SQLITE_PATH} ({PATIENTS:,} patients, big chart)")
            return url
        say(f"rebuilding {SQLITE_PATH}: {reason}")
    else:
        say(f"building {SQLITE_PATH}: it does not exist yet")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
    building = SQLITE_PATH.with_name(SQLITE_PATH.name + ".building")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{building}{suffix}").unlink(missing_ok=True)

    def remove_partial() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{building}{suffix}").unlink(missing_ok=True)

    stack.callback(remove_partial)
    seconds = _build(f"sqlite:///{building}", workdir)  # its engine is disposed: the WAL is checkpointed
    os.replace(building, SQLITE_PATH)
    report("seed_1m_sqlite_seconds", seconds, "s")
    return url


def postgres_database(stack: contextlib.ExitStack) -> str:
    """The cached PostgreSQL database's URL, built first if it is missing or stale."""
    import psycopg
    from psycopg import sql

    server = _postgres_server()
    try:
        admin = psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise Skip(f"PostgreSQL is not reachable at {server}: {error}".strip()) from error
    stack.callback(admin.close)
    driver_server = server.replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{driver_server}/{POSTGRES_DB}"
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-1m-pg-")))
    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (POSTGRES_DB,)).fetchone()
    if exists:
        with hms_environment(url, workdir):
            reason = _stale_reason(url)
        if reason is None:
            say(f"reusing the cached PostgreSQL database {POSTGRES_DB!r} ({PATIENTS:,} patients, big chart)")
            return url
        say(f"rebuilding {POSTGRES_DB!r}: {reason}")
    else:
        say(f"building the PostgreSQL database {POSTGRES_DB!r}: it does not exist yet")
    building = f"{POSTGRES_DB}_building"

    def drop(name: str) -> None:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    drop(POSTGRES_DB)
    drop(building)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
    stack.callback(drop, building)  # a no-op once it has been renamed
    seconds = _build(f"{driver_server}/{building}", workdir)
    # Fresh statistics and visibility map, as autovacuum leaves them shortly after a bulk load.
    with psycopg.connect(f"{server}/{building}", autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        say(f"  vacuumed and analysed in {time.perf_counter() - started:.0f} s")
    admin.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
            sql.Identifier(building), sql.Identifier(POSTGRES_DB)
        )
    )
    report("seed_1m_postgresql_seconds", seconds, "s")
    return url


# --------------------------------------------------------------------------- the big chart

ACUTE = ["J06.9", "J02.9", "N39.0", "K52.9", "S93.401A", "M54.50", "R51.9", "B34.9", "J18.9", "L03.90"]
ANTIBIOTICS = [
    ("Amoxicillin", "500 mg three times daily"),
    ("Nitrofurantoin", "100 mg twice daily"),
    ("Doxycycline", "100 mg twice daily"),
    ("Azithromycin", "500 mg once daily"),
    ("Cefalexin", "500 mg four times daily"),
]


def build_big_chart(session) -> int:
    """Give the patient numbered ``CHART_NUMBER`` 2,000 encounters with notes, 20,000 vitals, and
    problems, allergies, medications and immunizations to match: twenty years of a frequent attender."""
    from hms_app.cds import vitals as vital_rules
    from hms_app.models.emr import (
        AllergyIntolerance,
        ClinicalNote,
        Condition,
        Encounter,
        Immunization,
        MedicationStatement,
        Observation,
    )
    from hms_app.models.organization import Department
    from hms_app.models.patients import Patient
    from hms_app.models.security import AppUser
    from hms_app.seed.clinical import DESCRIPTIONS, PROBLEMS, VACCINES
    from hms_app.services.audit import record_audit
    from hms_app.services.emr import icd10_description
    from hms_app.services.permissions import SYSTEM_ACTOR

    rng = random.Random(SEED)
    patient = session.execute(select(Patient).where(Patient.mrn == _chart_mrn())).scalar_one()
    clinicians = list(
        session.execute(
            select(AppUser.id, AppUser.username).where(AppUser.username.in_(["dr.grey", "nurse.joy"]))
        ).all()
    )
    departments = list(session.execute(select(Department.id).where(Department.kind == "clinical")).scalars())
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(days=20 * 365)
    step = (now - first) / CHART_ENCOUNTERS
    next_id = (session.execute(select(func.max(Encounter.id))).scalar() or 0) + 1
    encounters, notes, observations = [], [], []
    weight, height = 82.0, 174.0
    for index in range(CHART_ENCOUNTERS):
        encounter_id = next_id + index
        start = first + step * index + timedelta(minutes=rng.randint(0, 600))
        last = index == CHART_ENCOUNTERS - 1
        clinician_id, clinician = rng.choice(clinicians)
        klass = rng.choices(["outpatient", "emergency", "inpatient", "virtual"], [78, 9, 5, 8])[0]
        encounters.append(
            {
                "id": encounter_id,
                "patient_id": patient.id,
                "encounter_class": klass,
                "status": "in-progress" if last else "finished",
                "department_id": rng.choice(departments),
                "practitioner_id": clinician_id,
                "reason": rng.choice(
                    [
                        "Follow-up of chronic conditions",
                        "Medication review",
                        "Shortness of breath",
                        "Chest pain",
                        "Cough and fever",
                    ]
                ),
                "start_at": start,
                "end_at": None if last else start + timedelta(minutes=rng.randint(10, 60)),
            }
        )
        for note in range(2 if index % 10 == 0 else 1):
            signed = not last and note == 0
            notes.append(
                {
                    "encounter_id": encounter_id,
                    "patient_id": patient.id,
                    "subjective": "Breathless on exertion, no chest pain today.",
                    "objective": "Alert, bilateral basal crackles. See recorded vitals.",
                    "assessment": "Heart failure and COPD, stable.",
                    "plan": "Continue current management.",
                    "status": "signed" if signed else "draft",
                    "amends_id": None,
                    "author_id": clinician_id,
                    "created_at": start + timedelta(minutes=5 + note),
                    "signed_at": start + timedelta(minutes=20) if signed else None,
                    "signed_by": clinician if signed else None,
                }
            )
        weight = min(max(weight + rng.gauss(0, 0.6), 60), 120)
        measured = {
            "heart_rate": rng.gauss(84, 10),
            "respiratory_rate": rng.gauss(18, 2),
            "systolic_bp": rng.gauss(134, 12),
            "temperature": rng.gauss(36.8, 0.35),
            "spo2": min(100, rng.gauss(93, 2)),
            "weight": weight,
            "height": height,
        }
        measured["diastolic_bp"] = measured["systolic_bp"] * 0.62 + rng.gauss(0, 4)
        rows = [(vital_rules.VITALS[key], value, start) for key, value in measured.items()]
        rows.append((vital_rules.BMI, vital_rules.bmi(round(weight, 1), height), start))
        # A second pulse before discharge: ten observations per encounter, 20,000 in all.
        rows.append((vital_rules.VITALS["heart_rate"], rng.gauss(78, 8), start + timedelta(minutes=25)))
        for spec, value, taken in rows:
            observations.append(
                {
                    "patient_id": patient.id,
                    "encounter_id": encounter_id,
                    "category": "vital-signs",
                    "code": spec.loinc,
                    "display": spec.display,
                    "value": round(min(max(value, spec.low), spec.high), spec.decimals),
                    "unit": spec.unit,
                    "effective_at": taken,
                    "recorded_by": clinician,
                    "status": "final",
                }
            )
    conditions = [
        {
            "patient_id": patient.id,
            "code": code,
            "display": DESCRIPTIONS[code],
            "clinical_status": "active",
            "onset_date": (first + timedelta(days=rng.randint(0, 5000))).date(),
            "abatement_date": None,
            "recorded_at": first + timedelta(days=rng.randint(0, 7000)),
            "recorded_by": "dr.grey",
        }
        for code, *_ in PROBLEMS
    ]
    for episode in range(30):
        code = ACUTE[episode % len(ACUTE)]
        onset = first + timedelta(days=rng.randint(0, 7200))
        conditions.append(
            {
                "patient_id": patient.id,
                "code": code,
                "display": icd10_description(code),
                "clinical_status": "resolved",
                "onset_date": onset.date(),
                "abatement_date": (onset + timedelta(days=rng.randint(5, 30))).date(),
                "recorded_at": onset,
                "recorded_by": "dr.grey",
            }
        )
    allergies = [
        {
            "patient_id": patient.id,
            "substance": substance,
            "reaction": reaction,
            "severity": severity,
            "status": status,
            "recorded_at": first + timedelta(days=day),
            "recorded_by": "nurse.joy",
        }
        for substance, reaction, severity, status, day in [
            ("Penicillin", "Hives", "moderate", "active", 40),
            ("Peanuts", "Anaphylaxis", "severe", "active", 400),
            ("Latex", "Rash", "mild", "inactive", 900),
            ("Ibuprofen", "Wheezing", "moderate", "active", 2000),
        ]
    ]
    medications = [
        {
            "patient_id": patient.id,
            "medication": drug,
            "code": None,
            "dosage": dose,
            "status": "active",
            "started_on": (first + timedelta(days=rng.randint(0, 5000))).date(),
            "stopped_on": None,
            "stop_reason": None,
            "recorded_at": first,
            "recorded_by": "dr.grey",
        }
        for _code, _prevalence, drug, dose in PROBLEMS
        if drug
    ]
    for course in range(40):
        drug, dose = ANTIBIOTICS[course % len(ANTIBIOTICS)]
        started = (first + timedelta(days=rng.randint(0, 7200))).date()
        medications.append(
            {
                "patient_id": patient.id,
                "medication": drug,
                "code": None,
                "dosage": dose,
                "status": "stopped",
                "started_on": started,
                "stopped_on": started + timedelta(days=7),
                "stop_reason": "Course completed",
                "recorded_at": first,
                "recorded_by": "dr.grey",
            }
        )
    immunizations = [
        {
            "patient_id": patient.id,
            "vaccine": vaccine,
            "code": cvx,
            "occurrence_date": (first + timedelta(days=365 * year + 280)).date(),
            "lot_number": f"L{rng.randint(10000, 99999)}",
            "status": "completed",
            "recorded_at": first,
            "recorded_by": "nurse.joy",
        }
        for year in range(20)
        for vaccine, cvx in VACCINES[:1]
    ]
    immunizations += [
        {
            "patient_id": patient.id,
            "vaccine": vaccine,
            "code": cvx,
            "occurrence_date": (first + timedelta(days=rng.randint(0, 7200))).date(),
            "lot_number": f"L{rng.randint(10000, 99999)}",
            "status": "completed",
            "recorded_at": first,
            "recorded_by": "nurse.joy",
        }
        for vaccine, cvx in VACCINES[1:]
    ]
    for model, rows in (
        (Encounter, encounters),
        (ClinicalNote, notes),
        (Observation, observations),
        (Condition, conditions),
        (AllergyIntolerance, allergies),
        (MedicationStatement, medications),
        (Immunization, immunizations),
    ):
        for start in range(0, len(rows), 5000):
            session.execute(insert(model.__table__), rows[start : start + 5000])
    if session.get_bind().dialect.name == "postgresql":
        # The encounter ids were given explicitly (notes and vitals point at them): move the sequence on.
        session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('encounter', 'id'), "
                "(SELECT COALESCE(MAX(id), 1) FROM encounter))"
            )
        )
    record_audit(
        session,
        SYSTEM_ACTOR,
        "seed.bench_chart",
        patient_id=patient.id,
        detail=f"{len(encounters)} encounters, {len(observations)} observations for the chart benchmark",
    )
    session.commit()
    return patient.id


# --------------------------------------------------------------------------- the query mixes

# Spellings a clerk types for names on file: each sounds like (or is) a common name.
MISSPELT = [
    "Smyth",
    "Kathryn",
    "Jon",
    "Jonson",
    "Thomsen",
    "Micheal",
    "Stephen",
    "Catherine",
    "Britany",
    "Fillip",
    "Jeffery",
    "Geoffrey",
    "Sara",
    "Shawn",
    "Ann",
    "Erik",
    "Ramires",
    "Rodrigez",
    "Johnsen",
    "Kristina",
    "Leigh",
    "Willson",
    "Tompson",
    "Mathew",
    "Cristopher",
    "Kathy Smyth",
    "Jon Smyth",
    "Kathryn Jonson",
    "Micheal Browne",
    "Stephen Tompson",
]
# Rewrites that keep a name's sound: the patterns a misspelling usually follows.
SOUNDALIKE = [
    (r"(?<=\w)i(?=\w)", "y"),
    (r"ph", "f"),
    (r"c(?=[aou])", "k"),
    (r"(?<=\w)y(?=\w)", "i"),
    (r"ck", "k"),
    (r"(?<=\w)ll", "l"),
    (r"(?<=\w)s$", "ss"),
    (r"th", "t"),
    (r"(?<=\w)ee", "ea"),
]
PHONE_FORMATS = ["+1 ({a}) {b}-{c}", "{a}-{b}-{c}", "{a}{b}{c}", "({a}) {b} {c}", "1{a}{b}{c}", "{a}.{b}.{c}"]


@dataclass(frozen=True)
class Probe:
    kind: str
    query: str
    patient_id: int | None  # for an MRN or phone query: the one patient it must find on its first page


@dataclass(frozen=True)
class DuplicateProbe:
    kind: str
    given_name: str
    family_name: str
    birth_date: str | None
    phone: str | None
    patient_id: int


def _sample(session, rng: random.Random, count: int) -> list:
    """``count`` patients drawn at random (the same ones every run: the database and seed are fixed)."""
    from hms_app.models.patients import Patient

    low, high = session.execute(select(func.min(Patient.id), func.max(Patient.id))).one()
    ids = rng.sample(range(low, high + 1), count * 2)
    found = {p.id: p for p in session.execute(select(Patient).where(Patient.id.in_(ids))).scalars()}
    chosen = [found[i] for i in ids if i in found][:count]
    if len(chosen) < count:
        raise RuntimeError(f"only {len(chosen)} of {count} sampled patients exist")
    return chosen


def soundalike(name: str, rng: random.Random) -> str:
    """A different spelling of ``name`` that usually sounds the same (Smith -> Smyth)."""
    rules = SOUNDALIKE[:]
    rng.shuffle(rules)
    for pattern, replacement in rules:
        changed = re.sub(pattern, replacement, name, count=1, flags=re.IGNORECASE)
        if changed.lower() != name.lower():
            return changed[:1].upper() + changed[1:]
    return name + name[-1]


def _phone(stored: str, rng: random.Random) -> str:
    digits = re.sub(r"\D", "", stored)[-10:]
    return rng.choice(PHONE_FORMATS).format(a=digits[:3], b=digits[3:6], c=digits[6:])


def _date(day: date, rng: random.Random) -> str:
    return rng.choice([day.isoformat(), day.strftime("%d/%m/%Y"), f"{day.day}.{day.month}.{day.year}"])


def search_probes(session, seed: int = QUERY_SEED) -> list[Probe]:
    """The fixed mix of 225 searches a registration desk types, made from patients on file."""
    rng = random.Random(seed)
    people = _sample(session, rng, 190)
    probes: list[Probe] = []
    take = iter(people)
    for _ in range(40):
        person = next(take)
        name = rng.choice([person.family_name, person.given_name])
        fragment = name[: rng.randint(2, 6)]
        probes.append(Probe("name prefix", rng.choice([fragment, fragment.lower()]), None))
    for _ in range(25):
        person = next(take)
        probes.append(Probe("given family", f"{person.given_name} {person.family_name}", None))
    for _ in range(20):
        person = next(take)
        joiner = rng.choice([" ", ", "])
        probes.append(Probe("family given", f"{person.family_name}{joiner}{person.given_name}", None))
    for _ in range(10):
        person = next(take)
        probes.append(
            Probe("partial pair", f"{person.given_name[:3]} {person.family_name[:3]}".lower(), None)
        )
    for name in MISSPELT:
        probes.append(Probe("misspelt", name, None))
    for _ in range(15):
        person = next(take)
        if rng.random() < 0.5:
            query = soundalike(person.family_name, rng)
        else:
            query = f"{soundalike(person.given_name, rng)} {soundalike(person.family_name, rng)}"
        probes.append(Probe("misspelt", query, None))
    for _ in range(20):
        person = next(take)
        probes.append(Probe("mrn", rng.choice([person.mrn, person.mrn.lower()]), person.id))
    for _ in range(10):
        person = next(take)
        probes.append(Probe("mrn prefix", person.mrn[: rng.randint(5, 7)], None))
    for _ in range(25):
        person = next(take)
        probes.append(Probe("phone", _phone(person.phone, rng), person.id))
    for _ in range(25):
        person = next(take)
        probes.append(Probe("birth date", _date(person.birth_date, rng), None))
    probes += [
        Probe("no match", q, None) for q in ("Zzyzx", "qx", "H9999999-9", "555-000-0000", "1850-01-01")
    ]
    return probes


def duplicate_probes(session, seed: int = QUERY_SEED + 1) -> list[DuplicateProbe]:
    """60 registrations of someone already on file, as a clerk might type them a second time."""
    rng = random.Random(seed)
    kinds = ["typo", "soundalike", "swapped day and month", "nickname", "phone only", "exact copy"]
    probes = []
    for index, person in enumerate(_sample(session, rng, 60)):
        kind = kinds[index % len(kinds)]
        given, family, birth = person.given_name, person.family_name, person.birth_date
        phone: str | None = None
        if kind == "typo" and len(family) > 3:
            i = rng.randrange(1, len(family) - 2)
            family = family[:i] + family[i + 1] + family[i] + family[i + 2 :]
        elif kind == "soundalike":
            family = soundalike(family, rng)
        elif kind == "swapped day and month":
            birth = date(birth.year, birth.day, birth.month) if birth.day <= 12 else birth + timedelta(days=1)
        elif kind == "nickname":
            given = given[:3]
        elif kind == "phone only":
            family, birth, phone = soundalike(family, rng), None, _phone(person.phone, rng)
        elif kind == "exact copy":
            phone = _phone(person.phone, rng)
        probes.append(
            DuplicateProbe(kind, given, family, _date(birth, rng) if birth else None, phone, person.id)
        )
    return probes


# --------------------------------------------------------------------------- measuring


def timed(url: str, call: Callable) -> tuple[float, object]:
    """Milliseconds for one call in its own session, as a state handler runs a service."""
    from hms_app.db import session_scope

    started = time.perf_counter()
    with session_scope(url) as session:
        result = call(session)
    return (time.perf_counter() - started) * 1000, result


def _by_kind(samples: list[tuple[str, float]]) -> str:
    grouped: dict[str, list[float]] = defaultdict(list)
    for kind, ms in samples:
        grouped[kind].append(ms)
    return "; ".join(f"{kind} {statistics.median(v):.1f}/{max(v):.1f}" for kind, v in grouped.items())


def bench_search(url: str, db: str) -> None:
    from hms_app.db import session_scope
    from hms_app.services.patients import search_patients
    from hms_app.services.permissions import SYSTEM_ACTOR

    with session_scope(url, read_only=True) as session:
        probes = search_probes(session)
        others = search_probes(session, seed=QUERY_SEED + 100)
        warm_ups = others[:: max(1, len(others) // WARM_UPS)]
    for probe in warm_ups:
        timed(url, lambda s, q=probe.query: search_patients(s, actor=SYSTEM_ACTOR, query=q))
    samples: list[tuple[str, float]] = []
    found = expected = 0
    for probe in probes:
        ms, (rows, _total) = timed(
            url, lambda s, q=probe.query: search_patients(s, actor=SYSTEM_ACTOR, query=q)
        )
        samples.append((probe.kind, ms))
        if probe.patient_id is not None:
            expected += 1
            found += any(row.id == probe.patient_id for row in rows)
    p50, p95 = percentiles([ms for _kind, ms in samples])
    say(f"  search_patients over {len(probes)} queries on {db} (median/max ms by kind: {_by_kind(samples)})")
    say(f"  the patient an MRN or phone query was made from was on its first page {found}/{expected} times")
    report(f"patient_search_p50_ms_{db}", p50, "ms")
    report(f"patient_search_p95_ms_{db}", p95, "ms")


def bench_duplicates(url: str, db: str) -> None:
    from hms_app.db import session_scope
    from hms_app.services.patients import find_duplicates
    from hms_app.services.permissions import SYSTEM_ACTOR

    with session_scope(url, read_only=True) as session:
        probes = duplicate_probes(session)
        warm_ups = duplicate_probes(session, seed=QUERY_SEED + 101)[:10]

    def check(probe: DuplicateProbe):
        return lambda s: find_duplicates(
            s,
            actor=SYSTEM_ACTOR,
            given_name=probe.given_name,
            family_name=probe.family_name,
            birth_date=probe.birth_date,
            phone=probe.phone,
        )

    for probe in warm_ups:
        timed(url, check(probe))
    samples: list[tuple[str, float]] = []
    missed: dict[str, int] = defaultdict(int)
    for probe in probes:
        ms, candidates = timed(url, check(probe))
        samples.append((probe.kind, ms))
        if not any(c.id == probe.patient_id for c in candidates):
            missed[probe.kind] += 1
    p50, p95 = percentiles([ms for _kind, ms in samples])
    say(
        f"  find_duplicates over {len(probes)} near-duplicate registrations on {db} "
        f"(median/max ms by kind: {_by_kind(samples)})"
    )
    say(
        f"  the original was among the candidates {len(probes) - sum(missed.values())}/{len(probes)} times"
        + (f"; missed: {dict(missed)}" if missed else "")
    )
    report(f"duplicate_check_p50_ms_{db}", p50, "ms")
    report(f"duplicate_check_p95_ms_{db}", p95, "ms")


def bench_chart(url: str, db: str) -> None:
    from hms_app.db import session_scope
    from hms_app.models.patients import Patient
    from hms_app.services import emr
    from hms_app.services.permissions import SYSTEM_ACTOR

    with session_scope(url, read_only=True) as session:
        patient_id = session.execute(select(Patient.id).where(Patient.mrn == _chart_mrn())).scalar_one()
    opens, series = [], []
    for run in range(CHART_WARM_UPS + CHART_OPENS):
        ms, chart = timed(url, lambda s: emr.open_chart(s, actor=SYSTEM_ACTOR, patient_id=patient_id))
        if chart.timeline_total != CHART_ENCOUNTERS or len(chart.timeline) != 20:
            raise RuntimeError(f"the chart shows {len(chart.timeline)} of {chart.timeline_total} encounters")
        if run >= CHART_WARM_UPS:
            opens.append(ms)
        ms, points = timed(
            url, lambda s: emr.vital_series(s, actor=SYSTEM_ACTOR, patient_id=patient_id, key="systolic_bp")
        )
        if run >= CHART_WARM_UPS:
            series.append(ms)
    say(
        f"  open_chart x{CHART_OPENS} on {db}: {CHART_ENCOUNTERS:,} encounters, {CHART_OBSERVATIONS:,} "
        f"observations; vital_series returns {len(points)} points"
    )
    p50, p95 = percentiles(opens)
    report(f"chart_open_p50_ms_{db}", p50, "ms")
    report(f"chart_open_p95_ms_{db}", p95, "ms")
    p50, p95 = percentiles(series)
    report(f"vital_series_p50_ms_{db}", p50, "ms")
    report(f"vital_series_p95_ms_{db}", p95, "ms")


def _measure(stack: contextlib.ExitStack, figures: set[str], db: str, url: str) -> None:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-1m-run-")))
    with hms_environment(url, workdir):
        if f"patient_search_{db}" in figures:
            bench_search(url, db)
        if f"duplicate_check_{db}" in figures:
            bench_duplicates(url, db)
        if f"chart_open_{db}" in figures:
            bench_chart(url, db)


def bench_sqlite(stack: contextlib.ExitStack, figures: set[str]) -> None:
    _measure(stack, figures, "sqlite", sqlite_database(stack))


def bench_postgresql(stack: contextlib.ExitStack, figures: set[str]) -> None:
    _measure(stack, figures, "postgresql", postgres_database(stack))


FIGURES = {
    db: (f"patient_search_{db}", f"duplicate_check_{db}", f"chart_open_{db}")
    for db in ("sqlite", "postgresql")
}
BENCHMARKS: list = [(FIGURES["sqlite"], bench_sqlite), (FIGURES["postgresql"], bench_postgresql)]
GROUPS: dict[str, list[str]] = {"patients_1m": [*FIGURES["sqlite"], *FIGURES["postgresql"]]}
