"""The stock journey in real browsers: a storekeeper receives a delivery by typing a GS1 scan into
the scan box (as a keyboard-wedge scanner does), a nurse issues a chargeable dressing to a patient on
her ward, the billing clerk sees the charge on the patient's account, and the low-stock board open
in a second browser changes by itself (its data-version moves) and shows the item low.

The demo hospital has wards and patients but no stores yet: the test opens a central and a ward
store for General Medicine, one chargeable item with a GTIN and its levels, and a storekeeper's
account, through the services (the catalogue screens are checked in tests/state).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hms_app.clock import local_today
from tests.e2e.conftest import DEMO_PASSWORD, SCREENS_DIR, Server, server_db, sign_in, wait_interactive

LIVE_TIMEOUT_MS = 5_000
GS = "\x1d"
STOREKEEPER = "stores.e2e"


def gtin_with_check_digit(body: str) -> str:
    """A GTIN-14 from its 13 first digits: the GS1 mod-10 check digit appended."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Stores:
    central: int
    ward_store: int
    item_id: int
    code: str
    gtin: str
    patient_id: int
    patient_name: str
    mrn: str


def open_stores(server: Server) -> Stores:
    """Stores, an item and its levels, a storekeeper, and an inpatient of General Medicine."""
    from hms_app.models.billing import ChargeItemDefinition
    from hms_app.models.organization import Department
    from hms_app.models.patients import Patient
    from hms_app.models.security import AppUser
    from hms_app.models.wards import Admission, Ward
    from hms_app.services import accounts
    from hms_app.services.inventory.catalogue import save_item, save_level, save_store
    from hms_app.services.permissions import SYSTEM_ACTOR

    tag = f"{random.randint(100, 999)}"
    gtin = gtin_with_check_digit(f"0950610{random.randint(100000, 999999)}")
    with server_db(server) as session:
        department = session.execute(select(Department).where(Department.code == "GEN")).scalar_one()
        ward = session.execute(select(Ward).where(Ward.department_id == department.id).limit(1)).scalar_one()
        if session.execute(select(AppUser.id).where(AppUser.username == STOREKEEPER)).first() is None:
            accounts.create_user(
                session,
                actor=SYSTEM_ACTOR,
                username=STOREKEEPER,
                display_name="Sam Storekeeper",
                password=DEMO_PASSWORD,
                roles=["storekeeper"],
            )
            session.commit()
        session.add(
            ChargeItemDefinition(
                code=f"E2E-DRS{tag}", name="Wound dressing", category="procedure", price_cents=275
            )
        )
        session.commit()
        central = save_store(
            session,
            actor=SYSTEM_ACTOR,
            data={"code": f"E2E-CS{tag}", "name": f"Central store {tag}", "kind": "central"},
        )
        ward_store = save_store(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "code": f"E2E-W{tag}",
                "name": f"{ward.name} store {tag}",
                "kind": "ward",
                "ward_id": str(ward.id),
            },
        )
        item = save_item(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "code": f"DRS-{tag}",
                "name": f"Wound dressing 10 cm ({tag})",
                "category": "supply",
                "base_unit": "each",
                "gtin": gtin,
                "chargeable": "on",
                "charge_code": f"E2E-DRS{tag}",
                "track_lots": "on",
            },
        )
        save_level(
            session,
            actor=SYSTEM_ACTOR,
            item_id=item.id,
            location_id=ward_store.id,
            data={"min_quantity": "2", "reorder_point": "5", "max_quantity": "20", "bin": "B-07"},
        )
        patient = session.execute(
            select(Patient)
            .join(Admission, Admission.patient_id == Patient.id)
            .where(Admission.status == "active", Admission.ward_id == ward.id)
            .order_by(Patient.id)
            .limit(1)
        ).scalar_one()
        return Stores(
            central.id,
            ward_store.id,
            item.id,
            item.code,
            gtin,
            patient.id,
            f"{patient.given_name} {patient.family_name}",
            patient.mrn,
        )


def shot(page: Page, name: str) -> None:
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), full_page=True, animations="disabled")


