"""Population health figures: SQL aggregate over the summary tables -> small DataFrame -> figure.

Each ``*_frame`` function returns exactly the numbers its figure draws; the tests recompute
them from the raw clinical rows with pandas. The summary is as fresh as its last refresh
(``services.population.refresh.refresh_info``), which every screen shows. Permission is checked by
the services that call these functions (``services.population.dashboard``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Protocol

import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import case, func, select
from sqlmodel import Session

from hms_app.models.population import (
    PopulationAgeCount,
    PopulationSummary,
    Registry,
    RegistryAgeCount,
    RegistryMember,
)
from hms_app.plurals import counted

S, M = PopulationSummary, RegistryMember
P, R = PopulationAgeCount, RegistryAgeCount
SEX_ORDER = ("female", "male", "other", "unknown")
SEX_COLOURS = {"female": "#db2777", "male": "#2563eb", "other": "#7c3aed", "unknown": "#6b7280"}
TEAL, AMBER, RED = "#0d9488", "#d97706", "#dc2626"
# The legend sits above the plot: below it, it collides with long, slanted category labels.
LAYOUT = dict(
    margin=dict(l=48, r=16, t=36, b=48),
    height=320,
    paper_bgcolor="rgba(0,0,0,0)",
    plot_bgcolor="rgba(0,0,0,0)",
    legend=dict(orientation="h", x=0, y=1.02, xanchor="left", yanchor="bottom"),
    font=dict(size=12),
)
# The ages of the dashboard's bands: (label, lowest age, highest age).
AGE_BANDS = (
    ("0-17", 0, 17),
    ("18-39", 18, 39),
    ("40-64", 40, 64),
    ("65-74", 65, 74),
    ("75+", 75, 130),
)
# KDIGO G-stages by eGFR (lower edge, upper edge exclusive) and WHO BMI categories.
EGFR_STAGES = (
    ("G1", 90, None),
    ("G2", 60, 90),
    ("G3a", 45, 60),
    ("G3b", 30, 45),
    ("G4", 15, 30),
    ("G5", None, 15),
)
BMI_CATEGORIES = (
    ("Underweight", None, 18.5),
    ("Healthy", 18.5, 25),
    ("Overweight", 25, 30),
    ("Obesity", 30, None),
)


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _age_band(birth_column, on: date):
    """The dashboard's age band of a birth date on ``on``, in SQL (bands are completed years)."""
    whens = []
    for label, _low, high in AGE_BANDS[:-1]:
        whens.append((birth_column > years_before(on, high + 1), label))
    return case(*whens, else_=AGE_BANDS[-1][0])


def _percent(members: int, population: int) -> float:
    return round(100.0 * members / population, 2) if population else 0.0


def sexes_in(values) -> list[str]:
    """The sexes present in ``values``, in the figures' order (a trace per sex)."""
    present = set(values)
    return [s for s in SEX_ORDER if s in present]


# ---------------------------------------------------------------- prevalence by condition and sex


def prevalence_frame(session: Session) -> pd.DataFrame:
    """Registry members and prevalence (% of the active population) per registry and sex.

    Columns: registry, name, sex, members, population, prevalence.
    """
    # From the per-birth-date counts the refresh keeps: a few thousand rows, not a million.
    population = {
        sex: int(n) for sex, n in session.execute(select(P.sex, func.sum(P.patients)).group_by(P.sex)).all()
    }
    members = {
        (registry_id, sex): int(count)
        for registry_id, sex, count in session.execute(
            select(R.registry_id, R.sex, func.sum(R.members)).group_by(R.registry_id, R.sex)
        ).all()
    }
    registries = session.execute(
        select(Registry.id, Registry.code, Registry.name)
        .where(Registry.active.is_(True))
        .order_by(Registry.name)
    ).all()
    rows = [
        {
            "registry": code,
            "name": name,
            "sex": sex,
            "members": int(members.get((registry_id, sex), 0)),
            "population": int(population[sex]),
            "prevalence": _percent(int(members.get((registry_id, sex), 0)), int(population[sex])),
        }
        for registry_id, code, name in registries
        for sex in sexes_in(population)
    ]
    return pd.DataFrame(rows, columns=["registry", "name", "sex", "members", "population", "prevalence"])


