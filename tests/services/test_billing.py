"""Billing: charges, invoice math and shares, issue and void, payments, credit and refunds."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.billing import (
    ChargeItem,
    ChargeItemDefinition,
    CoverageLimit,
    CreditEntry,
    Invoice,
    InvoiceLine,
    Payment,
    PriceList,
    PriceListItem,
)
from hms_app.models.organization import Department
from hms_app.models.patients import Coverage, Payer
from hms_app.models.security import AuditEvent
from hms_app.services import patients
from hms_app.services.billing import (
    accounts,
    catalogue,
    charges,
    invoice_views,
    invoices,
    money,
    payments,
    portal_bills,
)
from hms_app.services.billing.money import LineInput, ShareTerms, compute_lines, round_half_up
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.services.rows import reload

CLERK = Actor(
    user_id=7,
    username="billing",
    roles=frozenset({"billing_clerk"}),
    permissions=frozenset({"patient.read", "billing.read", "billing.post"}),
)
MANAGER = Actor(
    user_id=8,
    username="manager",
    roles=frozenset({"manager"}),
    permissions=frozenset({"billing.read", "billing.void", "analytics.read"}),
)
NURSE = Actor(
    user_id=9, username="nurse", roles=frozenset({"nurse"}), permissions=frozenset({"patient.read"})
)


def key() -> str:
    return f"test-{uuid.uuid4().hex}"


# ------------------------------------------------------------------ pure money rules (no database)


def test_round_half_up_rounds_half_a_cent_up_and_never_uses_floats():
    assert round_half_up(5, 10) == 1  # 0.5 -> 1
    assert round_half_up(4, 10) == 0
    assert round_half_up(15, 10) == 2  # 1.5 -> 2 (not banker's 2/ 2.5 -> 2)
    assert round_half_up(25, 10) == 3  # 2.5 -> 3: banker's rounding would give 2
    assert round_half_up(-25, 10) == -3


def test_tax_is_per_line_on_the_net_after_discount_and_lines_add_up():
    # 3 x 33.33 = 99.99, 8.25 % tax = 8.249175 -> 8.25; second line 10.00 - 2.50 discount = 7.50, tax 0.61875 -> 0.62
    lines = compute_lines([LineInput(3, 3333, 0, 825), LineInput(1, 1000, 250, 825)], None)
    assert [(x.gross_cents, x.discount_cents, x.tax_cents, x.total_cents) for x in lines] == [
        (9999, 0, 825, 10824),
        (1000, 250, 62, 812),
    ]
    assert all(x.patient_cents == x.total_cents and x.payer_cents == 0 for x in lines)  # self-pay


def test_copay_then_coinsurance_per_line_and_shares_sum_exactly_to_each_line():
    terms = ShareTerms(copay_cents=2000, coinsurance_percent=15)
    lines = compute_lines([LineInput(1, 1500), LineInput(1, 10001), LineInput(2, 333)], terms)
    # line 1: 15.00 all co-pay; line 2: 5.00 co-pay left, 15 % of 95.01 = 14.2515 -> 14.25; line 3: 15 % of 6.66 = 0.999 -> 1.00
    assert [x.patient_cents for x in lines] == [1500, 500 + 1425, 100]
    assert [x.payer_cents for x in lines] == [0, 10001 - 1925, 666 - 100]
    assert all(x.patient_cents + x.payer_cents == x.total_cents for x in lines)


def test_a_payer_limit_moves_the_excess_to_the_patient_from_the_last_line_back():
    lines = compute_lines(
        [LineInput(1, 10000), LineInput(1, 5000)],
        ShareTerms(copay_cents=0, coinsurance_percent=10, payer_cap_cents=10000),
    )
    # payer would pay 90.00 + 45.00 = 135.00; capped at 100.00, the 35.00 comes off the last line
    assert [x.payer_cents for x in lines] == [9000, 1000]
    assert [x.patient_cents for x in lines] == [1000, 4000]
    assert sum(x.payer_cents for x in lines) == 10000


@pytest.mark.parametrize(
    ("text", "cents"),
    [("12", 1200), ("12.5", 1250), ("12,50", 1250), ("1,234.56", 123456), (" 0.07 ", 7)],
)
def test_money_is_parsed_to_cents_exactly(text, cents):
    assert money.parse_money(text) == cents


@pytest.mark.parametrize("text", ["", "abc", "12.345", "-5", "0", "1e3"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(ValidationError):
        money.parse_money(text)


def test_luhn_and_the_simulated_gateway():
    assert portal_bills.luhn_valid("4242424242424242")
    assert not portal_bills.luhn_valid("4242424242424241")
    ref = portal_bills.simulated_card_charge(
        card_number="4242 4242 4242 4242",
        expiry="12/30",
        cvc="123",
        amount_cents=500,
        today=date(2026, 11, 26),
    )
    assert ref.startswith("SIM-4242")
    for number, expiry, field in [
        ("4242424242424241", "12/30", "card_number"),
        ("4000 0000 0000 0002", "12/30", "card_number"),
        ("4242424242424242", "10/26", "expiry"),
        ("4242424242424242", "13/30", "expiry"),
        ("12", "12/30", "card_number"),
    ]:
        with pytest.raises(ValidationError) as caught:
            portal_bills.simulated_card_charge(
                card_number=number, expiry=expiry, cvc="123", amount_cents=500, today=date(2026, 11, 26)
            )
        assert caught.value.field == field


# ------------------------------------------------------------------------------- with the database


@pytest.fixture
def world(session):
    """A department, a small catalogue, a payer with a price list, and two patients."""
    dept = Department(code="GEN", name="General Medicine")
    lab = Department(code="LAB", name="Laboratory", kind="diagnostic")
    session.add_all([dept, lab])
    session.flush()
    session.add_all(
        [
            ChargeItemDefinition(
                code="VISIT-GP", name="GP visit", category="visit", department_id=dept.id, price_cents=8000
            ),
            ChargeItemDefinition(
                code="LAB-CBC",
                name="Full blood count",
                category="lab",
                department_id=lab.id,
                price_cents=3333,
                tax_rate_bp=825,
            ),
            ChargeItemDefinition(
                code="DRUG-AMOX",
                name="Amoxicillin 500 mg",
                category="drug",
                department_id=None,
                price_cents=1250,
                tax_rate_bp=500,
            ),
            ChargeItemDefinition(code="OLD", name="Retired service", price_cents=100, active=False),
        ]
    )
    payer = Payer(code="ACME", name="Acme Health")
    session.add(payer)
    session.flush()
    plist = PriceList(payer_id=payer.id, name="Acme 2026", valid_from=date(2020, 1, 1))
    session.add(plist)
    session.flush()
    session.add(PriceListItem(price_list_id=plist.id, code="VISIT-GP", price_cents=7000))
    session.commit()
    self_pay = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Sam", "family_name": "Selfpay", "sex": "male", "birth_date": "1980-01-01"},
    )
    insured = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Ines", "family_name": "Insured", "sex": "female", "birth_date": "1975-02-03"},
    )
    coverage = Coverage(
        patient_id=insured.id,
        payer_id=payer.id,
        plan_name="Gold",
        member_id="ACM-1",
        valid_from=date(2020, 1, 1),
        copay_cents=1500,
        coinsurance_percent=20,
    )
    session.add(coverage)
    session.commit()
    return {
        "dept": dept.id,
        "lab": lab.id,
        "payer": payer.id,
        "self": self_pay.id,
        "insured": insured.id,
        "coverage": coverage.id,
    }


def _charge(session, patient_id, code="VISIT-GP", source_id=None, quantity=1, actor=CLERK):
    if source_id is None:
        return charges.post_charge(
            session,
            actor=actor,
            patient_id=patient_id,
            code=code,
            quantity=quantity,
            source_type="manual",
            reason="walk-in test",
        )
    return charges.post_charge(
        session,
        actor=actor,
        patient_id=patient_id,
        code=code,
        quantity=quantity,
        source_type="appointment",
        source_id=source_id,
    )


def _issued(session, patient_id, *codes):
    for code in codes:
        _charge(session, patient_id, code)
    draft = invoices.draft_invoice(session, actor=CLERK, patient_id=patient_id)
    return invoices.issue_invoice(session, actor=CLERK, invoice_id=draft.id)


def test_a_charge_takes_the_catalogue_price_or_the_payers_negotiated_one_and_is_audited(session, world):
    own = _charge(session, world["self"], source_id=1)
    insured = _charge(session, world["insured"], source_id=2)
    assert (own.unit_price_cents, own.department_id, own.status) == (8000, world["dept"], "open")
    assert insured.unit_price_cents == 7000  # Acme's price list
    actions = session.execute(
        select(AuditEvent.action, AuditEvent.patient_id).where(AuditEvent.action == "billing.charge")
    ).all()
    assert sorted(p for _a, p in actions) == sorted([world["self"], world["insured"]])


def test_a_retried_completion_never_double_charges(session, world):
    first = _charge(session, world["self"], source_id=42)
    again = _charge(session, world["self"], source_id=42)
    assert again.id == first.id
    other_code = _charge(session, world["self"], code="LAB-CBC", source_id=42)
    assert other_code.id != first.id  # a different service from the same visit is its own charge
    assert session.execute(select(func.count(ChargeItem.id))).scalar_one() == 2


def test_charge_rules_manual_needs_a_reason_unknown_or_retired_codes_and_permissions(session, world):
    with pytest.raises(ValidationError) as caught:
        charges.post_charge(
            session, actor=CLERK, patient_id=world["self"], code="VISIT-GP", source_type="manual"
        )
    assert caught.value.field == "reason"
    for code in ("NOPE", "OLD"):
        with pytest.raises(ValidationError):
            _charge(session, world["self"], code=code, source_id=5)
    with pytest.raises(ValidationError):
        _charge(session, world["self"], quantity=0, source_id=6)
    with pytest.raises(Forbidden):
        _charge(session, world["self"], source_id=7, actor=NURSE)
    with pytest.raises(NotFound):
        _charge(session, 999_999, source_id=8)
    assert session.execute(select(func.count(ChargeItem.id))).scalar_one() == 0


def test_the_clinician_who_completes_a_visit_posts_its_charge_but_no_manual_one(session, world):
    doctor = Actor(
        user_id=11,
        username="dr.grey",
        roles=frozenset({"physician"}),
        permissions=frozenset({"patient.read", "appointment.flow"}),
    )
    charge = _charge(session, world["self"], source_id=321, actor=doctor)
    assert charge.entered_by == "dr.grey"
    with pytest.raises(Forbidden):
        _charge(session, world["self"], actor=doctor)  # manual: a billing decision


def test_commit_false_lets_the_caller_roll_the_charge_back(session, world):
    charges.post_charge(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=world["self"],
        code="VISIT-GP",
        source_type="appointment",
        source_id=77,
        commit=False,
    )
    session.rollback()
    assert session.execute(select(func.count(ChargeItem.id))).scalar_one() == 0


def test_self_pay_invoice_totals_and_a_gap_free_number_only_at_issue(session, world):
    _charge(session, world["self"], "VISIT-GP")
    _charge(session, world["self"], "LAB-CBC", quantity=3)
    draft = invoices.draft_invoice(session, actor=CLERK, patient_id=world["self"])
    assert draft.number is None and draft.status == "draft"
    # 80.00 + 3 x 33.33 = 179.99; tax on the lab line 8.25 % of 99.99 = 8.249 -> 8.25
    assert (draft.subtotal_cents, draft.tax_cents, draft.total_cents) == (17999, 825, 18824)
    assert (draft.patient_share_cents, draft.payer_share_cents) == (18824, 0)
    assert charges.list_charges(session, actor=CLERK, patient_id=world["self"]) == []  # both on the draft
    issued = invoices.issue_invoice(session, actor=CLERK, invoice_id=draft.id)
    assert issued.number == "INV-000001" and issued.issued_at is not None
    second = _issued(session, world["self"], "DRUG-AMOX")
    assert second.number == "INV-000002"
    with pytest.raises(Conflict):
        invoices.issue_invoice(session, actor=CLERK, invoice_id=draft.id)


def test_insured_invoice_splits_copay_and_coinsurance_and_the_lines_add_up(session, world):
    invoice = _issued(session, world["insured"], "VISIT-GP", "LAB-CBC")
    # VISIT 70.00 (negotiated): 15.00 co-pay, 20 % of 55.00 = 11.00 -> patient 26.00
    # LAB 33.33 + 2.75 tax = 36.08: 20 % = 7.216 -> 7.22
    assert invoice.total_cents == 7000 + 3608
    assert invoice.patient_share_cents == 2600 + 722
    assert invoice.payer_share_cents == invoice.total_cents - invoice.patient_share_cents
    assert invoice.payer_id == world["payer"] and invoice.coverage_id == world["coverage"]
    lines = session.execute(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).scalars().all()
    assert sum(x.line_total_cents for x in lines) == invoice.total_cents
    assert all(x.patient_share_cents + x.payer_share_cents == x.line_total_cents for x in lines)


def test_coverage_limits_cap_the_payer_per_invoice_and_per_year(session, world):
    session.add(CoverageLimit(coverage_id=world["coverage"], per_invoice_cents=5000, per_year_cents=8000))
    session.commit()
    first = _issued(session, world["insured"], "VISIT-GP", "LAB-CBC")
    assert first.payer_share_cents == 5000  # per-invoice cap
    second = _issued(session, world["insured"], "VISIT-GP")
    assert second.payer_share_cents == 3000  # what is left of the 80.00 a year
    assert second.patient_share_cents == second.total_cents - 3000


def test_a_line_discount_on_a_draft_recomputes_and_an_issued_invoice_cannot_change(session, world):
    _charge(session, world["self"], "VISIT-GP")
    draft = invoices.draft_invoice(session, actor=CLERK, patient_id=world["self"])
    line = session.execute(select(InvoiceLine).where(InvoiceLine.invoice_id == draft.id)).scalar_one()
    with pytest.raises(ValidationError):
        invoices.set_line_discount(
            session, actor=CLERK, line_id=line.id, discount_cents=9000, reason="too much"
        )
    updated = invoices.set_line_discount(
        session, actor=CLERK, line_id=line.id, discount_cents=1000, reason="hardship"
    )
    assert (updated.discount_cents, updated.total_cents) == (1000, 7000)
    invoices.issue_invoice(session, actor=CLERK, invoice_id=draft.id)
    with pytest.raises(Conflict):
        invoices.set_line_discount(session, actor=CLERK, line_id=line.id, discount_cents=0, reason="undo")


def test_discarding_a_draft_reopens_its_charges_and_uses_no_number(session, world):
    _charge(session, world["self"], "VISIT-GP")
    draft = invoices.draft_invoice(session, actor=CLERK, patient_id=world["self"])
    invoices.discard_draft(session, actor=CLERK, invoice_id=draft.id)
    assert [c.status for c in charges.list_charges(session, actor=CLERK, patient_id=world["self"])] == [
        "open"
    ]
    assert _issued(session, world["self"]).number == "INV-000001"


def test_drafting_by_visit_or_by_chosen_charges(session, world):
    a = _charge(session, world["self"], "VISIT-GP", source_id=11)
    b = _charge(session, world["self"], "LAB-CBC", source_id=12)
    by_visit = invoices.draft_invoice(
        session, actor=CLERK, patient_id=world["self"], source_type="appointment", source_id=11
    )
    assert by_visit.total_cents == 8000
    with pytest.raises(Conflict):  # a is already on a draft
        invoices.draft_invoice(session, actor=CLERK, patient_id=world["self"], charge_ids=[a.id, b.id])
    chosen = invoices.draft_invoice(session, actor=CLERK, patient_id=world["self"], charge_ids=[b.id])
    assert chosen.subtotal_cents == 3333
    with pytest.raises(ValidationError):
        invoices.draft_invoice(session, actor=CLERK, patient_id=world["self"])  # nothing open any more


def test_partial_payment_then_overpayment_becomes_credit(session, world):
    invoice = _issued(session, world["self"], "VISIT-GP")  # 80.00
    payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=invoice.id,
        amount_cents=3000,
        method="cash",
        idempotency_key=key(),
    )
    invoice = reload(session, invoice)
    assert invoice_views.settlement(invoice) == "partially_paid"
    payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=invoice.id,
        amount_cents=6000,
        method="card",
        idempotency_key=key(),
    )
    invoice = reload(session, invoice)
    assert invoice_views.settlement(invoice) == "paid" and invoice.patient_paid_cents == 8000
    summary = accounts.account_summary(session, actor=CLERK, patient_id=world["self"])
    assert (summary.outstanding_cents, summary.credit_cents, summary.balance_cents) == (0, 1000, -1000)
    # the credit pays the next invoice
    second = _issued(session, world["self"], "DRUG-AMOX")  # 12.50 + 5 % = 13.13 (0.625 -> 0.63)
    assert second.total_cents == 1313
    with pytest.raises(ValidationError):  # more credit than the patient has
        payments.post_payment(
            session,
            actor=CLERK,
            patient_id=world["self"],
            invoice_id=second.id,
            amount_cents=1200,
            method="credit",
            idempotency_key=key(),
        )
    payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=second.id,
        amount_cents=1000,
        method="credit",
        idempotency_key=key(),
    )
    second = reload(session, second)
    assert second.patient_paid_cents == 1000
    assert payments.credit_balance(session, world["self"]) == 0
    cash = session.execute(
        select(func.sum(Payment.amount_cents)).where(Payment.method != "credit")
    ).scalar_one()
    assert cash == 9000  # credit use is not new money


def test_the_same_idempotency_key_records_one_payment(session, world):
    invoice = _issued(session, world["self"], "VISIT-GP")
    k = key()
    first = payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=invoice.id,
        amount_cents=2000,
        method="cash",
        idempotency_key=k,
    )
    again = payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=invoice.id,
        amount_cents=2000,
        method="cash",
        idempotency_key=k,
    )
    assert again.id == first.id
    with pytest.raises(Conflict):  # the same key for a different amount is a bug, not a retry
        payments.post_payment(
            session,
            actor=CLERK,
            patient_id=world["self"],
            invoice_id=invoice.id,
            amount_cents=2500,
            method="cash",
            idempotency_key=k,
        )
    invoice = reload(session, invoice)
    assert invoice.patient_paid_cents == 2000
    assert session.execute(select(func.count(Payment.id))).scalar_one() == 1


def test_payments_are_refused_on_drafts_void_invoices_bad_amounts_and_without_permission(session, world):
    _charge(session, world["self"], "VISIT-GP")
    draft = invoices.draft_invoice(session, actor=CLERK, patient_id=world["self"])
    with pytest.raises(Conflict):
        payments.post_payment(
            session,
            actor=CLERK,
            patient_id=world["self"],
            invoice_id=draft.id,
            amount_cents=100,
            method="cash",
            idempotency_key=key(),
        )
    for amount, method in [(0, "cash"), (-5, "cash"), (100, "bitcoin"), (100, "insurer")]:
        with pytest.raises(ValidationError):
            payments.post_payment(
                session,
                actor=CLERK,
                patient_id=world["self"],
                amount_cents=amount,
                method=method,
                idempotency_key=key(),
            )
    with pytest.raises(Forbidden):
        payments.post_payment(
            session,
            actor=MANAGER,
            patient_id=world["self"],
            amount_cents=100,
            method="cash",
            idempotency_key=key(),
        )
    invoices.issue_invoice(session, actor=CLERK, invoice_id=draft.id)
    with pytest.raises(NotFound):  # another patient's invoice
        payments.post_payment(
            session,
            actor=CLERK,
            patient_id=world["insured"],
            invoice_id=draft.id,
            amount_cents=100,
            method="cash",
            idempotency_key=key(),
        )
    assert session.execute(select(func.count(Payment.id))).scalar_one() == 0


def test_refund_takes_credit_first_then_reopens_the_invoice_and_needs_billing_void(session, world):
    invoice = _issued(session, world["self"], "VISIT-GP")  # 80.00
    payment = payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=invoice.id,
        amount_cents=10000,
        method="card",
        idempotency_key=key(),
    )
    assert payments.credit_balance(session, world["self"]) == 2000
    with pytest.raises(Forbidden):  # a clerk posts; refunds need billing.void
        payments.refund_payment(
            session,
            actor=CLERK,
            payment_id=payment.id,
            amount_cents=2000,
            reason="overpaid",
            idempotency_key=key(),
        )
    refund = payments.refund_payment(
        session,
        actor=MANAGER,
        payment_id=payment.id,
        amount_cents=2000,
        reason="overpaid",
        idempotency_key=key(),
    )
    assert (refund.amount_cents, refund.kind, refund.applied_cents) == (-2000, "refund", 0)
    invoice = reload(session, invoice)
    assert (
        payments.credit_balance(session, world["self"]) == 0 and invoice_views.settlement(invoice) == "paid"
    )
    payments.refund_payment(
        session,
        actor=MANAGER,
        payment_id=payment.id,
        amount_cents=3000,
        reason="goodwill",
        idempotency_key=key(),
    )
    invoice = reload(session, invoice)
    assert invoice.patient_paid_cents == 5000 and invoice_views.settlement(invoice) == "partially_paid"
    with pytest.raises(ValidationError):  # only 50.00 of the 100.00 payment is left to refund
        payments.refund_payment(
            session,
            actor=MANAGER,
            payment_id=payment.id,
            amount_cents=5001,
            reason="too much",
            idempotency_key=key(),
        )
    net = session.execute(select(func.sum(Payment.amount_cents))).scalar_one()
    assert net == 5000
    actions = (
        session.execute(select(AuditEvent.action).where(AuditEvent.action == "billing.refund"))
        .scalars()
        .all()
    )
    assert len(actions) == 2


def test_void_keeps_the_invoice_moves_paid_money_to_credit_and_rebills(session, world):
    invoice = _issued(session, world["self"], "VISIT-GP", "LAB-CBC")
    payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=invoice.id,
        amount_cents=5000,
        method="cash",
        idempotency_key=key(),
    )
    with pytest.raises(Forbidden):
        invoices.void_invoice(session, actor=CLERK, invoice_id=invoice.id, reason="wrong patient")
    with pytest.raises(ValidationError):
        invoices.void_invoice(session, actor=MANAGER, invoice_id=invoice.id, reason="")
    voided = invoices.void_invoice(session, actor=MANAGER, invoice_id=invoice.id, reason="wrong price")
    assert (voided.status, voided.number, voided.void_reason) == ("void", "INV-000001", "wrong price")
    lines = session.execute(
        select(func.count(InvoiceLine.id)).where(InvoiceLine.invoice_id == invoice.id)
    ).scalar_one()
    assert lines == 2  # the original stays as it was
    assert payments.credit_balance(session, world["self"]) == 5000
    replacement = session.get(Invoice, voided.replaced_by_id)
    assert replacement.status == "draft" and replacement.total_cents == invoice.total_cents
    reissued = invoices.issue_invoice(session, actor=CLERK, invoice_id=replacement.id)
    assert reissued.number == "INV-000002"
    view = invoice_views.get_invoice(session, actor=CLERK, invoice_id=reissued.id)
    assert view.replaces_number == "INV-000001"
    with pytest.raises(Conflict):
        invoices.void_invoice(session, actor=MANAGER, invoice_id=invoice.id, reason="again")
    assert session.execute(select(func.count(CreditEntry.id))).scalar_one() == 1
    audit = session.execute(
        select(AuditEvent.detail).where(AuditEvent.action == "billing.invoice.void")
    ).scalar_one()
    assert "wrong price" in audit


def test_invoice_list_filters_by_status_and_settlement_and_pages(session, world):
    a = _issued(session, world["self"], "VISIT-GP")
    b = _issued(session, world["self"], "LAB-CBC")
    _charge(session, world["insured"], "VISIT-GP")
    invoices.draft_invoice(session, actor=CLERK, patient_id=world["insured"])
    payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=a.id,
        amount_cents=8000,
        method="cash",
        idempotency_key=key(),
    )

    def numbers(**kw):
        rows, total = invoice_views.list_invoices(session, actor=CLERK, **kw)
        return [r.number for r in rows], total

    assert numbers(status="paid") == (["INV-000001"], 1)
    assert numbers(status="unpaid") == (["INV-000002"], 1)
    assert numbers(status="draft")[1] == 1
    assert numbers(status="all", limit=2)[1] == 3 and len(numbers(status="all", limit=2)[0]) == 2
    assert numbers(query="INV-000002") == (["INV-000002"], 1)
    assert numbers(query="insured")[1] == 1
    tomorrow = date.today() + timedelta(days=2)
    assert numbers(issued_from=tomorrow)[1] == 0
    with pytest.raises(Forbidden):
        invoice_views.list_invoices(session, actor=NURSE)
    assert b.number == "INV-000002"


def test_portal_pays_own_invoice_through_the_same_writer_and_cannot_see_others(session, world):
    invoice = _issued(session, world["self"], "VISIT-GP")
    other = _issued(session, world["insured"], "VISIT-GP")
    me = Actor(
        user_id=50,
        username="sam",
        roles=frozenset({"patient"}),
        permissions=frozenset({"portal.self"}),
        patient_id=world["self"],
    )
    with pytest.raises(NotFound):
        portal_bills.pay_online(
            session,
            actor=me,
            invoice_id=other.id,
            amount_cents=100,
            card_number="4242424242424242",
            expiry="12/39",
            cvc="123",
            idempotency_key=key(),
        )
    with pytest.raises(ValidationError):
        portal_bills.pay_online(
            session,
            actor=me,
            invoice_id=invoice.id,
            amount_cents=8000,
            card_number="4000 0000 0000 0002",
            expiry="12/39",
            cvc="123",
            idempotency_key=key(),
        )
    k = key()
    paid = portal_bills.pay_online(
        session,
        actor=me,
        invoice_id=invoice.id,
        amount_cents=8000,
        card_number="4242 4242 4242 4242",
        expiry="12/39",
        cvc="123",
        idempotency_key=k,
    )
    again = portal_bills.pay_online(
        session,
        actor=me,
        invoice_id=invoice.id,
        amount_cents=8000,
        card_number="4242 4242 4242 4242",
        expiry="12/39",
        cvc="123",
        idempotency_key=k,
    )
    assert paid.id == again.id and paid.method == "card" and paid.received_by == "sam"
    with pytest.raises(Conflict):
        portal_bills.pay_online(
            session,
            actor=me,
            invoice_id=invoice.id,
            amount_cents=100,
            card_number="4242424242424242",
            expiry="12/39",
            cvc="123",
            idempotency_key=key(),
        )
    with pytest.raises(Forbidden):
        accounts.account_summary(session, actor=me, patient_id=world["insured"])
    assert accounts.account_summary(session, actor=me, patient_id=world["self"]).balance_cents == 0
    with pytest.raises(Forbidden):  # a patient cannot post at the desk
        payments.post_payment(
            session,
            actor=me,
            patient_id=world["self"],
            amount_cents=100,
            method="cash",
            idempotency_key=key(),
        )


def test_catalogue_and_price_list_maintenance(session, world):
    saved = catalogue.save_charge_definition(
        session,
        actor=CLERK,
        data={
            "code": "img-xr",
            "name": "Chest X-ray",
            "category": "imaging",
            "price": "120.00",
            "tax_percent": "8.25",
            "department_id": str(world["dept"]),
        },
    )
    assert (saved.code, saved.price_cents, saved.tax_rate_bp) == ("IMG-XR", 12000, 825)
    changed = catalogue.save_charge_definition(
        session,
        actor=CLERK,
        data={
            "code": "IMG-XR",
            "name": "Chest X-ray, 2 views",
            "category": "imaging",
            "price": "130",
            "tax_percent": "0",
        },
    )
    assert changed.id == saved.id and changed.price_cents == 13000
    rows, total = catalogue.list_catalogue(session, actor=CLERK, query="IMG")
    assert total == 1 and rows[0].name == "Chest X-ray, 2 views"
    plist = catalogue.list_price_lists(session, actor=CLERK)[0]
    catalogue.set_price(session, actor=CLERK, price_list_id=plist.id, code="IMG-XR", price="99.50")
    items = catalogue.list_price_list_items(session, actor=CLERK, price_list_id=plist.id)
    assert ("IMG-XR", "Chest X-ray, 2 views", 13000, 9950) in items
    charge = _charge(session, world["insured"], "IMG-XR", source_id=900)
    assert charge.unit_price_cents == 9950
    with pytest.raises(ValidationError):
        catalogue.save_charge_definition(session, actor=CLERK, data={"code": "X", "name": "", "price": "1"})
    with pytest.raises(Forbidden):
        catalogue.save_charge_definition(
            session, actor=NURSE, data={"code": "XY", "name": "Thing", "price": "1"}
        )


# ------------------------------------------------------------------------------------ demo seed


def test_the_demo_seed_leaves_books_that_balance(session):
    """The seeded year of billing obeys the same invariants the services keep."""
    from hms_app.models.billing import Claim, Expense, Remittance
    from hms_app.seed.registry import run_seeders

    only = [
        "departments",
        "staff",
        "patients",
        "portal_user",
        "coverage",
        "clinical",
        "billing_catalogue",
        "billing_history",
    ]
    run_seeders(session, patients=150, seed=7, as_of=date.today(), only=only)
    assert session.execute(select(func.count(ChargeItemDefinition.id))).scalar_one() >= 40
    for code in ("VISIT-GP", "VISIT-SPEC", "VISIT-VIRTUAL"):
        assert session.execute(
            select(ChargeItemDefinition.id).where(ChargeItemDefinition.code == code)
        ).first()
    numbers = sorted(
        int(n[4:])
        for n in session.execute(select(Invoice.number).where(Invoice.number.is_not(None))).scalars()
    )
    assert numbers == list(range(1, len(numbers) + 1))  # gap-free
    statuses = set(session.execute(select(Invoice.status).distinct()).scalars())
    assert {"issued", "void"} <= statuses
    for inv in session.execute(select(Invoice)).scalars():
        lines = session.execute(select(InvoiceLine).where(InvoiceLine.invoice_id == inv.id)).scalars().all()
        assert sum(x.line_total_cents for x in lines) == inv.total_cents
        assert inv.patient_share_cents + inv.payer_share_cents == inv.total_cents
        applied = session.execute(
            select(func.coalesce(func.sum(Payment.applied_cents), 0)).where(
                Payment.invoice_id == inv.id, Payment.method != "insurer"
            )
        ).scalar_one()
        assert applied == inv.patient_paid_cents <= inv.patient_share_cents
        insurer = session.execute(
            select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
                Payment.invoice_id == inv.id, Payment.method == "insurer"
            )
        ).scalar_one()
        assert insurer == inv.payer_paid_cents
    claim_statuses = set(session.execute(select(Claim.status).distinct()).scalars())
    assert {"draft", "submitted", "accepted", "denied", "partially_paid", "paid"} <= claim_statuses
    remitted = session.execute(select(func.sum(Remittance.amount_cents))).scalar_one()
    assert remitted == session.execute(select(func.sum(Claim.amount_paid_cents))).scalar_one()
    kinds = set(session.execute(select(Payment.kind).distinct()).scalars())
    assert kinds == {"payment", "refund"}
    assert (
        session.execute(select(func.count(ChargeItem.id)).where(ChargeItem.status == "open")).scalar_one() > 0
    )
    assert session.execute(select(func.min(CreditEntry.amount_cents))).scalar_one() < 0
    assert set(session.execute(select(Expense.category).distinct()).scalars()) >= {
        "staff",
        "supplies",
        "drugs",
    }
    # the seeded ids leave the sequences ready for the next real invoice and charge
    patient_id = session.execute(select(ChargeItem.patient_id).limit(1)).scalar_one()
    charge = charges.post_charge(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=patient_id,
        code="VISIT-GP",
        source_type="manual",
        reason="after the seed",
    )
    draft = invoices.draft_invoice(session, actor=SYSTEM_ACTOR, patient_id=patient_id, charge_ids=[charge.id])
    issued = invoices.issue_invoice(session, actor=SYSTEM_ACTOR, invoice_id=draft.id)
    assert issued.number == f"INV-{len(numbers) + 1:06d}"


def test_paid_columns_always_equal_the_payments_applied_to_the_invoice(session, world):
    """What the finance dashboard relies on, through payments, overpayment, credit use, refunds,
    a void, and a claim's remittance."""
    from hms_app.services.billing import claims

    a = _issued(session, world["self"], "VISIT-GP")
    p1 = payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=a.id,
        amount_cents=9000,
        method="cash",
        idempotency_key=key(),
    )
    payments.refund_payment(
        session,
        actor=MANAGER,
        payment_id=p1.id,
        amount_cents=3000,
        reason="partly back",
        idempotency_key=key(),
    )
    b = _issued(session, world["self"], "LAB-CBC")
    payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=b.id,
        amount_cents=1000,
        method="card",
        idempotency_key=key(),
    )
    invoices.void_invoice(session, actor=MANAGER, invoice_id=b.id, reason="wrong test")
    c = _issued(session, world["insured"], "VISIT-GP", "LAB-CBC")
    claim = claims.create_claim(session, actor=CLERK, invoice_id=c.id)
    claims.submit_claim(session, actor=CLERK, claim_id=claim.id)
    claims.post_remittance(session, actor=CLERK, claim_id=claim.id, amount_cents=4000, idempotency_key=key())
    payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["insured"],
        invoice_id=c.id,
        amount_cents=500,
        method="cash",
        idempotency_key=key(),
    )
    for inv in session.execute(select(Invoice)).scalars():
        inv = reload(session, inv)
        applied = session.execute(
            select(func.coalesce(func.sum(Payment.applied_cents), 0)).where(Payment.invoice_id == inv.id)
        ).scalar_one()
        assert inv.patient_paid_cents + inv.payer_paid_cents == applied, inv.number
        assert inv.patient_share_cents + inv.payer_share_cents == inv.total_cents
    credit = session.execute(select(func.sum(CreditEntry.amount_cents))).scalar_one()
    # 90.00 paid on 80.00 (10.00 credit) - 30.00 refunded (10.00 from credit, 20.00 un-applied) + 10.00 from the void
    assert credit == 1000


