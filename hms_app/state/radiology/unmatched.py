"""The unmatched images (/radiology/unmatched): DICOM studies storage set aside because their
accession or patient matched no order, one row per study, newest first, one SQL page at a time; a
person files a study to the order they confirm (typing its accession, then seeing that order's
patient and examination) or discards it with a reason. The list follows the live topic "imaging"
(its "unmatched" key): an image set aside, filed or discarded anywhere refreshes every open list.

Every handler needs ``imaging.catalogue`` on the server; a study UID the browser sends is looked up
among the rows this tab shows, and the order filed to is the one the dialog showed, before the
service, which checks the permission and the study again, runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError, field_messages
from hms_app.services.radiology.common import CATALOGUE, TOPIC
from hms_app.services.radiology.unmatched import (
    UNMATCHED_KEY,
    FilingTarget,
    UnmatchedStudy,
    discard_study,
    file_study,
    order_for_filing,
    unmatched_page,
)
from hms_app.services.radiology.worklist import STATUS_LABELS
from hms_app.state.boards.common import WATCH_REASON, now_label, shared_read
from hms_app.state.forms import form_text
from hms_app.state.laboratory.common import moment_label
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, pages_for, public, requires, turn_page

PAGE_SIZE = 50
FILE_FIELDS = ("accession",)
DISCARD_FIELDS = ("reason",)
GONE = "That study is no longer in this list: it was filed or discarded."


@dataclass(frozen=True)
class UnmatchedLine:
    """One study's unmatched images as the list shows them."""

    study_uid: str = ""
    study_short: str = ""  # "…7820212814": the UID's end, enough to tell two rows apart
    patient_name: str = ""  # what the file says
    patient_key: str = ""  # the file's PatientID
    several_patients: bool = False  # its files carry more than one PatientID
    accession: str = ""
    modalities: str = ""  # "CT · MR"
    images: int = 0
    received: str = ""
    received_from: str = ""
    reason: str = ""  # the first UNMATCHED_REASONS key (its colour)
    reason_label: str = ""


@dataclass(frozen=True)
class Target:
    """The order a study would be filed to, shown before the person confirms."""

    order_id: int = 0
    accession: str = ""
    patient_name: str = ""
    mrn: str = ""
    born: str = ""  # "14 Mar 1968 · female"
    procedure: str = ""
    modality: str = ""
    status_label: str = ""
    ordered: str = ""


def _line(row: UnmatchedStudy) -> UnmatchedLine:
    return UnmatchedLine(
        study_uid=row.study_uid,
        study_short="…" + row.study_uid[-10:] if len(row.study_uid) > 12 else row.study_uid,
        patient_name=row.patient_name,
        patient_key=row.patient_key,
        several_patients=row.patient_keys > 1,
        accession=row.accession,
        modalities=" · ".join(row.modalities),
        images=row.images,
        received=moment_label(row.received_at),
        received_from=row.received_from,
        reason=row.reasons[0] if row.reasons else "",
        reason_label=row.reason_label,
    )


def _target(found: FilingTarget) -> Target:
    born = found.birth_date
    return Target(
        order_id=found.order_id,
        accession=found.accession,
        patient_name=found.patient_name,
        mrn=found.mrn,
        born=f"{born.day} {born.strftime('%b %Y')} · {found.sex}",
        procedure=found.procedure,
        modality=found.modality,
        status_label=STATUS_LABELS.get(found.status, found.status),
        ordered=moment_label(found.ordered_at),
    )


