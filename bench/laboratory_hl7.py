"""Issue 13 figure: HL7 v2 results through the analyser listener, with every ACK checked.

Figures (``--only`` takes the names in the first column; ``laboratory_hl7`` means both):

====================================  ==========================================================
hl7_ingest_messages_per_s             ``hms lab listen`` started as the operator starts it, on a
                                      fresh SQLite file (the embedded mode); ``CONNECTIONS``
                                      analysers each send their share of ``MESSAGES`` ORU^R01
                                      messages (one specimen, a potassium and a sodium each; one
                                      potassium in a hundred critical), each waiting for its ACK
                                      before sending the next, as MLLP senders do. Messages per
                                      second from the first message sent to the last ACK read
                                      (target: at least 300). Every ACK must be AA and every
                                      result stored, or the figure is not reported.
hl7_ingest_messages_per_s_postgresql  the same on a scratch PostgreSQL database
                                      (``HMS_BENCH_HL7_DB``, default ``hms_bench_hl7``, on
                                      ``HMS_BENCH_POSTGRES_SERVER``), created and dropped here,
                                      with ``--workers 2`` (``HMS_BENCH_HL7_PG_WORKERS``): two
                                      listener processes sharing the port
====================================  ==========================================================

Each message is one transaction: its results and the message row are committed before its ACK
is written (the listener never answers what it has not stored), so the figure includes one
commit per message. ``HMS_BENCH_HL7_MESSAGES`` and ``HMS_BENCH_HL7_CONNECTIONS`` change the
run's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.run import hms_environment, report, say, scratch_postgres
from hms_app.settings import PROJECT_ROOT

MESSAGES = int(os.environ.get("HMS_BENCH_HL7_MESSAGES") or 2000)
CONNECTIONS = int(os.environ.get("HMS_BENCH_HL7_CONNECTIONS") or 4)
PG_WORKERS = int(os.environ.get("HMS_BENCH_HL7_PG_WORKERS") or 2)  # `hms lab listen --workers`
PATIENTS = 200
START_TIMEOUT_S = 60.0
ACK_TIMEOUT_S = 60.0
POTASSIUM, SODIUM = "2823-3", "2951-2"
FIGURES = ("hl7_ingest_messages_per_s", "hl7_ingest_messages_per_s_postgresql")


def _accession(number: int) -> str:
    return f"B-{number:08d}"


def _build(url: str) -> None:
    """A department, a physician, patients, potassium and sodium with their ranges, and one received
    specimen with its two orders per message to come (bulk inserts: only the listener is measured)."""
    from sqlalchemy import insert, select

    from hms_app.clock import utcnow
    from hms_app.db import session_scope
    from hms_app.models.laboratory import LabOrder, LabReferenceRange, LabRequest, LabTest, Specimen
    from hms_app.models.organization import Department
    from hms_app.models.security import AppUser
    from hms_app.services import accounts, patients
    from hms_app.services.permissions import SYSTEM_ACTOR

    with session_scope(url) as session:
        accounts.ensure_roles(session)
        department = Department(code="GEN", name="General Medicine")
        session.add(department)
        session.flush()
        physician = AppUser(
            username="dr.bench", display_name="Dr Bench", password_hash="x", department_id=department.id
        )
        session.add(physician)
        session.flush()
        patient_ids = [
            patients.register_patient(
                session,
                actor=SYSTEM_ACTOR,
                data={
                    "given_name": "Bench" + "".join("abcdefghij"[int(d)] for d in str(n)),
                    "family_name": "Analyser",
                    "sex": "female" if n % 2 else "male",
                    "birth_date": f"19{40 + n % 60:02d}-0{1 + n % 9}-1{n % 9}",
                },
                duplicate_reason="benchmark patients",
            ).id
            for n in range(PATIENTS)
        ]
        tests = {}
        for code, name, short, ranges in (
            (POTASSIUM, "Potassium", "K", ("3.5", "5.1", "2.5", "6.5")),
            (SODIUM, "Sodium", "Na", ("136", "145", "120", "160")),
        ):
            test = LabTest(
                code=code,
                name=name,
                short_name=short,
                specimen_type="Venous blood",
                container="Lithium heparin (green)",
                unit="mmol/L",
            )
            session.add(test)
            session.flush()
            low, high, critical_low, critical_high = (Decimal(v) for v in ranges)
            session.add(
                LabReferenceRange(
                    test_id=test.id,
                    low=low,
                    high=high,
                    critical_low=critical_low,
                    critical_high=critical_high,
                )
            )
            tests[code] = test.id
        session.commit()
        now = utcnow()
        session.execute(
            insert(LabRequest),
            [
                {
                    "reference": f"LR-B{n:07d}",
                    "patient_id": patient_ids[n % PATIENTS],
                    "ordered_by_id": physician.id,
                    "ordered_by": "Dr Bench",
                    "department_id": department.id,
                    "ordered_at": now,
                    "priority": "routine",
                    "fasting": False,
                }
                for n in range(MESSAGES)
            ],
        )
        requests = dict(session.execute(select(LabRequest.reference, LabRequest.id)).all())
        session.execute(
            insert(Specimen),
            [
                {
                    "accession": _accession(n),
                    "request_id": requests[f"LR-B{n:07d}"],
                    "patient_id": patient_ids[n % PATIENTS],
                    "specimen_type": "Venous blood",
                    "container": "Lithium heparin (green)",
                    "status": "received",
                    "collected_at": now,
                    "collected_by": "bench",
                    "received_at": now,
                    "received_by": "bench",
                }
                for n in range(MESSAGES)
            ],
        )
        specimens = dict(session.execute(select(Specimen.accession, Specimen.id)).all())
        session.execute(
            insert(LabOrder),
            [
                {
                    "request_id": requests[f"LR-B{n:07d}"],
                    "patient_id": patient_ids[n % PATIENTS],
                    "test_id": tests[code],
                    "specimen_id": specimens[_accession(n)],
                    "priority": "routine",
                    "status": "received",
                    "ordered_at": now,
                }
                for n in range(MESSAGES)
                for code in (POTASSIUM, SODIUM)
            ],
        )
        session.commit()


def _message(number: int) -> bytes:
    potassium = "6.9" if number % 100 == 99 else f"{3.6 + (number % 14) / 10:.1f}"
    sodium = f"{136 + number % 9}"
    stamp = "20261207083000"
    segments = [
        f"MSH|^~\\&|BENCHLYSER|HOSPLAB|HMS|HOSP|{stamp}||ORU^R01^ORU_R01|B{number:08d}|P|2.5",
        f"PID|1||BENCH{number % PATIENTS}",
        f"OBR|1||{_accession(number)}|24326-1^Electrolytes^LN",
        f"OBX|1|NM|{POTASSIUM}^Potassium^LN||{potassium}|mmol/L^^UCUM|3.5-5.1||||F|||{stamp}",
        f"OBX|2|NM|{SODIUM}^Sodium^LN||{sodium}|mmol/L^^UCUM|136-145||||F|||{stamp}",
    ]
    return ("\r".join(segments) + "\r").encode()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_listener(stack: contextlib.ExitStack, url: str, workdir: Path, workers: int) -> int:
    port = _free_port()
    log = open(workdir / "listener.log", "wb")  # noqa: SIM115 - closed by the stack
    stack.callback(log.close)
    env = {**os.environ, "HMS_DATABASE_URL": url, "HMS_DATA_DIR": str(workdir)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hms_app.cli",
            "lab",
            "listen",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    stack.callback(stop)
    deadline = time.perf_counter() + START_TIMEOUT_S
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return port
        if process.poll() is not None or time.perf_counter() > deadline:
            raise RuntimeError(
                f"`hms lab listen` did not start:\n{(workdir / 'listener.log').read_text()[-2000:]}"
            )
        time.sleep(0.1)


async def _analyser(port: int, numbers: range) -> list[str]:
    from hl7.mllp import open_hl7_connection

    reader, writer = await open_hl7_connection("127.0.0.1", port)
    codes = []
    try:
        for number in numbers:
            writer.writeblock(_message(number))
            await writer.drain()
            ack = (await asyncio.wait_for(reader.readblock(), ACK_TIMEOUT_S)).decode()
            msa = next(segment for segment in ack.split("\r") if segment.startswith("MSA|"))
            fields = msa.split("|")
            if fields[2] != f"B{number:08d}":
                raise RuntimeError(f"the ACK answers {fields[2]}, not B{number:08d}")
            codes.append(fields[1])
    finally:
        writer.close()
        await writer.wait_closed()
    return codes


async def _send_all(port: int) -> tuple[float, list[str]]:
    shares = [range(start, MESSAGES, CONNECTIONS) for start in range(CONNECTIONS)]
    started = time.perf_counter()
    answers = await asyncio.gather(*(_analyser(port, share) for share in shares))
    return time.perf_counter() - started, [code for codes in answers for code in codes]


def _measure(stack: contextlib.ExitStack, url: str, label: str, figure: str, workers: int = 1) -> None:
    from sqlalchemy import func, select

    from hms_app import migrations
    from hms_app.db import session_scope
    from hms_app.models.laboratory import CriticalAlert, Hl7Message, LabResult

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-hl7-")))
    with hms_environment(url, workdir):
        migrations.upgrade(url)
        started = time.perf_counter()
        _build(url)
        say(
            f"  {label}: {MESSAGES:,} received specimens with 2 orders each in {time.perf_counter() - started:.1f} s"
        )
        port = _start_listener(stack, url, workdir, workers)
        seconds, codes = asyncio.run(_send_all(port))
        with session_scope(url, read_only=True) as session:
            stored = session.execute(select(func.count()).select_from(LabResult)).scalar_one()
            messages = session.execute(select(func.count()).select_from(Hl7Message)).scalar_one()
            alerts = session.execute(select(func.count()).select_from(CriticalAlert)).scalar_one()
    not_accepted = len(codes) - codes.count("AA")
    if not_accepted or len(codes) != MESSAGES or stored != 2 * MESSAGES or messages != MESSAGES:
        raise RuntimeError(
            f"{not_accepted} ACKs were not AA, {len(codes)} of {MESSAGES} answered, {stored} results "
            f"and {messages} messages stored"
        )
    say(
        f"  {MESSAGES:,} messages over {CONNECTIONS} connections to {workers} listener process"
        f"{'es' if workers > 1 else ''} in {seconds:.1f} s; every ACK AA; "
        f"{stored:,} results and {messages:,} messages stored, {alerts} critical alerts raised"
    )
    report(figure, MESSAGES / seconds, "msg/s")


def run(stack: contextlib.ExitStack, figures: set[str]) -> None:
    if "hl7_ingest_messages_per_s" in figures:
        with contextlib.ExitStack() as own:
            workdir = Path(own.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-hl7-db-")))
            _measure(own, f"sqlite:///{workdir / 'hms.db'}", "SQLite", "hl7_ingest_messages_per_s")
    if "hl7_ingest_messages_per_s_postgresql" in figures:
        url = scratch_postgres(stack, os.environ.get("HMS_BENCH_HL7_DB", "hms_bench_hl7"))
        _measure(stack, url, "PostgreSQL", "hl7_ingest_messages_per_s_postgresql", workers=PG_WORKERS)


BENCHMARKS = [(FIGURES, run)]  # hooked into bench/run.py
GROUPS: dict[str, list[str]] = {"laboratory_hl7": list(FIGURES)}
