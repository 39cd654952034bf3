"""The laboratory desk in real browsers: a technician scans a STAT specimen in at reception (typing the
accession and Enter, as a keyboard-wedge scanner does), the worklist open in a second technician's
browser shows it arrive by itself, the first technician enters a critical potassium on the grid
(Enter saves it), the second sees it appear in "To verify" by itself, the first is refused when
verifying her own entry, and the second verifies and releases it; the critical board shows the
alert raised for the ordering physician.

The demo hospital's physician orders the test and a nurse collects it through the services (the
chart's order dialog and collection are another screen's journey).
"""

from __future__ import annotations

import random

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DEMO_PASSWORD, SCREENS_DIR, Server, server_db, sign_in, wait_interactive

LIVE_TIMEOUT_MS = 5_000
SECOND_TECH = "lab.tech2"


def _actor(session, username: str):
    from hms_app.models.security import AppUser
    from hms_app.services.permissions import DEFAULT_GRANTS, Actor

    user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
    role = {"dr.grey": "physician", "nurse.joy": "nurse"}[username]
    return Actor(
        user.id, user.username, user.display_name, roles=frozenset({role}), permissions=DEFAULT_GRANTS[role]
    )


def stat_potassium(server: Server) -> tuple[str, str]:
    """A second technician, and a STAT potassium ordered by the demo physician and collected on the
    ward: (accession, patient's MRN)."""
    from hms_app.models.laboratory import LabTest
    from hms_app.models.organization import Department
    from hms_app.models.patients import Patient
    from hms_app.models.security import AppUser
    from hms_app.services import accounts
    from hms_app.services.laboratory.orders import place_order
    from hms_app.services.laboratory.specimens import collect_specimen
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
        potassium = session.execute(select(LabTest.id).where(LabTest.code == "2823-3")).scalar_one()
        patients = session.execute(
            select(Patient.id, Patient.mrn).where(Patient.active.is_(True)).order_by(Patient.id).limit(150)
        ).all()
        patient_id, mrn = random.choice(patients[100:])
        placed = place_order(
            session,
            actor=_actor(session, "dr.grey"),
            patient_id=patient_id,
            test_ids=[potassium],
            priority="stat",
            clinical_question="Weakness, on spironolactone",
            confirm_duplicates=True,
        )
        collect_specimen(session, actor=_actor(session, "nurse.joy"), specimen_id=placed.specimen_ids[0])
        return placed.accessions[0], mrn


def shot(page: Page, name: str) -> None:
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), full_page=True, animations="disabled")


def _browser(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(base_url=base, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, username)
    return page


def _version(page: Page) -> int:
    return int(page.locator("[data-testid=lab-worklist]").get_attribute("data-version"))


@pytest.mark.scaled_out
def test_reception_entry_live_worklist_and_verification_by_another_technician(
    browser: Browser, hms_server: Server
):
    accession, mrn = stat_potassium(hms_server)
    row_id = f"[data-testid='work-{accession}-2823-3']"

    # ------------------------------------------------------------ the second technician's worklist
    second = _browser(browser, hms_server.url, SECOND_TECH)
    second.goto("/lab")
    expect(second.locator("[data-testid=lab-worklist]")).to_be_visible()
    expect(second.locator("[data-testid=view-open]")).to_have_attribute("data-state", "on")
    expect(second.locator(row_id)).to_have_count(0)  # collected, not yet in the lab
    second.evaluate("window.__noReload = 'still the same page'")
    before = _version(second)

    # ------------------------------------------------------------ reception: scan the label
    first = _browser(browser, hms_server.url, "lab.tech")
    first.goto("/lab/reception")
    waiting = first.locator(f"[data-testid='waiting-{accession}']")
    expect(waiting).to_be_visible()
    expect(waiting.locator("[data-testid=stat]")).to_be_visible()
    scan = first.locator("[data-testid=scan-box]")
    wait_interactive(first, "[data-testid=scan-box]")
    expect(scan).to_be_focused()
    scan.fill(accession.lower())
    scan.press("Enter")
    outcome = first.locator("[data-testid=scan-outcome]")
    expect(outcome).to_have_attribute("data-ok", "true")
    expect(outcome).to_contain_text(accession)
    expect(outcome).to_contain_text("STAT")
    expect(first.locator(f"[data-testid='handled-{accession}']")).to_contain_text("Received")
    expect(scan).to_be_focused()  # ready for the next tube
    shot(first, "lab-01-reception-scanned")

    # The second technician's worklist showed the specimen arrive by itself, at the top (STAT).
    row = second.locator(row_id)
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(second.locator("[data-testid=worklist-table] tbody tr").first).to_have_attribute(
        "data-testid", f"work-{accession}-2823-3"
    )
    assert _version(second) > before
    expect(second.locator("[data-testid=stat-banner]")).to_be_visible()
    shot(second, "lab-02-worklist-arrived")

    # ------------------------------------------------------------ the first technician enters it
    first.goto("/lab?view=open")
    entry = first.locator(f"[data-testid='result-{accession}-2823-3']")
    expect(entry).to_be_visible()
    wait_interactive(first, f"[data-testid='result-{accession}-2823-3']")
    entry.fill("6.9")
    entry.press("Enter")
    expect(first.locator(row_id)).to_have_count(0)  # it left "In lab"
    entered = first.locator(f"[data-testid='entered-{accession}']")
    expect(entered).to_contain_text("6.9 mmol/L")
    expect(entered.locator("[data-testid=flag-HH]")).to_be_visible()
    expect(first.get_by_text("the ordering clinician is alerted")).to_be_visible()
    shot(first, "lab-03-entered-critical")

    # The second technician's list followed; in "To verify" the result waits, entered by lab.tech.
    expect(second.locator(row_id)).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    second.locator("[data-testid=view-to_verify]").click()
    row = second.locator(row_id)
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-flag", "HH")
    expect(row).to_contain_text("by lab.tech")

    # ------------------------------------------------------------ one's own entry is refused
    first.locator("[data-testid=view-to_verify]").click()
    mine = first.locator(row_id)
    expect(mine).to_contain_text("you")
    mine.locator(f"[data-testid='tick-{accession}-2823-3']").click()
    first.locator("[data-testid=verify-release]").click()
    expect(first.get_by_text("You entered one of these results yourself")).to_be_visible()
    shot(first, "lab-04-own-entry-refused")

    # ------------------------------------------------------------ the second technician releases it
    row.locator(f"[data-testid='tick-{accession}-2823-3']").click()
    second.locator("[data-testid=verify-release]").click()
    expect(second.get_by_text("1 result verified and released.")).to_be_visible()
    expect(second.locator(row_id)).to_have_count(0)
    expect(first.locator(row_id)).to_have_count(0, timeout=LIVE_TIMEOUT_MS)  # live in the first, too
    assert second.evaluate("window.__noReload") == "still the same page"
    shot(second, "lab-05-verified")

    # ------------------------------------------------------------ the critical board
    first.goto("/lab/critical")
    alert = first.locator("[data-testid=critical-table] tbody tr").filter(has_text=mrn)
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("6.9")
    expect(alert).to_contain_text("Ordering clinician")
    shot(first, "lab-06-critical-board")
    for page in (first, second):
        page.context.close()
