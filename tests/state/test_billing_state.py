"""The billing screens' states driven as a browser tab would, against the test database.

A billing clerk bills a visit's open charge, issues the invoice and takes a payment (a double
click records one payment); a manager refunds; the patient pays in the portal (a declined test
card records nothing, a retried good attempt records one payment). Actors come from real
session tokens; which handler refuses whom is covered by ``test_handler_guards.py``.
"""

from __future__ import annotations

import inspect
from datetime import date

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import func, select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.errors import ValidationError
from hms_app.models.billing import ChargeItemDefinition, Invoice, Payment
from hms_app.models.patients import Coverage, Payer
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, patients, security
from hms_app.services.billing import charges, invoices, payments
from hms_app.services.billing import claims as claim_svc
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.billing.account import BillingAccountState
from hms_app.state.billing.claims import ClaimsState
from hms_app.state.billing.common import _route_id
from hms_app.state.billing.desk import BillingDeskState
from hms_app.state.billing.expenses import ExpensesState
from hms_app.state.billing.invoice import InvoiceState
from hms_app.state.billing.payments import PaymentDialogState, RefundDialogState
from hms_app.state.portal.bills import PortalBillsState

PASSWORD = "Front-desk-97"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def office(session):
    """A clerk, a manager, a nurse, a patient with a portal login and a completed visit's charge."""
    accounts.ensure_roles(session)
    session.add(ChargeItemDefinition(code="VISIT-GP", name="GP visit", category="visit", price_cents=9500))
    session.add(ChargeItemDefinition(code="LAB-CBC", name="Blood count", category="lab", price_cents=2800))
    session.commit()
    pat = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Paula", "family_name": "Payer", "sex": "female", "birth_date": "1979-09-09"},
    )
    for username, role, patient_id in (
        ("bill", "billing_clerk", None),
        ("maya", "manager", None),
        ("nina", "nurse", None),
        ("paula", "patient", pat.id),
    ):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
            patient_id=patient_id,
        )
    charge = charges.post_charge(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=pat.id,
        code="VISIT-GP",
        source_type="appointment",
        source_id=31,
    )
    return {"patient": pat.id, "charge": charge.id}


def _tab(cls, path: str, username: str):
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.QUERY: {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
        },
        {},
    )
    state = root.get_substate(cls.get_full_name().split(".")[1:])
    with hms_db.session_scope() as s:
        state.auth_token = security.sign_in(s, username=username, password=PASSWORD).token
    return state


async def _call(state, name: str, *args) -> list:
    fn = type(state).event_handlers[name].fn
    if inspect.isasyncgenfunction(fn):
        produced = [item async for item in fn(state, *args)]
    else:
        result = fn(state, *args)
        produced = [await result if inspect.isawaitable(result) else result]
    flat: list = []

    def walk(item):
        if isinstance(item, list | tuple):
            for inner in item:
                walk(inner)
        elif item is not None:
            flat.append(item)

    walk(produced)
    return flat


def _arguments(event) -> dict:
    return {name._js_expr: value for name, value in getattr(event, "args", ())}


def _redirects(events) -> list[str]:
    return [_arguments(e)["path"]._var_value for e in events if "path" in _arguments(e)]


def _count(model, *where) -> int:
    with hms_db.session_scope() as s:
        return s.execute(select(func.count(model.id)).where(*where)).scalar_one()


def test_addresses_without_a_record_number_are_refused():
    assert _route_id("/billing/invoices/12/print", r"^/billing/invoices/([^/?#]*)", "an invoice") == 12
    for path in (
        "/billing/invoices/abc",
        "/billing/invoices/0",
        "/billing/invoices/-1",
        "/billing/invoices/",
    ):
        with pytest.raises(ValidationError):
            _route_id(path, r"^/billing/invoices/([^/?#]*)", "an invoice")


