"""The cohort builder (/population/cohorts): filters, a live count, one page of patients,
saved cohorts and the CSV export."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.clock import format_local, utcnow
from hms_app.errors import DomainError, ValidationError
from hms_app.services.population.cohorts import (
    cohort_builder_options,
    count_cohort,
    delete_cohort,
    export_cohort_csv,
    list_cohort,
    save_cohort,
    saved_cohort_filter,
)
from hms_app.state.forms import value_text
from hms_app.state.population.common import (
    PAGE_SIZE,
    CohortLine,
    as_of_label,
    cohort_line,
)
from hms_app.state.session import SessionState, browser_id, pages_for, requires, turn_page

FILTER_LIMIT = 200  # a number, a sex or an ICD-10 prefix; anything longer was not typed into the filter
NAME_LIMIT = 120  # the saved cohort's name (the input stops there too)
FILTER_FIELDS = (
    "age_min",
    "age_max",
    "sex",
    "hba1c_min",
    "hba1c_max",
    "sbp_min",
    "sbp_max",
    "bmi_min",
    "bmi_max",
    "egfr_min",
    "egfr_max",
    "medication",
    "visit_within_days",
    "no_visit_days",
    "provider_id",
)


@dataclass
class SavedLine:
    id: int = 0
    name: str = ""
    summary: str = ""
    created: str = ""


class CohortState(SessionState):
    """The cohort builder: filters, a live count, one page of patients, saved cohorts, export."""

    loaded: bool = False
    as_of: str = ""
    values: dict[str, str] = {key: "" for key in FILTER_FIELDS}
    registries: list[str] = []
    registry_options: list[list[str]] = []
    medication_options: list[str] = []
    provider_options: list[list[str]] = []
    count: int = 0
    counting: bool = False
    error_field: str = ""
    error_text: str = ""
    rows: list[CohortLine] = []
    total: int = 0
    page: int = 1
    listed: bool = False
    listing: bool = False
    saved: list[SavedLine] = []
    save_name: str = ""
    exporting: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    def _raw(self) -> dict:
        raw: dict = {key: value for key, value in self.values.items() if value not in ("", "all")}
        raw["registries"] = list(self.registries)
        return raw

    async def _count(self):
        self.counting = True
        try:
            self.count = await self._run(count_cohort, filters=self._raw())
            self.error_field = self.error_text = ""
        except ValidationError as error:
            self.error_field, self.error_text = error.field or "", str(error)
        except DomainError as error:
            self.counting = False
            return rx.toast.error(str(error))
        self.counting = False
        if self.listed and not self.error_text:
            return await self._list()
        return None

    async def _list(self):
        self.listing = True
        try:
            rows, total = await self._run(
                list_cohort,
                filters=self._raw(),
                page=self.page,
                page_size=PAGE_SIZE,
                screen="cohort-builder",
            )
        except DomainError as error:
            self.listing = False
            return rx.toast.error(str(error))
        self.rows, self.total, self.listed, self.listing = [cohort_line(r) for r in rows], total, True, False
        return None

    async def _load_options(self):
        data = await self._run(cohort_builder_options)
        self.registry_options = [[r.code, r.name] for r in data.registries]
        self.medication_options = data.medications
        self.provider_options = [["all", "Any provider"], ["0", "No provider"]] + [
            [str(p.id), p.name] for p in data.providers
        ]
        self.saved = [
            SavedLine(
                c.id,
                c.name,
                c.summary,
                f"{c.created_by}, {format_local(c.created_at, '%Y-%m-%d')}",
            )
            for c in data.saved
        ]
        self.as_of = as_of_label(data.info)

    @rx.event
    @requires("population.read")
    async def load(self):
        try:
            await self._load_options()
        except DomainError as error:
            return rx.toast.error(str(error))
        self.loaded = True
        return await self._count()

    @rx.event
    @requires("population.read")
    async def set_value(self, key: str, value: str):
        if key not in FILTER_FIELDS:
            return rx.toast.error("This filter could not be read.")
        try:
            value = value_text(value, key, limit=FILTER_LIMIT)
        except ValidationError as error:
            return rx.toast.error(str(error))
        self.values = {**self.values, key: value.strip()}
        self.page = 1
        return await self._count()

    @rx.event
    @requires("population.read")
    async def toggle_registry(self, code: str, checked: bool):
        if code not in [o[0] for o in self.registry_options]:
            return rx.toast.error("Choose conditions from the list.")
        chosen = [c for c in self.registries if c != code]
        if checked:
            chosen.append(code)
        self.registries, self.page = sorted(chosen), 1
        return await self._count()

    @rx.event
    @requires("population.read")
    async def clear(self):
        self.values = {key: "" for key in FILTER_FIELDS}
        self.registries, self.page, self.listed, self.rows, self.total = [], 1, False, [], 0
        return await self._count()

    @rx.event
    @requires("population.read")
    async def show_patients(self):
        if self.error_text:
            return rx.toast.error(self.error_text)
        self.page = 1
        return await self._list()

    @rx.event
    @requires("population.read")
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._list)

    @rx.event
    @requires("population.manage")
    async def set_save_name(self, value: str):
        try:
            self.save_name = value_text(value, "save_name", limit=NAME_LIMIT, label="cohort name")
        except ValidationError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("population.manage")
    async def save(self):
        try:
            await self._run(save_cohort, name=self.save_name, filters=self._raw())
            await self._load_options()
        except DomainError as error:
            return rx.toast.error(str(error))
        name, self.save_name = self.save_name.strip(), ""
        return rx.toast.success(f"Cohort “{name}” saved.")

    @rx.event
    @requires("population.read")
    async def apply_saved(self, cohort_id):
        try:
            wanted = browser_id(cohort_id, "cohort")
            cohort = next((c for c in self.saved if c.id == wanted), None)
            if cohort is None:
                raise ValidationError("Choose a cohort from the list.")
            flt = await self._run(saved_cohort_filter, cohort_id=wanted)
        except DomainError as error:
            return rx.toast.error(str(error))
        data = flt.as_dict()
        self.values = {key: ("" if data.get(key) is None else str(data[key])) for key in FILTER_FIELDS}
        if flt.provider_id is None:
            self.values = {**self.values, "provider_id": ""}
        self.registries = list(flt.registries)
        self.page, self.listed = 1, True
        await self._count()
        return rx.toast.info(f"Showing cohort “{cohort.name}”.")

    @rx.event
    @requires("population.manage")
    async def delete_saved(self, cohort_id):
        try:
            await self._run(delete_cohort, cohort_id=browser_id(cohort_id, "cohort"))
            await self._load_options()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success("Cohort deleted.")

    @rx.event
    @requires("population.read")
    async def export_csv(self):
        if self.error_text:
            return rx.toast.error(self.error_text)
        self.exporting = True
        try:
            text, written = await self._run(export_cohort_csv, filters=self._raw())
        except DomainError as error:
            self.exporting = False
            return rx.toast.error(str(error))
        self.exporting = False
        stamp = format_local(utcnow(), "%Y%m%d-%H%M")
        # The CSV goes to the browser once, as a download; the state does not keep it.
        return [
            rx.download(data=text, filename=f"cohort-{stamp}.csv", mime_type="text/csv"),
            rx.toast.success(f"Exported {written:,} patients."),
        ]
