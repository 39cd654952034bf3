"""Forms as a clerk and an administrator meet them (issue 11 items 20 and 25): a registration with
three wrong fields shows all three messages at once, each under its field, and saves nothing; a
service set up for women aged 25 and over says so on its card."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from tests.e2e.conftest import Server, screenshot, server_db, sign_in


def _patients(server: Server) -> int:
    from hms_app.models.patients import Patient

    with server_db(server) as session:
        return session.execute(select(func.count()).select_from(Patient)).scalar_one()


def test_a_registration_with_three_wrong_fields_shows_every_message_at_once(page: Page, hms_server: Server):
    page.set_viewport_size({"width": 1280, "height": 1000})
    sign_in(page, "reception")
    page.goto("/patients/new")
    expect(page.locator("[data-testid=register-submit]")).to_be_visible()
    page.locator("input[name=given_name]").fill("Robert")
    page.locator("input[name=family_name]").fill("Formtester")
    page.locator("[data-testid=sex-select]").click()
    page.get_by_role("option", name="Male", exact=True).click()
    page.locator("input[name=birth_date]").fill("1979-02-11")
    page.locator("input[name=phone]").fill("12")
    page.locator("input[name=postal_code]").fill("!!")
    page.locator("input[name=emergency_contact_phone]").fill("555")
    before = _patients(hms_server)
    page.locator("[data-testid=register-submit]").click()
    expect(page.locator("[data-testid=error-phone]")).to_contain_text("7 to 15 digits")
    expect(page.locator("[data-testid=error-postal_code]")).to_contain_text("postal code")
    expect(page.locator("[data-testid=error-emergency_contact_phone]")).to_contain_text("7 to 15 digits")
    expect(page.locator("[data-testid=error-given_name]")).to_have_count(0)
    screenshot(page, "forms-registration-every-error")
    assert _patients(hms_server) == before


def test_a_service_for_women_aged_25_and_over_says_so_on_its_card(page: Page, hms_server: Server):
    page.set_viewport_size({"width": 1280, "height": 1000})
    sign_in(page, "admin")
    page.goto("/schedule/setup")
    page.locator("[data-testid=tab-services]").click()
    page.locator("[data-testid=add-service]").click()
    dialog = page.locator("[data-testid=setup-dialog]")
    expect(dialog).to_be_visible()
    dialog.locator("[data-testid=form-code]").fill("WELLW")
    dialog.locator("[data-testid=form-name]").fill("Well-woman check")
    dialog.locator("[data-testid=form-department]").click()
    page.get_by_role("option", name="General Medicine", exact=True).click()
    dialog.locator("[data-testid=form-min-age]").fill("25")
    dialog.locator("[data-testid=form-max-age]").fill("20")
    dialog.locator("[data-testid=form-for-sex]").click()
    page.get_by_role("option", name="Female patients", exact=True).click()
    dialog.locator("[data-testid=form-save]").click()
    expect(dialog).to_contain_text("The oldest age must not be below the youngest.")
    screenshot(page, "forms-service-eligibility-refused")
    dialog.locator("[data-testid=form-max-age]").fill("")
    dialog.locator("[data-testid=form-save]").click()
    card = page.locator("[data-testid=service-WELLW]")
    expect(card.locator("[data-testid=service-eligibility]")).to_have_text(
        "For patients aged 25 and over, women and girls"
    )
    screenshot(page, "forms-service-eligibility")
