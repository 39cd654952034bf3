"""Live boards across browsers: what a nurse does on the bed board in one browser shows in a
physician's browser without a reload (the embedded mode: one server process). Across several
workers (Redis) the same path is measured by `make bench` (board_propagation_redis_*).

Two browser contexts are two separate browsers as far as the server knows: their own cookies,
sessions and websockets, signed in as different users. The test never reloads context B; it
sets a marker on B's window first and checks it is still there at the end, so a reload (which
would show the change too) cannot pass for a live update.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import SCREENS_DIR, Server, server_db, sign_in

# These tests work with "today": never across the hospital's midnight.
pytestmark = pytest.mark.usefixtures("clear_of_midnight")

LIVE_TIMEOUT_MS = 5_000  # "within a few seconds": the target is far lower (see `make bench`)


def _fresh_patient(server: Server) -> tuple[int, str, str]:
    """A patient of the demo hospital who has never been admitted: (id, name, MRN)."""
    from hms_app.models.patients import Patient
    from hms_app.models.wards import Admission

    with server_db(server) as session:
        admitted = select(Admission.patient_id)
        patient = session.execute(
            select(Patient)
            .where(
                Patient.id.not_in(admitted), Patient.merged_into_id.is_(None), Patient.deceased_at.is_(None)
            )
            .order_by(Patient.id.desc())
            .limit(1)
        ).scalar_one()
        # As the boards and dialogs show it: given, middle and family name.
        names = (patient.given_name, patient.middle_name, patient.family_name)
        return patient.id, " ".join(n for n in names if n), patient.mrn


def _ward_with_a_free_bed(server: Server) -> int:
    """The demo fills the beds at random: some days a ward has none free. Take the first ward
    that has one; if none has, a bed being cleaned is marked clean first (as a nurse would)."""
    from hms_app.models.wards import Bed
    from hms_app.services import wards
    from hms_app.services.permissions import SYSTEM_ACTOR

    with server_db(server) as session:
        for status in ("free", "cleaning"):
            bed = session.execute(
                select(Bed).where(Bed.status == status).order_by(Bed.ward_id, Bed.label).limit(1)
            ).scalar_one_or_none()
            if bed is not None:
                if status == "cleaning":
                    wards.mark_bed_clean(session, actor=SYSTEM_ACTOR, bed_id=bed.id)
                return bed.ward_id
    raise AssertionError("the demo hospital has no bed free or being cleaned")


def _board(browser: Browser, base: str, username: str, ward_id: int) -> Page:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, username)
    page.goto(f"/wards?ward={ward_id}")
    expect(page.locator("[data-testid=bed-grid]")).to_be_visible()
    return page


def _tile(page: Page, label: str):
    return page.locator(f"[data-testid='bed-{label}']")


def _shot(page: Page, name: str) -> None:
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), animations="disabled")


@pytest.mark.scaled_out
def test_a_bed_change_in_one_browser_shows_in_another_without_reload(browser: Browser, hms_server: Server):
    ward_id = _ward_with_a_free_bed(hms_server)
    nurse = _board(browser, hms_server.url, "nurse.joy", ward_id)
    doctor = _board(browser, hms_server.url, "dr.grey", ward_id)
    doctor.evaluate("window.__noReload = 'still the same page'")

    # Both boards show the same ward; the nurse takes its first free bed.
    free = nurse.locator("[data-testid^='bed-'][data-status=free]").first
    expect(free).to_be_visible()
    label = free.get_attribute("data-testid").removeprefix("bed-")
    expect(_tile(doctor, label)).to_have_attribute("data-status", "free")
    # The physician may look but not change beds: no admit button on the doctor's board.
    expect(_tile(doctor, label).locator("[data-testid=bed-admit]")).to_have_count(0)
    patient_id, name, mrn = _fresh_patient(hms_server)

    # ---------------------------------------------------------------- admit in A, see it in B
    _tile(nurse, label).locator("[data-testid=bed-admit]").click()
    dialog = nurse.locator("[data-testid=dialog-admit]")
    expect(dialog).to_be_visible()
    dialog.locator("[data-testid=admit-search]").fill(mrn)
    option = dialog.locator("[data-testid=admit-option]").filter(has_text=mrn)
    expect(option).to_be_visible()
    option.click()
    # The chosen patient is named in full (a middle name too) with the MRN that identifies them.
    expect(dialog.locator("[data-testid=admit-chosen]")).to_contain_text(mrn)
    dialog.locator("textarea[name=reason]").fill("Community-acquired pneumonia")
    _shot(nurse, "live-01-nurse-admits")
    dialog.locator("[data-testid=dialog-submit]").click()
    expect(dialog).to_be_hidden()
    expect(_tile(nurse, label)).to_have_attribute("data-status", "occupied")

    expect(_tile(doctor, label)).to_have_attribute("data-status", "occupied", timeout=LIVE_TIMEOUT_MS)
    expect(_tile(doctor, label).locator("[data-testid=bed-patient]")).to_have_text(
        name, timeout=LIVE_TIMEOUT_MS
    )
    expect(_tile(doctor, label).locator("[data-testid=bed-los]")).to_have_text("0\u00a0h")
    _shot(doctor, "live-02-doctor-sees-admission")

    # ---------------------------------------------------------------- discharge in A, see it in B
    _tile(nurse, label).locator("[data-testid=bed-discharge]").click()
    discharge = nurse.locator("[data-testid=dialog-discharge]")
    expect(discharge).to_contain_text(name)
    discharge.locator("[data-testid=dialog-submit]").click()
    expect(discharge).to_be_hidden()
    expect(_tile(doctor, label)).to_have_attribute("data-status", "cleaning", timeout=LIVE_TIMEOUT_MS)
    expect(_tile(doctor, label)).not_to_contain_text(name)
    _shot(doctor, "live-03-doctor-sees-discharge")

    # ---------------------------------------------------------------- the bed is cleaned: free again in B
    _tile(nurse, label).locator("[data-testid=bed-clean]").click()
    expect(_tile(doctor, label)).to_have_attribute("data-status", "free", timeout=LIVE_TIMEOUT_MS)
    with server_db(hms_server) as session:
        from hms_app.models.wards import Admission

        stay = session.execute(select(Admission).where(Admission.patient_id == patient_id)).scalar_one()
        assert (stay.status, stay.discharge_disposition, stay.admitted_by) == (
            "discharged",
            "home",
            "nurse.joy",
        )

    assert doctor.evaluate("window.__noReload") == "still the same page"
    _shot(nurse, "live-04-nurse-board")
    doctor.context.close()
    nurse.context.close()


def _todays_booking(server: Server) -> tuple[int, str]:
    """A booked appointment starting now (set-up the UI would need a free slot for): (id, short name)."""
    import random
    from datetime import timedelta

    from hms_app.clock import utcnow
    from hms_app.models.patients import Patient
    from hms_app.models.scheduling import Appointment, AppointmentType, HealthcareService

    now = utcnow().replace(second=0, microsecond=0)
    start = now - timedelta(minutes=now.minute % 5)  # on the 5-minute grid, still today
    with server_db(server) as session:
        service = session.execute(
            select(HealthcareService).order_by(HealthcareService.id).limit(1)
        ).scalar_one()
        kind = session.execute(
            select(AppointmentType).where(AppointmentType.service_id == service.id).limit(1)
        ).scalar_one()
        patient = session.execute(select(Patient).order_by(Patient.id.desc()).limit(1)).scalar_one()
        appointment = Appointment(
            reference=f"AP-E2E{random.randint(100, 999)}",
            patient_id=patient.id,
            service_id=service.id,
            appointment_type_id=kind.id,
            department_id=service.department_id,
            start_at=start,
            end_at=start + timedelta(minutes=kind.duration_minutes),
            status="booked",
            created_by="e2e",
        )
        session.add(appointment)
        session.commit()
        return appointment.id, f"{patient.given_name} {patient.family_name[:1]}."


@pytest.mark.scaled_out
def test_a_check_in_on_the_flow_board_moves_the_card_in_every_browser(browser: Browser, hms_server: Server):
    appointment_id, short_name = _todays_booking(hms_server)
    base = hms_server.url
    pages = []
    for username in ("reception", "dr.grey"):
        context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sign_in(page, username)
        page.goto("/boards/flow")
        expect(page.locator("[data-testid=flow-board]")).to_be_visible()
        pages.append(page)
    desk, doctor = pages
    doctor.evaluate("window.__noReload = 'still the same page'")
    card = f"[data-testid=flow-card-{appointment_id}]"
    expect(doctor.locator(card)).to_have_attribute("data-status", "booked")
    expect(doctor.locator(card)).to_contain_text(short_name)

    desk.locator(card).locator("[data-testid=flow-check-in]").click()
    expect(desk.locator(card)).to_have_attribute("data-status", "arrived")
    expect(doctor.locator(card)).to_have_attribute("data-status", "arrived", timeout=LIVE_TIMEOUT_MS)
    expect(doctor.locator("[data-testid=flow-column-arrived]").locator(card)).to_be_visible()
    expect(doctor.locator(card).locator("[data-testid=flow-token]")).to_have_text(
        re.compile(r"^[A-Z]-\d{3}$")
    )
    _shot(doctor, "live-05-doctor-sees-check-in")

    desk.locator(card).locator("[data-testid=flow-call]").click()
    expect(doctor.locator(card)).to_have_attribute("data-status", "in_room", timeout=LIVE_TIMEOUT_MS)
    assert doctor.evaluate("window.__noReload") == "still the same page"
    for page in pages:
        page.context.close()
