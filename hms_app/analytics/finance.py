"""The finance dashboard: every figure is one SQL aggregate (GROUP BY in the database) returning
a small DataFrame, and a second function drawing it with Plotly.

Definitions (what each number means; ``tests/services/test_finance_figures.py`` recomputes every
one of them with pandas from the raw rows and compares to the cent):

* **Period.** A date range ``start``..``end`` (both days included) in the hospital's time zone
  (``HMS_TIME_ZONE``): it runs from local midnight at the start of ``start`` to local midnight
  at the end of ``end``. Months are the hospital's months, labelled ``YYYY-MM``: an invoice
  issued at 23:30 on 31 March in New York is March revenue although it is April in UTC.
* **Revenue** = the sum of ``invoice_line.line_total_cents`` (quantity x unit price - line
  discount + tax: *tax included*, so that revenue, collections and receivables compare like with
  like; the tax part is reported beside it as ``tax_cents``) of invoices whose status is
  ``issued`` (drafts are not revenue yet, voided invoices never were), dated by the invoice's
  ``issued_at``. A void made later removes the invoice from every period it was counted in.
* **Revenue by department / service** group the same lines by the line's department and code.
* **Payer mix** = the same revenue grouped by the invoice's payer; an invoice without a payer is
  "Self-pay".
* **Charges** = ``quantity x unit_price_cents`` (before discounts and tax) of charge items that
  are not void, dated by ``entered_at``, whether or not they have been invoiced yet.
* **Collections** = money received: the sum of ``payment.amount_cents`` by ``received_at``,
  refunds (negative amounts) included, so it is *net of refunds*. Method ``credit`` moves credit
  the patient already had onto an invoice; it is not new money and is not a collection.
  Insurer payments (method ``insurer``) are collections.
* **Outstanding (accounts receivable) as of a day** (the end of the period unless chosen): for
  each invoice that had been issued by the end of that day and was not void at that moment,
  ``total_cents`` - what payments received by then applied to it (``payment.applied_cents``:
  desk payments, credit used on it, insurer remittances, minus refunds taken back from it).
  Invoices with a balance above zero are receivables.
* **AR aging** buckets those balances by whole days from the local day of issue to the as-of
  day (invoices carry no due date): 0-30, 31-60, 61-90 and over 90 days.
* **Top outstanding balances** are the largest of those balances (ties: the older invoice).
* **Expenses** = ``expense.amount_cents`` by ``incurred_on`` (a calendar day, already local),
  grouped by month, department and category.
* **Department filter.** It applies to what carries a department: invoice lines (revenue,
  payer mix), charge items and expenses. Collections and receivables belong to invoices and
  payments, which span departments, so they stay hospital-wide and the page says so.
* **Behind a bar** (``invoices_behind``): the invoices whose lines make the bar (with what they
  add to it, so a page's amounts add up to the bar), the balances of an aging bucket, the charge
  items or payments of a month, or the expenses. Paged in SQL; a listing that names patients
  writes one audit row (``finance.invoices_listed``; the CSV: ``finance.invoices_exported``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import case, func, literal, or_, select, union_all
from sqlalchemy.sql import Select
from sqlmodel import Session

from hms_app.clock import to_local, utcnow
from hms_app.errors import ValidationError
from hms_app.models.billing import (
    ChargeItem,
    ChargeItemDefinition,
    Expense,
    Invoice,
    InvoiceLine,
    Payment,
)
from hms_app.models.organization import Department
from hms_app.models.patients import Patient, Payer
from hms_app.services import organization
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

PERMISSION = "analytics.read"
MAX_DAYS = 366 * 5  # five years of months is the most one chart draws legibly
TOP_SERVICES = 15  # bars on the service chart; the table and its CSV list every service
TOP_BALANCES = 10
PAGE_SIZE = 20
CSV_CHUNK = 2000
CSV_MAX_ROWS = 100_000
SELF_PAY = "Self-pay"
NO_DEPARTMENT = "No department"
BUCKETS = ("0-30", "31-60", "61-90", "90+")
BUCKET_LABELS = {"0-30": "0-30 days", "31-60": "31-60 days", "61-90": "61-90 days", "90+": "Over 90 days"}

INV = Invoice.__table__
LINE = InvoiceLine.__table__
CHARGE = ChargeItem.__table__
PAY = Payment.__table__
EXP = Expense.__table__
PATIENT = Patient.__table__
PAYER = Payer.__table__
DEPT = Department.__table__
DEFN = ChargeItemDefinition.__table__

# Colours: the app's teal for money in, slate for charges, amber for costs, one per bucket.
TEAL, SLATE, AMBER = "#0d9488", "#64748b", "#d97706"
BUCKET_COLORS = ("#0d9488", "#ca8a04", "#ea580c", "#dc2626")
PALETTE = ("#0d9488", "#2563eb", "#7c3aed", "#db2777", "#ea580c", "#ca8a04", "#16a34a", "#0891b2", "#64748b")


# --------------------------------------------------------------------------- filters and time


@dataclass(frozen=True)
class FinanceFilters:
    """What the manager chose: a period of local days, a department (None: all), an AR day."""

    start: date
    end: date
    department_id: int | None = None
    as_of: date | None = None  # the day receivables are measured on; None: the end of the period

    @property
    def ar_day(self) -> date:
        return self.as_of or self.end


def default_filters(today: date | None = None) -> FinanceFilters:
    """The last twelve whole months and this one so far, all departments."""
    today = today or to_local(utcnow()).date()
    first = today.replace(day=1)
    for _ in range(12):
        first = (first - timedelta(days=1)).replace(day=1)
    return FinanceFilters(start=first, end=today)


def check_filters(filters: FinanceFilters) -> FinanceFilters:
    """The filters if they make sense; a ValidationError saying what to change otherwise."""
    if not isinstance(filters.start, date) or not isinstance(filters.end, date):
        raise ValidationError("Choose a start and an end date.", field="start")
    if filters.end < filters.start:
        raise ValidationError("The end date is before the start date.", field="end")
    if (filters.end - filters.start).days > MAX_DAYS:
        raise ValidationError("Choose a period of at most five years.", field="start")
    if filters.department_id is not None and (
        not isinstance(filters.department_id, int) or filters.department_id <= 0
    ):
        raise ValidationError("Choose a department from the list.", field="department")
    if filters.as_of is not None and not isinstance(filters.as_of, date):
        raise ValidationError("Choose the day to measure receivables on.", field="as_of")
    return filters


def local_midnight(day: date) -> datetime:
    """The UTC moment at which ``day`` starts in the hospital's time zone."""
    return datetime.combine(day, time.min, tzinfo=get_settings().tz).astimezone(UTC)


