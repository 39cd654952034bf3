"""Specimen reception (/lab/reception): the scan box takes what a barcode scanner types (the
specimen's accession, ended by Enter) and receives the specimen (``receive_specimen``); below it the
specimens collected and not yet received (STAT first, then the oldest collection), and those
received or rejected today. A specimen that cannot be tested is rejected with a reason and a note
(``reject_specimen``), which asks the ward for a new sample.

The list follows the live topic "lab": a specimen collected on a ward appears here by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError, field_messages
from hms_app.services.laboratory.specimens import receive_specimen, reception_list, reject_specimen
from hms_app.services.laboratory.views import SpecimenPage, SpecimenRow
from hms_app.state.boards.common import WATCH_REASON, now_label, shared_read
from hms_app.state.forms import form_text, value_text
from hms_app.state.laboratory.common import (
    LIVE_LAB,
    PRIORITY_LABELS,
    REASON_LABELS,
    SPECIMEN_STATUS_LABELS,
    WORK,
    moment_label,
)
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, pages_for, public, requires, turn_page

PAGE_SIZE = 50
MAX_SCAN = 40
REJECT_FIELDS = ("reason", "note")


@dataclass(frozen=True)
class Reason:
    value: str = ""
    label: str = ""


@dataclass(frozen=True)
class SpecimenLine:
    id: int = 0
    accession: str = ""
    patient_name: str = ""
    mrn: str = ""
    specimen: str = ""  # "Serum · Gold SST"
    tests: str = ""
    priority: str = "routine"
    priority_label: str = ""
    stat: bool = False
    status: str = ""
    status_label: str = ""
    waiting: bool = False  # collected, not yet received
    collected: str = ""  # "09:12 by nurse.joy"
    handled: str = ""  # when it was received or rejected
    reason: str = ""
    reference: str = ""
    rejectable: bool = False


@dataclass(frozen=True)
class Scanned:
    """What the last scan did: shown under the scan box."""

    ok: bool = False
    accession: str = ""
    text: str = ""


def _line(row: SpecimenRow) -> SpecimenLine:
    collected = moment_label(row.collected_at)
    if collected and row.collected_by:
        collected += f" by {row.collected_by}"
    return SpecimenLine(
        id=row.id,
        accession=row.accession,
        patient_name=row.patient_name,
        mrn=row.mrn,
        specimen=f"{row.specimen_type} · {row.container}",
        tests=row.tests,
        priority=row.priority,
        priority_label=PRIORITY_LABELS.get(row.priority, row.priority),
        stat=row.priority == "stat",
        status=row.status,
        status_label=SPECIMEN_STATUS_LABELS.get(row.status, row.status),
        waiting=row.status == "collected",
        collected=collected,
        handled=moment_label(row.received_at) if row.status == "received" else "",
        reason=REASON_LABELS.get(row.rejection_reason, row.rejection_reason),
        reference=row.request_reference,
        rejectable=row.status in ("collected", "received"),
    )


def _lines(page: SpecimenPage) -> list[SpecimenLine]:
    # The service lists the waiting specimens STAT first, then by collection time, on every page.
    return [_line(row) for row in page.rows]


class ReceptionState(SessionState):
    """The scan box's last outcome, one page of the reception list and the rejection dialog."""

    rows: list[SpecimenLine] = []
    total: int = 0
    waiting_total: int = 0  # every specimen waiting for reception, not only this page's
    page: int = 1
    loaded: bool = False
    version: int = 0
    updated_at: str = ""
    last: Scanned = Scanned()
    received_here: int = 0  # specimens this tab has received since it opened
    reasons: list[Reason] = [Reason(value, label) for value, label in REASON_LABELS.items()]
    # The rejection dialog.
    rejecting: SpecimenLine = SpecimenLine()
    dialog_open: bool = False
    field_errors: dict[str, str] = {}
    form_error: str = ""

    _opened: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    @rx.var
    def waiting_rows(self) -> list[SpecimenLine]:
        return [line for line in self.rows if line.waiting]

    @rx.var
    def handled_rows(self) -> list[SpecimenLine]:
        return [line for line in self.rows if not line.waiting]

    async def _reload(self, *, shared: bool = False) -> None:
        arguments = {"page": self.page - 1, "page_size": PAGE_SIZE}
        if shared:
            key = ("lab-reception", self.page)
            answer = await shared_read(key, reception_list, actor=self.acting(), **arguments)
        else:
            answer = await self._read(reception_list, **arguments)
        self.rows, self.total, self.waiting_total = _lines(answer), answer.total, answer.waiting
        if self.page > self.page_count:
            self.page = self.page_count
            answer = await self._read(reception_list, page=self.page - 1, page_size=PAGE_SIZE)
            self.rows, self.total, self.waiting_total = _lines(answer), answer.total, answer.waiting
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
        self.page, self.dialog_open, self.last = 1, False, Scanned()
        return await self._show()

    @rx.event
    @requires(WORK)
    async def refresh(self):
        if not self._opened:
            return None
        return await self._show(shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, LIVE_LAB, permission=WORK):
            yield ReceptionState.refresh

    @rx.event
    @requires(WORK)
    async def move(self, step: int):
        try:
            return await turn_page(self, "page", step, self.page_count, self._reload)
        except DomainError as error:
            return rx.toast.error(str(error))

    @rx.event
    @requires(WORK)
    async def scan(self, form: dict):
        """One scan: the scanner typed the accession and Enter. The focus stays in the scan box."""
        raw = form.get("scan", "") if isinstance(form, dict) else None
        try:
            text = value_text(raw, "scan", limit=MAX_SCAN, label="scanned label").strip()
            if not text:
                return rx.set_focus("scan-box")
            row = await self._run(receive_specimen, scan=text)
        except DomainError as error:
            self.last = Scanned(False, str(raw or "").strip()[:MAX_SCAN].upper(), str(error))
            return [rx.toast.error(str(error), id="scan"), rx.set_focus("scan-box")]
        priority = "STAT · " if row.priority == "stat" else ""
        self.last = Scanned(
            True,
            row.accession,
            f"{priority}{row.patient_name} ({row.mrn}) · {row.specimen_type} · {row.tests}",
        )
        self.received_here += 1
        problem = await self._show()
        return [problem, rx.set_focus("scan-box")] if problem else rx.set_focus("scan-box")

    # ------------------------------------------------------------------ rejection

    @rx.event
    @requires(WORK)
    async def open_reject(self, specimen_id: int):
        try:
            wanted = browser_id(specimen_id, "specimen")
        except ValidationError as error:
            return rx.toast.error(str(error))
        line = next((x for x in self.rows if x.id == wanted and x.rejectable), None)
        if line is None:
            return rx.toast.error("That specimen can no longer be rejected here: the list has moved on.")
        self.rejecting, self.dialog_open, self.field_errors, self.form_error = line, True, {}, ""
        return None

    @rx.event
    @requires(WORK)
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self.dialog_open, self.rejecting, self.field_errors, self.form_error = (
                False,
                SpecimenLine(),
                {},
                "",
            )

    @rx.event
    @requires(WORK)
    async def submit_reject(self, form: dict):
        if not self.rejecting.id:
            return None
        try:
            reason = form_text(form, "reason", limit=20)
            if reason not in REASON_LABELS:
                raise ValidationError("Choose why the specimen is rejected.", field="reason")
            note = form_text(form, "note", limit=300, label="note").strip()
            replacement = await self._run(
                reject_specimen, specimen_id=self.rejecting.id, reason=reason, note=note
            )
        except DomainError as error:
            shown = field_messages(error, REJECT_FIELDS)
            self.form_error = shown.pop("", "")
            self.field_errors = shown
            return None
        rejected = self.rejecting.accession
        self.dialog_open, self.rejecting, self.field_errors, self.form_error = False, SpecimenLine(), {}, ""
        message = (
            f"{rejected} rejected ({REASON_LABELS[reason].lower()}): a new sample "
            f"{replacement.accession} is asked for from the ward."
        )
        problem = await self._show()
        return [rx.toast.success(message), problem] if problem else rx.toast.success(message)
