"""Radiology: the imaging catalogue, imaging orders with their safety answers and accession
numbers, the DICOM images received (study, series, instance by their UIDs), the images no order or
patient matched, and the radiologist's reports with their addenda.

Named after FHIR R4 and DICOM: an ``imaging_procedure`` is an ActivityDefinition of the catalogue,
an ``imaging_order`` a ServiceRequest (its accession number is DICOM's AccessionNumber (0008,0050)),
``imaging_study`` / ``imaging_series`` / ``imaging_instance`` are the ImagingStudy resource's levels
keyed by StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID, and an ``imaging_report`` is a
DiagnosticReport (``imaging_report_addendum`` keeps what was added after it was final).

The DICOM files live under the data directory (``settings.data_dir / "dicom"``), never in the public
upload folder; ``imaging_instance.path`` is relative to it. A critical finding is a
``critical_alert`` with ``source_type = "imaging"`` (the laboratory's closed loop).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow

MODALITIES = {
    "CR": "Radiograph (X-ray)",
    "CT": "Computed tomography",
    "MR": "Magnetic resonance",
    "US": "Ultrasound",
    "NM": "Nuclear medicine",
    "MG": "Mammography",
    "XA": "Angiography",
    "DX": "Digital radiography",
}
# The modality work list's steps, in order.
ORDER_STATUSES = (
    "requested",  # ordered, safety questions answered, not yet booked
    "scheduled",  # booked on a scanner's slot
    "arrived",  # the patient is in the department
    "in_progress",  # being scanned
    "images_received",  # the modality has sent the images
    "preliminary",  # a preliminary report is signed
    "final",  # the final report is signed: locked
    "cancelled",
)
PRIORITIES = {"stat": "STAT", "urgent": "Urgent", "routine": "Routine"}
REPORT_STATUSES = ("draft", "preliminary", "final")
UNMATCHED_REASONS = {
    "no_order": "No order has this accession number",
    "patient_mismatch": "The patient in the file is not the order's patient",
    "no_accession": "The file has no accession number",
}


class ImagingProcedure(SQLModel, table=True):
    """An examination the department performs: modality, body part, contrast, preparation, the
    charge code it bills, and the report template its findings start from."""

    __tablename__ = "imaging_procedure"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=30, unique=True)  # the hospital's: "IMG-CT-HEAD"
    name: str = Field(max_length=120)  # "CT head without contrast"
    modality: str = Field(max_length=4, index=True)  # MODALITIES
    body_part: str = Field(max_length=40)  # DICOM BodyPartExamined: "HEAD", "CHEST", "KNEE"
    contrast: bool = Field(default=False)
    preparation: str | None = Field(default=None, max_length=300)  # "Nil by mouth for 4 hours"
    charge_code: str | None = Field(default=None, max_length=30)  # billing's ChargeItemDefinition code
    duration_minutes: int = Field(default=20)
    report_template: str | None = Field(default=None, max_length=2000)  # the findings' starting text
    active: bool = Field(default=True)


class ImagingOrder(SQLModel, table=True):
    """An imaging request (FHIR ServiceRequest, category imaging) with the safety questions answered
    before it may be scheduled and the accession number that ties the images to it."""

    __tablename__ = "imaging_order"
    __table_args__ = (
        Index("ix_imaging_order_status_scheduled", "status", "scheduled_at"),
        Index("ix_imaging_order_patient", "patient_id", "ordered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    accession: str = Field(max_length=16, unique=True)  # "ACC00001234": DICOM (0008,0050), 16 chars at most
    patient_id: int = Field(foreign_key="patient.id")
    encounter_id: int | None = Field(default=None, foreign_key="encounter.id", index=True)
    procedure_id: int = Field(foreign_key="imaging_procedure.id", index=True)
    priority: str = Field(default="routine", max_length=8)  # PRIORITIES
    clinical_question: str = Field(max_length=300)
    status: str = Field(default="requested", max_length=16)  # ORDER_STATUSES
    # Safety answers (asked by the order dialog; the service refuses an order without them).
    pregnancy: str | None = Field(
        default=None, max_length=12
    )  # not_pregnant | pregnant | unknown | not_applicable
    implants: str | None = Field(default=None, max_length=200)  # MR: pacemaker, implants; "none"
    contrast_allergy: bool | None = Field(default=None)
    egfr: float | None = Field(default=None)  # the latest eGFR when contrast was ordered
    egfr_at: datetime | None = Field(default=None)
    safety_note: str | None = Field(default=None, max_length=300)  # what the orderer said about a warning
    ordered_by_id: int = Field(foreign_key="app_user.id", index=True)
    ordered_by: str = Field(max_length=60)
    ordered_at: datetime = Field(default_factory=utcnow)
    department_id: int | None = Field(default=None, foreign_key="department.id")  # the orderer's unit
    # Booked on a scanner: the scheduling module's appointment (resource and time).
    appointment_id: int | None = Field(default=None, foreign_key="appointment.id", index=True)
    scheduled_at: datetime | None = Field(default=None)
    status_changed_at: datetime = Field(default_factory=utcnow)
    status_changed_by: str | None = Field(default=None, max_length=60)
    cancel_reason: str | None = Field(default=None, max_length=300)
    charged: bool = Field(default=False)  # the exam's charge was posted (once)


class ImagingStudy(SQLModel, table=True):
    """A DICOM study received (FHIR ImagingStudy), linked to its order and patient."""

    __tablename__ = "imaging_study"

    id: int | None = Field(default=None, primary_key=True)
    study_uid: str = Field(max_length=64, unique=True)  # (0020,000D)
    order_id: int | None = Field(default=None, foreign_key="imaging_order.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    accession: str | None = Field(default=None, max_length=16, index=True)
    study_date: str | None = Field(default=None, max_length=8)  # DICOM DA: "20261206"
    description: str | None = Field(default=None, max_length=120)
    modalities: str = Field(default="", max_length=40)  # "CT|SR"
    series_count: int = Field(default=0)
    instance_count: int = Field(default=0)
    received_at: datetime = Field(default_factory=utcnow)


class ImagingSeries(SQLModel, table=True):
    __tablename__ = "imaging_series"

    id: int | None = Field(default=None, primary_key=True)
    series_uid: str = Field(max_length=64, unique=True)  # (0020,000E)
    study_id: int = Field(foreign_key="imaging_study.id", index=True)
    modality: str = Field(max_length=4)
    number: int | None = Field(default=None)  # (0020,0011)
    description: str | None = Field(default=None, max_length=120)
    body_part: str | None = Field(default=None, max_length=40)
    instance_count: int = Field(default=0)


class ImagingInstance(SQLModel, table=True):
    """One stored DICOM file (an image or other object), deduplicated by its SOP Instance UID."""

    __tablename__ = "imaging_instance"
    __table_args__ = (Index("ix_imaging_instance_series_number", "series_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    sop_uid: str = Field(max_length=64, unique=True)  # (0008,0018)
    sop_class_uid: str = Field(max_length=64)  # (0008,0016)
    series_id: int = Field(foreign_key="imaging_series.id")
    number: int | None = Field(default=None)  # InstanceNumber (0020,0013): the scroll order
    rows: int | None = Field(default=None)
    columns: int | None = Field(default=None)
    frames: int = Field(default=1)
    transfer_syntax: str = Field(max_length=64)
    path: str = Field(max_length=300)  # relative to data_dir/dicom
    size_bytes: int
    sha256: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow)
    received_from: str | None = Field(default=None, max_length=60)  # the sending AE title, or "import"


class UnmatchedImage(SQLModel, table=True):
    """A DICOM file whose accession or patient did not match an order: kept aside (never filed to a
    chart) until a person files it to the right order or discards it."""

    __tablename__ = "unmatched_image"
    __table_args__ = (Index("ix_unmatched_image_open", "resolved_at", "received_at"),)

    id: int | None = Field(default=None, primary_key=True)
    sop_uid: str = Field(max_length=64, unique=True)
    study_uid: str = Field(max_length=64, index=True)
    series_uid: str = Field(max_length=64)
    accession: str | None = Field(default=None, max_length=16)
    patient_key: str | None = Field(default=None, max_length=64)  # the file's PatientID (0010,0020)
    patient_name: str | None = Field(default=None, max_length=120)  # the file's PatientName
    modality: str | None = Field(default=None, max_length=4)
    reason: str = Field(max_length=20)  # UNMATCHED_REASONS
    path: str = Field(max_length=300)  # relative to data_dir/dicom
    size_bytes: int
    received_at: datetime = Field(default_factory=utcnow)
    received_from: str | None = Field(default=None, max_length=60)
    resolved_at: datetime | None = Field(default=None)
    resolved_by: str | None = Field(default=None, max_length=60)
    resolution: str | None = Field(default=None, max_length=200)  # "filed to ACC00000042" | "discarded: ..."


class ImagingReport(SQLModel, table=True):
    """The radiologist's report of an order (FHIR DiagnosticReport): findings and impression,
    preliminary then final; a final report is locked and changes only by addenda."""

    __tablename__ = "imaging_report"
    __table_args__ = (
        UniqueConstraint("order_id", name="uq_imaging_report_order"),
        CheckConstraint(
            "status = 'draft' OR (signed_by_id IS NOT NULL AND impression <> '')",
            name="ck_imaging_report_signed",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="imaging_order.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    status: str = Field(default="draft", max_length=12)  # REPORT_STATUSES
    findings: str = Field(default="", max_length=8000)
    impression: str = Field(default="", max_length=2000)
    critical: bool = Field(default=False)  # raised a critical alert when signed
    drafted_by: str = Field(max_length=60)
    updated_at: datetime = Field(default_factory=utcnow)
    signed_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    signed_by: str | None = Field(default=None, max_length=60)
    preliminary_at: datetime | None = Field(default=None)
    final_at: datetime | None = Field(default=None)
    released_at: datetime | None = Field(default=None)  # shown on the portal from this moment


class ImagingReportAddendum(SQLModel, table=True):
    """Text added to a final report; the report itself never changes once final."""

    __tablename__ = "imaging_report_addendum"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="imaging_report.id", index=True)
    text: str = Field(max_length=4000)
    signed_by_id: int = Field(foreign_key="app_user.id")
    signed_by: str = Field(max_length=60)
    signed_at: datetime = Field(default_factory=utcnow)
