"""An imaging examination from the order to the signed report, in real browsers (issue 15's journey):

1. the demo physician orders a CT head from the chart's Imaging tab and books it on a CT scanner's
   free time;
2. the radiographer marks the patient arrived and starts the exam on the live modality work list;
3. the "scanner" sends the images over DICOM (C-STORE, pynetdicom as the modality) to the app's
   own DICOM listener (``HMS_DICOM_PORT``), and the radiographer's work list turns to "Images received" without a reload;
4. the radiologist opens the report, opens the images in the viewer and changes the window to the
   brain preset, then signs the report final;
5. the physician sees the final report's impression on the chart.

The images are synthetic (generated slices), never a real patient's."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from sqlalchemy import select

from tests.e2e.conftest import Server, screenshot, server_db, sign_in, wait_interactive
from tests.services.radiology_images import ct_slice

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
SLICES = 6


def a_man_without_imaging(server: Server) -> dict:
    from hms_app.clock import local_today
    from hms_app.models.patients import Patient
    from hms_app.models.radiology import ImagingOrder

    with server_db(server) as session:
        row = session.execute(
            select(Patient.id, Patient.family_name, Patient.mrn)
            .where(
                Patient.active.is_(True),
                Patient.deceased_at.is_(None),
                Patient.sex == "male",
                Patient.birth_date < local_today().replace(year=local_today().year - 30),
                Patient.id.not_in(select(ImagingOrder.patient_id)),
            )
            .order_by(Patient.id.desc())
            .limit(1)
        ).one()
        return {"id": row.id, "family": row.family_name, "mrn": row.mrn}


def order_ct_head(page: Page, patient: dict) -> str:
    page.goto(f"/patients/{patient['id']}")
    wait_interactive(page, "[data-testid=tab-imaging]")
    page.locator("[data-testid=tab-imaging]").click()
    page.locator("[data-testid=order-imaging]").click()
    dialog = page.locator("[data-testid=dialog-imaging-order]")
    dialog.locator("[data-testid=imaging-order-search]").fill("CT head")
    # The list answers the search before a row is chosen (rows move as it is re-drawn).
    expect(
        dialog.locator("[data-testid=imaging-hits] > *").filter(has_not_text=re.compile("head", re.I))
    ).to_have_count(0)
    dialog.locator("[data-testid=choose-IMG-CT-HEAD]").click()
    dialog.locator("[data-testid=imaging-question]").fill("Fall with head strike on aspirin: bleed?")
    screenshot(page, "rad-01-order-dialog")
    dialog.locator("[data-testid=place-imaging-order]").click()
    slots = dialog.locator("[data-testid=slot]")
    expect(slots.first).to_be_visible()
    slots.first.click()
    expect(dialog).to_have_count(0)
    line = page.locator("[data-testid^=imaging-ACC]").filter(has_text="CT head without contrast").first
    expect(line).to_contain_text("Scheduled")
    accession = line.get_attribute("data-testid").removeprefix("imaging-")
    screenshot(page, "rad-02-chart-booked")
    return accession


def send_images(port: int, patient: dict, accession: str) -> None:
    """The CT scanner: a series of synthetic slices sent over one C-STORE association."""
    from pynetdicom import AE

    study, series = generate_uid(), generate_uid()
    ae = AE(ae_title="CT_SCANNER")
    ae.add_requested_context(CT_IMAGE, ExplicitVRLittleEndian)
    association = ae.associate("127.0.0.1", port, ae_title="HMS")
    assert association.is_established
    try:
        for index in range(SLICES):
            image = ct_slice(index, SLICES, 256)
            image.PatientID, image.PatientName = patient["mrn"], patient["family"].upper()
            image.AccessionNumber, image.StudyInstanceUID, image.SeriesInstanceUID = accession, study, series
            image.SOPInstanceUID, image.InstanceNumber, image.BodyPartExamined = (
                generate_uid(),
                index + 1,
                "HEAD",
            )
            image.SeriesDescription = "Head axial"
            status = association.send_c_store(image)
            assert status.Status == 0x0000, f"C-STORE answered {status.Status:#06x}"
    finally:
        association.release()


def test_a_ct_head_from_order_to_signed_report(browser: Browser, hms_server: Server):
    patient = a_man_without_imaging(hms_server)
    viewport = {"width": 1366, "height": 900}

    physician = browser.new_context(base_url=hms_server.url, viewport=viewport)
    doctor = physician.new_page()
    sign_in(doctor, "dr.grey")
    accession = order_ct_head(doctor, patient)

    radiographer = browser.new_context(base_url=hms_server.url, viewport=viewport)
    work = radiographer.new_page()
    sign_in(work, "radiographer")
    work.goto("/radiology")
    row = work.locator(f"[data-testid=work-{accession}]")
    expect(row).to_be_visible()
    wait_interactive(work, f"[data-testid=arrive-{accession}]")
    row.locator(f"[data-testid=arrive-{accession}]").click()
    expect(row.locator(f"[data-testid=status-{accession}]")).to_contain_text("Arrived")
    row.locator(f"[data-testid=start-{accession}]").click()
    expect(row.locator(f"[data-testid=status-{accession}]")).to_contain_text("In progress")
    screenshot(work, "rad-03-worklist-in-progress")

    send_images(hms_server.dicom_port, patient, accession)
    # The radiographer's list changes by itself: no reload.
    expect(row.locator(f"[data-testid=status-{accession}]")).to_contain_text("Images received")
    screenshot(work, "rad-04-worklist-images-received")
    radiographer.close()

    from hms_app.models.radiology import ImagingOrder

    with server_db(hms_server) as session:
        order_id = session.execute(
            select(ImagingOrder.id).where(ImagingOrder.accession == accession)
        ).scalar_one()

    reading = browser.new_context(base_url=hms_server.url, viewport=viewport)
    radiologist = reading.new_page()
    sign_in(radiologist, "radiology")
    radiologist.goto(f"/radiology/orders/{order_id}/report")
    expect(radiologist.locator("[data-testid=report-patient]")).to_be_visible()
    radiologist.locator("[data-testid=open-images]").click()
    viewer = radiologist.locator("[data-testid=dicom-viewport]")
    expect(viewer).to_have_attribute("data-state", "ready", timeout=60_000)
    expect(viewer).to_have_attribute("data-images", str(SLICES))
    before = viewer.get_attribute("data-window")
    radiologist.locator("[data-testid=preset-brain]").click()
    expect(viewer).to_have_attribute("data-window", "80/40")
    assert before != "80/40"
    screenshot(radiologist, "rad-05-viewer-brain-window")

    radiologist.goto(f"/radiology/orders/{order_id}/report")
    findings = radiologist.locator("[data-testid=report-findings]")
    expect(findings).to_be_visible()
    wait_interactive(radiologist, "[data-testid=report-final]")
    findings.fill("No intracranial haemorrhage. Ventricles normal. No fracture.")
    radiologist.locator("[data-testid=report-impression]").fill("No acute intracranial abnormality.")
    radiologist.locator("[data-testid=report-final]").click()
    expect(radiologist.locator("[data-testid=report-status]")).to_have_text("Final")
    expect(radiologist.locator("[data-testid=report-impression-text]")).to_have_text(
        "No acute intracranial abnormality."
    )
    screenshot(radiologist, "rad-06-report-final")
    reading.close()

    doctor.reload()
    wait_interactive(doctor, "[data-testid=tab-imaging]")
    doctor.locator("[data-testid=tab-imaging]").click()
    impression = doctor.locator(f"[data-testid=impression-{accession}]")
    expect(impression).to_contain_text("No acute intracranial abnormality.")
    expect(impression).to_contain_text("Final report")
    screenshot(doctor, "rad-07-chart-final-report")
    physician.close()
