"""Item 4 against the running server: the session cookie a real sign-in leaves is HttpOnly and
SameSite=Strict, page script cannot read it, and the route that sets it gives nothing to a
guesser."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import session_cookie, sign_in
from tests.production_server import Server
from tests.security.attacker import SESSION_COOKIE, request, socket_tab


def test_a_sign_in_leaves_a_cookie_page_script_cannot_read(page: Page, context: BrowserContext, base_url):
    sign_in(page, "dr.grey")
    expect(page.locator("[data-testid=user-name]")).to_have_text("Dr Meredith Grey")
    cookie = session_cookie(page)
    assert cookie and len(cookie["value"]) >= 32
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http on this machine; https sets Secure (tests/api)
    # What an injected script would try.
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    page.evaluate(f"document.cookie = '{SESSION_COOKIE}=forged-by-script; path=/'")
    assert session_cookie(page)["value"] == cookie["value"]

    # A new tab of the same browser is signed in through the cookie alone.
    other = context.new_page()
    other.goto("/")
    expect(other.locator("[data-testid=user-name]")).to_have_text("Dr Meredith Grey")
    other.close()


def test_guessing_a_claim_code_gets_no_cookie(hms_server: Server):
    with socket_tab(hms_server, path="/login") as tab:
        for code in ("", "0" * 43, "guess"):
            answer = request(
                hms_server.url,
                "POST",
                "/api/session/claim",
                {"Content-Type": "application/json", "Origin": hms_server.url},
                f'{{"tab": "{tab}", "code": "{code}"}}'.encode(),
            )
            assert answer.status == 403 and "set-cookie" not in answer.headers
    made_up = request(
        hms_server.url,
        "POST",
        "/api/session/claim",
        {"Content-Type": "application/json"},
        b'{"tab": "no-such-tab", "code": "x"}',
    )
    assert made_up.status == 403 and "set-cookie" not in made_up.headers
