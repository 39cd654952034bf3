"""A video visit between two browsers: the patient checks camera and microphone and waits; the
doctor sees them on the flow board, admits them, and they talk (WebRTC media flowing both ways,
read from each browser's RTCPeerConnection.getStats()); the patient reloads and the call comes
back; the doctor ends the visit: the appointment is completed and charged.

Chromium's fake camera and microphone stand in for real devices (tests/e2e/conftest.py). The two
browser contexts are two separate browsers as far as the server knows (own cookies, sessions).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import SCREENS_DIR, Server, server_db, sign_in

pytestmark = pytest.mark.usefixtures("clear_of_midnight")

CALL_TIMEOUT_MS = 30_000

INBOUND_VIDEO_BYTES = """async () => {
    const pc = window.__hmsVideo && window.__hmsVideo.pc;
    if (!pc) return 0;
    let bytes = 0;
    (await pc.getStats()).forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "video") bytes += r.bytesReceived || 0;
    });
    return bytes;
}"""


@pytest.fixture
def video_visit(hms_server: Server) -> dict:
    """A video consultation starting now for the demo portal patient, booked with Dr Grey."""
    from hms_app.clock import utcnow
    from hms_app.models.scheduling import Appointment, AppointmentParticipant, AppointmentType, Resource
    from hms_app.models.security import AppUser

    with server_db(hms_server) as session:
        patient = session.execute(select(AppUser).where(AppUser.username == "patient")).scalar_one()
        doctor = session.execute(select(AppUser).where(AppUser.username == "dr.grey")).scalar_one()
        vtype = session.execute(
            select(AppointmentType)
            .where(AppointmentType.mode == "virtual", AppointmentType.price_code.is_not(None))
            .order_by(AppointmentType.id)
            .limit(1)
        ).scalar_one()
        from hms_app.models.scheduling import HealthcareService

        service = session.get(HealthcareService, vtype.service_id)
        provider = Resource(
            kind="provider",
            name="Dr Meredith Grey (video)",
            department_id=service.department_id,
            user_id=doctor.id,
        )
        session.add(provider)
        session.flush()
        now = utcnow().replace(second=0, microsecond=0)
        start = now - timedelta(minutes=now.minute % 5)
        count = session.execute(select(Appointment.id).order_by(Appointment.id.desc()).limit(1)).scalar_one()
        appointment = Appointment(
            reference=f"AP-V{count % 100000:05d}",
            patient_id=patient.patient_id,
            service_id=service.id,
            appointment_type_id=vtype.id,
            department_id=service.department_id,
            start_at=start,
            end_at=start + timedelta(minutes=vtype.duration_minutes),
            status="booked",
            booked_via="staff",
        )
        session.add(appointment)
        session.flush()
        session.add(AppointmentParticipant(appointment_id=appointment.id, resource_id=provider.id))
        session.commit()
        return {
            "id": appointment.id,
            "reference": appointment.reference,
            "price_code": vtype.price_code,
            "department_id": service.department_id,
        }


def _context(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, username)
    return page


def _shot(page: Page, name: str) -> None:
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), animations="disabled")


def _bytes_grow(page: Page) -> int:
    """Wait until the browser receives the other side's video, then until it receives more."""
    page.wait_for_function(f"({INBOUND_VIDEO_BYTES})().then((b) => b > 0)", timeout=CALL_TIMEOUT_MS)
    first = page.evaluate(INBOUND_VIDEO_BYTES)
    page.wait_for_function(
        f"(before) => ({INBOUND_VIDEO_BYTES})().then((b) => b > before)", arg=first, timeout=CALL_TIMEOUT_MS
    )
    return page.evaluate(INBOUND_VIDEO_BYTES)


