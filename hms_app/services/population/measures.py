"""Quality measures over the population summary, per provider and overall.

Measures (written down here and shown on the measures page):

* **HbA1c poor control (> 9 %)** — inverse: lower is better.
  Denominator: members of the diabetes registry aged 18-75 at the end of the period.
  Exclusions: palliative care (an active Z51.5 problem).
  Numerator: the most recent HbA1c in the period is above 9.0 %, or there is none in the period.
* **Controlling high blood pressure** — Denominator: members of the hypertension registry aged
  18-85. Exclusions: palliative care, end-stage renal disease (N18.6). Numerator: the most recent
  blood pressure in the period is below 140/90 (systolic < 140 and diastolic < 90).
* **BMI screening** — Denominator: patients aged 18 or more with a visit in the period.
  Exclusions: palliative care, pregnancy (O00-O9A, Z33.1). Numerator: a BMI recorded in the period.

The period runs from its start to the time of the last refresh (the summary's "as of"). "Most
recent" is by effective time; two results at the same time are ordered by the order they were
recorded (the later row wins). A patient's provider is the practitioner of their most recent
encounter that names one.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlmodel import Session

from hms_app.analytics.population import years_before
from hms_app.clock import to_local
from hms_app.errors import ValidationError
from hms_app.models.population import (
    PopulationSummary,
    Registry,
    RegistryMember,
)
from hms_app.models.security import AppUser
from hms_app.services.permissions import Actor, authorize
from hms_app.services.population.refresh import RefreshInfo, refresh_info, summary_as_of

PERIOD_MONTHS = (3, 6, 12, 24)


@dataclass(frozen=True)
class Measure:
    key: str
    title: str
    inverse: bool  # True: a higher rate is worse (poor control)
    registry: str | None
    min_age: int
    max_age: int | None
    denominator: str
    numerator: str
    exclusions: str
    gap: str  # what the patient on the worklist is missing


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure(
            "hba1c_poor",
            "Diabetes: HbA1c poor control (> 9 %)",
            True,
            "diabetes",
            18,
            75,
            "Diabetes registry members aged 18-75 at the end of the period.",
            "Most recent HbA1c in the period above 9.0 %, or no HbA1c in the period.",
            "Palliative care (active Z51.5).",
            "HbA1c above 9 % or not measured",
        ),
        Measure(
            "bp_control",
            "Hypertension: controlling blood pressure (< 140/90)",
            False,
            "hypertension",
            18,
            85,
            "Hypertension registry members aged 18-85 at the end of the period.",
            "Most recent blood pressure in the period below 140/90.",
            "Palliative care (Z51.5); end-stage renal disease (N18.6).",
            "Blood pressure 140/90 or above, or not measured",
        ),
        Measure(
            "bmi_screening",
            "BMI screening",
            False,
            None,
            18,
            None,
            "Patients aged 18 or more with a visit in the period.",
            "A BMI recorded in the period.",
            "Palliative care (Z51.5); pregnancy (O00-O9A, Z33.1).",
            "No BMI in the period",
        ),
    )
}

S = PopulationSummary


def age_between(low: int | None, high: int | None, on: date):
    """An SQL condition on the summary's birth date: completed age in [low, high] on ``on``."""
    clauses = []
    if low is not None and low > 0:
        clauses.append(S.birth_date <= years_before(on, low))
    if high is not None:
        clauses.append(S.birth_date > years_before(on, high + 1))
    return and_(true(), *clauses)


def period_start(as_of: datetime, months: int) -> datetime:
    """The start of a period of ``months`` months that ends at ``as_of``."""
    month = as_of.month - months
    year = as_of.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    day = min(as_of.day, calendar.monthrange(year, month)[1])  # 31 May - 3 months = 28/29 February
    return as_of.replace(year=year, month=month, day=day)


def member_of(session: Session, registry_code: str):
    registry_id = session.execute(select(Registry.id).where(Registry.code == registry_code)).scalar()
    if registry_id is None:
        return false()
    return exists().where(
        RegistryMember.registry_id == registry_id, RegistryMember.patient_id == S.patient_id
    )


@dataclass(frozen=True)
class MeasureClauses:
    denominator: object
    excluded: object
    numerator: object
    gap: object  # in the denominator, not excluded, and in need of care


