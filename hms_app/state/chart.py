"""The patient chart (/patients/[patient_id]): banner, tabs, and the clinician's writes.

The first screen is one ``emr.open_chart`` call. The state keeps only what is on screen: one
page of encounters, the notes of the one encounter selected, one vital's trend figure. Ids the
browser sends back are looked up among the rows it was shown; the services check the
permission and the patient again on every write.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics.vitals import spec_for, unit_label, vital_trend_figure
from hms_app.cds import vitals as vital_rules
from hms_app.clock import format_local
from hms_app.errors import DomainError, NotFound, ValidationError
from hms_app.services import cds, emr
from hms_app.state.session import SessionState, browser_id, pages_for, requires

PAGE_SIZE = 20
BANNER_PROBLEMS = 3  # active problems shown as badges in the banner; the rest are counted
TABS = ("summary", "encounters", "vitals", "problems", "allergies", "documents")
# ACVPU is a category, not a quantity: it has no trend line and a select instead of a number box.
CHOICE_VITALS = ("consciousness",)
TREND_KEYS = (*(k for k in vital_rules.VITALS if k not in CHOICE_VITALS), vital_rules.BMI.key)
VITALS_TOAST = "chart-vitals"
NO_ENCOUNTER = "none"  # the vitals form's "not part of an encounter" choice (a select item cannot be "")
UPLOAD_ID = "chart_document"
DOCUMENT_KINDS = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}
# What a browser may call a JPEG; the service checks the bytes whatever the name says.
CONTENT_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
EXTENSION_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
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
MAX_FORM_TEXT = 20000  # longer values are refused before a service runs (a note's longest part)
DIALOGS = ("encounter", "problem", "resolve", "allergy", "medication", "stop", "immunization", "sign")
# The vitals form's number boxes, in the order a nurse takes them; consciousness is a select.
VITAL_FIELDS = tuple(
    (key, spec.display, unit_label(spec.unit), spec.decimals)
    for key, spec in vital_rules.VITALS.items()
    if key not in CHOICE_VITALS
)
NOT_ASSESSED = "none"  # the ACVPU select's "not assessed" choice (a select item cannot be "")
ACVPU_CHOICES = tuple(
    (letter, f"{letter} · {vital_rules.ACVPU_LABELS[letter]}") for letter in vital_rules.ACVPU
)
# Colour of a score's band by how alarming it is (cds.scores CALM, WATCH, ACT, URGENT).
LEVEL_COLORS = {0: "green", 1: "amber", 2: "orange", 3: "red"}
SCORE_UNITS = {"egfr": "mL/min/1.73 m²", "bmi": "kg/m²"}


@dataclass
class VitalLine:
    key: str = ""
    label: str = ""
    value: str = ""
    unit: str = ""
    when: str = ""
    flag: str = ""  # "" | low | high: outside the normal band


@dataclass
class ScoreInputLine:
    label: str = ""
    value: str = ""
    unit: str = ""
    points: str = ""  # "" for scores without points
    when: str = ""  # when measured or recorded, in the hospital's zone; "" for registration data
    source: str = ""


@dataclass
class ScoreCard:
    key: str = ""
    name: str = ""
    value: str = ""
    unit: str = ""
    band: str = ""
    color: str = "gray"
    interpretation: str = ""
    has_points: bool = False
    taken: str = ""  # when every dated input was taken at the same moment: said once, not per row
    inputs: list[ScoreInputLine] = field(default_factory=list)


@dataclass
class EncounterLine:
    id: int = 0
    encounter_class: str = ""
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


@dataclass
class ConditionLine:
    id: int = 0
    code: str = ""
    description: str = ""
    status: str = ""
    onset: str = ""
    resolved: str = ""


@dataclass
class AllergyLine:
    id: int = 0
    substance: str = ""
    reaction: str = ""
    severity: str = ""
    status: str = ""


@dataclass
class MedicationLine:
    id: int = 0
    medication: str = ""
    dosage: str = ""
    status: str = ""
    started: str = ""
    stopped: str = ""
    stop_reason: str = ""


@dataclass
class ImmunizationLine:
    id: int = 0
    vaccine: str = ""
    date: str = ""
    lot: str = ""


@dataclass
class DocumentLine:
    id: int = 0
    title: str = ""
    kind: str = ""
    size: str = ""
    date: str = ""
    by: str = ""


@dataclass
class IcdLine:
    code: str = ""
    description: str = ""


def parse_patient_id(raw) -> int:
    """The route's patient id: a positive whole number, nothing else."""
    text = raw if isinstance(raw, str) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 12 or int(text) <= 0:
        raise NotFound("This address does not name a patient. Find the patient from the patient list.")
    return int(text)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _day(value) -> str:
    return value.isoformat() if value else ""


