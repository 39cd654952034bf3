"""Cohorts: how many patients match, one audited page of them, the CSV export, saved cohorts,
and the lists the cohort builder chooses from."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    func,
    select,
)
from sqlmodel import Session

from hms_app import csv_safe
from hms_app.clock import format_local, local_today
from hms_app.errors import Conflict, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.population import (
    OutreachMessage,
    PopulationMedication,
    PopulationSummary,
    SavedCohort,
)
from hms_app.models.security import AppUser
from hms_app.plurals import counted
from hms_app.services.audit import record_audit
from hms_app.services.patients import age_years
from hms_app.services.permissions import Actor, authorize
from hms_app.services.population.filters import CohortFilter, cohort_conditions, parse_filter
from hms_app.services.population.measures import period_start
from hms_app.services.population.refresh import RefreshInfo, refresh_info, summary_as_of
from hms_app.services.population.registries import RegistryRow, list_registries
from hms_app.services.rows import get_row

PAGE_SIZE_MAX = 100
EXPORT_MAX = 50_000  # rows in one CSV export; a bigger cohort is narrowed first

S = PopulationSummary


def count_cohort(session: Session, *, actor: Actor, filters: dict | CohortFilter) -> int:
    """How many patients match the filters (a count only: nothing about any one patient)."""
    authorize(actor, "population.read")
    flt = filters if isinstance(filters, CohortFilter) else parse_filter(filters)
    return int(
        session.execute(
            select(func.count()).select_from(S).where(*cohort_conditions(session, flt))
        ).scalar_one()
    )


@dataclass(frozen=True)
class CohortRow:
    patient_id: int
    mrn: str
    name: str
    sex: str
    birth_date: date
    age: int
    provider: str
    last_visit_at: datetime | None
    hba1c: float | None
    sbp: float | None
    dbp: float | None
    bmi: float | None
    egfr: float | None
    last_outreach_at: datetime | None
    # When each value was measured: a worklist must not pass an old value off as a current one.
    hba1c_at: datetime | None = None
    bp_at: datetime | None = None
    bmi_at: datetime | None = None
    egfr_at: datetime | None = None
    # The start of the measurement period when the list is a measure's care gaps (None for a
    # cohort): a value measured before it is "not measured in the period".
    period_start: datetime | None = None

    def measured_in_period(self, at: datetime | None) -> bool:
        """Whether a value taken at ``at`` counts for the list's measurement period."""
        return at is not None and (self.period_start is None or at >= self.period_start)


def _listing(session: Session, flt: CohortFilter, *, today: date):
    provider_name = func.coalesce(AppUser.display_name, AppUser.username)
    last_outreach = (
        select(func.max(OutreachMessage.created_at))
        .where(OutreachMessage.patient_id == S.patient_id)
        .correlate(S)
        .scalar_subquery()
    )
    return (
        select(
            S.patient_id,
            Patient.mrn,
            Patient.given_name,
            Patient.family_name,
            S.sex,
            S.birth_date,
            provider_name,
            S.last_visit_at,
            S.hba1c,
            S.sbp,
            S.dbp,
            S.bmi,
            S.egfr,
            last_outreach,
            S.hba1c_at,
            S.bp_at,
            S.bmi_at,
            S.creatinine_at,
        )
        .select_from(S)
        .join(Patient, Patient.id == S.patient_id)
        .outerjoin(AppUser, AppUser.id == S.provider_id)
        .where(*cohort_conditions(session, flt, today=today))
        .order_by(S.patient_id)
    )


def _row(values, today: date, period_start: datetime | None = None) -> CohortRow:
    (pid, mrn, given, family, sex, birth, provider, visit, hba1c, sbp, dbp, bmi, egfr, outreach) = values[:14]
    hba1c_at, bp_at, bmi_at, egfr_at = values[14:]
    return CohortRow(
        pid,
        mrn,
        f"{given} {family}",
        sex,
        birth,
        age_years(birth, today),
        provider or "",
        visit,
        hba1c,
        sbp,
        dbp,
        bmi,
        egfr,
        outreach,
        hba1c_at,
        bp_at,
        bmi_at,
        egfr_at,
        period_start,
    )