def test_a_video_visit_from_the_waiting_room_to_the_bill(
    browser: Browser, base_url: str, hms_server: Server, video_visit: dict
):
    from hms_app.models.billing import ChargeItem
    from hms_app.models.scheduling import Appointment
    from hms_app.models.video_visits import VideoVisit

    visit_id = video_visit["id"]
    patient = _context(browser, base_url, "patient")
    doctor = _context(browser, base_url, "dr.grey")

    # The patient joins from their appointments: the button is open (the visit starts now).
    patient.goto("/portal/appointments")
    join = patient.locator(f"[data-testid='join-{video_visit['reference']}']")
    expect(join).to_be_visible()
    join.click()
    expect(patient).to_have_url(re.compile(rf"/portal/video/{visit_id}/?$"))
    expect(patient.locator("[data-testid=devices-ok]")).to_be_visible(timeout=CALL_TIMEOUT_MS)
    patient.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=preview-video]'); return v && v.videoWidth > 0; }"
    )
    # The microphone meter moves with the (fake) microphone's sound.
    patient.wait_for_function(
        "() => Number(document.querySelector('[data-testid=mic-meter]').dataset.level) > 0",
        timeout=CALL_TIMEOUT_MS,
    )
    _shot(patient, "video-device-check")
    patient.locator("[data-testid=enter-waiting-room]").click()
    expect(patient.locator("[data-testid=waiting-room]")).to_be_visible()
    _shot(patient, "video-waiting-room")

    # The doctor's flow board shows the waiting patient (live) and admits them.
    doctor.goto("/boards/flow")
    entry = doctor.locator(f"[data-testid=video-entry][data-appointment='{visit_id}']")
    expect(entry).to_have_attribute("data-status", "waiting")
    # Its card on the board is a video card: Admit for its own doctor, no Call in / Complete.
    card = doctor.locator(f"[data-testid=flow-card-{visit_id}]")
    expect(card).to_have_attribute("data-mode", "virtual")
    expect(card.locator("[data-testid=flow-video-status]")).to_contain_text("in video waiting room")
    expect(card.locator("[data-testid=flow-video-admit]")).to_be_visible()
    expect(card.locator("[data-testid=flow-call]")).to_have_count(0)
    card.scroll_into_view_if_needed()
    _shot(doctor, "video-flow-board-waiting")
    entry.locator("[data-testid=video-admit]").click()
    expect(doctor).to_have_url(re.compile(rf"/video/{visit_id}/?$"))
    expect(doctor.locator("[data-testid=video-call]")).to_be_visible(timeout=CALL_TIMEOUT_MS)
    # The patient's page turned into the call by itself.
    expect(patient.locator("[data-testid=video-call]")).to_be_visible(timeout=CALL_TIMEOUT_MS)

    # Media flows both ways.
    _bytes_grow(doctor)
    _bytes_grow(patient)
    expect(doctor.locator("[data-testid=video-call]")).to_have_attribute("data-phase", "connected")
    # In-call chat goes over the peer connection's data channel, browser to browser.
    doctor.locator("[data-testid=chat-input]").fill("Can you show me your throat?")
    doctor.locator("[data-testid=chat-input]").press("Enter")
    expect(patient.locator("[data-testid=call-chat]")).to_contain_text("Can you show me your throat?")
    # Mute stops the microphone's track being sent; unmute restores it.
    patient.locator("[data-testid=toggle-mute]").click()
    expect(patient.locator("[data-testid=toggle-mute]")).to_have_text("Unmute")
    assert patient.evaluate(
        "() => window.__hmsVideo.pc.getSenders().filter((s) => s.track && s.track.kind === 'audio')"
        ".every((s) => !s.track.enabled)"
    )
    patient.locator("[data-testid=toggle-mute]").click()
    # Screen sharing replaces the camera's track on the same connection (no renegotiation).
    sent_video = (
        "() => window.__hmsVideo.pc.getSenders().find((s) => s.track && s.track.kind === 'video').track.label"
    )
    camera_label = patient.evaluate(sent_video)
    patient.locator("[data-testid=toggle-share]").click()
    expect(patient.locator("[data-testid=toggle-share]")).to_have_text("Stop sharing")
    assert patient.evaluate(sent_video) != camera_label
    _bytes_grow(doctor)
    patient.locator("[data-testid=toggle-share]").click()
    expect(patient.locator("[data-testid=toggle-share]")).to_have_text("Share screen")
    assert patient.evaluate(sent_video) == camera_label
    doctor.locator("[data-testid=note-subjective]").fill("Sore throat for two days, no fever.")
    doctor.locator("[data-testid=note-plan]").fill("Fluids, paracetamol; call back if worse.")
    _shot(doctor, "video-call-clinician")
    _shot(patient, "video-call-patient")

    # The patient reloads: a new connection is negotiated and media flows again on both sides.
    old_gen = doctor.evaluate("() => window.__hmsVideo.gen")
    patient.reload()
    expect(patient.locator("[data-testid=video-call]")).to_be_visible(timeout=CALL_TIMEOUT_MS)
    doctor.wait_for_function("(old) => window.__hmsVideo && window.__hmsVideo.gen !== old", arg=old_gen)
    _bytes_grow(patient)
    _bytes_grow(doctor)

    # Each browser reported the other's media (its report follows the first bytes within a second).
    doctor.wait_for_function("() => window.__hmsVideo && window.__hmsVideo.pc", timeout=CALL_TIMEOUT_MS)
    for _ in range(60):
        with server_db(hms_server) as session:
            row = session.execute(
                select(VideoVisit).where(VideoVisit.appointment_id == visit_id)
            ).scalar_one()
        if row.media_flowing_at is not None:
            break
        doctor.wait_for_timeout(250)
    assert row.media_flowing_at is not None and row.join_delay_ms is not None and row.setup_ms is not None
    assert row.patient_media_at is not None and row.clinician_media_at is not None

    # The doctor ends the visit: the note is kept, the appointment completed and charged.
    doctor.locator("[data-testid=end-visit]").click()
    doctor.locator("[data-testid=end-visit-confirm]").click()
    expect(doctor.locator("[data-testid=call-status-badge]")).to_have_text("Ended", timeout=CALL_TIMEOUT_MS)
    expect(patient.locator("[data-testid=visit-ended]")).to_be_visible(timeout=CALL_TIMEOUT_MS)
    _shot(patient, "video-ended-patient")
    _shot(doctor, "video-ended-clinician")

    with server_db(hms_server) as session:
        appointment = session.get(Appointment, visit_id)
        assert appointment.status == "completed"
        charges = (
            session.execute(
                select(ChargeItem.code).where(
                    ChargeItem.source_type == "appointment", ChargeItem.source_id == visit_id
                )
            )
            .scalars()
            .all()
        )
        assert charges == [video_visit["price_code"]]
        row = session.execute(select(VideoVisit).where(VideoVisit.appointment_id == visit_id)).scalar_one()
        assert row.status == "ended"
        from hms_app.models.emr import ClinicalNote

        note = session.execute(
            select(ClinicalNote).where(ClinicalNote.encounter_id == row.encounter_id)
        ).scalar_one()
        assert note.subjective == "Sore throat for two days, no fever."

    patient.context.close()
    doctor.context.close()
