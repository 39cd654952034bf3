"""DICOM files kept as a radiographer and an auditor see them: grouped into study, series and
instance by their UIDs and filed to the order of their accession; kept once; set aside, never filed
to a chart, when the accession is missing, unknown or another patient's; refused with the reason
when cut short, not DICOM, too large or carrying a UID that is not one; compressed images shown
through pydicom's plug-ins."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import dcmread
from sqlalchemy import func, select

from hms_app.errors import Forbidden
from hms_app.models.radiology import (
    ImagingInstance,
    ImagingOrder,
    ImagingSeries,
    ImagingStudy,
    UnmatchedImage,
)
from hms_app.models.security import AuditEvent
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.radiology import storage
from hms_app.services.radiology.common import dicom_root
from hms_app.services.radiology.storage import store_dicom, store_dicom_file
from hms_app.settings import get_settings
from tests.services.dicom_world import an_order, build_dicom_world, dicom_bytes


@pytest.fixture
def world(session):
    return build_dicom_world(session)


@pytest.fixture
def notices():
    return []


def keep(session, data: bytes, notices, actor=SYSTEM_ACTOR, source="test.dcm"):
    return store_dicom(
        session, actor=actor, data=data, source=source, notify=lambda *notice: notices.append(notice)
    )


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def audits(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_images_are_grouped_by_their_uids_and_filed_to_the_order(session, world, notices):
    order_id = an_order(session, world, "ACC00000001", status="in_progress")
    study, ct_series, mr_series = (
        "1.2.826.0.1.3680043.8.498.1",
        "1.2.826.0.1.3680043.8.498.11",
        "1.2.826.0.1.3680043.8.498.12",
    )
    sent = [
        dicom_bytes(patient_id=world.mrn, accession="ACC00000001", study_uid=study, series_uid=ct_series, number=n)
        for n in (1, 2)
    ] + [
        dicom_bytes("MR_small.dcm", patient_id=world.mrn, accession="ACC00000001", study_uid=study, series_uid=mr_series)
    ]  # fmt: skip
    results = [keep(session, data, notices, actor=world.radiographer) for data in sent]

    assert [r.status for r in results] == ["stored", "stored", "stored"]
    assert {r.order_id for r in results} == {order_id}
    assert results[0].as_json() == {
        "path": "test.dcm", "status": "stored", "modality": "CT", "sop_class": "CT Image Storage",
        "rows": 128, "columns": 128, "frames": 1, "patient_id": world.mrn, "study_date": "20040119",
        "preview": True,
    }  # fmt: skip
    session.expire_all()
    kept = session.execute(select(ImagingStudy)).scalar_one()
    assert (kept.study_uid, kept.order_id, kept.patient_id, kept.accession) == (
        study, order_id, world.patient, "ACC00000001"
    )  # fmt: skip
    assert (kept.series_count, kept.instance_count, kept.modalities) == (2, 3, "CT|MR")
    series = {s.series_uid: s for s in session.execute(select(ImagingSeries)).scalars()}
    assert {uid: (s.study_id, s.modality, s.instance_count) for uid, s in series.items()} == {
        ct_series: (kept.id, "CT", 2),
        mr_series: (kept.id, "MR", 1),
    }
    instances = list(session.execute(select(ImagingInstance).order_by(ImagingInstance.id)).scalars())
    root = dicom_root()
    for instance, data, result in zip(instances, sent, results, strict=True):
        assert (
            instance.path
            == f"{study}/{series[instance.path.split('/')[1]].series_uid}/{instance.sop_uid}.dcm"
        )
        assert (root / instance.path).read_bytes() == data
        assert instance.size_bytes == len(data) and instance.received_from == "import"
        assert instance.sop_uid == result.sop_uid
    assert [i.number for i in instances[:2]] == [1, 2]
    # Kept under the data directory's image store, never the public upload folder.
    assert root == Path(get_settings().data_dir) / "dicom"
    assert not any(Path(get_settings().data_dir).glob("upload*/**/*.dcm"))
    order = session.get(ImagingOrder, order_id)
    assert order.status == "images_received" and order.status_changed_by == "rad.tech"
    stored = audits(session, "imaging.image_stored")
    assert len(stored) == 3 and {a.patient_id for a in stored} == {world.patient}
    assert {a.username for a in stored} == {"rad.tech"}
    assert notices and set(notices) == {("imaging", order_id)}


def test_an_instance_is_kept_once(session, world, notices):
    an_order(session, world, "ACC00000002")
    data = dicom_bytes(patient_id=world.mrn, accession="ACC00000002")
    first = keep(session, data, notices)
    again = keep(session, data, notices)
    sop = dcmread(storage.io.BytesIO(data)).SOPInstanceUID
    changed = dicom_bytes("MR_small.dcm", patient_id=world.mrn, accession="ACC00000002", sop_uid=sop)
    other_content = keep(session, changed, notices)
    assert (first.status, again.status, other_content.status) == ("stored", "duplicate", "duplicate")
    assert again.reason == "SOP Instance UID already stored"
    assert count(session, ImagingInstance) == 1 and len(audits(session, "imaging.image_stored")) == 1
    session.expire_all()
    assert session.execute(select(ImagingStudy.instance_count)).scalar_one() == 1
    assert (dicom_root() / session.execute(select(ImagingInstance.path)).scalar_one()).read_bytes() == data
    # An image set aside is kept once too.
    aside = dicom_bytes(patient_id=world.mrn, accession="NOSUCH")
    assert [keep(session, aside, notices).status for _ in range(2)] == ["unmatched", "duplicate"]
    assert count(session, UnmatchedImage) == 1


@pytest.mark.parametrize(
    ("accession", "whose", "reason"),
    [
        ("ACC99999999", "patient", "no_order"),  # no order has this accession
        ("ACC00000003", "other", "patient_mismatch"),  # the accession of another patient's order
        ("", "patient", "no_accession"),
    ],
)
def test_images_that_match_no_order_are_set_aside(session, world, notices, accession, whose, reason):
    order_id = an_order(session, world, "ACC00000003", patient=world.patient)
    mrn = world.mrn if whose == "patient" else world.other_mrn
    result = keep(session, dicom_bytes(patient_id=mrn, accession=accession), notices)
    assert result.status == "unmatched" and result.reason == reason and result.order_id is None
    assert result.as_json()["reason"] == reason and result.as_json()["patient_id"] == mrn
    assert count(session, ImagingStudy) == count(session, ImagingInstance) == 0
    session.expire_all()
    aside = session.execute(select(UnmatchedImage)).scalar_one()
    assert (aside.reason, aside.patient_key, aside.accession, aside.resolved_at) == (
        reason, mrn, accession or None, None
    )  # fmt: skip
    assert aside.patient_name == "CompressedSamples CT1"
    assert aside.path == f"unmatched/{result.sop_uid}.dcm" and (dicom_root() / aside.path).is_file()
    assert session.get(ImagingOrder, order_id).status == "scheduled"
    [audit] = audits(session, "imaging.image_unmatched")
    assert audit.patient_id is None and audit.target_id == str(aside.id) and reason in audit.detail
    assert notices == [("imaging", "unmatched")]


def test_a_study_filed_to_one_patient_takes_no_image_of_another(session, world, notices):
    an_order(session, world, "ACC00000004")
    an_order(session, world, "ACC00000005", patient=world.other)
    study = "1.2.826.0.1.3680043.8.498.77"
    assert (
        keep(
            session, dicom_bytes(patient_id=world.mrn, accession="ACC00000004", study_uid=study), notices
        ).status
        == "stored"
    )
    crossed = keep(
        session, dicom_bytes(patient_id=world.other_mrn, accession="ACC00000005", study_uid=study), notices
    )
    assert (crossed.status, crossed.reason) == ("unmatched", "patient_mismatch")
    session.expire_all()
    assert session.execute(select(ImagingStudy.instance_count)).scalar_one() == 1  # fmt: skip


def cut(data: bytes, keep_bytes: int) -> bytes:
    return data[:keep_bytes]


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda mrn: cut(dicom_bytes(patient_id=mrn, accession="ACC00000006"), 20_000), "truncated: element (7FE0,0010)"),
        (lambda mrn: cut(dicom_bytes("SC_rgb_jpeg_dcmtk.dcm", patient_id=mrn, accession="ACC00000006"), 3_000), "truncated"),
        (lambda mrn: b"MSH|^~\\&|not an image\r" * 20, "not a DICOM file"),
        (lambda mrn: b"", "empty file"),
        (lambda mrn: dicom_bytes(patient_id=mrn, accession="ACC00000006", study_uid="1.2/../../../etc"), "invalid Study Instance UID"),
        (lambda mrn: dicom_bytes(patient_id=mrn, accession="ACC00000006", sop_uid="1." + "2" * 70), "invalid SOP Instance UID"),
    ],
    ids=["truncated-pixels", "truncated-jpeg", "not-dicom", "empty", "uid-escaping-the-root", "uid-too-long"],
)  # fmt: skip
def test_unreadable_files_are_refused_with_the_reason(session, world, notices, make, reason):
    an_order(session, world, "ACC00000006")
    result = keep(session, make(world.mrn), notices)
    assert result.status == "refused" and result.reason.startswith(reason)
    assert result.as_json()["reason"] == result.reason
    assert (
        count(session, ImagingInstance) == count(session, UnmatchedImage) == count(session, ImagingStudy) == 0
    )
    assert files_under(Path(get_settings().data_dir)) == [] and notices == []
    assert not audits(session, "imaging.image_stored") and not audits(session, "imaging.image_unmatched")


def test_a_file_over_the_size_limit_is_refused_unread(session, world, notices, monkeypatch, tmp_path):
    data = dicom_bytes(patient_id=world.mrn, accession="ACC00000007")
    monkeypatch.setattr(storage, "MAX_FILE_BYTES", len(data) - 1)
    path = tmp_path / "big.dcm"
    path.write_bytes(data)
    for result in (
        keep(session, data, notices),
        store_dicom_file(session, actor=SYSTEM_ACTOR, path=path, notify=lambda *n: notices.append(n)),
    ):
        assert result.status == "refused" and "the limit per file" in result.reason
    assert count(session, UnmatchedImage) == 0


@pytest.mark.parametrize(
    ("source", "syntax"),
    [("SC_rgb_jpeg_dcmtk.dcm", "1.2.840.10008.1.2.4.50"), ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91")],
)
def test_compressed_images_are_kept_as_sent_and_previewed(session, world, notices, source, syntax):
    an_order(session, world, "ACC00000008")
    data = dicom_bytes(source, patient_id=world.mrn, accession="ACC00000008")
    result = keep(session, data, notices)
    assert (result.status, result.preview, result.frames) == ("stored", True, 1)
    session.expire_all()
    instance = session.execute(select(ImagingInstance)).scalar_one()
    assert instance.transfer_syntax == syntax and (dicom_root() / instance.path).read_bytes() == data


def test_a_file_without_pixels_is_kept_without_a_preview(session, world, notices):
    an_order(session, world, "ACC00000009")
    result = keep(session, dicom_bytes("rtplan.dcm", patient_id=world.mrn, accession="ACC00000009"), notices)
    assert (result.status, result.preview, result.frames, result.rows) == ("stored", False, 0, None)


def test_only_radiology_staff_store_images(session, world, notices):
    an_order(session, world, "ACC00000010")
    with pytest.raises(Forbidden):
        keep(session, dicom_bytes(patient_id=world.mrn, accession="ACC00000010"), notices, actor=world.nurse)
    assert count(session, ImagingInstance) == 0 and files_under(dicom_root()) == []


def test_an_order_past_images_received_keeps_its_status(session, world, notices):
    order_id = an_order(session, world, "ACC00000011", status="preliminary")
    assert (
        keep(session, dicom_bytes(patient_id=world.mrn, accession="ACC00000011"), notices).status == "stored"
    )
    session.expire_all()
    assert session.get(ImagingOrder, order_id).status == "preliminary"
