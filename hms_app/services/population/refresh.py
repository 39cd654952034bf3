"""The population summary tables and their refresh.

Everything the population screens read comes from the summary tables that ``refresh_population``
rebuilds from the clinical record in one SQL pass (latest results per patient, last visit,
attributed provider, registry membership, active medications). The screens say how fresh they
are ("as of ..."). A patient's provider is the practitioner of their most recent encounter that
names one; "most recent" is by effective time, and of two results at the same time the one
recorded later wins.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import (
    Integer,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlmodel import Session

from hms_app.analytics.population import years_before
from hms_app.clock import format_local, local_today, utcnow
from hms_app.db import analyze
from hms_app.models.emr import Condition, Encounter, MedicationStatement, Observation
from hms_app.models.patients import Patient
from hms_app.models.population import (
    PopulationAgeCount,
    PopulationMedication,
    PopulationRefresh,
    PopulationSummary,
    Registry,
    RegistryAgeCount,
    RegistryMember,
)
from hms_app.plurals import counted
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.population.registries import rebuild_members

HBA1C, CREATININE, SYSTOLIC, DIASTOLIC, BMI = "4548-4", "2160-0", "8480-6", "8462-4", "39156-5"
FINAL_STATUSES = ("final", "amended", "corrected")
VISIT_STATUSES = ("finished", "in-progress")

S = PopulationSummary


@dataclass(frozen=True)
class RefreshInfo:
    refreshed_at: datetime | None
    seconds: float
    patients: int
    members: int

    @property
    def as_of_label(self) -> str:
        return format_local(self.refreshed_at) if self.refreshed_at else "never"


def _age_years_sql(dialect: str, on: date):
    """Completed years between the summary's birth date and ``on``, in SQL."""
    if dialect == "postgresql":
        return func.date_part("year", func.age(cast(literal(on), S.birth_date.type), S.birth_date))
    text_on = on.isoformat()
    return (
        cast(func.strftime("%Y", text_on), Integer)
        - cast(func.strftime("%Y", S.birth_date), Integer)
        - case((func.strftime("%m-%d", text_on) < func.strftime("%m-%d", S.birth_date), 1), else_=0)
    )


def _latest_results():
    """One row per patient: the latest value and time of each measured code (final results only)."""
    o = Observation
    ranked = (
        select(
            o.patient_id,
            o.code,
            o.value,
            o.effective_at,
            func.row_number()
            .over(partition_by=(o.patient_id, o.code), order_by=(o.effective_at.desc(), o.id.desc()))
            .label("rn"),
        )
        .where(o.code.in_((HBA1C, CREATININE, SYSTOLIC, DIASTOLIC, BMI)), o.status.in_(FINAL_STATUSES))
        .subquery()
    )

    def pick(code: str, column):
        return func.max(case((ranked.c.code == code, column)))

    return (
        select(
            ranked.c.patient_id,
            pick(HBA1C, ranked.c.value).label("hba1c"),
            pick(HBA1C, ranked.c.effective_at).label("hba1c_at"),
            pick(SYSTOLIC, ranked.c.value).label("sbp"),
            pick(DIASTOLIC, ranked.c.value).label("dbp"),
            pick(SYSTOLIC, ranked.c.effective_at).label("bp_at"),
            pick(BMI, ranked.c.value).label("bmi"),
            pick(BMI, ranked.c.effective_at).label("bmi_at"),
            pick(CREATININE, ranked.c.value).label("creatinine"),
            pick(CREATININE, ranked.c.effective_at).label("creatinine_at"),
        )
        .where(ranked.c.rn == 1)
        .group_by(ranked.c.patient_id)
        .subquery()
    )


def _visits():
    e = Encounter
    last = (
        select(e.patient_id, func.max(e.start_at).label("last_visit_at"))
        .where(e.status.in_(VISIT_STATUSES))
        .group_by(e.patient_id)
        .subquery()
    )
    ranked = (
        select(
            e.patient_id,
            e.practitioner_id,
            func.row_number()
            .over(partition_by=e.patient_id, order_by=(e.start_at.desc(), e.id.desc()))
            .label("rn"),
        )
        .where(e.status.in_(VISIT_STATUSES), e.practitioner_id.is_not(None))
        .subquery()
    )
    provider = select(ranked.c.patient_id, ranked.c.practitioner_id).where(ranked.c.rn == 1).subquery()
    return last, provider


def _flags():
    c = Condition

    def has(*patterns: str):
        return func.max(case((or_(*[c.code.like(p) for p in patterns]), 1), else_=0))

    return (
        select(
            c.patient_id,
            has("Z51.5%").label("palliative"),
            has("N18.6%").label("esrd"),
            has("O%", "Z33.1%").label("pregnant"),
        )
        .where(c.clinical_status == "active")
        .group_by(c.patient_id)
        .subquery()
    )


# What the summary is rebuilt from.
SOURCE_TABLES = ("patient", "observation", "encounter", "condition", "medication_statement")


