"""The finance dashboard (/finance): KPI cards, the figures, the invoices behind a clicked bar.

What the state holds is what is on screen: the filters, each figure's small table (a few dozen
rows at most, aggregated in SQL) and one page of the drill-down. Every figure is computed by
``hms_app/analytics/finance/`` and read through ``services/billing/finance_reports.py``; nothing
here adds money up. CSV downloads of the figures' tables come from those small tables; the CSV
of a drill-down is built on the server from SQL-paged chunks and handed to the browser as a
download, never kept in state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics.finance import figures
from hms_app.analytics.finance.common import (
    BUCKETS,
    CSV_MAX_ROWS,
    PAGE_SIZE,
    TOP_SERVICES,
    FinanceFilters,
    check_filters,
    default_filters,
    frame_csv,
    money,
)
from hms_app.analytics.finance.dashboard import Dashboard
from hms_app.analytics.finance.drill import DRILLABLE
from hms_app.analytics.finance.receivables import BALANCE_COLUMNS
from hms_app.clock import local_today
from hms_app.errors import DomainError, ValidationError
from hms_app.services.billing import finance_reports
from hms_app.state.drill import DrillDown
from hms_app.state.forms import day_in_range, form_fields
from hms_app.state.session import SessionState, call_service, call_service_read, requires

PERMISSION = "analytics.read"

# Each figure's table: the state key, its columns (as the analytics functions return them) and
# the file name stem of its CSV download.
TABLES: dict[str, tuple[str, ...]] = {
    "revenue_by_month": ("month", "revenue_cents", "tax_cents"),
    "revenue_by_department": ("key", "department", "revenue_cents", "tax_cents", "lines"),
    "revenue_by_service": ("key", "service", "revenue_cents", "tax_cents", "quantity", "lines"),
    "payer_mix": ("key", "payer", "revenue_cents", "invoices"),
    "charges_vs_collections": ("month", "charges_cents", "collections_cents", "charge_items", "payments"),
    "ar_aging": ("bucket", "label", "invoices", "balance_cents"),
    "top_outstanding": BALANCE_COLUMNS,
    "expenses_vs_revenue": ("month", "revenue_cents", "expenses_cents", "margin_cents"),
    "expenses_by_category": ("key", "category", "expenses_cents", "expenses"),
}
SERIES = {
    "charges_vs_collections": ("charges", "collections"),
    "expenses_vs_revenue": ("revenue", "expenses"),  # the third trace, the margin line, lists nothing
}


@dataclass
class DrillLine:
    when: str = ""
    reference: str = ""
    who: str = ""
    detail: str = ""
    amount: str = ""
    extra: str = ""
    row_id: int = 0
    link: str = ""  # the invoice or receipt the reference opens ("" when it has none)


@dataclass
class BalanceLine:
    number: str = ""
    patient: str = ""
    payer: str = ""
    issued: str = ""
    age_days: int = 0
    total: str = ""
    balance: str = ""


FILTER_FIELDS = ("start", "end", "department", "as_of")  # the filter form's fields, in this order
FILTER_LIMIT = 20  # a day or a department id; anything longer was not chosen from the form


def _parse_day(value, field: str, label: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 10:
        raise ValidationError(f"{label}: choose a date.", field=field)
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValidationError(f"{label}: {value!r} is not a date.", field=field) from error
    return day_in_range(day, field, label)


def _link(kind: str, row) -> str:
    """Where a drill-down row's reference leads: its invoice, or a payment's receipt."""
    if kind in ("invoices", "balances") and row.row_id:
        return f"/billing/invoices/{row.row_id}"
    if kind == "payments" and row.row_id:
        return f"/billing/receipts/{row.row_id}"
    return ""


def _tables(board: Dashboard) -> tuple[dict, dict]:
    """Each figure's rows as records for the state, and the KPIs without their "_cents" suffix."""
    frames = {
        "revenue_by_month": board.revenue_month,
        "revenue_by_department": board.revenue_department,
        "revenue_by_service": board.revenue_service,
        "payer_mix": board.payers,
        "charges_vs_collections": board.charges_collections,
        "ar_aging": board.aging,
        "top_outstanding": board.top_balances,
        "expenses_vs_revenue": board.expenses_revenue,
        "expenses_by_category": board.expenses_category,
    }
    kpis = {name.removesuffix("_cents"): value for name, value in board.kpis.items()}
    return {name: frame.to_dict("records") for name, frame in frames.items()}, kpis


