"""The clinical record, named after FHIR R4 resources: Encounter, notes, Observation, Condition,
AllergyIntolerance (and the "no known allergies" assessment), MedicationStatement, Immunization,
DocumentReference."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow


class Encounter(SQLModel, table=True):
    __tablename__ = "encounter"
    __table_args__ = (Index("ix_encounter_patient_start", "patient_id", "start_at"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    encounter_class: str = Field(max_length=12)  # outpatient | inpatient | emergency | virtual
    status: str = Field(default="in-progress", max_length=20)  # planned | in-progress | finished | cancelled
    department_id: int | None = Field(default=None, foreign_key="department.id")
    practitioner_id: int | None = Field(default=None, foreign_key="app_user.id")
    reason: str | None = Field(default=None, max_length=300)
    start_at: datetime = Field(default_factory=utcnow)
    end_at: datetime | None = Field(default=None)


class ClinicalNote(SQLModel, table=True):
    """A SOAP note. Signing locks it; an amendment is a new note that points at the one it amends."""

    __tablename__ = "clinical_note"

    id: int | None = Field(default=None, primary_key=True)
    encounter_id: int = Field(foreign_key="encounter.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    subjective: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    objective: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    assessment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    plan: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default="draft", max_length=12)  # draft | signed
    amends_id: int | None = Field(default=None, foreign_key="clinical_note.id", index=True)
    author_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    signed_at: datetime | None = Field(default=None)
    signed_by: str | None = Field(default=None, max_length=60)


class Observation(SQLModel, table=True):
    """A measurement coded in LOINC: vital signs now, laboratory results later."""

    __tablename__ = "observation"
    __table_args__ = (Index("ix_observation_patient_code_time", "patient_id", "code", "effective_at"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    encounter_id: int | None = Field(default=None, foreign_key="encounter.id", index=True)
    category: str = Field(default="vital-signs", max_length=20)
    code: str = Field(max_length=20)  # LOINC
    display: str = Field(max_length=120)
    value: float
    unit: str = Field(max_length=20)
    effective_at: datetime = Field(default_factory=utcnow)
    recorded_by: str | None = Field(default=None, max_length=60)
    status: str = Field(default="final", max_length=20)


class Condition(SQLModel, table=True):
    """A problem-list entry coded in ICD-10-CM (billable codes only). An imported problem that has
    no ICD-10-CM equivalent keeps its original code: ``code_system`` then says which (``snomed``);
    ICD-10-CM codes start with a letter and SNOMED CT codes are digits, so a prefix never matches
    across systems."""

    __tablename__ = "condition"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    code: str = Field(max_length=20, index=True)
    code_system: str = Field(
        default="icd-10-cm", max_length=12, sa_column_kwargs={"server_default": "icd-10-cm"}
    )
    display: str = Field(max_length=300)
    clinical_status: str = Field(default="active", max_length=12)  # active | resolved | inactive
    onset_date: date | None = Field(default=None)
    abatement_date: date | None = Field(default=None)
    recorded_at: datetime = Field(default_factory=utcnow)
    recorded_by: str | None = Field(default=None, max_length=60)


class AllergyIntolerance(SQLModel, table=True):
    __tablename__ = "allergy_intolerance"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    substance: str = Field(max_length=120)
    reaction: str | None = Field(default=None, max_length=200)
    severity: str = Field(default="moderate", max_length=10)  # mild | moderate | severe
    status: str = Field(default="active", max_length=12)  # active | inactive | resolved
    recorded_at: datetime = Field(default_factory=utcnow)
    recorded_by: str | None = Field(default=None, max_length=60)


class AllergyAssessment(SQLModel, table=True):
    """A clinician's "no known allergies" (FHIR: an AllergyIntolerance coded 716186003): who said
    so and when. No row means nobody has assessed the patient yet, which is not the same thing.
    Recording an allergy later supersedes it (``superseded_at``); the rows stay as the history."""

    __tablename__ = "allergy_assessment"
    __table_args__ = (Index("ix_allergy_assessment_patient", "patient_id", "superseded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    recorded_at: datetime = Field(default_factory=utcnow)
    recorded_by: str = Field(max_length=60)
    superseded_at: datetime | None = Field(default=None)
    superseded_by: str | None = Field(default=None, max_length=60)


class MedicationStatement(SQLModel, table=True):
    __tablename__ = "medication_statement"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    medication: str = Field(max_length=200)
    code: str | None = Field(default=None, max_length=20)  # RxNorm where known
    dosage: str | None = Field(default=None, max_length=200)
    status: str = Field(
        default="active", max_length=12
    )  # active | stopped | completed (an order's course ran out)
    started_on: date | None = Field(default=None)
    stopped_on: date | None = Field(default=None)
    stop_reason: str | None = Field(default=None, max_length=200)
    recorded_at: datetime = Field(default_factory=utcnow)
    recorded_by: str | None = Field(default=None, max_length=60)


class Immunization(SQLModel, table=True):
    __tablename__ = "immunization"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    vaccine: str = Field(max_length=120)
    code: str | None = Field(default=None, max_length=10)  # CVX
    occurrence_date: date
    lot_number: str | None = Field(default=None, max_length=40)
    status: str = Field(default="completed", max_length=20)
    recorded_at: datetime = Field(default_factory=utcnow)
    recorded_by: str | None = Field(default=None, max_length=60)


class Procedure(SQLModel, table=True):
    """A procedure that was performed (FHIR Procedure), coded in SNOMED CT. HMS records none itself
    yet: these come from imports (Synthea), so the chart's history is complete."""

    __tablename__ = "procedure"
    __table_args__ = (Index("ix_procedure_patient_performed", "patient_id", "performed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    encounter_id: int | None = Field(default=None, foreign_key="encounter.id", index=True)
    code: str = Field(max_length=20)
    code_system: str = Field(default="snomed", max_length=12)
    display: str = Field(max_length=300)
    status: str = Field(default="completed", max_length=20)
    performed_at: datetime
    performed_end_at: datetime | None = Field(default=None)
    reason: str | None = Field(default=None, max_length=300)
    recorded_at: datetime = Field(default_factory=utcnow)
    recorded_by: str | None = Field(default=None, max_length=60)


class DocumentReference(SQLModel, table=True):
    """A stored PDF or image. The bytes live outside the public upload folder, under ``storage_key``."""

    __tablename__ = "document_reference"

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    title: str = Field(max_length=200)
    content_type: str = Field(max_length=60)
    size_bytes: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=120, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str | None = Field(default=None, max_length=60)
