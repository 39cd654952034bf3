"""The inventory dashboard (/analytics/inventory): totals, the figures, what is behind a clicked bar.

What the state holds is what is on screen: the filters, each figure's small table (aggregated in
SQL by ``hms_app/analytics/inventory/``, read through ``services/inventory/dashboard.py``) and one
page of the drill-down. CSV downloads of a figure come from its small table; the CSV of a
drill-down is built on the server from SQL-paged chunks and handed to the browser, never kept here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics.inventory import charts
from hms_app.analytics.inventory.common import (
    CSV_MAX_ROWS,
    IDLE_DAYS,
    PAGE_SIZE,
    TOP_SLOW,
    WINDOWS,
    InventoryFilters,
    check_filters,
    default_filters,
    frame_csv,
    money,
    month_firsts,
    month_label,
)
from hms_app.analytics.inventory.drill import DRILLABLE
from hms_app.analytics.inventory.flows import CONSUMPTION_COLUMNS, LEAD_COLUMNS
from hms_app.analytics.inventory.stock import EXPIRY_COLUMNS, OUT_COLUMNS, SLOW_COLUMNS, VALUE_COLUMNS
from hms_app.clock import local_today
from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory import dashboard as reports
from hms_app.state.drill import DrillDown
from hms_app.state.forms import day_in_range, form_fields
from hms_app.state.session import SessionState, requires

PERMISSION = "analytics.read"
TABLES: dict[str, list[str]] = {
    "stock_value_by_store": VALUE_COLUMNS,
    "consumption_by_department": CONSUMPTION_COLUMNS,
    "expiring_by_store": EXPIRY_COLUMNS,
    "stock_outs": OUT_COLUMNS,
    "slow_movers": SLOW_COLUMNS,
    "supplier_lead_times": LEAD_COLUMNS,
}
FILTER_FIELDS = ("start", "end", "store", "category", "idle_days")
FILTER_LIMIT = 20


@dataclass
class DrillLine:
    c1: str = ""
    c2: str = ""
    c3: str = ""
    c4: str = ""
    c5: str = ""
    c6: str = ""


def _parse_day(value, field: str, label: str) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 10:
        raise ValidationError(f"{label}: choose a date.", field=field)
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValidationError(f"{label}: {value!r} is not a date.", field=field) from error
    return day_in_range(day, field, label)


def _clean(records: list[dict]) -> list[dict]:
    """Rows the browser can read: a missing number (NaN) travels as nothing, not as NaN."""
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in records
    ]


def _frame(records: list[dict], name: str) -> pd.DataFrame:
    return pd.DataFrame(records, columns=TABLES[name])


def _point(points) -> tuple[int, int, int | None]:
    """(curve, index, column) of the first clicked point; a heatmap's point is [row, column]."""
    if not isinstance(points, list) or not points or not isinstance(points[0], dict):
        raise ValidationError("Click a bar to list what is behind it.")
    point = points[0]
    curve, number = point.get("curveNumber", 0), point.get("pointNumber")
    column = None
    if isinstance(number, list) and len(number) == 2:
        number, column = number
    values = [curve, number] + ([column] if column is not None else [])
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in values):
        raise ValidationError("Click a bar to list what is behind it.")
    return curve, number, column


