"""The portal's readings page (/portal/readings): the signed-in patient enters a home measurement
and sees their own history, as a chart and as a table.

The patient is the one on the server-side session: every handler passes ``actor.patient_id`` and
none takes a patient id from the browser, so a forged form naming another patient changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics.vitals import vital_trend_figure
from hms_app.cds import home_readings as rules
from hms_app.clock import format_local
from hms_app.errors import DomainError, InvalidFields
from hms_app.services.home_readings import (
    PORTAL,
    ReadingLine,
    home_series,
    readings_page,
    record_home_reading,
)
from hms_app.services.home_readings.views import SERIES_DAYS
from hms_app.state.portal.forms import form_fields
from hms_app.state.session import SessionState, pages_for, requires, turn_page

PAGE_SIZE = 10
KIND_CHOICES = tuple((key, kind.label) for key, kind in rules.KINDS.items())
# The boxes of each kind of reading: (name, label, unit, hint).
FIELDS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "blood_pressure": (
        ("systolic", "Upper number (systolic)", "mmHg", ""),
        ("diastolic", "Lower number (diastolic)", "mmHg", ""),
        ("pulse", "Pulse", "beats/min", "If your monitor shows it"),
    ),
    "glucose": (("glucose", "Blood glucose", "", ""),),
    "weight": (("weight", "Weight", "kg", ""),),
    "temperature": (("temperature", "Temperature", "°C", ""),),
    "spo2": (("spo2", "Oxygen saturation", "%", "From a finger pulse oximeter, at rest"),),
}
FORM_NAMES = ("systolic", "diastolic", "pulse", "glucose", "weight", "temperature", "spo2", "measured_at")
CHART_MEASURES = tuple((key, f"{m.label} ({m.unit})") for key, m in rules.MEASURES.items())
DAY_CHOICES = tuple((str(d), f"Last {d} days") for d in SERIES_DAYS)
ALERTED = "Your care team has been alerted"


@dataclass(frozen=True)
class PortalReadingRow:
    id: int = 0
    when: str = ""
    what: str = ""
    value_text: str = ""
    entered_as: str = ""  # "entered as 7.8 mmol/L"
    status: str = ""  # "" | open | cleared
    status_label: str = ""


def portal_row(line: ReadingLine) -> PortalReadingRow:
    status_label = {"open": ALERTED, "cleared": "Reviewed by your care team"}.get(line.alert_status, "")
    return PortalReadingRow(
        id=line.id,
        when=format_local(line.measured_at, "%d %b %Y %H:%M"),
        what=line.kind_label,
        value_text=line.values,
        entered_as=f"entered as {line.entered_text}" if line.entered_text else "",
        status=line.alert_status,
        status_label=status_label,
    )


class PortalReadingsState(SessionState):
    kind: str = "blood_pressure"
    glucose_unit: str = "mg/dL"
    field_errors: dict[str, str] = {}
    error_text: str = ""
    saved_text: str = ""
    alert_text: str = ""
    saving: bool = False
    form_key: int = 0
    # The history
    loaded: bool = False
    rows: list[PortalReadingRow] = []
    total: int = 0
    page: int = 1
    page_count: int = 1
    chart_measure: str = "systolic"
    chart_days: str = "30"
    figure: go.Figure = EMPTY_FIGURE
    chart_points: int = 0

    def _patient(self) -> int:
        return self.acting().patient_id or 0

    async def _reload(self):
        try:
            answer = await self._run(
                readings_page, patient_id=self._patient(), page=self.page, page_size=PAGE_SIZE
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        self.rows = [portal_row(line) for line in answer.rows]
        self.total, self.page_count = answer.total, pages_for(answer.total, PAGE_SIZE)
        self.loaded = True
        return None

    async def _chart(self):
        try:
            points = await self._run(
                home_series,
                patient_id=self._patient(),
                measure=self.chart_measure,
                days=int(self.chart_days),
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        figure = vital_trend_figure(points, rules.MEASURES[self.chart_measure].vital)
        # On a phone the chart is narrow: the choice above it names the measure, the note below it
        # the shaded band, so the figure drops its title and keeps a few ticks.
        figure.update_layout(title=None, margin={"l": 44, "r": 8, "t": 12}, height=300)
        figure.update_xaxes(nticks=4)
        self.figure = figure
        self.chart_points = len(points)
        return None

    @rx.event
    @requires(PORTAL)
    async def load(self):
        self.field_errors, self.error_text, self.saved_text, self.alert_text = {}, "", "", ""
        self.page = 1
        first = await self._reload()
        return first or await self._chart()

    @rx.event
    @requires(PORTAL)
    async def set_kind(self, kind: str):
        if kind not in rules.KINDS:
            return rx.toast.error("Choose what you measured from the list.")
        self.kind, self.field_errors, self.error_text = kind, {}, ""
        if kind == "glucose":
            self.chart_measure = "glucose"
        elif kind == "blood_pressure":
            self.chart_measure = "systolic"
        else:
            self.chart_measure = rules.KINDS[kind].measures[0]
        return await self._chart()

    @rx.event
    @requires(PORTAL)
    async def set_glucose_unit(self, unit: str):
        if unit not in rules.GLUCOSE_UNITS:
            return rx.toast.error("Choose mg/dL or mmol/L.")
        self.glucose_unit = unit
        return None

    @rx.event
    @requires(PORTAL)
    async def set_chart_measure(self, measure: str):
        if measure not in rules.MEASURES:
            return rx.toast.error("Choose a measurement from the list.")
        self.chart_measure = measure
        return await self._chart()

    @rx.event
    @requires(PORTAL)
    async def set_chart_days(self, days: str):
        if days not in {value for value, _ in DAY_CHOICES}:
            return rx.toast.error("Choose a period from the list.")
        self.chart_days = days
        return await self._chart()

    @rx.event
    @requires(PORTAL)
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload)

    @rx.event
    @requires(PORTAL)
    async def submit(self, form: dict):
        self.field_errors, self.error_text, self.saved_text, self.alert_text = {}, "", "", ""
        try:
            fields = form_fields(form, FORM_NAMES)
        except DomainError as error:
            self.field_errors = {error.field or "": str(error)}
            return
        values = {name: fields[name] for name, *_ in FIELDS[self.kind]}
        self.saving = True
        yield
        try:
            done = await self._run(
                record_home_reading,
                patient_id=self._patient(),
                kind=self.kind,
                values=values,
                measured_at=fields["measured_at"],
                glucose_unit=self.glucose_unit,
            )
        except InvalidFields as errors:
            self.saving = False
            self.field_errors = dict(errors.errors)
            yield rx.toast.error("Please check the highlighted boxes.", id="reading-error")
            return
        except DomainError as error:
            self.saving = False
            self.field_errors = {error.field or "": str(error)}
            yield rx.toast.error(str(error), id="reading-error")
            return
        self.saving = False
        self.form_key += 1
        yield rx.toast.dismiss("reading-error")
        self.saved_text = f"Saved: {done.kind_label.lower()} {done.values}, {format_local(done.measured_at, '%d %b %H:%M')}."
        self.alert_text = done.alert_text
        self.page = 1
        yield await self._reload()
        yield await self._chart()