def period_bounds(filters: FinanceFilters) -> tuple[datetime, datetime]:
    """[from, to) in UTC for the local days start..end."""
    return local_midnight(filters.start), local_midnight(filters.end + timedelta(days=1))


def month_firsts(start: date, end: date) -> list[date]:
    firsts = [start.replace(day=1)]
    while True:
        following = (firsts[-1] + timedelta(days=32)).replace(day=1)
        if following > end:
            return firsts
        firsts.append(following)


def month_label(first: date) -> str:
    return first.strftime("%Y-%m")


def _month_of(column, firsts: list[date], *, dates: bool = False):
    """The local month (``YYYY-MM``) of a moment or day already known to lie in the period.

    SQL has no portable time-zone conversion, so each row is labelled by the newest local
    month start it has passed; the database still does the grouping.
    """
    if len(firsts) == 1:
        return literal(month_label(firsts[0]))
    whens = [
        (column >= (first if dates else local_midnight(first)), month_label(first))
        for first in reversed(firsts[1:])
    ]
    return case(*whens, else_=month_label(firsts[0]))


def _month_window(filters: FinanceFilters, label: str) -> tuple[date, date]:
    """The local days of month ``label`` that lie in the period, as [first, last]."""
    if not isinstance(label, str) or not re.fullmatch(r"\d{4}-\d{2}", label):
        raise ValidationError("Choose a month on the chart.")
    year, month = int(label[:4]), int(label[5:])
    if not 1 <= month <= 12:
        raise ValidationError("Choose a month on the chart.")
    first = date(year, month, 1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    first, last = max(first, filters.start), min(last, filters.end)
    if first > last:
        raise ValidationError("That month is outside the chosen period.")
    return first, last


def _sum(column):
    return func.coalesce(func.sum(column), 0)


# --------------------------------------------------------------------------- money


def money(cents: int | None) -> str:
    """Exact cents as text: 123456 -> "$1,234.56", -5 -> "-$0.05"."""
    cents = int(cents or 0)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{part:02d}"


def _dollars(series: pd.Series) -> list[float]:
    """Plot coordinates only; every number a person reads is formatted from the exact cents."""
    return [int(v) / 100 for v in series]


# --------------------------------------------------------------------------- revenue


def _invoice_conditions(filters: FinanceFilters) -> list:
    low, high = period_bounds(filters)
    return [INV.c.status == "issued", INV.c.issued_at >= low, INV.c.issued_at < high]


def _revenue_conditions(filters: FinanceFilters) -> list:
    conditions = _invoice_conditions(filters)
    if filters.department_id is not None:
        conditions.append(LINE.c.department_id == filters.department_id)
    return conditions


def _revenue_from():
    return LINE.join(INV, INV.c.id == LINE.c.invoice_id)


def revenue_by_month(session: Session, *, actor: Actor, filters: FinanceFilters) -> pd.DataFrame:
    """Revenue per local month of the period (columns: month, revenue_cents, tax_cents)."""
    authorize(actor, PERMISSION)
    check_filters(filters)
    firsts = month_firsts(filters.start, filters.end)
    month = _month_of(INV.c.issued_at, firsts).label("month")
    if filters.department_id is None:
        # An invoice's totals are exactly the sums of its lines (billing money rule 6), so
        # without a department the invoices alone answer, a quarter of the rows to read.
        query = select(month, _sum(INV.c.total_cents), _sum(INV.c.tax_cents)).where(
            *_invoice_conditions(filters)
        )
    else:
        query = (
            select(month, _sum(LINE.c.line_total_cents), _sum(LINE.c.tax_cents))
            .select_from(_revenue_from())
            .where(*_revenue_conditions(filters))
        )
    found = {
        label: (int(total), int(tax)) for label, total, tax in session.execute(query.group_by(month)).all()
    }
    labels = [month_label(first) for first in firsts]
    return pd.DataFrame(
        {
            "month": labels,
            "revenue_cents": [found.get(label, (0, 0))[0] for label in labels],
            "tax_cents": [found.get(label, (0, 0))[1] for label in labels],
        }
    )


def revenue_by_department(session: Session, *, actor: Actor, filters: FinanceFilters) -> pd.DataFrame:
    """Revenue per department of the lines, largest first (columns: key, department, revenue_cents,
    tax_cents, lines); key is the department id, or "none" for lines without one."""
    authorize(actor, PERMISSION)
    check_filters(filters)
    rows = session.execute(
        select(LINE.c.department_id, _sum(LINE.c.line_total_cents), _sum(LINE.c.tax_cents), func.count())
        .select_from(_revenue_from())
        .where(*_revenue_conditions(filters))
        .group_by(LINE.c.department_id)
    ).all()
    names = _department_names(session, [r[0] for r in rows if r[0] is not None])
    records = [
        {
            "key": "none" if dept is None else str(dept),
            "department": NO_DEPARTMENT if dept is None else names.get(dept, f"Department {dept}"),
            "revenue_cents": int(total),
            "tax_cents": int(tax),
            "lines": int(lines),
        }
        for dept, total, tax, lines in rows
    ]
    return _sorted_frame(records, ["key", "department", "revenue_cents", "tax_cents", "lines"], "department")


def revenue_by_service(session: Session, *, actor: Actor, filters: FinanceFilters) -> pd.DataFrame:
    """Revenue per service code, largest first (columns: key, service, revenue_cents, tax_cents,
    quantity, lines); key is the code, named from the catalogue."""
    authorize(actor, PERMISSION)
    check_filters(filters)
    rows = session.execute(
        select(
            LINE.c.code,
            _sum(LINE.c.line_total_cents),
            _sum(LINE.c.tax_cents),
            _sum(LINE.c.quantity),
            func.count(),
        )
        .select_from(_revenue_from())
        .where(*_revenue_conditions(filters))
        .group_by(LINE.c.code)
    ).all()
    names = _service_names(session, [r[0] for r in rows])
    records = [
        {
            "key": code,
            "service": f"{names.get(code, code)} ({code})",
            "revenue_cents": int(total),
            "tax_cents": int(tax),
            "quantity": int(quantity),
            "lines": int(lines),
        }
        for code, total, tax, quantity, lines in rows
    ]
    return _sorted_frame(
        records, ["key", "service", "revenue_cents", "tax_cents", "quantity", "lines"], "service"
    )


def _service_names(session: Session, codes: list[str]) -> dict[str, str]:
    """Catalogue names; a code no longer in the catalogue is named by one of its lines."""
    if not codes:
        return {}
    names = dict(session.execute(select(DEFN.c.code, DEFN.c.name).where(DEFN.c.code.in_(codes))).all())
    for code in [c for c in codes if c not in names]:
        names[code] = (
            session.execute(select(LINE.c.description).where(LINE.c.code == code).limit(1)).scalar() or code
        )
    return names


def payer_mix(session: Session, *, actor: Actor, filters: FinanceFilters) -> pd.DataFrame:
    """Revenue per payer of the invoice, largest first (columns: key, payer, revenue_cents,
    invoices); key is the payer id or "self" for self-pay."""
    authorize(actor, PERMISSION)
    check_filters(filters)
    if filters.department_id is None:
        query = select(INV.c.payer_id, _sum(INV.c.total_cents), func.count()).where(
            *_invoice_conditions(filters)
        )
    else:
        query = (
            select(INV.c.payer_id, _sum(LINE.c.line_total_cents), func.count(func.distinct(INV.c.id)))
            .select_from(_revenue_from())
            .where(*_revenue_conditions(filters))
        )
    rows = session.execute(query.group_by(INV.c.payer_id)).all()
    ids = [r[0] for r in rows if r[0] is not None]
    names = (
        dict(session.execute(select(PAYER.c.id, PAYER.c.name).where(PAYER.c.id.in_(ids))).all())
        if ids
        else {}
    )
    records = [
        {
            "key": "self" if payer is None else str(payer),
            "payer": SELF_PAY if payer is None else names.get(payer, f"Payer {payer}"),
            "revenue_cents": int(total),
            "invoices": int(invoices),
        }
        for payer, total, invoices in rows
    ]
    return _sorted_frame(records, ["key", "payer", "revenue_cents", "invoices"], "payer")


def _sorted_frame(records: list[dict], columns: list[str], name: str) -> pd.DataFrame:
    records.sort(key=lambda r: (-r[columns[2]], r[name]))
    return pd.DataFrame(records, columns=columns)


def _department_names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(DEPT.c.id, DEPT.c.name).where(DEPT.c.id.in_(ids))).all())