async def test_clerk_bills_a_visit_issues_and_a_double_click_records_one_payment(office, configured_db):
    desk = _tab(BillingDeskState, "/billing", "bill")
    await _call(desk, "load")
    assert [a.patient_id for a in desk.accounts] == [office["patient"]]
    assert desk.accounts[0].open_amount == "$95.00"

    account = _tab(BillingAccountState, f"/billing/accounts/{office['patient']}", "bill")
    await _call(account, "load")
    assert account.loaded and [c.code for c in account.charges] == ["VISIT-GP"]
    assert account.selected == [office["charge"]] and account.open_total == "$95.00"
    events = await _call(account, "draft_invoice")
    [path] = _redirects(events)
    invoice_id = int(path.rsplit("/", 1)[1])

    invoice = _tab(InvoiceState, path, "bill")
    await _call(invoice, "load")
    assert (invoice.status, invoice.number, invoice.total) == ("draft", f"Draft {invoice_id}", "$95.00")
    await _call(invoice, "issue")
    assert invoice.status == "issued" and invoice.number == "INV-000001" and invoice.patient_due == "$95.00"

    dialog = _tab(PaymentDialogState, path, "bill")
    await _call(dialog, "start", office["patient"], invoice_id)
    assert dialog.open and dialog.suggested == "95.00"
    key = dialog._key
    await _call(dialog, "submit", {"amount": "40", "method": "cash", "reference": ""})
    # the same click delivered again (a double click, a retried request) with the dialog's key
    dialog.open, dialog._key = True, key
    await _call(dialog, "submit", {"amount": "40", "method": "cash", "reference": ""})
    assert _count(Payment) == 1
    await _call(invoice, "load")
    assert (invoice.settlement, invoice.patient_due) == ("partially_paid", "$55.00")

    await _call(dialog, "start", office["patient"], invoice_id)
    assert dialog._key != key  # a new attempt, a new key
    await _call(dialog, "submit", {"amount": "75", "method": "card", "reference": "slip 9"})
    await _call(account, "load")
    assert account.credit == "$20.00" and account.outstanding == "$0.00" and account.balance == "-$20.00"
    assert [p.amount for p in account.payments] == ["$75.00", "$40.00"]


async def test_bad_payment_input_stays_in_the_dialog_and_writes_nothing(office, configured_db):
    with hms_db.session_scope() as s:
        draft = invoices.draft_invoice(s, actor=SYSTEM_ACTOR, patient_id=office["patient"])
        invoices.issue_invoice(s, actor=SYSTEM_ACTOR, invoice_id=draft.id)
    dialog = _tab(PaymentDialogState, f"/billing/invoices/{draft.id}", "bill")
    await _call(dialog, "start", office["patient"], draft.id)
    await _call(dialog, "submit", {"amount": "-5", "method": "bitcoin", "reference": "r" * 121})
    assert dialog.open and dialog.error == ""
    assert dialog.field_errors == {
        "amount": "Enter the amount as a positive amount.",
        "method": "Choose how the patient paid.",
        "reference": "Keep this under 120 characters.",
    }
    await _call(dialog, "submit", {"amount": "abc", "method": "cash"})
    assert dialog.field_errors == {"amount": "Enter the amount as a number such as 20 or 12.50."}
    await _call(dialog, "submit", {"amount": "10", "method": "credit"})  # no credit to spend
    assert dialog.open and (dialog.error or dialog.field_errors)
    assert _count(Payment) == 0
    refused = await _call(dialog, "start", "1; drop table", draft.id)
    assert refused and _count(Payment) == 0


async def test_manager_refunds_and_voids_while_the_clerk_cannot(office, configured_db):
    with hms_db.session_scope() as s:
        draft = invoices.draft_invoice(s, actor=SYSTEM_ACTOR, patient_id=office["patient"])
        invoices.issue_invoice(s, actor=SYSTEM_ACTOR, invoice_id=draft.id)
        payment = payments.post_payment(
            s,
            actor=SYSTEM_ACTOR,
            patient_id=office["patient"],
            invoice_id=draft.id,
            amount_cents=9500,
            method="card",
            idempotency_key="state-test-pay-1",
        )
    clerk_refund = _tab(RefundDialogState, f"/billing/accounts/{office['patient']}", "bill")
    await _call(clerk_refund, "start", payment.id, "Card $95.00", "$95.00")
    assert not clerk_refund.open  # refused: a clerk has no billing.void

    refund = _tab(RefundDialogState, f"/billing/accounts/{office['patient']}", "maya")
    await _call(refund, "start", payment.id, "Card $95.00", "$95.00")
    await _call(refund, "submit", {"amount": "15", "reason": ""})
    assert refund.error and refund.open  # a refund needs a reason
    await _call(refund, "submit", {"amount": "15", "reason": "service shortened"})
    assert not refund.open
    assert _count(Payment, Payment.kind == "refund") == 1

    invoice = _tab(InvoiceState, f"/billing/invoices/{draft.id}", "maya")
    await _call(invoice, "load")
    assert invoice.settlement == "partially_paid" and invoice.patient_due == "$15.00"
    await _call(invoice, "open_void")
    await _call(invoice, "submit_void", {"reason": "billed to the wrong visit", "rebill": "on"})
    assert invoice.status == "void" and invoice.replaced_by.startswith("Draft")
    with hms_db.session_scope() as s:
        assert payments.credit_balance(s, office["patient"]) == 8000  # 95 paid - 15 refunded
    assert _count(AuditEvent, AuditEvent.action == "billing.invoice.void") == 1


