"""The laboratory worklist (/lab): the orders to collect, in the lab (received, waiting for a
result), to verify, or all of them; STAT first, filtered by priority and searched by patient, MRN,
accession or test, one SQL page at a time.

Result entry is a grid: each row in the lab has its input (a number, a choice of the test's coded
results, or text); Enter (or choosing a coded value) saves it through ``enter_result`` and moves the
focus to the next row's input. The row leaves the "In lab" view and the result, with its flag,
shows in "Entered just now". In the "To verify" view rows are ticked and released together by
``verify_results``, which refuses the whole batch when one of them was entered by the verifier.

The board follows the live topic "lab" as the ward board follows "beds": a change anywhere queues
this tab's own guarded ``refresh``; tabs showing the same page share one read per notice.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field, replace

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.laboratory.results import enter_result, verify_results
from hms_app.services.laboratory.views import WorklistPage, WorklistRow, worklist
from hms_app.state.boards.common import WATCH_REASON, now_label, shared_read
from hms_app.state.forms import value_text
from hms_app.state.laboratory.common import (
    FLAG_LABELS,
    LIVE_LAB,
    ORDER_STATUS_LABELS,
    PRIORITY_LABELS,
    READ,
    VERIFY,
    WORK,
    moment_label,
)
from hms_app.state.live import live_changes
from hms_app.state.session import (
    SessionState,
    browser_id,
    call_service_read,
    pages_for,
    public,
    requires,
    turn_page,
)

PAGE_SIZE = 50
VIEWS = {"collect": "To collect", "open": "In lab", "to_verify": "To verify", "all": "All"}
ALL_PRIORITIES = "any"
RECENT = 8  # results kept in "Entered just now"
# Rows whose result may be entered (or entered again, before it is verified).
ENTERABLE = ("received", "resulted")
MAX_VALUE = 500


@dataclass(frozen=True)
class WorkLine:
    """One order as the grid shows it."""

    order_id: int = 0
    result_id: int = 0  # 0: no result yet
    key: str = ""  # changes with the result, so that the row's input shows a value entered elsewhere
    input_id: str = ""
    next_input: str = ""  # where Enter moves the focus ("" on the last row)
    accession: str = ""
    reference: str = ""
    patient_id: int = 0
    patient_name: str = ""
    mrn: str = ""
    test: str = ""
    test_code: str = ""
    unit: str = ""
    kind: str = "numeric"  # numeric | coded | text
    choices: list[str] = field(default_factory=list)
    priority: str = "routine"
    priority_label: str = ""
    stat: bool = False
    status: str = ""
    status_label: str = ""
    ordered: str = ""
    received: str = ""
    value: str = ""
    flag: str = ""
    flag_label: str = ""
    entered_by: str = ""
    mine: bool = False  # entered by the signed-in user: someone else verifies it
    enterable: bool = False


@dataclass(frozen=True)
class Entered:
    """A result this tab has just saved, with its flag."""

    key: str = ""
    patient_name: str = ""
    test: str = ""
    value: str = ""
    flag: str = ""
    flag_label: str = ""
    accession: str = ""


def _input_id(order_id: int) -> str:
    return f"result-{order_id}"


def focus(input_id: str):
    """Move the focus to a row's entry. The entries are found by their ``data-entry`` attribute, not
    by a Reflex ref: an ``id`` inside a list of forms makes Reflex's form hook name a ref by the row,
    outside the row's scope."""
    if not re.fullmatch(r"result-\d{1,12}", input_id):
        return None
    selector = json.dumps(f'[data-entry="{input_id}"]')
    return rx.call_script(f"document.querySelector({selector})?.focus()")


def _line(row: WorklistRow, me: str, view: str) -> WorkLine:
    enterable = row.status in ENTERABLE and view != "to_verify"
    return WorkLine(
        order_id=row.order_id,
        result_id=row.result_id or 0,
        key=f"{row.order_id}-{row.result_id or 0}-{row.value}",
        input_id=_input_id(row.order_id),
        accession=row.accession,
        reference=row.request_reference,
        patient_id=row.patient_id,
        patient_name=row.patient_name,
        mrn=row.mrn,
        test=row.short_name,
        test_code=row.test_code,
        unit=row.unit,
        kind=row.result_type,
        choices=list(row.choices),
        priority=row.priority,
        priority_label=PRIORITY_LABELS.get(row.priority, row.priority),
        stat=row.priority == "stat",
        status=row.status,
        status_label=ORDER_STATUS_LABELS.get(row.status, row.status),
        ordered=moment_label(row.ordered_at),
        received=moment_label(row.received_at),
        value=row.value,
        flag=row.flag,
        flag_label=FLAG_LABELS.get(row.flag, row.flag),
        entered_by=row.entered_by,
        mine=bool(me) and row.entered_by == me,
        enterable=enterable,
    )


