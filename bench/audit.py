"""Issue 11 figure: how many audit rows concurrent writers append per second on PostgreSQL.

==================================  ===========================================================
audit_writes_per_second_postgresql  ``WRITERS`` threads, each with its own session, each
                                    appending one audit row and committing, for ``SECONDS``;
                                    a sequencer seals every 2 s alongside, as each app worker
                                    does. Committed rows per wall-clock second.
audit_chain_intact_after_writes     1 when the chain then verifies against its checkpoints.
==================================  ===========================================================

Before the sequencer, every write locked the chain's head row until it committed, so writers
queued behind each other (54 rows/s with 30 writers); now a write locks nothing shared.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path

from bench.run import hms_environment, report, say, scratch_postgres

WRITERS = 30
SECONDS = float(os.environ.get("HMS_BENCH_AUDIT_SECONDS") or 10)
NAMES = ("audit_writes_per_second_postgresql", "audit_chain_intact_after_writes")


def run(stack: contextlib.ExitStack, figures: set[str]) -> None:
    from sqlalchemy import create_engine
    from sqlmodel import Session

    from hms_app import migrations
    from hms_app.services.audit import record_audit
    from hms_app.services.audit_chain import seal_all, seal_pending, verify_chain
    from hms_app.services.permissions import Actor

    name = os.environ.get("HMS_BENCH_AUDIT_POSTGRES_DB", "hms_bench_audit")
    url = scratch_postgres(stack, name)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-audit-")))
    stack.enter_context(hms_environment(url, workdir))
    migrations.upgrade(url)
    engine = create_engine(url, pool_size=WRITERS + 4, max_overflow=0)
    stack.callback(engine.dispose)

    written = [0] * WRITERS
    barrier = threading.Barrier(WRITERS + 1)
    stop = threading.Event()

    def writer(number: int) -> None:
        actor = Actor(user_id=number, username=f"bench{number}", permissions=frozenset())
        barrier.wait(timeout=60)
        while not stop.is_set():
            with Session(engine) as session:
                record_audit(session, actor, "bench.write", patient_id=number, detail="benchmark row")
                session.commit()
            written[number] += 1

    def sequencer() -> None:
        while not stop.wait(2.0):
            with Session(engine) as session:
                seal_pending(session)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    sealer = threading.Thread(target=sequencer)
    barrier.wait(timeout=60)
    started = time.perf_counter()
    sealer.start()
    time.sleep(SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.perf_counter() - started
    sealer.join(timeout=60)
    total = sum(written)
    say(f"  {WRITERS} writers, {elapsed:.1f} s: {total:,} audit rows committed")
    if "audit_writes_per_second_postgresql" in figures:
        report("audit_writes_per_second_postgresql", total / elapsed, "rows/s")
    with Session(engine) as session:
        seal_all(session)
        chain = verify_chain(session)
    say(f"  {chain.message}")
    if "audit_chain_intact_after_writes" in figures:
        report("audit_chain_intact_after_writes", 1 if chain.ok and chain.rows_checked == total else 0, "")


BENCHMARKS = [(NAMES, run)]
GROUPS: dict[str, list[str]] = {"audit": list(NAMES)}
