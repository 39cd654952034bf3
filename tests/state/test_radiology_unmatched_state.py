"""The unmatched images' screen driven as browser tabs would: a radiologist sees one row per study,
finds the order by its accession (its patient shown before confirming), files one study and discards
another with a reason. Attackers: roles without ``imaging.catalogue`` calling the handlers by name,
and study UIDs the tab does not show (forged, another study's, one already filed elsewhere)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.radiology import ImagingInstance, ImagingStudy, UnmatchedImage
from hms_app.models.security import AuditEvent
from hms_app.services import accounts
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.radiology.storage import store_dicom
from hms_app.state.radiology.unmatched import GONE, RadiologyUnmatchedState
from tests.services.dicom_world import an_order, build_dicom_world, dicom_bytes
from tests.state.lab_desk_world import quiet  # noqa: F401  (autouse: quick hashes, no notices)
from tests.state.test_patients_state import PASSWORD, _call, _tab, _toasts

STAFF = [("rad", "radiologist"), ("rafa", "radiographer"), ("nina", "nurse"), ("doc", "physician")]
STUDY_A = "1.2.826.0.1.3680043.8.498.601"
STUDY_B = "1.2.826.0.1.3680043.8.498.602"
ROUTE = "/radiology/unmatched"


@pytest.fixture
def world(session):
    world = build_dicom_world(session)
    accounts.ensure_roles(session)
    for username, role in STAFF:
        accounts.create_user(
            session, actor=SYSTEM_ACTOR, username=username, display_name=username.title(), password=PASSWORD,
            roles=[role],
        )  # fmt: skip
    an_order(session, world, "ACC00000001", status="in_progress")
    an_order(session, world, "ACC00000002", status="cancelled")
    for study, patient_id, accession in ((STUDY_A, world.mrn, "ACC0000OOO1"), (STUDY_B, "PHANTOM", "")):
        for _ in range(2):
            kept = store_dicom(
                session, actor=world.radiographer, source="t.dcm", notify=lambda *_: None,
                data=dicom_bytes(patient_id=patient_id, accession=accession, study_uid=study),
            )  # fmt: skip
            assert kept.status == "unmatched"
    session.commit()
    return world


def _open() -> dict[str, int]:
    with hms_db.session_scope() as s:
        rows = s.execute(
            select(UnmatchedImage.study_uid, func.count())
            .where(UnmatchedImage.resolved_at.is_(None))
            .group_by(UnmatchedImage.study_uid)
        ).all()
        return dict(rows)


def _filed() -> int:
    with hms_db.session_scope() as s:
        return s.execute(select(func.count()).select_from(ImagingInstance)).scalar_one()


async def _board(username: str) -> RadiologyUnmatchedState:
    board = _tab(RadiologyUnmatchedState, ROUTE, username)
    await _call(board, "load")
    return board


async def test_a_radiologist_files_one_study_and_discards_another(session, world):
    board = await _board("rad")
    assert board.loaded and (board.total, board.images) == (2, 4)
    assert {r.study_uid for r in board.rows} == {STUDY_A, STUDY_B}
    shown = {r.study_uid: r for r in board.rows}
    assert shown[STUDY_A].patient_key == world.mrn and shown[STUDY_A].images == 2
    assert shown[STUDY_B].reason == "no_accession" and shown[STUDY_B].accession == ""

    await _call(board, "open_file", STUDY_A)
    assert board.file_open and board.filing.study_uid == STUDY_A and board.target.accession == ""
    await _call(board, "confirm_file")  # nothing found yet: nothing to confirm
    assert _filed() == 0
    await _call(board, "find_order", {"accession": "ACC00000002"})
    assert "cancelled" in board.file_errors["accession"] and board.target.accession == ""
    await _call(board, "find_order", {"accession": "ACC99999999"})
    assert "No imaging order" in board.file_errors["accession"]
    await _call(board, "find_order", {"accession": "acc00000001"})
    assert board.file_errors == {} and board.target.accession == "ACC00000001"
    assert (board.target.mrn, board.target.patient_name) == (world.mrn, "DIOLOGY, Rae")
    assert board.target.procedure == "CT head without contrast" and board.target.status_label == "In progress"
    events = await _call(board, "confirm_file")
    assert any("2 images filed to ACC00000001" in t for t in _toasts(events))
    assert not board.file_open and [r.study_uid for r in board.rows] == [STUDY_B]
    assert _filed() == 2 and _open() == {STUDY_B: 2}

    await _call(board, "open_discard", STUDY_B)
    assert board.discard_open and board.discarding.study_uid == STUDY_B
    await _call(board, "submit_discard", {"reason": " "})
    assert "Say why" in board.discard_errors["reason"] and _open() == {STUDY_B: 2}
    events = await _call(board, "submit_discard", {"reason": "QA phantom"})
    assert any("2 images" in t and "discarded" in t for t in _toasts(events))
    assert not board.discard_open and board.rows == [] and board.total == 0 and _open() == {}


@pytest.mark.parametrize("username", ["rafa", "nina", "doc"])
async def test_roles_without_the_permission_are_refused_by_name(session, world, username):
    board = _tab(RadiologyUnmatchedState, ROUTE, username)
    for name, args in (
        ("load", ()),
        ("refresh", ()),
        ("move", (1,)),
        ("open_file", (STUDY_A,)),
        ("find_order", ({"accession": "ACC00000001"},)),
        ("confirm_file", ()),
        ("open_discard", (STUDY_B,)),
        ("submit_discard", ({"reason": "not ours"},)),
    ):
        events = await _call(board, name, *args)
        assert any("does not allow" in t for t in _toasts(events)), name
    assert board.rows == [] and not board.loaded and not board.file_open and not board.discard_open
    assert board.target.accession == ""  # the order's patient was never looked up
    assert _open() == {STUDY_A: 2, STUDY_B: 2} and _filed() == 0
    with hms_db.session_scope() as s:
        denied = s.execute(
            select(func.count()).where(AuditEvent.action == "access.denied", AuditEvent.username == username)
        ).scalar_one()
        looked = s.execute(
            select(func.count()).where(AuditEvent.action == "imaging.unmatched_order_viewed")
        ).scalar_one()
    assert denied == 8 and looked == 0


async def test_study_uids_the_tab_does_not_show_are_refused(session, world):
    board = await _board("rad")
    for forged in ("1.2.3", STUDY_A + ".1", 42, None, ["x"], {"study": STUDY_A}, "' OR 1=1 --"):
        for name in ("open_file", "open_discard"):
            events = await _call(board, name, forged)
            assert GONE in " ".join(_toasts(events)), (name, forged)
    assert not board.file_open and not board.discard_open
    # Dialog handlers do nothing without a study opened from the list.
    await _call(board, "find_order", {"accession": "ACC00000001"})
    await _call(board, "submit_discard", {"reason": "forged"})
    assert board.target.accession == "" and _open() == {STUDY_A: 2, STUDY_B: 2}

    # Another tab discards study A while this one has it open: filing it is refused, nothing moves.
    await _call(board, "open_file", STUDY_A)
    await _call(board, "find_order", {"accession": "ACC00000001"})
    other = await _board("rad")
    await _call(other, "open_discard", STUDY_A)
    await _call(other, "submit_discard", {"reason": "sent twice"})
    await _call(board, "confirm_file")
    assert "No open unmatched images" in board.file_error and board.file_open
    assert [r.study_uid for r in board.rows] == [STUDY_B]  # the list was reloaded
    assert _filed() == 0
    with hms_db.session_scope() as s:
        assert s.execute(select(func.count()).select_from(ImagingStudy)).scalar_one() == 0
    # The study is gone from the list: this tab can no longer open it.
    events = await _call(board, "open_discard", STUDY_A)
    assert GONE in " ".join(_toasts(events))
