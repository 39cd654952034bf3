"""The finance dashboard as a manager uses it: sign in, read the figures, click a bar, see the
invoices behind it, download them and a figure's table as CSV, and read it all on a tablet.

The demo hospital the server seeds has a year of billing; every number on the page is checked
against the analytics functions elsewhere (tests/services/test_finance_figures.py), so this test
checks what only a browser shows: that the charts draw, that a click on a bar reaches the server
and lists invoices, that the downloads arrive, and that the listing was audited.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from hms_app.models.security import AuditEvent
from tests.e2e.conftest import Server, screenshot, server_db, sign_in


def _click_bar(page: Page, chart: str, index_from_end: int = 2) -> None:
    """Click the middle of one bar with the mouse, as a person would (Plotly listens on the plot
    area that lies over the bars, so the click goes to the point under the pointer)."""
    page.locator(f"[data-testid=chart-{chart}]").scroll_into_view_if_needed()
    bars = page.locator(f"[data-testid=chart-{chart}] .bars .point path")
    expect(bars.first).to_be_attached(timeout=60_000)
    count = bars.count()
    assert count > 0
    box = None
    for index in range(max(0, count - index_from_end), -1, -1):
        box = bars.nth(index).bounding_box()
        if box and box["height"] > 4:
            break
    assert box, "no bar tall enough to click"
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_a_manager_reads_the_figures_clicks_a_bar_and_exports(page: Page, hms_server: Server):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "manager")
    page.goto("/finance")
    expect(page.locator("[data-testid=page-title]")).to_have_text("Finance")
    revenue = page.locator("[data-testid=kpi-revenue]")
    expect(revenue).to_have_text(re.compile(r"^\$[\d,]+\.\d\d$"), timeout=60_000)
    assert revenue.inner_text() != "$0.00", "the demo hospital has a year of billing"
    expect(page.locator("[data-testid=kpi-outstanding]")).to_have_text(re.compile(r"^\$"))
    expect(page.locator("[data-testid=chart-revenue_by_month] .js-plotly-plot")).to_be_visible(timeout=60_000)
    expect(page.locator("[data-testid=chart-ar_aging] .js-plotly-plot")).to_be_visible()
    expect(page.locator("[data-testid=top-balances] tbody tr").first).to_be_visible()
    page.wait_for_timeout(800)  # let Plotly finish its first draw before the picture
    screenshot(page, "finance-dashboard-1280")

    # A bar of last month's revenue: the invoices behind it, with patients, paged on the server.
    _click_bar(page, "revenue_by_month")
    dialog = page.locator("[data-testid=drill-dialog]")
    expect(dialog).to_be_visible(timeout=30_000)
    expect(dialog.locator("[data-testid=drill-row]").first).to_be_visible(timeout=30_000)
    expect(dialog.get_by_role("heading")).to_have_text(re.compile(r"^Revenue in \d{4}-\d\d$"))
    summary = dialog.locator("[data-testid=drill-summary]").inner_text()
    rows_behind = int(re.match(r"(\d+) rows", summary).group(1))
    assert rows_behind >= dialog.locator("[data-testid=drill-row]").count() > 0
    screenshot(page, "finance-drilldown-1280")

    with page.expect_download() as download_info:
        dialog.locator("[data-testid=drill-csv]").click()
    download = download_info.value
    assert download.suggested_filename.startswith("finance_revenue_by_month_")
    lines = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert lines[0][:3] == ["Issued", "Invoice", "Patient"]
    assert len(lines) - 1 == rows_behind  # every invoice behind the bar, not just the page shown
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # The aging chart: a click lists the balances behind a bucket.
    _click_bar(page, "ar_aging", index_from_end=4)
    expect(dialog.locator("[data-testid=drill-row]").first).to_be_visible(timeout=30_000)
    expect(dialog.get_by_role("heading")).to_have_text(re.compile(r"^Outstanding "))
    page.keyboard.press("Escape")

    with page.expect_download() as download_info:
        page.locator("[data-testid=csv-revenue_by_department]").click()
    table = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8"))))
    assert table and {"department", "revenue_cents", "revenue"} <= set(table[0])

    # A department filter narrows the page, and says receivables stay hospital-wide. The one chosen
    # is one the chart says earned revenue in the period (the shared server's other tests may add
    # departments that have none).
    earning = max(table, key=lambda row: int(row["revenue_cents"]))
    assert int(earning["revenue_cents"]) > 0
    page.locator("[data-testid=filter-department]").click()
    page.get_by_role("option", name=earning["department"], exact=True).click()
    page.locator("[data-testid=filter-apply]").click()
    expect(page.get_by_text("Receivables are hospital-wide")).to_be_visible(timeout=30_000)
    expect(revenue).not_to_have_text("$0.00")

    page.set_viewport_size({"width": 768, "height": 1000})
    page.wait_for_timeout(800)
    screenshot(page, "finance-dashboard-768")
    assert page.evaluate("document.documentElement.scrollWidth") <= 768 + 1  # nothing runs off the side

    with server_db(hms_server) as session:
        listings = session.execute(
            select(AuditEvent.username, AuditEvent.detail).where(
                AuditEvent.action.in_(["finance.invoices_listed", "finance.invoices_exported"])
            )
        ).all()
    assert {u for u, _d in listings} == {"manager"}
    assert any("revenue_by_month" in d for _u, d in listings) and any("ar_aging" in d for _u, d in listings)


def test_a_nurse_is_told_finance_is_not_for_her_role(page: Page, hms_server: Server):
    sign_in(page, "nurse.joy")
    expect(page.locator("[data-testid=user-name]")).to_be_visible()
    page.goto("/finance")
    expect(page.locator("[data-testid=no-access]")).to_contain_text("finance dashboard is for managers")
    expect(page.locator("[data-testid=filter-apply]")).to_have_count(0)
    expect(page.locator("[data-testid^=chart-]")).to_have_count(0)
    screenshot(page, "finance-refused-nurse")


def test_a_reversed_range_is_said_under_the_form_and_reset_clears_what_was_typed(
    page: Page, hms_server: Server
):
    sign_in(page, "manager")
    page.goto("/finance")
    expect(page.locator("[data-testid=filter-apply]")).to_be_enabled()
    start = page.locator("[data-testid=filter-start]")
    applied = start.input_value()
    start.fill("2026-06-30")
    page.locator("[data-testid=filter-end]").fill("2026-06-01")
    page.locator("[data-testid=filter-apply]").click()
    expect(page.locator("[data-testid=filter-error]")).to_be_visible()
    screenshot(page, "finance-reversed-range")
    page.get_by_role("button", name="Reset", exact=True).click()
    expect(page.locator("[data-testid=filter-error]")).to_have_count(0)
    expect(page.locator("[data-testid=filter-start]")).to_have_value(applied)