def _form_text(form: dict, key: str) -> str:
    value = form.get(key, "") if isinstance(form, dict) else ""
    value = value if isinstance(value, str) else ""
    if len(value) > MAX_FORM_TEXT:
        raise ValidationError(f"That is too long (at most {MAX_FORM_TEXT:,} characters).", field=key)
    return value


def _vital_line(key: str, value: float, unit: str, taken) -> VitalLine:
    if key == "consciousness" or (key == "oxygen_flow" and value == 0):
        # Words, not numbers: "C · New confusion", "Room air (0 L/min)".
        flag = "altered" if key == "consciousness" and value != 0 else ""
        shown = vital_rules.display_value(key, value, unit)
        return VitalLine(key, vital_rules.VITALS[key].display, shown, "", format_local(taken), flag)
    spec = spec_for(key)
    flag = ""
    if spec.normal_low is not None and value < spec.normal_low:
        flag = "low"
    elif spec.normal_high is not None and value > spec.normal_high:
        flag = "high"
    return VitalLine(
        key, spec.display, f"{value:.{spec.decimals}f}", unit_label(unit), format_local(taken), flag
    )


def _score_card(shown: cds.ChartScore) -> ScoreCard:
    score = shown.score
    has_points = any(i.points is not None for i in shown.inputs)
    band = score.band if shown.key in ("egfr", "bmi", "qsofa") else f"{score.band} risk"
    moments = {i.taken_at for i in shown.inputs if i.taken_at is not None}
    return ScoreCard(
        shown.key,
        score.name,
        f"{score.value:.1f}" if shown.key == "bmi" else f"{score.value:g}",
        SCORE_UNITS.get(shown.key, ""),
        band,
        LEVEL_COLORS.get(score.level, "gray"),
        score.interpretation,
        has_points,
        format_local(next(iter(moments))) if len(moments) == 1 else "",
        [
            ScoreInputLine(
                i.label,
                i.value,
                i.unit,
                "" if i.points is None else str(i.points),
                format_local(i.taken_at),
                i.source,
            )
            for i in shown.inputs
        ],
    )


def _encounter_line(row: emr.TimelineRow) -> EncounterLine:
    return EncounterLine(
        row.id,
        row.encounter_class,
        row.status,
        format_local(row.start_at),
        format_local(row.end_at),
        row.reason,
        row.practitioner,
        row.notes,
        row.signed_notes,
    )


def _note_line(note: emr.NoteView) -> NoteLine:
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