def grouped_bars(frame: pd.DataFrame, x: str, *, y: str = "prevalence", suffix: str = "%") -> go.Figure:
    figure = go.Figure()
    for sex in sexes_in(frame["sex"]) if len(frame) else []:
        part = frame[frame["sex"] == sex]
        figure.add_trace(
            go.Bar(
                name=sex.capitalize(),
                x=part[x],
                y=part[y],
                marker_color=SEX_COLOURS[sex],
                customdata=part["members"],
                hovertemplate=f"%{{x}} · {sex}: %{{y}}{suffix} (%{{customdata}} patients)<extra></extra>",
            )
        )
    figure.update_layout(**LAYOUT, barmode="group", yaxis_title="% of patients" if suffix == "%" else "")
    figure.update_xaxes(automargin=True)
    return figure


def prevalence_figure(frame: pd.DataFrame) -> go.Figure:
    return grouped_bars(frame, "name")


# ---------------------------------------------------------------- prevalence of one registry by age band


def age_band_frame(session: Session, *, registry: str, on: date) -> pd.DataFrame:
    """One registry's members and prevalence per age band and sex (ages on ``on``).

    Columns: age_band, sex, members, population, prevalence.
    """
    registry_id = session.execute(select(Registry.id).where(Registry.code == registry)).scalar()
    band_p, band_r = _age_band(P.birth_date, on), _age_band(R.birth_date, on)
    population = {
        (band, sex): int(count)
        for band, sex, count in session.execute(
            select(band_p, P.sex, func.sum(P.patients)).group_by(band_p, P.sex)
        ).all()
    }
    members = {
        (band, sex): int(count)
        for band, sex, count in session.execute(
            select(band_r, R.sex, func.sum(R.members))
            .where(R.registry_id == registry_id)
            .group_by(band_r, R.sex)
        ).all()
    }
    sexes = sexes_in(sex for _band, sex in population)
    rows = [
        {
            "age_band": label,
            "sex": sex,
            "members": int(members.get((label, sex), 0)),
            "population": int(population.get((label, sex), 0)),
            "prevalence": _percent(int(members.get((label, sex), 0)), int(population.get((label, sex), 0))),
        }
        for label, _low, _high in AGE_BANDS
        for sex in sexes
    ]
    return pd.DataFrame(rows, columns=["age_band", "sex", "members", "population", "prevalence"])


def age_band_figure(frame: pd.DataFrame) -> go.Figure:
    return grouped_bars(frame, "age_band")


# ---------------------------------------------------------------- trend


def month_ends(on: date, months: int) -> list[date]:
    """The first day after each of the last ``months`` calendar months, the current one last."""
    firsts = [on.replace(day=1)]
    for _ in range(months - 1):
        firsts.insert(0, (firsts[0] - timedelta(days=1)).replace(day=1))
    return [(first + timedelta(days=32)).replace(day=1) for first in firsts]


def trend_frame(session: Session, *, on: date, months: int = 24) -> pd.DataFrame:
    """Current registry members whose condition began before the end of each month.

    Columns: month (YYYY-MM), registry, name, members. Members who died, left or whose
    problem resolved are not counted in earlier months either: this is today's registry by onset.
    """
    ends = month_ends(on, months)
    columns = [func.sum(case((M.onset_date < end, 1), else_=0)) for end in ends]
    counts = {
        row[0]: row[1:] for row in session.execute(select(M.registry_id, *columns).group_by(M.registry_id))
    }
    registries = session.execute(
        select(Registry.id, Registry.code, Registry.name)
        .where(Registry.active.is_(True))
        .order_by(Registry.name)
    ).all()
    rows = []
    for registry_id, code, name in registries:
        values = counts.get(registry_id, [0] * len(ends))
        for end, value in zip(ends, values, strict=True):
            label = (end - timedelta(days=1)).strftime("%Y-%m")
            rows.append({"month": label, "registry": code, "name": name, "members": int(value or 0)})
    return pd.DataFrame(rows, columns=["month", "registry", "name", "members"])


def trend_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for name in dict.fromkeys(frame["name"]):
        part = frame[frame["name"] == name]
        figure.add_trace(
            go.Scatter(
                name=name,
                x=part["month"],
                y=part["members"],
                mode="lines+markers",
                hovertemplate=f"{name}, %{{x}}: %{{y}} patients<extra></extra>",
            )
        )
    figure.update_layout(**{**LAYOUT, "margin": dict(l=48, r=16, t=56, b=48)}, yaxis_title="patients")
    months = list(dict.fromkeys(frame["month"]))
    figure.update_xaxes(type="category", tickvals=months[::-3][::-1], tickangle=0)
    return figure


