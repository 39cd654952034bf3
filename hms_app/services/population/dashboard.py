"""The population dashboard's figures, read with the caller's permission checked.

``analytics.population`` computes each figure's numbers (one SQL aggregate each) and checks
nothing; these functions check that the caller may read population figures first, and
``population_dashboard`` reads every figure of the dashboard in one session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlmodel import Session

from hms_app.analytics import population as charts
from hms_app.clock import local_today
from hms_app.services.permissions import Actor, authorize
from hms_app.services.population.measures import measure_results
from hms_app.services.population.refresh import RefreshInfo, refresh_info
from hms_app.services.population.registries import RegistryRow, list_registries


def prevalence_frame(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Registry members and prevalence per registry and sex."""
    authorize(actor, "population.read")
    return charts.prevalence_frame(session)


def age_band_frame(session: Session, *, actor: Actor, registry: str, on: date | None = None) -> pd.DataFrame:
    """One registry's members and prevalence per age band and sex (ages on ``on``, default today)."""
    authorize(actor, "population.read")
    return charts.age_band_frame(session, registry=registry, on=on or local_today())


def trend_frame(session: Session, *, actor: Actor, months: int = 24, on: date | None = None) -> pd.DataFrame:
    """Current registry members whose condition began before the end of each of the last months."""
    authorize(actor, "population.read")
    return charts.trend_frame(session, on=on or local_today(), months=months)


def measure_frame(session: Session, *, actor: Actor, measure: str, months: int = 12) -> pd.DataFrame:
    """A measure per provider and overall (last row)."""
    return charts.measure_frame(measure_results(session, actor=actor, measure=measure, months=months))


def egfr_frame(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Adults by KDIGO G-stage of the eGFR from their latest creatinine."""
    authorize(actor, "population.read")
    return charts.egfr_frame(session)


def bmi_frame(session: Session, *, actor: Actor, on: date | None = None) -> pd.DataFrame:
    """Adults by WHO category of their latest BMI."""
    authorize(actor, "population.read")
    return charts.bmi_frame(session, on=on or local_today())


@dataclass(frozen=True)
class PopulationDashboard:
    info: RefreshInfo
    registries: tuple[RegistryRow, ...]  # the active ones
    age_registry: str  # the registry the age bands show ("" when there is none)
    prevalence: pd.DataFrame
    ages: pd.DataFrame
    trend: pd.DataFrame
    measure: pd.DataFrame
    egfr: pd.DataFrame
    bmi: pd.DataFrame


def population_dashboard(
    session: Session, *, actor: Actor, age_registry: str, measure: str, months: int
) -> PopulationDashboard:
    """Every figure of the dashboard in one session; the age bands show ``age_registry`` if it is
    an active registry, else the first one."""
    info = refresh_info(session, actor=actor)
    registries = tuple(r for r in list_registries(session, actor=actor) if r.active)
    codes = [r.code for r in registries]
    if age_registry not in codes:
        age_registry = codes[0] if codes else ""
    return PopulationDashboard(
        info=info,
        registries=registries,
        age_registry=age_registry,
        prevalence=prevalence_frame(session, actor=actor),
        ages=age_band_frame(session, actor=actor, registry=age_registry),
        trend=trend_frame(session, actor=actor),
        measure=measure_frame(session, actor=actor, measure=measure, months=months),
        egfr=egfr_frame(session, actor=actor),
        bmi=bmi_frame(session, actor=actor),
    )