def test_every_billing_screen_that_shows_a_patient_leaves_an_audit_row(session, world):
    """Account, charges, invoices, payments, receipts, claims and the accounts worklist all name
    patients: an auditor asking "who looked at Sam's bills?" finds each look."""
    from hms_app.services.billing import accounts, claims

    patient = world["self"]
    invoice = _issued(session, patient, "VISIT-GP")
    payment = payments.post_payment(
        session,
        actor=CLERK,
        patient_id=patient,
        invoice_id=invoice.id,
        amount_cents=1000,
        method="cash",
        idempotency_key=key(),
    )
    _charge(session, patient, "LAB-CBC")

    def last() -> AuditEvent:
        return session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()

    looks = [
        (
            lambda: accounts.account_summary(session, actor=CLERK, patient_id=patient),
            "billing.account_read",
            patient,
        ),
        (
            lambda: accounts.list_payments(session, actor=CLERK, patient_id=patient),
            "billing.payments_read",
            patient,
        ),
        (
            lambda: accounts.get_receipt(session, actor=CLERK, payment_id=payment.id),
            "billing.receipt_read",
            patient,
        ),
        (
            lambda: charges.list_charges(session, actor=CLERK, patient_id=patient),
            "billing.charges_read",
            patient,
        ),
        (
            lambda: invoice_views.list_invoices(session, actor=CLERK, patient_id=patient),
            "billing.invoices_listed",
            patient,
        ),
        (lambda: invoice_views.list_invoices(session, actor=CLERK), "billing.invoices_listed", None),
        (lambda: accounts.accounts_to_bill(session, actor=CLERK), "billing.accounts_listed", None),
        (lambda: claims.list_claims(session, actor=CLERK), "billing.claims_listed", None),
    ]
    for look, action, patient_id in looks:
        before = last().id
        look()
        session.rollback()  # nothing left pending: the row must have been committed by the read itself
        row = last()
        assert row.id > before and row.action == action, action
        assert (row.username, row.patient_id, row.outcome) == (CLERK.username, patient_id, "success"), action


