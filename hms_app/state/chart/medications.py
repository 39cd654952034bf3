"""The chart's medications (on the Allergies & medications tab): the list, adding one, stopping one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import reflex as rx

from hms_app.errors import DomainError
from hms_app.services.emr.chart import Chart
from hms_app.services.emr.medications import add_medication, stop_medication
from hms_app.state.chart.dialogs import ChartDialogs
from hms_app.state.chart.page import ChartState, day_text
from hms_app.state.forms import form_text
from hms_app.state.session import requires


@dataclass
class MedicationLine:
    id: int = 0
    medication: str = ""
    dosage: str = ""
    status: str = ""
    started: str = ""
    stopped: str = ""
    stop_reason: str = ""
    order_reference: str = ""  # the active order that feeds it: stopped through the order


class ChartMedicationsState(ChartDialogs, ChartState):
    """The medication list, and the add and stop dialogs."""

    TAB: ClassVar[str] = "allergies"
    ADD_DIALOGS: ClassVar[tuple[str, ...]] = ("medication",)

    medications: list[MedicationLine] = []

    async def _show(self, chart: Chart):
        self.medications = [
            MedicationLine(
                m.id,
                m.medication,
                m.dosage or "",
                m.status,
                day_text(m.started_on),
                day_text(m.stopped_on),
                m.stop_reason or "",
                m.order_reference or "",
            )
            for m in chart.medications
        ]
        return None

    async def _refresh(self) -> None:
        await self._show(await self._reread())

    @rx.event
    @requires("emr.write")
    async def submit_medication(self, form: dict):
        def read() -> dict:
            return {
                "patient_id": self.pid,
                "medication": form_text(form, "medication"),
                "dosage": form_text(form, "dosage"),
                "started_on": form_text(form, "started_on") or None,
            }

        async for event in self._submit(
            ("medication", "dosage", "started_on"),
            read,
            add_medication,
            lambda row: f"{row.medication} added to the medication list.",
        ):
            yield event

    @rx.event
    @requires("emr.write")
    async def ask_stop(self, medication_id: int):
        try:
            row = self._pick(self.medications, medication_id, "medication")
        except DomainError as error:
            return rx.toast.error(str(error))
        if row.order_reference:
            return rx.toast.error(
                f"Stop it through its order {row.order_reference} on the Medication orders card."
            )
        self._open_dialog("stop", row.medication)
        self._target_id = row.id
        return None

    @rx.event
    @requires("emr.write")
    async def submit_stop(self, form: dict):
        if self.dialog != "stop" or not self._target_id:
            self._open_dialog("")
            return

        def read() -> dict:
            return {
                "medication_id": self._target_id,
                "reason": form_text(form, "stop_reason"),
                "stopped_on": form_text(form, "stopped_on") or None,
            }

        async for event in self._submit(
            ("stop_reason", "stopped_on"),
            read,
            stop_medication,
            lambda row: f"{row.medication} stopped: {row.stop_reason}.",
        ):
            yield event
