"""The laboratory loop from the chart, in real browsers: the demo physician opens a patient's chart,
orders a basic metabolic panel STAT from the Results tab (a second order of it within a day shows
the duplicate warning and needs "Order anyway"), prints the tube's label in a new tab (the Code 128
SVG is on it), collects the specimen; a technician scans it in at reception and enters a high
potassium on the worklist, a second technician verifies and releases it; the physician then sees
the released potassium in the chart's cumulative table with its H flag.
"""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from tests.e2e.conftest import (
    DEMO_PASSWORD,
    SCREENS_DIR,
    Server,
    screenshot,
    server_db,
    sign_in,
    wait_interactive,
)

SECOND_TECH = "lab.tech2"
BMP, POTASSIUM = "51990-0", "2823-3"


def quiet_patient(server: Server) -> tuple[int, str]:
    """A second technician, and an active demo patient with no laboratory order in the last two days
    (so that the first order raises no duplicate warning): (patient id, MRN)."""
    from hms_app.clock import utcnow
    from hms_app.models.laboratory import LabOrder
    from hms_app.models.organization import Department
    from hms_app.models.patients import Patient
    from hms_app.models.security import AppUser
    from hms_app.services import accounts
    from hms_app.services.permissions import SYSTEM_ACTOR

    with server_db(server) as session:
        if session.execute(select(AppUser.id).where(AppUser.username == SECOND_TECH)).first() is None:
            lab = session.execute(select(Department.id).where(Department.code == "LAB")).scalar_one()
            accounts.create_user(
                session,
                actor=SYSTEM_ACTOR,
                username=SECOND_TECH,
                display_name="Lena Labtech",
                password=DEMO_PASSWORD,
                roles=["lab_technician"],
                department_id=lab,
            )
            session.commit()
        recent = (
            select(LabOrder.patient_id)
            .where(LabOrder.ordered_at >= utcnow() - timedelta(days=2))
            .group_by(LabOrder.patient_id)
        )
        with_results = (
            select(LabOrder.patient_id, func.count(LabOrder.id).label("n"))
            .where(LabOrder.status == "released")
            .group_by(LabOrder.patient_id)
            .subquery()
        )
        # One with earlier results, so the trend and the cumulative table have a history to show.
        row = session.execute(
            select(Patient.id, Patient.mrn)
            .outerjoin(with_results, with_results.c.patient_id == Patient.id)
            .where(Patient.active.is_(True), Patient.deceased_at.is_(None), Patient.id.not_in(recent))
            .order_by(func.coalesce(with_results.c.n, 0).desc(), Patient.id)
            .limit(1)
        ).one()
        return row.id, row.mrn


def latest_accession(server: Server, patient_id: int) -> tuple[str, str]:
    """The serum specimen of the patient's latest request: (accession, request reference)."""
    from hms_app.models.laboratory import LabRequest, Specimen

    with server_db(server) as session:
        request = session.execute(
            select(LabRequest)
            .where(LabRequest.patient_id == patient_id)
            .order_by(LabRequest.id.desc())
            .limit(1)
        ).scalar_one()
        accession = session.execute(
            select(Specimen.accession).where(Specimen.request_id == request.id).order_by(Specimen.id)
        ).scalar_one()
        return accession, request.reference


