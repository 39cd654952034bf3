"""Billing under concurrent writers, on SQLite and PostgreSQL: one payment per idempotency key,
one charge per billed act, gap-free invoice numbers, no credit spent twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from hms_app import db as hms_db
from hms_app.models.billing import ChargeItem, ChargeItemDefinition, CreditEntry, Invoice, Payment
from hms_app.models.security import AuditEvent
from hms_app.services import patients
from hms_app.services.billing import charges, payments
from hms_app.services.billing import invoices as invoicing
from hms_app.services.permissions import SYSTEM_ACTOR

THREADS = 24


def _race(count: int, work: Callable[[int], object]) -> tuple[list, list[BaseException]]:
    """Run ``work(i)`` in ``count`` threads released at the same moment."""
    results: list = [None] * count
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = work(index)
        except BaseException as error:  # noqa: BLE001  (reported by the test)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads), "a writer never finished (deadlock?)"
    return results, errors


def _setup(url: str, invoices: int = 1) -> tuple[int, list[int]]:
    with hms_db.session_scope(url) as s:
        s.add(ChargeItemDefinition(code="VISIT-GP", name="GP visit", price_cents=8000))
        s.commit()
        patient = patients.register_patient(
            s,
            actor=SYSTEM_ACTOR,
            data={"given_name": "Rae", "family_name": "Race", "sex": "female", "birth_date": "1990-05-05"},
        )
        ids = []
        for n in range(invoices):
            charges.post_charge(
                s,
                actor=SYSTEM_ACTOR,
                patient_id=patient.id,
                code="VISIT-GP",
                source_type="appointment",
                source_id=1000 + n,
            )
            ids.append(invoicing.draft_invoice(s, actor=SYSTEM_ACTOR, patient_id=patient.id).id)
        return patient.id, ids


def _pay(url: str, **kwargs):
    with hms_db.session_scope(url) as s:
        return payments.post_payment(s, actor=SYSTEM_ACTOR, **kwargs).id


def test_twenty_four_retries_with_one_key_record_exactly_one_payment(configured_db):
    patient_id, (draft_id,) = _setup(configured_db)
    with hms_db.session_scope(configured_db) as s:
        invoicing.issue_invoice(s, actor=SYSTEM_ACTOR, invoice_id=draft_id)

    results, errors = _race(
        THREADS,
        lambda _i: _pay(
            configured_db,
            patient_id=patient_id,
            invoice_id=draft_id,
            amount_cents=3000,
            method="card",
            idempotency_key="double-click-0001",
        ),
    )
    assert not errors, errors
    assert len(set(results)) == 1  # every retry was answered with the same payment
    with hms_db.session_scope(configured_db) as s:
        assert s.execute(select(func.count(Payment.id))).scalar_one() == 1
        assert s.get(Invoice, draft_id).patient_paid_cents == 3000
        audits = s.execute(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "billing.payment")
        ).scalar_one()
        assert audits == 1


def test_twenty_four_retries_of_a_payment_on_account_record_one_credit(configured_db):
    patient_id, _ = _setup(configured_db, invoices=0)
    results, errors = _race(
        THREADS,
        lambda _i: _pay(
            configured_db,
            patient_id=patient_id,
            amount_cents=2500,
            method="cash",
            idempotency_key="deposit-0000001",
        ),
    )
    assert not errors, errors
    assert len(set(results)) == 1
    with hms_db.session_scope(configured_db) as s:
        assert payments.credit_balance(s, patient_id) == 2500
        assert s.execute(select(func.count(CreditEntry.id))).scalar_one() == 1


def test_different_keys_at_once_all_count_and_overpayment_becomes_credit(configured_db):
    patient_id, (draft_id,) = _setup(configured_db)
    with hms_db.session_scope(configured_db) as s:
        invoicing.issue_invoice(s, actor=SYSTEM_ACTOR, invoice_id=draft_id)
    results, errors = _race(
        THREADS,
        lambda i: _pay(
            configured_db,
            patient_id=patient_id,
            invoice_id=draft_id,
            amount_cents=500,
            method="cash",
            idempotency_key=f"split-bill-{i:04d}",
        ),
    )
    assert not errors, errors
    assert len(set(results)) == THREADS
    with hms_db.session_scope(configured_db) as s:
        invoice = s.get(Invoice, draft_id)
        assert invoice.patient_paid_cents == 8000  # never more than what was due
        assert payments.credit_balance(s, patient_id) == THREADS * 500 - 8000
        applied = s.execute(select(func.sum(Payment.applied_cents))).scalar_one()
        assert applied == 8000


def test_concurrent_use_of_credit_never_spends_it_twice(configured_db):
    patient_id, drafts = _setup(configured_db, invoices=4)
    with hms_db.session_scope(configured_db) as s:
        for draft_id in drafts:
            invoicing.issue_invoice(s, actor=SYSTEM_ACTOR, invoice_id=draft_id)
        payments.post_payment(
            s,
            actor=SYSTEM_ACTOR,
            patient_id=patient_id,
            amount_cents=10000,
            method="cash",
            idempotency_key="deposit-for-credit",
        )
    results, errors = _race(
        4,
        lambda i: _pay(
            configured_db,
            patient_id=patient_id,
            invoice_id=drafts[i],
            amount_cents=5000,
            method="credit",
            idempotency_key=f"use-credit-{i:04d}",
        ),
    )
    assert len([r for r in results if r]) == 2 and len(errors) == 2  # 100.00 of credit pays two 50.00 uses
    with hms_db.session_scope(configured_db) as s:
        assert payments.credit_balance(s, patient_id) == 0


def test_gap_free_invoice_numbers_when_many_clerks_issue_at_once(configured_db):
    _patient_id, drafts = _setup(configured_db, invoices=THREADS)

    def issue(i: int) -> str:
        with hms_db.session_scope(configured_db) as s:
            return invoicing.issue_invoice(s, actor=SYSTEM_ACTOR, invoice_id=drafts[i]).number

    results, errors = _race(THREADS, issue)
    assert not errors, errors
    assert sorted(results) == [f"INV-{n:06d}" for n in range(1, THREADS + 1)]


def test_a_completion_retried_at_once_charges_once(configured_db):
    patient_id, _ = _setup(configured_db, invoices=0)

    def charge(_i: int) -> int:
        with hms_db.session_scope(configured_db) as s:
            return charges.post_charge(
                s,
                actor=SYSTEM_ACTOR,
                patient_id=patient_id,
                code="VISIT-GP",
                source_type="appointment",
                source_id=555,
            ).id

    results, errors = _race(THREADS, charge)
    assert not errors, errors
    assert len(set(results)) == 1
    with hms_db.session_scope(configured_db) as s:
        assert s.execute(select(func.count(ChargeItem.id))).scalar_one() == 1


def test_a_void_racing_with_payments_neither_deadlocks_nor_loses_money(configured_db):
    from hms_app.errors import Conflict

    patient_id, (draft_id,) = _setup(configured_db)
    with hms_db.session_scope(configured_db) as s:
        invoicing.issue_invoice(s, actor=SYSTEM_ACTOR, invoice_id=draft_id)

    def work(i: int):
        with hms_db.session_scope(configured_db) as s:
            if i == 0:
                return invoicing.void_invoice(
                    s, actor=SYSTEM_ACTOR, invoice_id=draft_id, reason="race test"
                ).status
            return payments.post_payment(
                s,
                actor=SYSTEM_ACTOR,
                patient_id=patient_id,
                invoice_id=draft_id,
                amount_cents=1000,
                method="cash",
                idempotency_key=f"race-void-{i:04d}",
            ).id

    results, errors = _race(12, work)
    assert results[0] == "void"
    assert all(isinstance(e, Conflict) for e in errors), errors  # payments after the void are refused
    paid = len([r for r in results[1:] if r is not None]) * 1000
    with hms_db.session_scope(configured_db) as s:
        # whatever was paid before the void is the patient's credit now, to the cent
        assert payments.credit_balance(s, patient_id) == paid
        assert s.execute(select(func.coalesce(func.sum(Payment.amount_cents), 0))).scalar_one() == paid
