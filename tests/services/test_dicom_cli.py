"""`hms dicom import` as an operator runs it: files and folders in, one JSON object per file out,
exit status 1 when any file was refused; run again, the same files are duplicates."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from hms_app import cli
from hms_app.models.radiology import ImagingInstance, UnmatchedImage
from hms_app.models.security import AuditEvent
from tests.services.dicom_world import an_order, build_dicom_world, dicom_bytes

FIELDS = {
    "path",
    "status",
    "modality",
    "sop_class",
    "rows",
    "columns",
    "frames",
    "patient_id",
    "study_date",
    "preview",
}


@pytest.fixture
def world(session):
    return build_dicom_world(session)


def hms_dicom_import(capsys, *paths) -> tuple[int, list[dict]]:
    code = cli.main(["dicom", "import", *map(str, paths)])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def test_import_prints_a_json_line_per_file_and_fails_when_one_is_refused(session, world, tmp_path, capsys):
    an_order(session, world, "ACC00000030")
    folder = tmp_path / "cd"
    (folder / "series1").mkdir(parents=True)
    (folder / "series1" / "IM0001").write_bytes(dicom_bytes(patient_id=world.mrn, accession="ACC00000030"))
    (folder / "series1" / "IM0002").write_bytes(
        dicom_bytes("MR_small.dcm", patient_id=world.mrn, accession="ACC00000030")
    )
    (folder / "DICOMDIR").write_bytes(b"an index, skipped in a folder")
    (folder / "README.TXT").write_text("Viewer on this disc\n")
    stray = tmp_path / "stray.dcm"
    stray.write_bytes(dicom_bytes("JPEG2000.dcm", patient_id="X-1", accession=""))
    truncated = tmp_path / "cut.dcm"
    truncated.write_bytes(dicom_bytes(patient_id=world.mrn, accession="ACC00000030")[:20_000])

    code, lines = hms_dicom_import(capsys, folder, stray, truncated, tmp_path / "missing.dcm")

    assert code == 1
    assert [(line["path"].removeprefix(str(tmp_path) + "/"), line["status"]) for line in lines] == [
        ("cd/README.TXT", "refused"),
        ("cd/series1/IM0001", "stored"),
        ("cd/series1/IM0002", "stored"),
        ("stray.dcm", "unmatched"),
        ("cut.dcm", "refused"),
        ("missing.dcm", "refused"),
    ]
    for line in lines:
        assert set(line) >= FIELDS
        assert ("reason" in line) == (line["status"] in ("refused", "unmatched"))
    ct, mr, jpeg = lines[1], lines[2], lines[3]
    assert (ct["modality"], ct["sop_class"], ct["rows"], ct["columns"], ct["frames"]) == (
        "CT", "CT Image Storage", 128, 128, 1
    )  # fmt: skip
    assert (ct["patient_id"], ct["study_date"], ct["preview"]) == (world.mrn, "20040119", True)
    assert (mr["modality"], mr["rows"]) == ("MR", 64)
    assert (jpeg["reason"], jpeg["modality"], jpeg["preview"]) == ("no_accession", "NM", True)
    assert lines[0]["reason"].startswith("not a DICOM file")
    assert lines[4]["reason"].startswith("truncated") and lines[4]["modality"] is None
    assert lines[5]["reason"].startswith("cannot read")
    session.expire_all()
    assert session.execute(select(func.count()).select_from(ImagingInstance)).scalar_one() == 2
    assert session.execute(select(func.count()).select_from(UnmatchedImage)).scalar_one() == 1
    audited = session.execute(
        select(AuditEvent.username).where(AuditEvent.action.like("imaging.image_%"))
    ).scalars()
    assert sorted(audited) == ["system", "system", "system"]
    session.rollback()  # the test's read ends: on SQLite it holds the write lock

    code, again = hms_dicom_import(capsys, folder / "series1", stray)
    assert code == 0 and [line["status"] for line in again] == ["duplicate", "duplicate", "duplicate"]
