"""``hms import synthea PATH``: load a Synthea export (CSV folder or FHIR bundles).

Progress goes to stderr; stdout gets one ``IMPORTED <type> <new rows>`` line per type (0 on a
re-run), then each row that was skipped as ``SKIPPED <file:line>: <why>`` on stderr. The exit
status is 0 when everything was read, 1 when some rows were skipped (the rest is imported),
2 when the folder was refused (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MAX_SHOWN = 50  # skipped rows listed one by one; the rest are counted


def _batch(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("give a whole number of patients") from None
    if not 1 <= number <= 1000:
        raise argparse.ArgumentTypeError("give between 1 and 1000 patients")
    return number


def cmd_import_synthea(args) -> int:
    from hms_app.db import session_scope
    from hms_app.interop.synthea import TYPES, import_synthea
    from hms_app.seed.registry import ConsoleProgress
    from hms_app.services.permissions import SYSTEM_ACTOR

    with session_scope() as session:
        report = import_synthea(
            session,
            actor=SYSTEM_ACTOR,
            path=Path(args.path),
            format=args.format,
            batch_size=args.batch_size,
            progress=ConsoleProgress(quiet=args.quiet),
        )
    for kind in TYPES:
        print(f"IMPORTED {kind} {report.counts[kind]}")
    rate = report.rows / report.seconds if report.seconds else 0
    print(
        f"{report.patients_in_source:,} patients in the export, {report.patients_already:,} already imported; "
        f"{report.rows:,} rows in {report.seconds:.1f} s ({rate:,.0f} rows/s)",
        file=sys.stderr,
    )
    for problem in report.problems[:MAX_SHOWN]:
        print(f"SKIPPED {problem}", file=sys.stderr)
    if len(report.problems) > MAX_SHOWN:
        print(f"SKIPPED ... and {len(report.problems) - MAX_SHOWN:,} more", file=sys.stderr)
    return 1 if report.problems else 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("import", help="import outside data (Synthea)")
    sources = parser.add_subparsers(dest="import_cmd", required=True)
    synthea = sources.add_parser(
        "synthea",
        help="load a Synthea export: a CSV folder or FHIR bundles (a re-run adds only what is missing)",
    )
    synthea.add_argument("path", help="Synthea's output/csv or output/fhir folder (or output/ itself)")
    synthea.add_argument("--format", choices=("auto", "csv", "fhir"), default="auto")
    synthea.add_argument(
        "--batch-size",
        type=_batch,
        default=50,
        help="patients per transaction (default 50): a kill loses at most one",
    )
    synthea.add_argument("--quiet", action="store_true", help="no progress bar")
    synthea.set_defaults(fn=cmd_import_synthea)
