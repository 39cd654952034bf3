"""No-show rates (/schedule/stats): per provider and per patient over a period, for one
department or all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics.scheduling import no_show_figure
from hms_app.clock import local_today
from hms_app.errors import DomainError
from hms_app.services.scheduling.stats import NoShowRate, no_show_report
from hms_app.state.scheduling.common import ANY, Option
from hms_app.state.session import SessionState, requires


@dataclass
class RateLine:
    id: int = 0
    name: str = ""
    appointments: int = 0
    no_shows: int = 0
    rate: str = ""  # "12.5 %"
    high: bool = False


PERIODS = {"30": 30, "90": 90, "365": 365}
HIGH_RATE = 0.2  # a provider or patient above this is flagged on the screen


def _rate_line(row: NoShowRate) -> RateLine:
    return RateLine(
        row.id, row.name, row.appointments, row.no_shows, f"{row.rate * 100:.1f} %", row.rate >= HIGH_RATE
    )


class NoShowState(SessionState):
    """No-show rates per provider and per patient over a period, for one department or all."""

    departments: list[Option] = []
    department_id: str = ANY
    period: str = "90"
    providers: list[RateLine] = []
    patients: list[RateLine] = []
    overall: str = ""
    figure: go.Figure = EMPTY_FIGURE
    loaded: bool = False

    async def _reload(self):
        end = local_today()
        start = end - timedelta(days=PERIODS[self.period] - 1)
        department = int(self.department_id) if self.department_id.isdigit() else None
        try:
            result = await self._run(no_show_report, start_day=start, end_day=end, department_id=department)
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        self.departments = [Option(str(d.id), d.name) for d in result.departments]
        self.providers = [_rate_line(r) for r in result.providers]
        self.patients = [_rate_line(r) for r in result.patients]
        self.overall = result.overall
        self.figure = no_show_figure(result.providers)
        self.loaded = True
        return None

    @rx.event
    @requires("appointment.read")
    async def load(self):
        return await self._reload()

    @rx.event
    @requires("appointment.read")
    async def set_period(self, value: str):
        if value not in PERIODS:
            return rx.toast.error("Choose a period from the list.")
        self.period = value
        return await self._reload()

    @rx.event
    @requires("appointment.read")
    async def set_department(self, value: str):
        if value != ANY and value not in {d.id for d in self.departments}:
            return rx.toast.error("Choose a department from the list.")
        self.department_id = value
        return await self._reload()
