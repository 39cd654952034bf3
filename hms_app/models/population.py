"""Population health tables: registries and their ICD-10-CM code sets, saved cohorts, outreach,
and the summary tables that ``refresh_population`` rebuilds from the clinical record.

The summary tables (``population_*``) are derived data: one row per patient (latest results,
last visit, attributed provider), one row per registry member, one per active medication. They
carry no foreign key to ``patient`` on purpose: a patient merge moves every row that points at
a patient, and a derived row must not be moved (the next refresh recomputes it) nor block a merge.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow


class Registry(SQLModel, table=True):
    """A disease registry: the patients with an active problem coded under one of its prefixes."""

    __tablename__ = "registry"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)  # e.g. "diabetes"
    name: str = Field(max_length=120)
    active: bool = Field(default=True)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str | None = Field(default=None, max_length=60)


class RegistryCode(SQLModel, table=True):
    """One ICD-10-CM prefix of a registry's code set ("E11" matches E11.9, E11.65, ...)."""

    __tablename__ = "registry_code"
    __table_args__ = (UniqueConstraint("registry_id", "code_prefix", name="uq_registry_code_prefix"),)

    id: int | None = Field(default=None, primary_key=True)
    registry_id: int = Field(foreign_key="registry.id", index=True)
    code_prefix: str = Field(max_length=10)


class SavedCohort(SQLModel, table=True):
    """A named set of cohort-builder filters; the patients are found again each time it is opened."""

    __tablename__ = "saved_cohort"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    filters: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(max_length=60)
    created_at: datetime = Field(default_factory=utcnow)


class OutreachMessage(SQLModel, table=True):
    """A portal message or booking invitation sent to a patient about a care gap."""

    __tablename__ = "outreach_message"
    __table_args__ = (Index("ix_outreach_patient_created", "patient_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    kind: str = Field(max_length=20)  # portal_message | booking_invitation
    measure: str = Field(max_length=40)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(max_length=60)
    status: str = Field(default="sent", max_length=12)  # sent | read | booked | cancelled


class PopulationSummary(SQLModel, table=True):
    """One row per patient: what the dashboards, measures and cohorts filter on (derived)."""

    __tablename__ = "population_summary"
    __table_args__ = (
        Index("ix_popsum_sex_birth", "sex", "birth_date"),
        Index("ix_popsum_provider", "provider_id"),
        Index("ix_popsum_last_visit", "last_visit_at"),
        # No index on the result columns on purpose: their ranges ("systolic from 140") match a
        # fifth of the table, where a bitmap scan costs PostgreSQL twice a plain scan (measured).
    )

    patient_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sex: str = Field(max_length=10)
    birth_date: date
    provider_id: int | None = Field(default=None)  # practitioner of the latest encounter that names one
    last_visit_at: datetime | None = Field(default=None)
    hba1c: float | None = Field(default=None)
    hba1c_at: datetime | None = Field(default=None)
    sbp: float | None = Field(default=None)
    dbp: float | None = Field(default=None)
    bp_at: datetime | None = Field(default=None)
    bmi: float | None = Field(default=None)
    bmi_at: datetime | None = Field(default=None)
    creatinine: float | None = Field(default=None)
    creatinine_at: datetime | None = Field(default=None)
    egfr: float | None = Field(default=None)  # CKD-EPI 2021 from the latest creatinine, age then
    palliative: bool = Field(default=False)  # Z51.5 active: excluded from every measure
    esrd: bool = Field(default=False)  # N18.6 active: excluded from blood-pressure control
    pregnant: bool = Field(default=False)  # O*/Z33.1 active: excluded from BMI screening


class RegistryMember(SQLModel, table=True):
    """A patient in a registry (derived), with the age band's inputs copied for fast grouping."""

    __tablename__ = "registry_member"
    __table_args__ = (
        Index("ix_regmember_patient", "patient_id"),
        Index("ix_regmember_registry_onset", "registry_id", "onset_date"),
    )

    registry_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    patient_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sex: str = Field(max_length=10)
    birth_date: date
    onset_date: date  # the earliest onset (or recording) of a matching active problem


class PopulationAgeCount(SQLModel, table=True):
    """Patients per sex and birth date (derived): the age-band denominators without a full scan."""

    __tablename__ = "population_age_count"

    sex: str = Field(primary_key=True, max_length=10)
    birth_date: date = Field(primary_key=True)
    patients: int


class RegistryAgeCount(SQLModel, table=True):
    """Registry members per sex and birth date (derived): prevalence by age band and sex."""

    __tablename__ = "registry_age_count"

    registry_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sex: str = Field(primary_key=True, max_length=10)
    birth_date: date = Field(primary_key=True)
    members: int


class PopulationMedication(SQLModel, table=True):
    """An active medication of a patient, by name (derived, for the cohort builder)."""

    __tablename__ = "population_medication"

    medication: str = Field(primary_key=True, max_length=200)
    patient_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})


class PopulationRefresh(SQLModel, table=True):
    """When the summary tables were last rebuilt, how long it took, and how much they hold."""

    __tablename__ = "population_refresh"

    id: int | None = Field(default=None, primary_key=True)
    refreshed_at: datetime = Field(default_factory=utcnow, index=True)
    seconds: float = Field(default=0.0)
    patients: int = Field(default=0)
    members: int = Field(default=0)
    refreshed_by: str = Field(max_length=60)