class ChartState(SessionState):
    """One patient's chart as the signed-in user sees it."""

    pid: int = 0  # the patient on screen (from the route, validated); 0 until one is loaded
    # The address this state was loaded for. Until it matches the browser's, the page shows the skeleton:
    # after moving to another patient's address, the last patient's chart must never show under it.
    shown_path: str = ""
    loaded: bool = False
    problem: str = ""  # why no chart is shown (a bad address, an unknown patient)
    tab: str = "summary"

    # the banner
    name: str = ""
    mrn: str = ""
    sex: str = ""
    age: str = ""
    birth_date: str = ""
    banner_allergies: list[str] = []
    banner_problems: list[str] = []
    alerts: list[str] = []
    score_alert: str = ""  # NEWS2 5 or more, or 3 in one parameter: shown in the sticky banner

    # summary
    score_cards: list[ScoreCard] = []
    score_notes: list[str] = []  # why a score that could apply is not shown
    vitals: list[VitalLine] = []
    bmi_value: str = ""
    bmi_category: str = ""
    summary_problems: list[str] = []
    summary_medications: list[str] = []
    summary_immunizations: list[str] = []

    # encounters and notes
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

    # vitals
    vital_error_field: str = ""
    vital_error_text: str = ""
    vitals_form_key: int = 0
    trend_key: str = "heart_rate"
    trend_figure: go.Figure = EMPTY_FIGURE
    trend_count: int = 0
    trend_loaded: bool = False
    trend_loading: bool = False

    # problems, allergies, medications, immunizations, documents
    conditions: list[ConditionLine] = []
    allergies: list[AllergyLine] = []
    medications: list[MedicationLine] = []
    immunizations: list[ImmunizationLine] = []
    documents: list[DocumentLine] = []
    icd_query: str = ""
    icd_results: list[IcdLine] = []
    icd_searching: bool = False
    icd_code: str = ""
    icd_description: str = ""
    doc_title: str = ""
    uploading: bool = False

    # the open dialog
    dialog: str = ""
    dialog_subject: str = ""  # what the dialog acts on, in words
    error_field: str = ""
    error_text: str = ""
    saving: bool = False

    _target_id: int = 0  # the row the open dialog acts on, picked from the rows on screen
    _editor_seq: int = 0

    # ------------------------------------------------------------------ derived

    @rx.var
    def enc_page_count(self) -> int:
        return pages_for(self.enc_total, PAGE_SIZE)

    @rx.var
    def sex_label(self) -> str:
        return self.sex.capitalize()

    @rx.var
    def banner_problem_badges(self) -> list[str]:
        return self.banner_problems[:BANNER_PROBLEMS]

    @rx.var
    def banner_problems_more(self) -> int:
        return max(0, len(self.banner_problems) - BANNER_PROBLEMS)

    @rx.var
    def selected(self) -> EncounterLine:
        return next((e for e in self.encounters if e.id == self.selected_id), EncounterLine())

    @rx.var
    def open_encounters(self) -> list[EncounterLine]:
        """Encounters on this page still in progress: what vitals can be attached to."""
        return [e for e in self.encounters if e.status == "in-progress"]

    # ------------------------------------------------------------------ loading

    def _apply(self, chart: emr.Chart) -> None:
        banner = chart.banner
        self.name, self.mrn, self.sex, self.age = banner.name, banner.mrn, banner.sex, banner.age
        self.birth_date = banner.birth_date.isoformat()
        self.banner_allergies, self.banner_problems, self.alerts = (
            list(banner.allergies),
            list(banner.problems),
            list(banner.alerts),
        )
        vitals = [
            _vital_line(key, value, unit, taken) for key, (value, unit, taken) in chart.latest_vitals.items()
        ]
        order = {key: i for i, key in enumerate(TREND_KEYS)}
        self.vitals = sorted(vitals, key=lambda v: order.get(v.key, 99))
        bmi = chart.latest_vitals.get(vital_rules.BMI.key)
        self.bmi_value = f"{bmi[0]:.1f}" if bmi else ""
        self.bmi_category = vital_rules.bmi_category(bmi[0]) if bmi else ""
        self.encounters = [_encounter_line(row) for row in chart.timeline]
        self.enc_total = chart.timeline_total
        self.conditions = [
            ConditionLine(
                c.id, c.code, c.display, c.clinical_status, _day(c.onset_date), _day(c.abatement_date)
            )
            for c in chart.conditions
        ]
        self.allergies = [
            AllergyLine(a.id, a.substance, a.reaction or "", a.severity, a.status) for a in chart.allergies
        ]
        self.medications = [
            MedicationLine(
                m.id,
                m.medication,
                m.dosage or "",
                m.status,
                _day(m.started_on),
                _day(m.stopped_on),
                m.stop_reason or "",
            )
            for m in chart.medications
        ]
        self.immunizations = [
            ImmunizationLine(i.id, i.vaccine, _day(i.occurrence_date), i.lot_number or "")
            for i in chart.immunizations
        ]
        self.documents = [
            DocumentLine(
                d.id,
                d.title,
                DOCUMENT_KINDS.get(d.content_type, d.content_type),
                _size(d.size_bytes),
                format_local(d.created_at),
                d.created_by or "",
            )
            for d in chart.documents
        ]
        self.summary_problems = [
            f"{c.code} · {c.display}" for c in chart.conditions if c.clinical_status == "active"
        ]
        self.summary_medications = [
            f"{m.medication} {m.dosage or ''}".strip() for m in chart.medications if m.status == "active"
        ]
        self.summary_immunizations = [
            f"{i.vaccine} · {_day(i.occurrence_date)}" for i in chart.immunizations[:5]
        ]

    def _route_patient_id(self) -> int:
        # Reflex puts the route's [patient_id] on the root state; any text may arrive there.
        return parse_patient_id(self.patient_id)

    @rx.event
    @requires("patient.read")
    async def load(self):
        path = self.router.url.path
        try:
            pid = self._route_patient_id()
        except DomainError as error:
            self.reset()
            self.problem, self.loaded, self.shown_path = str(error), True, path
            return
        # Start afresh (the skeleton shows): nothing of the last patient may stay on screen meanwhile.
        self.reset()
        yield
        try:
            chart = await self._run(emr.open_chart, patient_id=pid, page_size=PAGE_SIZE)
        except DomainError as error:
            self.reset()
            self.problem, self.loaded, self.shown_path = str(error), True, path
            yield rx.toast.error(str(error))
            return
        self.pid = pid
        self._apply(chart)
        problem = await self._load_scores()
        self.enc_page, self.loaded, self.shown_path = 1, True, path
        if problem:
            yield problem

    async def _refresh(self) -> None:
        """Re-read the chart after a change, keeping the page, the encounter and the trend in view."""
        chart = await self._run(
            emr.open_chart, patient_id=self.pid, page_size=PAGE_SIZE, page=self.enc_page, refresh=True
        )
        self._apply(chart)
        await self._load_scores()
        if self.selected_id:
            await self._load_notes()

    async def _load_scores(self):
        """The clinical scores whose inputs are on the record, and the NEWS2 alert."""
        try:
            # Not audited apart: the chart's opening or refresh, just audited, covers the same reading.
            found = await self._run(cds.chart_scores, patient_id=self.pid, audit=False)
        except DomainError as error:
            self.score_cards, self.score_notes, self.score_alert = [], [], ""
            return rx.toast.error(str(error))
        self.score_cards = [_score_card(s) for s in found.scores]
        self.score_notes = list(found.missing)
        self.score_alert = found.alert
        return None

    async def _done(self, message: str, toast_id: str | None = None):
        """Close the dialog, re-read the chart and say what happened."""
        self.dialog, self._target_id, self.saving = "", 0, False
        # Given an id, the success replaces that form's earlier error toast instead of stacking under it.
        success = rx.toast.success(message, id=toast_id) if toast_id else rx.toast.success(message)
        try:
            await self._refresh()
        except DomainError as error:
            return [success, rx.toast.error(str(error))]
        return success

    def _fail(self, error: DomainError, fields: tuple[str, ...]) -> None:
        """Show a refusal next to its field when the dialog has it, else above the dialog's buttons."""
        self.saving = False
        self.error_text = str(error)
        self.error_field = error.field if error.field in fields else ""

    @rx.event
    @requires("patient.read")
    async def set_tab(self, tab: str):
        if tab not in TABS:
            return None
        self.tab = tab
        if tab == "vitals" and not self.trend_loaded and self.pid:
            return await self._load_trend()
        return None

    # ------------------------------------------------------------------ encounters

    async def _load_timeline(self):
        try:
            rows, total = await self._run(
                emr.encounter_timeline, patient_id=self.pid, page=self.enc_page, page_size=PAGE_SIZE
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        self.encounters, self.enc_total = [_encounter_line(r) for r in rows], total
        return None

    @rx.event
    @requires("patient.read")
    async def next_encounters(self):
        if self.pid and self.enc_page < self.enc_page_count:
            self.enc_page += 1
            return await self._load_timeline()
        return None

    @rx.event
    @requires("patient.read")
    async def prev_encounters(self):
        if self.pid and self.enc_page > 1:
            self.enc_page -= 1
            return await self._load_timeline()
        return None

    def _pick(self, rows: list, row_id, what: str):
        wanted = browser_id(row_id)
        for row in rows:
            if row.id == wanted:
                return row
        raise ValidationError(f"That {what} is no longer on screen. Reload the chart and try again.")

    async def _load_notes(self) -> None:
        notes = await self._run(emr.encounter_notes, encounter_id=self.selected_id)
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
        try:
            encounter_class = _form_text(form, "encounter_class") or "outpatient"
            reason = _form_text(form, "reason")
        except ValidationError as error:
            self._fail(error, ("encounter_class", "reason"))
            return
        self.saving = True
        yield
        try:
            encounter = await self._run(
                emr.start_encounter, patient_id=self.pid, encounter_class=encounter_class, reason=reason
            )
        except DomainError as error:
            self._fail(error, ("encounter_class", "reason"))
            return
        # The newest encounter is first on the first page; open it with an empty note to write.
        self.enc_page, self.selected_id, self.notes = 1, encounter.id, []
        self._open_editor(0, {}, 0)
        yield await self._done(f"{encounter_class.capitalize()} encounter started.")
        yield SHOW_DETAIL

    @rx.event
    @requires("emr.write")
    async def finish_encounter(self, encounter_id: int):
        try:
            encounter = self._pick(self.encounters, encounter_id, "encounter")
            await self._run(emr.finish_encounter, encounter_id=encounter.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done("Encounter finished.")

    # ------------------------------------------------------------------ notes

    def _open_editor(self, note_id: int, texts: dict[str, str], amends: int) -> None:
        self.editor_open, self.editor_note_id, self.editor_amends = True, note_id, amends
        self.editor_texts = {part: texts.get(part, "") for part in emr.SOAP}
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
        self._open_editor(note.id, {part: getattr(note, part) for part in emr.SOAP}, note.amends_id)
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
            texts = {part: _form_text(form, part) for part in emr.SOAP}
            note = await self._run(
                emr.save_note, encounter_id=self.selected_id, note_id=self.editor_note_id or None, **texts
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
            note = await self._run(emr.sign_note, note_id=self._target_id)
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
            draft = await self._run(emr.amend_note, note_id=note.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        done = await self._done(
            f"Amendment #{draft.id} of note #{note.id} started. The original stays as it was."
        )
        self._open_editor(draft.id, {part: getattr(draft, part) for part in emr.SOAP}, note.id)
        return done

    # ------------------------------------------------------------------ vitals

    async def _load_trend(self):
        self.trend_loading = True
        try:
            points = await self._run(emr.vital_series, patient_id=self.pid, key=self.trend_key, limit=200)
        except DomainError as error:
            self.trend_loading = False
            return rx.toast.error(str(error))
        self.trend_figure = vital_trend_figure(points, self.trend_key)
        self.trend_count, self.trend_loaded, self.trend_loading = len(points), True, False
        return None

    @rx.event
    @requires("patient.read")
    async def set_trend_key(self, key: str):
        if key not in TREND_KEYS:
            return rx.toast.error("Choose a vital sign from the list.")
        self.trend_key = key
        if not self.pid:
            return None
        return await self._load_trend()

    @rx.event
    @requires("emr.write")
    async def submit_vitals(self, form: dict):
        self.vital_error_field, self.vital_error_text = "", ""
        try:
            values = {key: _form_text(form, key) for key, *_ in VITAL_FIELDS}
            level = _form_text(form, "consciousness")
            if level and level != NOT_ASSESSED:
                if level not in vital_rules.ACVPU:
                    raise ValidationError(
                        "Choose a level of consciousness from the list.", field="consciousness"
                    )
                values["consciousness"] = str(vital_rules.ACVPU.index(level))
            choice = _form_text(form, "encounter_id")
            encounter_id = None
            if choice and choice != NO_ENCOUNTER:
                encounter_id = self._pick(self.open_encounters, choice, "encounter").id
        except DomainError as error:
            self.vital_error_field, self.vital_error_text = error.field or "", str(error)
            yield rx.toast.error(str(error), id=VITALS_TOAST)
            return
        self.saving = True
        yield
        try:
            rows = await self._run(
                emr.record_vitals, patient_id=self.pid, values=values, encounter_id=encounter_id
            )
        except DomainError as error:
            self.saving = False
            self.vital_error_field, self.vital_error_text = error.field or "", str(error)
            yield rx.toast.error(str(error), id=VITALS_TOAST)
            return
        self.vitals_form_key += 1  # a fresh, empty form for the next set
        bmi = next((r for r in rows if r.code == vital_rules.BMI.loinc), None)
        message = f"{len(rows)} measurement{'s' if len(rows) != 1 else ''} recorded."
        if bmi is not None:
            message += f" BMI {bmi.value:.1f} ({vital_rules.bmi_category(bmi.value)})."
        yield await self._done(message, toast_id=VITALS_TOAST)
        if self.score_alert:  # the new set crossed a NEWS2 trigger: say so where the nurse is looking
            yield rx.toast.warning(self.score_alert, duration=10000)
        if self.trend_loaded:
            yield await self._load_trend()

    # ------------------------------------------------------------------ dialogs

    def _open_dialog(self, name: str, subject: str = "") -> None:
        self.dialog, self.dialog_subject = name, subject
        self.error_field, self.error_text, self.saving, self._target_id = "", "", False, 0

    @rx.event
    @requires("emr.write")
    async def open_dialog(self, name: str):
        """The dialogs that add something; those acting on a row open from that row."""
        if name not in ("encounter", "problem", "allergy", "medication", "immunization"):
            return rx.toast.error("Choose an action from the page.")
        self._open_dialog(name)
        if name == "problem":
            self.icd_query, self.icd_results, self.icd_code, self.icd_description = "", [], "", ""
        return None

    @rx.event
    @requires("patient.read")
    async def on_dialog_change(self, is_open: bool):
        # Radix reports closing by Escape, the overlay or the close button.
        if not is_open:
            self._open_dialog("")

    # ------------------------------------------------------------------ problems

    @rx.event
    @requires("emr.write")
    async def set_icd_query(self, value: str):
        value = value if isinstance(value, str) else ""
        self.icd_query = value[:60]
        if len(value.strip()) < 2:
            self.icd_results = []
            return
        self.icd_searching = True
        yield
        # The code list is read once per process and then searched in memory: off the event loop.
        found = await asyncio.to_thread(emr.search_icd10, self.icd_query, limit=20)
        if value[:60] == self.icd_query:  # a newer query may have arrived meanwhile
            self.icd_results = [IcdLine(c.code, c.description) for c in found]
        self.icd_searching = False

    @rx.event
    @requires("emr.write")
    async def pick_icd(self, code: str):
        picked = next((r for r in self.icd_results if r.code == code), None)
        if picked is None:
            return rx.toast.error("Choose a code from the search results.")
        self.icd_code, self.icd_description = picked.code, picked.description
        if self.error_field == "code":
            self.error_field, self.error_text = "", ""
        return None

    @rx.event
    @requires("emr.write")
    async def submit_problem(self, form: dict):
        fields = ("code", "onset_date")
        if not self.icd_code:
            self._fail(ValidationError("Search for a diagnosis and choose a code.", field="code"), fields)
            return
        try:
            onset = _form_text(form, "onset_date")
        except ValidationError as error:
            self._fail(error, fields)
            return
        self.saving = True
        yield
        try:
            condition = await self._run(
                emr.add_condition, patient_id=self.pid, code=self.icd_code, onset_date=onset
            )
        except DomainError as error:
            self._fail(error, fields)
            return
        yield await self._done(f"{condition.code} {condition.display} added to the problem list.")

    @rx.event
    @requires("emr.write")
    async def set_problem_status(self, condition_id: int, status: str):
        if status not in ("active", "inactive"):
            return rx.toast.error("Choose an action from the menu.")
        try:
            condition = self._pick(self.conditions, condition_id, "problem")
            await self._run(emr.set_condition_status, condition_id=condition.id, clinical_status=status)
        except DomainError as error:
            return rx.toast.error(str(error))
        verb = "reactivated" if status == "active" else "marked inactive"
        return await self._done(f"{condition.code} {verb}.")

    @rx.event
    @requires("emr.write")
    async def ask_resolve(self, condition_id: int):
        try:
            condition = self._pick(self.conditions, condition_id, "problem")
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open_dialog("resolve", f"{condition.code} {condition.description}")
        self._target_id = condition.id
        return None

    @rx.event
    @requires("emr.write")
    async def submit_resolve(self, form: dict):
        if self.dialog != "resolve" or not self._target_id:
            self._open_dialog("")
            return
        try:
            day = _form_text(form, "abatement_date")
        except ValidationError as error:
            self._fail(error, ("abatement_date",))
            return
        self.saving = True
        yield
        try:
            condition = await self._run(
                emr.set_condition_status,
                condition_id=self._target_id,
                clinical_status="resolved",
                abatement_date=day or None,
            )
        except DomainError as error:
            self._fail(error, ("abatement_date",))
            return
        yield await self._done(f"{condition.code} resolved on {condition.abatement_date.isoformat()}.")

    # ------------------------------------------------------------------ allergies

    @rx.event
    @requires("emr.write")
    async def submit_allergy(self, form: dict):
        fields = ("substance", "reaction", "severity")
        try:
            substance, reaction = _form_text(form, "substance"), _form_text(form, "reaction")
            severity = _form_text(form, "severity") or "moderate"
        except ValidationError as error:
            self._fail(error, fields)
            return
        self.saving = True
        yield
        try:
            allergy = await self._run(
                emr.add_allergy,
                patient_id=self.pid,
                substance=substance,
                reaction=reaction,
                severity=severity,
            )
        except DomainError as error:
            self._fail(error, fields)
            return
        yield await self._done(f"Allergy to {allergy.substance} ({allergy.severity}) recorded.")

    @rx.event
    @requires("emr.write")
    async def set_allergy_status(self, allergy_id: int, status: str):
        if status not in ("active", "inactive", "resolved"):
            return rx.toast.error("Choose an action from the menu.")
        try:
            allergy = self._pick(self.allergies, allergy_id, "allergy")
            await self._run(emr.set_allergy_status, allergy_id=allergy.id, status=status)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done(f"Allergy to {allergy.substance} is now {status}.")

    # ------------------------------------------------------------------ medications

    @rx.event
    @requires("emr.write")
    async def submit_medication(self, form: dict):
        fields = ("medication", "dosage", "started_on")
        try:
            medication, dosage = _form_text(form, "medication"), _form_text(form, "dosage")
            started = _form_text(form, "started_on")
        except ValidationError as error:
            self._fail(error, fields)
            return
        self.saving = True
        yield
        try:
            row = await self._run(
                emr.add_medication,
                patient_id=self.pid,
                medication=medication,
                dosage=dosage,
                started_on=started or None,
            )
        except DomainError as error:
            self._fail(error, fields)
            return
        yield await self._done(f"{row.medication} added to the medication list.")

    @rx.event
    @requires("emr.write")
    async def ask_stop(self, medication_id: int):
        try:
            row = self._pick(self.medications, medication_id, "medication")
        except DomainError as error:
            return rx.toast.error(str(error))
        self._open_dialog("stop", row.medication)
        self._target_id = row.id
        return None

    @rx.event
    @requires("emr.write")
    async def submit_stop(self, form: dict):
        fields = ("stop_reason", "stopped_on")
        if self.dialog != "stop" or not self._target_id:
            self._open_dialog("")
            return
        try:
            reason, day = _form_text(form, "stop_reason"), _form_text(form, "stopped_on")
        except ValidationError as error:
            self._fail(error, fields)
            return
        self.saving = True
        yield
        try:
            row = await self._run(
                emr.stop_medication, medication_id=self._target_id, reason=reason, stopped_on=day or None
            )
        except DomainError as error:
            self._fail(error, fields)
            return
        yield await self._done(f"{row.medication} stopped: {row.stop_reason}.")

    # ------------------------------------------------------------------ immunizations

    @rx.event
    @requires("emr.write")
    async def submit_immunization(self, form: dict):
        fields = ("vaccine", "occurrence_date", "lot_number")
        try:
            vaccine, day = _form_text(form, "vaccine"), _form_text(form, "occurrence_date")
            lot = _form_text(form, "lot_number")
        except ValidationError as error:
            self._fail(error, fields)
            return
        self.saving = True
        yield
        try:
            row = await self._run(
                emr.add_immunization,
                patient_id=self.pid,
                vaccine=vaccine,
                occurrence_date=day,
                lot_number=lot,
            )
        except DomainError as error:
            self._fail(error, fields)
            return
        yield await self._done(f"{row.vaccine} on {row.occurrence_date.isoformat()} recorded.")

    # ------------------------------------------------------------------ documents

    @rx.event
    @requires("emr.write")
    async def set_doc_title(self, value: str):
        self.doc_title = (value if isinstance(value, str) else "")[:200]

    @rx.event
    @requires("emr.write")
    async def upload_document(self, files: list[rx.UploadFile]):
        if not files:
            yield rx.toast.error("Choose a PDF, PNG or JPEG file first.")
            return
        if len(files) > 1:
            yield rx.toast.error("Upload one file at a time.")
            return
        upload = files[0]
        filename = upload.filename or "document"
        if upload.size is not None and upload.size > emr.MAX_DOCUMENT_BYTES:
            yield rx.toast.error(f"The file is larger than {emr.MAX_DOCUMENT_BYTES // (1024 * 1024)} MB.")
            return
        declared = CONTENT_TYPE_ALIASES.get(upload.content_type or "", upload.content_type or "")
        if declared not in DOCUMENT_KINDS:
            suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
            declared = EXTENSION_TYPES.get(suffix, declared)
        self.uploading = True
        yield
        # Read one byte past the limit: enough to refuse a larger file without holding all of it.
        content = await upload.read(emr.MAX_DOCUMENT_BYTES + 1)
        title = self.doc_title.strip() or filename.rsplit(".", 1)[0][:200]
        try:
            # The bytes go to the service, which keeps them outside the public upload folder.
            row = await self._run(
                emr.store_document, patient_id=self.pid, title=title, content=content, content_type=declared
            )
        except DomainError as error:
            self.uploading = False
            yield rx.toast.error(str(error))
            return
        self.uploading, self.doc_title = False, ""
        yield [rx.clear_selected_files(UPLOAD_ID), rx.set_value("doc-title", "")]
        yield await self._done(f"{row.title} stored ({_size(row.size_bytes)}).")
