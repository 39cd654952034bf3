"""Sign-out ends the session on the server and leaves nothing of the user in the tab."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import screenshot, session_cookie, sign_in

NAME = "Dr Meredith Grey"


@pytest.mark.scaled_out
def test_sign_out_returns_to_sign_in_and_forgets_the_user(page: Page, context: BrowserContext, base_url):
    sign_in(page, "dr.grey")
    expect(page.locator("[data-testid=user-name]")).to_have_text(NAME)
    assert session_cookie(page)["httpOnly"], "signing in should leave an HttpOnly session cookie"

    page.locator("[data-testid=sign-out]").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.locator("[data-sonner-toast]").filter(has_text="You are signed out.")).to_be_visible()
    screenshot(page, "signed-out")
    expect(page.locator("body")).not_to_contain_text(NAME)
    # The cookie is cleared by the answer of the sign-out route; wait for it.
    session_cookie(page, present=False)

    page.go_back()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("body")).not_to_contain_text(NAME)
    expect(page.locator("[data-testid^=figure-]")).to_have_count(0)

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(NAME)
    screenshot(page, "signed-out-back-to-home")


@pytest.mark.scaled_out
def test_old_session_token_no_longer_works_after_sign_out(page: Page, context: BrowserContext, base_url):
    """Revocation is on the server: putting the old cookie back does not sign anyone in."""
    sign_in(page, "billing")
    expect(page.locator("[data-testid=user-name]")).to_have_text("Bill Clerk")
    old = session_cookie(page)

    page.locator("[data-testid=sign-out]").click()
    expect(page).to_have_url(re.compile(r"/login"))

    fresh = page.context.browser.new_context(base_url=base_url)
    try:
        fresh.add_cookies([old])
        replay = fresh.new_page()
        replay.goto("/")
        expect(replay).to_have_url(re.compile(r"/login"))
        expect(replay.locator("body")).not_to_contain_text("Bill Clerk")
        screenshot(replay, "signed-out-token-replayed")
    finally:
        fresh.close()
