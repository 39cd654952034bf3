"""Issue 15 figure: DICOM images through the C-STORE listener, with every answer checked.

Figures (``--only`` takes the names in the first column; ``radiology_dicom`` means all):

================================  ==============================================================
dicom_cstore_instances_per_s      ``hms dicom listen`` started as the operator starts it, on a
                                  fresh SQLite file (the embedded mode); ``CONNECTIONS``
                                  modalities each send their share of ``INSTANCES`` small
                                  synthetic CT images (64 × 64, 16 bits, explicit VR little
                                  endian; one study of two series per order, ``PER_STUDY``
                                  images each) over one association, each C-STORE waiting for its
                                  answer as modalities do. Instances per second from the first
                                  image sent to the last answer read. Every answer must be
                                  Success and every image filed to its order, or the figure is
                                  not reported.
================================  ==============================================================

Each image is one transaction: its file written, its rows and audit row committed before the
answer (the listener never answers what it has not kept), so the figure includes one file write
and one commit per image. ``HMS_BENCH_DICOM_INSTANCES`` and ``HMS_BENCH_DICOM_CONNECTIONS`` change
the run's size.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.run import hms_environment, report, say
from hms_app.settings import PROJECT_ROOT

INSTANCES = int(os.environ.get("HMS_BENCH_DICOM_INSTANCES") or 1000)
CONNECTIONS = int(os.environ.get("HMS_BENCH_DICOM_CONNECTIONS") or 2)
PER_STUDY = 50
PATIENTS = 20
START_TIMEOUT_S = 60.0
FIGURES = ("dicom_cstore_instances_per_s",)
UID_ROOT = "1.2.826.0.1.3680043.8.498.9"  # pydicom's UID root, then a number of this benchmark's own


def _accession(number: int) -> str:
    return f"BD{number:08d}"


def _build(url: str) -> list[str]:
    """A radiology department, a physician, patients, a CT procedure and one scheduled order per
    study to come (bulk inserts, then the tables analysed: only the listener is measured); each
    order's patient's MRN, by order number."""
    from sqlalchemy import insert, select

    from hms_app.clock import utcnow
    from hms_app.db import analyze, session_scope
    from hms_app.models.organization import Department
    from hms_app.models.patients import Patient
    from hms_app.models.radiology import ImagingOrder, ImagingProcedure
    from hms_app.models.security import AppUser
    from hms_app.services import accounts, patients
    from hms_app.services.permissions import SYSTEM_ACTOR

    studies = -(-INSTANCES // PER_STUDY)
    with session_scope(url) as session:
        accounts.ensure_roles(session)
        department = Department(code="RAD", name="Radiology", kind="diagnostic")
        session.add(department)
        session.flush()
        physician = AppUser(
            username="dr.bench", display_name="Dr Bench", password_hash="x", department_id=department.id
        )
        procedure = ImagingProcedure(code="IMG-CT-HEAD", name="CT head", modality="CT", body_part="HEAD")
        session.add_all([physician, procedure])
        session.flush()
        patient_ids = [
            patients.register_patient(
                session,
                actor=SYSTEM_ACTOR,
                data={
                    "given_name": "Bench" + "".join("abcdefghij"[int(d)] for d in str(n)),
                    "family_name": "Imaging",
                    "sex": "female" if n % 2 else "male",
                    "birth_date": f"19{40 + n % 60:02d}-0{1 + n % 9}-1{n % 9}",
                },
                duplicate_reason="benchmark patients",
            ).id
            for n in range(PATIENTS)
        ]
        session.commit()
        now = utcnow()
        session.execute(
            insert(ImagingOrder),
            [
                {
                    "accession": _accession(n),
                    "patient_id": patient_ids[n % PATIENTS],
                    "procedure_id": procedure.id,
                    "priority": "routine",
                    "clinical_question": "Benchmark",
                    "status": "scheduled",
                    "ordered_by_id": physician.id,
                    "ordered_by": "dr.bench",
                    "ordered_at": now,
                    "scheduled_at": now,
                    "status_changed_at": now,
                }
                for n in range(studies)
            ],
        )
        analyze(session, ("imaging_order", "patient"))
        session.commit()
        mrns = dict(session.execute(select(Patient.id, Patient.mrn)).all())
    return [mrns[patient_ids[n % PATIENTS]] for n in range(studies)]


def _images(mrns: list[str]) -> list:
    """``INSTANCES`` small synthetic CT images (no patient's), built before the clock starts."""
    import numpy as np
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    pixels = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 4096).tobytes()
    images = []
    for n in range(INSTANCES):
        study, within = divmod(n, PER_STUDY)
        series = within * 2 // PER_STUDY
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = f"{UID_ROOT}.{study + 1}.{series + 1}.{within + 1}"
        ds.StudyInstanceUID = f"{UID_ROOT}.{study + 1}"
        ds.SeriesInstanceUID = f"{UID_ROOT}.{study + 1}.{series + 1}"
        ds.Modality, ds.PatientID, ds.PatientName = "CT", mrns[study], "Bench^Imaging"
        ds.AccessionNumber, ds.StudyDate, ds.StudyDescription = _accession(study), "20261207", "CT head"
        ds.SeriesNumber, ds.InstanceNumber = series + 1, within + 1
        ds.Rows = ds.Columns = 64
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = pixels
        images.append(ds)
    return images


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_listener(stack: contextlib.ExitStack, url: str, workdir: Path) -> int:
    port = _free_port()
    log = open(workdir / "listener.log", "wb")  # noqa: SIM115 - closed by the stack
    stack.callback(log.close)
    env = {**os.environ, "HMS_DATABASE_URL": url, "HMS_DATA_DIR": str(workdir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "hms_app.cli", "dicom", "listen", "--port", str(port)],
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
                f"`hms dicom listen` did not start:\n{(workdir / 'listener.log').read_text()[-2000:]}"
            )
        time.sleep(0.1)


