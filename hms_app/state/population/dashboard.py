"""The population dashboard (/population): prevalence, trend, measure by provider, risk
distributions, and the click-through list of the patients behind a bar (read in SQL one page at
a time and audited by the service)."""

from __future__ import annotations

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics import population as charts
from hms_app.errors import DomainError, ValidationError
from hms_app.services.population.cohorts import list_cohort
from hms_app.services.population.dashboard import PopulationDashboard, population_dashboard
from hms_app.services.population.measures import MEASURES
from hms_app.services.population.refresh import refresh_population
from hms_app.state.population.common import (
    MEASURE_OPTIONS,
    PAGE_SIZE,
    CohortLine,
    as_of_label,
    cohort_line,
    parse_months,
)
from hms_app.state.session import SessionState, pages_for, requires, turn_page


def _first_point(points) -> tuple[str, int, int]:
    """The label, trace and index of the first clicked point, as a browser sent it."""
    if not isinstance(points, list) or not points or not isinstance(points[0], dict):
        raise ValidationError("Click a bar to list its patients.")
    point = points[0]
    x = point.get("x")
    curve, index = point.get("curveNumber", 0), point.get("pointNumber", point.get("pointIndex", 0))
    if not isinstance(x, str | int | float) or isinstance(curve, bool) or isinstance(index, bool):
        raise ValidationError("Click a bar to list its patients.")
    if not isinstance(curve, int) or not isinstance(index, int) or curve < 0 or index < 0:
        raise ValidationError("Click a bar to list its patients.")
    return str(x)[:60], curve, index


