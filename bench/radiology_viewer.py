"""Issue 15 figure: how long the server takes to hand the viewer the first image of a CT series.

=====================  ===================================================================
dicom_frame_p95_ms     ``GET /api/dicomweb/studies/{s}/series/{se}/instances/{i}/frames/1``
                       (``Accept: application/octet-stream``, as the viewer asks) for the first
                       image of a 512 x 512 CT series of ``SLICES`` slices, through the API
                       route with a radiologist's session cookie: the session check, the
                       permission, the study/series/instance lookup, the once-per-study audit
                       check and the 512 KB read. p50/p95 over ``RUNS`` requests, each for a
                       different series (so no request finds the previous one's file layout in
                       the cache); target: p95 under 100 ms.
=====================  ===================================================================

On SQLite (a scratch file) under the name above, and on PostgreSQL when it can be reached (a
scratch database ``HMS_BENCH_VIEWER_DB``, default ``hms_bench_viewer``) with a ``_postgresql``
suffix. The images are written by ``tests/services/radiology_images.py``, as the tests' are.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

from bench.run import Skip, hms_environment, percentiles, report, say, scratch_postgres

SLICES = 8
RUNS = 60
WARM_UPS = 3
DB = os.environ.get("HMS_BENCH_VIEWER_DB", "hms_bench_viewer")
NAMES = ("dicom_frame_p95_ms",)
PASSWORD = "Bench-viewer-2026"


def _bench(url: str, suffix: str) -> None:
    from starlette.testclient import TestClient

    from hms_app import migrations
    from hms_app.api.routes import SESSION_COOKIE, build_api
    from hms_app.db import session_scope
    from hms_app.services import accounts, security
    from hms_app.services.permissions import SYSTEM_ACTOR
    from hms_app.services.radiology import dicomweb
    from tests.services.radiology_images import a_patient, ct_study

    migrations.upgrade(url)
    with session_scope() as session:
        accounts.ensure_roles(session)
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username="bench.radiologist",
            display_name="Bench Radiologist",
            password=PASSWORD,
            roles=["radiologist"],
        )
        token = security.sign_in(session, username="bench.radiologist", password=PASSWORD).token
        patient_id = a_patient(session)
        studies = [
            ct_study(session, patient_id=patient_id, slices=SLICES, size=512, seed=f"bench-{n}")
            for n in range(RUNS + WARM_UPS)
        ]
    say(f"  {len(studies)} CT series of {SLICES} slices of 512 x 512 written")
    headers = {"cookie": f"{SESSION_COOKIE}={token}", "accept": "application/octet-stream"}
    samples: list[float] = []
    with TestClient(build_api()) as client:
        for n, study in enumerate(studies):
            frame = (
                f"/api/dicomweb/studies/{study.study_uid}/series/{study.series_uids[0]}"
                f"/instances/{study.sop_uids[0][0]}/frames/1"
            )
            dicomweb._layout.cache_clear()
            started = time.perf_counter()
            answer = client.get(frame, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if answer.status_code != 200 or len(answer.content) != 512 * 512 * 2:
                raise RuntimeError(f"frame request answered {answer.status_code}: {answer.text[:200]}")
            if n >= WARM_UPS:
                samples.append(elapsed)
    p50, p95 = percentiles(samples)
    say(f"  first frame of a series: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(samples)} series")
    report(f"dicom_frame_p95_ms{suffix}", p95, "ms")


def run(stack: contextlib.ExitStack, figures: set[str]) -> None:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-viewer-")))
    url = f"sqlite:///{workdir / 'viewer.db'}"
    with hms_environment(url, workdir):
        say("SQLite:")
        _bench(url, "")
    try:
        pg_url = scratch_postgres(stack, DB)
    except Skip as reason:
        say(f"skipping the PostgreSQL figure: {reason}")
        return
    pg_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-viewer-pg-")))
    with hms_environment(pg_url, pg_dir):
        say("PostgreSQL:")
        _bench(pg_url, "_postgresql")


BENCHMARKS = [(NAMES, run)]  # hooked into bench/run.py
GROUPS: dict[str, list[str]] = {"radiology_viewer": list(NAMES)}
