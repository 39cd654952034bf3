"""Home readings end to end, in two browsers: a patient on a phone enters a blood pressure in the
portal (an impossible number first: a clear message under its box), then one beyond her alert
limit; a nurse's open board (/home-readings, another browser, never reloaded) shows the alert by
itself; she clears it with a note, opens the chart and finds the patient-reported points in the
systolic trend. Screenshots of the portal page on a phone and a laptop, the board and the trend.
"""

from __future__ import annotations

import random
import re
from datetime import timedelta

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hms_app.clock import to_local, utcnow
from tests.e2e.conftest import SCREENS_DIR, Server, server_db, sign_in

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}
PASSWORD = "Morning-cuff-42"
LIVE_TIMEOUT_MS = 5_000


def _shot(page: Page, name: str) -> None:
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENS_DIR / f"{name}.png"), full_page=True, animations="disabled")


def _patient_with_account(server: Server) -> tuple[int, str, str]:
    """A new patient with a portal account: (id, full name, username)."""
    from hms_app.services import accounts
    from hms_app.services import patients as patient_svc
    from hms_app.services.permissions import SYSTEM_ACTOR

    word = "".join(random.choice("abdeghiklmnoprstuvz") for _ in range(6))
    with server_db(server) as session:
        patient = patient_svc.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "given_name": "Hana",
                "family_name": "Cuff" + word.title(),
                "sex": "female",
                "birth_date": "1956-03-14",
            },
        )
        username = f"hana.{word}"
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=f"Hana Cuff{word.title()}",
            password=PASSWORD,
            roles=["patient"],
            patient_id=patient.id,
        )
        session.commit()
        return patient.id, f"Hana Cuff{word.title()}", username


def _actions(server: Server, patient_id: int) -> list[tuple[str, str]]:
    from hms_app.models.security import AuditEvent

    with server_db(server) as session:
        return list(
            session.execute(
                select(AuditEvent.action, AuditEvent.username)
                .where(AuditEvent.patient_id == patient_id, AuditEvent.action.like("reading.%"))
                .order_by(AuditEvent.id)
            ).all()
        )


