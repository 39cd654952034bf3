"""The reception desk's scheduling journey of issue 4, in a real browser: the receptionist opens
the calendar, clicks an empty time of a doctor, books a patient, sees the block, moves it with
one click to another free time, cancels it with a reason, and checks in today's patient, who
gets a queue token.

The set-up the screens cannot be asked to make in a few clicks (a doctor who works all day,
every day, with a visit type of their own, and a visit booked earlier today) is written through
the scheduling services into the server's database, so the journey does not depend on the hour
it runs at.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete, select

from tests.e2e.conftest import SCREENS_DIR, Server, screenshot, server_db, sign_in

# These tests work with "today": never across the hospital's midnight.
pytestmark = pytest.mark.usefixtures("clear_of_midnight")

TOAST = "[data-sonner-toast]"
CANCEL_REASON = "Patient phoned: travelling for work that week"


def _set_up(server: Server) -> dict:
    """A doctor in General Medicine working 00:00-23:55 every day with a 15-minute visit type;
    a day with free time for the booking; a visit booked earlier today for the check-in."""
    from hms_app.clock import to_local, utcnow
    from hms_app.models.organization import Department
    from hms_app.models.patients import Patient
    from hms_app.models.scheduling import Appointment, AvailabilityException
    from hms_app.services import scheduling as svc
    from hms_app.services.permissions import SYSTEM_ACTOR

    with server_db(server) as s:
        department = s.execute(select(Department).where(Department.code == "GEN")).scalar_one()
        doctor = svc.save_resource(
            s,
            actor=SYSTEM_ACTOR,
            data={"kind": "provider", "name": "Dr Journey Test", "department_id": department.id},
        )
        service = svc.save_service(
            s,
            actor=SYSTEM_ACTOR,
            data={"code": "E2E-CHK", "name": "Journey check-up", "department_id": department.id},
        )
        vtype = svc.save_appointment_type(
            s,
            actor=SYSTEM_ACTOR,
            data={
                "service_id": service.id,
                "code": "CHK",
                "name": "Check-up",
                "duration_minutes": 15,
                "mode": "in_person",
            },
        )
        svc.link_resource_service(s, actor=SYSTEM_ACTOR, resource_id=doctor.id, service_id=service.id)
        today = to_local(utcnow()).date()
        for weekday in range(7):
            svc.add_availability_rule(
                s,
                actor=SYSTEM_ACTOR,
                data={
                    "resource_id": doctor.id,
                    "weekday": weekday,
                    "start_time": "00:00",
                    "end_time": "23:55",
                    "valid_from": (today - timedelta(days=1)).isoformat(),
                },
            )
        tz = to_local(utcnow()).tzinfo
        midnight = svc.local_moment(today, time(0), tz)
        # A public holiday today would leave nothing to check in: this server's database is the test's own.
        s.execute(
            delete(AvailabilityException).where(
                AvailabilityException.resource_id.is_(None),
                AvailabilityException.starts_at < midnight + timedelta(days=1),
                AvailabilityException.ends_at > midnight,
            )
        )
        s.commit()

        def free_patient(day: date, *, besides: int = 0):
            """The first patient with no visit at all on ``day``: the demo books most patients
            somewhere most days, and the test's own visits must not meet theirs."""
            day_start = svc.local_moment(day, time(0), tz)
            busy = select(Appointment.patient_id).where(
                Appointment.start_at < day_start + timedelta(days=1), Appointment.end_at > day_start
            )
            return s.execute(
                select(Patient.id, Patient.mrn, Patient.given_name, Patient.middle_name, Patient.family_name)
                .where(
                    Patient.active.is_(True),
                    Patient.merged_into_id.is_(None),
                    Patient.id != besides,
                    Patient.id.not_in(busy),
                )
                .order_by(Patient.id)
                .limit(1)
            ).one()

        walk_in_id = free_patient(today).id
        early = svc.find_free_slots(
            s,
            actor=SYSTEM_ACTOR,
            service_id=service.id,
            appointment_type_id=vtype.id,
            day=today,
            resource_id=doctor.id,
            now=midnight,
            limit=1,
        )[0]
        todays = svc.book_appointment(
            s,
            actor=SYSTEM_ACTOR,
            patient_id=walk_in_id,
            service_id=service.id,
            appointment_type_id=vtype.id,
            start_at=early.start_at,
            resource_id=doctor.id,
            now=midnight,
        )
        booking_day = today + timedelta(days=1)
        while not any(
            to_local(slot.start_at).time() == time(10)
            for slot in svc.find_free_slots(
                s,
                actor=SYSTEM_ACTOR,
                service_id=service.id,
                appointment_type_id=vtype.id,
                day=booking_day,
                resource_id=doctor.id,
            )
        ):
            booking_day += timedelta(days=1)  # past holidays and closures
        booked = free_patient(booking_day, besides=walk_in_id)
        return {
            "doctor": doctor.id,
            "today": today,
            "todays": todays.reference,
            "todays_id": todays.id,
            "booking_day": booking_day,
            "patient_mrn": booked.mrn,
            "patient_name": f"{booked.given_name} {booked.family_name}",
            "patient_full_name": " ".join(
                part for part in (booked.given_name, booked.middle_name, booked.family_name) if part
            ),
        }


def _appointment(server: Server, reference: str):
    from hms_app.models.scheduling import Appointment

    with server_db(server) as s:
        return s.execute(select(Appointment).where(Appointment.reference == reference)).scalar_one()


def _local_start(appointment) -> datetime:
    from hms_app.clock import to_local

    return to_local(appointment.start_at)


def _dialog_shot(page: Page, name: str) -> None:
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), animations="disabled")


