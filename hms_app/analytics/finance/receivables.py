"""Receivables: the balances open on a day, their aging and the largest of them."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlalchemy import case, func, or_, select
from sqlmodel import Session

from hms_app.analytics.finance.common import (
    BUCKET_LABELS,
    BUCKETS,
    INV,
    PATIENT,
    PAY,
    PAYER,
    SELF_PAY,
    TOP_BALANCES,
    FinanceFilters,
    _named,
    _patient_label,
    _sum,
    local_midnight,
)
from hms_app.clock import to_local


def _balances(filters: FinanceFilters):
    """One row per invoice with money owed at the end of the AR day: id, issued_at, total, balance.

    Every payment that settles an invoice is a ``payment`` row with the part it settled in
    ``applied_cents``: desk payments, credit moved onto the invoice, insurer remittances (their
    ``remittance`` row points at that payment, so it is not counted twice) and refunds taken back
    from the invoice (negative). What was paid by the cutoff is their sum over the payments
    received before it.

    The billing services keep that sum on the invoice as it happens (``patient_paid_cents +
    payer_paid_cents``, also after a void, which moves the money to credit but leaves the
    columns), so the sum before the cutoff is the kept total minus what arrived since: for
    today that is nothing, and the query reads the invoices alone instead of every payment
    ever made. ``tests/services/test_finance_figures.py`` checks the result against the sum of
    the payments themselves.
    """
    cutoff = local_midnight(filters.ar_day + timedelta(days=1))
    later = (
        select(PAY.c.invoice_id.label("invoice_id"), func.sum(PAY.c.applied_cents).label("cents"))
        .where(PAY.c.invoice_id.is_not(None), PAY.c.received_at >= cutoff)
        .group_by(PAY.c.invoice_id)
        .subquery("later")
    )
    balance = (
        INV.c.total_cents
        - INV.c.patient_paid_cents
        - INV.c.payer_paid_cents
        + func.coalesce(later.c.cents, 0)
    ).label("balance")
    return (
        select(
            INV.c.id.label("invoice_id"),
            INV.c.issued_at.label("issued_at"),
            INV.c.total_cents.label("total"),
            balance,
        )
        .select_from(INV.outerjoin(later, later.c.invoice_id == INV.c.id))
        .where(
            INV.c.status.in_(("issued", "void")),
            INV.c.issued_at < cutoff,
            or_(INV.c.voided_at.is_(None), INV.c.voided_at >= cutoff),
            balance > 0,
        )
        .subquery("open_invoice")
    )


def _bucket_of(issued_at, ar_day: date):
    """The aging bucket of an issue moment, by whole local days before ``ar_day``."""
    return case(
        (issued_at >= local_midnight(ar_day - timedelta(days=30)), BUCKETS[0]),
        (issued_at >= local_midnight(ar_day - timedelta(days=60)), BUCKETS[1]),
        (issued_at >= local_midnight(ar_day - timedelta(days=90)), BUCKETS[2]),
        else_=BUCKETS[3],
    )


def ar_aging(session: Session, *, filters: FinanceFilters) -> pd.DataFrame:
    """Receivables on the AR day by age (columns: bucket, label, invoices, balance_cents)."""
    open_invoices = _balances(filters)
    bucket = _bucket_of(open_invoices.c.issued_at, filters.ar_day).label("bucket")
    found = {
        name: (int(count), int(cents))
        for name, count, cents in session.execute(
            select(bucket, func.count(), _sum(open_invoices.c.balance)).group_by(bucket)
        ).all()
    }
    return pd.DataFrame(
        {
            "bucket": list(BUCKETS),
            "label": [BUCKET_LABELS[b] for b in BUCKETS],
            "invoices": [found.get(b, (0, 0))[0] for b in BUCKETS],
            "balance_cents": [found.get(b, (0, 0))[1] for b in BUCKETS],
        }
    )


BALANCE_COLUMNS = (
    "invoice_id",
    "number",
    "patient",
    "payer",
    "issued",
    "age_days",
    "total_cents",
    "balance_cents",
)


def top_outstanding(session: Session, *, filters: FinanceFilters, limit: int = TOP_BALANCES) -> pd.DataFrame:
    """The largest balances on the AR day (columns: invoice_id, number, patient, payer, issued,
    age_days, total_cents, balance_cents). Lists patients by name (the service audits the listing)."""
    open_invoices = _balances(filters)
    rows = session.execute(
        select(
            open_invoices.c.invoice_id,
            INV.c.number,
            PATIENT.c.given_name,
            PATIENT.c.family_name,
            PATIENT.c.mrn,
            PAYER.c.name,
            open_invoices.c.issued_at,
            open_invoices.c.total,
            open_invoices.c.balance,
        )
        .select_from(_named(open_invoices.join(INV, INV.c.id == open_invoices.c.invoice_id)))
        .order_by(open_invoices.c.balance.desc(), open_invoices.c.issued_at, open_invoices.c.invoice_id)
        .limit(limit)
    ).all()
    records = []
    for invoice_id, number, given, family, mrn, payer, issued_at, total, balance in rows:
        issued = to_local(issued_at).date()
        records.append(
            {
                "invoice_id": int(invoice_id),
                "number": number or "",
                "patient": _patient_label(given, family, mrn),
                "payer": payer or SELF_PAY,
                "issued": issued.isoformat(),
                "age_days": (filters.ar_day - issued).days,
                "total_cents": int(total),
                "balance_cents": int(balance),
            }
        )
    return pd.DataFrame(records, columns=list(BALANCE_COLUMNS))
