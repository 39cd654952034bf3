"""Population health: registries, quality measures, care gaps, outreach and cohorts.

Everything here reads the summary tables that ``refresh_population`` rebuilds from the clinical
record in one SQL pass (latest results per patient, last visit, attributed provider, registry
membership, active medications). The screens say how fresh they are ("as of ..."). Editing a
registry's code set recomputes that registry's members at once.

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
import csv
import io
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import (
    Integer,
    and_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlmodel import Session

from hms_app.clock import format_local, to_local, utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.emr import Condition, Encounter, MedicationStatement, Observation
from hms_app.models.patients import Patient
from hms_app.models.population import (
    OutreachMessage,
    PopulationAgeCount,
    PopulationMedication,
    PopulationRefresh,
    PopulationSummary,
    Registry,
    RegistryAgeCount,
    RegistryCode,
    RegistryMember,
    SavedCohort,
)
from hms_app.models.security import AppUser
from hms_app.services.audit import record_audit
from hms_app.services.patients import age_years
from hms_app.services.permissions import Actor, authorize

HBA1C, CREATININE, SYSTOLIC, DIASTOLIC, BMI = "4548-4", "2160-0", "8480-6", "8462-4", "39156-5"
FINAL_STATUSES = ("final", "amended", "corrected")
VISIT_STATUSES = ("finished", "in-progress")
PREFIX_RE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{0,4})?$")
REGISTRY_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,19}$")
SEXES = ("female", "male", "other", "unknown")
PERIOD_MONTHS = (3, 6, 12, 24)
PAGE_SIZE_MAX = 100
EXPORT_MAX = 50_000  # rows in one CSV export; a bigger cohort is narrowed first
OUTREACH_KINDS = {"portal_message": "Portal message", "booking_invitation": "Invitation to book"}
OUTREACH_REPEAT_DAYS = 7

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


# ====================================================================== dates


def _years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_between(low: int | None, high: int | None, on: date):
    """An SQL condition on the summary's birth date: completed age in [low, high] on ``on``."""
    clauses = []
    if low is not None and low > 0:
        clauses.append(S.birth_date <= _years_before(on, low))
    if high is not None:
        clauses.append(S.birth_date > _years_before(on, high + 1))
    return and_(true(), *clauses)


def local_today() -> date:
    return to_local(utcnow()).date()


# ====================================================================== refresh


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


def _member_rows(registry_ids=None):
    """SELECT of (registry, patient, sex, birth date, onset) for active problems in a code set."""
    c, rc = Condition, RegistryCode
    onset = func.min(func.coalesce(c.onset_date, func.date(c.recorded_at)))
    query = (
        select(rc.registry_id, c.patient_id, S.sex, S.birth_date, onset)
        .select_from(c)
        .join(rc, c.code.like(rc.code_prefix + "%"))
        .join(Registry, and_(Registry.id == rc.registry_id, Registry.active.is_(True)))
        .join(S, S.patient_id == c.patient_id)
        .where(c.clinical_status == "active")
        .group_by(rc.registry_id, c.patient_id, S.sex, S.birth_date)
    )
    if registry_ids is not None:
        query = query.where(rc.registry_id.in_(registry_ids))
    return query


def _rebuild_members(session: Session, registry_ids: list[int]) -> None:
    session.execute(delete(RegistryMember).where(RegistryMember.registry_id.in_(registry_ids)))
    session.execute(
        insert(RegistryMember).from_select(
            ["registry_id", "patient_id", "sex", "birth_date", "onset_date"], _member_rows(registry_ids)
        )
    )
    session.execute(delete(RegistryAgeCount).where(RegistryAgeCount.registry_id.in_(registry_ids)))
    m = RegistryMember
    session.execute(
        insert(RegistryAgeCount).from_select(
            ["registry_id", "sex", "birth_date", "members"],
            select(m.registry_id, m.sex, m.birth_date, func.count())
            .where(m.registry_id.in_(registry_ids))
            .group_by(m.registry_id, m.sex, m.birth_date),
        )
    )