# --------------------------------------------------------------------------- charges and collections


def _charge_conditions(filters: FinanceFilters) -> list:
    low, high = period_bounds(filters)
    conditions = [CHARGE.c.status != "void", CHARGE.c.entered_at >= low, CHARGE.c.entered_at < high]
    if filters.department_id is not None:
        conditions.append(CHARGE.c.department_id == filters.department_id)
    return conditions


def _collection_conditions(filters: FinanceFilters) -> list:
    low, high = period_bounds(filters)
    return [PAY.c.method != "credit", PAY.c.received_at >= low, PAY.c.received_at < high]


def charges_vs_collections(session: Session, *, actor: Actor, filters: FinanceFilters) -> pd.DataFrame:
    """Charges entered and money collected per local month (columns: month, charges_cents,
    collections_cents, charge_items, payments). Collections ignore the department filter."""
    authorize(actor, PERMISSION)
    check_filters(filters)
    firsts = month_firsts(filters.start, filters.end)
    charge_month = _month_of(CHARGE.c.entered_at, firsts).label("month")
    pay_month = _month_of(PAY.c.received_at, firsts).label("month")
    charges = (
        select(
            literal("charges").label("series"),
            charge_month,
            _sum(CHARGE.c.quantity * CHARGE.c.unit_price_cents).label("cents"),
            func.count().label("items"),
        )
        .where(*_charge_conditions(filters))
        .group_by(charge_month)
    )
    collections = (
        select(
            literal("collections").label("series"),
            pay_month,
            _sum(PAY.c.amount_cents).label("cents"),
            func.count().label("items"),
        )
        .where(*_collection_conditions(filters))
        .group_by(pay_month)
    )
    found = {
        (series, label): (int(cents), int(items))
        for series, label, cents, items in session.execute(union_all(charges, collections)).all()
    }
    labels = [month_label(first) for first in firsts]
    return pd.DataFrame(
        {
            "month": labels,
            "charges_cents": [found.get(("charges", m), (0, 0))[0] for m in labels],
            "collections_cents": [found.get(("collections", m), (0, 0))[0] for m in labels],
            "charge_items": [found.get(("charges", m), (0, 0))[1] for m in labels],
            "payments": [found.get(("collections", m), (0, 0))[1] for m in labels],
        }
    )