def _modality(port: int, number: int, images: list, statuses: list) -> None:
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import CTImageStorage

    from hms_app.services.radiology.dicom_net import no_delay

    ae = AE(ae_title=f"BENCH_CT_{number}")
    ae.add_requested_context(CTImageStorage, ["1.2.840.10008.1.2.1"])
    ae.maximum_pdu_size = 0
    # As DCMTK-based modalities do: without TCP_NODELAY each image waits for a delayed ACK.
    assoc = ae.associate("127.0.0.1", port, ae_title="HMS", evt_handlers=[(evt.EVT_CONN_OPEN, no_delay)])
    if not assoc.is_established:
        raise RuntimeError("the listener refused the association")
    try:
        for image in images:
            answer = assoc.send_c_store(image)
            statuses.append(answer.get("Status") if answer else None)
    finally:
        assoc.release()


def _send_all(port: int, images: list) -> tuple[float, list]:
    # One modality per study's share: the studies split between them, each sent whole.
    studies = [images[start : start + PER_STUDY] for start in range(0, len(images), PER_STUDY)]
    shares = [[i for s in studies[k::CONNECTIONS] for i in s] for k in range(CONNECTIONS)]
    statuses: list = []
    threads = [
        threading.Thread(target=_modality, args=(port, k + 1, share, statuses), daemon=True)
        for k, share in enumerate(shares)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, statuses


def _measure(stack: contextlib.ExitStack) -> None:
    import logging

    from sqlalchemy import func, select

    from hms_app import migrations
    from hms_app.db import session_scope
    from hms_app.models.radiology import ImagingInstance, ImagingOrder, ImagingStudy

    logging.getLogger("pynetdicom").setLevel(logging.ERROR)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-dicom-")))
    url = f"sqlite:///{workdir / 'hms.db'}"
    with hms_environment(url, workdir):
        migrations.upgrade(url)
        started = time.perf_counter()
        mrns = _build(url)
        images = _images(mrns)
        say(
            f"  SQLite: {len(mrns)} scheduled orders and {INSTANCES:,} synthetic images in "
            f"{time.perf_counter() - started:.1f} s"
        )
        port = _start_listener(stack, url, workdir)
        seconds, statuses = _send_all(port, images)
        with session_scope(url, read_only=True) as session:
            stored = session.execute(select(func.count()).select_from(ImagingInstance)).scalar_one()
            studies = session.execute(select(func.count()).select_from(ImagingStudy)).scalar_one()
            received = session.execute(
                select(func.count()).select_from(ImagingOrder).where(ImagingOrder.status == "images_received")
            ).scalar_one()
        files = sum(1 for _ in (workdir / "dicom").rglob("*.dcm"))
    failed = len(statuses) - statuses.count(0)
    if failed or len(statuses) != INSTANCES or stored != INSTANCES or files != INSTANCES:
        raise RuntimeError(
            f"{failed} answers were not Success, {len(statuses)} of {INSTANCES} answered, "
            f"{stored} instances and {files} files kept"
        )
    say(
        f"  {INSTANCES:,} images over {CONNECTIONS} associations in {seconds:.1f} s; every answer Success; "
        f"{stored:,} instances in {studies} studies, {received} orders moved to images received"
    )
    report("dicom_cstore_instances_per_s", INSTANCES / seconds, "instances/s")


def run(stack: contextlib.ExitStack, figures: set[str]) -> None:
    if "dicom_cstore_instances_per_s" in figures:
        with contextlib.ExitStack() as own:
            _measure(own)


BENCHMARKS = [(FIGURES, run)]  # hooked into bench/run.py
GROUPS: dict[str, list[str]] = {"radiology_dicom": list(FIGURES)}
