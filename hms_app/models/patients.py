"""The patient record (FHIR Patient): demographics that every module hangs on."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow


class Patient(SQLModel, table=True):
    __tablename__ = "patient"
    __table_args__ = (
        Index("ix_patient_family_given", "family_name", "given_name"),
        Index("ix_patient_birth_date", "birth_date"),
        Index("ix_patient_phone", "phone"),
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
    active: bool = Field(default=True)
    deceased_at: datetime | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
