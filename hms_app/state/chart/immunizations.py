"""The chart's immunizations (on the Allergies & medications tab): the list and adding one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import reflex as rx

from hms_app.services.emr.chart import Chart
from hms_app.services.emr.immunizations import add_immunization
from hms_app.state.chart.dialogs import ChartDialogs
from hms_app.state.chart.page import ChartState, day_text
from hms_app.state.forms import form_text
from hms_app.state.session import requires


@dataclass
class ImmunizationLine:
    id: int = 0
    vaccine: str = ""
    date: str = ""
    lot: str = ""


class ChartImmunizationsState(ChartDialogs, ChartState):
    """The immunization list and its add dialog."""

    TAB: ClassVar[str] = "allergies"
    ADD_DIALOGS: ClassVar[tuple[str, ...]] = ("immunization",)

    immunizations: list[ImmunizationLine] = []

    async def _show(self, chart: Chart):
        self.immunizations = [
            ImmunizationLine(i.id, i.vaccine, day_text(i.occurrence_date), i.lot_number or "")
            for i in chart.immunizations
        ]
        return None

    async def _refresh(self) -> None:
        await self._show(await self._reread())

    @rx.event
    @requires("emr.write")
    async def submit_immunization(self, form: dict):
        def read() -> dict:
            return {
                "patient_id": self.pid,
                "vaccine": form_text(form, "vaccine"),
                "occurrence_date": form_text(form, "occurrence_date"),
                "lot_number": form_text(form, "lot_number"),
            }

        async for event in self._submit(
            ("vaccine", "occurrence_date", "lot_number"),
            read,
            add_immunization,
            lambda row: f"{row.vaccine} on {row.occurrence_date.isoformat()} recorded.",
        ):
            yield event
