"""Every table, imported here so that Alembic and the app see the whole schema."""

from sqlmodel import SQLModel

from hms_app.models import billing, population, scheduling, wards  # noqa: F401  (their tables)
from hms_app.models.emr import (
    AllergyIntolerance,
    ClinicalNote,
    Condition,
    DocumentReference,
    Encounter,
    Immunization,
    MedicationStatement,
    Observation,
)
from hms_app.models.organization import Counter, Department
from hms_app.models.patients import Coverage, Patient, PatientHistory, PatientMerge, Payer
from hms_app.models.security import (
    AppUser,
    AuditEvent,
    AuditHead,
    Role,
    RolePermission,
    UserRole,
    UserSession,
)

metadata = SQLModel.metadata

__all__ = [
    "AllergyIntolerance",
    "ClinicalNote",
    "Condition",
    "Coverage",
    "DocumentReference",
    "Encounter",
    "Immunization",
    "MedicationStatement",
    "Observation",
    "PatientHistory",
    "PatientMerge",
    "Payer",
    "AppUser",
    "AuditEvent",
    "AuditHead",
    "Counter",
    "Department",
    "Patient",
    "Role",
    "RolePermission",
    "UserRole",
    "UserSession",
    "metadata",
]