def test_the_database_itself_refuses_a_second_payment_with_the_same_key(session, world):
    """The service checks the key first; this proves the unique constraint behind it holds when a
    second writer slips past that check (on SQLite queued writers would hide a missing one)."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from hms_app.models.billing import Payment

    invoice = _issued(session, world["self"], "VISIT-GP")
    the_key = key()
    payments.post_payment(
        session,
        actor=CLERK,
        patient_id=world["self"],
        invoice_id=invoice.id,
        amount_cents=1000,
        method="cash",
        idempotency_key=the_key,
    )
    with pytest.raises(IntegrityError):
        session.execute(
            insert(Payment).values(
                patient_id=world["self"],
                method="cash",
                amount_cents=1000,
                idempotency_key=the_key,
                received_by="x",
            )
        )
    session.rollback()
    assert session.execute(select(func.count()).where(Payment.idempotency_key == the_key)).scalar_one() == 1


def test_charge_sources_read_as_words_with_the_visits_reference(session, world):
    from hms_app.models.scheduling import Appointment

    _charge(session, world["self"], "VISIT-GP")
    _charge(session, world["self"], "LAB-CBC", source_id=987654)  # a visit id no row has any more
    rows = charges.list_charges(session, actor=CLERK, patient_id=world["self"])
    assert [r.source for r in rows] == ["Entered by hand", "Visit #987654"]
    assert not session.execute(select(Appointment.id)).first()  # the join found nothing to name
