"""Secure messaging across two browsers: a patient on a phone in the portal and a nurse at her
desk in the team inbox (/messages). The patient writes with a photo attached; it arrives in the
nurse's inbox without a reload; she takes it, opens it (the patient sees "Read"), downloads the
photo and replies; the reply arrives in the portal and, once the patient has it on screen, the
nurse sees it read. She turns the patient's message into an invitation to book; the patient
follows it into the booking page with the visit already chosen and books it.

Neither browser is ever reloaded: each marks its window first and checks the mark at the end.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import SCREENS_DIR, Server, server_db, sign_in

pytestmark = pytest.mark.usefixtures("clear_of_midnight")

LIVE_TIMEOUT_MS = 5_000
PHONE = {"width": 390, "height": 844}
PASSWORD = "Quiet-harbour-47"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
LETTERS = "abdeghiklmnoprstuvz"


def _word(length: int = 6) -> str:
    return "".join(random.choice(LETTERS) for _ in range(length))


@pytest.fixture(scope="module")
def world(hms_server: Server) -> dict:
    """A patient with a portal account, and a service bookable online with a provider who works
    all day every day (so the invitation can be booked whatever the time the test runs)."""
    from hms_app.clock import utcnow
    from hms_app.models.organization import Department
    from hms_app.services import accounts, patients
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    tag = _word(5)
    with server_db(hms_server) as session:
        patient = patients.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "given_name": "Maya",
                "family_name": f"Lind{tag}",
                "sex": "female",
                "birth_date": "1986-07-14",
            },
        )
        username = f"maya.{tag}"
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=f"Maya Lind{tag}",
            password=PASSWORD,
            roles=["patient"],
            patient_id=patient.id,
        )
        department = session.execute(select(Department).order_by(Department.id)).scalars().first()
        code = "MSG" + tag.upper()
        service = sched.save_service(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "code": code,
                "name": f"Skin clinic {tag}",
                "department_id": department.id,
                "self_bookable": True,
            },
        )
        vtype = sched.save_appointment_type(
            session,
            actor=SYSTEM_ACTOR,
            data={"service_id": service.id, "code": "RASH", "name": "Rash review", "duration_minutes": 15},
        )
        provider = sched.save_resource(
            session,
            actor=SYSTEM_ACTOR,
            data={"kind": "provider", "name": f"Dr Ines {tag.title()}", "department_id": department.id},
        )
        sched.link_resource_service(
            session, actor=SYSTEM_ACTOR, resource_id=provider.id, service_id=service.id
        )
        today = utcnow().date()
        for closed in sched.list_exceptions(
            session, actor=SYSTEM_ACTOR, start_day=today, end_day=today + timedelta(days=4)
        ):
            if closed.resource_id is None and closed.department_id in (None, department.id):
                sched.delete_availability_exception(session, actor=SYSTEM_ACTOR, exception_id=closed.id)
        for weekday in range(7):
            sched.add_availability_rule(
                session,
                actor=SYSTEM_ACTOR,
                data={
                    "resource_id": provider.id,
                    "weekday": weekday,
                    "start_time": "00:00",
                    "end_time": "23:55",
                    "valid_from": (today - timedelta(days=1)).isoformat(),
                },
            )
        return {
            "username": username,
            "patient_id": patient.id,
            "patient": f"Maya Lind{tag}",
            "visit": f"Skin clinic {tag} · Rash review (15 min)",
            "key": f"{service.id}:{vtype.id}",
            "service_id": service.id,
        }


def _shot(page: Page, name: str) -> None:
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), full_page=True, animations="disabled")


def _audited(server: Server, username: str) -> list[str]:
    from hms_app.models.security import AuditEvent

    with server_db(server) as session:
        return list(
            session.execute(
                select(AuditEvent.action)
                .where(AuditEvent.username == username, AuditEvent.action.like("message.%"))
                .order_by(AuditEvent.id)
            ).scalars()
        )


def test_patient_and_nurse_message_live_with_a_file_read_receipts_and_an_invitation_to_book(
    browser: Browser, hms_server: Server, world: dict, tmp_path
):
    subject = f"Rash after the new cream {_word(4)}"
    # The nurse's inbox is open first: the patient's message must arrive in it live.
    desk = browser.new_context(base_url=hms_server.url, viewport={"width": 1366, "height": 900})
    nurse = desk.new_page()
    sign_in(nurse, "nurse.joy")
    nurse.goto("/messages")
    inbox = nurse.locator("[data-testid=messages-inbox]")
    expect(inbox).to_be_visible()
    expect(nurse.locator("[data-testid=inbox-view-unassigned]")).to_be_visible()
    nurse.evaluate("window.__noReload = 'still the same page'")

    phone_context = browser.new_context(
        base_url=hms_server.url, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    patient = phone_context.new_page()
    sign_in(patient, world["username"], PASSWORD)
    patient.goto("/portal/messages")
    expect(patient.locator("[data-testid=portal-compose]")).to_be_visible()
    patient.evaluate("window.__noReload = 'still the same page'")

    # ------------------------------------------------------------ the patient writes, with a photo
    patient.locator("[data-testid=portal-compose]").click()
    patient.locator("[data-testid=portal-new-subject]").fill(subject)
    patient.locator("[data-testid=portal-new-body]").fill(
        "The rash on my arm is spreading since I started the cream. A photo is attached."
    )
    photo = tmp_path / "arm.png"
    photo.write_bytes(PNG)
    patient.locator("[data-testid=portal-new-file] input[type=file]").set_input_files(str(photo))
    expect(patient.locator("[data-testid=selected-file]")).to_contain_text("arm.png")
    patient.locator("[data-testid=portal-new-send]").click()
    expect(patient.locator("[data-testid=portal-thread-subject]")).to_have_text(subject)
    mine = patient.locator("[data-testid=message][data-mine=yes]").first
    expect(mine.locator("[data-testid=message-file]")).to_contain_text("arm.png")
    expect(mine.locator("[data-testid=message-receipt]")).to_have_text("Delivered")

    # ------------------------------------------------ it arrives live in the nurse's inbox; she takes it
    row = nurse.locator("[data-testid=inbox-row]").filter(has_text=subject)
    expect(row).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(row).to_contain_text(world["patient"])
    expect(row.locator("[data-testid=inbox-unread]")).to_have_text("1 new")
    row.click()
    panel = nurse.locator("[data-testid=thread-panel]")
    expect(panel.locator("[data-testid=thread-subject]")).to_have_text(subject)
    nurse.locator("[data-testid=thread-take]").click()
    expect(panel.locator("[data-testid=thread-assign]")).to_contain_text("Joy")
    # Taken: it leaves the unassigned list and is among hers.
    expect(row).to_have_count(0)
    nurse.locator("[data-testid=inbox-view-mine]").click()
    expect(row.locator("[data-testid=inbox-assigned]")).to_contain_text("Joy")

    # The patient's side shows that the team has read it, without a reload.
    expect(mine.locator("[data-testid=message-receipt]")).to_have_text(
        re.compile(r"^Read \d{2}:\d{2}$"), timeout=LIVE_TIMEOUT_MS
    )

    # She downloads the photo through the guarded route with her own session.
    link = panel.locator("[data-testid=message-file]").first
    href = link.get_attribute("href")
    assert href and href.startswith("/api/messages/attachments/")
    download = nurse.request.get(hms_server.url + href)
    assert download.status == 200 and download.body() == PNG
    assert 'filename="arm.png"' in download.headers["content-disposition"]
    # A patient's session does not open the staff route.
    assert patient.request.get(hms_server.url + href).status == 403

    # ----------------------------------------------------------------------------- she replies
    reply = "Please stop the cream for now. I have asked the doctor to look at the photo."
    nurse.locator("[data-testid=reply-body]").fill(reply)
    nurse.locator("[data-testid=reply-send]").click()
    own = panel.locator("[data-testid=message][data-mine=yes]").filter(has_text="stop the cream")
    expect(own).to_be_visible()
    _shot(nurse, "messages-01-staff-inbox")

    # It arrives in the portal; the patient has the conversation open, so it is read at once.
    theirs = patient.locator("[data-testid=message][data-mine=no]").filter(has_text="stop the cream")
    expect(theirs).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(own.locator("[data-testid=message-receipt]")).to_have_text(
        re.compile(r"^Read \d{2}:\d{2}$"), timeout=LIVE_TIMEOUT_MS
    )
    _shot(patient, "messages-02-portal-thread")

    # -------------------------------------------- the nurse turns the message into an invitation to book
    patients_message = panel.locator("[data-testid=message][data-mine=no]").first
    patients_message.locator("[data-testid=message-invite]").click()
    form = nurse.locator("[data-testid=invite-form]")
    expect(form).to_be_visible()
    form.locator("[data-testid=invite-visit]").click()
    nurse.get_by_role("option", name=world["visit"]).click()
    form.locator("[data-testid=invite-note]").fill("The doctor would like to see the rash this week.")
    form.locator("[data-testid=invite-send]").click()
    expect(form).to_be_hidden()
    sent = panel.locator("[data-testid=message-invitation]")
    expect(sent).to_have_attribute("data-status", "open")
    _shot(nurse, "messages-03-staff-invitation")

    invitation = patient.locator("[data-testid=message-invitation]")
    expect(invitation).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(invitation).to_contain_text("Rash review")
    _shot(patient, "messages-04-portal-invitation")
    invitation.locator("[data-testid=message-invitation-book]").click()

    # The booking page starts from the invited visit: only who, when and a time are left.
    expect(patient).to_have_url(re.compile(r"/portal/book\?invite=\d+"))
    expect(patient.locator("[data-testid=invite-banner]")).to_contain_text("Rash review")
    expect(patient.locator("[data-testid=book-step]")).to_have_text("Who would you like to see?")
    patient.locator("[data-testid=provider-any]").click()
    day = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    patient.locator(f"[data-testid=day-{day}]").click()
    expect(patient.locator("[data-testid=book-step]")).to_have_text("Choose a time")
    patient.locator("[data-testid^=slot-]").first.click()
    patient.locator("[data-testid=book-confirm]").click()
    reference = patient.locator("[data-testid=booking-reference]")
    expect(reference).to_have_text(re.compile(r"^AP-[A-Z0-9]{6}$"))
    _shot(patient, "messages-05-portal-booked")

    # The nurse's thread shows the invitation booked, live.
    expect(sent).to_have_attribute("data-status", "booked", timeout=LIVE_TIMEOUT_MS)
    expect(sent).to_contain_text("Booked")

    from hms_app.models.messaging import BookingInvitation
    from hms_app.models.scheduling import Appointment

    with server_db(hms_server) as session:
        booked = session.execute(
            select(BookingInvitation, Appointment.reference, Appointment.patient_id).join(
                Appointment, Appointment.id == BookingInvitation.appointment_id
            )
        ).all()
    assert [(b.status, ref, pid) for b, ref, pid in booked] == [
        ("booked", reference.inner_text(), world["patient_id"])
    ]
    # Everything on the audit trail, on both sides.
    nurse_did = _audited(hms_server, "nurse.joy")
    for action in (
        "message.inbox_read",
        "message.thread_read",
        "message.assign",
        "message.attachment_read",
        "message.send",
        "message.invite",
    ):
        assert action in nurse_did, action
    patient_did = _audited(hms_server, world["username"])
    for action in (
        "message.thread_start",
        "message.thread_read",
        "message.invitation_read",
        "message.invitation_booked",
    ):
        assert action in patient_did, action

    # The portal's list: the conversation, nothing unread, and no invitation left to book.
    patient.goto("/portal/messages")
    listed = patient.locator("[data-testid=portal-thread]").filter(has_text=subject)
    expect(listed).to_be_visible()
    expect(listed.locator("[data-testid=thread-unread]")).to_have_count(0)
    expect(patient.locator("[data-testid=portal-invitation]")).to_have_count(0)
    _shot(patient, "messages-06-portal-list")

    # Neither browser was reloaded: the marks are still there.
    assert nurse.evaluate("window.__noReload") == "still the same page"
    desk.close()
    phone_context.close()
