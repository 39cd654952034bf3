"""Issue 4 figures: booking throughput under contention, and free-slot search latency.

Figures (``--only`` takes the names in the first column; ``scheduling`` means all of them):

==================================  ===========================================================
bookings_per_second_postgresql      50 concurrent clients, each with its own session, each
                                    searching free times (``find_free_slots``) and booking one
                                    (``book_appointment``, audited, with reminders) for
                                    ``BOOKING_SECONDS``; clients crowd the same few days so that
                                    many collide. Successful bookings per wall-clock second.
double_bookings_postgresql          after the run, an independent SQL query (psycopg, not the
                                    services) counts pairs of holding appointments that share a
                                    resource and overlap in time. Must be 0.
audit_chain_intact_after_bookings   1 when, after the PostgreSQL run (a sequencer sealing every
                                    2 s alongside, as each app worker does), the whole audit
                                    chain verifies against its signed checkpoints; else 0.
free_slot_search_ms_postgresql      ``find_free_slots`` p50/p95 over ``SEARCHES`` searches (any
                                    provider on a day, one provider on a day, the next free times
                                    over 14 days, a scanner's day) in the coming month
bookings_per_second_sqlite          the same with ``SQLITE_CLIENTS`` clients on SQLite (writers
                                    take turns there: the figure is the embedded mode's ceiling)
double_bookings_sqlite              the same check on SQLite
free_slot_search_ms_sqlite          the same searches on SQLite
==================================  ===========================================================

The hospital: the project's seeders (departments, staff, ``PATIENTS`` patients, scheduling:
~90 days of history and the next 30 days booked from the weekly templates) plus ``EXTRA_GPS``
more GPs with templates, so ~30 bookable resources (providers, rooms, scanners) carry a month
of templates and several thousand bookings before the searches; the booking run adds more.
PostgreSQL runs in a scratch database (``HMS_BENCH_SCHED_POSTGRES_DB``, default
``hms_bench_sched`` on ``HMS_BENCH_POSTGRES_SERVER``) created and dropped here; SQLite in a
temporary file.
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from bench.run import _postgres_server, hms_environment, percentiles, report, say, scratch_postgres

PATIENTS = 3000
EXTRA_GPS = 8
POSTGRES_CLIENTS = 50
SQLITE_CLIENTS = 8
BOOKING_SECONDS = float(os.environ.get("HMS_BENCH_SCHED_SECONDS") or 20)
SEARCHES = 200
SEED = 11

OVERLAPS_SQL = """
SELECT count(*) FROM appointment_participant p1
JOIN appointment a1 ON a1.id = p1.appointment_id
JOIN appointment_participant p2 ON p2.resource_id = p1.resource_id AND p2.appointment_id > p1.appointment_id
JOIN appointment a2 ON a2.id = p2.appointment_id
WHERE a1.status IN ('offered', 'booked', 'arrived', 'in_room', 'completed')
  AND a2.status IN ('offered', 'booked', 'arrived', 'in_room', 'completed')
  AND a1.start_at < a2.end_at AND a2.start_at < a1.end_at
