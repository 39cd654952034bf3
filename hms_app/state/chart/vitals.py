"""The chart's Vitals tab: the form a nurse records a set with, and one vital sign's trend."""

from __future__ import annotations

from typing import ClassVar

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics.vitals import spec_for, unit_label, vital_trend_figure
from hms_app.cds import vitals as vital_rules
from hms_app.errors import DomainError, ValidationError
from hms_app.plurals import counted
from hms_app.services.emr.vitals import record_vitals, vital_series
from hms_app.state.chart.encounters import ChartEncountersState
from hms_app.state.chart.page import ChartState
from hms_app.state.forms import form_fields, form_text
from hms_app.state.session import requires

# ACVPU is a category, not a quantity: it has no trend line and a select instead of a number box.
CHOICE_VITALS = ("consciousness",)
TREND_KEYS = (
    *(k for k in vital_rules.VITALS if k not in CHOICE_VITALS),
    vital_rules.BMI.key,
    vital_rules.GLUCOSE.key,  # from the patient's own meter (home readings)
)
TREND_CHOICES = tuple((key, spec_for(key).display) for key in TREND_KEYS)
VITALS_TOAST = "chart-vitals"
NO_ENCOUNTER = "none"  # the vitals form's "not part of an encounter" choice (a select item cannot be "")
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


class ChartVitalsState(ChartState):
    """The vitals form's refusal, and the trend of the vital sign chosen."""

    TAB: ClassVar[str] = "vitals"

    vital_error_field: str = ""
    vital_error_text: str = ""
    vitals_form_key: int = 0
    saving: bool = False
    trend_key: str = "heart_rate"
    trend_figure: go.Figure = EMPTY_FIGURE
    trend_count: int = 0
    trend_home_count: int = 0  # of which the patient entered at home
    trend_loaded: bool = False
    trend_loading: bool = False

    async def _open(self):
        # The trend is read when its tab is first shown, not with the chart.
        return None if self.trend_loaded else await self._load_trend()

    async def _refresh(self) -> None:
        """A new set shows in the banner's alert and on the summary; the trend is re-read apart."""
        await self._reread()

    async def _load_trend(self):
        self.trend_loading = True
        try:
            points = await self._run(vital_series, patient_id=self.pid, key=self.trend_key, limit=200)
        except DomainError as error:
            self.trend_loading = False
            return rx.toast.error(str(error))
        self.trend_figure = vital_trend_figure(points, self.trend_key)
        self.trend_count, self.trend_loaded, self.trend_loading = len(points), True, False
        self.trend_home_count = sum(1 for point in points if point.patient_reported)
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
            values = form_fields(form, tuple(key for key, *_ in VITAL_FIELDS))
            level = form_text(form, "consciousness")
            if level and level != NOT_ASSESSED:
                if level not in vital_rules.ACVPU:
                    raise ValidationError(
                        "Choose a level of consciousness from the list.", field="consciousness"
                    )
                values["consciousness"] = str(vital_rules.ACVPU.index(level))
            choice = form_text(form, "encounter_id")
            encounter_id = None
            if choice and choice != NO_ENCOUNTER:
                encounters = await self.get_state(ChartEncountersState)
                encounter_id = self._pick(encounters.open_encounters, choice, "encounter").id
        except DomainError as error:
            self.vital_error_field, self.vital_error_text = error.field or "", str(error)
            yield rx.toast.error(str(error), id=VITALS_TOAST)
            return
        self.saving = True
        yield
        try:
            rows = await self._run(
                record_vitals, patient_id=self.pid, values=values, encounter_id=encounter_id
            )
        except DomainError as error:
            self.saving = False
            self.vital_error_field, self.vital_error_text = error.field or "", str(error)
            yield rx.toast.error(str(error), id=VITALS_TOAST)
            return
        self.saving = False
        self.vitals_form_key += 1  # a fresh, empty form for the next set
        bmi = next((r for r in rows if r.code == vital_rules.BMI.loinc), None)
        message = f"{counted(len(rows), 'measurement')} recorded."
        if bmi is not None:
            message += f" BMI {bmi.value:.1f} ({vital_rules.bmi_category(bmi.value)})."
        yield await self._done(message, toast_id=VITALS_TOAST)
        if self.score_alert:  # the new set crossed a NEWS2 trigger: say so where the nurse is looking
            yield rx.toast.warning(self.score_alert, duration=10000)
        if self.trend_loaded:
            yield await self._load_trend()
