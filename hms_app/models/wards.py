"""Inpatient wards and beds: wards, beds, admissions (FHIR Encounter, class inpatient) and the
history of which bed an admission occupied when (transfers).

Two guards live in the database, not in Python, so that they hold across workers:
- one patient per bed: a unique partial index on ``bed_assignment(bed_id)`` over the open
  assignments (``to_at IS NULL``), and the service's conditional ``UPDATE bed SET status =
  'occupied' WHERE status = 'free'`` that lets exactly one of two concurrent admissions win;
- one open admission per patient: a unique partial index on ``admission(patient_id)`` over the
  active admissions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow

BED_STATUSES = ("free", "occupied", "cleaning", "out_of_service")
ADMISSION_STATUSES = ("active", "discharged")
# FHIR Encounter.hospitalization.dischargeDisposition, the common codes.
DISCHARGE_DISPOSITIONS = {
    "home": "Home",
    "other-hcf": "Other healthcare facility",
    "hosp": "Hospice",
    "long": "Long-term care",
    "aadvice": "Left against advice",
    "exp": "Expired (died)",
    "oth": "Other",
}


class Ward(SQLModel, table=True):
    __tablename__ = "ward"
    __table_args__ = (UniqueConstraint("name", name="uq_ward_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    active: bool = Field(default=True)


class Bed(SQLModel, table=True):
    __tablename__ = "bed"
    __table_args__ = (
        UniqueConstraint("ward_id", "label", name="uq_bed_ward_label"),
        Index("ix_bed_ward_status", "ward_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ward_id: int = Field(foreign_key="ward.id")
    label: str = Field(max_length=20)
    status: str = Field(default="free", max_length=16)  # free | occupied | cleaning | out_of_service
    status_since: datetime = Field(default_factory=utcnow)
    status_note: str | None = Field(default=None, max_length=200)  # why it is out of service


class Admission(SQLModel, table=True):
    """One inpatient stay (FHIR Encounter, class inpatient), from admission to discharge."""

    __tablename__ = "admission"
    __table_args__ = (
        Index(
            "uq_admission_active_patient",
            "patient_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_admission_status_admitted", "status", "admitted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    # The chart's view of the stay: an inpatient Encounter opened on admission, finished on discharge.
    encounter_id: int | None = Field(default=None, foreign_key="encounter.id", index=True)
    ward_id: int = Field(foreign_key="ward.id", index=True)  # the ward the patient is on now
    admitted_at: datetime = Field(default_factory=utcnow)
    discharged_at: datetime | None = Field(default=None)
    status: str = Field(default="active", max_length=12)  # active | discharged
    reason: str = Field(max_length=300)
    admitted_by: str = Field(max_length=60)
    discharged_by: str | None = Field(default=None, max_length=60)
    discharge_disposition: str | None = Field(default=None, max_length=12)  # DISCHARGE_DISPOSITIONS


class BedAssignment(SQLModel, table=True):
    """Which bed an admission held from when to when: the transfer history. ``to_at`` is empty
    while the patient is in the bed."""

    __tablename__ = "bed_assignment"
    __table_args__ = (
        Index(
            "uq_bed_assignment_open_bed",
            "bed_id",
            unique=True,
            sqlite_where=text("to_at IS NULL"),
            postgresql_where=text("to_at IS NULL"),
        ),
        Index("ix_bed_assignment_admission", "admission_id", "from_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    admission_id: int = Field(foreign_key="admission.id")
    bed_id: int = Field(foreign_key="bed.id")
    from_at: datetime = Field(default_factory=utcnow)
    to_at: datetime | None = Field(default=None)
    moved_by: str = Field(max_length=60)