def _browser(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(base_url=base, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, username)
    return page


def _order_bmp(page: Page) -> None:
    page.locator("[data-testid=order-tests]").click()
    dialog = page.locator("[data-testid=dialog-lab-order]")
    expect(dialog).to_be_visible()
    search = dialog.locator("[data-testid=lab-order-search]")
    search.fill("metabolic")
    pick = dialog.locator(f"[data-testid='pick-{BMP}']")
    expect(pick).to_be_visible()
    pick.click()
    expect(dialog.locator(f"[data-testid='picked-{BMP}']")).to_be_visible()
    dialog.get_by_role("radio", name="STAT").click()
    expect(dialog.get_by_role("radio", name="STAT")).to_be_checked()


def test_order_collect_result_and_read_it_in_the_chart(browser: Browser, hms_server: Server):
    patient_id, mrn = quiet_patient(hms_server)
    chart_url = f"/patients/{patient_id}"

    # ------------------------------------------------------------ the physician orders a BMP STAT
    doctor = _browser(browser, hms_server.url, "dr.grey")
    doctor.goto(chart_url)
    wait_interactive(doctor, "[data-testid=tab-results]")
    doctor.locator("[data-testid=tab-results]").click()
    expect(doctor.locator("[data-testid=results-tab]")).to_be_visible()
    _order_bmp(doctor)
    dialog = doctor.locator("[data-testid=dialog-lab-order]")
    dialog.locator("[data-testid=clinical-question]").fill("Weakness, on spironolactone")
    dialog.locator("[data-testid=place-order]").click()
    expect(doctor.get_by_text("(STAT): 1 specimen to collect.")).to_be_visible()
    expect(dialog).to_have_count(0)
    accession, reference = latest_accession(hms_server, patient_id)
    expect(doctor.get_by_text(f"Ordered {reference} (STAT)")).to_be_visible()
    waiting = doctor.locator(f"[data-testid='to-collect-{accession}']")
    expect(waiting).to_be_visible()
    expect(waiting.locator("[data-testid=stat]")).to_be_visible()

    # The same panel again: the duplicates are listed and "Order anyway" is asked for.
    _order_bmp(doctor)
    dialog.locator("[data-testid=place-order]").click()
    warning = dialog.locator("[data-testid=duplicate-warning]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Potassium [Moles/volume] in Serum or Plasma was already ordered")
    expect(warning).to_contain_text(reference)
    expect(dialog.locator("[data-testid=order-anyway]")).to_be_visible()
    # The dialog is what the physician sees: the viewport, not the page scrolled out under it.
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    doctor.screenshot(path=str(SCREENS_DIR / "lab-chart-02-order-duplicate.png"), animations="disabled")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(doctor.locator("[data-testid^=to-collect-]")).to_have_count(1)  # nothing ordered twice

    # ------------------------------------------------------------ the label, in a tab of its own
    with doctor.context.expect_page() as opened:
        waiting.locator(f"[data-testid='label-{accession}']").click()
    label = opened.value
    expect(label.locator("[data-testid=specimen-label] svg").first).to_be_visible()
    expect(label.locator("[data-testid=label-accession]")).to_have_text(accession)
    expect(label.locator("[data-testid=label-collected]")).to_have_text("Not yet collected")
    expect(label.locator("[data-testid=print]")).to_be_visible()
    assert "<svg" in label.locator("[data-testid=specimen-label]").inner_html()

    # ------------------------------------------------------------ collected from the chart
    waiting.locator(f"[data-testid='collect-{accession}']").click()
    expect(doctor.get_by_text(f"{accession} collected")).to_be_visible()
    expect(waiting).to_have_count(0)
    label.reload()
    expect(label.locator("[data-testid=label-collected]")).to_contain_text("by dr.grey")
    screenshot(label, "lab-chart-03-label")
    label.close()

    # ------------------------------------------------------------ reception, entry, verification
    tech = _browser(browser, hms_server.url, "lab.tech")
    tech.goto("/lab/reception")
    scan = tech.locator("[data-testid=scan-box]")
    wait_interactive(tech, "[data-testid=scan-box]")
    scan.fill(accession)
    scan.press("Enter")
    expect(tech.locator("[data-testid=scan-outcome]")).to_have_attribute("data-ok", "true")
    tech.goto("/lab?view=open")
    entry = tech.locator(f"[data-testid='result-{accession}-{POTASSIUM}']")
    expect(entry).to_be_visible()
    wait_interactive(tech, f"[data-testid='result-{accession}-{POTASSIUM}']")
    entry.fill("5.8")
    entry.press("Enter")
    expect(tech.locator(f"[data-testid='entered-{accession}']")).to_contain_text("5.8 mmol/L")

    second = _browser(browser, hms_server.url, SECOND_TECH)
    second.goto("/lab")
    second.locator("[data-testid=view-to_verify]").click()
    row = second.locator(f"[data-testid='work-{accession}-{POTASSIUM}']")
    expect(row).to_be_visible()
    row.locator(f"[data-testid='tick-{accession}-{POTASSIUM}']").click()
    second.locator("[data-testid=verify-release]").click()
    expect(second.get_by_text("1 result verified and released.")).to_be_visible()

    # ------------------------------------------------------------ the physician reads it in the chart
    doctor.goto(chart_url)
    wait_interactive(doctor, "[data-testid=tab-results]")
    doctor.locator("[data-testid=tab-results]").click()
    potassium = doctor.locator(f"[data-testid='result-{POTASSIUM}']")
    expect(potassium).to_be_visible()
    newest = potassium.locator("td[data-flag]").first
    expect(newest).to_contain_text("5.8")
    expect(newest).to_have_attribute("data-flag", "H")
    expect(newest.locator("[data-testid=flag-H]")).to_be_visible()
    expect(doctor.locator("[data-testid=lab-trend] .js-plotly-plot")).to_be_visible(timeout=60_000)
    screenshot(doctor, "lab-chart-01-results")
    assert mrn
    for page in (doctor, tech, second):
        page.context.close()
