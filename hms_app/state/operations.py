"""The operations dashboard (/analytics/operations): appointment volume, no-shows, waiting
times, bed occupancy, turnaround and telehealth, each a small figure computed in SQL."""

from __future__ import annotations

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics import operations as charts
from hms_app.analytics import telehealth_activity as telehealth
from hms_app.analytics.laboratory import turnaround_rows
from hms_app.errors import DomainError
from hms_app.services.operations import PERIOD_DAYS as PERIOD_DAYS  # the page's period choices
from hms_app.services.operations import OperationsDashboard, operations_dashboard
from hms_app.state.session import SessionState, requires


class OperationsState(SessionState):
    loaded: bool = False
    days: str = "30"
    department: str = "all"
    departments: list[list[str]] = []
    kpis: dict[str, str] = {}
    volume_figure: go.Figure = EMPTY_FIGURE
    no_show_figure: go.Figure = EMPTY_FIGURE
    wait_figure: go.Figure = EMPTY_FIGURE
    occupancy_figure: go.Figure = EMPTY_FIGURE
    has_volume: bool = False
    has_no_shows: bool = False
    has_waits: bool = False
    has_beds: bool = False
    # The laboratory's turnaround: [stage, median minutes as shown, orders counted] per stage.
    lab_turnaround: list[list[str]] = []
    has_lab_turnaround: bool = False
    imaging_turnaround: list[list[str]] = []
    has_imaging_turnaround: bool = False
    telehealth_figure: go.Figure = EMPTY_FIGURE
    has_telehealth: bool = False
    telehealth_kpis: dict[str, str] = {}

    async def _reload(self):
        department_id = None if self.department == "all" else int(self.department)
        try:
            data: OperationsDashboard = await self._run(
                operations_dashboard, days=int(self.days), department_id=department_id
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        self.departments = [["all", "All departments"], *data.departments]
        volume, no_shows, waits, beds = data.volume, data.no_shows, data.waits, data.beds
        self.kpis = charts.summary(volume, data.no_show_overall, waits, beds)
        self.volume_figure = charts.volume_figure(volume)
        self.no_show_figure = charts.no_show_figure(no_shows)
        self.wait_figure = charts.wait_figure(waits)
        self.occupancy_figure = charts.occupancy_figure(beds)
        self.has_volume = bool(volume["appointments"].sum())
        self.has_no_shows, self.has_waits, self.has_beds = len(no_shows) > 0, len(waits) > 0, len(beds) > 0
        self.lab_turnaround = turnaround_rows(data.lab_turnaround)
        self.has_lab_turnaround = bool(data.lab_turnaround["count"].sum())
        self.imaging_turnaround = turnaround_rows(data.imaging_turnaround)
        self.has_imaging_turnaround = bool(data.imaging_turnaround["count"].sum())
        self.telehealth_figure = telehealth.activity_figure(data.telehealth_weeks)
        self.has_telehealth = telehealth.has_activity(data.telehealth_weeks)
        self.telehealth_kpis = telehealth.telehealth_kpis(data.telehealth_weeks, data.video_timing)
        self.loaded = True
        return None

    @rx.event
    @requires("analytics.read")
    async def load(self):
        return await self._reload()

    @rx.event
    @requires("analytics.read")
    async def set_days(self, value: str):
        if value not in [str(d) for d in PERIOD_DAYS]:
            return rx.toast.error("Choose a period from the list.")
        self.days = value
        return await self._reload()

    @rx.event
    @requires("analytics.read")
    async def set_department(self, value: str):
        if value not in [d[0] for d in self.departments]:
            return rx.toast.error("Choose a department from the list.")
        self.department = value
        return await self._reload()