def _lines(page: WorklistPage, me: str, view: str) -> list[WorkLine]:
    """The page's rows, each knowing which input comes next (Enter moves the focus there)."""
    lines = [_line(row, me, view) for row in page.rows]
    inputs = [n for n, line in enumerate(lines) if line.enterable]
    for here, following in zip(inputs, inputs[1:], strict=False):
        lines[here] = replace(lines[here], next_input=lines[following].input_id)
    return lines


class WorklistState(SessionState):
    """One page of the worklist, its filters, the ticked results and the results just entered."""

    view: str = "open"
    priority: str = ALL_PRIORITIES
    query: str = ""
    rows: list[WorkLine] = []
    total: int = 0
    page: int = 1
    loaded: bool = False
    version: int = 0
    updated_at: str = ""
    # How many orders wait in each queue (every priority, no search), and the STAT ones in the lab.
    queue_counts: dict[str, int] = {}
    stat_open: int = 0
    row_errors: dict[str, str] = {}  # order id -> the message under its input
    selected: list[int] = []  # result ids ticked for verification
    verifying: bool = False
    recent: list[Entered] = []

    _opened: bool = False
    _me: str = ""

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    @rx.var
    def selectable_ids(self) -> list[int]:
        return [line.result_id for line in self.rows if line.status == "resulted" and line.result_id]

    @rx.var
    def all_selected(self) -> bool:
        ids = self.selectable_ids
        return bool(ids) and set(ids) <= set(self.selected)

    def _arguments(self) -> dict:
        return {
            "status": self.view,
            "priority": "" if self.priority == ALL_PRIORITIES else self.priority,
            "query": self.query,
            "page": self.page - 1,
            "page_size": PAGE_SIZE,
        }

    async def _counts(self, *, shared: bool) -> None:
        actor = self.acting()
        asks = [("collect", ""), ("open", ""), ("to_verify", ""), ("open", "stat")]

        async def count(status: str, priority: str) -> int:
            arguments = {"status": status, "priority": priority, "page_size": 1}
            if shared:
                key = ("lab-worklist-count", status, priority)
                return await shared_read(key, worklist, build=lambda p: p.total, actor=actor, **arguments)
            return (await call_service_read(worklist, actor=actor, **arguments)).total

        totals = await asyncio.gather(*(count(status, priority) for status, priority in asks))
        self.queue_counts = {
            status: total for (status, priority), total in zip(asks, totals, strict=True) if not priority
        }
        self.stat_open = totals[-1]

    async def _reload(self, *, shared: bool = False) -> None:
        """Read this tab's page (and the queue counts); a DomainError is the caller's to show."""
        arguments = self._arguments()
        if shared:
            # Tabs showing the same page share one read per notice; the lines are built per tab
            # (who entered a result decides what "yours" means).
            key = ("lab-worklist", *arguments.values())
            answer = await shared_read(key, worklist, actor=self.acting(), **arguments)
        else:
            answer = await self._read(worklist, **arguments)
        await self._counts(shared=shared)
        self.rows, self.total = _lines(answer, self._me, self.view), answer.total
        if self.page > self.page_count:  # the list shrank under this page
            self.page = self.page_count
            answer = await self._read(worklist, **self._arguments())
            self.rows, self.total = _lines(answer, self._me, self.view), answer.total
        shown = {line.result_id for line in self.rows if line.status == "resulted"}
        self.selected = [result_id for result_id in self.selected if result_id in shown]
        visible = {str(line.order_id) for line in self.rows}
        self.row_errors = {key: text for key, text in self.row_errors.items() if key in visible}
        self.loaded, self._opened = True, True
        self.version += 1
        self.updated_at = now_label()

    async def _show(self, *, shared: bool = False):
        try:
            await self._reload(shared=shared)
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires(READ)
    async def load(self):
        actor = self.acting()
        self._me = (actor.username or actor.display_name or "")[:60]  # as results record who entered them
        wanted = self.router.url.query_parameters.get("view", "") if self.router else ""
        if isinstance(wanted, str) and wanted in VIEWS:
            self.view = wanted
        self.page, self.selected, self.row_errors = 1, [], {}
        return await self._show()

    @rx.event
    @requires(READ)
    async def refresh(self):
        """Reload what this tab shows (a live change); never before the tab has opened the list."""
        if not self._opened:
            return None
        return await self._show(shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, LIVE_LAB, permission=READ):
            yield WorklistState.refresh

    @rx.event
    @requires(READ)
    async def set_view(self, view: str | list[str]):
        if not isinstance(view, str) or view not in VIEWS:
            return rx.toast.error("Choose one of the lists offered.")
        self.view, self.page, self.selected, self.row_errors = view, 1, [], {}
        return await self._show()

    @rx.event
    @requires(READ)
    async def set_priority(self, priority: str):
        if not isinstance(priority, str) or (priority != ALL_PRIORITIES and priority not in PRIORITY_LABELS):
            return rx.toast.error("Choose a priority from the list.")
        self.priority, self.page = priority, 1
        return await self._show()

    @rx.event
    @requires(READ)
    async def search(self, query: str):
        try:
            text = value_text(query, "query", limit=60, label="search")
        except ValidationError as error:
            return rx.toast.error(str(error))
        self.query, self.page = " ".join(text.split()), 1
        return await self._show()

    @rx.event
    @requires(READ)
    async def move(self, step: int):
        try:
            return await turn_page(self, "page", step, self.page_count, self._reload)
        except DomainError as error:
            return rx.toast.error(str(error))

    # ------------------------------------------------------------------ result entry

    def _enterable(self, order_id) -> WorkLine:
        wanted = browser_id(order_id, "order")
        line = next((x for x in self.rows if x.order_id == wanted), None)
        if line is None or not line.enterable:
            raise ValidationError("That order is no longer waiting for a result here: the list has moved on.")
        return line

    async def _enter(self, order_id, raw):
        try:
            line = self._enterable(order_id)
        except ValidationError as error:
            return rx.toast.error(str(error))
        key = str(line.order_id)
        try:
            value = value_text(raw, "value", limit=MAX_VALUE, label="result").strip()
            if not value:
                raise ValidationError("Enter the result first.", field="value")
            if value == line.value and line.result_id:
                return focus(line.next_input)
            saved = await self._run(enter_result, order_id=line.order_id, value=value)
        except DomainError as error:
            self.row_errors = {**self.row_errors, key: str(error)}
            return focus(line.input_id)
        self.row_errors = {k: v for k, v in self.row_errors.items() if k != key}
        shown = f"{saved.value} {saved.unit}".strip()
        entry = Entered(
            key=f"{saved.id}-{saved.value}",
            patient_name=line.patient_name,
            test=line.test,
            value=shown,
            flag=saved.flag,
            flag_label=FLAG_LABELS.get(saved.flag, saved.flag),
            accession=line.accession,
        )
        self.recent = [entry, *[r for r in self.recent if r.key != entry.key]][:RECENT]
        events: list = []
        if saved.flag in ("LL", "HH"):
            events.append(
                rx.toast.warning(
                    f"Critical {line.test} {shown} for {line.patient_name}: the ordering clinician is alerted.",
                    duration=10_000,
                )
            )
        problem = await self._show()
        if problem is not None:
            events.append(problem)
        # The next row's input, if it is still on the page; else the first input left.
        target = line.next_input
        if not target or target not in {x.input_id for x in self.rows if x.enterable}:
            target = next((x.input_id for x in self.rows if x.enterable), "")
        if target:
            events.append(focus(target))
        return events

    @rx.event
    @requires(WORK)
    async def enter(self, form: dict):
        """Enter pressed in a row's input (a number or text): save it and move on. The row's form
        carries its order id in a hidden field."""
        if not isinstance(form, dict):
            return rx.toast.error("This result could not be read; enter it again.")
        return await self._enter(form.get("order_id"), form.get("value", ""))

    @rx.event
    @requires(WORK)
    async def choose(self, order_id: int, value: str):
        """A coded result chosen from its list: saved at once, like Enter."""
        return await self._enter(order_id, value)

    # ------------------------------------------------------------------ verification

    @rx.event
    @requires(VERIFY)
    async def tick(self, result_id: int, checked: bool):
        try:
            wanted = browser_id(result_id, "result")
        except ValidationError as error:
            return rx.toast.error(str(error))
        if wanted not in self.selectable_ids:
            return rx.toast.error("That result is no longer waiting for verification.")
        others = [x for x in self.selected if x != wanted]
        self.selected = [*others, wanted] if checked is True else others
        return None

    @rx.event
    @requires(VERIFY)
    async def tick_all(self, checked: bool):
        self.selected = list(self.selectable_ids) if checked is True else []

    @rx.event
    @requires(VERIFY)
    async def verify(self):
        if self.verifying:
            return
        chosen = [x for x in self.selected if x in self.selectable_ids]
        if not chosen:
            yield rx.toast.error("Tick the results to verify first.")
            return
        self.verifying = True
        yield
        try:
            count = await self._run(verify_results, result_ids=chosen)
        except DomainError as error:
            self.verifying = False
            yield rx.toast.error(str(error), duration=10_000)
            return
        self.verifying, self.selected = False, []
        yield rx.toast.success(f"{count} {'result' if count == 1 else 'results'} verified and released.")
        yield await self._show()
