"""Issue 11, item 13, in the browser: an account whose password was set for it (the demo admin)
signs in to the change-password form, is sent back to it from any other address, and reaches its
home once a new password is saved."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import update

from tests.e2e.conftest import Server, expect_staff_home, hms_cli, screenshot, server_db, sign_in

PASSWORD = "First-Pass-2026-e2e"
NEW_PASSWORD = "Second-Pass-2026-e2e"


def test_a_first_sign_in_must_choose_a_new_password_before_anything_else(page: Page, hms_server: Server):
    from hms_app.models.security import AppUser

    hms_cli(
        hms_server, "users", "create", "e2e.first", "--name", "First Timer", "--role", "manager",
        "--password", PASSWORD,
    )  # fmt: skip
    with server_db(hms_server) as session:
        session.execute(
            update(AppUser).where(AppUser.username == "e2e.first").values(must_change_password=True)
        )
        session.commit()

    sign_in(page, "e2e.first", PASSWORD)
    expect(page).to_have_url(re.compile(r"/account/?$"))
    expect(page.locator("[data-testid=must-change-password]")).to_be_visible()
    expect(page.locator("[data-testid=mfa-begin]")).to_have_count(0)  # only the password form
    screenshot(page, "first-sign-in-change-password")

    page.goto("/finance")  # any other address: back to the form, nothing of the page loaded
    expect(page).to_have_url(re.compile(r"/account/?$"), timeout=30_000)
    expect(page.locator("[data-testid=must-change-password]")).to_be_visible()

    page.locator("input[name=current_password]").fill(PASSWORD)
    page.locator("input[name=new_password]").fill(NEW_PASSWORD)
    page.locator("input[name=repeat]").fill(NEW_PASSWORD)
    page.locator("[data-testid=change-password]").click()
    expect_staff_home(page, "First Timer")
    screenshot(page, "first-sign-in-done")
