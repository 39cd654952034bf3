"""Prescribing from the chart in a real browser (issue 14's prescriber half): the demo physician opens
a patient's chart whose medicines include ibuprofen (signed through the services first), prescribes
warfarin by its brand name, sees the computed quantity and the interrupting interaction alert, can
sign only after choosing an override reason, finds the order on the chart's medication orders and
medication list, and opens the printable prescription."""

from __future__ import annotations

from playwright.sync_api import Browser, expect
from sqlalchemy import select

from tests.e2e.conftest import SCREENS_DIR, Server, screenshot, server_db, sign_in, wait_interactive


def patient_on_ibuprofen(server: Server) -> tuple[int, str]:
    """An active demo patient with no active warfarin, given an ibuprofen order signed by dr.grey."""
    from hms_app.models.patients import Patient
    from hms_app.models.pharmacy import FormularyProduct, MedicationOrder
    from hms_app.models.security import AppUser
    from hms_app.services.permissions import DEFAULT_GRANTS, Actor
    from hms_app.services.pharmacy.prescribing import prepare_order, sign_order

    with server_db(server) as session:
        user = session.execute(select(AppUser).where(AppUser.username == "dr.grey")).scalar_one()
        grey = Actor(
            user.id, user.username, user.display_name,
            roles=frozenset({"physician"}), permissions=DEFAULT_GRANTS["physician"],
        )  # fmt: skip
        with_orders = select(MedicationOrder.patient_id).where(
            MedicationOrder.status.in_(("active", "draft"))
        )
        row = session.execute(
            select(Patient.id, Patient.family_name)
            .where(Patient.active.is_(True), Patient.deceased_at.is_(None), Patient.id.not_in(with_orders))
            .order_by(Patient.id.desc())
            .limit(1)
        ).one()
        ibuprofen = session.execute(
            select(FormularyProduct.id).where(FormularyProduct.code == "RX-IBU-400-TAB")
        ).scalar_one()
        prepared = prepare_order(
            session,
            actor=grey,
            patient_id=row.id,
            data={
                "product_id": ibuprofen, "setting": "outpatient", "dose": "400", "dose_unit": "mg",
                "route": "oral", "frequency": "TID", "duration_days": "10",
            },
        )  # fmt: skip
        sign_order(session, actor=grey, order_id=prepared.order_id)
        return row.id, row.family_name


def test_prescribe_warfarin_past_the_nsaid_alert_and_print_it(browser: Browser, hms_server: Server):
    patient_id, family = patient_on_ibuprofen(hms_server)
    context = browser.new_context(base_url=hms_server.url, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, "dr.grey")
    page.goto(f"/patients/{patient_id}")
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
    dialog.locator("[data-testid=rx-duration_days]").fill("28")
    dialog.locator("[data-testid=rx-check]").click()

    expect(dialog.locator("[data-testid=rx-quantity]")).to_have_text("28 tablets")
    alert = dialog.locator("[data-testid=alert-interrupting]")
    expect(alert).to_contain_text("warfarin")
    expect(alert.locator("[data-testid=alert-severity]")).to_have_text("major")
    sign = dialog.locator("[data-testid=rx-sign]")
    expect(sign).to_be_disabled()
    screenshot(page, "rx-01-prescribe-alert")
    alert.locator("[data-testid=override-choice]").click()
    page.get_by_role("option", name="Benefit outweighs the risk; will monitor").click()
    alert.locator("[data-testid=override-text]").fill("INR twice weekly")
    expect(sign).to_be_enabled()
    sign.click()
    expect(page.get_by_text("Signed RX-")).to_be_visible()
    expect(dialog).to_have_count(0)

    warfarin = card.locator("[data-testid^=med-order-]").filter(has_text="Warfarin 5 mg tablet")
    expect(warfarin).to_contain_text("5 mg oral QD for 28 days")
    expect(warfarin).to_contain_text("Active")
    expect(page.locator("table").filter(has_text="Dosage").first).to_contain_text("Warfarin 5 mg tablet")
    screenshot(page, "rx-02-signed-list")

    with context.expect_page() as opened:
        warfarin.locator("[data-testid^=print-]").click()
    printed = opened.value
    expect(printed.locator("[data-testid=rx-drug]")).to_have_text("Warfarin 5 mg tablet")
    expect(printed.locator("[data-testid=rx-quantity]")).to_have_text("twenty-eight tablets (28)")
    expect(printed.locator("[data-testid=rx-patient]")).to_contain_text(family.upper())
    expect(printed.locator("[data-testid=rx-reference]")).to_contain_text("RX-")
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    screenshot(printed, "rx-03-prescription")
    context.close()
