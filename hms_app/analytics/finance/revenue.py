"""Revenue by month, department and service, the payer mix, and charges against collections."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, literal, select, union_all
from sqlmodel import Session

from hms_app.analytics.finance.common import (
    CHARGE,
    DEFN,
    INV,
    LINE,
    NO_DEPARTMENT,
    PAY,
    PAYER,
    SELF_PAY,
    FinanceFilters,
    _department_names,
    _month_of,
    _sorted_frame,
    _sum,
    month_firsts,
    month_label,
    period_bounds,
)


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


def revenue_by_month(session: Session, *, filters: FinanceFilters) -> pd.DataFrame:
    """Revenue per local month of the period (columns: month, revenue_cents, tax_cents)."""
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


def revenue_by_department(session: Session, *, filters: FinanceFilters) -> pd.DataFrame:
    """Revenue per department of the lines, largest first (columns: key, department, revenue_cents,
    tax_cents, lines); key is the department id, or "none" for lines without one."""
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


def revenue_by_service(session: Session, *, filters: FinanceFilters) -> pd.DataFrame:
    """Revenue per service code, largest first (columns: key, service, revenue_cents, tax_cents,
    quantity, lines); key is the code, named from the catalogue."""
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


def payer_mix(session: Session, *, filters: FinanceFilters) -> pd.DataFrame:
    """Revenue per payer of the invoice, largest first (columns: key, payer, revenue_cents,
    invoices); key is the payer id or "self" for self-pay."""
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


def _charge_conditions(filters: FinanceFilters) -> list:
    low, high = period_bounds(filters)
    conditions = [CHARGE.c.status != "void", CHARGE.c.entered_at >= low, CHARGE.c.entered_at < high]
    if filters.department_id is not None:
        conditions.append(CHARGE.c.department_id == filters.department_id)
    return conditions


def _collection_conditions(filters: FinanceFilters) -> list:
    low, high = period_bounds(filters)
    return [PAY.c.method != "credit", PAY.c.received_at >= low, PAY.c.received_at < high]


def charges_vs_collections(session: Session, *, filters: FinanceFilters) -> pd.DataFrame:
    """Charges entered and money collected per local month (columns: month, charges_cents,
    collections_cents, charge_items, payments). Collections ignore the department filter."""
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
