"""The chart's allergies (on the Allergies & medications tab): the list, adding one, its status,
and recording "no known allergies"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import reflex as rx

from hms_app.errors import DomainError
from hms_app.services.emr import allergies as allergy_service
from hms_app.services.emr.chart import Chart
from hms_app.state.chart.dialogs import ChartDialogs
from hms_app.state.chart.page import ChartState
from hms_app.state.forms import form_text
from hms_app.state.session import requires

SEVERITY_CHOICES = tuple((severity, severity.capitalize()) for severity in allergy_service.SEVERITIES)


@dataclass
class AllergyLine:
    id: int = 0
    substance: str = ""
    reaction: str = ""
    severity: str = ""
    status: str = ""


class ChartAllergiesState(ChartDialogs, ChartState):
    """The allergy list and its add dialog; the banner shows the active ones."""

    TAB: ClassVar[str] = "allergies"
    ADD_DIALOGS: ClassVar[tuple[str, ...]] = ("allergy",)

    allergies: list[AllergyLine] = []

    async def _show(self, chart: Chart):
        self.allergies = [
            AllergyLine(a.id, a.substance, a.reaction or "", a.severity, a.status) for a in chart.allergies
        ]
        return None

    async def _refresh(self) -> None:
        await self._show(await self._reread())

    @rx.event
    @requires("emr.write")
    async def submit_allergy(self, form: dict):
        def read() -> dict:
            return {
                "patient_id": self.pid,
                "substance": form_text(form, "substance"),
                "reaction": form_text(form, "reaction"),
                "severity": form_text(form, "severity") or "moderate",
            }

        async for event in self._submit(
            ("substance", "reaction", "severity"),
            read,
            allergy_service.add_allergy,
            lambda allergy: f"Allergy to {allergy.substance} ({allergy.severity}) recorded.",
        ):
            yield event

    @rx.event
    @requires("emr.write")
    async def set_allergy_status(self, allergy_id: int, status: str):
        if status not in ("active", "inactive", "resolved"):
            return rx.toast.error("Choose an action from the menu.")
        try:
            allergy = self._pick(self.allergies, allergy_id, "allergy")
            await self._run(allergy_service.set_allergy_status, allergy_id=allergy.id, status=status)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done(f"Allergy to {allergy.substance} is now {status}.")

    @rx.event
    @requires("emr.write")
    async def record_no_known_allergies(self):
        """The clinician asked and the patient has none: recorded with who and when (refused by the
        service while an allergy is active)."""
        try:
            await self._run(allergy_service.record_no_known_allergies, patient_id=self.pid)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._done("No known allergies recorded.")
