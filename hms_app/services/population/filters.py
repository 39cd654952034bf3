"""What a cohort is: the filters of the cohort builder and of the dashboards' click-through
lists, validated from what a browser sent, and the SQL conditions they select with."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import (
    exists,
    or_,
)
from sqlmodel import Session

from hms_app.clock import local_today, utcnow
from hms_app.errors import ValidationError
from hms_app.models.population import (
    PopulationMedication,
    PopulationSummary,
)
from hms_app.services.population.measures import (
    MEASURES,
    PERIOD_MONTHS,
    age_between,
    measure_clauses,
    member_of,
)
from hms_app.services.population.refresh import summary_as_of
from hms_app.services.population.registries import REGISTRY_CODE_RE

SEXES = ("female", "male", "other", "unknown")

S = PopulationSummary


@dataclass(frozen=True)
class CohortFilter:
    """What the cohort builder and the dashboards' click-through lists filter on."""

    age_min: int | None = None
    age_max: int | None = None
    sex: str = ""
    registries: tuple[str, ...] = ()
    hba1c_min: float | None = None
    hba1c_max: float | None = None
    sbp_min: float | None = None
    sbp_max: float | None = None
    bmi_min: float | None = None
    bmi_max: float | None = None
    egfr_min: float | None = None
    egfr_max: float | None = None  # exclusive upper edge
    medication: str = ""
    visit_within_days: int | None = None  # seen in the last N days
    no_visit_days: int | None = None  # not seen in the last N days (or never)
    provider_id: int | None = None
    measure_gap: str = ""  # a measure key: only its care gaps
    period_months: int = 12

    def as_dict(self) -> dict:
        data = {}
        for key, value in self.__dict__.items():
            if value in (None, "", ()) or (key == "period_months" and not self.measure_gap):
                continue
            data[key] = list(value) if isinstance(value, tuple) else value
        return data

    def describe(self) -> str:
        return (
            "; ".join(f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in self.as_dict().items())
            or "all patients"
        )


NUMBER_LIMITS = {
    "hba1c_min": (0, 30),
    "hba1c_max": (0, 30),
    "sbp_min": (40, 300),
    "sbp_max": (40, 300),
    "bmi_min": (5, 100),
    "bmi_max": (5, 100),
    "egfr_min": (0, 200),
    "egfr_max": (0, 200),
}
LABELS = {
    "age_min": "Lowest age",
    "age_max": "Highest age",
    "hba1c_min": "HbA1c from",
    "hba1c_max": "HbA1c up to",
    "sbp_min": "Systolic from",
    "sbp_max": "Systolic up to",
    "bmi_min": "BMI from",
    "bmi_max": "BMI below",
    "egfr_min": "eGFR from",
    "egfr_max": "eGFR below",
    "visit_within_days": "Seen within (days)",
    "no_visit_days": "Not seen for (days)",
}


def _number(raw: dict, key: str, *, whole: bool = False, low: float = 0, high: float = 100000):
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{LABELS.get(key, key)} must be a number.", field=key)
    text = str(value).strip().replace(",", ".")
    try:
        number = int(text) if whole else float(text)
    except ValueError as error:
        kind = "a whole number" if whole else "a number"
        raise ValidationError(f"{LABELS.get(key, key)} must be {kind}.", field=key) from error
    if not low <= number <= high or number != number:  # also refuses NaN
        raise ValidationError(f"{LABELS.get(key, key)} must be between {low} and {high}.", field=key)
    return number


