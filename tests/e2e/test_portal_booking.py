"""The patient portal on a phone (390 x 844): a new patient creates an account, books a visit,
reads the reference, moves the visit and cancels it; and a visit less than two hours away cannot
be cancelled online (the clinic's message says why).

The clinic's setup (a self-bookable service with a provider working all day, every day) is made
through the scheduling services on the server's database, so the test does not depend on the
demo seed or on the time of day it runs at.
"""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import SCREENS_DIR, Server, server_db, sign_in, submit_credentials, wait_interactive

# These tests work with "today": never across the hospital's midnight.
pytestmark = pytest.mark.usefixtures("clear_of_midnight")

PHONE = {"width": 390, "height": 844}
PASSWORD = "Sunny-meadow-42"
TOAST = "[data-sonner-toast]"
POLICY_MESSAGE = "Appointments can be changed online until 2 hours before they start. Please call the clinic."
LETTERS = "abdeghiklmnoprstuvz"


def _word(length: int = 6) -> str:
    return "".join(random.choice(LETTERS) for _ in range(length))


@pytest.fixture(scope="module")
def clinic(hms_server: Server) -> dict:
    """A service patients may book online, with one provider working 00:00-23:55 every day."""
    from hms_app.clock import utcnow
    from hms_app.models.organization import Department
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    code = "E2E" + _word(5).upper()
    with server_db(hms_server) as session:
        department = session.execute(select(Department).order_by(Department.id)).scalars().first()
        service = sched.save_service(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "code": code,
                "name": f"Travel clinic {code[-3:]}",
                "department_id": department.id,
                "self_bookable": True,
            },
        )
        vtype = sched.save_appointment_type(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "service_id": service.id,
                "code": "STD",
                "name": "Vaccination advice",
                "duration_minutes": 15,
            },
        )
        provider = sched.save_resource(
            session,
            actor=SYSTEM_ACTOR,
            data={"kind": "provider", "name": f"Dr Nia {_word().title()}", "department_id": department.id},
        )
        sched.link_resource_service(
            session, actor=SYSTEM_ACTOR, resource_id=provider.id, service_id=service.id
        )
        # The seed's public holidays close the whole hospital; one may fall in the next days
        # (the test once met Thanksgiving). This clinic stays open, whatever the date.
        today = utcnow().date()
        for closed in sched.list_exceptions(
            session, actor=SYSTEM_ACTOR, start_day=today, end_day=today + timedelta(days=3)
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
            "service_id": service.id,
            "type_id": vtype.id,
            "provider_id": provider.id,
            "key": f"{service.id}:{vtype.id}",
        }


@pytest.fixture
def phone(browser: Browser, base_url: str):
    context = browser.new_context(
        base_url=base_url, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    yield page
    context.close()


def _shot(page: Page, name: str) -> None:
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), full_page=True, animations="disabled")


