"""The critical-result loop in real browsers: Dr Grey is reading his home page when the laboratory
enters a critical potassium for one of his patients; the red banner appears at the top of his page by
itself (no reload), he acknowledges it with a wrong read-back (the service's message), then the right
one, and the banner goes. Once released, the patient sees the result on the portal's results page.

The order, the collection and the reception are made through the services on the server's database.
The entry is made by the technician in her browser: it is the server that must publish the notice
(the embedded server hears notices from its own process only; a change written by this test's
process would reach the banner only on PostgreSQL or Redis).
"""

from __future__ import annotations

import random

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DEMO_PASSWORD, SCREENS_DIR, Server, server_db, sign_in, wait_interactive

LIVE_TIMEOUT_MS = 5_000  # "within a few seconds"
POTASSIUM = "2823-3"
PORTAL_PASSWORD = "Sunny-meadow-42"
SECOND_TECH = "lab.tech2"  # the same account the laboratory desk journey uses, if it ran first


def _actor(session, username: str, role: str):
    from hms_app.models.security import AppUser
    from hms_app.services.permissions import DEFAULT_GRANTS, Actor

    user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
    return Actor(
        user.id, user.username, user.display_name, roles=frozenset({role}), permissions=DEFAULT_GRANTS[role]
    )


def received_potassium(server: Server) -> dict:
    """A STAT potassium Dr Grey ordered for a patient who has no portal account yet, collected on the
    ward and received in the laboratory; the patient gets a portal account. Dr Grey's older open
    alerts (another journey's) are acknowledged first, so his banner starts empty."""
    from hms_app.models.laboratory import CriticalAlert, LabTest
    from hms_app.models.patients import Patient
    from hms_app.models.security import AppUser
    from hms_app.services import accounts
    from hms_app.services.laboratory.critical import acknowledge_alert
    from hms_app.services.laboratory.orders import place_order
    from hms_app.services.laboratory.specimens import collect_specimen, receive_specimen
    from hms_app.services.permissions import SYSTEM_ACTOR

    with server_db(server) as session:
        grey = _actor(session, "dr.grey", "physician")
        for alert in session.execute(
            select(CriticalAlert).where(
                CriticalAlert.status == "open", CriticalAlert.clinician_id == grey.user_id
            )
        ).scalars():
            acknowledge_alert(session, actor=grey, alert_id=alert.id, read_back=alert.summary)
        with_account = select(AppUser.patient_id).where(AppUser.patient_id.is_not(None))
        candidates = session.execute(
            select(Patient.id, Patient.mrn, Patient.given_name, Patient.family_name)
            .where(Patient.active.is_(True), Patient.id.not_in(with_account))
            .order_by(Patient.id)
            .limit(250)
        ).all()
        patient = random.choice(candidates[150:])
        username = f"pt.{random.randint(10000, 99999)}"
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=f"{patient.given_name} {patient.family_name}",
            password=PORTAL_PASSWORD,
            roles=["patient"],
            patient_id=patient.id,
        )
        session.commit()
        potassium = session.execute(select(LabTest.id).where(LabTest.code == POTASSIUM)).scalar_one()
        placed = place_order(
            session,
            actor=grey,
            patient_id=patient.id,
            test_ids=[potassium],
            priority="stat",
            clinical_question="Weakness, on spironolactone",
            confirm_duplicates=True,
        )
        collect_specimen(
            session, actor=_actor(session, "nurse.joy", "nurse"), specimen_id=placed.specimen_ids[0]
        )
        receive_specimen(
            session, actor=_actor(session, "lab.tech", "lab_technician"), scan=placed.accessions[0]
        )
        return {
            "accession": placed.accessions[0],
            "patient_id": patient.id,
            "mrn": patient.mrn,
            "name": f"{patient.given_name} {patient.family_name}",
            "username": username,
        }


def _alert_id(server: Server, patient_id: int) -> int:
    from hms_app.models.laboratory import CriticalAlert

    with server_db(server) as session:
        return session.execute(
            select(CriticalAlert.id).where(
                CriticalAlert.patient_id == patient_id, CriticalAlert.status == "open"
            )
        ).scalar_one()


def release(server: Server, patient_id: int) -> None:
    """A second technician verifies and releases the entered potassium (the first entered it)."""
    from hms_app.models.laboratory import LabResult
    from hms_app.models.organization import Department
    from hms_app.models.security import AppUser
    from hms_app.services import accounts
    from hms_app.services.laboratory.results import verify_results
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
        result_id = session.execute(
            select(LabResult.id).where(LabResult.patient_id == patient_id, LabResult.status == "preliminary")
        ).scalar_one()
        assert (
            verify_results(
                session, actor=_actor(session, SECOND_TECH, "lab_technician"), result_ids=[result_id]
            )
            == 1
        )