class RadiologyUnmatchedState(SessionState):
    """One page of the unmatched studies, and the file and discard dialogs."""

    rows: list[UnmatchedLine] = []
    total: int = 0  # open studies
    images: int = 0  # open images
    page: int = 1
    loaded: bool = False
    version: int = 0
    updated_at: str = ""
    # The "File to order" dialog: the study, then the order found by its accession.
    filing: UnmatchedLine = UnmatchedLine()
    file_open: bool = False
    target: Target = Target()
    file_errors: dict[str, str] = {}
    file_error: str = ""
    filing_busy: bool = False
    # The "Discard" dialog.
    discarding: UnmatchedLine = UnmatchedLine()
    discard_open: bool = False
    discard_errors: dict[str, str] = {}
    discard_error: str = ""

    _opened: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self, *, shared: bool = False) -> None:
        arguments = {"page": self.page - 1, "page_size": PAGE_SIZE}
        if shared:
            key = ("radiology-unmatched", self.page)
            answer = await shared_read(key, unmatched_page, actor=self.acting(), **arguments)
        else:
            answer = await self._read(unmatched_page, **arguments)
        if self.page > pages_for(answer.total, PAGE_SIZE):  # the list shrank under this page
            self.page = pages_for(answer.total, PAGE_SIZE)
            answer = await self._read(unmatched_page, page=self.page - 1, page_size=PAGE_SIZE)
        self.rows, self.total, self.images = [_line(r) for r in answer.rows], answer.total, answer.images
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

    def _shown(self, study_uid) -> UnmatchedLine:
        line = None
        if isinstance(study_uid, str):
            line = next((x for x in self.rows if x.study_uid == study_uid), None)
        if line is None:
            raise ValidationError(GONE)
        return line

    @rx.event
    @requires(CATALOGUE)
    async def load(self):
        self.page = 1
        self._close_file()
        self._close_discard()
        return await self._show()

    @rx.event
    @requires(CATALOGUE)
    async def refresh(self):
        """Reload what this tab shows (a live change); never before the tab has opened the list."""
        if not self._opened:
            return None
        return await self._show(shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, TOPIC, (UNMATCHED_KEY,), permission=CATALOGUE):
            yield RadiologyUnmatchedState.refresh

    @rx.event
    @requires(CATALOGUE)
    async def move(self, step: int):
        try:
            return await turn_page(self, "page", step, self.page_count, self._reload)
        except DomainError as error:
            return rx.toast.error(str(error))

    # ------------------------------------------------------------------ file to an order

    def _close_file(self) -> None:
        self.file_open, self.filing, self.target = False, UnmatchedLine(), Target()
        self.file_errors, self.file_error, self.filing_busy = {}, "", False

    @rx.event
    @requires(CATALOGUE)
    async def open_file(self, study_uid: str):
        try:
            line = self._shown(study_uid)
        except ValidationError as error:
            return rx.toast.error(str(error))
        self._close_discard()
        self._close_file()
        self.filing, self.file_open = line, True
        return None

    @rx.event
    @requires(CATALOGUE)
    async def on_file_change(self, is_open: bool):
        if not is_open:
            self._close_file()

    @rx.event
    @requires(CATALOGUE)
    async def find_order(self, form: dict):
        """The order of the accession typed, shown for the person to check before filing."""
        if not self.filing.study_uid:
            return None
        self.target, self.file_errors, self.file_error = Target(), {}, ""
        try:
            accession = form_text(form, "accession", limit=40, label="accession number")
            found = await self._read(order_for_filing, accession=accession)
        except DomainError as error:
            shown = field_messages(error, FILE_FIELDS)
            self.file_error, self.file_errors = shown.pop("", ""), shown
            return None
        self.target = _target(found)
        return None

    @rx.event
    @requires(CATALOGUE)
    async def confirm_file(self):
        """File the study to the order the dialog shows (never an accession sent with the click)."""
        line, target = self.filing, self.target
        if not line.study_uid or not target.accession or self.filing_busy:
            return
        self.filing_busy = True
        yield
        try:
            filed = await self._run(file_study, study_uid=line.study_uid, accession=target.accession)
        except DomainError as error:
            self.filing_busy = False
            shown = field_messages(error, FILE_FIELDS)
            self.file_error, self.file_errors = shown.pop("", ""), shown
            yield await self._show()
            return
        self._close_file()
        yield rx.toast.success(
            f"{filed.images} image{'s' if filed.images != 1 else ''} filed to {filed.accession}: "
            f"{filed.patient_name} ({filed.mrn})."
        )
        yield await self._show()

    # ------------------------------------------------------------------ discard

    def _close_discard(self) -> None:
        self.discard_open, self.discarding, self.discard_errors, self.discard_error = (
            False,
            UnmatchedLine(),
            {},
            "",
        )

    @rx.event
    @requires(CATALOGUE)
    async def open_discard(self, study_uid: str):
        try:
            line = self._shown(study_uid)
        except ValidationError as error:
            return rx.toast.error(str(error))
        self._close_file()
        self._close_discard()
        self.discarding, self.discard_open = line, True
        return None

    @rx.event
    @requires(CATALOGUE)
    async def on_discard_change(self, is_open: bool):
        if not is_open:
            self._close_discard()

    @rx.event
    @requires(CATALOGUE)
    async def submit_discard(self, form: dict):
        line = self.discarding
        if not line.study_uid:
            return None
        try:
            reason = form_text(form, "reason", limit=300, label="reason")
            count = await self._run(discard_study, study_uid=line.study_uid, reason=reason)
        except DomainError as error:
            shown = field_messages(error, DISCARD_FIELDS)
            self.discard_error, self.discard_errors = shown.pop("", ""), shown
            return None
        self._close_discard()
        message = f"{count} image{'s' if count != 1 else ''} of {line.patient_name or 'the study'} discarded."
        problem = await self._show()
        return [rx.toast.success(message), problem] if problem else rx.toast.success(message)