async def test_claims_worklist_walks_a_claim_to_a_short_final_remittance(office, configured_db):
    with hms_db.session_scope() as s:
        payer = Payer(code="ACME", name="Acme Health")
        s.add(payer)
        s.flush()
        s.add(
            Coverage(
                patient_id=office["patient"],
                payer_id=payer.id,
                plan_name="Gold",
                member_id="AC-77",
                valid_from=date(2020, 1, 1),
                coinsurance_percent=20,
            )
        )
        s.commit()
        draft = invoices.draft_invoice(s, actor=SYSTEM_ACTOR, patient_id=office["patient"])
        invoices.issue_invoice(s, actor=SYSTEM_ACTOR, invoice_id=draft.id)
        claim = claim_svc.create_claim(s, actor=SYSTEM_ACTOR, invoice_id=draft.id)
    work = _tab(ClaimsState, "/billing/claims", "bill")
    await _call(work, "load")
    assert [(r.id, r.status, r.claimed) for r in work.rows] == [(claim.id, "draft", "$76.00")]
    await _call(work, "submit_claim", claim.id)
    await _call(work, "open_dialog", "remit", claim.id)
    assert work.claim_left == "76.00"
    await _call(work, "submit_remittance", {"amount": "50", "reference": "ERA-5", "final": "on"})
    assert work.dialog == "" and work.rows == []  # closed: off the open worklist
    await _call(work, "set_status", "partially_paid")
    assert [(r.id, r.paid, r.moved) for r in work.rows] == [(claim.id, "$50.00", "$26.00")]
    with hms_db.session_scope() as s:
        invoice = s.get(Invoice, draft.id)
        assert (invoice.payer_share_cents, invoice.patient_share_cents) == (5000, 4500)


async def test_expenses_are_recorded_from_the_form_and_listed(office, configured_db):
    page = _tab(ExpensesState, "/billing/expenses", "bill")
    await _call(page, "load")
    await _call(
        page,
        "record",
        {
            "category": "supplies",
            "department_id": "none",
            "supplier": "MedSupply Co",
            "description": "Gloves",
            "amount": "120.50",
            "incurred_on": "2026-11-01",
        },
    )
    assert page.error == "" and page.count == 1 and page.sum_text == "$120.50"
    await _call(
        page,
        "record",
        {
            "category": "supplies",
            "department_id": "none",
            "supplier": "",
            "description": "Gloves",
            "amount": "1",
            "incurred_on": "2026-11-01",
        },
    )
    assert "supplier" in page.error.lower() and page.count == 1


async def test_the_patient_pays_in_the_portal_and_a_declined_card_records_nothing(office, configured_db):
    with hms_db.session_scope() as s:
        draft = invoices.draft_invoice(s, actor=SYSTEM_ACTOR, patient_id=office["patient"])
        issued = invoices.issue_invoice(s, actor=SYSTEM_ACTOR, invoice_id=draft.id)
    portal = _tab(PortalBillsState, "/portal/bills", "paula")
    await _call(portal, "load")
    assert [(b.number, b.due) for b in portal.bills] == [
        (issued.number, "$95.00")
    ] and portal.outstanding == "$95.00"
    await _call(portal, "show", issued.id)
    assert portal.detail_open and portal.detail_items[0].description == "GP visit"
    await _call(portal, "start_pay", issued.id)
    card = {"amount": "95.00", "card_number": "4000 0000 0000 0002", "expiry": "12/39", "cvc": "123"}
    await _call(portal, "pay", card)
    assert "declined" in portal.pay_error and _count(Payment) == 0
    key = portal._key
    await _call(portal, "pay", {**card, "card_number": "4242 4242 4242 4242"})
    assert portal.receipt and portal.outstanding == "$0.00" and portal.bills[0].status == "paid"
    portal.pay_open, portal._key = True, key  # the same attempt retried
    await _call(portal, "pay", {**card, "card_number": "4242 4242 4242 4242"})
    assert _count(Payment) == 1
    refused = await _call(portal, "start_pay", 999999)
    assert refused and not portal.pay_open


async def test_a_nurse_sees_no_billing_and_a_patient_no_staff_screen(office, configured_db):
    desk = _tab(BillingDeskState, "/billing", "nina")
    await _call(desk, "load")
    assert desk.accounts == [] and desk.invoices == []
    account = _tab(BillingAccountState, f"/billing/accounts/{office['patient']}", "paula")
    events = await _call(account, "load")
    assert "/portal" in _redirects(events) and account.name == ""


async def test_a_change_notice_refreshes_the_account_and_keeps_the_clerks_ticks(office, configured_db):
    account = _tab(BillingAccountState, f"/billing/accounts/{office['patient']}", "bill")
    await _call(account, "load")
    await _call(account, "toggle_charge", office["charge"], False)
    assert account.selected == []
    with hms_db.session_scope() as s:  # a lab test is completed meanwhile: its charge arrives
        lab = charges.post_charge(
            s,
            actor=SYSTEM_ACTOR,
            patient_id=office["patient"],
            code="LAB-CBC",
            source_type="lab",
            source_id=5,
        )
    await _call(account, "refresh")  # what the live watcher queues on the notice
    assert [c.code for c in account.charges] == ["VISIT-GP", "LAB-CBC"]
    assert account.selected == [lab.id] and account.open_total == "$123.00"