# --------------------------------------------------------------------------- receivables


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


def ar_aging(session: Session, *, actor: Actor, filters: FinanceFilters) -> pd.DataFrame:
    """Receivables on the AR day by age (columns: bucket, label, invoices, balance_cents)."""
    authorize(actor, PERMISSION)
    check_filters(filters)
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


def _patient_label(given, family, mrn) -> str:
    return f"{family}, {given} ({mrn})"


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


def top_outstanding(
    session: Session, *, actor: Actor, filters: FinanceFilters, limit: int = TOP_BALANCES, audit: bool = True
) -> pd.DataFrame:
    """The largest balances on the AR day (columns: invoice_id, number, patient, payer, issued,
    age_days, total_cents, balance_cents). Lists patients by name: one audit row per listing."""
    authorize(actor, PERMISSION)
    check_filters(filters)
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
        .select_from(
            open_invoices.join(INV, INV.c.id == open_invoices.c.invoice_id)
            .join(PATIENT, PATIENT.c.id == INV.c.patient_id)
            .outerjoin(PAYER, PAYER.c.id == INV.c.payer_id)
        )
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
    if audit and records:
        record_balances_listed(session, actor=actor, count=len(records), as_of=filters.ar_day)
    return pd.DataFrame(records, columns=list(BALANCE_COLUMNS))


def record_balances_listed(session: Session, *, actor: Actor, count: int, as_of: date) -> None:
    """The top balances name patients: their listing is audited as a read, once per load."""
    authorize(actor, PERMISSION)
    record_audit(
        session,
        actor,
        "finance.balances_listed",
        target_type="invoice",
        detail=f"top outstanding balances on {as_of.isoformat()}: {count} invoices",
    )
    session.commit()


def record_balances_exported(session: Session, *, actor: Actor, count: int) -> None:
    """The CSV of the top balances names patients: audited like the listing."""
    authorize(actor, PERMISSION)
    record_audit(
        session,
        actor,
        "finance.invoices_exported",
        target_type="invoice",
        detail=f"top outstanding balances: {count} rows as CSV",
    )
    session.commit()


# --------------------------------------------------------------------------- expenses


def _expense_conditions(filters: FinanceFilters) -> list:
    conditions = [EXP.c.incurred_on >= filters.start, EXP.c.incurred_on <= filters.end]
    if filters.department_id is not None:
        conditions.append(EXP.c.department_id == filters.department_id)
    return conditions


def expenses_by_month(session: Session, *, actor: Actor, filters: FinanceFilters) -> pd.DataFrame:
    """Expenses per month (columns: month, expenses_cents, expenses)."""
    authorize(actor, PERMISSION)
    check_filters(filters)
    firsts = month_firsts(filters.start, filters.end)
    month = _month_of(EXP.c.incurred_on, firsts, dates=True).label("month")
    found = {
        label: (int(cents), int(count))
        for label, cents, count in session.execute(
            select(month, _sum(EXP.c.amount_cents), func.count())
            .where(*_expense_conditions(filters))
            .group_by(month)
        ).all()
    }
    labels = [month_label(first) for first in firsts]
    return pd.DataFrame(
        {
            "month": labels,
            "expenses_cents": [found.get(m, (0, 0))[0] for m in labels],
            "expenses": [found.get(m, (0, 0))[1] for m in labels],
        }
    )


def expenses_vs_revenue(session: Session, *, actor: Actor, filters: FinanceFilters) -> pd.DataFrame:
    """Revenue and expenses per month with the margin (columns: month, revenue_cents,
    expenses_cents, margin_cents)."""
    return combine_expenses_revenue(
        revenue_by_month(session, actor=actor, filters=filters),
        expenses_by_month(session, actor=actor, filters=filters),
    )


def combine_expenses_revenue(revenue: pd.DataFrame, expenses: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "month": list(revenue["month"]),
            "revenue_cents": [int(v) for v in revenue["revenue_cents"]],
            "expenses_cents": [int(v) for v in expenses["expenses_cents"]],
        }
    )
    frame["margin_cents"] = frame["revenue_cents"] - frame["expenses_cents"]
    return frame


def expenses_by_category(session: Session, *, actor: Actor, filters: FinanceFilters) -> pd.DataFrame:
    """Expenses per category, largest first (columns: key, category, expenses_cents, expenses)."""
    authorize(actor, PERMISSION)
    check_filters(filters)
    rows = session.execute(
        select(EXP.c.category, _sum(EXP.c.amount_cents), func.count())
        .where(*_expense_conditions(filters))
        .group_by(EXP.c.category)
    ).all()
    records = [
        {
            "key": category,
            "category": category.replace("_", " ").capitalize(),
            "expenses_cents": int(cents),
            "expenses": int(count),
        }
        for category, cents, count in rows
    ]
    return _sorted_frame(records, ["key", "category", "expenses_cents", "expenses"], "category")


# --------------------------------------------------------------------------- the whole dashboard


