"""Sign-in as each demo role, a wrong password, and the lockout after repeated failures."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from hms_app.services.permissions import ROLES
from tests.e2e.conftest import (
    Server,
    expect_staff_home,
    hms_cli,
    open_sign_in,
    screenshot,
    sign_in,
    submit_credentials,
)

# username, name in the header, role in the header, sees the management chart
STAFF = [
    ("admin", "Ada Admin", "admin", True),
    ("dr.grey", "Dr Meredith Grey", "physician", False),
    ("nurse.joy", "Joy Okafor, RN", "nurse", False),
    ("reception", "Rita Reception", "receptionist", False),
    ("lab.tech", "Lars Labtech", "lab_technician", False),
    ("radiology", "Dr Rachel Ray", "radiologist", False),
    ("pharmacy", "Phil Pharmacist", "pharmacist", False),
    ("billing", "Bill Clerk", "billing_clerk", False),
    ("manager", "Maya Manager", "manager", True),
]
WRONG = "Wrong username or password."
LOCKED = re.compile(r"locked after too many failed sign-ins")


@pytest.mark.parametrize(("username", "name", "role", "sees_chart"), STAFF, ids=[s[0] for s in STAFF])
def test_staff_role_signs_in_to_their_home(page: Page, base_url, username, name, role, sees_chart):
    sign_in(page, username)

    expect_staff_home(page, name)
    # The header may show the role's code or its label ("lab_technician" / "Lab technician").
    shown = re.compile(f"{re.escape(role)}|{re.escape(ROLES[role])}", re.IGNORECASE)
    expect(page.locator("[data-testid=user-roles]")).to_have_text(shown)
    if sees_chart:
        expect(page.locator(".js-plotly-plot")).to_be_visible(timeout=60_000)
    screenshot(page, f"home-{username}")
    if not sees_chart:
        # A role without the dashboards permission gets no management chart at all.
        expect(page.locator(".js-plotly-plot")).to_have_count(0)


@pytest.mark.scaled_out
def test_patient_signs_in_to_the_portal(page: Page, base_url):
    sign_in(page, "patient")

    expect(page).to_have_url(re.compile(r"/portal/?$"))
    expect(page.locator("[data-testid=portal-name]")).to_be_visible()
    expect(page.locator("[data-testid=portal-name]")).to_contain_text("Hello, ")
    screenshot(page, "portal-patient")
    # The portal is not the staff shell: no staff figures and no staff navigation.
    expect(page.locator("[data-testid^=figure-]")).to_have_count(0)
    expect(page.locator("[data-testid=nav-home]")).to_have_count(0)


def test_wrong_password_is_refused_with_a_plain_message(page: Page, base_url):
    open_sign_in(page)
    submit_credentials(page, "reception", "not-the-password-1")

    expect(page.locator("[data-testid=sign-in-error]")).to_have_text(WRONG)
    screenshot(page, "sign-in-wrong-password")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("[data-testid=user-name]")).to_have_count(0)
    # The password never ends up in the address bar (a native form submit would put it there).
    assert "not-the-password" not in page.url


def test_unknown_user_gets_the_same_message_as_a_wrong_password(page: Page, base_url):
    open_sign_in(page)
    submit_credentials(page, "no.such.person", "whatever-123")

    expect(page.locator("[data-testid=sign-in-error]")).to_have_text(WRONG)


def test_five_failures_lock_the_account_until_an_administrator_unlocks_it(
    browser: Browser, hms_server: Server
):
    password = "Lock-Test-2026-e2e"
    hms_cli(
        hms_server,
        "users",
        "create",
        "e2e.lock",
        "--name",
        "Lock Test",
        "--role",
        "nurse",
        "--password",
        password,
    )
    context = browser.new_context(base_url=hms_server.url)
    try:
        # A fresh tab per attempt, so each error shown is that attempt's own answer.
        for attempt in range(1, 6):
            page = context.new_page()
            open_sign_in(page)
            submit_credentials(page, "e2e.lock", f"wrong-guess-{attempt}")
            error = page.locator("[data-testid=sign-in-error]")
            if attempt < 5:
                expect(error).to_have_text(WRONG)
            else:
                expect(error).to_have_text(LOCKED)
            page.close()

        page = context.new_page()
        open_sign_in(page)
        submit_credentials(page, "e2e.lock", password)
        expect(page.locator("[data-testid=sign-in-error]")).to_have_text(LOCKED)
        screenshot(page, "sign-in-locked")
        expect(page).to_have_url(re.compile(r"/login"))
        expect(page.locator("[data-testid=user-name]")).to_have_count(0)
        assert re.search(r"e2e\.lock .*locked", hms_cli(hms_server, "users", "list", "e2e.lock"))
        page.close()

        hms_cli(hms_server, "users", "unlock", "e2e.lock")
        page = context.new_page()
        sign_in(page, "e2e.lock", password)
        expect_staff_home(page, "Lock Test")
        screenshot(page, "sign-in-after-unlock")
    finally:
        context.close()
    # Every failure above and the unlock were written to the audit trail by two
    # processes at once; the hash chain must still verify.
    assert "OK" in hms_cli(hms_server, "audit", "verify")
