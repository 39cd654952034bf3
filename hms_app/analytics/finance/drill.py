"""What is behind a bar or a slice: the invoices (or charges, payments, expenses) that make it,
one page at a time or all of them as CSV, paged in SQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlalchemy import func, literal, select
from sqlalchemy.sql import Select
from sqlmodel import Session

from hms_app import csv_safe
from hms_app.analytics.finance.common import (
    BUCKET_LABELS,
    BUCKETS,
    CHARGE,
    CSV_CHUNK,
    CSV_MAX_ROWS,
    DEPT,
    EXP,
    INV,
    LINE,
    NO_DEPARTMENT,
    PAGE_SIZE,
    PATIENT,
    PAY,
    PAYER,
    SELF_PAY,
    FinanceFilters,
    _department_names,
    _month_window,
    _named,
    _patient_label,
    _sum,
    money,
)
from hms_app.analytics.finance.expenses import _expense_conditions
from hms_app.analytics.finance.receivables import _balances, _bucket_of
from hms_app.analytics.finance.revenue import (
    _charge_conditions,
    _collection_conditions,
    _invoice_conditions,
    _revenue_conditions,
    _revenue_from,
)
from hms_app.clock import to_local
from hms_app.errors import ValidationError

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
    if filters.department_id is None and line_condition is None:
        # Whole invoices: their totals are their lines' sums.
        query = (
            select(*columns, INV.c.total_cents.label("in_figure"), INV.c.total_cents)
            .select_from(_named(INV))
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
        _named(lines.join(INV, INV.c.id == lines.c.invoice_id))
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
            .select_from(_named(open_invoices.join(INV, INV.c.id == open_invoices.c.invoice_id)))
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
    figure: str,
    key: str,
    filters: FinanceFilters,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> DrillPage:
    """One page of what is behind a bar or slice: invoices (or the charges, payments or expenses of
    the two-series charts), paged in SQL. A listing that names patients is a read to audit."""
    if not isinstance(page, int) or page < 1 or page > 1_000_000:
        raise ValidationError("There is no such page.")
    if not isinstance(page_size, int) or not 1 <= page_size <= 200:
        raise ValidationError("Show between 1 and 200 rows per page.")
    drill = _drill(session, figure, key, filters)
    total, amount = session.execute(drill.totals).one()
    rows = session.execute(
        drill.query.order_by(*_ordering(drill)).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return DrillPage(
        title=drill.title,
        kind=drill.kind,
        headings=HEADINGS[drill.kind],
        rows=[_drill_row(drill.kind, row) for row in rows],
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


@dataclass(frozen=True)
class DrillExport:
    text: str  # the CSV
    rows: int
    kind: str  # as DrillPage.kind: whether the rows name patients


def drill_csv(session: Session, *, figure: str, key: str, filters: FinanceFilters) -> DrillExport:
    """The CSV of everything behind a bar or slice (at most CSV_MAX_ROWS rows) and its row count."""
    drill = _drill(session, figure, key, filters)
    out = io.StringIO()
    writer = csv_safe.writer(out)
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
    return DrillExport(out.getvalue(), count, drill.kind)