# ---------------------------------------------------------------- measures by provider


class MeasureRow(Protocol):
    """A measure's counts for one provider or overall (``services.population.measures.MeasureResult``)."""

    provider_id: int | None  # 0: unattributed, None: overall
    provider: str
    denominator: int
    excluded: int
    eligible: int
    numerator: int
    rate: float | None


def measure_frame(results: Sequence[MeasureRow]) -> pd.DataFrame:
    """A measure per provider and overall (last row), from the counts the measure service made.

    Columns: provider_id (0: unattributed, -1: overall), provider, denominator, excluded,
    eligible, numerator, rate (% of eligible, None when nobody is eligible).
    """
    rows = [
        {
            "provider_id": -1 if r.provider_id is None else r.provider_id,
            "provider": r.provider,
            "denominator": r.denominator,
            "excluded": r.excluded,
            "eligible": r.eligible,
            "numerator": r.numerator,
            "rate": None if r.rate is None else round(r.rate, 1),
        }
        for r in results
    ]
    return pd.DataFrame(
        rows, columns=["provider_id", "provider", "denominator", "excluded", "eligible", "numerator", "rate"]
    )


def measure_figure(frame: pd.DataFrame, *, inverse: bool) -> go.Figure:
    """Bars of a measure's rate per provider; red when a higher rate is worse (``inverse``)."""
    colours = [
        "#475569" if pid == -1 else (RED if inverse else TEAL) for pid in frame["provider_id"].tolist()
    ]
    figure = go.Figure(
        go.Bar(
            x=frame["provider"],
            y=frame["rate"].fillna(0),
            marker_color=colours,
            customdata=frame[["numerator", "eligible"]].to_numpy(),
            hovertemplate="%{x}: %{y:.1f}% (%{customdata[0]} of %{customdata[1]})<extra></extra>",
            text=[f"{r:.1f}%" if r == r and r is not None else "–" for r in frame["rate"].tolist()],
            textposition="outside",
        )
    )
    figure.update_layout(**LAYOUT, yaxis_title="% of eligible patients", yaxis_range=[0, 110])
    return figure


# ---------------------------------------------------------------- risk distributions


def egfr_frame(session: Session) -> pd.DataFrame:
    """Adults by KDIGO G-stage of the eGFR from their latest creatinine. Columns: stage, patients."""
    stage = case(
        *[(S.egfr >= low, label) for label, low, _high in EGFR_STAGES if low is not None],
        else_=EGFR_STAGES[-1][0],
    )
    counts = dict(
        session.execute(select(stage, func.count()).where(S.egfr.is_not(None)).group_by(stage)).all()
    )
    return pd.DataFrame(
        [{"stage": label, "patients": int(counts.get(label, 0))} for label, _low, _high in EGFR_STAGES],
        columns=["stage", "patients"],
    )


def bmi_frame(session: Session, *, on: date) -> pd.DataFrame:
    """Patients by WHO category of their latest BMI (adults on ``on``). Columns: category, patients."""
    category = case(
        *[(S.bmi < high, label) for label, _low, high in BMI_CATEGORIES if high is not None],
        else_=BMI_CATEGORIES[-1][0],
    )
    adult = S.birth_date <= years_before(on, 18)
    counts = dict(
        session.execute(
            select(category, func.count()).where(S.bmi.is_not(None), adult).group_by(category)
        ).all()
    )
    return pd.DataFrame(
        [{"category": label, "patients": int(counts.get(label, 0))} for label, _low, _high in BMI_CATEGORIES],
        columns=["category", "patients"],
    )


def distribution_figure(frame: pd.DataFrame, x: str, colours: list[str]) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=frame[x],
            y=frame["patients"],
            marker_color=colours[: len(frame)],
            customdata=[counted(int(n), "patient") for n in frame["patients"]],
            hovertemplate="%{x}: %{customdata}<extra></extra>",
            text=frame["patients"],
            textposition="outside",
        )
    )
    figure.update_layout(**LAYOUT, yaxis_title="patients")
    return figure


EGFR_COLOURS = ["#0d9488", "#14b8a6", "#f59e0b", "#d97706", "#dc2626", "#991b1b"]
BMI_COLOURS = ["#f59e0b", "#0d9488", "#d97706", "#dc2626"]
