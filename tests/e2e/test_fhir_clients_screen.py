"""An administrator registers a FHIR client on its screen and sees the operator's token on it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, hms_cli, screenshot, sign_in
from tests.services.fhir_keys import public_jwks, rsa_key


def test_an_administrator_registers_a_client_and_sees_its_tokens(page: Page, hms_server: Server):
    hms_cli(hms_server, "fhir", "token", "--client", "nightly-export", "--scope", "system/*.read")
    sign_in(page, "admin")
    page.goto("/admin/fhir-clients")
    row = page.locator("[data-testid=client-row-nightly-export]")
    expect(row).to_contain_text("System integration (FHIR clients)")
    expect(row).to_contain_text("system/*.read")

    page.locator("[data-testid=new-client]").click()
    dialog = page.locator("[data-testid=dialog-create]")
    dialog.locator("input[name=name]").fill("regional-lab")
    dialog.locator("input[name=description]").fill("The regional laboratory's results feed")
    dialog.locator("textarea[name=scopes]").fill("system/Patient.read system/Observation.cruds")
    dialog.locator("textarea[name=jwks]").fill('{"keys": [{"kty": "RSA", "d": "private"}]}')
    dialog.locator("[data-testid=dialog-submit]").click()
    expect(dialog.locator("[data-testid=error-jwks]")).to_contain_text("private key material")

    dialog.locator("textarea[name=jwks]").fill(public_jwks(rsa_key()))
    dialog.locator("[data-testid=dialog-submit]").click()
    expect(page.locator("[data-sonner-toast]").filter(has_text="regional-lab registered")).to_be_visible()
    lab = page.locator("[data-testid=client-row-regional-lab]")
    expect(lab).to_contain_text("system/Observation.cruds")
    expect(lab).to_contain_text("never")
    screenshot(page, "admin-fhir-clients")
