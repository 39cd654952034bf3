"""The pharmacy in a real browser: the demo physician's signed paracetamol order waits in the
pharmacist's "To verify" list; the pharmacist reviews and verifies it, finds it in "To dispense",
sees the lot it will take before confirming, dispenses part of it (the rest shown as owed) and
opens the printable label.

The order is prescribed and signed through the services (the chart's prescribing dialog is another
screen's journey)."""

from __future__ import annotations

import random
from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import SCREENS_DIR, Server, server_db, sign_in, wait_interactive


def _physician(session):
    from hms_app.models.security import AppUser
    from hms_app.services.permissions import DEFAULT_GRANTS, Actor

    user = session.execute(select(AppUser).where(AppUser.username == "dr.grey")).scalar_one()
    return Actor(
        user.id,
        user.username,
        user.display_name,
        roles=frozenset({"physician"}),
        permissions=DEFAULT_GRANTS["physician"],
    )


def signed_paracetamol(server: Server) -> str:
    """A signed paracetamol 1 g QID for 5 days (40 tablets), with stock in the pharmacy: its reference."""
    from hms_app.clock import local_today
    from hms_app.models.inventory import StockItem, StockLocation
    from hms_app.models.patients import Patient
    from hms_app.models.pharmacy import FormularyProduct
    from hms_app.services.inventory.ledger import receive_stock
    from hms_app.services.permissions import SYSTEM_ACTOR
    from hms_app.services.pharmacy.prescribing import OverrideRequired, prepare_order, sign_order

    with server_db(server) as session:
        product = session.execute(
            select(FormularyProduct).where(FormularyProduct.code == "RX-APAP-500-TAB")
        ).scalar_one()
        item = session.execute(select(StockItem.id).where(StockItem.code == "MED-PCM-500")).scalar_one()
        store = session.execute(select(StockLocation.id).where(StockLocation.code == "PH")).scalar_one()
        receive_stock(
            session,
            actor=SYSTEM_ACTOR,
            item_id=item,
            location_id=store,
            quantity=200,
            lot_number=f"E2E-{random.randint(1000, 9999)}",
            expiry_date=local_today() + timedelta(days=700),
        )
        patients = (
            session.execute(
                select(Patient.id)
                .where(
                    Patient.active.is_(True), Patient.birth_date < local_today() - timedelta(days=365 * 30)
                )
                .order_by(Patient.id)
                .limit(150)
            )
            .scalars()
            .all()
        )
        physician = _physician(session)
        data = {
            "product_id": product.id,
            "setting": "outpatient",
            "dose": "1",
            "dose_unit": "g",
            "route": "oral",
            "frequency": "QID",
            "duration_days": "5",
        }
        prepared = prepare_order(
            session, actor=physician, patient_id=random.choice(patients[len(patients) // 2 :]), data=data
        )
        reasons = {rule: "Reviewed with the patient" for rule in prepared.needs_override}
        try:
            sign_order(session, actor=physician, order_id=prepared.order_id, overrides=reasons)
        except OverrideRequired as error:  # an alert first seen at signing
            reasons = {a.rule: "Reviewed with the patient" for a in error.alerts if a.interrupt}
            sign_order(session, actor=physician, order_id=prepared.order_id, overrides=reasons)
        return prepared.reference


def shot(page: Page, name: str) -> None:
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), full_page=True, animations="disabled")


def test_a_pharmacist_verifies_and_dispenses_a_signed_order(page: Page, hms_server: Server):
    reference = signed_paracetamol(hms_server)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, "pharmacy")
    page.goto("/pharmacy")
    expect(page.locator("[data-testid=pharmacy-queue]")).to_be_visible()
    row = page.locator(f"[data-testid='row-{reference}']")
    expect(row).to_be_visible()
    shot(page, "pharmacy-01-to-verify")

    wait_interactive(page, f"[data-testid='verify-{reference}']")
    page.locator(f"[data-testid='verify-{reference}']").click()
    dialog = page.locator("[data-testid=dialog-verify]")
    expect(dialog).to_contain_text("1 g oral QID for 5 days")
    expect(dialog).to_contain_text("40 tablet")
    reviewed = dialog.locator("[data-testid=overrides-reviewed]")
    if reviewed.count():
        reviewed.click()
    shot(page, "pharmacy-02-verify-dialog")
    dialog.locator("[data-testid=verify-confirm]").click()
    expect(page.get_by_text(f"{reference} verified")).to_be_visible()
    expect(row).to_have_count(0)

    page.locator("[data-testid=view-dispense]").click()
    expect(row).to_be_visible()
    row.locator(f"[data-testid='dispense-{reference}']").click()
    dialog = page.locator("[data-testid=dialog-dispense]")
    expect(dialog.locator("[data-testid=dispense-lots] tbody tr").first).to_be_visible()
    quantity = dialog.locator("[data-testid=dispense-quantity]")
    quantity.fill("15")
    quantity.blur()
    expect(dialog).to_contain_text("of 40 owed")
    shot(page, "pharmacy-03-dispense-lots")
    dialog.locator("[data-testid=dispense-confirm]").click()
    expect(page.get_by_text("dispensed: print its label")).to_be_visible()
    expect(row).to_contain_text("25 still owed")
    shot(page, "pharmacy-04-partly-dispensed")

    href = page.locator("[data-testid=last-label]").get_attribute("href")
    page.goto(href)
    label = page.locator("[data-testid=dispense-label]")
    expect(label).to_contain_text("Paracetamol (acetaminophen) 500 mg tablet")
    expect(label).to_contain_text("Qty 15 tablet")
    expect(label).to_contain_text(reference)
    expect(label).to_contain_text("Lot ")
    shot(page, "pharmacy-05-label")
