"""Issue 14 figures: the offline medication checks.

Figures (``--only`` takes the names in the first column; ``medications`` means both):

==========================  ==============================================================
medication_checks_p95_ms    ``check_order`` (every check: interactions, duplicates, allergies
                            with cross-sensitivity, dose per dose and per day, renal band,
                            pregnancy and lactation) for a new order against a 20-drug
                            medication list and 10 recorded allergies, p95 over ``RUNS``
                            calls after ``WARM_UPS`` (target: under 50 ms)
interaction_table_load_s    importing the engine and loading and indexing every bundled table
                            in a fresh Python process (cold), the slowest of ``LOADS``
                            processes (target: under 2 s)
==========================  ==============================================================

Pure Python, no database. Runs from ``hms bench`` (when the registry lists ``bench.medications``) or
directly: ``python -m bench.medications``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from bench.run import percentiles, report, say

RUNS = 500
WARM_UPS = 20
LOADS = 3
FIGURES = ("medication_checks_p95_ms", "interaction_table_load_s")
CURRENT = (
    "warfarin", "metoprolol", "lisinopril", "atorvastatin", "metformin", "insulin glargine", "omeprazole",
    "sertraline", "amlodipine", "furosemide", "spironolactone", "levothyroxine", "gabapentin", "tramadol",
    "digoxin", "amiodarone", "allopurinol", "prednisone", "clopidogrel", "calcium carbonate",
)  # fmt: skip
ALLERGIES = (
    "Penicillin", "sulfa drugs", "codeine", "latex", "NSAIDs", "macrolides", "ACE inhibitors",
    "cephalexin", "iodine", "aromatic anticonvulsants",
)  # fmt: skip
LOAD_SCRIPT = (
    "import time; started = time.perf_counter(); "
    "from hms_app.cds.medications.knowledge import load_knowledge; kb = load_knowledge(); "
    "print(time.perf_counter() - started, len(kb.ingredients), len(kb.pairs))"
)


def bench_checks() -> None:
    from hms_app.cds.medications import DrugUse, PatientContext, check_order, load_knowledge

    load_knowledge()  # the tables are loaded once per process in the app; not part of this figure
    patient = PatientContext(
        age_years=Decimal(72),
        weight_kg=Decimal("68.5"),
        sex="female",
        egfr=Decimal(38),
        pregnant=False,
        lactating=False,
        allergy_status="recorded",
        allergies=ALLERGIES,
        current=tuple(DrugUse(name, Decimal(10), "mg", Decimal(1), "oral") for name in CURRENT),
    )
    orders = [
        DrugUse("ibuprofen", Decimal(800), "mg", Decimal(4), "oral"),
        DrugUse("clarithromycin", Decimal(500), "mg", Decimal(2), "oral"),
        DrugUse("ceftriaxone", Decimal(2), "g", Decimal(1), "iv"),
        DrugUse("metformin", Decimal(1000), "mg", Decimal(2), "oral"),
    ]
    for run in range(WARM_UPS):
        check_order(orders[run % len(orders)], patient)
    samples, alerts = [], 0
    for run in range(RUNS):
        started = time.perf_counter()
        found = check_order(orders[run % len(orders)], patient)
        samples.append((time.perf_counter() - started) * 1000)
        alerts += len(found)
    p50, p95 = percentiles(samples)
    say(
        f"  check_order against {len(CURRENT)} drugs and {len(ALLERGIES)} allergies: p50 {p50:.2f} ms, "
        f"p95 {p95:.2f} ms over {RUNS} calls ({alerts / RUNS:.1f} alerts per order)"
    )
    report("medication_checks_p95_ms", p95, "ms")


def bench_load() -> None:
    # The child imports this checkout's package (not another one installed in the same interpreter).
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    seconds = []
    for _ in range(LOADS):
        done = subprocess.run(
            [sys.executable, "-c", LOAD_SCRIPT], capture_output=True, text=True, check=True, cwd=root, env=env
        )
        elapsed, ingredients, pairs = done.stdout.split()
        seconds.append(float(elapsed))
    say(
        f"  import + load + index in a fresh process: {', '.join(f'{s:.3f}' for s in seconds)} s "
        f"({ingredients} ingredients, {pairs} interacting ingredient pairs)"
    )
    report("interaction_table_load_s", max(seconds), "s")


def run(_stack: contextlib.ExitStack, figures: set[str]) -> None:
    if "medication_checks_p95_ms" in figures:
        bench_checks()
    if "interaction_table_load_s" in figures:
        bench_load()


BENCHMARKS = [(FIGURES, run)]  # hooked into bench/run.py through the registry
GROUPS: dict[str, list[str]] = {"medications": list(FIGURES)}


if __name__ == "__main__":
    with contextlib.ExitStack() as stack:
        run(stack, set(sys.argv[1:]) or set(FIGURES))
