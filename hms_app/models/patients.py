"""The patient record (FHIR Patient), its history, merges and insurance coverage."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, String, Text
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow

# Byte-order collation on PostgreSQL so that prefix ranges (>= 'smi' AND < 'smj') use the index
# exactly as on SQLite, whatever the server's locale.
SEARCH_KEY = String(80).with_variant(String(80, collation="C"), "postgresql")


class Patient(SQLModel, table=True):
    __tablename__ = "patient"
    __table_args__ = (
        Index("ix_patient_family_given", "family_name", "given_name"),
        Index("ix_patient_birth_date", "birth_date"),
        Index("ix_patient_phone", "phone"),
        # Each way search and duplicate detection match has its own index (see services/patients/search.py and duplicates.py).
        Index("ix_patient_family_key", "family_key", "given_key"),
        Index("ix_patient_given_key", "given_key", "family_key"),
        Index("ix_patient_sound", "family_sound", "given_sound"),
        Index("ix_patient_family_sound", "family_sound", "birth_date"),
        Index("ix_patient_phone_digits", "phone_digits"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mrn: str = Field(max_length=20, unique=True)
    given_name: str = Field(max_length=80)
    middle_name: str | None = Field(default=None, max_length=80)
    family_name: str = Field(max_length=80)
    sex: str = Field(max_length=10)  # FHIR administrative gender: male | female | other | unknown
    birth_date: date
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=200)
    address_line: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=80)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=60)
    preferred_language: str | None = Field(default=None, max_length=40)
    emergency_contact_name: str | None = Field(default=None, max_length=120)
    emergency_contact_phone: str | None = Field(default=None, max_length=30)
    emergency_contact_relation: str | None = Field(default=None, max_length=40)
    consent_data_sharing: bool = Field(default=False)
    consent_sms: bool = Field(default=False)
    consent_research: bool = Field(default=False)
    photo_key: str | None = Field(
        default=None, max_length=120
    )  # a stored document, served only when authorized
    active: bool = Field(default=True)
    deceased_at: datetime | None = Field(default=None)
    merged_into_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    # Search keys, derived by the service on every write: lowercase ASCII names for prefix search,
    # phonetic codes for "sounds like", and the phone's digits.
    family_key: str = Field(default="", sa_type=SEARCH_KEY)
    given_key: str = Field(default="", sa_type=SEARCH_KEY)
    family_sound: str = Field(default="", max_length=20)
    given_sound: str = Field(default="", max_length=20)
    phone_digits: str | None = Field(default=None, max_length=20)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class PatientHistory(SQLModel, table=True):
    """One changed field of a patient's demographics: who, when, from what to what."""

    __tablename__ = "patient_history"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    changed_at: datetime = Field(default_factory=utcnow)
    changed_by: str = Field(max_length=60)
    field: str = Field(max_length=60)
    old_value: str | None = Field(default=None, sa_column=Column(Text))
    new_value: str | None = Field(default=None, sa_column=Column(Text))
    reason: str | None = Field(default=None, max_length=300)


class PatientMerge(SQLModel, table=True):
    """Two records became one. ``moved`` lists every row that moved, so the merge can be undone."""

    __tablename__ = "patient_merge"

    id: int | None = Field(default=None, primary_key=True)
    survivor_id: int = Field(foreign_key="patient.id", index=True)
    merged_id: int = Field(foreign_key="patient.id", index=True)
    reason: str = Field(max_length=300)
    moved: dict = Field(default_factory=dict, sa_column=Column(JSON))
    merged_at: datetime = Field(default_factory=utcnow)
    merged_by: str = Field(max_length=60)
    undone_at: datetime | None = Field(default=None)
    undone_by: str | None = Field(default=None, max_length=60)


class Payer(SQLModel, table=True):
    """An insurer or other third party that pays for care (FHIR Organization as payer)."""

    __tablename__ = "payer"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)
    name: str = Field(max_length=120)
    kind: str = Field(default="insurer", max_length=20)  # insurer | government | employer | self
    active: bool = Field(default=True)


class Coverage(SQLModel, table=True):
    """A patient's insurance (FHIR Coverage): which payer and plan, member id, validity, shares."""

    __tablename__ = "coverage"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    payer_id: int = Field(foreign_key="payer.id", index=True)
    plan_name: str = Field(max_length=120)
    member_id: str = Field(max_length=60)
    valid_from: date
    valid_to: date | None = Field(default=None)
    priority: int = Field(default=1)  # 1 primary, 2 secondary
    copay_cents: int = Field(default=0)
    coinsurance_percent: int = Field(default=0)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