@dataclass
class Dashboard:
    """Every figure's small frame for one choice of filters."""

    filters: FinanceFilters
    revenue_month: pd.DataFrame
    revenue_department: pd.DataFrame
    revenue_service: pd.DataFrame
    payers: pd.DataFrame
    charges_collections: pd.DataFrame
    aging: pd.DataFrame
    top_balances: pd.DataFrame
    expenses_month: pd.DataFrame
    expenses_category: pd.DataFrame
    expenses_revenue: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        self.expenses_revenue = combine_expenses_revenue(self.revenue_month, self.expenses_month)

    @property
    def kpis(self) -> dict[str, int]:
        """The period's totals; each is the sum of a figure's bars, so they reconcile by construction."""
        return {
            "revenue_cents": int(self.revenue_month["revenue_cents"].sum()),
            "collections_cents": int(self.charges_collections["collections_cents"].sum()),
            "outstanding_cents": int(self.aging["balance_cents"].sum()),
            "expenses_cents": int(self.expenses_month["expenses_cents"].sum()),
            "charges_cents": int(self.charges_collections["charges_cents"].sum()),
            "open_invoices": int(self.aging["invoices"].sum()),
        }


def load_dashboard(
    session: Session, *, actor: Actor, filters: FinanceFilters, audit: bool = True
) -> Dashboard:
    """Every figure of the dashboard (revenue by month is computed once and reused).

    ``audit=False`` leaves the top balances' audit row to the caller, so that the figures can be
    read on a read-only session (``record_balances_listed``)."""
    authorize(actor, PERMISSION)
    check_filters(filters)
    arguments = {"actor": actor, "filters": filters}
    return Dashboard(
        filters=filters,
        revenue_month=revenue_by_month(session, **arguments),
        revenue_department=revenue_by_department(session, **arguments),
        revenue_service=revenue_by_service(session, **arguments),
        payers=payer_mix(session, **arguments),
        charges_collections=charges_vs_collections(session, **arguments),
        aging=ar_aging(session, **arguments),
        top_balances=top_outstanding(session, **arguments, audit=audit),
        expenses_month=expenses_by_month(session, **arguments),
        expenses_category=expenses_by_category(session, **arguments),
    )


