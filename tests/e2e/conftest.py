"""Browser tests against the production build (tests/production_server.py starts it)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.production_server import DEMO_PASSWORD, PROJECT_ROOT, Server, hms_cli, server_db

__all__ = ["DEMO_PASSWORD", "Server", "hms_cli", "server_db"]

SCREENS_DIR = PROJECT_ROOT / "artifacts" / "screens"

# The first page load of a fresh context fetches the bundle and opens the websocket;
# give assertions room for that instead of sleeping.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            # Video visits: a synthetic camera and microphone, allowed without a prompt.
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--auto-select-desktop-capture-source=Entire screen",
        ],
    }


@pytest.fixture(scope="session")
def base_url(app_server: str) -> str:
    return app_server


def session_cookie(page: Page, *, present: bool = True) -> dict | None:
    """The browser's HttpOnly session cookie once it is there (``present``) or gone.

    The answer of an HTTP route sets and clears it just after the page has moved on (a sign-in
    or sign-out happens over the websocket, which cannot), so wait for it a little.
    """
    for _ in range(100):
        cookie = next((c for c in page.context.cookies() if c["name"] == "hms_session" and c["value"]), None)
        if (cookie is not None) == present:
            return cookie
        page.wait_for_timeout(100)
    raise AssertionError(f"the session cookie was {'never set' if present else 'not cleared'}")


def screenshot(page: Page, name: str) -> Path:
    """Save what the user sees now to artifacts/screens/<name>.png."""
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENS_DIR / f"{name}.png"
    # Finished transitions: a toast is captured as the user reads it, not mid-slide.
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def wait_interactive(page: Page, selector: str) -> None:
    """Wait until React has hydrated ``selector``.

    The production build serves pre-rendered HTML: a click before hydration would
    submit the form natively (a GET with the password in the URL) instead of sending
    the event over the websocket.
    """
    page.wait_for_function(
        """(selector) => {
            const el = document.querySelector(selector);
            return !!el && Object.keys(el).some((key) => key.startsWith("__reactProps"));
        }""",
        arg=selector,
        timeout=30_000,
    )


def open_sign_in(page: Page) -> None:
    page.goto("/login")
    expect(page.locator("input[name=username]")).to_be_visible()
    wait_interactive(page, "form")


def submit_credentials(page: Page, username: str, password: str) -> None:
    """Fill the sign-in form on the current page and submit it; do not wait for the outcome."""
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").click()


def sign_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the sign-in page and wait until the app has moved away from it."""
    open_sign_in(page)
    submit_credentials(page, username, password)
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)


def expect_staff_home(page: Page, name: str) -> None:
    """The staff home screen of ``name``, with its figures loaded (not the loading skeleton)."""
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("[data-testid=user-name]")).to_have_text(name)
    expect(page.locator("[data-testid^=figure-]").first).to_be_visible()


def submit_code(page: Page, code: str) -> None:
    field = page.locator("input[name=code]")
    expect(field).to_be_visible()
    field.fill(code)
    page.get_by_role("button", name="Verify").click()


MIDNIGHT_MARGIN_SECONDS = 5 * 60


@pytest.fixture
def clear_of_midnight() -> None:
    """Tests that work with "today" (the calendar, check-in, today's board) must not straddle the
    hospital's midnight: a few minutes before it, wait until the new day has begun."""
    from datetime import datetime, timedelta
    from datetime import time as clock_time

    from hms_app.clock import to_local, utcnow

    now = to_local(utcnow())
    midnight = datetime.combine(now.date() + timedelta(days=1), clock_time(0), tzinfo=now.tzinfo)
    left = (midnight - now).total_seconds()
    if left < MIDNIGHT_MARGIN_SECONDS:
        time.sleep(left + 5)