def _choose(page: Page, trigger: str, option: str) -> None:
    page.locator(f"[data-testid={trigger}]").click()
    page.get_by_role("option", name=option, exact=True).click()


def _calendar_version(page: Page) -> int:
    return int(page.locator("[data-testid=calendar]").get_attribute("data-version") or 0)


def _open_day(page: Page, day: date) -> None:
    before = _calendar_version(page)
    page.locator("[data-testid=day-input]").fill(day.isoformat())
    expect(page.locator("[data-testid=calendar]")).not_to_have_attribute("data-version", str(before))
    expect(page.locator("[data-testid=column]").first).to_have_attribute("data-day", day.isoformat())


@pytest.mark.scaled_out
def test_reception_books_moves_cancels_and_checks_in(page: Page, hms_server: Server):
    plan = _set_up(hms_server)
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "reception")
    page.goto("/schedule")
    expect(page.locator("[data-testid=calendar]")).to_be_visible()
    # The calendar opens on the receptionist's own department, today, one column per provider.
    expect(page.locator("[data-testid=department-select]")).to_have_text("General Medicine")
    expect(page.locator("[data-testid=calendar-title]")).to_have_text(plan["today"].strftime("%A %d %B %Y"))
    _choose(page, "resource-select", "Dr Journey Test")
    expect(page.locator("[data-testid=column]")).to_have_count(1)

    # Book from an empty cell at 10:00.
    day = plan["booking_day"]
    _open_day(page, day)
    page.locator(f"[data-testid='cell-{plan['doctor']}-{day.isoformat()}-10:00']").click()
    dialog = page.locator("[data-testid=booking-dialog]")
    expect(dialog).to_be_visible()
    _choose(page, "booking-service", "Journey check-up")
    expect(dialog.locator("[data-testid='slot-10:00']")).to_have_attribute("data-chosen", "true")
    expect(dialog.locator("[data-testid=booking-submit]")).to_be_disabled()  # no patient yet
    dialog.locator("[data-testid=booking-patient-search]").fill(plan["patient_mrn"])
    dialog.locator(f"[data-testid=patient-hit-{plan['patient_mrn']}]").click()
    # The dialog names the patient in full (a middle name too, when there is one) with the MRN.
    chosen = dialog.locator("[data-testid=chosen-patient]")
    expect(chosen).to_contain_text(plan["patient_full_name"])
    expect(chosen).to_contain_text(plan["patient_mrn"])
    _dialog_shot(page, "schedule-01-booking-dialog")
    dialog.locator("[data-testid=booking-submit]").click()
    toast = page.locator(TOAST).filter(has_text="Booked AP-")
    expect(toast).to_be_visible()
    reference = re.search(r"AP-[A-Z0-9]{6}", toast.inner_text()).group(0)
    block = page.locator(f"[data-testid=block-{reference}]")
    expect(block).to_be_visible()
    expect(block).to_contain_text(plan["patient_name"])
    expect(block).to_have_attribute("data-status", "booked")
    booked = _appointment(hms_server, reference)
    assert (booked.status, _local_start(booked).date(), _local_start(booked).time()) == (
        "booked",
        day,
        time(10),
    )
    screenshot(page, "schedule-02-booked-block")

    # Move it: the panel lists the free times of that day; one click moves.
    block.click()
    panel = page.locator("[data-testid=side-panel]")
    expect(panel.locator("[data-testid=panel-reference]")).to_have_text(reference)
    panel.locator("[data-testid=action-move]").click()
    expect(panel.locator("[data-testid=move-slots]")).to_be_visible()
    expect(panel.locator("[data-testid='move-slot-10:00']")).to_have_count(0)  # its own time is not free
    screenshot(page, "schedule-03-move-slots")
    panel.locator("[data-testid='move-slot-11:30']").click()
    expect(page.locator(TOAST).filter(has_text="moved to")).to_be_visible()
    expect(panel.locator("[data-testid=action-move]")).to_be_visible()  # back to the details
    moved = _appointment(hms_server, reference)
    assert _local_start(moved).time() == time(11, 30) and moved.id == booked.id

    # Cancel it: a reason is required.
    panel.locator("[data-testid=action-cancel]").click()
    panel.locator("[data-testid=confirm-cancel]").click()
    expect(panel.locator("[data-testid=panel-error]")).to_contain_text("Say why")
    assert _appointment(hms_server, reference).status == "booked"
    panel.locator("[data-testid=cancel-reason]").fill(CANCEL_REASON)
    panel.locator("[data-testid=confirm-cancel]").click()
    expect(page.locator(TOAST).filter(has_text="cancelled")).to_be_visible()
    expect(panel.locator("[data-testid=status-badge]")).to_have_text("Cancelled")
    expect(page.locator(f"[data-testid=block-{reference}]")).to_have_count(0)  # cancelled visits hidden
    cancelled = _appointment(hms_server, reference)
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", CANCEL_REASON)

    # Today: check in the patient booked earlier; the queue token shows big.
    before = _calendar_version(page)
    page.locator("[data-testid=today]").click()
    expect(page.locator("[data-testid=calendar]")).not_to_have_attribute("data-version", str(before))
    todays = page.locator(f"[data-testid=block-{plan['todays']}]")
    todays.click()
    panel.locator("[data-testid=action-check-in]").click()
    token = panel.locator("[data-testid=queue-token]")
    expect(token).to_have_text(re.compile(r"^[A-Z]-\d{3}$"))
    expect(todays.locator("[data-testid=block-token]")).to_have_text(token.inner_text())
    arrived = _appointment(hms_server, plan["todays"])
    assert (arrived.status, arrived.queue_token) == ("arrived", token.inner_text())
    page.mouse.move(0, 0)
    screenshot(page, "schedule-04-checked-in")