def departments(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """The departments the filter offers (id, name), active ones by name."""
    authorize(actor, PERMISSION)
    return organization.active_departments(session)


# --------------------------------------------------------------------------- drill-down

# What a click on each figure lists. Keys: a month "YYYY-MM", an id, a code, a bucket; the
# two-series charts add the series: "2026-03|charges".
DRILLABLE = {
    "revenue_by_month": "invoices",
    "revenue_by_department": "invoices",
    "revenue_by_service": "invoices",
    "payer_mix": "invoices",
    "ar_aging": "balances",
    "charges_vs_collections": "charges or payments",
    "expenses_vs_revenue": "invoices or expenses",
    "expenses_by_category": "expenses",
}
HEADINGS = {
    "invoices": ("Issued", "Invoice", "Patient", "Payer", "Amount in figure", "Invoice total"),
    "balances": ("Issued", "Invoice", "Patient", "Payer", "Outstanding", "Invoice total"),
    "charges": ("Entered", "Invoice", "Patient", "Service", "Charge", "Status"),
    "payments": ("Received", "Invoice", "Patient", "Method", "Amount", "Applied to invoice"),
    "expenses": ("Incurred", "Reference", "Supplier", "Category", "Amount", "Department"),
}


@dataclass(frozen=True)
class DrillRow:
    when: str
    reference: str
    who: str
    detail: str
    amount_cents: int
    extra: str  # the sixth column: invoice total, balance, status, applied amount or department
    row_id: int


@dataclass(frozen=True)
class DrillPage:
    title: str
    kind: str  # invoices | balances | charges | payments | expenses
    headings: tuple[str, ...]
    rows: list[DrillRow]
    total: int  # rows behind the figure, over every page
    amount_cents: int  # their sum: equal to the clicked bar or slice
    page: int
    page_size: int


@dataclass(frozen=True)
class _Drill:
    title: str
    kind: str
    query: Select  # columns: sort/keyset id first, then the row's own
    totals: Select  # (rows, amount) over every page, without the joins that only name things


def _id_key(key: str, what: str) -> int | None:
    if key in ("none", "self"):
        return None
    if not isinstance(key, str) or not key.isdigit() or len(key) > 12:
        raise ValidationError(f"Choose a {what} on the chart.")
    return int(key)


def _invoice_drill(
    filters: FinanceFilters, title: str, *, line_condition=None, invoice_condition=None
) -> _Drill:
    """Issued invoices with revenue lines matching the filters and the conditions; the amount
    is what those lines add to the figure."""
    extra = [c for c in (line_condition, invoice_condition) if c is not None]
    columns = [
        INV.c.id,
        INV.c.issued_at,
        INV.c.number,
        PATIENT.c.given_name,
        PATIENT.c.family_name,
        PATIENT.c.mrn,
        PAYER.c.name,
    ]
    people = lambda source: source.join(PATIENT, PATIENT.c.id == INV.c.patient_id).outerjoin(  # noqa: E731
        PAYER, PAYER.c.id == INV.c.payer_id
    )
    if filters.department_id is None and line_condition is None:
        # Whole invoices: their totals are their lines' sums.
        query = (
            select(*columns, INV.c.total_cents.label("in_figure"), INV.c.total_cents)
            .select_from(people(INV))
            .where(*_invoice_conditions(filters), *extra)
        )
        totals = select(func.count(), _sum(INV.c.total_cents)).where(*_invoice_conditions(filters), *extra)
        return _Drill(title, "invoices", query, totals)
    in_figure = func.sum(LINE.c.line_total_cents).label("in_figure")
    lines = (
        select(LINE.c.invoice_id.label("invoice_id"), in_figure)
        .select_from(_revenue_from())
        .where(*_revenue_conditions(filters), *extra)
        .group_by(LINE.c.invoice_id)
        .subquery("lines")
    )
    query = select(*columns, lines.c.in_figure, INV.c.total_cents).select_from(
        people(lines.join(INV, INV.c.id == lines.c.invoice_id))
    )
    return _Drill(title, "invoices", query, select(func.count(), _sum(lines.c.in_figure)).select_from(lines))


def _drill(session: Session, figure: str, key: str, filters: FinanceFilters) -> _Drill:
    if figure not in DRILLABLE:
        raise ValidationError("This chart has no list behind it.")
    if not isinstance(key, str) or len(key) > 60:
        raise ValidationError("Choose a bar or slice on the chart.")
    series = None
    if figure in ("charges_vs_collections", "expenses_vs_revenue"):
        key, _, series = key.partition("|")
    if figure in ("revenue_by_month",) or series == "revenue":
        first, last = _month_window(filters, key)
        narrowed = replace(filters, start=first, end=last)
        return _invoice_drill(narrowed, f"Revenue in {key}")
    if figure == "revenue_by_department":
        dept = _id_key(key, "department")
        if filters.department_id is not None and dept != filters.department_id:
            raise ValidationError("That department is not in the chosen filter.")
        name = NO_DEPARTMENT if dept is None else _department_names(session, [dept]).get(dept, "?")
        condition = LINE.c.department_id.is_(None) if dept is None else LINE.c.department_id == dept
        return _invoice_drill(filters, f"Revenue of {name}", line_condition=condition)
    if figure == "revenue_by_service":
        return _invoice_drill(filters, f"Revenue from service {key}", line_condition=LINE.c.code == key)
    if figure == "payer_mix":
        payer = _id_key(key, "payer")
        condition = INV.c.payer_id.is_(None) if payer is None else INV.c.payer_id == payer
        name = SELF_PAY
        if payer is not None:
            name = (
                session.execute(select(PAYER.c.name).where(PAYER.c.id == payer)).scalar_one_or_none() or "?"
            )
        return _invoice_drill(filters, f"Revenue billed to {name}", invoice_condition=condition)
    if figure == "ar_aging":
        if key not in BUCKETS:
            raise ValidationError("Choose an age bucket on the chart.")
        open_invoices = _balances(filters)
        bucket = _bucket_of(open_invoices.c.issued_at, filters.ar_day)
        query = (
            select(
                INV.c.id,
                INV.c.issued_at,
                INV.c.number,
                PATIENT.c.given_name,
                PATIENT.c.family_name,
                PATIENT.c.mrn,
                PAYER.c.name,
                open_invoices.c.total,
                open_invoices.c.balance,
            )
            .select_from(
                open_invoices.join(INV, INV.c.id == open_invoices.c.invoice_id)
                .join(PATIENT, PATIENT.c.id == INV.c.patient_id)
                .outerjoin(PAYER, PAYER.c.id == INV.c.payer_id)
            )
            .where(bucket == key)
        )
        title = f"Outstanding {BUCKET_LABELS[key].lower()} on {filters.ar_day.isoformat()}"
        totals = select(func.count(), _sum(open_invoices.c.balance)).where(bucket == key)
        return _Drill(title, "balances", query, totals)
    if figure == "charges_vs_collections" and series == "charges":
        first, last = _month_window(filters, key)
        narrowed = replace(filters, start=first, end=last)
        charge_value = (CHARGE.c.quantity * CHARGE.c.unit_price_cents).label("value")
        query = (
            select(
                CHARGE.c.id,
                CHARGE.c.entered_at,
                INV.c.number,
                PATIENT.c.given_name,
                PATIENT.c.family_name,
                PATIENT.c.mrn,
                (CHARGE.c.code + literal(" · ") + CHARGE.c.description).label("service"),
                charge_value,
                CHARGE.c.status,
            )
            .select_from(
                CHARGE.join(PATIENT, PATIENT.c.id == CHARGE.c.patient_id).outerjoin(
                    INV, INV.c.id == CHARGE.c.invoice_id
                )
            )
            .where(*_charge_conditions(narrowed))
        )
        totals = select(func.count(), _sum(CHARGE.c.quantity * CHARGE.c.unit_price_cents)).where(
            *_charge_conditions(narrowed)
        )
        return _Drill(f"Charges entered in {key}", "charges", query, totals)
    if figure == "charges_vs_collections" and series == "collections":
        first, last = _month_window(filters, key)
        narrowed = replace(filters, start=first, end=last)
        query = (
            select(
                PAY.c.id,
                PAY.c.received_at,
                INV.c.number,
                PATIENT.c.given_name,
                PATIENT.c.family_name,
                PATIENT.c.mrn,
                PAY.c.method,
                PAY.c.amount_cents,
                PAY.c.applied_cents,
            )
            .select_from(
                PAY.join(PATIENT, PATIENT.c.id == PAY.c.patient_id).outerjoin(
                    INV, INV.c.id == PAY.c.invoice_id
                )
            )
            .where(*_collection_conditions(narrowed))
        )
        totals = select(func.count(), _sum(PAY.c.amount_cents)).where(*_collection_conditions(narrowed))
        return _Drill(f"Money collected in {key}", "payments", query, totals)
    if (figure == "expenses_vs_revenue" and series == "expenses") or figure == "expenses_by_category":
        if figure == "expenses_by_category":
            narrowed, extra, title = filters, [EXP.c.category == key], f"Expenses: {key.replace('_', ' ')}"
        else:
            first, last = _month_window(filters, key)
            narrowed, extra, title = replace(filters, start=first, end=last), [], f"Expenses in {key}"
        query = (
            select(
                EXP.c.id,
                EXP.c.incurred_on,
                EXP.c.id.label("reference"),
                EXP.c.supplier,
                EXP.c.description,
                EXP.c.category,
                EXP.c.amount_cents,
                DEPT.c.name,
            )
            .select_from(EXP.outerjoin(DEPT, DEPT.c.id == EXP.c.department_id))
            .where(*_expense_conditions(narrowed), *extra)
        )
        totals = select(func.count(), _sum(EXP.c.amount_cents)).where(*_expense_conditions(narrowed), *extra)
        return _Drill(title, "expenses", query, totals)
    raise ValidationError("Choose a bar or slice on the chart.")


def _drill_row(kind: str, row) -> DrillRow:
    if kind == "expenses":
        row_id, incurred_on, reference, supplier, description, category, amount, department = row
        return DrillRow(
            incurred_on.isoformat(),
            f"EXP-{reference}",
            supplier,
            f"{category.replace('_', ' ').capitalize()} · {description}",
            int(amount),
            department or NO_DEPARTMENT,
            int(row_id),
        )
    row_id, moment, number, given, family, mrn, detail, amount, extra = row
    when = to_local(moment).date().isoformat() if moment is not None else ""
    who = _patient_label(given, family, mrn)
    if kind == "invoices":
        return DrillRow(when, number or "", who, detail or SELF_PAY, int(amount), money(extra), int(row_id))
    if kind == "balances":
        # The query's columns are the invoice total, then the balance: the row's amount is what is
        # owed (what the bucket adds up), shown under "Outstanding", the total beside it.
        return DrillRow(when, number or "", who, detail or SELF_PAY, int(extra), money(amount), int(row_id))
    if kind == "charges":
        return DrillRow(when, number or "not invoiced", who, detail, int(amount), str(extra), int(row_id))
    return DrillRow(when, number or "—", who, str(detail), int(amount), money(extra), int(row_id))


def _ordering(drill: _Drill):
    columns = list(drill.query.selected_columns)
    if drill.kind == "balances":
        return [columns[8].desc(), columns[1], columns[0]]
    return [columns[1], columns[0]]


def invoices_behind(
    session: Session,
    *,
    actor: Actor,
    figure: str,
    key: str,
    filters: FinanceFilters,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    audit: bool = True,
) -> DrillPage:
    """One page of what is behind a bar or slice: invoices (or the charges, payments or expenses of
    the two-series charts), paged in SQL. A listing that names patients is audited as a read."""
    authorize(actor, PERMISSION)
    check_filters(filters)
    if not isinstance(page, int) or page < 1 or page > 1_000_000:
        raise ValidationError("There is no such page.")
    if not isinstance(page_size, int) or not 1 <= page_size <= 200:
        raise ValidationError("Show between 1 and 200 rows per page.")
    drill = _drill(session, figure, key, filters)
    total, amount = session.execute(drill.totals).one()
    rows = session.execute(
        drill.query.order_by(*_ordering(drill)).limit(page_size).offset((page - 1) * page_size)
    ).all()
    page_rows = [_drill_row(drill.kind, row) for row in rows]
    if audit and drill.kind != "expenses" and page_rows:
        record_audit(
            session,
            actor,
            "finance.invoices_listed",
            target_type=drill.kind,
            detail=f"{figure} {key} page {page}: {len(page_rows)} of {int(total)} rows",
        )
        session.commit()
    return DrillPage(
        title=drill.title,
        kind=drill.kind,
        headings=HEADINGS[drill.kind],
        rows=page_rows,
        total=int(total),
        amount_cents=int(amount),
        page=page,
        page_size=page_size,
    )


def _iter_drill(session: Session, drill: _Drill) -> Iterator[DrillRow]:
    """Every row behind a figure in chunks of CSV_CHUNK, by id (keyset: no deep offsets)."""
    id_column = list(drill.query.selected_columns)[0]
    last = 0
    sent = 0
    while sent < CSV_MAX_ROWS:
        chunk = session.execute(
            drill.query.where(id_column > last).order_by(id_column).limit(min(CSV_CHUNK, CSV_MAX_ROWS - sent))
        ).all()
        if not chunk:
            return
        for row in chunk:
            yield _drill_row(drill.kind, row)
        last = chunk[-1][0]
        sent += len(chunk)


def drill_csv(
    session: Session, *, actor: Actor, figure: str, key: str, filters: FinanceFilters
) -> tuple[str, int]:
    """The CSV of everything behind a bar or slice (at most CSV_MAX_ROWS rows) and its row count."""
    authorize(actor, PERMISSION)
    check_filters(filters)
    drill = _drill(session, figure, key, filters)
    out = io.StringIO()
    writer = csv.writer(out)
    headings = list(HEADINGS[drill.kind])
    writer.writerow([*headings[:4], f"{headings[4]} (cents)", headings[4], headings[5]])
    count = 0
    for row in _iter_drill(session, drill):
        writer.writerow(
            [
                row.when,
                row.reference,
                row.who,
                row.detail,
                row.amount_cents,
                money(row.amount_cents),
                row.extra,
            ]
        )
        count += 1
    if drill.kind != "expenses":
        record_audit(
            session,
            actor,
            "finance.invoices_exported",
            target_type=drill.kind,
            detail=f"{figure} {key}: {count} rows as CSV",
        )
        session.commit()
    return out.getvalue(), count


def frame_csv(frame: pd.DataFrame) -> str:
    """A figure's table as CSV: every ``*_cents`` column also as an amount people read."""
    out = frame.copy()
    for column in [c for c in frame.columns if c.endswith("_cents")]:
        out[column.removesuffix("_cents")] = [money(v) for v in frame[column]]
    return out.to_csv(index=False)


# --------------------------------------------------------------------------- figures

LAYOUT = {
    "margin": {"l": 60, "r": 16, "t": 16, "b": 48},
    "height": 320,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "hoverlabel": {"namelength": -1},
    "legend": {"orientation": "h", "y": -0.2},
    "clickmode": "event",
}


def _layout(figure: go.Figure, **extra) -> go.Figure:
    figure.update_layout(**{**LAYOUT, **extra})
    return figure


def revenue_by_month_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=list(frame["month"]),
            y=_dollars(frame["revenue_cents"]),
            text=[money(v) for v in frame["revenue_cents"]],
            textposition="none",
            marker_color=TEAL,
            hovertemplate="%{x}: %{text}<extra></extra>",
            name="Revenue",
        )
    )
    return _layout(figure, xaxis={"type": "category"}, yaxis={"tickprefix": "$", "tickformat": ",.0f"})