class InventoryDashboardState(DrillDown, SessionState):
    """The managers' inventory dashboard."""

    DRILL_PAGE_SIZE = PAGE_SIZE
    DRILL_HINT = "Click a bar or a cell to list what is behind it."

    start: str = ""
    end: str = ""
    store: str = ""  # "" = every store
    category: str = ""  # "" = every category
    idle_days: str = "90"
    valuation: str = ""  # "fifo" | "average"; "" until the hospital's default is read
    stores: list[dict[str, str]] = []
    categories: list[dict[str, str]] = []
    valuations: list[dict[str, str]] = []
    applied_label: str = ""
    filter_error: str = ""
    filter_error_field: str = ""
    form_generation: int = 0

    loading: bool = False
    loaded: bool = False
    kpi_value: str = ""
    kpi_written_down: str = ""
    kpi_consumption: str = ""
    kpi_expiring: str = ""
    kpi_expired_lots: int = 0
    kpi_out: int = 0
    kpi_low: int = 0
    kpi_slow: str = ""
    slow_count: int = 0  # every slow mover; the state holds the TOP_SLOW worth most

    months: list[str] = []
    stock_value_by_store: list[dict] = []
    consumption_by_department: list[dict] = []
    expiring_by_store: list[dict] = []
    stock_outs: list[dict] = []
    slow_movers: list[dict] = []
    supplier_lead_times: list[dict] = []

    drill_headings: list[str] = []
    drill_rows: list[DrillLine] = []

    # ------------------------------------------------------------------ what is drawn

    @rx.var
    def value_chart(self) -> go.Figure:
        if not self.loaded:
            return EMPTY_FIGURE
        return charts.stock_value_figure(_frame(self.stock_value_by_store, "stock_value_by_store"))

    @rx.var
    def consumption_chart(self) -> go.Figure:
        if not self.loaded:
            return EMPTY_FIGURE
        frame = _frame(self.consumption_by_department, "consumption_by_department")
        return charts.consumption_figure(frame, self.months)

    @rx.var
    def expiring_chart(self) -> go.Figure:
        if not self.loaded:
            return EMPTY_FIGURE
        return charts.expiring_figure(_frame(self.expiring_by_store, "expiring_by_store"))

    @rx.var
    def outs_chart(self) -> go.Figure:
        if not self.loaded:
            return EMPTY_FIGURE
        return charts.stock_outs_figure(_frame(self.stock_outs, "stock_outs"))

    @rx.var
    def slow_chart(self) -> go.Figure:
        if not self.loaded:
            return EMPTY_FIGURE
        return charts.slow_movers_figure(_frame(self.slow_movers, "slow_movers"))

    @rx.var
    def lead_chart(self) -> go.Figure:
        if not self.loaded:
            return EMPTY_FIGURE
        return charts.lead_times_figure(_frame(self.supplier_lead_times, "supplier_lead_times"))

    @rx.var
    def has_stock(self) -> bool:
        return any(int(r["value_cents"]) or int(r["written_down_cents"]) for r in self.stock_value_by_store)

    @rx.var
    def has_consumption(self) -> bool:
        return any(int(r["value_cents"]) for r in self.consumption_by_department)

    @rx.var
    def has_expiring(self) -> bool:
        return any(int(r["lots"]) for r in self.expiring_by_store)

    @rx.var
    def has_outs(self) -> bool:
        return any(int(r["out"]) or int(r["low"]) for r in self.stock_outs)

    @rx.var
    def has_slow(self) -> bool:
        return len(self.slow_movers) > 0

    @rx.var
    def has_orders(self) -> bool:
        return len(self.supplier_lead_times) > 0

    @rx.var
    def valuation_label(self) -> str:
        return next((v["label"] for v in self.valuations if v["id"] == self.valuation), "")

    # ------------------------------------------------------------------ loading

    def _filters(self) -> InventoryFilters:
        start = _parse_day(self.start, "start", "From")
        end = _parse_day(self.end, "end", "To")
        if start is None or end is None:
            raise ValidationError("Choose a start and an end date.", field="start")
        store = None
        if self.store:
            if not self.store.isdigit() or len(self.store) > 12:
                raise ValidationError("Choose a store from the list.", field="store")
            store = int(self.store)
        if not self.idle_days.isdigit() or int(self.idle_days) not in IDLE_DAYS:
            raise ValidationError("Choose how many days without a move make stock slow.", field="idle_days")
        return check_filters(
            InventoryFilters(
                start=start,
                end=end,
                location_id=store,
                category=self.category or None,
                valuation=self.valuation or "fifo",
                idle_days=int(self.idle_days),
            )
        )

    async def _reload(self):
        filters = self._filters()
        board = await self._read(reports.load_dashboard, filters=filters)
        self.months = [month_label(first) for first in month_firsts(filters.start, filters.end)]
        self.stock_value_by_store = _clean(board.stock_value.to_dict("records"))
        self.consumption_by_department = _clean(board.consumption.to_dict("records"))
        self.expiring_by_store = _clean(board.expiring.to_dict("records"))
        self.stock_outs = _clean(board.outs.to_dict("records"))
        self.slow_movers = _clean(board.slow.to_dict("records"))
        self.supplier_lead_times = _clean(board.lead_times.to_dict("records"))
        kpis = board.kpis
        self.kpi_value = money(kpis["stock_value_cents"])
        self.kpi_written_down = money(kpis["written_down_cents"])
        self.kpi_consumption = money(kpis["consumption_cents"])
        self.kpi_expiring = money(kpis["expiring_90_cents"])
        self.kpi_expired_lots = kpis["expired_lots"]
        self.kpi_out, self.kpi_low = kpis["out"], kpis["low"]
        self.kpi_slow = money(kpis["slow_cents"])
        self.slow_count = kpis["slow_rows"]
        store = next((s["name"] for s in self.stores if s["id"] == self.store), "All stores")
        category = next((c["name"] for c in self.categories if c["id"] == self.category), "all categories")
        self.applied_label = (
            f"{filters.start.isoformat()} to {filters.end.isoformat()} · {store} · {category}"
        )
        self.loaded = True

    async def _refresh(self):
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
    async def load(self):
        self.loading = True
        yield
        try:
            choices = await self._read(reports.filter_choices)
            self.stores = [{"id": str(i), "name": name} for i, name in choices["stores"]]
            self.categories = [{"id": key, "name": label} for key, label in choices["categories"]]
            self.valuations = [{"id": key, "label": label} for key, label in choices["valuations"]]
            if not self.start:
                defaults = default_filters(local_today())
                self.start, self.end = defaults.start.isoformat(), defaults.end.isoformat()
            if not self.valuation:
                self.valuation = choices["valuation"]
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        finally:
            self.loading = False

    @rx.event
    @requires(PERMISSION)
    async def apply(self, form: dict):
        """The filter form: from, to, store, category, days without a move."""
        if not isinstance(form, dict):
            yield rx.toast.error("The filters could not be read; choose them again.")
            return
        previous = (self.start, self.end, self.store, self.category, self.idle_days)
        try:
            values = form_fields(form, FILTER_FIELDS, limit=FILTER_LIMIT)
        except ValidationError as error:
            yield rx.toast.error(str(error))
            return
        self.start, self.end, self.store, self.category, self.idle_days = (
            values[name].strip() for name in FILTER_FIELDS
        )
        self.store = "" if self.store == "all" else self.store
        self.category = "" if self.category == "all" else self.category
        try:
            self._filters()
        except ValidationError as error:
            self.start, self.end, self.store, self.category, self.idle_days = previous
            self.filter_error, self.filter_error_field = str(error), error.field or ""
            return
        self.filter_error, self.filter_error_field = "", ""
        async for step in self._refresh():
            yield step

    @rx.event
    @requires(PERMISSION)
    async def reset_filters(self):
        defaults = default_filters(local_today())
        self.start, self.end = defaults.start.isoformat(), defaults.end.isoformat()
        self.store, self.category, self.idle_days = "", "", "90"
        self.filter_error, self.filter_error_field = "", ""
        self.form_generation += 1
        async for step in self._refresh():
            yield step

    @rx.event
    @requires(PERMISSION)
    async def set_valuation(self, value: str | list[str]):
        """The FIFO / moving average switch: the stock figures are valued again at once."""
        if not isinstance(value, str) or value not in ("fifo", "average") or value == self.valuation:
            return
        self.valuation = value
        async for step in self._refresh():
            yield step

    # ------------------------------------------------------------------ drill-down

    def _key_for(self, figure: str, points) -> str | None:
        """The bar or cell a click landed on, read from what this state drew (never trusted from
        the browser beyond a few small indexes)."""
        if figure not in DRILLABLE:
            return None
        try:
            curve, index, column = _point(points)
        except ValidationError:
            return None
        rows = getattr(self, figure)
        if figure == "consumption_by_department":
            series = charts.consumption_series(_frame(rows, figure), self.months)
            if curve >= len(series) or index >= len(self.months):
                return None
            return f"{self.months[index]}|{series[curve][0]}"
        if figure == "expiring_by_store":
            keys = charts.expiring_grid(_frame(rows, figure))[0]
            if column is None or index >= len(keys) or column >= len(WINDOWS):
                return None
            return f"{keys[index]}|{WINDOWS[column]}"
        limit = TOP_SLOW if figure == "slow_movers" else len(rows)
        if index >= min(limit, len(rows)):
            return None
        if figure == "stock_outs":
            return f"{rows[index]['key']}|{'out' if curve == 0 else 'low'}" if curve < 2 else None
        return str(rows[index]["key"])

    async def _load_drill(self):
        page = await self._read(
            reports.items_behind,
            figure=self.drill_figure,
            key=self.drill_key,
            filters=self._filters(),
            page=self.drill_page,
        )
        self.drill_title = page.title
        self.drill_headings = list(page.headings)
        self.drill_rows = [DrillLine(*row.cells) for row in page.rows]
        self.drill_total = page.total
        self.drill_amount = money(page.amount_cents) if page.amount_cents is not None else ""

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
        parts = [self.start, self.end, self.valuation or "fifo"]
        if self.store:
            parts.append(f"store{self.store}")
        if self.category:
            parts.append(self.category)
        return "_".join(parts)

    @rx.event
    @requires(PERMISSION)
    async def export_table(self, name: str):
        """A figure's table as CSV: the small aggregated table the figure is drawn from."""
        if name not in TABLES:
            return rx.toast.error("There is no such table.")
        records = getattr(self, name)
        if not records:
            return rx.toast.info("Nothing to export for these filters.")
        frame = _frame(records, name)
        if name == "slow_movers" and self.slow_count > len(records):
            # The screen holds the few worth most; the file has every one, read again on the server.
            try:
                frame = await self._read(reports.slow_movers, filters=self._filters(), limit=None)
            except DomainError as error:
                return rx.toast.error(str(error))
        return rx.download(data=frame_csv(frame), filename=f"inventory_{name}_{self._file_stem()}.csv")

    @rx.event
    @requires(PERMISSION)
    async def export_drill(self):
        """Everything behind the clicked bar as CSV, built on the server in SQL-paged chunks."""
        if not self.drill_figure:
            return rx.toast.error("Click a bar or a cell first.")
        try:
            text, count = await self._read(
                reports.drill_csv, figure=self.drill_figure, key=self.drill_key, filters=self._filters()
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        key = "".join(ch if ch.isalnum() or ch == "-" else "_" for ch in self.drill_key)
        download = rx.download(
            data=text, filename=f"inventory_{self.drill_figure}_{key}_{self._file_stem()}.csv"
        )
        if count >= CSV_MAX_ROWS:
            return [download, rx.toast.warning(f"Only the first {CSV_MAX_ROWS:,} rows are in the file.")]
        return download
