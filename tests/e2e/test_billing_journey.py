"""The billing journey of issue 5, as the people who do it: a visit is completed (its charge is
posted through the one billing call every module uses); the billing clerk drafts the invoice
from the open charge, issues it and takes a partial payment at the desk (a double click records
one payment); the patient signs in to the portal, is declined with the bank's test card, and
pays the rest of their share with a good card; the clerk claims the payer's share and posts the
payer's remittance. The invoice ends paid, with exactly three payments.

One test, in order: each step needs what the one before it left in the database.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.e2e.conftest import Server, screenshot, server_db, sign_in, wait_interactive

TOAST = "[data-sonner-toast]"
VISIT_ID = 987_654  # the completed appointment's id: the charge is keyed to it


def _post_visit_charge(server: Server) -> tuple[int, int]:
    """What scheduling's complete_appointment does: one charge for the visit, posted twice to prove
    a retried completion charges once. The patient is insured, so the bill has a payer share."""
    from hms_app.models.patients import Payer
    from hms_app.models.security import AppUser
    from hms_app.services.billing.charges import post_charge
    from hms_app.services.billing.common import current_coverage
    from hms_app.services.coverage import add_coverage
    from hms_app.services.permissions import SYSTEM_ACTOR

    with server_db(server) as session:
        patient_id = session.execute(
            select(AppUser.patient_id).where(AppUser.username == "patient")
        ).scalar_one()
        if current_coverage(session, patient_id) is None:
            payer_id = session.execute(select(Payer.id).where(Payer.kind == "insurer").limit(1)).scalar_one()
            add_coverage(
                session,
                actor=SYSTEM_ACTOR,
                patient_id=patient_id,
                data={
                    "payer_id": payer_id,
                    "plan_name": "Silver PPO",
                    "member_id": "E2E-0001",
                    "valid_from": "2020-01-01",
                    "priority": "1",
                    "copay": "20",
                    "coinsurance_percent": "20",
                },
            )
        first = post_charge(
            session,
            actor=SYSTEM_ACTOR,
            patient_id=patient_id,
            code="VISIT-SPEC",
            source_type="appointment",
            source_id=VISIT_ID,
        )
        again = post_charge(
            session,
            actor=SYSTEM_ACTOR,
            patient_id=patient_id,
            code="VISIT-SPEC",
            source_type="appointment",
            source_id=VISIT_ID,
        )
        assert again.id == first.id
        return patient_id, first.id


def _invoice_state(server: Server, number: str):
    from hms_app.models.billing import Invoice, Payment

    with server_db(server) as session:
        invoice = session.execute(select(Invoice).where(Invoice.number == number)).scalar_one()
        payments = session.execute(
            select(Payment.method, Payment.amount_cents, Payment.received_by)
            .where(Payment.invoice_id == invoice.id)
            .order_by(Payment.id)
        ).all()
        return invoice, payments


@pytest.mark.scaled_out
def test_a_completed_visit_becomes_a_paid_invoice(page: Page, browser: Browser, hms_server: Server):
    patient_id, charge_id = _post_visit_charge(hms_server)

    # The billing clerk bills the open charge.
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "billing")
    page.goto(f"/billing/accounts/{patient_id}")
    # The demo may have left an earlier open charge for the same service: this visit's own row.
    row = page.locator(f"[data-testid=charge-row-VISIT-SPEC][data-charge-id='{charge_id}']")
    expect(row).to_be_visible()
    wait_interactive(page, "[data-testid=draft-invoice]")
    # Only the new visit goes on this invoice: untick any other open charge the demo left.
    for box in page.locator("[data-testid=charges-table] [data-testid=charge-check]").all():
        if box.get_attribute("data-state") == "checked":
            box.click()
    row.locator("[data-testid=charge-check]").click()
    expect(row.locator("[data-testid=charge-check]")).to_have_attribute("data-state", "checked")
    screenshot(page, "billing-01-account-open-charge")
    page.locator("[data-testid=draft-invoice]").click()
    page.wait_for_url(re.compile(r"/billing/invoices/\d+$"))
    expect(page.locator("[data-testid=invoice-number]")).to_contain_text("Draft")
    expect(page.locator("[data-testid=line-VISIT-SPEC]")).to_be_visible()
    screenshot(page, "billing-02-draft-invoice")

    page.locator("[data-testid=issue]").click()
    number_el = page.locator("[data-testid=invoice-number]")
    expect(number_el).to_have_text(re.compile(r"^INV-\d{6}$"))
    number = number_el.inner_text()
    due_text = page.locator("[data-testid=invoice-patient-due]").inner_text()
    due_cents = int(round(float(due_text.replace("$", "").replace(",", "")) * 100))
    assert due_cents > 2000

    # A partial payment at the desk; the button is clicked twice as an impatient clerk would.
    page.locator("[data-testid=take-payment]").click()
    amount = page.locator("[data-testid=pay-amount]")
    expect(amount).to_be_visible()
    amount.fill("20.00")
    page.locator("[data-testid=pay-method]").click()
    page.get_by_role("option", name="Cash", exact=True).click()
    screenshot(page, "billing-03-payment-dialog")
    page.locator("[data-testid=dialog-submit]").dblclick()
    expect(page.locator(TOAST).filter(has_text="$20.00 received")).to_be_visible()
    expect(page.locator("[data-testid=dialog-payment]")).to_have_count(0)
    expect(page.locator("[data-testid=invoice-status]")).to_have_text("Partially paid")
    screenshot(page, "billing-04-partially-paid")
    invoice, payments = _invoice_state(hms_server, number)
    assert payments == [("cash", 2000, "billing")]
    assert invoice.patient_paid_cents == 2000

    page.goto(f"/billing/invoices/{invoice.id}/print")
    expect(page.locator("[data-testid=print-number]")).to_have_text(number)
    expect(page.locator("[data-testid=print]")).to_be_visible()
    screenshot(page, "billing-05-invoice-print")

    # The patient pays the rest in the portal, on a phone.
    context = browser.new_context(base_url=hms_server.url, viewport={"width": 390, "height": 844})
    phone = context.new_page()
    sign_in(phone, "patient")
    phone.goto("/portal/bills")
    bill = phone.locator(f"[data-testid=bill-{number}]")
    expect(bill).to_be_visible()
    screenshot(phone, "billing-06-portal-bills")
    bill.locator(f"[data-testid=pay-{number}]").click()
    expect(phone.locator("[data-testid=card-number]")).to_be_visible()
    phone.locator("[data-testid=card-number]").fill("4000 0000 0000 0002")
    phone.locator("[data-testid=card-expiry]").fill("12/39")
    phone.locator("[data-testid=card-cvc]").fill("123")
    phone.locator("[data-testid=pay-now]").click()
    expect(phone.locator("[data-testid=pay-error]")).to_contain_text("declined")
    screenshot(phone, "billing-07-portal-declined")
    assert len(_invoice_state(hms_server, number)[1]) == 1  # a declined card records nothing

    phone.locator("[data-testid=card-number]").fill("4242 4242 4242 4242")
    phone.locator("[data-testid=pay-now]").click()
    expect(phone.locator("[data-testid=portal-receipt]")).to_contain_text(number)
    expect(bill).to_contain_text("You owe$0.00")
    expect(bill.locator(f"[data-testid=pay-{number}]")).to_have_count(0)
    screenshot(phone, "billing-08-portal-paid-own-share")
    context.close()

    invoice, payments = _invoice_state(hms_server, number)
    assert payments == [("cash", 2000, "billing"), ("card", due_cents - 2000, "patient")]
    assert invoice.patient_paid_cents == invoice.patient_share_cents and invoice.payer_share_cents > 0

    # The clerk claims the payer's share, submits it and posts the payer's remittance.
    page.goto(f"/billing/invoices/{invoice.id}")
    expect(page.locator("[data-testid=invoice-patient-due]")).to_have_text("$0.00")
    page.locator("[data-testid=create-claim]").click()
    expect(page.locator(TOAST).filter(has_text="Claim drafted")).to_be_visible()
    page.goto("/billing/claims")
    claim = page.locator("[data-testid=claim-row]").filter(has_text=number)
    expect(claim).to_contain_text("Draft")
    claim.locator("[data-testid=claim-submit]").click()
    expect(claim).to_contain_text("Submitted")
    claim.locator("[data-testid=claim-remit]").click()
    remit = page.locator("[data-testid=remit-amount]")
    expect(remit).to_have_value(f"{invoice.payer_share_cents // 100}.{invoice.payer_share_cents % 100:02d}")
    page.locator("input[name=reference]").fill("ERA-E2E-1")
    screenshot(page, "billing-09-remittance")
    page.locator("[data-testid=dialog-submit]").click()
    expect(page.locator(TOAST).filter(has_text="Remittance")).to_be_visible()

    # Back at the desk, the invoice is paid in full.
    page.goto(f"/billing/invoices/{invoice.id}")
    expect(page.locator("[data-testid=invoice-patient-due]")).to_have_text("$0.00")
    expect(page.locator("[data-testid=invoice-status]")).to_have_text("Paid")
    screenshot(page, "billing-10-invoice-paid")
    invoice, payments = _invoice_state(hms_server, number)
    assert [m for m, _a, _b in payments] == ["cash", "card", "insurer"]
    assert invoice.payer_paid_cents == invoice.payer_share_cents
    assert invoice.patient_paid_cents + invoice.payer_paid_cents == invoice.total_cents
    assert charge_id