def parse_filter(raw: dict | None, *, known_registries: set[str] | None = None) -> CohortFilter:
    """Validate filters sent by a browser (or stored in a saved cohort) into a CohortFilter."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ValidationError("These filters could not be read.")
    age_min = _number(raw, "age_min", whole=True, low=0, high=130)
    age_max = _number(raw, "age_max", whole=True, low=0, high=130)
    if age_min is not None and age_max is not None and age_min > age_max:
        raise ValidationError("The lowest age is above the highest age.", field="age_max")
    sex = str(raw.get("sex") or "").strip().lower()
    if sex in ("all", "any"):
        sex = ""
    if sex and sex not in SEXES:
        raise ValidationError("Choose a sex from the list.", field="sex")
    registries = raw.get("registries") or ()
    if isinstance(registries, str):
        registries = [r for r in re.split(r"[,\s]+", registries) if r]
    if not isinstance(registries, list | tuple) or len(registries) > 10:
        raise ValidationError("Choose conditions from the list.", field="registries")
    registries = tuple(sorted({str(r).strip() for r in registries if str(r).strip()}))
    for code in registries:
        if not REGISTRY_CODE_RE.fullmatch(code) or (
            known_registries is not None and code not in known_registries
        ):
            raise ValidationError("Choose conditions from the list.", field="registries")
    numbers = {key: _number(raw, key, low=low, high=high) for key, (low, high) in NUMBER_LIMITS.items()}
    for low_key, high_key in (
        ("hba1c_min", "hba1c_max"),
        ("sbp_min", "sbp_max"),
        ("bmi_min", "bmi_max"),
        ("egfr_min", "egfr_max"),
    ):
        if (
            numbers[low_key] is not None
            and numbers[high_key] is not None
            and numbers[low_key] > numbers[high_key]
        ):
            raise ValidationError(f"{LABELS[low_key]} is above {LABELS[high_key].lower()}.", field=high_key)
    medication = str(raw.get("medication") or "").strip()
    if len(medication) > 200:
        raise ValidationError("Choose a medication from the list.", field="medication")
    visit_within = _number(raw, "visit_within_days", whole=True, low=1, high=3650)
    no_visit = _number(raw, "no_visit_days", whole=True, low=1, high=3650)
    provider = raw.get("provider_id")
    provider_id = None  # None: any provider; 0: patients attributed to nobody
    if provider not in (None, "", "all"):
        provider_id = _number(raw, "provider_id", whole=True, low=0, high=10**12)
    measure_gap = str(raw.get("measure_gap") or "").strip()
    if measure_gap and measure_gap not in MEASURES:
        raise ValidationError("Choose a measure from the list.", field="measure_gap")
    period = _number(raw, "period_months", whole=True, low=1, high=60) or 12
    if period not in PERIOD_MONTHS:
        raise ValidationError("Choose a period from the list.", field="period_months")
    return CohortFilter(
        age_min=age_min,
        age_max=age_max,
        sex=sex,
        registries=registries,
        medication=medication,
        visit_within_days=visit_within,
        no_visit_days=no_visit,
        provider_id=provider_id,
        measure_gap=measure_gap,
        period_months=period,
        **numbers,
    )


def cohort_conditions(session: Session, flt: CohortFilter, *, today: date | None = None) -> list:
    """The WHERE clauses over the population summary that select a cohort."""
    today = today or local_today()
    clauses: list = []
    if flt.age_min is not None or flt.age_max is not None:
        clauses.append(age_between(flt.age_min, flt.age_max, today))
    if flt.sex:
        clauses.append(S.sex == flt.sex)
    for code in flt.registries:
        clauses.append(member_of(session, code))
    for column, low, high in ((S.hba1c, flt.hba1c_min, flt.hba1c_max), (S.sbp, flt.sbp_min, flt.sbp_max)):
        if low is not None:
            clauses.append(column >= low)
        if high is not None:
            clauses.append(column <= high)
    # BMI categories and eGFR stages are half-open ranges [from, below): a category's lower
    # edge belongs to it, so "BMI from 25 below 30" is exactly "overweight".
    if flt.bmi_min is not None:
        clauses.append(S.bmi >= flt.bmi_min)
    if flt.bmi_max is not None:
        clauses.append(S.bmi < flt.bmi_max)
    if flt.egfr_min is not None:
        clauses.append(S.egfr >= flt.egfr_min)
    if flt.egfr_max is not None:
        clauses.append(S.egfr < flt.egfr_max)
    if flt.medication:
        clauses.append(
            exists().where(
                PopulationMedication.medication == flt.medication,
                PopulationMedication.patient_id == S.patient_id,
            )
        )
    now = utcnow()
    if flt.visit_within_days is not None:
        clauses.append(S.last_visit_at >= now - timedelta(days=flt.visit_within_days))
    if flt.no_visit_days is not None:
        clauses.append(
            or_(S.last_visit_at.is_(None), S.last_visit_at < now - timedelta(days=flt.no_visit_days))
        )
    if flt.provider_id == 0:
        clauses.append(S.provider_id.is_(None))
    elif flt.provider_id is not None:
        clauses.append(S.provider_id == flt.provider_id)
    if flt.measure_gap:
        clauses.append(
            measure_clauses(
                session, MEASURES[flt.measure_gap], as_of=summary_as_of(session), months=flt.period_months
            ).gap
        )
    return clauses