def _horizontal(
    frame: pd.DataFrame, label: str, value: str, color: str, limit: int | None = None
) -> go.Figure:
    shown = frame if limit is None else frame.head(limit)
    labels, values = list(shown[label]), list(shown[value])
    height = max(220, 40 + 28 * len(labels))
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=[int(v) / 100 for v in values],
            orientation="h",
            text=[money(v) for v in values],
            textposition="none",
            marker_color=color,
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    return _layout(
        figure,
        height=height,
        margin={"l": 16, "r": 16, "t": 16, "b": 40},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        xaxis={"tickprefix": "$", "tickformat": ",.0f"},
    )


def revenue_by_department_figure(frame: pd.DataFrame) -> go.Figure:
    return _horizontal(frame, "department", "revenue_cents", TEAL)


def revenue_by_service_figure(frame: pd.DataFrame) -> go.Figure:
    """The TOP_SERVICES largest services (the table beside it lists them all)."""
    return _horizontal(frame, "service", "revenue_cents", "#2563eb", limit=TOP_SERVICES)


def payer_mix_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Pie(
            labels=list(frame["payer"]),
            values=_dollars(frame["revenue_cents"]),
            text=[money(v) for v in frame["revenue_cents"]],
            sort=False,  # slice i is row i: a click's point number finds its payer
            hole=0.45,
            marker={"colors": [PALETTE[i % len(PALETTE)] for i in range(len(frame))]},
            textinfo="percent",
            hovertemplate="%{label}: %{text} (%{percent})<extra></extra>",
        )
    )
    return _layout(figure, legend={"orientation": "v"}, margin={"l": 16, "r": 16, "t": 16, "b": 16})


