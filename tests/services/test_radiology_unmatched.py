"""The unmatched images as the person reconciling them and an auditor see them: one row per study,
newest first; a study filed to the order the person confirms shows under that order exactly as if it
had matched on arrival (rows, counts, files moved, order moved on, rows resolved, one audit row);
a cancelled order, an unknown accession and a study already another patient's are refused with
nothing changed; a discard needs a reason and deletes the files; nurses and physicians are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.organization import Department
from hms_app.models.radiology import (
    ImagingInstance,
    ImagingOrder,
    ImagingSeries,
    ImagingStudy,
    UnmatchedImage,
)
from hms_app.models.security import AuditEvent
from hms_app.services import live
from hms_app.services.radiology import filing
from hms_app.services.radiology.common import dicom_root
from hms_app.services.radiology.storage import store_dicom
from hms_app.services.radiology.unmatched import (
    discard_study,
    file_study,
    order_for_filing,
    unmatched_page,
)
from tests.services.dicom_world import an_order, build_dicom_world, dicom_bytes
from tests.services.lab_world import role_actor

STUDY_A = "1.2.826.0.1.3680043.8.498.501"
STUDY_B = "1.2.826.0.1.3680043.8.498.502"
SERIES_A1, SERIES_A2 = "1.2.826.0.1.3680043.8.498.5011", "1.2.826.0.1.3680043.8.498.5012"


@pytest.fixture
def world(session):
    world = build_dicom_world(session)
    rad = session.execute(select(Department.id).where(Department.code == "RAD")).scalar_one()
    world.radiologist = role_actor(session, "dr.rad", "radiologist", rad)
    session.commit()
    return world


@pytest.fixture
def published(monkeypatch):
    sent: list[tuple[str, str | None]] = []
    monkeypatch.setattr(
        live, "publish", lambda topic, key=None: sent.append((topic, None if key is None else str(key)))
    )
    return sent


def set_aside(session, world, **fields) -> str:
    """A file that storage sets aside; its SOP Instance UID."""
    result = store_dicom(
        session, actor=world.radiographer, data=dicom_bytes(**fields), source="t.dcm", notify=lambda *_: None
    )
    assert result.status == "unmatched", result
    return result.sop_uid


def audits(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def files(folder: str = "") -> list[str]:
    root = dicom_root() / folder
    return sorted(str(p.relative_to(dicom_root())) for p in root.rglob("*.dcm")) if root.exists() else []


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def a_mistyped_study(session, world) -> list[str]:
    """Three images of study A, two series, sent with a mistyped accession and the right MRN."""
    return [
        set_aside(session, world, patient_id=world.mrn, accession="ACC0000OOO1", study_uid=STUDY_A,
                  series_uid=SERIES_A1, number=n)
        for n in (1, 2)
    ] + [
        set_aside(session, world, source="MR_small.dcm", patient_id=world.mrn, accession="ACC0000OOO1",
                  study_uid=STUDY_A, series_uid=SERIES_A2)
    ]  # fmt: skip


def test_the_list_shows_one_row_per_study_newest_first_paged(session, world):
    a_mistyped_study(session, world)
    set_aside(session, world, patient_id="X123", study_uid=STUDY_B)  # no accession
    answer = unmatched_page(session, actor=world.radiologist, page=0, page_size=10)
    assert (answer.total, answer.images) == (2, 4)
    newest, older = answer.rows
    assert newest.study_uid == STUDY_B and older.study_uid == STUDY_A
    assert (newest.patient_key, newest.accession, newest.images, newest.reasons) == (
        "X123",
        "",
        1,
        ("no_accession",),
    )
    assert newest.reason_label == "The file has no accession number"
    assert (older.patient_key, older.accession, older.images, older.modalities) == (
        world.mrn, "ACC0000OOO1", 3, ("CT", "MR")
    )  # fmt: skip
    assert older.reasons == ("no_order",) and older.patient_keys == 1 and older.received_from == "import"
    assert older.patient_name == "CompressedSamples CT1"
    second = unmatched_page(session, actor=world.radiologist, page=1, page_size=1)
    assert [r.study_uid for r in second.rows] == [STUDY_A] and second.total == 2


def test_filing_a_study_puts_it_under_the_order_as_if_it_had_matched(session, world, published):
    order_id = an_order(session, world, "ACC00000001", status="in_progress")
    sops = a_mistyped_study(session, world)
    assert len(files("unmatched")) == 3

    target = order_for_filing(session, actor=world.radiologist, accession=" acc00000001 ")
    assert (target.order_id, target.mrn, target.procedure, target.patient_name) == (
        order_id, world.mrn, "CT head without contrast", "DIOLOGY, Rae"
    )  # fmt: skip
    [looked] = audits(session, "imaging.unmatched_order_viewed")
    assert looked.patient_id == world.patient and looked.username == "dr.rad"

    filed = file_study(session, actor=world.radiologist, study_uid=STUDY_A, accession="ACC00000001")
    assert (filed.order_id, filed.images, filed.mrn) == (order_id, 3, world.mrn)

    session.expire_all()
    study = session.execute(select(ImagingStudy)).scalar_one()
    assert (study.study_uid, study.order_id, study.patient_id, study.accession) == (
        STUDY_A, order_id, world.patient, "ACC00000001"
    )  # fmt: skip
    assert (study.series_count, study.instance_count, study.modalities) == (2, 3, "CT|MR")
    series = {s.series_uid: s.instance_count for s in session.execute(select(ImagingSeries)).scalars()}
    assert series == {SERIES_A1: 2, SERIES_A2: 1}
    instances = list(session.execute(select(ImagingInstance)).scalars())
    assert sorted(i.sop_uid for i in instances) == sorted(sops)
    assert {i.received_from for i in instances} == {"import"}
    # The files moved: nothing left under unmatched/, each instance's file where its row says.
    assert files("unmatched") == []
    assert sorted(files()) == sorted(i.path for i in instances)
    assert all(i.path.startswith(f"{STUDY_A}/") for i in instances)
    order = session.get(ImagingOrder, order_id)
    assert (order.status, order.status_changed_by) == ("images_received", "dr.rad")
    rows = list(session.execute(select(UnmatchedImage)).scalars())
    assert {(r.resolution, r.resolved_by) for r in rows} == {("filed to ACC00000001", "dr.rad")}
    assert all(r.resolved_at is not None for r in rows)
    [audit] = audits(session, "imaging.unmatched_filed")
    assert audit.patient_id == world.patient and audit.target_id == str(study.id)
    assert "3 unmatched images" in audit.detail and "ACC00000001" in audit.detail
    assert not audits(session, "imaging.image_stored")  # one row for the study, not one per image
    assert unmatched_page(session, actor=world.radiologist).total == 0
    assert ("imaging", str(order_id)) in published and ("imaging", "unmatched") in published


def test_later_images_of_a_filed_study_join_it(session, world, published):
    order_id = an_order(session, world, "ACC00000002")
    first = set_aside(session, world, patient_id="WRONG", accession="ACC00000002", study_uid=STUDY_A)
    file_study(session, actor=world.radiologist, study_uid=STUDY_A, accession="ACC00000002")
    set_aside(session, world, patient_id="WRONG", accession="ACC00000002", study_uid=STUDY_A)
    file_study(session, actor=world.radiologist, study_uid=STUDY_A, accession="ACC00000002")
    session.expire_all()
    study = session.execute(select(ImagingStudy)).scalar_one()
    assert (study.order_id, study.instance_count, study.series_count) == (order_id, 2, 2)
    assert first in {i.sop_uid for i in session.execute(select(ImagingInstance)).scalars()}
    assert session.get(ImagingOrder, order_id).status == "images_received"


@pytest.mark.parametrize(
    ("accession", "error", "message"),
    [
        ("ACC99999999", NotFound, "No imaging order has the accession number ACC99999999"),
        ("ACC00000003", Conflict, "ACC00000003 is cancelled"),
        ("", ValidationError, "Type the accession number"),
    ],
)
def test_an_unknown_or_cancelled_order_is_refused(session, world, published, accession, error, message):
    an_order(session, world, "ACC00000003", status="cancelled")
    a_mistyped_study(session, world)
    with pytest.raises(error, match=message):
        order_for_filing(session, actor=world.radiologist, accession=accession)
    with pytest.raises(error, match=message):
        file_study(session, actor=world.radiologist, study_uid=STUDY_A, accession=accession)
    assert_nothing_filed(session)
    assert published == []


def assert_nothing_filed(session, studies: int = 0) -> None:
    session.expire_all()
    assert count(session, ImagingStudy) == studies
    assert session.execute(select(func.count()).where(UnmatchedImage.resolved_at.is_not(None))).scalar() == 0
    assert len(files("unmatched")) == count(session, UnmatchedImage)
    assert not audits(session, "imaging.unmatched_filed")


def test_a_study_already_filed_to_another_patient_is_refused(session, world, published):
    an_order(session, world, "ACC00000004")
    an_order(session, world, "ACC00000005", patient=world.other)
    stored = store_dicom(
        session, actor=world.radiographer, source="t.dcm", notify=lambda *_: None,
        data=dicom_bytes(patient_id=world.mrn, accession="ACC00000004", study_uid=STUDY_A),
    )  # fmt: skip
    assert stored.status == "stored"
    # The same study UID arrives claiming the other patient: set aside, and it must stay apart.
    set_aside(session, world, patient_id=world.other_mrn, accession="ACC00000005", study_uid=STUDY_A)
    with pytest.raises(Conflict, match="already filed to another patient"):
        file_study(session, actor=world.radiologist, study_uid=STUDY_A, accession="ACC00000005")
    # The same patient's other order: the study already belongs to ACC00000004.
    an_order(session, world, "ACC00000006")
    with pytest.raises(Conflict, match="already filed to ACC00000004"):
        file_study(session, actor=world.radiologist, study_uid=STUDY_A, accession="ACC00000006")
    assert_nothing_filed(session, studies=1)
    session.expire_all()
    assert session.execute(select(ImagingStudy.instance_count)).scalar_one() == 1


def test_a_failure_while_filing_leaves_files_and_rows_as_they_were(session, world, published, monkeypatch):
    an_order(session, world, "ACC00000007")
    a_mistyped_study(session, world)
    real = filing.place_file
    placed = []

    def place_then_fail(relative, data):
        if len(placed) == 2:
            raise OSError("disk full")
        placed.append(relative)
        return real(relative, data)

    monkeypatch.setattr(filing, "place_file", place_then_fail)
    with pytest.raises(OSError):
        file_study(session, actor=world.radiologist, study_uid=STUDY_A, accession="ACC00000007")
    assert len(placed) == 2 and not any((dicom_root() / p).exists() for p in placed)
    assert_nothing_filed(session)
    assert count(session, ImagingInstance) == 0 and len(files("unmatched")) == 3
    assert session.execute(select(ImagingOrder.status)).scalar_one() == "scheduled"


def test_a_study_no_longer_open_is_not_found(session, world, published):
    an_order(session, world, "ACC00000008")
    with pytest.raises(NotFound, match="No open unmatched images"):
        file_study(session, actor=world.radiologist, study_uid=STUDY_A, accession="ACC00000008")
    with pytest.raises(ValidationError, match="Choose a study"):
        file_study(session, actor=world.radiologist, study_uid="1.2/../../etc", accession="ACC00000008")


def test_discarding_needs_a_reason_and_deletes_the_files(session, world, published):
    a_mistyped_study(session, world)
    keep = set_aside(session, world, patient_id="X1", study_uid=STUDY_B)
    for reason in ("", "  ", "no", None):
        with pytest.raises(ValidationError, match="Say why"):
            discard_study(session, actor=world.radiologist, study_uid=STUDY_A, reason=reason)
    assert len(files("unmatched")) == 4 and published == []

    assert (
        discard_study(session, actor=world.radiologist, study_uid=STUDY_A, reason="Test  phantom scan") == 3
    )
    assert files("unmatched") == [f"unmatched/{keep}.dcm"]
    session.expire_all()
    rows = list(session.execute(select(UnmatchedImage).where(UnmatchedImage.study_uid == STUDY_A)).scalars())
    assert {(r.resolution, r.resolved_by) for r in rows} == {("discarded: Test phantom scan", "dr.rad")}
    [audit] = audits(session, "imaging.unmatched_discarded")
    assert audit.target_id == STUDY_A and "Test phantom scan" in audit.detail and audit.username == "dr.rad"
    assert count(session, ImagingStudy) == 0
    assert [r.study_uid for r in unmatched_page(session, actor=world.radiologist).rows] == [STUDY_B]
    assert published == [("imaging", "unmatched")]
    with pytest.raises(NotFound):
        discard_study(session, actor=world.radiologist, study_uid=STUDY_A, reason="again")


@pytest.mark.parametrize("who", ["nurse", "physician", "radiographer"])
def test_only_holders_of_imaging_catalogue_reconcile(session, world, published, who):
    an_order(session, world, "ACC00000009")
    a_mistyped_study(session, world)
    actor = getattr(world, who)
    calls = [
        lambda: unmatched_page(session, actor=actor),
        lambda: order_for_filing(session, actor=actor, accession="ACC00000009"),
        lambda: file_study(session, actor=actor, study_uid=STUDY_A, accession="ACC00000009"),
        lambda: discard_study(session, actor=actor, study_uid=STUDY_A, reason="not ours"),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            call()
    assert_nothing_filed(session)
    assert not audits(session, "imaging.unmatched_order_viewed")


def test_an_administrator_may_reconcile(session, world, published):
    an_order(session, world, "ACC00000010")
    a_mistyped_study(session, world)
    admin = role_actor(session, "it.admin", "admin", None)
    session.commit()
    assert file_study(session, actor=admin, study_uid=STUDY_A, accession="ACC00000010").images == 3
