"""Population health screens: the dashboard (/population), measures and care gaps
(/population/measures), the cohort builder (/population/cohorts) and the registries'
code sets (/population/registries).

States hold what is on screen: small figures, one page of patients, the filter values.
Every patient list is read in SQL one page at a time and audited by the service.
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics import population as charts
from hms_app.clock import format_local, utcnow
from hms_app.errors import DomainError, ValidationError
from hms_app.services import population as svc
from hms_app.services.permissions import Actor
from hms_app.state.session import SessionState, browser_id, pages_for, requires, step_page

PAGE_SIZE = 20


@dataclass
class PatientLine:
    id: int = 0
    mrn: str = ""
    name: str = ""
    sex: str = ""
    age: int = 0
    provider: str = ""
    last_visit: str = ""
    hba1c: str = ""
    bp: str = ""
    bmi: str = ""
    egfr: str = ""
    last_outreach: str = ""


def _num(value: float | None, fmt: str = "{:g}") -> str:
    return "" if value is None else fmt.format(value)


def _line(row: svc.CohortRow) -> PatientLine:
    return PatientLine(
        id=row.patient_id,
        mrn=row.mrn,
        name=row.name,
        sex=row.sex,
        age=row.age,
        provider=row.provider,
        last_visit=format_local(row.last_visit_at, "%Y-%m-%d") if row.last_visit_at else "",
        hba1c=_num(row.hba1c),
        bp=f"{row.sbp:.0f}/{row.dbp:.0f}" if row.sbp is not None and row.dbp is not None else "",
        bmi=_num(row.bmi),
        egfr=_num(row.egfr, "{:.0f}"),
        last_outreach=format_local(row.last_outreach_at, "%Y-%m-%d") if row.last_outreach_at else "",
    )


def _as_of_label(info: svc.RefreshInfo) -> str:
    if info.refreshed_at is None:
        return "not computed yet"
    return f"{format_local(info.refreshed_at)} (refreshed in {info.seconds:.1f} s)"


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


def _months(value) -> int:
    try:
        months = int(str(value))
    except ValueError as error:
        raise ValidationError("Choose a period from the list.") from error
    if months not in svc.PERIOD_MONTHS:
        raise ValidationError("Choose a period from the list.")
    return months


# ====================================================================== dashboard


def _load_dashboard(session, *, actor: Actor, age_registry: str, measure: str, months: int) -> dict:
    info = svc.refresh_info(session, actor=actor)
    registries = [r for r in svc.list_registries(session, actor=actor) if r.active]
    codes = [r.code for r in registries]
    if age_registry not in codes:
        age_registry = codes[0] if codes else ""
    prevalence = charts.prevalence_frame(session, actor=actor)
    ages = charts.age_band_frame(session, actor=actor, registry=age_registry)
    trend = charts.trend_frame(session, actor=actor)
    measure_frame = charts.measure_frame(session, actor=actor, measure=measure, months=months)
    egfr = charts.egfr_frame(session, actor=actor)
    bmi = charts.bmi_frame(session, actor=actor)
    return {
        "info": info,
        "registries": [{"code": r.code, "name": r.name, "members": r.members} for r in registries],
        "age_registry": age_registry,
        "prevalence": prevalence,
        "ages": ages,
        "trend": trend,
        "measure": measure_frame,
        "egfr": egfr,
        "bmi": bmi,
    }


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
    drill_rows: list[PatientLine] = []
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
        return [[key, m.title] for key, m in svc.MEASURES.items()]

    async def _reload(self):
        try:
            data = await self._run(
                _load_dashboard, age_registry=self.age_registry, measure=self.measure, months=int(self.months)
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        info: svc.RefreshInfo = data["info"]
        self.as_of, self.total_patients = _as_of_label(info), info.patients
        self.registries = [{"code": r["code"], "name": r["name"]} for r in data["registries"]]
        self.registry_counts = [{"name": r["name"], "members": str(r["members"])} for r in data["registries"]]
        self.age_registry = data["age_registry"]
        prevalence, ages = data["prevalence"], data["ages"]
        self._prevalence_x = list(dict.fromkeys(prevalence["registry"]))
        self._prevalence_sexes = charts._sexes(prevalence["sex"])
        self._age_sexes = charts._sexes(ages["sex"])
        self._measure_providers = [int(p) for p in data["measure"]["provider_id"]]
        self.prevalence_figure = charts.prevalence_figure(prevalence)
        self.age_figure = charts.age_band_figure(ages)
        self.trend_figure = charts.trend_figure(data["trend"])
        self.measure_figure = charts.measure_figure(data["measure"], self.measure)
        self.egfr_figure = charts.distribution_figure(data["egfr"], "stage", charts.EGFR_COLOURS)
        self.bmi_figure = charts.distribution_figure(data["bmi"], "category", charts.BMI_COLOURS)
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
        if key not in svc.MEASURES:
            return rx.toast.error("Choose a measure from the list.")
        self.measure = key
        return await self._reload()

    @rx.event
    @requires("population.read")
    async def set_months(self, value: str):
        try:
            self.months = str(_months(value))
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
            info = await self._run(svc.refresh_population)
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
                svc.list_cohort,
                filters=self._drill_filters,
                page=self.drill_page,
                page_size=PAGE_SIZE,
                screen="population-dashboard",
            )
        except DomainError as error:
            self.drill_loading = False
            return rx.toast.error(str(error))
        self.drill_rows, self.drill_total, self.drill_loading = [_line(r) for r in rows], total, False
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
            band, sex = svc.AGE_BANDS[index], self._age_sexes[curve]
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
        return await self._open_drill(f"Care gaps · {svc.MEASURES[self.measure].title} · {x}", filters)

    @rx.event
    @requires("population.read")
    async def click_egfr(self, points: list):
        try:
            _x, _curve, index = _first_point(points)
            label, low, high = svc.EGFR_STAGES[index]
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
            label, low, high = svc.BMI_CATEGORIES[index]
        except (DomainError, IndexError):
            return rx.toast.error("Click a bar to list its patients.")
        filters: dict = {"age_min": 18, "bmi_min": 5 if low is None else low}
        if high is not None:
            filters["bmi_max"] = high
        return await self._open_drill(f"BMI: {label.lower()} (adults)", filters)

    @rx.event
    @requires("population.read")
    async def drill_move(self, step: int):
        page = step_page(self.drill_page, step, self.drill_page_count)
        if page == self.drill_page:
            return None
        self.drill_page = page
        return await self._drill()

    @rx.event
    @requires("population.read")
    async def close_drill(self):
        self.drill_title, self.drill_rows, self.drill_total, self._drill_filters = "", [], 0, {}


# ====================================================================== measures and care gaps


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


def _load_measures(session, *, actor: Actor, measure: str, months: int) -> tuple:
    info = svc.refresh_info(session, actor=actor)
    results = svc.measure_results(session, actor=actor, measure=measure, months=months)
    return info, results


class MeasuresState(SessionState):
    """Measures per provider and overall, and the care-gap worklist with outreach."""

    loaded: bool = False
    as_of: str = ""
    measure: str = "hba1c_poor"
    months: str = "12"
    results: list[MeasureLine] = []
    gap_provider: str = "all"  # "all", "0" (unattributed) or a provider id
    gap_rows: list[PatientLine] = []
    gap_total: int = 0
    gap_page: int = 1
    gap_loading: bool = False
    sending: int = 0  # the patient whose outreach is being sent

    @rx.var
    def measure_options(self) -> list[list[str]]:
        return [[key, m.title] for key, m in svc.MEASURES.items()]

    @rx.var
    def definition(self) -> dict[str, str]:
        m = svc.MEASURES.get(self.measure, svc.MEASURES["hba1c_poor"])
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
            info, results = await self._run(_load_measures, measure=self.measure, months=int(self.months))
        except DomainError as error:
            return rx.toast.error(str(error))
        self.as_of = _as_of_label(info)
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
            for r in results
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
                svc.list_cohort, filters=filters, page=self.gap_page, page_size=PAGE_SIZE, screen="care-gaps"
            )
        except DomainError as error:
            self.gap_loading = False
            return rx.toast.error(str(error))
        self.gap_rows, self.gap_total, self.gap_loading = [_line(r) for r in rows], total, False
        return None

    @rx.event
    @requires("population.read")
    async def load(self):
        return await self._reload()

    @rx.event
    @requires("population.read")
    async def set_measure(self, key: str):
        if key not in svc.MEASURES:
            return rx.toast.error("Choose a measure from the list.")
        self.measure, self.gap_page = key, 1
        return await self._reload()

    @rx.event
    @requires("population.read")
    async def set_months(self, value: str):
        try:
            self.months = str(_months(value))
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
        page = step_page(self.gap_page, step, self.gap_page_count)
        if page == self.gap_page:
            return None
        self.gap_page = page
        return await self._gaps()

    @rx.event
    @requires("population.manage")
    async def send_outreach(self, patient_id, kind: str):
        try:
            pid = browser_id(patient_id, "patient")
            if pid not in [r.id for r in self.gap_rows]:
                raise ValidationError("Choose a patient from the worklist.")
            self.sending = pid
            await self._run(svc.send_outreach, patient_id=pid, kind=kind, measure=self.measure)
        except DomainError as error:
            self.sending = 0
            return rx.toast.error(str(error))
        self.sending = 0
        label = svc.OUTREACH_KINDS.get(kind, "Message")
        await self._gaps()
        return rx.toast.success(f"{label} sent.")


# ====================================================================== cohort builder

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


def _load_cohort_page(session, *, actor: Actor) -> dict:
    return {
        "registries": [r for r in svc.list_registries(session, actor=actor) if r.active],
        "medications": svc.medication_options(session, actor=actor),
        "providers": svc.provider_options(session, actor=actor),
        "saved": svc.list_saved_cohorts(session, actor=actor),
        "info": svc.refresh_info(session, actor=actor),
    }


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
    rows: list[PatientLine] = []
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
            self.count = await self._run(svc.count_cohort, filters=self._raw())
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
                svc.list_cohort,
                filters=self._raw(),
                page=self.page,
                page_size=PAGE_SIZE,
                screen="cohort-builder",
            )
        except DomainError as error:
            self.listing = False
            return rx.toast.error(str(error))
        self.rows, self.total, self.listed, self.listing = [_line(r) for r in rows], total, True, False
        return None

    async def _load_options(self):
        data = await self._run(_load_cohort_page)
        self.registry_options = [[r.code, r.name] for r in data["registries"]]
        self.medication_options = data["medications"]
        self.provider_options = [["all", "Any provider"], ["0", "No provider"]] + [
            [str(p.id), p.name] for p in data["providers"]
        ]
        self.saved = [
            SavedLine(
                c.id,
                c.name,
                svc.parse_filter(c.filters).describe(),
                f"{c.created_by}, {format_local(c.created_at, '%Y-%m-%d')}",
            )
            for c in data["saved"]
        ]
        self.as_of = _as_of_label(data["info"])

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
        if key not in FILTER_FIELDS or not isinstance(value, str) or len(value) > 200:
            return rx.toast.error("This filter could not be read.")
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
        page = step_page(self.page, step, self.page_count)
        if page == self.page:
            return None
        self.page = page
        return await self._list()

    @rx.event
    @requires("population.manage")
    async def set_save_name(self, value: str):
        self.save_name = value[:120] if isinstance(value, str) else ""

    @rx.event
    @requires("population.manage")
    async def save(self):
        try:
            await self._run(svc.save_cohort, name=self.save_name, filters=self._raw())
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
            stored = await self._run(svc.list_saved_cohorts)
            filters = next(c.filters for c in stored if c.id == wanted)
            flt = svc.parse_filter(filters)
        except (DomainError, StopIteration) as error:
            return rx.toast.error(str(error) or "That cohort no longer exists.")
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
            await self._run(svc.delete_cohort, cohort_id=browser_id(cohort_id, "cohort"))
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
            text, written = await self._run(svc.export_cohort_csv, filters=self._raw())
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


# ====================================================================== registries


@dataclass
class RegistryLine:
    id: int = 0
    code: str = ""
    name: str = ""
    active: bool = True
    prefixes: str = ""
    members: int = 0


class RegistriesState(SessionState):
    """The registries and their ICD-10-CM code sets."""

    loaded: bool = False
    rows: list[RegistryLine] = []
    form_key: int = 0  # changes after a save so that the forms show the stored values again
    error_registry: int = -1  # the form showing error_text (0: the new-registry form)
    error_text: str = ""
    saving: bool = False

    async def _reload(self):
        rows = await self._run(svc.list_registries)
        self.rows = [
            RegistryLine(r.id, r.code, r.name, r.active, ", ".join(r.prefixes), r.members) for r in rows
        ]

    @rx.event
    @requires("population.read")
    async def load(self):
        try:
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        self.loaded = True
        return None

    @rx.event
    @requires("population.manage")
    async def save(self, form: dict):
        if not isinstance(form, dict):
            return rx.toast.error("This form could not be read.")
        raw_id = str(form.get("registry_id") or "0")
        registry_id = 0
        try:
            registry_id = 0 if raw_id == "0" else browser_id(raw_id, "registry")
            if registry_id and registry_id not in [r.id for r in self.rows]:
                raise ValidationError("Choose a registry from the list.")
            self.saving = True
            row = await self._run(
                svc.save_registry,
                registry_id=registry_id or None,
                code=str(form.get("code") or "")[:40],
                name=str(form.get("name") or "")[:200],
                prefixes=str(form.get("prefixes") or "")[:2000],
                active=str(form.get("active") or "").lower() in ("on", "true", "1"),
            )
            await self._reload()
        except DomainError as error:
            self.saving = False
            self.error_registry, self.error_text = registry_id, str(error)
            return rx.toast.error(str(error))
        self.saving, self.error_registry, self.error_text = False, -1, ""
        self.form_key += 1
        return rx.toast.success(f"{row.name}: {row.members:,} patients in the registry now.")
