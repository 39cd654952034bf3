"""Every portal read, called as patient A while patient B has records of each kind: nothing of
B's ever comes back, and asking for B's rows by id is refused.

The fixtures elsewhere rarely give a second patient an issued invoice, a payment or a document;
a mutant of ``portal_invoices`` that returned every patient's bills survived the suite. Here B
always has one of each, so a filter that goes missing fails a test.
"""

from __future__ import annotations

import pytest

from hms_app.errors import Forbidden, NotFound
from hms_app.services import emr
from hms_app.services.billing import accounts, charges, invoice_views, payments, portal_bills
from hms_app.services.emr.documents import open_document, store_document
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.services.rows import reload
from tests.services.test_billing import CLERK, _issued, key, world  # noqa: F401  (world is a fixture)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _portal(patient_id: int, username: str) -> Actor:
    return Actor(
        user_id=900 + patient_id,
        username=username,
        roles=frozenset({"patient"}),
        permissions=frozenset({"portal.self"}),
        patient_id=patient_id,
    )


@pytest.fixture
def two_patients(session, world, configured_db):  # noqa: F811
    """A and B each with an issued invoice, a payment, an open charge, a condition, an allergy,
    vitals and a document."""
    made = {}
    for name, patient_id in (("a", world["self"]), ("b", world["insured"])):
        invoice = _issued(session, patient_id, "VISIT-GP")
        payment = payments.post_payment(
            session,
            actor=CLERK,
            patient_id=patient_id,
            invoice_id=invoice.id,
            amount_cents=500,
            method="cash",
            idempotency_key=key(),
        )
        charges.post_charge(
            session,
            actor=CLERK,
            patient_id=patient_id,
            code="LAB-CBC",
            source_type="manual",
            reason="walk-in",
        )
        emr.add_condition(
            session, actor=SYSTEM_ACTOR, patient_id=patient_id, code="I10" if name == "a" else "E11.9"
        )
        emr.add_allergy(
            session,
            actor=SYSTEM_ACTOR,
            patient_id=patient_id,
            substance=f"Substance {name.upper()}",
            severity="mild",
        )
        emr.record_vitals(session, actor=SYSTEM_ACTOR, patient_id=patient_id, values={"heart_rate": "70"})
        document = store_document(
            session,
            actor=SYSTEM_ACTOR,
            patient_id=patient_id,
            title=f"Letter {name.upper()}",
            content=PDF,
            content_type="application/pdf",
        )
        made[name] = {"patient": patient_id, "invoice": invoice, "payment": payment, "document": document.id}
    session.commit()
    made["me"] = _portal(made["a"]["patient"], "patient.a")
    return made


def test_listings_as_a_hold_only_as_rows(session, two_patients):
    me, mine, theirs = two_patients["me"], two_patients["a"], two_patients["b"]
    bills = portal_bills.portal_invoices(session, actor=me)
    assert [row.id for row in bills] == [mine["invoice"].id]
    # The staff invoice list is not the portal's, with or without B's id.
    for patient_id in (None, theirs["patient"]):
        with pytest.raises(Forbidden):
            invoice_views.list_invoices(session, actor=me, patient_id=patient_id)
        session.rollback()
    record = emr.portal_record(session, actor=me)
    assert [c.code for c in record.conditions] == ["I10"]
    assert [a.substance for a in record.allergies] == ["Substance A"]
    summary = accounts.account_summary(session, actor=me, patient_id=mine["patient"])
    assert summary.patient_id == mine["patient"]


def test_bs_rows_asked_for_by_id_are_refused(session, two_patients):
    me, theirs = two_patients["me"], two_patients["b"]
    attempts = [
        lambda: accounts.account_summary(session, actor=me, patient_id=theirs["patient"]),
        lambda: accounts.list_payments(session, actor=me, patient_id=theirs["patient"]),
        lambda: accounts.get_receipt(session, actor=me, payment_id=theirs["payment"].id),
        lambda: charges.list_charges(session, actor=me, patient_id=theirs["patient"]),
        lambda: invoice_views.get_invoice(session, actor=me, invoice_id=theirs["invoice"].id),
        lambda: open_document(session, actor=me, document_id=theirs["document"]),
        lambda: portal_bills.pay_online(
            session,
            actor=me,
            invoice_id=theirs["invoice"].id,
            amount_cents=100,
            card_number="4242424242424242",
            expiry="12/30",
            cvc="123",
            idempotency_key=key(),
        ),
    ]
    for attempt in attempts:
        with pytest.raises((Forbidden, NotFound)):
            attempt()
        session.rollback()
    # B's invoice was not paid by A's attempt.
    theirs["invoice"] = reload(session, theirs["invoice"])
    assert theirs["invoice"].patient_paid_cents == 500
