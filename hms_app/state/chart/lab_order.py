"""Ordering laboratory tests from the chart, and cancelling an open order.

The order dialog searches the orderable tests and panels as the physician types, keeps the ones
picked, and sends them with the priority, the clinical question and fasting to ``place_order``.
When some test was already ordered for this patient within its duplicate window the service
refuses with the list of duplicates; the dialog shows it, and only an explicit "Order anyway" (for
exactly the tests warned about) orders them again. Every handler needs ``lab.order`` on the server;
the button is only drawn for roles that have it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.plurals import counted
from hms_app.services.laboratory.catalogue import orderable_tests
from hms_app.services.laboratory.orders import MAX_TESTS, DuplicateOrderWarning, cancel_order, place_order
from hms_app.services.laboratory.rows import TestChoice
from hms_app.state.chart.lab_results import ChartLabResultsState
from hms_app.state.chart.page import ChartState
from hms_app.state.forms import form_text, value_text
from hms_app.state.laboratory.common import PRIORITY_LABELS
from hms_app.state.session import browser_id, requires

ORDER = "lab.order"
MAX_QUESTION = 300
MAX_QUERY = 60
SEARCH_LIMIT = 12
ORDER_FIELDS = ("test_ids", "priority", "clinical_question")
ORDER_TOAST = "chart-lab-order"


@dataclass(frozen=True)
class Orderable:
    id: int = 0
    code: str = ""
    name: str = ""
    short_name: str = ""
    is_panel: bool = False
    detail: str = ""  # "Panel of 7 tests" or "Serum · Gold SST"


def _orderable(choice: TestChoice) -> Orderable:
    if choice.is_panel:
        detail = f"Panel of {counted(choice.members, 'test')}"
    else:
        detail = f"{choice.specimen_type} · {choice.container}"
    return Orderable(choice.id, choice.code, choice.name, choice.short_name, choice.is_panel, detail)


class ChartLabOrderState(ChartState):
    """The order dialog and the cancel dialog of the Results tab."""

    TAB: ClassVar[str] = "results"

    order_open: bool = False
    query: str = ""
    hits: list[Orderable] = []
    searching: bool = False
    picked: list[Orderable] = []
    priority: str = "routine"
    warnings: list[str] = []  # duplicates the service found; "Order anyway" confirms exactly these
    error_field: str = ""
    error_text: str = ""
    ordering: bool = False
    order_form_key: int = 0  # a fresh form (question, fasting) each time the dialog opens
    # The cancel dialog.
    cancel_open: bool = False
    cancel_subject: str = ""
    cancel_error: str = ""
    cancelling: bool = False

    _warned_for: tuple[int, ...] = ()  # the picked tests the duplicate warning was about
    _cancel_id: int = 0

    @rx.var
    def picked_ids(self) -> list[int]:
        return [p.id for p in self.picked]

    def _clear_error(self) -> None:
        self.error_field, self.error_text = "", ""

    def _fail(self, error: DomainError) -> None:
        self.error_text = str(error)
        self.error_field = error.field if error.field in ORDER_FIELDS else ""

    def _forget_warning(self) -> None:
        self.warnings, self._warned_for = [], ()

    async def _search(self) -> None:
        self.searching = True
        try:
            found = await self._read(orderable_tests, query=self.query.strip(), limit=SEARCH_LIMIT)
        finally:
            self.searching = False
        self.hits = [_orderable(choice) for choice in found]

    # ------------------------------------------------------------------ the order dialog

    @rx.event
    @requires(ORDER)
    async def open_order(self):
        if not self.pid:
            return None
        self.order_open, self.query, self.picked, self.priority = True, "", [], "routine"
        self._forget_warning()
        self._clear_error()
        self.ordering = False
        self.order_form_key += 1
        try:
            await self._search()
        except DomainError as error:
            return rx.toast.error(str(error), id=ORDER_TOAST)
        return rx.set_focus("lab-order-search")

    @rx.event
    @requires(ORDER)
    async def on_order_dialog_change(self, is_open: bool):
        if not is_open:
            self.order_open, self.ordering = False, False
            self._forget_warning()

    @rx.event
    @requires(ORDER)
    async def search(self, query: str):
        try:
            # Kept as typed: the box is bound to it, and a stripped value would eat the space between words.
            self.query = value_text(query, "query", limit=MAX_QUERY, label="search")
            await self._search()
        except DomainError as error:
            return rx.toast.error(str(error), id=ORDER_TOAST)
        return None

    @rx.event
    @requires(ORDER)
    async def pick(self, test_id: int):
        try:
            wanted = browser_id(test_id, "test")
        except ValidationError as error:
            return rx.toast.error(str(error), id=ORDER_TOAST)
        hit = next((h for h in self.hits if h.id == wanted), None)
        if hit is None:
            return rx.toast.error("Choose a test from the search results.", id=ORDER_TOAST)
        if any(p.id == hit.id for p in self.picked):
            return None
        if len(self.picked) >= MAX_TESTS:
            return rx.toast.error(f"Choose at most {MAX_TESTS} tests at once.", id=ORDER_TOAST)
        self.picked = [*self.picked, hit]
        self._forget_warning()
        if self.error_field == "test_ids":
            self._clear_error()
        return None

    @rx.event
    @requires(ORDER)
    async def unpick(self, test_id: int):
        try:
            wanted = browser_id(test_id, "test")
        except ValidationError as error:
            return rx.toast.error(str(error), id=ORDER_TOAST)
        self.picked = [p for p in self.picked if p.id != wanted]
        self._forget_warning()
        return None

    @rx.event
    @requires(ORDER)
    async def set_priority(self, priority: str):
        if not isinstance(priority, str) or priority not in PRIORITY_LABELS:
            self.error_field, self.error_text = "priority", "Choose routine, urgent or STAT."
            return rx.toast.error("Choose routine, urgent or STAT.", id=ORDER_TOAST)
        self.priority = priority
        if self.error_field == "priority":
            self._clear_error()
        return None

    @rx.event
    @requires(ORDER)
    async def submit_order(self, form: dict):
        """Order the picked tests; ``form`` holds the clinical question, fasting and, once the
        duplicates were shown, the physician's "Order anyway"."""
        if not self.pid or not self.order_open:
            return
        self._clear_error()
        ids = [p.id for p in self.picked]
        try:
            if not ids:
                raise ValidationError("Choose at least one test.", field="test_ids")
            if self.priority not in PRIORITY_LABELS:
                raise ValidationError("Choose routine, urgent or STAT.", field="priority")
            question = form_text(form, "clinical_question", label="clinical question").strip()
            if len(question) > MAX_QUESTION:
                raise ValidationError(
                    f"The clinical question can be at most {MAX_QUESTION} characters.",
                    field="clinical_question",
                )
            fasting = form_text(form, "fasting", limit=10) == "on"
            # "Order anyway" confirms the duplicates shown, for the tests they were shown for.
            confirmed = form_text(form, "confirm", limit=10) == "yes" and self._warned_for == tuple(ids)
        except DomainError as error:
            self._fail(error)
            return
        self.ordering = True
        yield
        try:
            placed = await self._run(
                place_order,
                patient_id=self.pid,
                test_ids=ids,
                priority=self.priority,
                clinical_question=question,
                fasting=fasting,
                confirm_duplicates=confirmed,
            )
        except DuplicateOrderWarning as warning:
            self.ordering = False
            self.warnings, self._warned_for = list(warning.warnings), tuple(ids)
            return
        except DomainError as error:
            self.ordering = False
            self._fail(error)
            return
        self.order_open, self.ordering = False, False
        self._forget_warning()
        label = PRIORITY_LABELS.get(self.priority, self.priority)
        specimens = counted(len(placed.specimen_ids), "specimen")
        yield rx.toast.success(
            f"Ordered {placed.reference} ({label}): {specimens} to collect.", id=ORDER_TOAST
        )
        results = await self.get_state(ChartLabResultsState)
        if results.lab_loaded and not results.lab_forbidden:
            yield await results._refresh_lab()

    # ------------------------------------------------------------------ cancelling an order

    @rx.event
    @requires(ORDER)
    async def ask_cancel(self, order_id: int):
        try:
            wanted = browser_id(order_id, "order")
        except ValidationError as error:
            return rx.toast.error(str(error), id=ORDER_TOAST)
        results = await self.get_state(ChartLabResultsState)
        line = next((o for o in results.orders if o.order_id == wanted and o.cancellable), None)
        if line is None:
            return rx.toast.error(
                "That order is not open on this chart any more. Reload the tab.", id=ORDER_TOAST
            )
        self._cancel_id = line.order_id
        self.cancel_subject = f"{line.test} ({line.reference})"
        self.cancel_open, self.cancel_error, self.cancelling = True, "", False
        return None

    @rx.event
    @requires(ORDER)
    async def on_cancel_dialog_change(self, is_open: bool):
        if not is_open:
            self.cancel_open, self._cancel_id, self.cancel_error = False, 0, ""

    @rx.event
    @requires(ORDER)
    async def submit_cancel(self, form: dict):
        if not self.cancel_open or not self._cancel_id:
            self.cancel_open = False
            return
        try:
            reason = form_text(form, "reason", label="reason").strip()
            if not reason:
                raise ValidationError("Say why the order is cancelled.", field="reason")
        except DomainError as error:
            self.cancel_error = str(error)
            return
        self.cancelling = True
        yield
        try:
            await self._run(cancel_order, order_id=self._cancel_id, reason=reason)
        except DomainError as error:
            self.cancelling, self.cancel_error = False, str(error)
            return
        subject = self.cancel_subject
        self.cancel_open, self.cancelling, self._cancel_id = False, False, 0
        yield rx.toast.success(f"Cancelled {subject}: {reason}", id=ORDER_TOAST)
        results = await self.get_state(ChartLabResultsState)
        yield await results._refresh_lab()