def _period_start(session: Session, flt: CohortFilter) -> datetime | None:
    """The measurement period's start of a measure's care-gap list; None for any other cohort."""
    if not flt.measure_gap:
        return None
    return period_start(summary_as_of(session), flt.period_months)


def list_cohort(
    session: Session,
    *,
    actor: Actor,
    filters: dict | CohortFilter,
    page: int = 1,
    page_size: int = 25,
    screen: str = "cohort",
) -> tuple[list[CohortRow], int]:
    """One page of the patients matching the filters, and their number; the listing is audited."""
    authorize(actor, "population.read")
    flt = filters if isinstance(filters, CohortFilter) else parse_filter(filters)
    page_size = max(1, min(int(page_size), PAGE_SIZE_MAX))
    page = max(1, int(page))
    today = local_today()
    total = count_cohort(session, actor=actor, filters=flt)
    rows = session.execute(
        _listing(session, flt, today=today).offset((page - 1) * page_size).limit(page_size)
    ).all()
    record_audit(
        session,
        actor,
        "population.read",
        target_type=screen,
        detail=f"{flt.describe()} | page {page}: {len(rows)} of {counted(total, 'patient')}",
    )
    session.commit()
    since = _period_start(session, flt)
    return [_row(r, today, since) for r in rows], total


CSV_HEADER = [
    "mrn",
    "name",
    "sex",
    "birth_date",
    "age",
    "provider",
    "last_visit",
    "hba1c_percent",
    "systolic_mmhg",
    "diastolic_mmhg",
    "bmi",
    "egfr",
    "hba1c_date",
    "bp_date",
    "bmi_date",
    "egfr_date",
]


def export_cohort_csv(session: Session, *, actor: Actor, filters: dict | CohortFilter) -> tuple[str, int]:
    """The cohort as CSV text (read in pages of 1,000 rows), and its row count; audited."""
    authorize(actor, "population.read")
    flt = filters if isinstance(filters, CohortFilter) else parse_filter(filters)
    total = count_cohort(session, actor=actor, filters=flt)
    if total > EXPORT_MAX:
        raise ValidationError(
            f"This cohort has {total:,} patients; narrow it to {EXPORT_MAX:,} or fewer to export it."
        )
    today = local_today()
    out = io.StringIO()
    writer = csv_safe.writer(out)
    writer.writerow(CSV_HEADER)
    written, last_id = 0, 0
    base = _listing(session, flt, today=today)
    while True:  # keyset pages: each page continues after the last patient id written
        chunk = session.execute(base.where(S.patient_id > last_id).limit(1000)).all()
        if not chunk:
            break
        for values in chunk:
            row = _row(values, today)
            writer.writerow(
                [
                    row.mrn,
                    row.name,
                    row.sex,
                    row.birth_date.isoformat(),
                    row.age,
                    row.provider,
                    format_local(row.last_visit_at) if row.last_visit_at else "",
                    "" if row.hba1c is None else f"{row.hba1c:g}",
                    "" if row.sbp is None else f"{row.sbp:g}",
                    "" if row.dbp is None else f"{row.dbp:g}",
                    "" if row.bmi is None else f"{row.bmi:.1f}",
                    "" if row.egfr is None else f"{row.egfr:g}",
                    *(
                        format_local(at, "%Y-%m-%d") if at else ""
                        for at in (row.hba1c_at, row.bp_at, row.bmi_at, row.egfr_at)
                    ),
                ]
            )
            last_id = row.patient_id
        written += len(chunk)
    record_audit(
        session,
        actor,
        "population.export",
        target_type="cohort",
        detail=f"{flt.describe()} | {counted(written, 'patient')}",
    )
    session.commit()
    return out.getvalue(), written


@dataclass(frozen=True)
class SavedCohortRow:
    id: int
    name: str
    filters: dict
    summary: str  # the filters in words
    created_by: str
    created_at: datetime