def _frame(records: list[dict], name: str) -> pd.DataFrame:
    return pd.DataFrame(records, columns=list(TABLES[name]))


def _chart(loaded: bool, records: list[dict], name: str, draw) -> go.Figure:
    """The figure ``draw`` makes of one table's rows; an empty one until the figures load. (Each
    chart var passes its own rows in, so that Reflex sees which var it depends on.)"""
    return draw(_frame(records, name)) if loaded else EMPTY_FIGURE


class FinanceState(DrillDown, SessionState):
    """The manager's finance dashboard."""

    DRILL_PAGE_SIZE = PAGE_SIZE
    DRILL_HINT = "Click a bar or a slice to list what is behind it."

    # The filters as the form shows them (ISO dates; department "" = all, as_of "" = the end).
    start: str = ""
    end: str = ""
    as_of: str = ""
    department: str = ""
    departments: list[dict[str, str]] = []
    applied_label: str = ""

    loading: bool = False
    loaded: bool = False
    kpi_revenue: str = ""
    kpi_collections: str = ""
    kpi_outstanding: str = ""
    kpi_open_invoices: int = 0
    kpi_expenses: str = ""
    kpi_charges: str = ""

    revenue_by_month: list[dict] = []
    revenue_by_department: list[dict] = []
    revenue_by_service: list[dict] = []
    payer_mix: list[dict] = []
    charges_vs_collections: list[dict] = []
    ar_aging: list[dict] = []
    top_outstanding: list[dict] = []
    expenses_vs_revenue: list[dict] = []
    expenses_by_category: list[dict] = []

    drill_kind: str = ""
    filter_error: str = ""
    filter_error_field: str = ""
    form_generation: int = 0
    drill_headings: list[str] = []
    drill_rows: list[DrillLine] = []

    # ------------------------------------------------------------------ what is drawn

    @rx.var
    def revenue_month_chart(self) -> go.Figure:
        return _chart(self.loaded, self.revenue_by_month, "revenue_by_month", figures.revenue_by_month_figure)

    @rx.var
    def revenue_department_chart(self) -> go.Figure:
        return _chart(
            self.loaded,
            self.revenue_by_department,
            "revenue_by_department",
            figures.revenue_by_department_figure,
        )

    @rx.var
    def revenue_service_chart(self) -> go.Figure:
        return _chart(
            self.loaded, self.revenue_by_service, "revenue_by_service", figures.revenue_by_service_figure
        )

    @rx.var
    def payer_chart(self) -> go.Figure:
        return _chart(self.loaded, self.payer_mix, "payer_mix", figures.payer_mix_figure)

    @rx.var
    def charges_collections_chart(self) -> go.Figure:
        return _chart(
            self.loaded,
            self.charges_vs_collections,
            "charges_vs_collections",
            figures.charges_vs_collections_figure,
        )

    @rx.var
    def aging_chart(self) -> go.Figure:
        return _chart(self.loaded, self.ar_aging, "ar_aging", figures.ar_aging_figure)

    @rx.var
    def expenses_revenue_chart(self) -> go.Figure:
        return _chart(
            self.loaded, self.expenses_vs_revenue, "expenses_vs_revenue", figures.expenses_vs_revenue_figure
        )

    @rx.var
    def expenses_category_chart(self) -> go.Figure:
        return _chart(
            self.loaded,
            self.expenses_by_category,
            "expenses_by_category",
            figures.expenses_by_category_figure,
        )

    @rx.var
    def balances(self) -> list[BalanceLine]:
        return [
            BalanceLine(
                r["number"],
                r["patient"],
                r["payer"],
                r["issued"],
                int(r["age_days"]),
                money(r["total_cents"]),
                money(r["balance_cents"]),
            )
            for r in self.top_outstanding
        ]

    @rx.var
    def service_count(self) -> int:
        return len(self.revenue_by_service)

    @rx.var
    def has_revenue(self) -> bool:
        return any(int(r["revenue_cents"]) for r in self.revenue_by_month)

    @rx.var
    def has_activity(self) -> bool:
        return any(
            int(r["charges_cents"]) or int(r["collections_cents"]) for r in self.charges_vs_collections
        )

    @rx.var
    def has_expenses(self) -> bool:
        return any(int(r["expenses_cents"]) for r in self.expenses_by_category)

    @rx.var
    def has_receivables(self) -> bool:
        return any(int(r["invoices"]) for r in self.ar_aging)

    @rx.var
    def ar_day_label(self) -> str:
        return self.as_of or self.end

    # ------------------------------------------------------------------ loading

    def _filters(self) -> FinanceFilters:
        start = _parse_day(self.start, "start", "From")
        end = _parse_day(self.end, "end", "To")
        as_of = _parse_day(self.as_of, "as_of", "Receivables on")
        if start is None or end is None:
            raise ValidationError("Choose a start and an end date.", field="start")
        department = None
        if self.department:
            if not self.department.isdigit() or len(self.department) > 12:
                raise ValidationError("Choose a department from the list.", field="department")
            department = int(self.department)
        return check_filters(FinanceFilters(start=start, end=end, department_id=department, as_of=as_of))

    async def _reload(self):
        filters = self._filters()
        actor = self.acting()
        # Every figure in one read-only session (SQLite readers never wait for writers).
        board = await call_service_read(
            finance_reports.load_dashboard, actor=actor, filters=filters, audit=False
        )
        tables, kpis = _tables(board)
        if tables["top_outstanding"]:
            await call_service(
                finance_reports.record_balances_listed,
                actor=actor,
                count=len(tables["top_outstanding"]),
                as_of=filters.ar_day,
            )
        for name, records in tables.items():
            setattr(self, name, records)
        self.kpi_revenue = money(kpis["revenue"])
        self.kpi_collections = money(kpis["collections"])
        self.kpi_outstanding = money(kpis["outstanding"])
        self.kpi_open_invoices = kpis["open_invoices"]
        self.kpi_expenses = money(kpis["expenses"])
        self.kpi_charges = money(kpis["charges"])
        department = next(
            (d["name"] for d in self.departments if d["id"] == self.department), "All departments"
        )
        self.applied_label = f"{filters.start.isoformat()} to {filters.end.isoformat()} · {department}"
        self.loaded = True

    @rx.event
    @requires(PERMISSION)
    async def load(self):
        if not self.start:
            defaults = default_filters(local_today())
            self.start, self.end = defaults.start.isoformat(), defaults.end.isoformat()
        self.loading = True
        yield
        try:
            self.departments = [
                {"id": str(i), "name": name} for i, name in await self._run(finance_reports.departments)
            ]
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        finally:
            self.loading = False

    @rx.event
    @requires(PERMISSION)
    async def apply(self, form: dict):
        """The filter form: from, to, department, receivables day."""
        if not isinstance(form, dict):
            yield rx.toast.error("The filters could not be read; choose them again.")
            return
        previous = (self.start, self.end, self.department, self.as_of)
        try:
            values = form_fields(form, FILTER_FIELDS, limit=FILTER_LIMIT)
        except ValidationError as error:
            yield rx.toast.error(str(error))
            return
        self.start, self.end, self.department, self.as_of = (values[name].strip() for name in FILTER_FIELDS)
        if self.department == "all":
            self.department = ""
        try:
            self._filters()
        except ValidationError as error:
            # The figures still show the previous filters; the form keeps what was typed and says
            # under it what to change.
            self.start, self.end, self.department, self.as_of = previous
            self.filter_error, self.filter_error_field = str(error), error.field or ""
            return
        self.filter_error, self.filter_error_field = "", ""
        self.loading, self.drill_open = True, False
        yield
        try:
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        finally:
            self.loading = False

    @rx.event
    @requires(PERMISSION)
    async def reset_filters(self):
        defaults = default_filters(local_today())
        self.start, self.end = defaults.start.isoformat(), defaults.end.isoformat()
        self.department, self.as_of = "", ""
        self.filter_error, self.filter_error_field = "", ""
        # Redraw the inputs even when the defaults equal what was applied: text typed but never
        # applied lives only in the browser, and only a new key clears it.
        self.form_generation += 1
        self.loading, self.drill_open = True, False
        yield
        try:
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        finally:
            self.loading = False

    # ------------------------------------------------------------------ drill-down

    def _key_for(self, figure: str, points) -> str | None:
        """The bar or slice a click landed on, read from what this state drew (never trusted
        from the browser beyond two small indexes)."""
        if figure not in DRILLABLE or not isinstance(points, list) or not points:
            return None
        point = points[0]
        if not isinstance(point, dict):
            return None
        index, curve = point.get("pointNumber"), point.get("curveNumber", 0)
        if not isinstance(index, int) or isinstance(index, bool) or not isinstance(curve, int) or curve < 0:
            return None
        rows = getattr(self, figure)
        if figure == "revenue_by_service":
            rows = rows[:TOP_SERVICES]
        if not 0 <= index < (len(BUCKETS) if figure == "ar_aging" else len(rows)):
            return None
        if figure == "ar_aging":
            return BUCKETS[index]
        if figure in SERIES:
            if curve >= len(SERIES[figure]):
                return None
            return f"{rows[index]['month']}|{SERIES[figure][curve]}"
        if figure == "revenue_by_month":
            return rows[index]["month"]
        return str(rows[index]["key"])

    async def _load_drill(self):
        page = await self._run(
            finance_reports.invoices_behind,
            figure=self.drill_figure,
            key=self.drill_key,
            filters=self._filters(),
            page=self.drill_page,
        )
        self.drill_title, self.drill_kind = page.title, page.kind
        self.drill_headings = list(page.headings)
        self.drill_rows = [
            DrillLine(
                r.when,
                r.reference,
                r.who,
                r.detail,
                money(r.amount_cents),
                r.extra,
                r.row_id,
                _link(page.kind, r),
            )
            for r in page.rows
        ]
        self.drill_total, self.drill_amount = page.total, money(page.amount_cents)

    @rx.event
    @requires(PERMISSION)
    async def drill(self, figure: str, points: list):
        """A click on a bar: open the list of what is behind it."""
        async for update in self._open_drill(figure, points):
            yield update

    @rx.event
    @requires(PERMISSION)
    async def drill_next(self):
        return await self._turn(self.drill_page + 1)

    @rx.event
    @requires(PERMISSION)
    async def drill_prev(self):
        return await self._turn(self.drill_page - 1)

    @rx.event
    @requires(PERMISSION)
    async def set_drill_open(self, value: bool):
        self._show_drill(value)

    # ------------------------------------------------------------------ CSV

    def _file_stem(self) -> str:
        return f"{self.start}_{self.end}" + (f"_dept{self.department}" if self.department else "")

    @rx.event
    @requires(PERMISSION)
    async def export_table(self, name: str):
        """A figure's table as CSV: the small aggregated table the figure is drawn from."""
        if name not in TABLES:
            return rx.toast.error("There is no such table.")
        records = getattr(self, name)
        if not records:
            return rx.toast.info("Nothing to export for this period.")
        if name == "top_outstanding":  # names patients: the file is a read like the listing
            await call_service(
                finance_reports.record_balances_exported, actor=self.acting(), count=len(records)
            )
        return rx.download(
            data=frame_csv(_frame(records, name)), filename=f"finance_{name}_{self._file_stem()}.csv"
        )

    @rx.event
    @requires(PERMISSION)
    async def export_drill(self):
        """Everything behind the clicked bar as CSV, built on the server in SQL-paged chunks."""
        if not self.drill_figure:
            return rx.toast.error("Click a bar or a slice first.")
        try:
            text, count = await self._run(
                finance_reports.drill_csv,
                figure=self.drill_figure,
                key=self.drill_key,
                filters=self._filters(),
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        if count >= CSV_MAX_ROWS:
            return [
                rx.download(data=text, filename=self._drill_file()),
                rx.toast.warning(f"Only the first {CSV_MAX_ROWS:,} rows are in the file."),
            ]
        return rx.download(data=text, filename=self._drill_file())

    def _drill_file(self) -> str:
        key = "".join(ch if ch.isalnum() or ch == "-" else "_" for ch in self.drill_key)
        return f"finance_{self.drill_figure}_{key}_{self._file_stem()}.csv"
