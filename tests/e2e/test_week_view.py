"""The week view as a receptionist sees it (issue 11 item 23): three doctors of one clinic see
patients at the same hour, the week column keeps the first visit at full width with a "+2" chip
on it that opens the day; every day of the week fits, Sunday included; on an 820 px
tablet the sidebar becomes a rail of icons and the week still fits without scrolling sideways.

The clinic, its doctors and the visits are written through the scheduling services into the
server's database, in a department of their own so the demo's visits do not mix in.
"""

from __future__ import annotations

from datetime import time, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import Server, screenshot, server_db, sign_in


def _crowded_clinic(server: Server) -> dict:
    from hms_app.clock import to_local, utcnow
    from hms_app.models.organization import Department
    from hms_app.models.patients import Patient
    from hms_app.services import scheduling as svc
    from hms_app.services.permissions import SYSTEM_ACTOR

    with server_db(server) as s:
        department = s.execute(select(Department).where(Department.code == "WEEK")).scalar_one_or_none()
        if department is None:
            department = Department(code="WEEK", name="Week Clinic")
            s.add(department)
            s.commit()
        service = svc.save_service(
            s,
            actor=SYSTEM_ACTOR,
            data={"code": "WEEK-V", "name": "Week visit", "department_id": department.id},
        )
        vtype = svc.save_appointment_type(
            s,
            actor=SYSTEM_ACTOR,
            data={
                "service_id": service.id,
                "code": "WV",
                "name": "Review",
                "duration_minutes": 30,
                "mode": "in_person",
            },
        )
        today = to_local(utcnow()).date()
        # next week's Sunday: the last column, the one that used to be cut off
        day = today + timedelta(days=7 + (6 - today.weekday()))
        patients = s.execute(
            select(Patient.id, Patient.given_name, Patient.family_name)
            .where(Patient.active.is_(True), Patient.merged_into_id.is_(None))
            .order_by(Patient.id.desc())
            .limit(3)
        ).all()
        references = []
        for number, patient in enumerate(patients, start=1):
            doctor = svc.save_resource(
                s,
                actor=SYSTEM_ACTOR,
                data={"kind": "provider", "name": f"Dr Week {number}", "department_id": department.id},
            )
            svc.link_resource_service(s, actor=SYSTEM_ACTOR, resource_id=doctor.id, service_id=service.id)
            svc.add_availability_rule(
                s,
                actor=SYSTEM_ACTOR,
                data={
                    "resource_id": doctor.id,
                    "weekday": day.weekday(),
                    "start_time": "08:00",
                    "end_time": "18:00",
                    "valid_from": today.isoformat(),
                },
            )
            tz = to_local(utcnow()).tzinfo
            visit = svc.book_appointment(
                s,
                actor=SYSTEM_ACTOR,
                patient_id=patient.id,
                service_id=service.id,
                appointment_type_id=vtype.id,
                start_at=svc.local_moment(day, time(10, 5 * number), tz),
                resource_id=doctor.id,
            )
            references.append(visit.reference)
        return {"day": day, "references": references}


def _show_week(page: Page, day) -> None:
    page.goto("/schedule")
    expect(page.locator("[data-testid=calendar]")).to_be_visible()
    page.locator("[data-testid=department-select]").click()
    page.get_by_role("option", name="Week Clinic", exact=True).click()
    expect(page.locator("[data-testid=column-header]").first).to_contain_text("Dr Week")
    page.locator("[data-testid=day-input]").fill(day.isoformat())
    expect(page.locator("[data-testid=column]").first).to_have_attribute("data-day", day.isoformat())
    page.locator("[data-testid=view-toggle]").get_by_role("radio", name="Week").click()
    expect(page.locator("[data-testid=column]")).to_have_count(7)
    expect(page.locator(f"[data-testid=column][data-day='{day.isoformat()}']")).to_be_visible()


def _fits_sideways(page: Page) -> None:
    """The whole week is on screen: the calendar does not scroll sideways and Sunday's right edge
    is inside it."""
    calendar = page.locator("[data-testid=calendar]")
    widths = calendar.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1] + 1, widths
    box, last = calendar.bounding_box(), page.locator("[data-testid=column]").last.bounding_box()
    assert last["x"] + last["width"] <= box["x"] + box["width"] + 1


def test_a_crowded_week_keeps_one_visit_readable_and_folds_the_rest(page: Page, hms_server: Server):
    plan = _crowded_clinic(hms_server)
    day, references = plan["day"], plan["references"]
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "reception")
    _show_week(page, day)
    expect(page.locator("[data-testid=column]")).to_have_count(7)
    sunday = page.locator(f"[data-testid=column][data-day='{day.isoformat()}']")
    expect(sunday.locator(f"[data-testid=block-{references[0]}]")).to_be_visible()
    for hidden in references[1:]:
        expect(sunday.locator(f"[data-testid=block-{hidden}]")).to_have_count(0)
    chip = sunday.locator(f"[data-testid=more-{day.isoformat()}]")
    expect(chip).to_have_text("+2")
    expect(chip).to_have_attribute("aria-label", "2 more visits at this time: open the day")
    # the visit that stays keeps the column's width: room for the time and the name
    block_box = sunday.locator(f"[data-testid=block-{references[0]}]").bounding_box()
    assert block_box["width"] >= sunday.bounding_box()["width"] - 8
    _fits_sideways(page)
    screenshot(page, "schedule-week-crowded")

    chip.click()
    expect(page.locator("[data-testid=calendar-title]")).to_have_text(day.strftime("%A %d %B %Y"))
    for reference in references:
        expect(page.locator(f"[data-testid=block-{reference}]")).to_be_visible()

    # a tablet in landscape: icons only in the sidebar, the week still fits
    page.set_viewport_size({"width": 820, "height": 1180})
    _show_week(page, day)
    nav = page.locator("[data-testid=nav-schedule]")
    expect(nav).to_be_visible()
    assert nav.bounding_box()["width"] < 80
    expect(nav.get_by_text("Schedule", exact=True)).to_be_hidden()
    expect(page.locator("[data-testid=column]")).to_have_count(7)
    _fits_sideways(page)
    screenshot(page, "schedule-week-tablet")
