"""The chart's Imaging tab: the patient's imaging orders (status, booked time, safety flags and, once
signed, the report's impression), the "Order imaging" dialog and the booking and cancel dialogs.

The order dialog searches the catalogue as one types; choosing an examination reads the safety
questions it asks of this patient (pregnancy, implants for MR, contrast allergy with the chart's
contrast allergies and the latest eGFR) and shows only those; the service checks every answer
again and its field messages are shown under each question. Once placed, the dialog turns to the
scanner's free times: choosing one books it (or "Book later" leaves the order requested).

Everything is read when the tab is first shown (each read is audited). Ids the browser sends back
(an examination, an order, a free time) are looked up among what this tab shows; the services check
the permission and the patient again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import reflex as rx

from hms_app.errors import DomainError, InvalidFields, ValidationError
from hms_app.services.radiology.catalogue import ProcedureChoice, search_procedures
from hms_app.services.radiology.orders import (
    MAX_IMPLANTS,
    MAX_NOTE,
    MAX_QUESTION,
    PREGNANCY_ANSWERS,
    ChartImagingRow,
    cancel_order,
    patient_orders,
    place_order,
    safety_questions,
)
from hms_app.services.radiology.schedule import free_slots, schedule_order
from hms_app.services.radiology.worklist import PRIORITIES, STATUS_LABELS
from hms_app.state.chart.page import ChartState
from hms_app.state.forms import form_text, value_text
from hms_app.state.laboratory.common import moment_label
from hms_app.state.session import browser_id, requires

__all__ = ["MAX_IMPLANTS", "MAX_NOTE", "MAX_QUESTION", "PREGNANCY_ANSWERS"]

READ = "imaging.read"
ORDER = "imaging.order"
TOAST = "chart-imaging"
SEARCH_LIMIT = 12
FIELDS = (
    "procedure_id",
    "priority",
    "clinical_question",
    "pregnancy",
    "implants",
    "contrast_allergy",
    "safety_note",
    "reason",
    "start_at",
)
BOOKABLE = ("requested", "scheduled")
CANCELLABLE = ("requested", "scheduled", "arrived")


@dataclass(frozen=True)
class ImagingLine:
    id: int = 0
    accession: str = ""
    procedure: str = ""
    modality: str = ""
    priority: str = "routine"
    priority_label: str = ""
    status: str = ""
    status_label: str = ""
    question: str = ""
    ordered: str = ""
    ordered_by: str = ""
    scheduled: str = ""
    cancel_reason: str = ""
    report_status: str = ""  # "" | preliminary | final
    impression: str = ""
    flags: list[str] = field(default_factory=list)
    bookable: bool = False
    cancellable: bool = False


@dataclass(frozen=True)
class ProcedureHit:
    id: int = 0
    code: str = ""
    name: str = ""
    modality: str = ""
    detail: str = ""  # "CT · Computed tomography · with contrast"
    preparation: str = ""


@dataclass(frozen=True)
class SlotLine:
    key: str = ""  # the start time (ISO) and scanner: what the browser sends back
    label: str = ""
    scanner: str = ""
    day: str = ""


def _line(row: ChartImagingRow) -> ImagingLine:
    return ImagingLine(
        id=row.id,
        accession=row.accession,
        procedure=row.procedure,
        modality=row.modality,
        priority=row.priority,
        priority_label=PRIORITIES.get(row.priority, row.priority),
        status=row.status,
        status_label=STATUS_LABELS.get(row.status, row.status),
        question=row.clinical_question,
        ordered=moment_label(row.ordered_at),
        ordered_by=row.ordered_by,
        scheduled=moment_label(row.scheduled_at),
        cancel_reason=row.cancel_reason,
        report_status=row.report_status,
        impression=row.impression,
        flags=list(row.flags),
        bookable=row.status in BOOKABLE,
        cancellable=row.status in CANCELLABLE,
    )


def _hit(choice: ProcedureChoice) -> ProcedureHit:
    detail = f"{choice.modality} · {choice.modality_label}" + (" · with contrast" if choice.contrast else "")
    return ProcedureHit(choice.id, choice.code, choice.name, choice.modality, detail, choice.preparation)


class ChartImagingState(ChartState):
    """What the Imaging tab lists."""

    TAB: ClassVar[str] = "imaging"

    imaging_loaded: bool = False
    imaging_loading: bool = False
    imaging_forbidden: bool = False
    imaging: list[ImagingLine] = []

    async def _open(self):
        return None if self.imaging_loaded else await self._load_imaging()

    async def _load_imaging(self):
        if not self.acting().can(READ):
            self.imaging_forbidden, self.imaging_loaded = True, True
            return None
        self.imaging_loading = True
        try:
            rows = await self._read(patient_orders, patient_id=self.pid)
        except DomainError as error:
            return rx.toast.error(str(error), id=TOAST)
        finally:
            self.imaging_loading = False
        self.imaging, self.imaging_loaded = [_line(row) for row in rows], True
        return None

    @rx.event
    @requires(READ)
    async def reload_imaging(self):
        if not self.pid:
            return None
        return await self._load_imaging()


class ChartImagingOrderState(ChartState):
    """The order dialog (step "order", then "book"), and the cancel dialog."""

    TAB: ClassVar[str] = "imaging-dialogs"

    order_open: bool = False
    step: str = "order"  # order | book
    query: str = ""
    hits: list[ProcedureHit] = []
    searching: bool = False
    chosen: ProcedureHit = ProcedureHit()
    priority: str = "routine"
    # The questions the chosen examination asks of this patient.
    ask_pregnancy: bool = False
    ask_implants: bool = False
    ask_contrast: bool = False
    ionising: bool = False
    chart_allergies: list[str] = []
    egfr_text: str = ""
    egfr_level: str = ""  # "" | none | ok | warn | stop
    pregnancy: str = ""
    contrast_allergy: str = ""  # "" | yes | no
    errors: dict[str, str] = {}
    form_key: int = 0
    busy: bool = False
    # Booking: the order being booked and the scanner's free times.
    book_subject: str = ""
    slots: list[SlotLine] = []
    slots_loading: bool = False
    # Cancelling.
    cancel_open: bool = False
    cancel_subject: str = ""

    _order_id: int = 0  # the order being booked or cancelled
    _questions_for: int = 0  # the examination the questions were read for

    # ------------------------------------------------------------------ helpers

    def _fail(self, error: DomainError) -> None:
        if isinstance(error, InvalidFields):
            self.errors = {(k if k in FIELDS else ""): v for k, v in error.errors.items()}
        else:
            self.errors = {(error.field if error.field in FIELDS else ""): str(error)}

    async def _search(self) -> None:
        self.searching = True
        try:
            found = await self._read(search_procedures, query=self.query.strip(), limit=SEARCH_LIMIT)
        finally:
            self.searching = False
        self.hits = [_hit(choice) for choice in found]

    async def _tab_reload(self):
        tab = await self.get_state(ChartImagingState)
        if tab.imaging_loaded and not tab.imaging_forbidden:
            return await tab._load_imaging()
        return None

    def _reset_questions(self) -> None:
        self.ask_pregnancy = self.ask_implants = self.ask_contrast = self.ionising = False
        self.chart_allergies, self.egfr_text, self.egfr_level = [], "", ""
        self.pregnancy, self.contrast_allergy, self._questions_for = "", "", 0

    # ------------------------------------------------------------------ the order dialog

    @rx.event
    @requires(ORDER)
    async def open_order(self):
        if not self.pid:
            return None
        self.order_open, self.step, self.query, self.priority = True, "order", "", "routine"
        self.chosen, self.errors, self.busy, self.slots = ProcedureHit(), {}, False, []
        self._reset_questions()
        self._order_id = 0
        self.form_key += 1
        try:
            await self._search()
        except DomainError as error:
            return rx.toast.error(str(error), id=TOAST)
        return rx.set_focus("imaging-order-search")

    @rx.event
    @requires(ORDER)
    async def on_order_dialog_change(self, is_open: bool):
        if not is_open:
            self.order_open, self.busy = False, False

    @rx.event
    @requires(ORDER)
    async def search(self, query: str):
        try:
            self.query = value_text(query, "query", limit=60, label="search")
            await self._search()
        except DomainError as error:
            return rx.toast.error(str(error), id=TOAST)
        return None

    @rx.event
    @requires(ORDER)
    async def choose(self, procedure_id: int):
        """An examination picked from the search: read which safety questions it asks."""
        try:
            wanted = browser_id(procedure_id, "examination")
            hit = next((h for h in self.hits if h.id == wanted), None)
            if hit is None:
                raise ValidationError("Choose an examination from the search results.", field="procedure_id")
            questions = await self._read(safety_questions, patient_id=self.pid, procedure_id=hit.id)
        except DomainError as error:
            self._fail(error)
            return None
        self.chosen, self.errors = hit, {}
        self._reset_questions()
        self.ask_pregnancy, self.ask_implants = questions.pregnancy, questions.implants
        self.ask_contrast, self.ionising = questions.contrast, questions.ionising
        self.chart_allergies = list(questions.chart_contrast_allergies)
        self.egfr_level = questions.egfr_level
        if questions.egfr is not None:
            self.egfr_text = f"{questions.egfr:g} mL/min/1.73 m² ({moment_label(questions.egfr_at)})"
        self._questions_for = hit.id
        return None

    @rx.event
    @requires(ORDER)
    async def set_priority(self, priority: str):
        if not isinstance(priority, str) or priority not in PRIORITIES:
            self.errors = {"priority": "Choose routine, urgent or STAT."}
            return None
        self.priority = priority
        self.errors = {k: v for k, v in self.errors.items() if k != "priority"}
        return None

    @rx.event
    @requires(ORDER)
    async def set_pregnancy(self, answer: str):
        if not isinstance(answer, str) or answer not in PREGNANCY_ANSWERS:
            return None
        self.pregnancy = answer
        self.errors = {k: v for k, v in self.errors.items() if k != "pregnancy"}
        return None

    @rx.event
    @requires(ORDER)
    async def set_contrast_allergy(self, answer: str):
        if answer not in ("yes", "no"):
            return None
        self.contrast_allergy = answer
        self.errors = {k: v for k, v in self.errors.items() if k != "contrast_allergy"}
        return None

    @rx.event
    @requires(ORDER)
    async def submit_order(self, form: dict):
        """Place the order with the form's clinical question, implants and safety note and the
        answers chosen; then offer the scanner's free times."""
        if not self.pid or not self.order_open or self.step != "order" or self.busy:
            return
        try:
            if not self.chosen.id or self._questions_for != self.chosen.id:
                raise ValidationError("Choose the examination first.", field="procedure_id")
            question = form_text(form, "clinical_question", limit=MAX_QUESTION * 2, label="clinical question")
            implants = form_text(form, "implants", limit=MAX_IMPLANTS * 2, label="implants")
            note = form_text(form, "safety_note", limit=MAX_NOTE * 2, label="safety note")
        except DomainError as error:
            self._fail(error)
            return
        self.busy, self.errors = True, {}
        yield
        try:
            placed = await self._run(
                place_order,
                patient_id=self.pid,
                procedure_id=self.chosen.id,
                priority=self.priority,
                clinical_question=question,
                pregnancy=self.pregnancy or None,
                implants=implants if self.ask_implants else None,
                contrast_allergy={"yes": True, "no": False}.get(self.contrast_allergy),
                safety_note=note,
            )
        except DomainError as error:
            self.busy = False
            self._fail(error)
            return
        self.busy = False
        yield rx.toast.success(f"Ordered {placed.procedure} ({placed.accession}).", id=TOAST)
        for warning in placed.warnings:
            yield rx.toast.warning(warning, duration=10_000)
        yield await self._tab_reload()
        self._order_id, self.book_subject = placed.id, f"{placed.procedure} ({placed.accession})"
        self.step = "book"
        yield await self._load_slots()

    # ------------------------------------------------------------------ booking a scanner

    async def _load_slots(self):
        self.slots_loading = True
        try:
            found = await self._read(free_slots, order_id=self._order_id, days=7, limit=40)
        except DomainError as error:
            self.slots = []
            self._fail(error)
            return None
        finally:
            self.slots_loading = False
        self.slots = [
            SlotLine(
                key=f"{s.start_at.isoformat()}|{s.resource_id}",
                label=s.label,
                scanner=s.scanner,
                day=s.label[:10],
            )
            for s in found
        ]
        return None

    @rx.event
    @requires(ORDER)
    async def open_booking(self, order_id: int):
        """Book (or move) an order listed on the tab."""
        try:
            wanted = browser_id(order_id, "order")
        except ValidationError as error:
            return rx.toast.error(str(error), id=TOAST)
        tab = await self.get_state(ChartImagingState)
        line = next((x for x in tab.imaging if x.id == wanted and x.bookable), None)
        if line is None:
            return rx.toast.error(
                "That order cannot be booked from this chart any more. Reload the tab.", id=TOAST
            )
        self._order_id, self.book_subject = line.id, f"{line.procedure} ({line.accession})"
        self.order_open, self.step, self.errors, self.busy, self.slots = True, "book", {}, False, []
        return await self._load_slots()

    @rx.event
    @requires(ORDER)
    async def book(self, key: str):
        if not self.order_open or self.step != "book" or not self._order_id or self.busy:
            return
        slot = next((s for s in self.slots if isinstance(key, str) and s.key == key), None)
        if slot is None:
            yield rx.toast.error("Choose one of the free times shown.", id=TOAST)
            return
        start_at, _, resource_id = slot.key.partition("|")
        self.busy, self.errors = True, {}
        yield
        try:
            booked = await self._run(
                schedule_order, order_id=self._order_id, start_at=start_at, resource_id=int(resource_id)
            )
        except DomainError as error:
            self.busy = False
            self._fail(error)
            yield await self._load_slots()
            return
        self.busy, self.order_open = False, False
        yield rx.toast.success(f"Booked {self.book_subject} on {booked.scanner}, {booked.label}.", id=TOAST)
        yield await self._tab_reload()

    # ------------------------------------------------------------------ cancelling

    @rx.event
    @requires(ORDER)
    async def ask_cancel(self, order_id: int):
        try:
            wanted = browser_id(order_id, "order")
        except ValidationError as error:
            return rx.toast.error(str(error), id=TOAST)
        tab = await self.get_state(ChartImagingState)
        line = next((x for x in tab.imaging if x.id == wanted and x.cancellable), None)
        if line is None:
            return rx.toast.error(
                "That order cannot be cancelled from this chart any more. Reload the tab.", id=TOAST
            )
        self._order_id, self.cancel_subject = line.id, f"{line.procedure} ({line.accession})"
        self.cancel_open, self.errors, self.busy = True, {}, False
        return None

    @rx.event
    @requires(ORDER)
    async def on_cancel_dialog_change(self, is_open: bool):
        if not is_open:
            self.cancel_open, self._order_id = False, 0

    @rx.event
    @requires(ORDER)
    async def submit_cancel(self, form: dict):
        if not self.cancel_open or not self._order_id or self.busy:
            self.cancel_open = False
            return
        try:
            reason = form_text(form, "reason", limit=600, label="reason").strip()
        except DomainError as error:
            self._fail(error)
            return
        self.busy = True
        yield
        try:
            await self._run(cancel_order, order_id=self._order_id, reason=reason)
        except DomainError as error:
            self.busy = False
            self._fail(error)
            return
        self.busy, self.cancel_open, self._order_id = False, False, 0
        yield rx.toast.success(f"Cancelled {self.cancel_subject}.", id=TOAST)
        yield await self._tab_reload()