def _fits_the_phone(page: Page) -> None:
    """Nothing on the page is wider than the phone: no sideways scrolling."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a {PHONE['width']} px phone"


def _toast(page: Page, text) -> object:
    return page.locator(TOAST).filter(has_text=text)


def _days_ahead(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def _choose(page: Page, test_id: str) -> None:
    button = page.locator(f"[data-testid='{test_id}']")
    expect(button).to_be_visible()
    button.click()


def _book_steps(page: Page, clinic: dict, day: str, time: str) -> None:
    """From the service list to the confirmation: service, any provider, the day, the time."""
    expect(page.locator("[data-testid=book-step]")).to_have_text("What would you like to book?")
    _choose(page, f"service-{clinic['key']}")
    expect(page.locator("[data-testid=book-step]")).to_have_text("Who would you like to see?")
    _choose(page, "provider-any")
    expect(page.locator("[data-testid=book-step]")).to_have_text("Choose a day")
    expect(page.locator(f"[data-testid=day-{day}]")).to_have_attribute("data-free", "yes")
    _fits_the_phone(page)
    _choose(page, f"day-{day}")
    expect(page.locator("[data-testid=book-step]")).to_have_text("Choose a time")
    _choose(page, f"slot-{time}")
    expect(page.locator("[data-testid=book-step]")).to_have_text("Check and confirm")


def _appointment(server: Server, reference: str):
    from hms_app.models.scheduling import Appointment

    with server_db(server) as session:
        return session.execute(select(Appointment).where(Appointment.reference == reference)).scalar_one()


def _actions(server: Server, username: str) -> list[str]:
    from hms_app.models.security import AuditEvent

    with server_db(server) as session:
        return list(
            session.execute(
                select(AuditEvent.action)
                .where(AuditEvent.username == username, AuditEvent.action.like("appointment.%"))
                .order_by(AuditEvent.id)
            ).scalars()
        )


def _mailed_link(server: Server, address: str) -> str:
    """The sign-up link last mailed to ``address`` (the server's outbox file), as a path."""
    for _ in range(100):
        path = server.data_dir / "outbox.log"
        text = path.read_text() if path.exists() else ""
        blocks = [b for b in text.split("--- ") if f" to {address}\n" in b]
        found = (
            re.search(r"https?://[^/\s]+(/portal/signup/confirm\?token=[\w-]+)", blocks[-1])
            if blocks
            else None
        )
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no sign-up link was mailed to {address}")


@pytest.mark.scaled_out
def test_a_new_patient_signs_up_books_moves_and_cancels_on_a_phone(phone: Page, hms_server: Server, clinic):
    page = phone
    family = "Okafor" + _word(4)
    username = f"ada.{_word(5)}"

    # The portal's front door leads to the sign-up form.
    page.goto("/portal")
    _choose(page, "portal-create-account")
    expect(page).to_have_url(re.compile(r"/portal/signup/?$"))
    expect(page.locator("[data-testid=signup-submit]")).to_be_visible()
    wait_interactive(page, "form")
    _fits_the_phone(page)
    page.locator("input[name=given_name]").fill("Ada")
    page.locator("input[name=family_name]").fill(family)
    page.locator("input[name=birth_date]").fill("1988-04-09")
    page.locator("[data-testid=sex-select]").click()
    page.get_by_role("option", name="Female", exact=True).click()
    page.locator("input[name=phone]").fill(f"+1 555 {random.randint(100, 999)} {random.randint(1000, 9999)}")
    page.locator("input[name=email]").fill(f"{username}@example.org")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password_confirm]").fill(PASSWORD + "!")
    page.locator("[data-testid=consent]").click()
    page.locator("[data-testid=signup-submit]").click()
    expect(page.locator("[data-testid=error-password_confirm]")).to_have_text(
        "The two passwords are not the same."
    )
    _shot(page, "portal-signup-error")
    page.locator("input[name=password_confirm]").fill(PASSWORD)
    page.locator("[data-testid=signup-submit]").click()

    # Everyone is told to check their mail; the account is made by the link mailed to the address.
    expect(page.locator("[data-testid=signup-sent]")).to_contain_text("Check your e-mail")
    page.goto(_mailed_link(hms_server, f"{username}@example.org"))
    wait_interactive(page, "button")
    page.locator("[data-testid=confirm-submit]").click()
    expect(page.locator("[data-testid=confirm-done]")).to_contain_text("Your account is ready")
    _shot(page, "portal-signup-confirmed")
    page.locator("[data-testid=confirm-sign-in]").click()
    expect(page.locator("input[name=username]")).to_be_visible()
    wait_interactive(page, "form")
    submit_credentials(page, username, PASSWORD)

    # Signed in, on the portal, as the new patient.
    expect(page).to_have_url(re.compile(r"/portal/?$"), timeout=30_000)
    expect(page.locator("[data-testid=portal-name]")).to_contain_text(f"Ada {family}")
    _fits_the_phone(page)
    _shot(page, "portal-after-signup")

    # Book: service, any provider, tomorrow at 10:00.
    _choose(page, "portal-nav-book")
    expect(page).to_have_url(re.compile(r"/portal/book/?$"))
    tomorrow = _days_ahead(1)
    _book_steps(page, clinic, tomorrow, "10:00")
    _shot(page, "portal-book-confirm")
    _choose(page, "book-confirm")
    reference = page.locator("[data-testid=booking-reference]")
    expect(reference).to_have_text(re.compile(r"^AP-[A-Z0-9]{6}$"))
    code = reference.inner_text()
    expect(page.locator("[data-testid=calendar-text]")).to_contain_text(code)
    expect(page.locator("[data-testid=booked-when]")).to_contain_text("10:00")
    _fits_the_phone(page)
    _shot(page, "portal-book-reference")
    booked = _appointment(hms_server, code)
    assert (booked.status, booked.booked_via) == ("booked", "portal")
    assert booked.start_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") == f"{tomorrow} 10:00"

    # My appointments: the visit is there; move it to the day after at 11:30.
    _choose(page, "to-appointments")
    card = page.locator(f"[data-testid=appointment-{code}]")
    expect(card).to_contain_text("10:00")
    _fits_the_phone(page)
    _shot(page, "portal-appointments-booked")
    _choose(page, f"reschedule-{code}")
    expect(page.locator("[data-testid=move-banner]")).to_contain_text(code)
    day_after = _days_ahead(2)
    expect(page.locator("[data-testid=book-step]")).to_have_text("Who would you like to see?")
    _choose(page, "provider-any")
    _choose(page, f"day-{day_after}")
    _choose(page, "slot-11:30")
    _choose(page, "book-confirm")
    expect(page.locator("[data-testid=booking-reference]")).to_have_text(code)  # same reference
    expect(page.locator("[data-testid=booked-when]")).to_contain_text("11:30")
    _shot(page, "portal-reschedule-done")
    moved = _appointment(hms_server, code)
    assert moved.id == booked.id
    assert moved.start_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") == f"{day_after} 11:30"

    # Cancel it with a reason: it is listed as cancelled, not among the past visits (it never took place).
    _choose(page, "to-appointments")
    expect(page.locator(f"[data-testid=appointment-{code}]")).to_contain_text("11:30")
    _choose(page, f"cancel-{code}")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Cancel this appointment?")
    dialog.get_by_role("radio", name="I cannot come at that time").click()
    dialog.locator("input[name=details]").fill("Travelling for work")
    _shot(page, "portal-cancel-dialog")
    _choose(page, "cancel-confirm")
    expect(_toast(page, "Your appointment is cancelled.")).to_be_visible()
    expect(page.locator(f"[data-testid=appointment-{code}]")).to_have_count(0)
    expect(page.locator(f"[data-testid=cancelled-{code}]")).to_contain_text("Cancelled")
    expect(page.locator(f"[data-testid=past-{code}]")).to_have_count(0)
    _fits_the_phone(page)
    _shot(page, "portal-appointments-cancelled")
    cancelled = _appointment(hms_server, code)
    assert (cancelled.status, cancelled.cancel_reason) == (
        "cancelled",
        "I cannot come at that time: Travelling for work",
    )
    actions = _actions(hms_server, username)
    # What changed, in order; opening the visit to move it is a read, audited too (item 9).
    assert [a for a in actions if a != "appointment.read"] == [
        "appointment.book",
        "appointment.reschedule",
        "appointment.cancel",
    ]
    assert "appointment.read" in actions


