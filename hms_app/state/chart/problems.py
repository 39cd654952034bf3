"""The chart's Problems tab: the problem list, the ICD-10-CM search of its add dialog, resolving."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.emr.chart import Chart
from hms_app.services.emr.problems import add_condition, search_icd10, set_condition_status
from hms_app.state.chart.dialogs import ChartDialogs
from hms_app.state.chart.page import ChartState, day_text
from hms_app.state.forms import form_text
from hms_app.state.session import requires


@dataclass
class ConditionLine:
    id: int = 0
    code: str = ""
    description: str = ""
    status: str = ""
    onset: str = ""
    resolved: str = ""


@dataclass
class IcdLine:
    code: str = ""
    description: str = ""


class ChartProblemsState(ChartDialogs, ChartState):
    """The problem list, and the add and resolve dialogs."""

    TAB: ClassVar[str] = "problems"
    ADD_DIALOGS: ClassVar[tuple[str, ...]] = ("problem",)

    conditions: list[ConditionLine] = []
    icd_query: str = ""
    icd_results: list[IcdLine] = []
    icd_searching: bool = False
    icd_code: str = ""
    icd_description: str = ""

    async def _show(self, chart: Chart):
        self.conditions = [
            ConditionLine(
                c.id, c.code, c.display, c.clinical_status, day_text(c.onset_date), day_text(c.abatement_date)
            )
            for c in chart.conditions
        ]
        return None

    async def _refresh(self) -> None:
        await self._show(await self._reread())

    def _open_dialog(self, name: str, subject: str = "") -> None:
        super()._open_dialog(name, subject)
        if name == "problem":  # a new search each time the add dialog opens
            self.icd_query, self.icd_results, self.icd_code, self.icd_description = "", [], "", ""

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
        found = await asyncio.to_thread(search_icd10, self.icd_query, limit=20)
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

        def read() -> dict:
            return {
                "patient_id": self.pid,
                "code": self.icd_code,
                "onset_date": form_text(form, "onset_date"),
            }

        async for event in self._submit(
            fields,
            read,
            add_condition,
            lambda condition: f"{condition.code} {condition.display} added to the problem list.",
        ):
            yield event

    @rx.event
    @requires("emr.write")
    async def set_problem_status(self, condition_id: int, status: str):
        if status not in ("active", "inactive"):
            return rx.toast.error("Choose an action from the menu.")
        try:
            condition = self._pick(self.conditions, condition_id, "problem")
            await self._run(set_condition_status, condition_id=condition.id, clinical_status=status)
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

        def read() -> dict:
            return {
                "condition_id": self._target_id,
                "clinical_status": "resolved",
                "abatement_date": form_text(form, "abatement_date") or None,
            }

        async for event in self._submit(
            ("abatement_date",),
            read,
            set_condition_status,
            lambda condition: f"{condition.code} resolved on {condition.abatement_date.isoformat()}.",
        ):
            yield event
