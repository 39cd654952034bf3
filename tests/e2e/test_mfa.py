"""Two-factor sign-in: enrolment with a QR code, then a code at every sign-in."""

from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    Server,
    expect_staff_home,
    hms_cli,
    open_sign_in,
    screenshot,
    server_db,
    sign_in,
    submit_code,
    submit_credentials,
)

PASSWORD = "Mfa-Test-2026-e2e"
CODE_STEP_TEXT = "Enter the 6-digit code from your authenticator app."
INVALID_CODE = re.compile(r"That code is not valid")


def _wrong_code(totp: pyotp.TOTP) -> str:
    """A well-formed code that is valid in no step the server accepts right now."""
    now = time.time()
    valid = {totp.at(now + drift) for drift in (-60, -30, 0, 30, 60)}
    return next(code for code in ("000000", "111111", "123456", "999999") if code not in valid)


def _read_secret(page: Page) -> pyotp.TOTP:
    key = page.locator("[data-testid=mfa-secret]")
    expect(key).to_have_text(re.compile(r"^\s*[A-Z2-7]{16,}\s*$"))
    return pyotp.TOTP(key.inner_text().strip())


def _sign_out(page: Page) -> None:
    page.locator("[data-testid=sign-out]").click()
    expect(page).to_have_url(re.compile(r"/login"))


def _set_role_mfa(server: Server, role: str, required: bool) -> None:
    from hms_app.services import accounts
    from hms_app.services.permissions import SYSTEM_ACTOR

    with server_db(server) as session:
        accounts.set_role_mfa_required(session, actor=SYSTEM_ACTOR, role=role, required=required)


def test_user_turns_on_mfa_and_then_needs_a_code_to_sign_in(browser: Browser, hms_server: Server):
    name = "Mia Factor"
    hms_cli(
        hms_server, "users", "create", "e2e.mfa", "--name", name, "--role", "nurse", "--password", PASSWORD
    )
    context = browser.new_context(base_url=hms_server.url)
    try:
        page = context.new_page()
        sign_in(page, "e2e.mfa", PASSWORD)
        expect(page.locator("[data-testid=user-name]")).to_have_text(name)

        # My account: set up the authenticator from the QR code (or its key).
        page.goto("/account")
        expect(page.locator("[data-testid=mfa-status]")).to_have_text("Off")
        page.locator("[data-testid=mfa-begin]").click()
        expect(page.locator("[data-testid=mfa-qr]")).to_be_visible()
        totp = _read_secret(page)
        screenshot(page, "mfa-account-enrol")
        page.locator("[data-testid=mfa-code]").fill(totp.now())
        page.locator("[data-testid=mfa-confirm]").click()
        expect(page.locator("[data-testid=mfa-status]")).to_contain_text("On")
        enrolled_at = time.time()
        screenshot(page, "mfa-account-on")
        _sign_out(page)

        # The password alone is no longer enough.
        open_sign_in(page)
        submit_credentials(page, "e2e.mfa", PASSWORD)
        expect(page.get_by_text(CODE_STEP_TEXT)).to_be_visible()
        expect(page.locator("[data-testid=mfa-qr]")).to_have_count(0)
        screenshot(page, "mfa-code-step")

        submit_code(page, _wrong_code(totp))
        expect(page.locator("[data-testid=sign-in-error]")).to_have_text(INVALID_CODE)
        expect(page).to_have_url(re.compile(r"/login"))
        expect(page.locator("[data-testid=user-name]")).to_have_count(0)
        screenshot(page, "mfa-wrong-code")

        # The enrolment code was spent; the next time step's code is accepted (one step
        # of clock drift), so the test need not wait for the clock.
        code = totp.at(max(time.time(), enrolled_at) + totp.interval)
        submit_code(page, code)
        expect_staff_home(page, name)
        screenshot(page, "mfa-signed-in")
        _sign_out(page)

        # A code seen over someone's shoulder is worthless once it has been used.
        open_sign_in(page)
        submit_credentials(page, "e2e.mfa", PASSWORD)
        submit_code(page, code)
        expect(page.locator("[data-testid=sign-in-error]")).to_have_text(INVALID_CODE)
        expect(page.locator("[data-testid=user-name]")).to_have_count(0)
        screenshot(page, "mfa-reused-code")
    finally:
        context.close()


def test_role_policy_forces_enrolment_at_sign_in(browser: Browser, hms_server: Server):
    name = "Rae Policy"
    hms_cli(
        hms_server,
        "users",
        "create",
        "e2e.policy",
        "--name",
        name,
        "--role",
        "radiologist",
        "--password",
        PASSWORD,
    )
    admin = browser.new_context(base_url=hms_server.url)
    user = browser.new_context(base_url=hms_server.url)
    try:
        # The administrator makes two-factor sign-in mandatory for radiologists.
        page = admin.new_page()
        sign_in(page, "admin")
        page.goto("/admin/roles")
        switch = page.locator("[data-testid=mfa-radiologist]")
        expect(switch).to_have_attribute("data-state", "unchecked")
        switch.click()
        expect(switch).to_have_attribute("data-state", "checked")
        screenshot(page, "mfa-policy-on")

        page = user.new_page()
        open_sign_in(page)
        submit_credentials(page, "e2e.policy", PASSWORD)
        expect(page.locator("[data-testid=mfa-qr]")).to_be_visible()
        expect(page.locator("[data-testid=user-name]")).to_have_count(0)
        totp = _read_secret(page)
        screenshot(page, "mfa-forced-enrol")
        submit_code(page, totp.now())
        expect_staff_home(page, name)
    finally:
        # The demo radiologist signs in elsewhere without a second factor.
        _set_role_mfa(hms_server, "radiologist", False)
        admin.close()
        user.close()

    other = browser.new_context(base_url=hms_server.url)
    try:
        page = other.new_page()
        sign_in(page, "radiology")
        expect_staff_home(page, "Dr Rachel Ray")
    finally:
        other.close()
