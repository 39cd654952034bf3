"""The chart's Results tab: the patient's released laboratory results as a cumulative table (tests
down, collection times across, newest first, a page of times at a time), the trend of one test with
its reference range, the orders not yet released (with a cancel for those who order), and the
specimens waiting to be collected here on the ward (collect, print the label).

Everything is read when the tab is first shown, not with the chart: each read is audited as a look at
the patient's results. Ids the browser sends back are looked up among the rows it was shown, so a
specimen of another patient (or one that is no longer waiting) is refused before any service runs;
the services check the permission again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics.lab_trend import lab_trend_figure
from hms_app.errors import DomainError, ValidationError
from hms_app.services.laboratory.rows import Cumulative, OrderRow, SpecimenRow
from hms_app.services.laboratory.specimens import collect_specimen, collection_list
from hms_app.services.laboratory.views import cumulative, patient_orders, trend
from hms_app.state.chart.page import ChartState
from hms_app.state.laboratory.common import (
    FLAG_LABELS,
    ORDER_STATUS_LABELS,
    PRIORITY_LABELS,
    SPECIMEN_STATUS_LABELS,
    moment_label,
)
from hms_app.state.session import browser_id, pages_for, requires, turn_page

READ = "lab.read"
COLLECT = "lab.collect"
COLUMNS = 8  # collection times on one page of the cumulative table
CANCELLABLE = ("ordered", "collected", "received")
RESULTS_TOAST = "chart-lab"


@dataclass(frozen=True)
class ResultCell:
    value: str = ""
    flag: str = ""  # LL | L | H | HH | A, "" for a normal result or no result
    flag_label: str = ""
    tone: str = ""  # critical | abnormal | "": how the cell is coloured


@dataclass(frozen=True)
class ResultLine:
    test_id: int = 0
    code: str = ""
    name: str = ""
    unit: str = ""
    reference: str = ""
    cells: list[ResultCell] = field(default_factory=list)


@dataclass(frozen=True)
class TrendChoice:
    value: str = ""  # the test's id as text (a select's value)
    label: str = ""
    unit: str = ""


@dataclass(frozen=True)
class OrderLine:
    order_id: int = 0
    reference: str = ""
    test: str = ""
    priority: str = "routine"
    priority_label: str = ""
    status: str = ""
    status_label: str = ""
    ordered: str = ""
    specimen_id: int = 0
    accession: str = ""
    specimen_label: str = ""
    rejection: str = ""
    cancellable: bool = False
    # The label can be (re)printed until the tube reaches the laboratory: on its first order's row.
    label: bool = False


@dataclass(frozen=True)
class CollectLine:
    id: int = 0
    accession: str = ""
    container: str = ""  # "Serum separator (gold)"
    specimen_type: str = ""
    tests: str = ""
    priority: str = "routine"
    priority_label: str = ""
    reference: str = ""


def _cell(value: str, flag: str) -> ResultCell:
    shown = flag if flag and flag != "N" else ""
    tone = "critical" if shown in ("LL", "HH") else ("abnormal" if shown else "")
    return ResultCell(value, shown, FLAG_LABELS.get(shown, ""), tone)


def _result_lines(table: Cumulative) -> list[ResultLine]:
    return [
        ResultLine(
            row.test_id,
            row.code,
            row.short_name,
            row.unit,
            row.reference_text,
            [_cell(c.value, c.flag) for c in row.cells],
        )
        for row in table.rows
    ]


def _order_lines(rows: list[OrderRow]) -> list[OrderLine]:
    seen: set[int] = set()
    lines = []
    for row in rows:
        first = row.specimen_id is not None and row.specimen_id not in seen
        seen.add(row.specimen_id)
        lines.append(_order_line(row, label=first and row.specimen_status in ("pending", "collected")))
    return lines


def _order_line(row: OrderRow, *, label: bool) -> OrderLine:
    return OrderLine(
        order_id=row.order_id,
        reference=row.request_reference,
        test=row.test_name,
        priority=row.priority,
        priority_label=PRIORITY_LABELS.get(row.priority, row.priority),
        status=row.status,
        status_label=ORDER_STATUS_LABELS.get(row.status, row.status),
        ordered=moment_label(row.ordered_at),
        specimen_id=row.specimen_id or 0,
        accession=row.accession,
        specimen_label=SPECIMEN_STATUS_LABELS.get(row.specimen_status, row.specimen_status),
        rejection=row.rejection_reason,
        cancellable=row.status in CANCELLABLE,
        label=label,
    )


def _collect_line(row: SpecimenRow) -> CollectLine:
    return CollectLine(
        id=row.id,
        accession=row.accession,
        container=row.container,
        specimen_type=row.specimen_type,
        tests=row.tests,
        priority=row.priority,
        priority_label=PRIORITY_LABELS.get(row.priority, row.priority),
        reference=row.request_reference,
    )


class ChartLabResultsState(ChartState):
    """What the Results tab shows of the patient's laboratory work."""

    TAB: ClassVar[str] = "results"

    lab_loaded: bool = False
    lab_loading: bool = False
    lab_forbidden: bool = False  # the role does not see laboratory results (shown instead of the tab)
    # The cumulative table: one page of collection times across.
    times: list[str] = []
    results: list[ResultLine] = []
    times_total: int = 0
    times_page: int = 1
    # The trend of one test.
    trend_choices: list[TrendChoice] = []
    trend_test: str = ""
    trend_figure: go.Figure = EMPTY_FIGURE
    trend_count: int = 0
    trend_loading: bool = False
    # Orders not yet released, and specimens waiting to be collected.
    orders: list[OrderLine] = []
    to_collect: list[CollectLine] = []
    collecting: int = 0  # the specimen whose collection is being recorded (its button spins)

    @rx.var
    def times_pages(self) -> int:
        return pages_for(self.times_total, COLUMNS)

    async def _open(self):
        # Read when the tab is first shown (each read is audited), not with the chart.
        return None if self.lab_loaded else await self._load_all()

    async def _load_all(self):
        actor = self.acting()
        if not actor.can(READ):
            self.lab_forbidden, self.lab_loaded = True, True
            return None
        self.lab_loading = True
        try:
            await self._load_results()
            await self._load_orders()
            await self._load_trend()
        except DomainError as error:
            self.lab_loading = False
            return rx.toast.error(str(error), id=RESULTS_TOAST)
        self.lab_loaded, self.lab_loading = True, False
        return None

    async def _load_results(self) -> None:
        table = await self._read(cumulative, patient_id=self.pid, page=self.times_page - 1, columns=COLUMNS)
        if table.times == [] and self.times_page > 1:  # results went (corrected away) under this page
            self.times_page = pages_for(table.total_times, COLUMNS)
            table = await self._read(
                cumulative, patient_id=self.pid, page=self.times_page - 1, columns=COLUMNS
            )
        self.times, self.results, self.times_total = table.times, _result_lines(table), table.total_times
        known = {choice.value: choice for choice in self.trend_choices}
        for line in self.results:
            known.setdefault(str(line.test_id), TrendChoice(str(line.test_id), line.name, line.unit))
        self.trend_choices = sorted(known.values(), key=lambda c: c.label.lower())
        if not self.trend_test and self.results:
            # The test measured most often on this page: the one whose trend says the most.
            most = max(self.results, key=lambda line: sum(1 for cell in line.cells if cell.value))
            self.trend_test = str(most.test_id)

    async def _load_orders(self) -> None:
        """The orders not yet released and, for those who collect, the specimens to collect."""
        self.orders = _order_lines(await self._read(patient_orders, patient_id=self.pid))
        if self.acting().can(COLLECT):
            rows = await self._read(collection_list, patient_id=self.pid)
            self.to_collect = [_collect_line(row) for row in rows]
        else:
            self.to_collect = []

    async def _load_trend(self) -> None:
        if not self.trend_test:
            self.trend_figure, self.trend_count = EMPTY_FIGURE, 0
            return
        test_id = int(self.trend_test)
        self.trend_loading = True
        try:
            points = await self._read(trend, patient_id=self.pid, test_id=test_id)
        finally:
            self.trend_loading = False
        choice = next((c for c in self.trend_choices if c.value == self.trend_test), TrendChoice())
        self.trend_figure = lab_trend_figure(points, name=choice.label, unit=choice.unit)
        self.trend_count = len(points)

    async def _refresh_lab(self):
        """Re-read the orders and the collection list after a change made on this tab."""
        try:
            await self._load_orders()
        except DomainError as error:
            return rx.toast.error(str(error), id=RESULTS_TOAST)
        return None

    # ------------------------------------------------------------------ handlers

    @rx.event
    @requires(READ)
    async def reload_lab(self):
        if not self.pid:
            return None
        self.lab_loaded = False
        return await self._load_all()

    @rx.event
    @requires(READ)
    async def move_times(self, step: int):
        """Newer (-1) or older (1) collection times."""
        if not self.pid:
            return None

        async def reload():
            try:
                await self._load_results()
            except DomainError as error:
                return rx.toast.error(str(error), id=RESULTS_TOAST)
            return None

        return await turn_page(self, "times_page", step, self.times_pages, reload)

    @rx.event
    @requires(READ)
    async def set_trend_test(self, value: str):
        if not self.pid:
            return None
        if not isinstance(value, str) or value not in {c.value for c in self.trend_choices}:
            return rx.toast.error("Choose a test from the list.", id=RESULTS_TOAST)
        self.trend_test = value
        try:
            await self._load_trend()
        except DomainError as error:
            return rx.toast.error(str(error), id=RESULTS_TOAST)
        return None

    @rx.event
    @requires(COLLECT)
    async def collect(self, specimen_id: int):
        """Record that the specimen on screen was taken from this patient now."""
        try:
            wanted = browser_id(specimen_id, "specimen")
            line = next((x for x in self.to_collect if x.id == wanted), None)
            if line is None:
                raise ValidationError(
                    "That specimen is not waiting to be collected from this patient. Reload the tab."
                )
        except ValidationError as error:
            yield rx.toast.error(str(error), id=RESULTS_TOAST)
            return
        self.collecting = line.id
        yield
        try:
            row = await self._run(collect_specimen, specimen_id=line.id)
        except DomainError as error:
            self.collecting = 0
            yield rx.toast.error(str(error), id=RESULTS_TOAST)
            yield await self._refresh_lab()
            return
        self.collecting = 0
        yield rx.toast.success(
            f"{row.accession} collected ({row.tests}). Send it to the laboratory.", id=RESULTS_TOAST
        )
        yield await self._refresh_lab()
