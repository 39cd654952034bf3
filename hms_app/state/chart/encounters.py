"""The chart's Encounters tab: one page of the timeline, and the SOAP notes of the encounter chosen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import reflex as rx

from hms_app import words
from hms_app.clock import format_local
from hms_app.errors import DomainError
from hms_app.services.emr import encounters as encounter_service
from hms_app.services.emr import notes as note_service
from hms_app.services.emr.chart import Chart
from hms_app.state.chart.dialogs import ChartDialogs
from hms_app.state.chart.page import PAGE_SIZE, ChartState
from hms_app.state.forms import form_fields, form_text
from hms_app.state.session import pages_for, requires, step_page

MAX_NOTE_TEXT = 20000  # a note's longest part: a longer one is refused before the service runs
ENCOUNTER_CLASS_CHOICES = tuple(
    (name, words.say(words.ENCOUNTER_CLASS, name)) for name in encounter_service.ENCOUNTER_CLASSES
)
# On a narrow screen the chosen encounter shows below the list: bring it into view once drawn, unless
# its top is already in view below the sticky banner (its scroll margin).
SHOW_DETAIL = rx.call_script("""
setTimeout(() => {
  const el = document.getElementById("encounter-detail");
  if (!el) return;
  const top = el.getBoundingClientRect().top;
  const margin = parseFloat(getComputedStyle(el).scrollMarginTop) || 0;
  if (top < margin || top > window.innerHeight * 0.6) el.scrollIntoView();
}, 150)
""")


@dataclass
class EncounterLine:
    id: int = 0
    encounter_class: str = ""
    class_label: str = ""  # the class in words ("Outpatient visit")
    status: str = ""
    start: str = ""
    end: str = ""
    reason: str = ""
    clinician: str = ""
    notes: int = 0
    signed: int = 0


@dataclass
class NoteLine:
    id: int = 0
    status: str = ""
    subjective: str = ""
    objective: str = ""
    assessment: str = ""
    plan: str = ""
    author: str = ""
    created: str = ""
    signed_at: str = ""
    signed_by: str = ""
    amends_id: int = 0
    amended_by_id: int = 0


def _encounter_line(row: encounter_service.TimelineRow) -> EncounterLine:
    return EncounterLine(
        row.id,
        row.encounter_class,
        words.say(words.ENCOUNTER_CLASS, row.encounter_class),
        row.status,
        format_local(row.start_at),
        format_local(row.end_at),
        row.reason,
        row.practitioner,
        row.notes,
        row.signed_notes,
    )


def _note_line(note: note_service.NoteView) -> NoteLine:
    return NoteLine(
        note.id,
        note.status,
        note.subjective,
        note.objective,
        note.assessment,
        note.plan,
        note.author,
        format_local(note.created_at),
        format_local(note.signed_at),
        note.signed_by,
        note.amends_id or 0,
        note.amended_by_id or 0,
    )


class ChartEncountersState(ChartDialogs, ChartState):
    """The timeline and the chosen encounter's notes, with the note editor and the sign dialog."""

    TAB: ClassVar[str] = "encounters"
    ADD_DIALOGS: ClassVar[tuple[str, ...]] = ("encounter",)

    enc_page: int = 1
    enc_total: int = 0
    encounters: list[EncounterLine] = []
    selected_id: int = 0
    notes: list[NoteLine] = []
    notes_loading: bool = False
    editor_open: bool = False
    editor_note_id: int = 0  # 0: a new note
    editor_amends: int = 0
    editor_key: str = ""  # changes whenever the editor shows another note, so its fields start afresh
    editor_texts: dict[str, str] = {}

    _editor_seq: int = 0

    @rx.var
    def enc_page_count(self) -> int:
        return pages_for(self.enc_total, PAGE_SIZE)

    @rx.var
    def selected(self) -> EncounterLine:
        return next((e for e in self.encounters if e.id == self.selected_id), EncounterLine())

    @rx.var
    def open_encounters(self) -> list[EncounterLine]:
        """Encounters on this page still in progress: what vitals can be attached to."""
        return [e for e in self.encounters if e.status == "in-progress"]

    # ------------------------------------------------------------------ encounters

    def _show_timeline(self, rows: list[encounter_service.TimelineRow], total: int) -> None:
        self.encounters, self.enc_total = [_encounter_line(row) for row in rows], total

    async def _show(self, chart: Chart):
        self._show_timeline(chart.timeline, chart.timeline_total)
        return None

    async def _refresh(self) -> None:
        """Re-read the chart after a change, keeping the page and the encounter in view."""
        await self._show(await self._reread(page=self.enc_page, with_summary=False))
        if self.selected_id:
            await self._load_notes()

    async def _load_timeline(self):
        try:
            rows, total = await self._run(
                encounter_service.encounter_timeline,
                patient_id=self.pid,
                page=self.enc_page,
                page_size=PAGE_SIZE,
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        self._show_timeline(rows, total)
        return None

    @rx.event
    @requires("patient.read")
    async def move_encounters(self, step: int):
        page = step_page(self.enc_page, step, self.enc_page_count)
        if self.pid and page != self.enc_page:
            self.enc_page = page
            return await self._load_timeline()
        return None

    async def _load_notes(self) -> None:
        notes = await self._run(note_service.encounter_notes, encounter_id=self.selected_id)
        self.notes = [_note_line(n) for n in notes]

    @rx.event
    @requires("patient.read")
    async def select_encounter(self, encounter_id: int):
        try:
            encounter = self._pick(self.encounters, encounter_id, "encounter")
        except DomainError as error:
            yield rx.toast.error(str(error))
            return
        self.selected_id, self.notes, self.editor_open, self.notes_loading = encounter.id, [], False, True
        yield SHOW_DETAIL
        try:
            await self._load_notes()
        except DomainError as error:
            yield rx.toast.error(str(error))
        finally:
            self.notes_loading = False

    @rx.event
    @requires("patient.read")
    async def close_encounter(self):
        self.selected_id, self.notes, self.editor_open = 0, [], False

    @rx.event
    @requires("emr.write")
    async def submit_encounter(self, form: dict):
        def read() -> dict:
            return {
                "patient_id": self.pid,
                "encounter_class": form_text(form, "encounter_class") or "outpatient",
                "reason": form_text(form, "reason"),
            }

        def started(encounter) -> str:
            # The newest encounter is first on the first page; open it with an empty note to write.
            self.enc_page, self.selected_id, self.notes = 1, encounter.id, []
            self._open_editor(0, {}, 0)
            return f"{words.say(words.ENCOUNTER_CLASS, encounter.encounter_class)} started."

        async for event in self._submit(
            ("encounter_class", "reason"), read, encounter_service.start_encounter, started
        ):
            yield event
        if not self.dialog:  # closed: the encounter started, and shows with its editor
            yield SHOW_DETAIL

    @rx.event
    @requires("emr.write")
    async def finish_encounter(self, encounter_id: int):
        try:
            encounter = self._pick(self.encounters, encounter_id, "encounter")
            await self._run(encounter_service.finish_encounter, encounter_id=encounter.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done("Encounter finished.")

    # ------------------------------------------------------------------ notes

    def _open_editor(self, note_id: int, texts: dict[str, str], amends: int) -> None:
        self.editor_open, self.editor_note_id, self.editor_amends = True, note_id, amends
        self.editor_texts = {part: texts.get(part, "") for part in note_service.SOAP}
        self._editor_seq += 1
        self.editor_key = f"{self.selected_id}-{note_id}-{self._editor_seq}"

    @rx.event
    @requires("emr.write")
    async def new_note(self):
        if not self.selected_id:
            return rx.toast.error("Choose an encounter first.")
        self._open_editor(0, {}, 0)
        return None

    @rx.event
    @requires("emr.write")
    async def edit_note(self, note_id: int):
        try:
            note = self._pick(self.notes, note_id, "note")
        except DomainError as error:
            return rx.toast.error(str(error))
        if note.status != "draft":
            return rx.toast.error("A signed note is locked. Amend it instead.")
        self._open_editor(note.id, {part: getattr(note, part) for part in note_service.SOAP}, note.amends_id)
        return None

    @rx.event
    @requires("patient.read")
    async def close_editor(self):
        self.editor_open = False

    @rx.event
    @requires("emr.write")
    async def save_note(self, form: dict):
        if not self.selected_id:
            return rx.toast.error("Choose an encounter first.")
        try:
            texts = form_fields(form, note_service.SOAP, limit=MAX_NOTE_TEXT)
            note = await self._run(
                note_service.save_note,
                encounter_id=self.selected_id,
                note_id=self.editor_note_id or None,
                **texts,
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        self.editor_open = False
        return await self._done(f"Note #{note.id} saved as a draft. Sign it when it is complete.")

    @rx.event
    @requires("emr.write")
    async def ask_sign(self, note_id: int):
        try:
            note = self._pick(self.notes, note_id, "note")
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open_dialog("sign", f"note #{note.id}")
        self._target_id = note.id
        return None

    @rx.event
    @requires("emr.write")
    async def confirm_sign(self):
        if self.dialog != "sign" or not self._target_id:
            self._open_dialog("")
            return
        self.saving = True
        yield
        try:
            note = await self._run(note_service.sign_note, note_id=self._target_id)
        except DomainError as error:
            self._fail(error, ())
            return
        if self.editor_note_id == note.id:
            self.editor_open = False
        yield await self._done(f"Note #{note.id} signed and locked.")

    @rx.event
    @requires("emr.write")
    async def amend(self, note_id: int):
        try:
            note = self._pick(self.notes, note_id, "note")
            draft = await self._run(note_service.amend_note, note_id=note.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        done = await self._done(
            f"Amendment #{draft.id} of note #{note.id} started. The original stays as it was."
        )
        self._open_editor(draft.id, {part: getattr(draft, part) for part in note_service.SOAP}, note.id)
        return done