def shot(page: Page, name: str) -> None:
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), full_page=True, animations="disabled")


def _browser(browser: Browser, base: str, username: str, password: str = DEMO_PASSWORD, **options) -> Page:
    context = browser.new_context(base_url=base, **(options or {"viewport": {"width": 1366, "height": 900}}))
    page = context.new_page()
    sign_in(page, username, password)
    return page


def test_a_critical_potassium_reaches_the_physicians_banner_by_itself_and_the_patients_portal(
    browser: Browser, hms_server: Server
):
    case = received_potassium(hms_server)

    # ------------------------------------------------------------ Dr Grey reads his home page
    doctor = _browser(browser, hms_server.url, "dr.grey")
    doctor.goto("/")
    expect(doctor.locator("[data-testid=page-title]")).to_have_text("Home")
    expect(doctor.locator("[data-testid=critical-banner]")).to_have_count(0)
    doctor.evaluate("window.__noReload = 'still the same page'")

    # ------------------------------------------------------------ the laboratory enters 6.9
    tech = _browser(browser, hms_server.url, "lab.tech")
    tech.goto("/lab?view=open")
    entry = tech.locator(f"[data-testid='result-{case['accession']}-{POTASSIUM}']")
    expect(entry).to_be_visible()
    wait_interactive(tech, f"[data-testid='result-{case['accession']}-{POTASSIUM}']")
    entry.fill("6.9")
    entry.press("Enter")
    expect(tech.get_by_text("the ordering clinician is alerted")).to_be_visible()
    alert_id = _alert_id(hms_server, case["patient_id"])

    # ------------------------------------------------------------ the banner appears by itself
    banner = doctor.locator("[data-testid=critical-banner]")
    line = doctor.locator(f"[data-testid=critical-alert-{alert_id}]")
    expect(line).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(line).to_contain_text(case["name"])
    expect(line).to_contain_text(case["mrn"])
    expect(line.locator("[data-testid=critical-result]")).to_contain_text("6.9 mmol/L")
    expect(line.locator("[data-testid=critical-flag]")).to_have_text("Critically high")
    expect(line).to_contain_text("Raised at")
    expect(doctor.locator("[data-testid=page-title]")).to_have_text("Home")  # still on his page
    shot(doctor, "critical-01-banner")

    # ------------------------------------------------------------ a wrong read-back, then the right one
    line.locator("[data-testid=critical-acknowledge]").click()
    dialog = doctor.locator("[data-testid=acknowledge-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(case["name"])
    read_back = dialog.locator("[data-testid=read-back]")
    read_back.fill("potassium 6.5")
    dialog.locator("[data-testid=read-back-submit]").click()
    expect(dialog.locator("[data-testid=read-back-error]")).to_have_text(
        "The read-back must repeat the value (6.9), as read back on the telephone."
    )
    expect(line).to_be_visible()
    shot(doctor, "critical-02-acknowledge-dialog")
    read_back.fill("potassium 6.9 mmol/L")
    dialog.locator("[data-testid=read-back-submit]").click()
    expect(dialog).to_be_hidden()
    expect(line).to_have_count(0)
    expect(banner).to_have_count(0)
    expect(doctor.get_by_text("Acknowledged: ")).to_be_visible()
    assert doctor.evaluate("window.__noReload") == "still the same page"
    shot(doctor, "critical-03-acknowledged")

    # ------------------------------------------------------------ released: the patient's portal
    release(hms_server, case["patient_id"])
    patient = _browser(
        browser,
        hms_server.url,
        case["username"],
        PORTAL_PASSWORD,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    patient.goto("/portal/results")
    expect(patient.locator("[data-testid=portal-nav-results]")).to_have_attribute("aria-current", "page")
    row = patient.locator("[data-testid=result-row]").filter(has_text="Potassium")
    expect(row).to_be_visible()
    expect(row.locator("[data-testid=result-value]")).to_have_text("6.9 mmol/L")
    expect(row.locator("[data-testid=result-flag]")).to_have_text("far above the usual range")
    expect(row).to_contain_text("Usual range: 3.5-5.1 mmol/L")
    expect(patient.locator("[data-testid=result-day]").first).to_have_text("Today")
    width = patient.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the results page is {width} px wide on a 390 px phone"
    shot(patient, "critical-04-portal-results")
    for page in (doctor, tech, patient):
        page.context.close()
