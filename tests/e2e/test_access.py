"""A wrong role and an anonymous visitor are refused on the server, not just shown less."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import Server, screenshot, server_db, sign_in

DENIED = re.compile(r"Your role does not allow this")
# Rows an administrator would see on the admin pages; none may reach a nurse's browser.
ADMIN_ONLY_TEXT = ["Ada Admin", "dr.grey", "Rita Reception", "auth.sign_in"]


# What the administrator sees on each page: proof that the nurse's empty screen is a refusal.
ADMIN_SEES = {
    "/admin/users": ('[data-testid="user-row-dr.grey"]', ["Ada Admin", "dr.grey", "Rita Reception"]),
    "/admin/audit": ("[data-testid=audit-row]", ["auth.sign_in", "admin"]),
}


@pytest.mark.parametrize("path", sorted(ADMIN_SEES))
def test_admin_sees_the_admin_pages(page: Page, base_url, path: str):
    sign_in(page, "admin")
    page.goto(path)

    row_selector, texts = ADMIN_SEES[path]
    expect(page.locator(row_selector).first).to_be_visible()
    for text in texts:
        expect(page.locator("table").first).to_contain_text(text)
    expect(page.locator("[data-testid=no-access]")).to_have_count(0)
    screenshot(page, f"admin{path.replace('/', '-')}")


@pytest.mark.parametrize("path", sorted(ADMIN_SEES))
def test_nurse_is_refused_the_admin_pages(page: Page, hms_server: Server, path: str):
    sign_in(page, "nurse.joy")
    expect(page.locator("[data-testid=user-name]")).to_have_text("Joy Okafor, RN")

    page.goto(path)
    expect(page.locator("[data-sonner-toast]").filter(has_text=DENIED)).to_be_visible()
    expect(page.locator("[data-testid=no-access]")).to_be_visible()
    screenshot(page, f"refused-nurse{path.replace('/', '-')}")

    # The shell is drawn for the nurse, but without the admin links and without admin data.
    expect(page.locator("[data-testid=nav-home]")).to_be_visible()
    expect(page.locator("[data-testid=nav-admin-users]")).to_have_count(0)
    expect(page.locator("[data-testid=nav-admin-audit]")).to_have_count(0)
    expect(page.locator("table").get_by_text("admin", exact=True)).to_have_count(0)
    body = page.locator("body")
    for text in ADMIN_ONLY_TEXT:
        expect(body).not_to_contain_text(text)

    # The refusal is on the record for the auditors.
    from hms_app.models.security import AuditEvent

    with server_db(hms_server) as session:
        denials = (
            session.execute(
                select(AuditEvent.detail).where(
                    AuditEvent.action == "access.denied",
                    AuditEvent.username == "nurse.joy",
                    AuditEvent.screen.like(f"{path}%"),
                )
            )
            .scalars()
            .all()
        )
    assert denials, f"no access.denied audit row for nurse.joy on {path}"


@pytest.mark.parametrize("path", ["/", "/admin/users", "/admin/audit"])
def test_anonymous_visitor_is_sent_to_sign_in(page: Page, base_url, path: str):
    page.goto(path)

    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.locator("[data-testid=user-name]")).to_have_count(0)
    expect(page.locator("[data-testid^=figure-]")).to_have_count(0)
    sign_in_toast = page.locator("[data-sonner-toast]").filter(has_text="Please sign in to continue.")
    if path == "/":
        # Opening the front door is not an error: the sign-in page, without a red toast.
        page.wait_for_timeout(500)
        expect(sign_in_toast).to_have_count(0)
    else:
        expect(sign_in_toast).to_be_visible()
    screenshot(page, f"anonymous{path.rstrip('/').replace('/', '-') or '-home'}")


def test_patient_opening_the_staff_home_stays_in_the_portal(page: Page, base_url):
    sign_in(page, "patient")
    expect(page.locator("[data-testid=portal-name]")).to_be_visible()

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    expect(page.locator("[data-testid=portal-name]")).to_be_visible()
    expect(page.locator("[data-testid^=figure-]")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Registered patients")
    screenshot(page, "patient-opens-staff-home")

    page.goto("/admin/users")
    # Absence proves something only once the page has drawn: wait for where the patient lands.
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    expect(page.locator("[data-testid=portal-name]")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Ada Admin")
    expect(page.locator("table").get_by_text("admin", exact=True)).to_have_count(0)
    screenshot(page, "patient-opens-admin-users")
