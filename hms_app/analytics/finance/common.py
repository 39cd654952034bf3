"""What the finance figures share: the tables, the filters and the hospital's days and months,
money as text, and a figure's table as CSV."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import case, func, literal, select
from sqlmodel import Session

from hms_app import csv_safe
from hms_app.clock import local_today
from hms_app.errors import ValidationError
from hms_app.models.billing import ChargeItem, ChargeItemDefinition, Expense, Invoice, InvoiceLine, Payment
from hms_app.models.organization import Department
from hms_app.models.patients import Patient, Payer
from hms_app.money import format_money
from hms_app.settings import get_settings

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
    today = today or local_today()
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


def money(cents: int | None) -> str:
    """Exact cents as text: 123456 -> "$1,234.56", -5 -> "-$0.05"."""
    return format_money(cents, symbol="$")


def _dollars(series: pd.Series) -> list[float]:
    """Plot coordinates only; every number a person reads is formatted from the exact cents."""
    return [int(v) / 100 for v in series]


def _sorted_frame(records: list[dict], columns: list[str], name: str) -> pd.DataFrame:
    records.sort(key=lambda r: (-r[columns[2]], r[name]))
    return pd.DataFrame(records, columns=columns)


def _department_names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(DEPT.c.id, DEPT.c.name).where(DEPT.c.id.in_(ids))).all())


def _named(source):
    """``source`` (invoices, or rows joined to them) with the invoice's patient and payer, for the
    listings that name them."""
    return source.join(PATIENT, PATIENT.c.id == INV.c.patient_id).outerjoin(
        PAYER, PAYER.c.id == INV.c.payer_id
    )


def _patient_label(given, family, mrn) -> str:
    return f"{family}, {given} ({mrn})"


def frame_csv(frame: pd.DataFrame) -> str:
    """A figure's table as CSV: every ``*_cents`` column also as an amount people read."""
    out = frame.copy()
    for column in [c for c in frame.columns if c.endswith("_cents")]:
        out[column.removesuffix("_cents")] = [money(v) for v in frame[column]]
    return csv_safe.frame_to_csv(out)
