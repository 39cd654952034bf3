"""The laboratory loop from the chart, in real browsers (issue 13's journey): the demo physician opens
a patient's chart, orders a basic metabolic panel STAT from the Results tab (a second order of it
within a day shows the duplicate warning and needs "Order anyway"), prints the tube's label in a new
tab (the Code 128 SVG is on it), collects the specimen; a technician scans it in at reception and
enters a critical potassium on the worklist; the red banner appears on the physician's chart by
itself, and he acknowledges it with a wrong read-back (refused), then the right one; a second
technician verifies and releases it; the physician sees it in the chart's cumulative table with its
HH flag, and the patient on the portal's results page, on a phone.
"""

from __future__ import annotations

import re
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
LIVE_TIMEOUT_MS = 5_000  # the banner appears "within a few seconds"
PORTAL_PASSWORD = "Sunny-meadow-42"


def quiet_patient(server: Server) -> tuple[int, str, str, str]:
    """A second technician, and an active demo patient with no laboratory order in the last two days
    (so that the first order raises no duplicate warning) who gets a portal account: (patient id,
    MRN, name, portal username). Dr Grey's older open alerts (another journey's) are acknowledged
    first, so that his banner starts empty."""
    from hms_app.clock import utcnow
    from hms_app.models.laboratory import CriticalAlert, LabOrder
    from hms_app.models.organization import Department
    from hms_app.models.patients import Patient
    from hms_app.models.security import AppUser
    from hms_app.services import accounts
    from hms_app.services.laboratory.critical import acknowledge_alert
    from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor

    with server_db(server) as session:
        user = session.execute(select(AppUser).where(AppUser.username == "dr.grey")).scalar_one()
        grey = Actor(
            user.id,
            user.username,
            user.display_name,
            roles=frozenset({"physician"}),
            permissions=DEFAULT_GRANTS["physician"],
        )
        for alert in session.execute(
            select(CriticalAlert).where(CriticalAlert.status == "open", CriticalAlert.clinician_id == user.id)
        ).scalars():
            acknowledge_alert(session, actor=grey, alert_id=alert.id, read_back=alert.summary)
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
        with_account = select(AppUser.patient_id).where(AppUser.patient_id.is_not(None))
        row = session.execute(
            select(Patient.id, Patient.mrn, Patient.given_name, Patient.family_name)
            .outerjoin(with_results, with_results.c.patient_id == Patient.id)
            .where(
                Patient.active.is_(True),
                Patient.deceased_at.is_(None),
                Patient.id.not_in(recent),
                Patient.id.not_in(with_account),
            )
            .order_by(func.coalesce(with_results.c.n, 0).desc(), Patient.id)
            .limit(1)
        ).one()
        username = f"pt.lab{row.id}"
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=f"{row.given_name} {row.family_name}",
            password=PORTAL_PASSWORD,
            roles=["patient"],
            patient_id=row.id,
        )
        session.commit()
        return row.id, row.mrn, f"{row.family_name.upper()}, {row.given_name}", username


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


def _browser(browser: Browser, base: str, username: str, password: str = DEMO_PASSWORD, **options) -> Page:
    context = browser.new_context(base_url=base, **(options or {"viewport": {"width": 1366, "height": 900}}))
    page = context.new_page()
    sign_in(page, username, password)
    return page


def _open_alert(server: Server, patient_id: int) -> int:
    from hms_app.models.laboratory import CriticalAlert

    with server_db(server) as session:
        return session.execute(
            select(CriticalAlert.id).where(
                CriticalAlert.patient_id == patient_id, CriticalAlert.status == "open"
            )
        ).scalar_one()