def measure_clauses(session: Session, measure: Measure, *, as_of: datetime, months: int) -> MeasureClauses:
    """The SQL conditions of a measure over the population summary, for a period ending ``as_of``."""
    start = period_start(as_of, months)
    end_day = to_local(as_of).date()
    denominator = [age_between(measure.min_age, measure.max_age, end_day)]
    if measure.registry:
        denominator.append(member_of(session, measure.registry))
    if measure.key == "hba1c_poor":
        excluded = S.palliative.is_(True)
        numerator = or_(S.hba1c_at.is_(None), S.hba1c_at < start, S.hba1c > 9.0)
    elif measure.key == "bp_control":
        excluded = or_(S.palliative.is_(True), S.esrd.is_(True))
        # Spelled out for NULLs: a patient without a reading is not controlled (NOT NULL is NULL).
        numerator = and_(
            S.bp_at.is_not(None),
            S.sbp.is_not(None),
            S.dbp.is_not(None),
            S.bp_at >= start,
            S.sbp < 140,
            S.dbp < 90,
        )
    else:
        denominator.append(S.last_visit_at >= start)
        excluded = or_(S.palliative.is_(True), S.pregnant.is_(True))
        numerator = and_(S.bmi_at.is_not(None), S.bmi_at >= start)
    denominator_clause = and_(*denominator)
    in_need = numerator if measure.inverse else ~numerator
    return MeasureClauses(
        denominator_clause, excluded, numerator, and_(denominator_clause, ~excluded, in_need)
    )


@dataclass(frozen=True)
class MeasureResult:
    measure: str
    provider_id: int | None  # 0: patients attributed to nobody; None: the overall row
    provider: str
    denominator: int  # before exclusions
    excluded: int
    numerator: int
    eligible: int  # denominator minus exclusions

    @property
    def rate(self) -> float | None:
        return None if self.eligible == 0 else 100.0 * self.numerator / self.eligible


def measure_results(session: Session, *, actor: Actor, measure: str, months: int = 12) -> list[MeasureResult]:
    """A measure per provider (patients without one are "Unattributed") and overall, last row."""
    authorize(actor, "population.read")
    if measure not in MEASURES:
        raise ValidationError("Choose a measure from the list.", field="measure")
    if months not in PERIOD_MONTHS:
        raise ValidationError("Choose a period from the list.", field="period_months")
    spec = MEASURES[measure]
    clauses = measure_clauses(session, spec, as_of=summary_as_of(session), months=months)
    eligible = and_(~clauses.excluded)
    rows = session.execute(
        select(
            S.provider_id,
            func.count(),
            func.sum(case((clauses.excluded, 1), else_=0)),
            func.sum(case((and_(eligible, clauses.numerator), 1), else_=0)),
        )
        .where(clauses.denominator)
        .group_by(S.provider_id)
    ).all()
    names = dict(
        session.execute(
            select(AppUser.id, func.coalesce(AppUser.display_name, AppUser.username)).where(
                AppUser.id.in_([r[0] for r in rows if r[0] is not None])
            )
        ).all()
    )
    results = []
    for provider_id, denominator, excluded, numerator in rows:
        denominator, excluded, numerator = int(denominator), int(excluded or 0), int(numerator or 0)
        results.append(
            MeasureResult(
                measure,
                provider_id or 0,
                names.get(provider_id, "Unattributed") if provider_id is not None else "Unattributed",
                denominator,
                excluded,
                numerator,
                denominator - excluded,
            )
        )
    results.sort(key=lambda r: (r.provider_id == 0, r.provider.lower()))
    total = MeasureResult(
        measure,
        None,
        "Overall",
        sum(r.denominator for r in results),
        sum(r.excluded for r in results),
        sum(r.numerator for r in results),
        sum(r.eligible for r in results),
    )
    return [*results, total]


@dataclass(frozen=True)
class MeasureReport:
    info: RefreshInfo  # how fresh the figures are
    results: list[MeasureResult]


def measure_report(session: Session, *, actor: Actor, measure: str, months: int) -> MeasureReport:
    """What the measures page shows: the measure per provider and overall, and as of when."""
    return MeasureReport(
        refresh_info(session, actor=actor),
        measure_results(session, actor=actor, measure=measure, months=months),
    )
