"""A medicine from the prescriber's pen to the patient, in real browsers (issue 14's journey):

1. the demo physician opens the chart of an inpatient already on ibuprofen, prescribes warfarin by its
   brand name as a single inpatient dose, sees the computed quantity and the interrupting NSAID
   interaction, can sign only after choosing an override reason, and opens the printable prescription;
2. the pharmacist finds the order in "To verify" with the prescriber's override, verifies it after
   reviewing the override, dispenses it from the pharmacy first-expiry-first-out and opens its label;
3. the ward nurse sees the patient's late ibuprofen doses on the bed board, opens the MAR from the bed,
   scans another patient's wristband (refused: wrong patient), then the right wristband and the
   pharmacy label, and records the warfarin dose as given; the MAR shows it given.

The inpatient's ibuprofen order is signed through the services the day before (its doses since are
late), and the warfarin stock is the demo pharmacy's."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import SCREENS_DIR, Server, screenshot, server_db, sign_in, wait_interactive


def _actor(session, username: str, role: str):
    from hms_app.models.security import AppUser
    from hms_app.services.permissions import DEFAULT_GRANTS, Actor

    user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
    return Actor(
        user.id, user.username, user.display_name, roles=frozenset({role}), permissions=DEFAULT_GRANTS[role]
    )


def inpatient_on_ibuprofen(server: Server) -> dict:
    """An admitted demo patient with no medication orders, given an inpatient ibuprofen TID order that
    started 23 hours ago (signed and verified), so that its doses since are late on the MAR."""
    from hms_app.clock import utcnow
    from hms_app.models.patients import Patient
    from hms_app.models.pharmacy import FormularyProduct, MedicationOrder
    from hms_app.models.wards import Admission
    from hms_app.services.pharmacy.prescribing import OverrideRequired, prepare_order, sign_order
    from hms_app.services.pharmacy.verification import verify_order

    with server_db(server) as session:
        grey, pharmacist = _actor(session, "dr.grey", "physician"), _actor(session, "pharmacy", "pharmacist")
        with_orders = select(MedicationOrder.patient_id)
        row = session.execute(
            select(Patient.id, Patient.family_name, Patient.mrn, Admission.ward_id)
            .join(Admission, Admission.patient_id == Patient.id)
            .where(Admission.status == "active", Patient.id.not_in(with_orders))
            .order_by(Admission.id.desc())
            .limit(1)
        ).one()
        other_mrn = session.execute(select(Patient.mrn).where(Patient.id != row.id).limit(1)).scalar_one()
        ibuprofen = session.execute(
            select(FormularyProduct.id).where(FormularyProduct.code == "RX-IBU-400-TAB")
        ).scalar_one()
        start = (utcnow() - timedelta(hours=23)).isoformat(timespec="minutes")
        prepared = prepare_order(
            session,
            actor=grey,
            patient_id=row.id,
            data={
                "product_id": ibuprofen, "setting": "inpatient", "dose": "400", "dose_unit": "mg",
                "route": "oral", "frequency": "TID", "duration_days": "5", "start": start,
            },
        )  # fmt: skip
        reasons = {rule: "Reviewed" for rule in prepared.needs_override}
        try:
            sign_order(session, actor=grey, order_id=prepared.order_id, overrides=reasons)
        except OverrideRequired as error:
            reasons = {a.rule: "Reviewed" for a in error.alerts if a.interrupt}
            sign_order(session, actor=grey, order_id=prepared.order_id, overrides=reasons)
        verify_order(session, actor=pharmacist, order_id=prepared.order_id, overrides_reviewed=True)
        return {
            "id": row.id,
            "family": row.family_name,
            "mrn": row.mrn,
            "ward": row.ward_id,
            "other_mrn": other_mrn,
        }


def prescribe_warfarin(page: Page, patient: dict) -> str:
    page.goto(f"/patients/{patient['id']}")
    wait_interactive(page, "[data-testid=tab-allergies]")
    page.locator("[data-testid=tab-allergies]").click()
    card = page.locator("[data-testid=med-orders]")
    expect(card).to_contain_text("Ibuprofen 400 mg tablet")

    page.locator("[data-testid=prescribe]").click()
    dialog = page.locator("[data-testid=dialog-prescribe]")
    expect(dialog).to_be_visible()
    dialog.locator("[data-testid=rx-search]").fill("Coumadin")
    pick = dialog.locator("[data-testid='rx-pick-RX-WARF-5-TAB']")
    expect(pick).to_be_visible()
    pick.click()
    expect(dialog.locator("[data-testid=rx-product]")).to_have_text("Warfarin 5 mg tablet")
    dialog.locator("[data-testid=rx-dose]").fill("5")
    choose(page, dialog, "frequency", "once: Once only")
    choose(page, dialog, "setting", "Inpatient")
    dialog.locator("[data-testid=rx-duration_days]").fill("1")
    dialog.locator("[data-testid=rx-check]").click()

    expect(dialog.locator("[data-testid=rx-quantity]")).to_have_text("1 tablet")
    alert = dialog.locator("[data-testid=alert-interrupting]")
    expect(alert).to_contain_text("warfarin")
    expect(alert.locator("[data-testid=alert-severity]")).to_have_text("major")
    sign = dialog.locator("[data-testid=rx-sign]")
    expect(sign).to_be_disabled()
    screenshot(page, "med-01-prescribe-alert")
    alert.locator("[data-testid=override-choice]").click()
    page.get_by_role("option", name="Benefit outweighs the risk; will monitor").click()
    alert.locator("[data-testid=override-text]").fill("INR daily while on both")
    expect(sign).to_be_enabled()
    sign.click()
    expect(page.get_by_text("Signed RX-")).to_be_visible()
    expect(dialog).to_have_count(0)

    warfarin = card.locator("[data-testid^=med-order-]").filter(has_text="Warfarin 5 mg tablet")
    expect(warfarin).to_contain_text("5 mg oral once")
    expect(warfarin).to_contain_text("Active")
    reference = warfarin.get_attribute("data-testid").removeprefix("med-order-")

    with page.context.expect_page() as opened:
        warfarin.locator("[data-testid^=print-]").click()
    printed = opened.value
    expect(printed.locator("[data-testid=rx-drug]")).to_have_text("Warfarin 5 mg tablet")
    expect(printed.locator("[data-testid=rx-patient]")).to_contain_text(patient["family"].upper())
    screenshot(printed, "med-02-prescription")
    printed.close()
    return reference


def choose(page: Page, dialog, name: str, option: str) -> None:
    dialog.locator(f"[data-testid=rx-{name}]").click()
    page.get_by_role("option", name=option).click()


def verify_and_dispense(page: Page, reference: str) -> str:
    page.goto("/pharmacy")
    row = page.locator(f"[data-testid='row-{reference}']")
    expect(row).to_be_visible()
    wait_interactive(page, f"[data-testid='verify-{reference}']")
    page.locator(f"[data-testid='verify-{reference}']").click()
    dialog = page.locator("[data-testid=dialog-verify]")
    expect(dialog).to_contain_text("INR daily while on both")  # the prescriber's override reason
    confirm = dialog.locator("[data-testid=verify-confirm]")
    dialog.locator("[data-testid=overrides-reviewed]").click()
    screenshot(page, "med-03-verify-override")
    confirm.click()
    expect(page.get_by_text(f"{reference} verified")).to_be_visible()

    page.locator("[data-testid=view-dispense]").click()
    expect(row).to_be_visible()
    row.locator(f"[data-testid='dispense-{reference}']").click()
    dialog = page.locator("[data-testid=dialog-dispense]")
    expect(dialog.locator("[data-testid=dispense-lots] tbody tr").first).to_be_visible()
    dialog.locator("[data-testid=dispense-confirm]").click()
    expect(page.get_by_text("dispensed: print its label")).to_be_visible()
    page.goto(page.locator("[data-testid=last-label]").get_attribute("href"))
    label = page.locator("[data-testid=dispense-label]")
    expect(label).to_contain_text("Warfarin 5 mg tablet")
    screenshot(page, "med-04-label")
    return page.locator("[data-testid=label-reference]").inner_text().split(" ")[0]


def give_on_the_ward(page: Page, patient: dict, reference: str, label: str) -> None:
    page.goto(f"/wards?ward={patient['ward']}")
    mar_link = page.locator(f"a[data-testid=bed-mar][href='/patients/{patient['id']}/mar']")
    bed = mar_link.locator("xpath=ancestor::*[starts-with(@data-testid, 'bed-')][1]")
    expect(bed.locator("[data-testid=bed-late-doses]")).to_contain_text("late dose")
    screenshot(page, "med-05-ward-late-doses")
    mar_link.click()
    page.wait_for_url(f"**/patients/{patient['id']}/mar")
    grid = page.locator("[data-testid=mar-grid]")
    row = grid.locator(f"[data-testid=mar-row][data-order='{reference}']")
    expect(row.locator("[data-testid=dose-due]")).to_be_visible()
    wait_interactive(page, "[data-testid=open-dose]")
    version = page.locator("[data-testid=mar]").get_attribute("data-version")
    row.locator("[data-testid=open-dose]").click()
    dialog = page.locator("[data-testid=dialog-mar]")
    expect(dialog).to_contain_text("Warfarin 5 mg tablet")
    dialog.locator("[data-testid=scan-wristband]").fill(patient["other_mrn"])
    dialog.locator("[data-testid=scan-medicine]").fill(label)
    dialog.locator("[data-testid=mar-record]").click()
    expect(dialog.locator("[data-testid=error-wristband]")).to_contain_text("Wrong patient")
    screenshot(page, "med-06-wrong-wristband")
    dialog.locator("[data-testid=scan-wristband]").fill(patient["mrn"])
    dialog.locator("[data-testid=mar-record]").click()
    expect(page.get_by_text("recorded as given")).to_be_visible()
    expect(dialog).to_have_count(0)
    expect(page.locator("[data-testid=mar]")).not_to_have_attribute("data-version", version)
    expect(row.locator("[data-testid=dose-given]")).to_be_visible()
    expect(page.locator("[data-testid=mar-entry]").first).to_contain_text("Warfarin 5 mg tablet")
    screenshot(page, "med-07-mar-given")


def test_warfarin_from_prescribing_past_the_alert_to_the_patient(browser: Browser, hms_server: Server):
    patient = inpatient_on_ibuprofen(hms_server)
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    viewport = {"width": 1366, "height": 900}

    physician = browser.new_context(base_url=hms_server.url, viewport=viewport)
    page = physician.new_page()
    sign_in(page, "dr.grey")
    reference = prescribe_warfarin(page, patient)
    physician.close()

    pharmacy = browser.new_context(base_url=hms_server.url, viewport=viewport)
    page = pharmacy.new_page()
    sign_in(page, "pharmacy")
    label = verify_and_dispense(page, reference)
    pharmacy.close()
    assert label.startswith("DSP-")

    ward = browser.new_context(base_url=hms_server.url, viewport=viewport)
    page = ward.new_page()
    sign_in(page, "nurse.joy")
    give_on_the_ward(page, patient, reference, label)
    ward.close()

    from hms_app.models.pharmacy import MedicationAdministration, MedicationOrder

    with server_db(hms_server) as session:
        given = session.execute(
            select(MedicationAdministration)
            .join(MedicationOrder, MedicationOrder.id == MedicationAdministration.order_id)
            .where(MedicationOrder.reference == reference)
        ).scalar_one()
        assert (given.outcome, given.wristband_code, given.medicine_code) == ("given", patient["mrn"], label)
        assert given.recorded_by == "nurse.joy"