def refresh_population(session: Session, *, actor: Actor, today: date | None = None) -> RefreshInfo:
    """Rebuild the population summary tables from the clinical record (one transaction)."""
    authorize(actor, "population.manage")
    started = time.perf_counter()
    today = today or local_today()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # After a bulk load (an import, a restore) the planner may have no statistics and plan
        # nested loops over the derived tables below: the rebuild then runs for hours. Sample
        # the source tables first, and keep the rebuild on hash joins: it reads every row anyway.
        analyze(session, SOURCE_TABLES)
        session.execute(text("SET LOCAL enable_nestloop = off"))
    for table in (
        RegistryAgeCount,
        RegistryMember,
        PopulationMedication,
        PopulationAgeCount,
        PopulationSummary,
    ):
        session.execute(delete(table))
    latest = _latest_results()
    last_visit, provider = _visits()
    flags = _flags()
    p = Patient
    query = (
        select(
            p.id,
            p.sex,
            p.birth_date,
            provider.c.practitioner_id,
            last_visit.c.last_visit_at,
            latest.c.hba1c,
            latest.c.hba1c_at,
            latest.c.sbp,
            latest.c.dbp,
            latest.c.bp_at,
            latest.c.bmi,
            latest.c.bmi_at,
            latest.c.creatinine,
            latest.c.creatinine_at,
            func.coalesce(flags.c.palliative, 0) == 1,
            func.coalesce(flags.c.esrd, 0) == 1,
            func.coalesce(flags.c.pregnant, 0) == 1,
        )
        .select_from(p)
        .outerjoin(latest, latest.c.patient_id == p.id)
        .outerjoin(last_visit, last_visit.c.patient_id == p.id)
        .outerjoin(provider, provider.c.patient_id == p.id)
        .outerjoin(flags, flags.c.patient_id == p.id)
        .where(p.active.is_(True), p.deceased_at.is_(None), p.merged_into_id.is_(None))
    )
    columns = [
        "patient_id",
        "sex",
        "birth_date",
        "provider_id",
        "last_visit_at",
        "hba1c",
        "hba1c_at",
        "sbp",
        "dbp",
        "bp_at",
        "bmi",
        "bmi_at",
        "creatinine",
        "creatinine_at",
        "palliative",
        "esrd",
        "pregnant",
    ]
    session.execute(insert(PopulationSummary).from_select(columns, query))
    # eGFR by CKD-EPI 2021 (no race term), adults only, rounded half up as laboratories report it:
    # 142 x min(Scr/k,1)^a x max(Scr/k,1)^-1.2 x 0.9938^age x 1.012 [female].
    female = S.sex == "female"
    kappa = case((female, 0.7), else_=0.9)
    alpha = case((female, -0.241), else_=-0.302)
    ratio = S.creatinine / kappa
    exact = (
        142.0
        * case((ratio < 1, func.power(ratio, alpha)), else_=func.power(ratio, -1.2))
        * func.power(0.9938, _age_years_sql(dialect, today))
        * case((female, 1.012), else_=1.0)
    )
    session.execute(
        PopulationSummary.__table__.update()
        .where(
            S.creatinine > 0,
            S.sex.in_(("female", "male")),
            S.birth_date <= years_before(today, 18),
        )
        .values(egfr=func.floor(exact + 0.5))
    )
    session.execute(
        insert(PopulationAgeCount).from_select(
            ["sex", "birth_date", "patients"],
            select(S.sex, S.birth_date, func.count()).group_by(S.sex, S.birth_date),
        )
    )
    registry_ids = list(session.execute(select(Registry.id)).scalars())
    if registry_ids:
        rebuild_members(session, registry_ids)
    m = MedicationStatement
    session.execute(
        insert(PopulationMedication).from_select(
            ["medication", "patient_id"],
            select(m.medication, m.patient_id)
            .join(S, S.patient_id == m.patient_id)
            .where(m.status == "active")
            .distinct(),
        )
    )
    patients = session.execute(select(func.count()).select_from(S)).scalar_one()
    members = session.execute(select(func.count()).select_from(RegistryMember)).scalar_one()
    seconds = time.perf_counter() - started
    refreshed = PopulationRefresh(
        refreshed_at=utcnow(),
        seconds=seconds,
        patients=patients,
        members=members,
        refreshed_by=actor.username,
    )
    session.add(refreshed)
    record_audit(
        session,
        actor,
        "population.refresh",
        target_type="population_refresh",
        detail=f"{counted(patients, 'patient')}, {counted(members, 'registry member')} in {seconds:.1f} s",
    )
    session.commit()
    return RefreshInfo(refreshed.refreshed_at, seconds, patients, members)


def refresh_info(session: Session, *, actor: Actor) -> RefreshInfo:
    """When the summary was last rebuilt ("as of"), and how much it holds."""
    authorize(actor, "population.read")
    row = session.execute(
        select(PopulationRefresh).order_by(PopulationRefresh.refreshed_at.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        return RefreshInfo(None, 0.0, 0, 0)
    return RefreshInfo(row.refreshed_at, row.seconds, row.patients, row.members)


def summary_as_of(session: Session) -> datetime:
    """The time of the last refresh (now if there was none): where the measures' periods end."""
    moment = session.execute(select(func.max(PopulationRefresh.refreshed_at))).scalar()
    if moment is None:
        return utcnow()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