def refresh_population(session: Session, *, actor: Actor, today: date | None = None) -> RefreshInfo:
    """Rebuild the population summary tables from the clinical record (one transaction)."""
    authorize(actor, "population.manage")
    started = time.perf_counter()
    today = today or local_today()
    dialect = session.get_bind().dialect.name
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
            S.birth_date <= _years_before(today, 18),
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
        _rebuild_members(session, registry_ids)
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
        detail=f"{patients} patients, {members} registry members in {seconds:.1f} s",
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


def _as_of(session: Session) -> datetime:
    moment = session.execute(select(func.max(PopulationRefresh.refreshed_at))).scalar()
    if moment is None:
        return utcnow()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ====================================================================== registries


@dataclass(frozen=True)
class RegistryRow:
    id: int
    code: str
    name: str
    active: bool
    prefixes: list[str]
    members: int


def registry_ids_by_code(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Registry.code, Registry.id)).all())


def list_registries(session: Session, *, actor: Actor) -> list[RegistryRow]:
    """Every registry with its code set and member count."""
    authorize(actor, "population.read")
    registries = session.execute(select(Registry).order_by(Registry.name)).scalars().all()
    prefixes: dict[int, list[str]] = {}
    for registry_id, prefix in session.execute(
        select(RegistryCode.registry_id, RegistryCode.code_prefix).order_by(RegistryCode.code_prefix)
    ):
        prefixes.setdefault(registry_id, []).append(prefix)
    counts = dict(
        session.execute(
            select(RegistryMember.registry_id, func.count()).group_by(RegistryMember.registry_id)
        ).all()
    )
    return [
        RegistryRow(r.id, r.code, r.name, r.active, prefixes.get(r.id, []), int(counts.get(r.id, 0)))
        for r in registries
    ]


def parse_prefixes(text: str) -> list[str]:
    """ICD-10-CM prefixes from text separated by commas, spaces or new lines ("E11, E13")."""
    items = [item.strip().upper() for item in re.split(r"[,\s;]+", text or "") if item.strip()]
    if not items:
        raise ValidationError("Enter at least one ICD-10-CM code or prefix, such as E11.", field="prefixes")
    if len(items) > 60:
        raise ValidationError("A registry has at most 60 codes.", field="prefixes")
    for item in items:
        if not PREFIX_RE.fullmatch(item):
            raise ValidationError(
                f"{item[:12]!r} is not an ICD-10-CM code or prefix (a letter, two characters, "
                "optionally a dot and up to four more, e.g. E11 or I11.0).",
                field="prefixes",
            )
    return sorted(set(items))


def save_registry(
    session: Session,
    *,
    actor: Actor,
    registry_id: int | None,
    name: str,
    prefixes: str,
    code: str = "",
    active: bool = True,
) -> RegistryRow:
    """Create a registry or change its name, code set or status; its members are recomputed."""
    authorize(actor, "population.manage")
    name = (name or "").strip()
    if not 3 <= len(name) <= 120:
        raise ValidationError("Name the registry (3 to 120 characters).", field="name")
    codes = parse_prefixes(prefixes)
    if registry_id is None:
        code = (code or "").strip().lower()
        if not REGISTRY_CODE_RE.fullmatch(code):
            raise ValidationError(
                "The short code has 2 to 20 lowercase letters, digits or underscores.", field="code"
            )
        if session.execute(select(Registry.id).where(Registry.code == code)).first():
            raise Conflict("A registry with this short code exists already.", field="code")
        registry = Registry(code=code, name=name, active=active, updated_by=actor.username)
        session.add(registry)
        session.flush()
        before: list[str] = []
    else:
        registry = session.get(Registry, registry_id)
        if registry is None:
            raise NotFound("That registry does not exist.")
        before = list(
            session.execute(
                select(RegistryCode.code_prefix).where(RegistryCode.registry_id == registry.id)
            ).scalars()
        )
        registry.name, registry.active = name, bool(active)
        registry.updated_at, registry.updated_by = utcnow(), actor.username
        session.add(registry)
        session.execute(delete(RegistryCode).where(RegistryCode.registry_id == registry.id))
    session.execute(
        insert(RegistryCode), [{"registry_id": registry.id, "code_prefix": prefix} for prefix in codes]
    )
    _rebuild_members(session, [registry.id])
    added, removed = sorted(set(codes) - set(before)), sorted(set(before) - set(codes))
    record_audit(
        session,
        actor,
        "registry.create" if registry_id is None else "registry.update",
        target_type="registry",
        target_id=registry.id,
        detail=f"{registry.code}: {', '.join(codes)}"
        + (f" (added {', '.join(added)})" if added and before else "")
        + (f" (removed {', '.join(removed)})" if removed else "")
        + ("" if registry.active else " inactive"),
    )
    session.commit()
    members = session.execute(
        select(func.count()).select_from(RegistryMember).where(RegistryMember.registry_id == registry.id)
    ).scalar_one()
    return RegistryRow(registry.id, registry.code, registry.name, registry.active, codes, int(members))