def _fits(page: Page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide on a {width} px screen"


def test_a_reading_beyond_the_limit_reaches_the_nurses_board_and_the_chart(
    browser: Browser, hms_server: Server
):
    patient_id, name, username = _patient_with_account(hms_server)
    base = hms_server.url

    # The nurse's board is open in her own browser before anything happens.
    nurse_context = browser.new_context(base_url=base, viewport=LAPTOP)
    nurse = nurse_context.new_page()
    sign_in(nurse, "nurse.joy")
    nurse.goto("/home-readings")
    expect(nurse.locator("[data-testid=readings-board]")).to_be_visible()
    expect(nurse.locator("[data-testid=board-updated]")).to_contain_text(re.compile(r"\d\d:\d\d"))
    nurse.evaluate("window.__noReload = 'still here'")
    expect(nurse.locator("[data-testid=reading-alert-row]").filter(has_text=name)).to_have_count(0)

    phone_context = browser.new_context(
        base_url=base, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    phone = phone_context.new_page()
    sign_in(phone, username, PASSWORD)
    phone.goto("/portal/readings")
    expect(phone.locator("[data-testid=history-empty]")).to_be_visible()
    _fits(phone, PHONE["width"])

    # An impossible number is refused under its own box; nothing is written.
    phone.locator("[data-testid=reading-systolic]").fill("400")
    phone.locator("[data-testid=reading-diastolic]").fill("95")
    phone.locator("[data-testid=reading-save]").click()
    expect(phone.locator("[data-testid=error-systolic]")).to_have_text(
        "A systolic pressure of 400 mmHg is not possible; expected 40 to 300 mmHg. Check the number."
    )
    _shot(phone, "home-readings-01-portal-phone-implausible")

    # One beyond her limit (the default systolic limit is 180): she is told her care team is alerted.
    phone.locator("[data-testid=reading-systolic]").fill("186")
    phone.locator("[data-testid=reading-pulse]").fill("84")
    phone.locator("[data-testid=reading-save]").click()
    expect(phone.locator("[data-testid=reading-alert]")).to_contain_text(
        "Systolic pressure 186 mmHg is above the alert limit of 180 mmHg"
    )
    expect(phone.locator("[data-testid=history-row]")).to_have_count(1)
    expect(phone.locator("[data-testid=history-status]")).to_have_text("Your care team has been alerted")
    expect(phone.locator("[data-testid=error-systolic]")).to_have_count(0)
    # A second, ordinary reading she took three hours earlier, for the trend.
    phone.locator("[data-testid=reading-systolic]").fill("142")
    phone.locator("[data-testid=reading-diastolic]").fill("88")
    earlier = to_local(utcnow() - timedelta(hours=3))
    phone.locator("[data-testid=reading-measured_at]").fill(earlier.strftime("%Y-%m-%dT%H:%M"))
    phone.locator("[data-testid=reading-save]").click()
    expect(phone.locator("[data-testid=reading-saved]")).to_contain_text("142/88 mmHg")
    expect(phone.locator("[data-testid=history-row]")).to_have_count(2)
    _fits(phone, PHONE["width"])
    _shot(phone, "home-readings-02-portal-phone")

    # The nurse's board shows the alert by itself.
    row = nurse.locator("[data-testid=reading-alert-row]").filter(has_text=name)
    expect(row).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(row.locator("[data-testid=alert-values]")).to_have_text("186/95 mmHg · pulse 84 /min")
    expect(row.locator("[data-testid=alert-crossed]")).to_have_text(
        "Systolic pressure 186 mmHg is above the alert limit of 180 mmHg"
    )
    assert nurse.evaluate("window.__noReload") == "still here"
    _shot(nurse, "home-readings-03-board")

    # Her name opens her readings and her alert limits; the nurse lowers the systolic limit to 160.
    row.locator("[data-testid=open-patient]").click()
    panel = nurse.locator("[data-testid=patient-panel]")
    expect(panel.locator("[data-testid=panel-patient]")).to_have_text(name)
    expect(panel.locator("[data-testid=patient-readings] tbody tr")).to_have_count(2)
    expect(panel.locator("[data-testid=limit-systolic_high]")).to_have_value("180")
    panel.locator("[data-testid=limit-systolic_high]").fill("160")
    panel.locator("input[name=reason]").fill("Target below 160 while treatment is adjusted")
    panel.locator("[data-testid=save-limits]").click()
    expect(panel.locator("[data-testid=limits-table]")).to_contain_text("nurse.joy, ")
    expect(panel.locator("[data-testid=limit-systolic_high]")).to_have_value("160")
    panel.scroll_into_view_if_needed()
    nurse.mouse.move(0, 0)
    nurse.screenshot(
        path=str(SCREENS_DIR / "home-readings-03b-board-patient-limits.png"), animations="disabled"
    )

    # She clears it with a note: it leaves the open list.
    row.locator("[data-testid=clear-alert]").click()
    expect(nurse.locator("[data-testid=clear-dialog]")).to_be_visible()
    nurse.locator("[data-testid=clear-submit]").click()
    expect(nurse.locator("[data-testid=clear-error]")).to_contain_text("required")
    nurse.locator("[data-testid=clear-note]").fill("Called Hana: rechecked 150/90 after rest, no symptoms.")
    nurse.locator("[data-testid=clear-submit]").click()
    expect(nurse.locator("[data-testid=clear-dialog]")).to_have_count(0)
    expect(row).to_have_count(0)

    # The patient's page says her reading was reviewed once she opens it again.
    phone.goto("/portal/readings")
    expect(phone.locator("[data-testid=history-status]")).to_have_text("Reviewed by your care team")

    # The chart's systolic trend has her two points, marked patient-reported.
    nurse.goto(f"/patients/{patient_id}")
    # The summary's latest vitals are hers: each marked patient-reported.
    summary = nurse.locator("[data-testid=summary-vitals]")
    expect(summary).to_contain_text("186 mmHg")
    expect(summary.locator("[data-testid=vital-home]")).to_have_count(3)  # systolic, diastolic, pulse
    nurse.locator("[data-testid=tab-vitals]").click()
    nurse.locator("[data-testid=trend-select]").click()
    nurse.get_by_role("option", name="Systolic blood pressure", exact=True).click()
    expect(nurse.locator("[data-testid=trend-home-count]")).to_contain_text("2 of them patient-reported")
    chart = nurse.locator("[data-testid=trend-chart] .js-plotly-plot")
    expect(chart).to_be_visible(timeout=60_000)
    expect(
        nurse.locator("[data-testid=trend-chart] .legendtext").filter(has_text="Patient-reported")
    ).to_have_count(1)
    nurse.locator("[data-testid=trend-chart]").scroll_into_view_if_needed()
    _shot(nurse, "home-readings-04-chart-trend")

    # The portal page on a laptop.
    laptop_context = browser.new_context(base_url=base, viewport=LAPTOP)
    laptop = laptop_context.new_page()
    sign_in(laptop, username, PASSWORD)
    laptop.goto("/portal/readings")
    expect(laptop.locator("[data-testid=history-row]")).to_have_count(2)
    expect(laptop.locator("[data-testid=readings-chart] .js-plotly-plot")).to_be_visible(timeout=60_000)
    _shot(laptop, "home-readings-05-portal-laptop")

    actions = _actions(hms_server, patient_id)
    assert actions.count(("reading.record", username)) == 2
    assert ("reading.alert_clear", "nurse.joy") in actions
    assert ("reading.limits_set", "nurse.joy") in actions
    assert ("reading.read", username) in actions  # her own page is audited too
    for context in (nurse_context, phone_context, laptop_context):
        context.close()