def _order_bmp(page: Page) -> None:
    page.locator("[data-testid=order-tests]").click()
    dialog = page.locator("[data-testid=dialog-lab-order]")
    expect(dialog).to_be_visible()
    search = dialog.locator("[data-testid=lab-order-search]")
    search.fill("metabolic")
    # Wait for the list to answer the search: an "Add" clicked while the unfiltered list is
    # re-drawn lands on whatever row moves under the pointer.
    unrelated = dialog.locator("[data-testid=lab-order-hits] > *").filter(
        has_not_text=re.compile("metabolic", re.I)
    )
    expect(unrelated).to_have_count(0)
    pick = dialog.locator(f"[data-testid='pick-{BMP}']")
    expect(pick).to_be_visible()
    pick.click()
    expect(dialog.locator(f"[data-testid='picked-{BMP}']")).to_be_visible()
    dialog.get_by_role("radio", name="STAT").click()
    expect(dialog.get_by_role("radio", name="STAT")).to_be_checked()


def test_order_collect_result_and_read_it_in_the_chart(browser: Browser, hms_server: Server):
    patient_id, mrn, name, portal_user = quiet_patient(hms_server)
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
    expect(warning).to_contain_text("K was already ordered")
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
    doctor.evaluate("window.__noReload = 'still the chart'")
    entry.fill("6.9")
    entry.press("Enter")
    expect(tech.locator(f"[data-testid='entered-{accession}']")).to_contain_text("6.9 mmol/L")
    expect(tech.get_by_text("the ordering clinician is alerted")).to_be_visible()
    alert_id = _open_alert(hms_server, patient_id)

    # ------------------------------------------------------------ the banner on the physician's chart
    line = doctor.locator(f"[data-testid=critical-alert-{alert_id}]")
    expect(line).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(line).to_contain_text(name)
    expect(line).to_contain_text(mrn)
    expect(line.locator("[data-testid=critical-result]")).to_contain_text("6.9 mmol/L")
    expect(line.locator("[data-testid=critical-flag]")).to_have_text("Critically high")
    screenshot(doctor, "critical-01-banner")
    line.locator("[data-testid=critical-acknowledge]").click()
    ack = doctor.locator("[data-testid=acknowledge-dialog]")
    expect(ack).to_be_visible()
    read_back = ack.locator("[data-testid=read-back]")
    read_back.fill("potassium 6.5")
    ack.locator("[data-testid=read-back-submit]").click()
    expect(ack.locator("[data-testid=read-back-error]")).to_have_text(
        "The read-back must repeat the value (6.9), as read back on the telephone."
    )
    screenshot(doctor, "critical-02-acknowledge-dialog")
    read_back.fill("potassium 6.9 mmol/L")
    ack.locator("[data-testid=read-back-submit]").click()
    expect(ack).to_be_hidden()
    expect(doctor.locator("[data-testid=critical-banner]")).to_have_count(0)
    expect(doctor.get_by_text("Acknowledged: ")).to_be_visible()
    assert doctor.evaluate("window.__noReload") == "still the chart"

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
    expect(newest).to_contain_text("6.9")
    expect(newest).to_have_attribute("data-flag", "HH")
    expect(newest.locator("[data-testid=flag-HH]")).to_be_visible()
    expect(doctor.locator("[data-testid=lab-trend] .js-plotly-plot")).to_be_visible(timeout=60_000)
    screenshot(doctor, "lab-chart-01-results")

    # ------------------------------------------------------------ the patient, on a phone
    patient = _browser(
        browser,
        hms_server.url,
        portal_user,
        PORTAL_PASSWORD,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    patient.goto("/portal/results")
    row = patient.locator("[data-testid=result-row]").filter(has_text="Potassium")
    expect(row).to_be_visible()
    expect(row.locator("[data-testid=result-value]")).to_have_text("6.9 mmol/L")
    expect(row.locator("[data-testid=result-flag]")).to_have_text("far above the usual range")
    expect(row).to_contain_text("Usual range: 3.5-5.1 mmol/L")
    width = patient.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the results page is {width} px wide on a 390 px phone"
    screenshot(patient, "critical-04-portal-results")
    for page in (doctor, tech, second, patient):
        page.context.close()
