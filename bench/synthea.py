"""Synthea import: 1,000 generated patients (``generate``, Synthea 3.x CSV format) into a fresh
SQLite database, timed from reading the folder to the last commit (population refresh
included), as ``synthea_import_rows_per_s`` (every HMS row written: clinical rows, billing rows
and the id map) and ``synthea_import_s``."""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

from bench.run import hms_environment, report, say

PATIENTS = 1000
FIGURES = ["synthea_import_rows_per_s", "synthea_import_s"]


def bench_synthea_import(stack: contextlib.ExitStack, _figures=None) -> None:
    from hms_app import migrations
    from hms_app.db import session_scope
    from hms_app.interop.synthea import import_synthea
    from hms_app.interop.synthea.generate import generate
    from hms_app.services.permissions import SYSTEM_ACTOR

    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-synthea-")))
    started = time.perf_counter()
    counts = generate(work / "csv", PATIENTS, seed=1)
    say(
        f"  generated {PATIENTS:,} patients ({sum(counts.values()):,} CSV rows) in {time.perf_counter() - started:.1f} s"
    )
    url = f"sqlite:///{work / 'hms.db'}"
    with hms_environment(url, work / "data"):
        migrations.upgrade(url)
        with session_scope(url) as session:
            started = time.perf_counter()
            result = import_synthea(session, actor=SYSTEM_ACTOR, path=work / "csv")
            seconds = time.perf_counter() - started
    report("synthea_import_rows_per_s", result.rows / seconds, "rows/s")
    report("synthea_import_s", seconds, "s")


BENCHMARKS: list = [(FIGURES, bench_synthea_import)]
GROUPS: dict[str, list[str]] = {"synthea_import": FIGURES}
