"""Unmatched images reconciled in a real browser (issue 15): two studies arrive through
``hms dicom import`` that no order matches (a mistyped accession; a file without one); the
radiologist opens the unmatched images from the work list, files the first study to the order whose
accession she types (after seeing that order's patient) and discards the second with a reason.

The images are pydicom's own test files with synthetic UIDs, never a real patient's."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from pydicom.uid import generate_uid
from sqlalchemy import select

from tests.e2e.conftest import Server, hms_cli, screenshot, server_db, sign_in, wait_interactive
from tests.services.dicom_world import dicom_bytes


def an_order_at_the_scanner(server: Server) -> dict:
    from hms_app.models.patients import Patient
    from hms_app.models.radiology import ImagingOrder

    with server_db(server) as session:
        row = session.execute(
            select(ImagingOrder.accession, Patient.mrn, Patient.family_name)
            .join(Patient, Patient.id == ImagingOrder.patient_id)
            .where(ImagingOrder.status.in_(("scheduled", "arrived", "in_progress")))
            .order_by(ImagingOrder.id)
            .limit(1)
        ).one()
        return {"accession": row.accession, "mrn": row.mrn, "family": row.family_name}


def import_unmatched(server: Server, tmp_path, order: dict) -> tuple[str, str]:
    mistyped, anonymous = generate_uid(), generate_uid()
    folder = tmp_path / "scanner"
    folder.mkdir()
    files = [
        dicom_bytes(patient_id=order["mrn"], accession="ACC0000XXX1", study_uid=mistyped) for _ in range(3)
    ]
    files.append(dicom_bytes("MR_small.dcm", patient_id="PHANTOM-7", study_uid=anonymous))
    for n, data in enumerate(files):
        (folder / f"{n}.dcm").write_bytes(data)
    out = hms_cli(server, "dicom", "import", str(folder))
    assert out.count('"status": "unmatched"') == 4, out
    return mistyped, anonymous


def test_the_radiologist_files_and_discards_unmatched_images(page: Page, hms_server: Server, tmp_path):
    order = an_order_at_the_scanner(hms_server)
    mistyped, anonymous = import_unmatched(hms_server, tmp_path, order)

    sign_in(page, "radiology")
    page.goto("/radiology")
    page.locator("[data-testid=unmatched-link]").click()
    page.wait_for_url("**/radiology/unmatched**")
    expect(page.locator(f"[data-testid='unmatched-{mistyped}']")).to_contain_text("3 images")
    expect(page.locator(f"[data-testid='unmatched-{anonymous}']")).to_contain_text("no accession")
    screenshot(page, "rad-unmatched-01-list")

    wait_interactive(page, f"[data-testid='file-{mistyped}']")
    page.locator(f"[data-testid='file-{mistyped}']").click()
    dialog = page.locator("[data-testid=dialog-file]")
    dialog.locator("[data-testid=file-accession]").fill(order["accession"])
    dialog.locator("[data-testid=file-find]").click()
    expect(dialog.locator("[data-testid=file-target]")).to_contain_text(order["mrn"])
    expect(dialog.locator("[data-testid=file-target]")).to_contain_text(order["family"].upper())
    screenshot(page, "rad-unmatched-02-file-dialog")
    dialog.locator("[data-testid=file-confirm]").click()
    expect(dialog).to_have_count(0)
    expect(page.locator(f"[data-testid='unmatched-{mistyped}']")).to_have_count(0)

    page.locator(f"[data-testid='discard-{anonymous}']").click()
    discard = page.locator("[data-testid=dialog-discard]")
    discard.locator("[data-testid=discard-reason]").fill("QA phantom sent by the MR scanner")
    discard.locator("[data-testid=discard-confirm]").click()
    expect(page.locator("[data-testid=unmatched-empty]")).to_be_visible()

    from hms_app.models.radiology import ImagingStudy, UnmatchedImage

    with server_db(hms_server) as session:
        filed = session.execute(select(ImagingStudy).where(ImagingStudy.study_uid == mistyped)).scalar_one()
        assert (filed.accession, filed.instance_count) == (order["accession"], 3)
        assert not session.execute(
            select(UnmatchedImage.id).where(UnmatchedImage.resolved_at.is_(None))
        ).all()
