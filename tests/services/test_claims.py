"""Insurance claims: lifecycle, remittance posting, what moves to the patient, permissions, audit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from hms_app.errors import Conflict, Forbidden, ValidationError
from hms_app.models.billing import ChargeItemDefinition, Claim, Invoice, Payment, Remittance
from hms_app.models.patients import Coverage, Payer
from hms_app.models.security import AuditEvent
from hms_app.services import patients
from hms_app.services.billing import accounts, charges, claims, invoice_views, invoices
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.services.rows import reload

CLERK = Actor(
    user_id=7,
    username="billing",
    roles=frozenset({"billing_clerk"}),
    permissions=frozenset({"patient.read", "billing.read", "billing.post"}),
)
VIEWER = Actor(
    user_id=8, username="viewer", roles=frozenset({"manager"}), permissions=frozenset({"billing.read"})
)


@pytest.fixture
def insured_invoice(session):
    """An issued invoice of 100.00: co-insurance 20 % -> patient 20.00, payer 80.00."""
    session.add(ChargeItemDefinition(code="PROC-1", name="Procedure", price_cents=10000))
    payer = Payer(code="ACME", name="Acme Health")
    session.add(payer)
    session.commit()
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Cleo", "family_name": "Claim", "sex": "female", "birth_date": "1970-03-03"},
    )
    session.add(
        Coverage(
            patient_id=patient.id,
            payer_id=payer.id,
            plan_name="Silver",
            member_id="ACM-2",
            valid_from=date(2020, 1, 1),
            coinsurance_percent=20,
        )
    )
    session.commit()
    charges.post_charge(
        session, actor=CLERK, patient_id=patient.id, code="PROC-1", source_type="appointment", source_id=1
    )
    draft = invoices.draft_invoice(session, actor=CLERK, patient_id=patient.id)
    invoice = invoices.issue_invoice(session, actor=CLERK, invoice_id=draft.id)
    assert (invoice.patient_share_cents, invoice.payer_share_cents) == (2000, 8000)
    return invoice


def test_full_lifecycle_to_paid_settles_the_payer_share(session, insured_invoice):
    claim = claims.create_claim(session, actor=CLERK, invoice_id=insured_invoice.id)
    assert (claim.status, claim.amount_claimed_cents) == ("draft", 8000)
    with pytest.raises(Conflict):
        claims.create_claim(session, actor=CLERK, invoice_id=insured_invoice.id)  # one open claim per invoice
    with pytest.raises(Conflict):
        claims.accept_claim(session, actor=CLERK, claim_id=claim.id)  # not submitted yet
    claims.submit_claim(session, actor=CLERK, claim_id=claim.id)
    claims.accept_claim(session, actor=CLERK, claim_id=claim.id)
    claims.post_remittance(
        session,
        actor=CLERK,
        claim_id=claim.id,
        amount_cents=8000,
        reference="ERA-1",
        idempotency_key="remit-000000001",
    )
    claim = reload(session, claim)
    invoice = session.get(Invoice, insured_invoice.id)
    invoice = reload(session, invoice)
    assert (claim.status, claim.amount_paid_cents, claim.closed_at is not None) == ("paid", 8000, True)
    assert invoice.payer_paid_cents == 8000 and invoice_views.settlement(invoice) == "partially_paid"
    payment = session.execute(select(Payment)).scalar_one()
    assert (payment.method, payment.claim_id, payment.amount_cents) == ("insurer", claim.id, 8000)
    actions = (
        session.execute(
            select(AuditEvent.action).where(AuditEvent.action.like("claim.%")).order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert actions == ["claim.create", "claim.submit", "claim.accept", "claim.remit"]


def test_a_final_short_remittance_moves_the_remainder_to_the_patient(session, insured_invoice):
    claim = claims.create_claim(session, actor=CLERK, invoice_id=insured_invoice.id)
    claims.submit_claim(session, actor=CLERK, claim_id=claim.id)
    claims.post_remittance(
        session, actor=CLERK, claim_id=claim.id, amount_cents=6000, idempotency_key="remit-short-01"
    )
    claim = reload(session, claim)
    invoice = session.get(Invoice, insured_invoice.id)
    invoice = reload(session, invoice)
    assert (claim.status, claim.moved_to_patient_cents) == ("partially_paid", 2000)
    assert (invoice.payer_share_cents, invoice.patient_share_cents, invoice.total_cents) == (
        6000,
        4000,
        10000,
    )
    with pytest.raises(Conflict):  # closed: nothing more can be posted
        claims.post_remittance(
            session, actor=CLERK, claim_id=claim.id, amount_cents=100, idempotency_key="remit-late-01"
        )
    summary = accounts.account_summary(session, actor=CLERK, patient_id=invoice.patient_id)
    assert summary.outstanding_cents == 4000 and summary.payer_outstanding_cents == 0


def test_an_interim_remittance_keeps_the_claim_open_and_a_repeated_key_posts_once(session, insured_invoice):
    claim = claims.create_claim(session, actor=CLERK, invoice_id=insured_invoice.id)
    claims.submit_claim(session, actor=CLERK, claim_id=claim.id)
    first = claims.post_remittance(
        session,
        actor=CLERK,
        claim_id=claim.id,
        amount_cents=3000,
        idempotency_key="remit-part-001",
        final=False,
    )
    again = claims.post_remittance(
        session,
        actor=CLERK,
        claim_id=claim.id,
        amount_cents=3000,
        idempotency_key="remit-part-001",
        final=False,
    )
    assert first.id == again.id
    with pytest.raises(ValidationError):  # more than the 50.00 still claimed
        claims.post_remittance(
            session, actor=CLERK, claim_id=claim.id, amount_cents=5001, idempotency_key="remit-part-002"
        )
    claims.post_remittance(
        session, actor=CLERK, claim_id=claim.id, amount_cents=5000, idempotency_key="remit-part-003"
    )
    claim = reload(session, claim)
    assert (claim.status, claim.amount_paid_cents, claim.moved_to_patient_cents) == ("paid", 8000, 0)
    assert session.execute(select(func.count(Remittance.id))).scalar_one() == 2


def test_denial_needs_a_reason_and_moves_everything_to_the_patient(session, insured_invoice):
    claim = claims.create_claim(session, actor=CLERK, invoice_id=insured_invoice.id)
    claims.submit_claim(session, actor=CLERK, claim_id=claim.id)
    with pytest.raises(ValidationError):
        claims.deny_claim(session, actor=CLERK, claim_id=claim.id, reason="")
    claims.deny_claim(session, actor=CLERK, claim_id=claim.id, reason="Not covered by plan")
    claim = reload(session, claim)
    invoice = session.get(Invoice, insured_invoice.id)
    invoice = reload(session, invoice)
    assert (claim.status, claim.denial_reason, claim.moved_to_patient_cents) == (
        "denied",
        "Not covered by plan",
        8000,
    )
    assert (invoice.patient_share_cents, invoice.payer_share_cents) == (10000, 0)
    with pytest.raises(ValidationError):  # nothing left for a payer
        claims.create_claim(session, actor=CLERK, invoice_id=insured_invoice.id)


def test_a_denied_claim_can_be_followed_by_a_new_one_only_when_payer_share_remains(session, insured_invoice):
    claim = claims.create_claim(session, actor=CLERK, invoice_id=insured_invoice.id)
    claims.cancel_claim(session, actor=CLERK, claim_id=claim.id)
    again = claims.create_claim(session, actor=CLERK, invoice_id=insured_invoice.id)
    assert again.id != claim.id and again.status == "draft"


def test_void_is_refused_while_a_claim_is_with_the_payer(session, insured_invoice):
    manager = Actor(
        user_id=9,
        username="manager",
        roles=frozenset({"manager"}),
        permissions=frozenset({"billing.read", "billing.void"}),
    )
    claim = claims.create_claim(session, actor=CLERK, invoice_id=insured_invoice.id)
    claims.submit_claim(session, actor=CLERK, claim_id=claim.id)
    with pytest.raises(Conflict):
        invoices.void_invoice(session, actor=manager, invoice_id=insured_invoice.id, reason="wrong")


def test_permissions_and_the_worklist(session, insured_invoice):
    with pytest.raises(Forbidden):
        claims.create_claim(session, actor=VIEWER, invoice_id=insured_invoice.id)
    claim = claims.create_claim(session, actor=CLERK, invoice_id=insured_invoice.id)
    rows, total = claims.list_claims(session, actor=VIEWER, status="open")
    assert total == 1 and rows[0].id == claim.id and rows[0].payer == "Acme Health" and rows[0].open
    assert claims.list_claims(session, actor=VIEWER, status="paid")[1] == 0
    with pytest.raises(ValidationError):
        claims.list_claims(session, actor=VIEWER, status="bogus")
    assert session.execute(select(func.count(Claim.id))).scalar_one() == 1
