"""The DICOM listener as a modality sees it: pynetdicom as the sending modality, the listener on a
free port in this process; C-ECHO answered, each C-STORE kept before its answer (stored, unmatched
and again all answered Success), a file that cannot be kept answered "Cannot understand", a fault
while storing "Out of resources" (the modality sends it again); what it keeps audited under the
modality's AE title."""

from __future__ import annotations

import io
import warnings

import pytest
from pydicom import dcmread
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, SecondaryCaptureImageStorage, Verification
from sqlalchemy import select

from hms_app.models.radiology import ImagingInstance, ImagingOrder, UnmatchedImage
from hms_app.models.security import AuditEvent
from hms_app.services.radiology import dicom_net
from hms_app.services.radiology.common import dicom_root
from tests.services.dicom_world import an_order, build_dicom_world, dicom_bytes

EXPLICIT, JPEG_BASELINE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50"


@pytest.fixture
def world(session):
    return build_dicom_world(session)


@pytest.fixture
def listener(configured_db):
    """A listener on a free port, with the live notices it sends kept in ``notices``."""
    notices = []
    scp = dicom_net.StorageSCP(configured_db, notify=lambda *notice: notices.append(notice))
    server = dicom_net.start_listener("127.0.0.1", 0, database_url=configured_db, scp=scp)
    try:
        yield server.server_address[1], notices
    finally:
        server.shutdown()


def modality(port: int, title: str = "CT_SCANNER_1"):
    ae = AE(ae_title=title)
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage, [EXPLICIT])
    ae.add_requested_context(SecondaryCaptureImageStorage, [JPEG_BASELINE])
    assoc = ae.associate("127.0.0.1", port, ae_title="HMS")
    assert assoc.is_established
    return assoc


def dataset(data: bytes):
    return dcmread(io.BytesIO(data))


def test_a_modality_sends_a_study_and_each_image_is_kept_before_its_answer(session, world, listener):
    port, notices = listener
    order_id = an_order(session, world, "ACC00000020", status="arrived")
    study = "1.2.826.0.1.3680043.8.498.200"
    images = [
        dicom_bytes(patient_id=world.mrn, accession="ACC00000020", study_uid=study, number=1),
        dicom_bytes("SC_rgb_jpeg_dcmtk.dcm", patient_id=world.mrn, accession="ACC00000020", study_uid=study),
    ]
    stray = dicom_bytes(patient_id="UNKNOWN-1", accession="ACC99999999")
    assoc = modality(port)
    try:
        assert assoc.send_c_echo().Status == 0x0000
        statuses = [assoc.send_c_store(dataset(data)).Status for data in [*images, images[0], stray]]
    finally:
        assoc.release()
    assert statuses == [0x0000, 0x0000, 0x0000, 0x0000]  # stored, stored, again, set aside

    session.expire_all()
    instances = list(session.execute(select(ImagingInstance).order_by(ImagingInstance.id)).scalars())
    assert [i.transfer_syntax for i in instances] == [EXPLICIT, JPEG_BASELINE]
    assert {i.received_from for i in instances} == {"CT_SCANNER_1"}
    for instance, sent in zip(instances, images, strict=True):
        kept = dcmread(dicom_root() / instance.path)
        assert kept.SOPInstanceUID == dataset(sent).SOPInstanceUID and kept.StudyInstanceUID == study
        assert kept.file_meta.TransferSyntaxUID == instance.transfer_syntax
    jpeg = dcmread(dicom_root() / instances[1].path)
    assert jpeg.pixel_array.shape == (100, 100, 3)  # decoded through the JPEG plug-in
    aside = session.execute(select(UnmatchedImage)).scalar_one()
    assert (aside.reason, aside.patient_key, aside.received_from) == ("no_order", "UNKNOWN-1", "CT_SCANNER_1")
    order = session.get(ImagingOrder, order_id)
    assert order.status == "images_received" and order.status_changed_by == "dicom CT_SCANNER_1"
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.username, AuditEvent.patient_id).where(
            AuditEvent.action.like("imaging.image_%")
        )
    ).all()
    assert sorted(rows) == sorted(
        [
            ("imaging.image_stored", "dicom CT_SCANNER_1", world.patient),
            ("imaging.image_stored", "dicom CT_SCANNER_1", world.patient),
            ("imaging.image_unmatched", "dicom CT_SCANNER_1", None),
        ]
    )
    assert set(notices) == {("imaging", order_id), ("imaging", "unmatched")}


def test_an_image_that_cannot_be_kept_is_answered_cannot_understand(session, world, listener):
    port, _ = listener
    an_order(session, world, "ACC00000021")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crafted = dataset(dicom_bytes(patient_id=world.mrn, accession="ACC00000021"))
        crafted.SeriesInstanceUID = "1.2.3/../../../../tmp/x"
    assoc = modality(port)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            status = assoc.send_c_store(crafted).Status
    finally:
        assoc.release()
    assert status == dicom_net.CANNOT_UNDERSTAND
    session.expire_all()
    assert session.execute(select(ImagingInstance)).first() is None
    assert not dicom_root().exists() or not any(dicom_root().rglob("*.dcm"))


def test_a_fault_while_storing_is_answered_out_of_resources(session, world, configured_db):
    def broken_database(*_args, **_kwargs):
        raise ConnectionError("the database went away")

    scp = dicom_net.StorageSCP(configured_db, notify=lambda *_: None, store=broken_database)
    server = dicom_net.start_listener("127.0.0.1", 0, scp=scp)
    try:
        assoc = modality(server.server_address[1])
        try:
            status = assoc.send_c_store(dataset(dicom_bytes(patient_id=world.mrn, accession="X")))
        finally:
            assoc.release()
    finally:
        server.shutdown()
    assert status.Status == dicom_net.OUT_OF_RESOURCES


def test_the_listener_acts_only_as_a_receiver_of_images():
    actor = dicom_net.listener_actor("  CT  SCANNER ")
    assert actor.username == "dicom CT SCANNER" and actor.permissions == frozenset({"radiology.work"})


def test_gathered_notices_send_one_per_key_per_burst():
    import threading

    sent, done = [], threading.Event()

    def publish(topic, key):
        sent.append((topic, key))
        if len(sent) == 2:
            done.set()

    notices = dicom_net.GatheredNotices(delay=0.05, publish=publish)
    for _ in range(50):
        notices("imaging", 7)
    notices("imaging", "unmatched")
    assert done.wait(5)
    assert sorted(sent, key=str) == sorted([("imaging", 7), ("imaging", "unmatched")], key=str)