def _saved_row(cohort: SavedCohort) -> SavedCohortRow:
    filters = dict(cohort.filters or {})
    return SavedCohortRow(
        cohort.id,
        cohort.name,
        filters,
        parse_filter(filters).describe(),
        cohort.created_by,
        cohort.created_at,
    )


def list_saved_cohorts(session: Session, *, actor: Actor) -> list[SavedCohortRow]:
    """The saved cohorts, newest first."""
    authorize(actor, "population.read")
    rows = session.execute(
        select(SavedCohort).order_by(SavedCohort.created_at.desc(), SavedCohort.id.desc())
    ).scalars()
    return [_saved_row(c) for c in rows]


def saved_cohort_filter(session: Session, *, actor: Actor, cohort_id: int) -> CohortFilter:
    """The filters of a saved cohort, validated again (they are applied to the cohort builder)."""
    authorize(actor, "population.read")
    cohort = get_row(session, SavedCohort, cohort_id, "That cohort no longer exists.")
    return parse_filter(dict(cohort.filters or {}))


def save_cohort(session: Session, *, actor: Actor, name: str, filters: dict | CohortFilter) -> SavedCohortRow:
    """Save the cohort builder's filters under a name."""
    authorize(actor, "population.manage")
    name = (name or "").strip()
    if not 3 <= len(name) <= 120:
        raise ValidationError("Name the cohort (3 to 120 characters).", field="name")
    flt = filters if isinstance(filters, CohortFilter) else parse_filter(filters)
    if session.execute(select(SavedCohort.id).where(SavedCohort.name == name)).first():
        raise Conflict("A cohort with this name exists already; choose another name.", field="name")
    cohort = SavedCohort(name=name, filters=flt.as_dict(), created_by=actor.username)
    session.add(cohort)
    session.flush()
    record_audit(
        session,
        actor,
        "cohort.save",
        target_type="saved_cohort",
        target_id=cohort.id,
        detail=f"{name}: {flt.describe()}",
    )
    session.commit()
    return _saved_row(cohort)


def delete_cohort(session: Session, *, actor: Actor, cohort_id: int) -> None:
    """Remove a saved cohort (the patients are not touched)."""
    authorize(actor, "population.manage")
    cohort = get_row(session, SavedCohort, cohort_id, "That cohort does not exist.")
    session.delete(cohort)
    record_audit(
        session, actor, "cohort.delete", target_type="saved_cohort", target_id=cohort_id, detail=cohort.name
    )
    session.commit()


def medication_options(session: Session, *, actor: Actor, limit: int = 200) -> list[str]:
    """Names of medications that patients take, for the cohort builder's list."""
    authorize(actor, "population.read")
    return list(
        session.execute(
            select(PopulationMedication.medication)
            .distinct()
            .order_by(PopulationMedication.medication)
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class ProviderOption:
    id: int
    name: str


def provider_options(session: Session, *, actor: Actor) -> list[ProviderOption]:
    """The practitioners patients are attributed to."""
    authorize(actor, "population.read")
    ids = select(S.provider_id).where(S.provider_id.is_not(None)).distinct().scalar_subquery()
    rows = session.execute(
        select(AppUser.id, func.coalesce(AppUser.display_name, AppUser.username))
        .where(AppUser.id.in_(ids))
        .order_by(AppUser.display_name)
    ).all()
    return [ProviderOption(i, n) for i, n in rows]


@dataclass(frozen=True)
class CohortBuilderOptions:
    registries: list[RegistryRow]  # the active ones
    medications: list[str]
    providers: list[ProviderOption]
    saved: list[SavedCohortRow]
    info: RefreshInfo


def cohort_builder_options(session: Session, *, actor: Actor) -> CohortBuilderOptions:
    """What the cohort builder offers to choose from, its saved cohorts and how fresh the figures are."""
    return CohortBuilderOptions(
        registries=[r for r in list_registries(session, actor=actor) if r.active],
        medications=medication_options(session, actor=actor),
        providers=provider_options(session, actor=actor),
        saved=list_saved_cohorts(session, actor=actor),
        info=refresh_info(session, actor=actor),
    )
