"""The modality work list (/radiology): imaging orders filtered by modality and status (every open
order by default), STAT first then by booked time, searched by patient, MRN, accession or
examination, one SQL page at a time; the radiographer marks a scheduled patient arrived and starts
the exam. The list follows the live topic "imaging": an order placed, booked, moved, arrived,
started, imaged or reported anywhere refreshes every open work list within the notice's delay.

Every handler needs ``radiology.work`` on the server; an order id the browser sends is looked up
among the rows this tab shows (and must be at the step the button stands for) before the service,
which checks the permission and the step again, runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.radiology.common import TOPIC, WORK
from hms_app.services.radiology.worklist import (
    MODALITIES,
    PRIORITIES,
    STATUS_LABELS,
    WorkRow,
    mark_arrived,
    start_exam,
    worklist,
)
from hms_app.state.boards.common import WATCH_REASON, now_label, shared_read
from hms_app.state.forms import value_text
from hms_app.state.laboratory.common import moment_label
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, pages_for, public, requires, turn_page

PAGE_SIZE = 50
ALL = "all"  # every modality / every open status
OPEN = "open"
MODALITY_CHOICES = {ALL: "Every modality", **{m: f"{m} · {MODALITIES[m]}" for m in ("CR", "CT", "MR", "US")}}
STATUS_CHOICES = {
    OPEN: "Every open order",
    **{s: STATUS_LABELS[s] for s in ("requested", "scheduled", "arrived", "in_progress", "images_received")},
    **{s: STATUS_LABELS[s] for s in ("preliminary", "final", "cancelled")},
}
# Which step a row offers: the button a radiographer presses next.
NEXT_STEP = {"scheduled": "arrive", "arrived": "start"}


@dataclass(frozen=True)
class WorkLine:
    """One order as the work list shows it."""

    order_id: int = 0
    accession: str = ""
    patient_id: int = 0
    patient_name: str = ""
    mrn: str = ""
    procedure: str = ""
    procedure_code: str = ""
    modality: str = ""
    contrast: bool = False
    priority: str = "routine"
    priority_label: str = ""
    stat: bool = False
    status: str = ""
    status_label: str = ""
    question: str = ""
    ordered: str = ""
    ordered_by: str = ""
    scheduled: str = ""  # "09:15" today, "3 Dec 09:15" another day, "" not booked
    scanner: str = ""
    flags: list[str] = field(default_factory=list)
    step: str = ""  # arrive | start | "" (nothing for the radiographer to press)
    report: bool = False  # the images are in: the report screen is where it goes next


def _line(row: WorkRow) -> WorkLine:
    return WorkLine(
        order_id=row.id,
        accession=row.accession,
        patient_id=row.patient_id,
        patient_name=row.patient_name,
        mrn=row.mrn,
        procedure=row.procedure,
        procedure_code=row.procedure_code,
        modality=row.modality,
        contrast=row.contrast,
        priority=row.priority,
        priority_label=PRIORITIES.get(row.priority, row.priority),
        stat=row.priority == "stat",
        status=row.status,
        status_label=STATUS_LABELS.get(row.status, row.status),
        question=row.clinical_question,
        ordered=moment_label(row.ordered_at),
        ordered_by=row.ordered_by,
        scheduled=moment_label(row.scheduled_at),
        scanner=row.scanner,
        flags=list(row.flags),
        step=NEXT_STEP.get(row.status, ""),
        report=row.status in ("in_progress", "images_received", "preliminary"),
    )


class RadiologyWorklistState(SessionState):
    """One page of the work list, its filters and the counts of each step."""

    modality: str = ALL
    status: str = OPEN
    query: str = ""
    rows: list[WorkLine] = []
    total: int = 0
    page: int = 1
    counts: dict[str, int] = {}
    loaded: bool = False
    version: int = 0
    updated_at: str = ""
    busy: int = 0  # the order whose step is being recorded (its button spins)

    _opened: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    def _arguments(self) -> dict:
        return {
            "modality": "" if self.modality == ALL else self.modality,
            "status": "" if self.status == OPEN else self.status,
            "query": self.query,
            "page": self.page - 1,
            "page_size": PAGE_SIZE,
        }

    async def _reload(self, *, shared: bool = False) -> None:
        arguments = self._arguments()
        if shared:
            key = ("radiology-worklist", *arguments.values())
            answer = await shared_read(key, worklist, actor=self.acting(), **arguments)
        else:
            answer = await self._read(worklist, **arguments)
        if self.page > pages_for(answer.total, PAGE_SIZE):  # the list shrank under this page
            self.page = pages_for(answer.total, PAGE_SIZE)
            answer = await self._read(worklist, **self._arguments())
        self.rows, self.total = [_line(row) for row in answer.rows], answer.total
        self.counts = dict(answer.counts)
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
    @requires(WORK)
    async def load(self):
        query = self.router.url.query_parameters if self.router else {}
        wanted = query.get("modality", "")
        if isinstance(wanted, str) and wanted in MODALITY_CHOICES:
            self.modality = wanted
        self.page, self.busy = 1, 0
        return await self._show()

    @rx.event
    @requires(WORK)
    async def refresh(self):
        """Reload what this tab shows (a live change); never before the tab has opened the list."""
        if not self._opened:
            return None
        return await self._show(shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, TOPIC, permission=WORK):
            yield RadiologyWorklistState.refresh

    @rx.event
    @requires(WORK)
    async def set_modality(self, modality: str):
        if not isinstance(modality, str) or modality not in MODALITY_CHOICES:
            return rx.toast.error("Choose a modality from the list.")
        self.modality, self.page = modality, 1
        return await self._show()

    @rx.event
    @requires(WORK)
    async def set_status(self, status: str | list[str]):
        if not isinstance(status, str) or status not in STATUS_CHOICES:
            return rx.toast.error("Choose a status from the list.")
        self.status, self.page = status, 1
        return await self._show()

    @rx.event
    @requires(WORK)
    async def search(self, query: str):
        try:
            text = value_text(query, "query", limit=60, label="search")
        except ValidationError as error:
            return rx.toast.error(str(error))
        self.query, self.page = " ".join(text.split()), 1
        return await self._show()

    @rx.event
    @requires(WORK)
    async def move(self, step: int):
        try:
            return await turn_page(self, "page", step, self.page_count, self._reload)
        except DomainError as error:
            return rx.toast.error(str(error))

    # ------------------------------------------------------------------ the radiographer's steps

    def _shown(self, order_id, step: str) -> WorkLine:
        wanted = browser_id(order_id, "order")
        line = next((x for x in self.rows if x.order_id == wanted), None)
        if line is None or line.step != step:
            raise ValidationError("That order is no longer at this step here: the list has moved on.")
        return line

    async def _do(self, order_id, step: str):
        try:
            line = self._shown(order_id, step)
        except ValidationError as error:
            yield rx.toast.error(str(error))
            return
        self.busy = line.order_id
        yield
        service = mark_arrived if step == "arrive" else start_exam
        try:
            await self._run(service, order_id=line.order_id)
        except DomainError as error:
            self.busy = 0
            yield rx.toast.error(str(error))
            yield await self._show()
            return
        self.busy = 0
        done = "arrived" if step == "arrive" else "on the scanner"
        yield rx.toast.success(f"{line.patient_name} ({line.accession}) {done}.")
        yield await self._show()

    @rx.event
    @requires(WORK)
    async def arrive(self, order_id: int):
        async for event in self._do(order_id, "arrive"):
            yield event

    @rx.event
    @requires(WORK)
    async def start(self, order_id: int):
        async for event in self._do(order_id, "start"):
            yield event
