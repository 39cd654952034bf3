"""Measures and care gaps (/population/measures): a measure per provider and overall, and the
care-gap worklist with outreach."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.population.cohorts import list_cohort
from hms_app.services.population.measures import MEASURES, measure_report
from hms_app.services.population.outreach import OUTREACH_KINDS, send_outreach
from hms_app.state.population.common import (
    MEASURE_OPTIONS,
    PAGE_SIZE,
    CohortLine,
    as_of_label,
    cohort_line,
    parse_months,
)
from hms_app.state.session import SessionState, browser_id, pages_for, requires, turn_page


@dataclass
class MeasureLine:
    provider_id: int = 0
    provider: str = ""
    denominator: int = 0
    excluded: int = 0
    eligible: int = 0
    numerator: int = 0
    rate: str = ""
    overall: bool = False


class MeasuresState(SessionState):
    """Measures per provider and overall, and the care-gap worklist with outreach."""

    loaded: bool = False
    as_of: str = ""
    measure: str = "hba1c_poor"
    months: str = "12"
    results: list[MeasureLine] = []
    gap_provider: str = "all"  # "all", "0" (unattributed) or a provider id
    gap_rows: list[CohortLine] = []
    gap_total: int = 0
    gap_page: int = 1
    gap_loading: bool = False
    sending: int = 0  # the patient whose outreach is being sent

    @rx.var
    def measure_options(self) -> list[list[str]]:
        return MEASURE_OPTIONS

    @rx.var
    def definition(self) -> dict[str, str]:
        m = MEASURES.get(self.measure, MEASURES["hba1c_poor"])
        return {
            "title": m.title,
            "denominator": m.denominator,
            "numerator": m.numerator,
            "exclusions": m.exclusions,
            "direction": "Lower is better" if m.inverse else "Higher is better",
            "gap": m.gap,
        }

    @rx.var
    def provider_choices(self) -> list[list[str]]:
        return [["all", "All providers"]] + [
            [str(r.provider_id), r.provider] for r in self.results if not r.overall
        ]

    @rx.var
    def gap_page_count(self) -> int:
        return pages_for(self.gap_total, PAGE_SIZE)

    async def _reload(self):
        try:
            report = await self._run(measure_report, measure=self.measure, months=int(self.months))
        except DomainError as error:
            return rx.toast.error(str(error))
        self.as_of = as_of_label(report.info)
        self.results = [
            MeasureLine(
                provider_id=r.provider_id if r.provider_id is not None else -1,
                provider=r.provider,
                denominator=r.denominator,
                excluded=r.excluded,
                eligible=r.eligible,
                numerator=r.numerator,
                rate="–" if r.rate is None else f"{r.rate:.1f}%",
                overall=r.provider_id is None,
            )
            for r in report.results
        ]
        if self.gap_provider not in [c[0] for c in self.provider_choices]:
            self.gap_provider = "all"
        self.loaded = True
        return await self._gaps()

    async def _gaps(self):
        filters: dict = {"measure_gap": self.measure, "period_months": int(self.months)}
        if self.gap_provider != "all":
            filters["provider_id"] = self.gap_provider
        self.gap_loading = True
        try:
            rows, total = await self._run(
                list_cohort, filters=filters, page=self.gap_page, page_size=PAGE_SIZE, screen="care-gaps"
            )
        except DomainError as error:
            self.gap_loading = False
            return rx.toast.error(str(error))
        self.gap_rows, self.gap_total, self.gap_loading = [cohort_line(r) for r in rows], total, False
        return None

    @rx.event
    @requires("population.read")
    async def load(self):
        return await self._reload()

    @rx.event
    @requires("population.read")
    async def set_measure(self, key: str):
        if key not in MEASURES:
            return rx.toast.error("Choose a measure from the list.")
        self.measure, self.gap_page = key, 1
        return await self._reload()

    @rx.event
    @requires("population.read")
    async def set_months(self, value: str):
        try:
            self.months = str(parse_months(value))
        except DomainError as error:
            return rx.toast.error(str(error))
        self.gap_page = 1
        return await self._reload()

    @rx.event
    @requires("population.read")
    async def set_gap_provider(self, value: str):
        if value not in [c[0] for c in self.provider_choices]:
            return rx.toast.error("Choose a provider from the list.")
        self.gap_provider, self.gap_page = value, 1
        return await self._gaps()

    @rx.event
    @requires("population.read")
    async def gap_move(self, step: int):
        return await turn_page(self, "gap_page", step, self.gap_page_count, self._gaps)

    @rx.event
    @requires("population.manage")
    async def send_outreach(self, patient_id, kind: str):
        try:
            pid = browser_id(patient_id, "patient")
            if pid not in [r.id for r in self.gap_rows]:
                raise ValidationError("Choose a patient from the worklist.")
            self.sending = pid
            await self._run(send_outreach, patient_id=pid, kind=kind, measure=self.measure)
        except DomainError as error:
            self.sending = 0
            return rx.toast.error(str(error))
        self.sending = 0
        label = OUTREACH_KINDS.get(kind, "Message")
        await self._gaps()
        return rx.toast.success(f"{label} sent.")
