"""Each clinical role opens HMS on its day's work (issue 11, item 24), on the demo hospital."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot, sign_in

PANELS = {
    "reception": ("arrivals", "waiting", "waitlist"),
    "dr.grey": ("my_patients", "unsigned_notes", "my_alerts", "lab_recollect"),
    "nurse.joy": ("ward_alerts", "observations_due"),
}


@pytest.mark.parametrize("username", sorted(PANELS))
def test_each_clinical_role_opens_on_its_days_work(page: Page, base_url, username: str):
    sign_in(page, username)
    for key in PANELS[username]:
        panel = page.locator(f"[data-testid=work-{key}]")
        expect(panel).to_be_visible()
        # Either rows that open a chart, or the list's own empty sentence: never a blank card.
        expect(panel.locator("[data-testid=work-line], p, span").first).to_be_visible()
    screenshot(page, f"today-{username}")


def test_a_manager_keeps_the_figures_and_gets_no_worklists(page: Page, base_url):
    sign_in(page, "manager")
    expect(page.locator("[data-testid^=figure-]").first).to_be_visible()
    expect(page.locator("[data-testid^=work-]")).to_have_count(0)