DEFAULT_REGISTRIES = (
    ("diabetes", "Diabetes mellitus", "E10 E11 E13"),
    ("hypertension", "Hypertension", "I10 I11 I12 I13 I15 I16"),
    ("ckd", "Chronic kidney disease", "N18"),
    ("asthma_copd", "Asthma and COPD", "J44 J45"),
    ("heart_failure", "Heart failure", "I50"),
)


def ensure_default_registries(session: Session, *, actor: Actor) -> int:
    """Create the five default registries that are missing (the migration made them once)."""
    authorize(actor, "population.manage")
    existing = registry_ids_by_code(session)
    created = 0
    for code, name, prefixes in DEFAULT_REGISTRIES:
        if code not in existing:
            save_registry(session, actor=actor, registry_id=None, code=code, name=name, prefixes=prefixes)
            created += 1
    return created


# ====================================================================== cohort filters


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


def period_start(as_of: datetime, months: int) -> datetime:
    """The start of a period of ``months`` months that ends at ``as_of``."""
    month = as_of.month - months
    year = as_of.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    day = min(as_of.day, calendar.monthrange(year, month)[1])  # 31 May - 3 months = 28/29 February
    return as_of.replace(year=year, month=month, day=day)


def _member_of(session: Session, registry_code: str):
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
        denominator.append(_member_of(session, measure.registry))
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


def cohort_conditions(session: Session, flt: CohortFilter, *, today: date | None = None) -> list:
    """The WHERE clauses over the population summary that select a cohort."""
    today = today or local_today()
    clauses: list = []
    if flt.age_min is not None or flt.age_max is not None:
        clauses.append(age_between(flt.age_min, flt.age_max, today))
    if flt.sex:
        clauses.append(S.sex == flt.sex)
    for code in flt.registries:
        clauses.append(_member_of(session, code))
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
                session, MEASURES[flt.measure_gap], as_of=_as_of(session), months=flt.period_months
            ).gap
        )
    return clauses


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
        )
        .select_from(S)
        .join(Patient, Patient.id == S.patient_id)
        .outerjoin(AppUser, AppUser.id == S.provider_id)
        .where(*cohort_conditions(session, flt, today=today))
        .order_by(S.patient_id)
    )


def _row(values, today: date) -> CohortRow:
    (pid, mrn, given, family, sex, birth, provider, visit, hba1c, sbp, dbp, bmi, egfr, outreach) = values
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
    )


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
        detail=f"{flt.describe()} | page {page}: {len(rows)} of {total} patients",
    )
    session.commit()
    return [_row(r, today) for r in rows], total


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
    writer = csv.writer(out)
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
                    "" if row.bmi is None else f"{row.bmi:g}",
                    "" if row.egfr is None else f"{row.egfr:g}",
                ]
            )
            last_id = row.patient_id
        written += len(chunk)
    record_audit(
        session,
        actor,
        "population.export",
        target_type="cohort",
        detail=f"{flt.describe()} | {written} patients",
    )
    session.commit()
    return out.getvalue(), written


@dataclass(frozen=True)
class SavedCohortRow:
    id: int
    name: str
    filters: dict
    created_by: str
    created_at: datetime