def charges_vs_collections_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        [
            go.Bar(
                name="Charges",
                x=list(frame["month"]),
                y=_dollars(frame["charges_cents"]),
                text=[money(v) for v in frame["charges_cents"]],
                textposition="none",
                marker_color=SLATE,
                hovertemplate="Charges %{x}: %{text}<extra></extra>",
            ),
            go.Bar(
                name="Collections",
                x=list(frame["month"]),
                y=_dollars(frame["collections_cents"]),
                text=[money(v) for v in frame["collections_cents"]],
                textposition="none",
                marker_color=TEAL,
                hovertemplate="Collections %{x}: %{text}<extra></extra>",
            ),
        ]
    )
    return _layout(
        figure, barmode="group", xaxis={"type": "category"}, yaxis={"tickprefix": "$", "tickformat": ",.0f"}
    )


def ar_aging_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=list(frame["label"]),
            y=_dollars(frame["balance_cents"]),
            text=[
                f"{money(v)} · {n} invoices"
                for v, n in zip(frame["balance_cents"], frame["invoices"], strict=True)
            ],
            textposition="none",
            marker_color=list(BUCKET_COLORS),
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    )
    return _layout(figure, xaxis={"type": "category"}, yaxis={"tickprefix": "$", "tickformat": ",.0f"})


def expenses_vs_revenue_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        [
            go.Bar(
                name="Revenue",
                x=list(frame["month"]),
                y=_dollars(frame["revenue_cents"]),
                text=[money(v) for v in frame["revenue_cents"]],
                textposition="none",
                marker_color=TEAL,
                hovertemplate="Revenue %{x}: %{text}<extra></extra>",
            ),
            go.Bar(
                name="Expenses",
                x=list(frame["month"]),
                y=_dollars(frame["expenses_cents"]),
                text=[money(v) for v in frame["expenses_cents"]],
                textposition="none",
                marker_color=AMBER,
                hovertemplate="Expenses %{x}: %{text}<extra></extra>",
            ),
            go.Scatter(
                name="Margin",
                x=list(frame["month"]),
                y=_dollars(frame["margin_cents"]),
                text=[money(v) for v in frame["margin_cents"]],
                mode="lines+markers",
                line={"color": "#7c3aed", "width": 2},
                hovertemplate="Margin %{x}: %{text}<extra></extra>",
            ),
        ]
    )
    return _layout(
        figure, barmode="group", xaxis={"type": "category"}, yaxis={"tickprefix": "$", "tickformat": ",.0f"}
    )


def expenses_by_category_figure(frame: pd.DataFrame) -> go.Figure:
    return _horizontal(frame, "category", "expenses_cents", AMBER)
