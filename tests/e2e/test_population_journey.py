"""The population health journey of issue 6: a physician reads the dashboard, clicks a bar to see
the patients behind it and opens one of them; a manager works the care-gap list and invites a
patient to book, build a cohort whose count follows the filters, save and export it, look at the code
sets, then the operations dashboard. Every patient list read is in the audit trail.

One test, in order: the later steps read what the earlier ones wrote.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import SCREENS_DIR, Server, screenshot, server_db, sign_in

TOAST = "[data-sonner-toast]"


def _shot(page: Page, name: str) -> None:
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, name)


def _count(page: Page) -> int:
    return int(page.locator("[data-testid=cohort-count]").inner_text().replace(",", ""))


def _wait_plot(page: Page, test_id: str, marks: str = ".point path") -> None:
    """Wait until the figure has drawn its bars (or, for a line chart, its traces)."""
    expect(page.locator(f"[data-testid={test_id}] .js-plotly-plot")).to_be_visible(timeout=60_000)
    expect(page.locator(f"[data-testid={test_id}] {marks}").first).to_be_attached(timeout=30_000)


def test_population_dashboards_cohorts_and_outreach(page: Page, hms_server: Server):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "dr.grey")

    # The dashboard: figures drawn from the seeded hospital, with how fresh they are.
    page.goto("/population")
    expect(page.locator("[data-testid=page-title]")).to_have_text("Population health")
    expect(page.locator("[data-testid=as-of]")).to_contain_text("refreshed in")
    for chart in ("chart-prevalence", "chart-age", "chart-measure", "chart-egfr", "chart-bmi"):
        _wait_plot(page, chart)
    _wait_plot(page, "chart-trend", ".scatterlayer .trace")
    total = int(page.locator("[data-testid=pop-total]").inner_text())
    assert total > 150
    _shot(page, "population-dashboard")

    # Clicking a bar lists the patients behind it.
    page.locator("[data-testid=chart-prevalence] .point path").first.click(force=True)
    panel = page.locator("[data-testid=drill-panel]")
    expect(panel).to_be_visible()
    expect(page.locator("[data-testid=drill-title]")).not_to_have_text("")
    expect(panel.locator("[data-testid=cohort-row]").first).to_be_visible()
    listed = int(page.locator("[data-testid=drill-total]").inner_text().split()[0])
    assert listed > 0
    panel.scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENS_DIR / "population-drill.png"), animations="disabled")  # the window only

    # ... and any of them opens in the chart.
    panel.locator("[data-testid=open-patient]").first.click()
    page.wait_for_url(re.compile(r"/patients/\d+$"))
    opened = int(page.url.rstrip("/").rsplit("/", 1)[1])
    expect(page.locator("[data-testid=page-title]")).to_have_text("Patient chart")
    expect(page.locator("[data-testid=banner-problems]")).to_be_visible()  # the chart has loaded

    # A manager reads the same lists (without the chart), works the care gaps and builds cohorts.
    page.locator("[data-testid=sign-out]").click()
    page.wait_for_url(re.compile(r"/login"))
    sign_in(page, "manager")

    # Measures per provider, and the care-gap worklist with outreach.
    page.goto("/population/measures")
    expect(page.locator("[data-testid=measure-row]").last).to_contain_text("Overall")
    page.locator("[data-testid=measure-select]").click()
    page.get_by_role("option", name=re.compile("controlling blood pressure")).click()
    expect(page.locator("[data-testid=gap-worklist]")).to_contain_text("140/90")
    rows = page.locator("[data-testid=gap-table] [data-testid=cohort-row]")
    expect(rows.first).to_be_visible()
    rows.first.locator("[data-testid=outreach-booking]").click()
    expect(page.locator(TOAST).filter(has_text="Invitation to book sent.")).to_be_visible()
    expect(rows.first).to_contain_text("sent ")
    _shot(page, "population-measures")

    # The cohort builder: the count follows the filters.
    page.goto("/population/cohorts")
    expect(page.locator("[data-testid=cohort-count]")).not_to_have_text("0")
    everyone = _count(page)
    page.locator("[data-testid=filter-age_min]").fill("60")
    expect(page.locator("[data-testid=cohort-count]")).not_to_have_text(str(everyone))
    older = _count(page)
    assert 0 < older < everyone
    page.locator("[data-testid=filter-registry-hypertension]").click()
    expect(page.locator("[data-testid=cohort-count]")).not_to_have_text(str(older))
    cohort = _count(page)
    assert 0 < cohort < older
    page.locator("[data-testid=filter-age_max]").fill("30")
    expect(page.locator("[data-testid=filter-error]")).to_contain_text("lowest age is above")
    page.locator("[data-testid=filter-age_max]").fill("")
    expect(page.locator("[data-testid=filter-error]")).to_have_count(0)
    page.locator("[data-testid=show-patients]").click()
    expect(page.locator("[data-testid=cohort-total]")).to_have_text(f"{cohort} patients")
    page.locator("[data-testid=cohort-name]").fill("Hypertensives over 60")
    page.locator("[data-testid=save-cohort]").click()
    expect(
        page.locator("[data-testid=saved-cohort]").filter(has_text="Hypertensives over 60")
    ).to_be_visible()
    with page.expect_download() as download_info:
        page.locator("[data-testid=export-csv]").click()
    download = download_info.value
    assert re.fullmatch(r"cohort-\d{8}-\d{4}\.csv", download.suggested_filename)
    lines = Path(download.path()).read_text(encoding="utf-8").strip().splitlines()
    assert lines[0].startswith("mrn,name,sex") and len(lines) == cohort + 1
    _shot(page, "population-cohorts")

    page.goto("/population/registries")
    expect(page.locator("[data-testid=registry-prefixes-diabetes]")).to_have_value(re.compile("E11"))
    _shot(page, "population-registries")

    page.goto("/analytics/operations")
    expect(page.locator("[data-testid=page-title]")).to_have_text("Operations")
    _wait_plot(page, "chart-volume")
    _shot(page, "operations-dashboard")

    page.set_viewport_size({"width": 768, "height": 1000})
    page.goto("/population")
    _wait_plot(page, "chart-prevalence")
    _shot(page, "population-dashboard-768")
    page.goto("/population/cohorts")
    expect(page.locator("[data-testid=saved-cohort]").first).to_be_visible()
    _shot(page, "population-cohorts-768")

    from hms_app.models.population import OutreachMessage, SavedCohort
    from hms_app.models.security import AuditEvent

    with server_db(hms_server) as session:
        reads = session.execute(
            select(AuditEvent.target_type, AuditEvent.username, AuditEvent.patient_id).where(
                AuditEvent.action == "population.read"
            )
        ).all()
        outreach = session.execute(select(OutreachMessage.kind, OutreachMessage.created_by)).all()
        exports = session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "population.export")
        ).scalars()
        saved = session.execute(select(SavedCohort.filters)).scalars().all()
        chart_reads = session.execute(
            select(AuditEvent.id).where(AuditEvent.action == "patient.read", AuditEvent.patient_id == opened)
        ).all()
    targets = {(target, username) for target, username, patient in reads if patient is None}
    assert {
        ("population-dashboard", "dr.grey"),
        ("care-gaps", "manager"),
        ("cohort-builder", "manager"),
    } <= targets
    assert outreach == [("booking_invitation", "manager")]
    assert any(detail.endswith(f"| {cohort} patients") for detail in exports)
    assert saved == [{"age_min": 60, "registries": ["hypertension"]}]
    assert chart_reads
