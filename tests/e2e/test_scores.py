"""Clinical scores in the chart, as a physician sees them: a seeded patient deteriorating in the
emergency department shows the NEWS2 alert in the chart's banner; a set of vitals recorded through
the form that reaches NEWS2 5 raises it on a chart that had none; the scores panel shows each
score with the inputs it used and when they were taken."""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select

from hms_app.models.emr import Condition, Encounter
from hms_app.models.patients import Patient
from tests.e2e.conftest import SCREENS_DIR, Server, screenshot, server_db, sign_in

TOAST = "[data-sonner-toast]"


def _seeded_deteriorating_patient(server: Server) -> int:
    """A patient the demo seed put in the emergency department this morning at a NEWS2 trigger."""
    with server_db(server) as session:
        return session.execute(
            select(Encounter.patient_id)
            .where(Encounter.encounter_class == "emergency", Encounter.status == "in-progress")
            .order_by(Encounter.patient_id)
            .limit(1)
        ).scalar_one()


def _calm_adult(server: Server) -> int:
    """An adult with no open attendance (so no NEWS2 alert to begin with) and no hypercapnic
    respiratory failure on their problem list (that moves SpO2 to scale 2 and changes the score)."""
    with server_db(server) as session:
        busy = select(Encounter.patient_id).where(Encounter.status == "in-progress")
        scale_2 = select(Condition.patient_id).where(Condition.code.like("J96._2%"))
        return session.execute(
            select(Patient.id)
            .where(
                Patient.birth_date < date.today() - timedelta(days=40 * 365),
                Patient.id.not_in(busy),
                Patient.id.not_in(scale_2),
            )
            .order_by(Patient.id)
            .limit(1)
        ).scalar_one()


def test_a_deteriorating_patient_shows_the_news2_alert_and_the_inputs_used(page: Page, hms_server: Server):
    sign_in(page, "dr.grey")
    patient_id = _seeded_deteriorating_patient(hms_server)
    page.goto(f"/patients/{patient_id}")
    banner = page.locator("[data-testid=chart-banner]")
    alert = banner.locator("[data-testid=news2-alert]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(re.compile(r"NEWS2 \d+ \(.+\): urgent clinical review"))
    card = page.locator("[data-testid=score-news2]")
    expect(card).to_be_visible()
    for parameter in ("Respiration rate", "SpO2 (scale", "Air or oxygen", "Pulse", "Consciousness"):
        expect(card).to_contain_text(parameter)
    expect(card).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"))  # when they were taken
    screenshot(page, "scores-01-seeded-deteriorating")

    # The alert stays in the sticky banner on the other tabs.
    page.locator("[data-testid=tab-problems]").click()
    expect(alert).to_be_in_viewport()


def test_vitals_recorded_through_the_form_raise_the_alert(page: Page, hms_server: Server):
    sign_in(page, "dr.grey")
    patient_id = _calm_adult(hms_server)
    page.goto(f"/patients/{patient_id}")
    expect(page.locator("[data-testid=chart-name]")).to_be_visible()
    expect(page.locator("[data-testid=scores-panel]")).to_be_visible()
    expect(page.locator("[data-testid=news2-alert]")).to_have_count(0)

    # RR 22 (2), SpO2 95 (1), air (0), BP 112/70 (0), pulse 112 (2), alert (0), 36.5 °C (0): NEWS2 5.
    page.locator("[data-testid=tab-vitals]").click()
    observations = {
        "respiratory_rate": "22",
        "spo2": "95",
        "oxygen_flow": "0",
        "systolic_bp": "112",
        "diastolic_bp": "70",
        "heart_rate": "112",
        "temperature": "36.5",
    }
    for key, value in observations.items():
        page.locator(f"[data-testid=vital-{key}]").fill(value)
    page.locator("[data-testid=vital-consciousness]").click()
    page.get_by_role("option", name="A · Alert", exact=True).click()
    page.locator("[data-testid=record-vitals]").click()
    expect(page.locator(TOAST).filter(has_text="8 measurements recorded.")).to_be_visible()
    alert = page.locator("[data-testid=news2-alert]")
    expect(alert).to_contain_text("NEWS2 5 (medium clinical risk): urgent clinical review")
    screenshot(page, "scores-02-recorded-news2-5")

    page.locator("[data-testid=news2-alert-open]").click()
    card = page.locator("[data-testid=score-news2]")
    expect(card).to_be_in_viewport()  # "See scores" brings the panel into view below the banner
    expect(card).to_contain_text("medium risk")
    expect(card).to_contain_text("112")
    expect(card).to_contain_text("key threshold for an urgent response")
    expect(page.locator("[data-testid=score-qsofa]")).to_contain_text("negative")  # RR 22 alone: 1 of 3
    page.wait_for_timeout(600)  # the smooth scroll settles
    # What the physician sees in the window (a full-page capture would stack the sticky banner).
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS_DIR / "scores-03-panel.png"), animations="disabled")