"""

FIGURES = {
    db: (f"bookings_per_second_{db}", f"double_bookings_{db}", f"free_slot_search_ms_{db}")
    for db in ("postgresql", "sqlite")
}
FIGURES["postgresql"] += ("audit_chain_intact_after_bookings",)
SEAL_EVERY_SECONDS = 2.0


def _build(url: str) -> None:
    """Migrate, seed, and add the extra GPs with their weekly templates."""
    from sqlalchemy import select

    from hms_app import migrations
    from hms_app.db import session_scope
    from hms_app.models.organization import Department
    from hms_app.models.scheduling import HealthcareService
    from hms_app.seed.registry import run_seeders
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    started = time.perf_counter()
    migrations.upgrade(url)
    with session_scope(url) as session:
        run_seeders(
            session,
            patients=PATIENTS,
            seed=SEED,
            only=["departments", "staff", "patients", "scheduling"],
        )
        gen = session.execute(select(Department.id).where(Department.code == "GEN")).scalar_one()
        gp = session.execute(select(HealthcareService.id).where(HealthcareService.code == "GP")).scalar_one()
        for n in range(EXTRA_GPS):
            resource = sched.save_resource(
                session,
                actor=SYSTEM_ACTOR,
                data={"kind": "provider", "name": f"Dr Bench {n + 1:02d}", "department_id": gen},
            )
            sched.link_resource_service(session, actor=SYSTEM_ACTOR, resource_id=resource.id, service_id=gp)
            for weekday in range(5):
                for start, end in (("08:00", "12:00"), ("13:00", "17:00")):
                    sched.add_availability_rule(
                        session,
                        actor=SYSTEM_ACTOR,
                        data={"resource_id": resource.id, "weekday": weekday, "start_time": start,
                              "end_time": end, "valid_from": "2024-01-01"},
                    )  # fmt: skip
    say(f"  hospital built in {time.perf_counter() - started:.1f} s")


@dataclass
class Catalogue:
    services: dict[str, int]  # code -> id
    types: dict[str, list[int]]  # service code -> visit type ids
    providers: dict[str, list[int]]  # service code -> primary resource ids
    patients: list[int]
    days: list[date]  # the coming clinic days


def _catalogue(url: str) -> Catalogue:
    from sqlalchemy import select

    from hms_app.clock import utcnow
    from hms_app.db import session_scope
    from hms_app.models.patients import Patient
    from hms_app.models.scheduling import AppointmentType, HealthcareService, Resource, ResourceService
    from hms_app.settings import get_settings

    with session_scope(url, read_only=True) as session:
        services = dict(session.execute(select(HealthcareService.code, HealthcareService.id)).all())
        types: dict[str, list[int]] = {}
        providers: dict[str, list[int]] = {}
        for code, service_id in services.items():
            types[code] = list(
                session.execute(
                    select(AppointmentType.id).where(AppointmentType.service_id == service_id)
                ).scalars()
            )
            providers[code] = list(
                session.execute(
                    select(Resource.id)
                    .join(ResourceService, ResourceService.resource_id == Resource.id)
                    .where(ResourceService.service_id == service_id, Resource.kind != "room")
                ).scalars()
            )
        patients = list(session.execute(select(Patient.id)).scalars())
    today = utcnow().astimezone(get_settings().tz).date()
    days = [today + timedelta(days=n) for n in range(1, 31) if (today + timedelta(days=n)).weekday() < 5]
    return Catalogue(services, types, providers, patients, days)


@dataclass
class Tally:
    booked: int = 0
    taken: int = 0  # SlotTaken: someone else was faster
    other_refusals: int = 0  # e.g. the patient already has a visit at that time
    no_slot: int = 0
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _book_concurrently(
    url: str, catalogue: Catalogue, clients: int, seconds: float, session_factory
) -> Tally:
    from hms_app.errors import DomainError
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    tally = Tally()
    barrier = threading.Barrier(clients)
    deadline_holder: list[float] = []
    # Crowd a few days and the first free times of one popular service, so that clients collide.
    hot_days = catalogue.days[3:6]
    gp = catalogue.services["GP"]

    def client(number: int) -> None:
        rng = random.Random(SEED * 1000 + number)
        barrier.wait(timeout=120)
        if number == 0:
            deadline_holder.append(time.perf_counter() + seconds)
        while not deadline_holder:
            time.sleep(0.001)
        deadline = deadline_holder[0]
        while time.perf_counter() < deadline:
            if rng.random() < 0.7:
                service_code, service_id = "GP", gp
            else:
                service_code = rng.choice([c for c in catalogue.services if c != "GP"])
                service_id = catalogue.services[service_code]
            vtype = rng.choice(catalogue.types[service_code])
            day = rng.choice(hot_days if rng.random() < 0.8 else catalogue.days)
            try:
                with session_factory() as session:
                    slots = sched.find_free_slots(
                        session, actor=SYSTEM_ACTOR, service_id=service_id, appointment_type_id=vtype, day=day,
                        limit=6,
                    )  # fmt: skip
                    session.rollback()
                    if not slots:
                        with tally.lock:
                            tally.no_slot += 1
                        continue
                    slot = rng.choice(slots[:4])
                    sched.book_appointment(
                        session, actor=SYSTEM_ACTOR, patient_id=rng.choice(catalogue.patients), service_id=service_id,
                        appointment_type_id=vtype, start_at=slot.start_at, resource_id=slot.provider_id,
                    )  # fmt: skip
                with tally.lock:
                    tally.booked += 1
            except sched.SlotTaken:
                with tally.lock:
                    tally.taken += 1
            except DomainError:
                with tally.lock:
                    tally.other_refusals += 1
            except Exception as error:  # noqa: BLE001  (counted and shown: the figure is then wrong)
                with tally.lock:
                    tally.errors.append(f"{type(error).__name__}: {error}"[:300])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 300)
    # From the moment the clients were released until the last one finished its last booking.
    tally.elapsed = time.perf_counter() - (deadline_holder[0] - seconds) if deadline_holder else seconds
    return tally


def _search_latencies(url: str, catalogue: Catalogue) -> list[float]:
    from hms_app.db import session_scope
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    rng = random.Random(SEED)
    gp = catalogue.services["GP"]
    queries = []
    for n in range(SEARCHES + 10):
        kind = n % 4
        day = rng.choice(catalogue.days)
        if kind == 0:  # any GP on a day
            queries.append(
                dict(service_id=gp, appointment_type_id=rng.choice(catalogue.types["GP"]), day=day)
            )
        elif kind == 1:  # one named provider on a day
            queries.append(dict(service_id=gp, appointment_type_id=catalogue.types["GP"][0], day=day,
                                resource_id=rng.choice(catalogue.providers["GP"])))  # fmt: skip
        elif kind == 2:  # the next free times of a specialty over two weeks
            code = rng.choice(["CARDIO", "ORTHO", "PAED", "ANC"])
            queries.append(dict(service_id=catalogue.services[code], appointment_type_id=catalogue.types[code][0],
                                day=catalogue.days[0], end_day=catalogue.days[0] + timedelta(days=14), limit=10))  # fmt: skip
        else:  # a scanner's day
            code = rng.choice(["MRI", "CT", "US"])
            queries.append(dict(service_id=catalogue.services[code], appointment_type_id=catalogue.types[code][0],
                                day=day))  # fmt: skip
    samples = []
    for n, query in enumerate(queries):
        with session_scope(url, read_only=True) as session:
            started = time.perf_counter()
            sched.find_free_slots(session, actor=SYSTEM_ACTOR, **query)
            elapsed = (time.perf_counter() - started) * 1000
        if n >= 10:  # the first few warm caches up
            samples.append(elapsed)
    return samples


def _report_run(db: str, figures: set[str], clients: int, tally: Tally, overlaps: int) -> None:
    elapsed = tally.elapsed
    say(
        f"  {clients} clients, {elapsed:.1f} s: {tally.booked} booked, {tally.taken} lost a race (SlotTaken), "
        f"{tally.other_refusals} other refusals, {tally.no_slot} searches found nothing"
    )
    if tally.errors:
        say(f"  {len(tally.errors)} unexpected errors, e.g. {tally.errors[0]}")
    if f"bookings_per_second_{db}" in figures:
        report(f"bookings_per_second_{db}", tally.booked / elapsed, "bookings/s")
    if f"double_bookings_{db}" in figures:
        report(f"double_bookings_{db}", overlaps, "pairs")
        if overlaps:
            say("  DOUBLE BOOKINGS FOUND: the guard failed")


def _report_search(db: str, figures: set[str], samples: list[float]) -> None:
    if f"free_slot_search_ms_{db}" in figures:
        p50, p95 = percentiles(samples)
        say(f"  find_free_slots over {len(samples)} searches (each in its own session)")
        report(f"free_slot_search_ms_{db}_p50", p50, "ms")
        report(f"free_slot_search_ms_{db}_p95", p95, "ms")


@contextlib.contextmanager
def _sequencer(url: str):
    """Seal the audit trail every few seconds while the clients book, as each app worker does."""
    from hms_app.db import session_scope
    from hms_app.services.audit_chain import seal_pending

    stop = threading.Event()

    def run() -> None:
        while not stop.wait(SEAL_EVERY_SECONDS):
            with session_scope(url) as session:
                seal_pending(session)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=60)


def _chain_verifies(url: str) -> int:
    from hms_app.db import session_scope
    from hms_app.services.audit_chain import seal_all, verify_chain

    with session_scope(url) as session:
        sealed = seal_all(session)
        report_ = verify_chain(session)
    say(f"  audit chain after the run: {report_.message} ({sealed} rows sealed at the end)")
    return 1 if report_.ok else 0


def _count_appointments(url: str) -> int:
    from sqlalchemy import func, select

    from hms_app.db import session_scope
    from hms_app.models.scheduling import Appointment

    with session_scope(url, read_only=True) as session:
        return session.execute(select(func.count()).select_from(Appointment)).scalar_one()


def run_postgresql(stack: contextlib.ExitStack, figures: set[str]) -> None:
    import psycopg
    from sqlalchemy import create_engine
    from sqlmodel import Session

    name = os.environ.get("HMS_BENCH_SCHED_POSTGRES_DB", "hms_bench_sched")
    url = scratch_postgres(stack, name)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-sched-")))
    stack.enter_context(hms_environment(url, workdir))
    say(f"building a hospital with {PATIENTS:,} patients in the scratch PostgreSQL database {name!r} ...")
    _build(url)
    catalogue = _catalogue(url)
    say(f"  {_count_appointments(url):,} appointments before the run")
    # One connection per client, as 50 app workers would hold (the app's pool is sized for one worker).
    engine = create_engine(url, pool_size=POSTGRES_CLIENTS + 2, max_overflow=0, pool_pre_ping=True)
    stack.callback(engine.dispose)
    with _sequencer(url):
        tally = _book_concurrently(
            url, catalogue, POSTGRES_CLIENTS, BOOKING_SECONDS, lambda: Session(engine, expire_on_commit=False)
        )
    with psycopg.connect(f"{_postgres_server()}/{name}") as conn:
        overlaps = conn.execute(OVERLAPS_SQL).fetchone()[0]
    _report_run("postgresql", figures, POSTGRES_CLIENTS, tally, overlaps)
    if "audit_chain_intact_after_bookings" in figures:
        report("audit_chain_intact_after_bookings", _chain_verifies(url), "")
    say(f"  {_count_appointments(url):,} appointments before the searches")
    _report_search("postgresql", figures, _search_latencies(url, catalogue))


def run_sqlite(stack: contextlib.ExitStack, figures: set[str]) -> None:
    import sqlite3

    from hms_app.db import session_scope

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-sched-sqlite-")))
    path = workdir / "hms.db"
    url = f"sqlite:///{path}"
    stack.enter_context(hms_environment(url, workdir))
    say(f"building a hospital with {PATIENTS:,} patients in a SQLite file ...")
    _build(url)
    catalogue = _catalogue(url)
    say(f"  {_count_appointments(url):,} appointments before the run")
    tally = _book_concurrently(url, catalogue, SQLITE_CLIENTS, BOOKING_SECONDS, lambda: session_scope(url))
    with contextlib.closing(sqlite3.connect(path)) as conn:
        overlaps = conn.execute(OVERLAPS_SQL).fetchone()[0]
    _report_run("sqlite", figures, SQLITE_CLIENTS, tally, overlaps)
    say(f"  {_count_appointments(url):,} appointments before the searches")
    _report_search("sqlite", figures, _search_latencies(url, catalogue))


BENCHMARKS: list = [(FIGURES["postgresql"], run_postgresql), (FIGURES["sqlite"], run_sqlite)]
GROUPS: dict[str, list[str]] = {"scheduling": [*FIGURES["postgresql"], *FIGURES["sqlite"]]}
