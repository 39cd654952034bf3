"""The equipment journey of issue 12, as the people who do it: the biomedical engineer signs in,
registers an infusion pump (a wrong form names its fields), plans its yearly maintenance, opens
the plan's work order taking the pump out of use, and completes it with its findings, downtime
and a fuse from the workshop's stock. A manager watches the maintenance board in a second browser:
the plan appears, takes its work order, and leaves the board when the work is done, without a
reload (a marker on the manager's window proves none happened).

Screenshots of every equipment screen go to /tmp/shots/equip-*.png (and artifacts/screens)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import Server, screenshot, server_db, sign_in

pytestmark = pytest.mark.usefixtures("clear_of_midnight")

LIVE_TIMEOUT_MS = 5_000
SHOTS = Path("/tmp/shots")
TAG = "E2E-IP-001"


def _shot(page: Page, name: str) -> None:
    page.mouse.move(0, 0)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"equip-{name}.png"), full_page=True, animations="disabled")
    screenshot(page, f"equip-{name}")


def _browser(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, username)
    return page


def _choose(page: Page, trigger: str, option: str) -> None:
    page.locator(f"[data-testid={trigger}]").click()
    page.get_by_role("option", name=re.compile(re.escape(option))).first.click()


def test_an_engineer_registers_a_pump_and_works_its_maintenance_while_the_board_follows(
    browser: Browser, hms_server: Server
):
    from hms_app.clock import local_today

    manager = _browser(browser, hms_server.url, "manager")
    manager.goto("/equipment/board")
    board = manager.locator("[data-testid=maintenance-board]")
    expect(board.locator("[data-testid=due-table]")).to_be_visible()
    manager.evaluate("window.__noReload = 'still the same page'")
    _shot(manager, "board")
    row_on_board = manager.locator(f"[data-testid='due-{TAG}']")
    expect(row_on_board).to_have_count(0)

    biomed = _browser(browser, hms_server.url, "biomed")
    biomed.goto("/equipment")
    expect(biomed.locator("[data-testid=equipment-table]")).to_be_visible()
    expect(biomed.locator("[data-testid^='equipment-BME-']").first).to_be_visible()
    _shot(biomed, "register")

    # ---------------------------------------------------------------- register, with mistakes first
    biomed.locator("[data-testid=new-equipment]").click()
    dialog = biomed.locator("[data-testid=dialog-equipment]")
    expect(dialog).to_be_visible()
    dialog.locator("[data-testid=field-asset_tag]").fill("BME-IP-001")  # the demo's first pump
    dialog.locator("[data-testid=field-name]").fill("Infusion pump")
    dialog.locator("[data-testid=field-manufacturer]").fill("B. Braun")
    dialog.locator("[data-testid=field-model]").fill("Infusomat Space")
    dialog.locator("[data-testid=field-serial_number]").fill("BB26-004411")
    _choose(biomed, "field-department_id", "Cardiology")
    dialog.locator("[data-testid=field-purchase_date]").fill("2024-02-01")
    dialog.locator("[data-testid=field-warranty_end]").fill("2023-01-01")
    dialog.locator("[data-testid=field-purchase_cost]").fill("2,650.00")
    dialog.locator("[data-testid=dialog-submit]").click()
    expect(dialog.locator("[data-testid=error-asset_tag]")).to_contain_text("already on the register")
    expect(dialog.locator("[data-testid=error-warranty_end]")).to_contain_text("before the purchase date")
    _shot(biomed, "register-dialog-errors")
    dialog.locator("[data-testid=field-asset_tag]").fill(TAG)
    dialog.locator("[data-testid=field-warranty_end]").fill("2027-02-01")
    dialog.locator("[data-testid=dialog-submit]").click()
    expect(dialog).to_be_hidden()
    biomed.locator("[data-testid=equipment-search]").fill(TAG)
    biomed.locator("[data-testid=equipment-search]").press("Enter")
    expect(biomed.locator(f"[data-testid='equipment-{TAG}']")).to_have_attribute("data-status", "in_service")

    # ---------------------------------------------------------------- plan its maintenance: the board shows it
    biomed.locator(f"[data-testid='equipment-{TAG}'] [data-testid=equipment-link]").click()
    expect(biomed).to_have_url(re.compile(r"/equipment/\d+$"))
    expect(biomed.locator("[data-testid=asset-tag]")).to_have_text(TAG)
    biomed.locator("[data-testid=new-plan]").click()
    plan = biomed.locator("[data-testid=dialog-plan]")
    expect(plan).to_be_visible()
    plan.locator("[data-testid=field-description]").fill("Annual PM and electrical safety test")
    plan.locator("[data-testid=field-interval_days]").fill("365")
    # Ten days ahead: on the board's two weeks, beyond the week in which the job opens work orders.
    plan.locator("[data-testid=field-next_due]").fill((local_today() + timedelta(days=10)).isoformat())
    _shot(biomed, "plan-dialog")
    plan.locator("[data-testid=dialog-submit]").click()
    expect(plan).to_be_hidden()
    expect(biomed.locator("[data-testid=plan-open-order]")).to_be_visible()
    expect(row_on_board).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(row_on_board).to_have_attribute("data-work-order", "")

    # ---------------------------------------------------------------- open its work order, out of use
    biomed.locator("[data-testid=plan-open-order]").click()
    order_dialog = biomed.locator("[data-testid=dialog-open_order]")
    expect(order_dialog).to_be_visible()
    order_dialog.locator("[data-testid=field-take_out_of_service]").click()
    _shot(biomed, "open-work-order-dialog")
    order_dialog.locator("[data-testid=dialog-submit]").click()
    expect(order_dialog).to_be_hidden()
    order_row = biomed.locator("[data-testid^='work-order-WO-']").first
    expect(order_row).to_have_attribute("data-status", "open")
    reference = order_row.get_attribute("data-testid").removeprefix("work-order-")
    expect(biomed.locator("[data-testid=equipment-status]").first).to_have_text("Under maintenance")
    expect(row_on_board).to_have_attribute("data-work-order", reference, timeout=LIVE_TIMEOUT_MS)
    _shot(manager, "board-with-work-order")

    # ---------------------------------------------------------------- complete it, with a fuse from stock
    order_row.locator("[data-testid=work-order-complete]").click()
    complete = biomed.locator("[data-testid=dialog-complete]")
    expect(complete).to_be_visible()
    complete.locator("[data-testid=field-findings]").fill(
        "Passed electrical safety test; mains fuse replaced."
    )
    complete.locator("[data-testid=field-downtime]").fill("45")
    _choose(biomed, "field-part_1", "Fuse 5 A")
    complete.locator("[data-testid=field-quantity_1]").fill("1")
    _shot(biomed, "complete-dialog")
    complete.locator("[data-testid=dialog-submit]").click()
    expect(complete).to_be_hidden()
    expect(order_row).to_have_attribute("data-status", "done")
    expect(order_row.locator("[data-testid=work-order-parts]")).to_contain_text("1 × Fuse 5 A")
    expect(order_row.locator("[data-testid=work-order-downtime]")).to_have_text("45 min")
    expect(biomed.locator("[data-testid=equipment-status]").first).to_have_text("In service")
    _shot(biomed, "item")
    biomed.locator("[data-testid=change-status]").first.click()
    status = biomed.locator("[data-testid=dialog-status]")
    expect(status).to_be_visible()
    _shot(biomed, "status-dialog")
    status.get_by_role("button", name="Cancel").click()
    expect(status).to_be_hidden()
    expect(row_on_board).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    assert manager.evaluate("window.__noReload") == "still the same page"

    with server_db(hms_server) as session:
        from hms_app.models.inventory import Equipment, StockMove, WorkOrder

        order = session.execute(select(WorkOrder).where(WorkOrder.reference == reference)).scalar_one()
        assert (order.status, order.downtime_minutes, order.completed_by) == ("done", 45, "biomed")
        move = session.execute(select(StockMove).where(StockMove.work_order_id == order.id)).scalar_one()
        assert (move.kind, move.quantity) == ("maintenance_use", -1)
        scanner = session.execute(
            select(Equipment.id).where(Equipment.asset_tag == "BME-MR-001")
        ).scalar_one()

    # ---------------------------------------------------------------- the scanner's page, for the record
    biomed.goto(f"/equipment/{scanner}")
    expect(biomed.locator("[data-testid=asset-tag]")).to_have_text("BME-MR-001")
    expect(biomed.locator("[data-testid=plans-table]")).to_be_visible()
    _shot(biomed, "scanner")
    biomed.set_viewport_size({"width": 390, "height": 844})
    biomed.goto("/equipment/board")
    expect(biomed.locator("[data-testid=due-table]")).to_be_visible()
    _shot(biomed, "board-phone")
    manager.context.close()
    biomed.context.close()