def list_saved_cohorts(session: Session, *, actor: Actor) -> list[SavedCohortRow]:
    """The saved cohorts, newest first."""
    authorize(actor, "population.read")
    rows = session.execute(
        select(SavedCohort).order_by(SavedCohort.created_at.desc(), SavedCohort.id.desc())
    ).scalars()
    return [SavedCohortRow(c.id, c.name, dict(c.filters or {}), c.created_by, c.created_at) for c in rows]


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
    return SavedCohortRow(cohort.id, cohort.name, dict(cohort.filters), cohort.created_by, cohort.created_at)


def delete_cohort(session: Session, *, actor: Actor, cohort_id: int) -> None:
    """Remove a saved cohort (the patients are not touched)."""
    authorize(actor, "population.manage")
    cohort = session.get(SavedCohort, cohort_id)
    if cohort is None:
        raise NotFound("That cohort does not exist.")
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


# ====================================================================== measures


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
    clauses = measure_clauses(session, spec, as_of=_as_of(session), months=months)
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


# ====================================================================== outreach


def outreach_text(kind: str, measure: str) -> str:
    spec = MEASURES[measure]
    what = {
        "hba1c_poor": "an HbA1c blood test to check your diabetes control",
        "bp_control": "a blood pressure check",
        "bmi_screening": "a height and weight check",
    }[measure]
    if kind == "booking_invitation":
        return (
            f"Our records show you are due for {what}. Please book an appointment at a time that suits you."
        )
    return f"Our records show you are due for {what} ({spec.title.split(':')[0].strip()}). Reply here or call us to arrange it."


def send_outreach(
    session: Session, *, actor: Actor, patient_id: int, kind: str, measure: str, body: str = ""
) -> OutreachMessage:
    """Send a patient a portal message or an invitation to book about a care gap (audited)."""
    authorize(actor, "population.manage", patient_id=patient_id)
    if kind not in OUTREACH_KINDS:
        raise ValidationError("Choose a portal message or an invitation to book.", field="kind")
    if measure not in MEASURES:
        raise ValidationError("Choose a measure from the list.", field="measure")
    patient = session.get(Patient, patient_id)
    if patient is None or not patient.active or patient.deceased_at is not None or patient.merged_into_id:
        raise NotFound("That patient is not an active patient.")
    body = (body or "").strip() or outreach_text(kind, measure)
    if len(body) > 2000:
        raise ValidationError("Keep the message under 2,000 characters.", field="body")
    recent = session.execute(
        select(OutreachMessage.created_at).where(
            OutreachMessage.patient_id == patient_id,
            OutreachMessage.kind == kind,
            OutreachMessage.measure == measure,
            OutreachMessage.created_at >= utcnow() - timedelta(days=OUTREACH_REPEAT_DAYS),
        )
    ).first()
    if recent:
        raise Conflict(
            f"{OUTREACH_KINDS[kind]} about this was already sent on {format_local(recent[0], '%Y-%m-%d')}; "
            f"wait {OUTREACH_REPEAT_DAYS} days before sending it again."
        )
    message = OutreachMessage(
        patient_id=patient_id, kind=kind, measure=measure, body=body, created_by=actor.username
    )
    session.add(message)
    session.flush()
    record_audit(
        session,
        actor,
        "population.outreach",
        patient_id=patient_id,
        target_type="outreach_message",
        target_id=message.id,
        detail=f"{kind} about {measure}",
    )
    session.commit()
    return message


@dataclass(frozen=True)
class OutreachRow:
    id: int
    kind: str
    measure: str
    body: str
    created_at: datetime
    created_by: str
    status: str


def patient_outreach(
    session: Session, *, actor: Actor, patient_id: int, limit: int = 20
) -> list[OutreachRow]:
    """The outreach a patient was sent, newest first (portal users: only their own)."""
    if actor is not None and actor.patient_id is not None:
        authorize(actor, "portal.self", patient_id=patient_id)
    else:
        authorize(actor, "population.read", patient_id=patient_id)
    rows = session.execute(
        select(OutreachMessage)
        .where(OutreachMessage.patient_id == patient_id)
        .order_by(OutreachMessage.created_at.desc(), OutreachMessage.id.desc())
        .limit(limit)
    ).scalars()
    return [OutreachRow(m.id, m.kind, m.measure, m.body, m.created_at, m.created_by, m.status) for m in rows]