def _browser(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(base_url=base, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, username)
    return page


def test_receive_by_scanning_issue_to_a_patient_charge_and_the_live_low_stock_board(
    browser: Browser, hms_server: Server
):
    stores = open_stores(hms_server)
    expiry = local_today() + timedelta(days=400)

    # ------------------------------------------------------------ the board, in a second browser
    board = _browser(browser, hms_server.url, "manager")
    board.goto(f"/inventory/board?store={stores.ward_store}")
    tile = board.locator(f"[data-testid='low-{stores.code}']")
    expect(tile).to_be_visible()  # nothing received yet: out of stock
    expect(tile).to_have_attribute("data-flag", "out")
    board.evaluate("window.__noReload = 'still the same page'")
    version = int(board.locator("[data-testid=stock-board]").get_attribute("data-version"))

    # ------------------------------------------------------------ the storekeeper scans a delivery
    keeper = _browser(browser, hms_server.url, STOREKEEPER)
    keeper.goto(f"/inventory/receive?store={stores.ward_store}")
    scan = keeper.locator("[data-testid=scan-box]")
    expect(scan).to_be_visible()
    wait_interactive(keeper, "[data-testid=scan-box]")
    expect(scan).to_be_focused()
    # What a scanner types for the DataMatrix on the box: ]d2, GTIN, expiry, lot, GS, serial, Enter.
    scan.fill(f"]d201{stores.gtin}17{expiry:%y%m%d}10LOT-E2E{GS}21SN0001")
    scan.press("Enter")
    expect(keeper.locator("[data-testid=line-item]")).to_contain_text(stores.code)
    expect(keeper.locator("[data-testid=line-lot]")).to_have_value("LOT-E2E")
    expect(keeper.locator("[data-testid=line-expiry]")).to_have_value(expiry.isoformat())
    expect(keeper.locator("[data-testid=line-quantity]")).to_be_focused()
    keeper.locator("[data-testid=line-quantity]").fill("6")
    keeper.locator("[data-testid=line-cost]").fill("1.10")
    keeper.locator("[data-testid=add-line]").click()
    line = keeper.locator("[data-testid=receipt-line]")
    expect(line).to_have_count(1)
    expect(line).to_have_attribute("data-status", "ready")
    shot(keeper, "stock-01-receive-scanned")
    keeper.locator("[data-testid=delivery-reference]").fill("DN-E2E-1")
    keeper.locator("[data-testid=receive]").click()
    expect(line).to_have_attribute("data-status", "done")
    expect(line.locator("[data-testid=line-message]")).to_contain_text("Received 6 each into")
    shot(keeper, "stock-02-receive-done")

    # The board followed the receipt by itself: 6 usable is above the reorder point of 5.
    expect(tile).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    version_after_receipt = int(board.locator("[data-testid=stock-board]").get_attribute("data-version"))
    assert version_after_receipt > version

    # ------------------------------------------------------------ the nurse issues to her patient
    nurse = _browser(browser, hms_server.url, "nurse.joy")
    nurse.goto(f"/inventory/issue?store={stores.ward_store}")
    search = nurse.locator("[data-testid=issue-patient-search]")
    expect(search).to_be_visible()
    search.fill(stores.mrn)
    option = nurse.locator("[data-testid=patient-option]").filter(has_text=stores.mrn)
    expect(option).to_be_visible()
    option.click()
    expect(nurse.locator("[data-testid=issue-patient]")).to_contain_text(stores.patient_name)
    nurse_scan = nurse.locator("[data-testid=issue-scan]")
    nurse_scan.fill(f"(01){stores.gtin}(10)LOT-E2E")
    nurse_scan.press("Enter")
    expect(nurse.locator("[data-testid=issue-item]")).to_contain_text(stores.code)
    nurse.locator("[data-testid=issue-quantity]").fill("2")
    shot(nurse, "stock-03-issue-ready")
    nurse.locator("[data-testid=issue-submit]").click()
    expect(nurse.locator("[data-testid=issue-outcome]")).to_contain_text(f"Issued 2 each of {stores.code}")
    expect(nurse.locator("[data-testid=issue-charge]")).to_contain_text("$5.50")
    expect(nurse.locator("[data-testid=recent-issue]").first).to_contain_text(stores.patient_name)
    shot(nurse, "stock-04-issue-charged")

    # ------------------------------------------------------------ the board shows it low, live
    expect(tile).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(tile).to_have_attribute("data-flag", "reorder")
    expect(tile.locator("[data-testid=low-usable]")).to_have_text("4 each")
    assert (
        int(board.locator("[data-testid=stock-board]").get_attribute("data-version")) > version_after_receipt
    )
    assert board.evaluate("window.__noReload") == "still the same page"
    shot(board, "stock-05-board-low")

    # ------------------------------------------------------------ the charge is on the account
    clerk = _browser(browser, hms_server.url, "billing")
    clerk.goto(f"/billing/accounts/{stores.patient_id}")
    charge = clerk.locator(f"[data-testid='charge-row-E2E-DRS{stores.code.removeprefix('DRS-')}']")
    expect(charge).to_be_visible()
    expect(charge).to_contain_text("5.50")
    shot(clerk, "stock-06-account-charge")

    with server_db(hms_server) as session:
        from hms_app.services.inventory.balances import balance_mismatches, negative_balances

        assert balance_mismatches(session) == [] and negative_balances(session) == 0
    for page in (board, keeper, nurse, clerk):
        page.context.close()