class PopulationDashboardState(SessionState):
    """The population dashboard: prevalence, trend, measure by provider, risk distributions."""

    loaded: bool = False
    as_of: str = ""
    total_patients: int = 0
    registries: list[dict[str, str]] = []
    age_registry: str = ""
    measure: str = "hba1c_poor"
    months: str = "12"
    prevalence_figure: go.Figure = EMPTY_FIGURE
    age_figure: go.Figure = EMPTY_FIGURE
    trend_figure: go.Figure = EMPTY_FIGURE
    measure_figure: go.Figure = EMPTY_FIGURE
    egfr_figure: go.Figure = EMPTY_FIGURE
    bmi_figure: go.Figure = EMPTY_FIGURE
    registry_counts: list[dict[str, str]] = []
    refreshing: bool = False
    # the click-through list
    drill_title: str = ""
    drill_rows: list[CohortLine] = []
    drill_total: int = 0
    drill_page: int = 1
    drill_loading: bool = False

    _prevalence_x: list[str] = []  # registry code of each bar position
    _prevalence_sexes: list[str] = []
    _age_sexes: list[str] = []
    _measure_providers: list[int] = []
    _drill_filters: dict = {}

    @rx.var
    def drill_page_count(self) -> int:
        return pages_for(self.drill_total, PAGE_SIZE)

    @rx.var
    def measure_options(self) -> list[list[str]]:
        return MEASURE_OPTIONS

    async def _reload(self):
        try:
            data: PopulationDashboard = await self._run(
                population_dashboard,
                age_registry=self.age_registry,
                measure=self.measure,
                months=int(self.months),
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        info = data.info
        self.as_of, self.total_patients = as_of_label(info), info.patients
        self.registries = [{"code": r.code, "name": r.name} for r in data.registries]
        self.registry_counts = [{"name": r.name, "members": str(r.members)} for r in data.registries]
        self.age_registry = data.age_registry
        prevalence, ages = data.prevalence, data.ages
        self._prevalence_x = list(dict.fromkeys(prevalence["registry"]))
        self._prevalence_sexes = charts.sexes_in(prevalence["sex"])
        self._age_sexes = charts.sexes_in(ages["sex"])
        self._measure_providers = [int(p) for p in data.measure["provider_id"]]
        self.prevalence_figure = charts.prevalence_figure(prevalence)
        self.age_figure = charts.age_band_figure(ages)
        self.trend_figure = charts.trend_figure(data.trend)
        self.measure_figure = charts.measure_figure(data.measure, inverse=MEASURES[self.measure].inverse)
        self.egfr_figure = charts.distribution_figure(data.egfr, "stage", charts.EGFR_COLOURS)
        self.bmi_figure = charts.distribution_figure(data.bmi, "category", charts.BMI_COLOURS)
        self.loaded = True
        return None

    @rx.event
    @requires("population.read")
    async def load(self):
        return await self._reload()

    @rx.event
    @requires("population.read")
    async def set_age_registry(self, code: str):
        if code not in [r["code"] for r in self.registries]:
            return rx.toast.error("Choose a condition from the list.")
        self.age_registry = code
        return await self._reload()

    @rx.event
    @requires("population.read")
    async def set_measure(self, key: str):
        if key not in MEASURES:
            return rx.toast.error("Choose a measure from the list.")
        self.measure = key
        return await self._reload()

    @rx.event
    @requires("population.read")
    async def set_months(self, value: str):
        try:
            self.months = str(parse_months(value))
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._reload()

    @rx.event
    @requires("population.manage")
    async def refresh_now(self):
        # Seconds for a hospital of thousands; a very large database is refreshed from the
        # command line (`hms population refresh`) on a schedule instead.
        if self.refreshing:
            return
        self.refreshing = True
        yield
        try:
            info = await self._run(refresh_population)
        except DomainError as error:
            self.refreshing = False
            yield rx.toast.error(str(error))
            return
        self.refreshing = False
        yield rx.toast.success(f"Recomputed for {info.patients:,} patients in {info.seconds:.1f} s.")
        yield PopulationDashboardState.load

    # ---------------------------------------------------------------- click-through

    async def _drill(self):
        self.drill_loading = True
        try:
            rows, total = await self._run(
                list_cohort,
                filters=self._drill_filters,
                page=self.drill_page,
                page_size=PAGE_SIZE,
                screen="population-dashboard",
            )
        except DomainError as error:
            self.drill_loading = False
            return rx.toast.error(str(error))
        self.drill_rows, self.drill_total, self.drill_loading = [cohort_line(r) for r in rows], total, False
        return None

    async def _open_drill(self, title: str, filters: dict):
        self.drill_title, self._drill_filters, self.drill_page = title, filters, 1
        return await self._drill()

    @rx.event
    @requires("population.read")
    async def click_prevalence(self, points: list):
        try:
            _x, curve, index = _first_point(points)
            code, sex = self._prevalence_x[index], self._prevalence_sexes[curve]
        except (DomainError, IndexError):
            return rx.toast.error("Click a bar to list its patients.")
        name = next((r["name"] for r in self.registries if r["code"] == code), code)
        return await self._open_drill(f"{name} · {sex}", {"registries": [code], "sex": sex})

    @rx.event
    @requires("population.read")
    async def click_age(self, points: list):
        try:
            _x, curve, index = _first_point(points)
            band, sex = charts.AGE_BANDS[index], self._age_sexes[curve]
        except (DomainError, IndexError):
            return rx.toast.error("Click a bar to list its patients.")
        label, low, high = band
        name = next((r["name"] for r in self.registries if r["code"] == self.age_registry), "")
        return await self._open_drill(
            f"{name} · aged {label} · {sex}",
            {"registries": [self.age_registry], "sex": sex, "age_min": low, "age_max": high},
        )

    @rx.event
    @requires("population.read")
    async def click_measure(self, points: list):
        try:
            x, _curve, index = _first_point(points)
            provider_id = self._measure_providers[index]
        except (DomainError, IndexError):
            return rx.toast.error("Click a bar to list its patients.")
        filters: dict = {"measure_gap": self.measure, "period_months": int(self.months)}
        if provider_id >= 0:
            filters["provider_id"] = provider_id
        return await self._open_drill(f"Care gaps · {MEASURES[self.measure].title} · {x}", filters)

    @rx.event
    @requires("population.read")
    async def click_egfr(self, points: list):
        try:
            _x, _curve, index = _first_point(points)
            label, low, high = charts.EGFR_STAGES[index]
        except (DomainError, IndexError):
            return rx.toast.error("Click a bar to list its patients.")
        filters: dict = {"egfr_min": 0 if low is None else low}
        if high is not None:
            filters["egfr_max"] = high
        return await self._open_drill(f"eGFR stage {label}", filters)

    @rx.event
    @requires("population.read")
    async def click_bmi(self, points: list):
        try:
            _x, _curve, index = _first_point(points)
            label, low, high = charts.BMI_CATEGORIES[index]
        except (DomainError, IndexError):
            return rx.toast.error("Click a bar to list its patients.")
        filters: dict = {"age_min": 18, "bmi_min": 5 if low is None else low}
        if high is not None:
            filters["bmi_max"] = high
        return await self._open_drill(f"BMI: {label.lower()} (adults)", filters)

    @rx.event
    @requires("population.read")
    async def drill_move(self, step: int):
        return await turn_page(self, "drill_page", step, self.drill_page_count, self._drill)

    @rx.event
    @requires("population.read")
    async def close_drill(self):
        self.drill_title, self.drill_rows, self.drill_total, self._drill_filters = "", [], 0, {}