def test_cancelling_within_two_hours_is_refused_with_the_clinics_message(
    phone: Page, hms_server: Server, clinic
):
    from hms_app.models.scheduling import Appointment
    from hms_app.models.security import AppUser
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    # The demo patient has a visit in a little over an hour (booked at the desk), at a time the
    # demo has not already given them a visit of their own.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)
    with server_db(hms_server) as session:
        patient_id = session.execute(
            select(AppUser.patient_id).where(AppUser.username == "patient")
        ).scalar_one()
        soon = next(
            start
            for start in (now + timedelta(minutes=m) for m in range(60, 115, 5))
            if start.date() == (start + timedelta(minutes=15)).date()
            and start.time().isoformat() < "23:40"
            and session.execute(
                select(Appointment.id).where(
                    Appointment.patient_id == patient_id,
                    Appointment.status.in_(("booked", "arrived", "in_room")),
                    Appointment.start_at < start + timedelta(minutes=15),
                    Appointment.end_at > start,
                )
            ).first()
            is None
        )
        code = sched.book_appointment(
            session,
            actor=SYSTEM_ACTOR,
            patient_id=patient_id,
            service_id=clinic["service_id"],
            appointment_type_id=clinic["type_id"],
            start_at=soon,
            now=soon - timedelta(hours=3),
        ).reference

    page = phone
    sign_in(page, "patient")
    page.goto("/portal/appointments")
    card = page.locator(f"[data-testid=appointment-{code}]")
    expect(card).to_contain_text(soon.strftime("%H:%M"))
    expect(card).to_contain_text("Online changes close 2 hours before the start")
    _choose(page, f"cancel-{code}")
    expect(_toast(page, POLICY_MESSAGE)).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    _fits_the_phone(page)
    _shot(page, "portal-cancel-refused")
    assert _appointment(hms_server, code).status == "booked"
