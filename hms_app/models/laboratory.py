"""Laboratory: the test catalogue (LOINC-coded tests and panels with reference ranges and critical
limits), orders (FHIR ServiceRequest), specimens (Specimen) with their labels, results
(Observation, verified by a second person before release), critical-result alerts with their
escalation, and the HL7 v2 messages analysers send.

Named after FHIR R4 so that the FHIR API maps rather than translates: ``lab_order`` is a
ServiceRequest, ``specimen`` a Specimen, ``lab_result`` an Observation (numeric ones are copied
into the chart's ``observation`` table on release, where population health reads them), and a
``lab_request`` with its released results is a DiagnosticReport.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, Index, Numeric, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow

RESULT_TYPES = {"numeric": "Number", "coded": "Coded (choose from a list)", "text": "Free text"}
PRIORITIES = {"routine": "Routine", "urgent": "Urgent", "stat": "STAT"}
ORDER_STATUSES = (
    "ordered",  # waiting for the specimen to be collected
    "collected",  # specimen taken, on its way to the lab
    "received",  # specimen scanned in the lab
    "resulted",  # a result entered or received, not yet verified
    "released",  # verified by a second person and visible in the chart
    "cancelled",
)
SPECIMEN_STATUSES = ("pending", "collected", "received", "rejected")
REJECTION_REASONS = {
    "haemolysed": "Haemolysed",
    "clotted": "Clotted",
    "insufficient": "Insufficient volume",
    "unlabelled": "Unlabelled or mislabelled",
    "wrong_tube": "Wrong tube or container",
    "leaked": "Leaked in transport",
    "too_old": "Too old on arrival",
}
# Flags of a numeric result against its reference range and critical limits.
FLAGS = {
    "LL": "Critically low",
    "L": "Low",
    "N": "Normal",
    "H": "High",
    "HH": "Critically high",
    "A": "Abnormal",
}
ALERT_LEVELS = {0: "Ordering clinician", 1: "Charge nurse", 2: "Department lead"}
HL7_STATUSES = ("stored", "rejected", "error")


class LabTest(SQLModel, table=True):
    """A test or a panel of tests that can be ordered (FHIR ActivityDefinition + ObservationDefinition)."""

    __tablename__ = "lab_test"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)  # LOINC (a panel's LOINC panel code)
    name: str = Field(max_length=160, index=True)
    short_name: str = Field(max_length=30)  # what the worklist and the cumulative table show: "K", "HbA1c"
    is_panel: bool = Field(default=False)
    specimen_type: str = Field(max_length=40)  # "Venous blood", "Urine"
    container: str = Field(max_length=40)  # "Lithium heparin (green)", "EDTA (lavender)"
    result_type: str = Field(default="numeric", max_length=10)  # RESULT_TYPES
    unit: str | None = Field(default=None, max_length=20)  # UCUM
    decimals: int = Field(default=1)
    choices: str | None = Field(default=None, max_length=300)  # coded results: "Negative|Trace|1+|2+|3+"
    price_code: str | None = Field(default=None, max_length=40)  # a ChargeItemDefinition code
    # Same test again within this many hours of the last order warns the physician (0: never).
    duplicate_window_hours: int = Field(default=24)
    # Hours after release before the patient sees it in the portal (sensitive tests: HIV, biopsy).
    portal_delay_hours: int = Field(default=0)
    active: bool = Field(default=True)


class LabPanelMember(SQLModel, table=True):
    __tablename__ = "lab_panel_member"
    __table_args__ = (UniqueConstraint("panel_id", "test_id", name="uq_lab_panel_member"),)

    id: int | None = Field(default=None, primary_key=True)
    panel_id: int = Field(foreign_key="lab_test.id", index=True)
    test_id: int = Field(foreign_key="lab_test.id")
    position: int = Field(default=0)


class LabReferenceRange(SQLModel, table=True):
    """Normal and critical limits of a numeric test for one sex and age band. Ages in days (a
    newborn's range differs by the week). A low limit is inclusive (a value equal to it is
    normal), as is a high limit; a critical limit is reached at or beyond it."""

    __tablename__ = "lab_reference_range"
    __table_args__ = (
        Index("ix_lab_reference_range_test", "test_id", "sex", "age_min_days"),
        CheckConstraint("age_max_days IS NULL OR age_max_days > age_min_days", name="ck_lab_range_ages"),
    )

    id: int | None = Field(default=None, primary_key=True)
    test_id: int = Field(foreign_key="lab_test.id")
    sex: str = Field(default="any", max_length=8)  # any | male | female
    age_min_days: int = Field(default=0)  # from this age (inclusive)
    age_max_days: int | None = Field(default=None)  # up to this age (exclusive); none: no upper bound
    low: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 4), nullable=True))
    high: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 4), nullable=True))
    critical_low: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 4), nullable=True))
    critical_high: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 4), nullable=True))
    # Delta check: a change from the previous result larger than this (in the test's unit) is flagged.
    delta_limit: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 4), nullable=True))
    normal_text: str | None = Field(default=None, max_length=60)  # coded/text tests: "Negative"


class LabRequest(SQLModel, table=True):
    """What a physician ordered at once for one patient: one or more tests and panels."""

    __tablename__ = "lab_request"
    __table_args__ = (Index("ix_lab_request_patient_ordered", "patient_id", "ordered_at"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)  # "LR-000123"
    patient_id: int = Field(foreign_key="patient.id")
    encounter_id: int | None = Field(default=None, foreign_key="encounter.id", index=True)
    ordered_by_id: int = Field(foreign_key="app_user.id", index=True)
    ordered_by: str = Field(max_length=60)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    ordered_at: datetime = Field(default_factory=utcnow)
    priority: str = Field(default="routine", max_length=8)  # PRIORITIES
    clinical_question: str | None = Field(default=None, max_length=300)
    fasting: bool = Field(default=False)


class Specimen(SQLModel, table=True):
    """One container of sample, with its own id printed on its label as Code 128."""

    __tablename__ = "specimen"
    __table_args__ = (Index("ix_specimen_status", "status", "collected_at"),)

    id: int | None = Field(default=None, primary_key=True)
    accession: str = Field(max_length=20, unique=True)  # "S-00012345": the label's barcode
    request_id: int = Field(foreign_key="lab_request.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    specimen_type: str = Field(max_length=40)
    container: str = Field(max_length=40)
    status: str = Field(default="pending", max_length=10)  # SPECIMEN_STATUSES
    collected_at: datetime | None = Field(default=None)
    collected_by: str | None = Field(default=None, max_length=60)
    received_at: datetime | None = Field(default=None)
    received_by: str | None = Field(default=None, max_length=60)
    rejected_at: datetime | None = Field(default=None)
    rejected_by: str | None = Field(default=None, max_length=60)
    rejection_reason: str | None = Field(default=None, max_length=20)  # REJECTION_REASONS
    rejection_note: str | None = Field(default=None, max_length=300)
    replaces_id: int | None = Field(
        default=None, foreign_key="specimen.id"
    )  # the rejected one it re-collects


class LabOrder(SQLModel, table=True):
    """One test of a request (FHIR ServiceRequest): a panel's member tests are orders of their own."""

    __tablename__ = "lab_order"
    __table_args__ = (
        Index("ix_lab_order_status_priority", "status", "priority", "ordered_at"),
        Index("ix_lab_order_patient_test", "patient_id", "test_id", "ordered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="lab_request.id", index=True)
    patient_id: int = Field(foreign_key="patient.id")
    test_id: int = Field(foreign_key="lab_test.id")
    panel_id: int | None = Field(default=None, foreign_key="lab_test.id")  # the panel it came with
    specimen_id: int | None = Field(default=None, foreign_key="specimen.id", index=True)
    priority: str = Field(default="routine", max_length=8)
    status: str = Field(default="ordered", max_length=10)  # ORDER_STATUSES
    ordered_at: datetime = Field(default_factory=utcnow)
    cancelled_at: datetime | None = Field(default=None)
    cancelled_by: str | None = Field(default=None, max_length=60)
    cancel_reason: str | None = Field(default=None, max_length=300)


class LabResult(SQLModel, table=True):
    """A result of one order (FHIR Observation, category laboratory). A correction after release
    is a new row that supersedes the old one; a released row is never changed otherwise."""

    __tablename__ = "lab_result"
    __table_args__ = (
        Index(
            "uq_lab_result_current_order",
            "order_id",
            unique=True,
            sqlite_where=text("superseded_by_id IS NULL"),
            postgresql_where=text("superseded_by_id IS NULL"),
        ),
        Index("ix_lab_result_patient_test_time", "patient_id", "test_id", "resulted_at"),
        Index("ix_lab_result_status", "status", "resulted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="lab_order.id")
    patient_id: int = Field(foreign_key="patient.id")
    test_id: int = Field(foreign_key="lab_test.id")
    value_numeric: Decimal | None = Field(default=None, sa_column=Column(Numeric(14, 4), nullable=True))
    value_text: str | None = Field(default=None, max_length=500)
    unit: str | None = Field(default=None, max_length=20)
    flag: str | None = Field(default=None, max_length=2)  # FLAGS
    delta_flag: bool = Field(default=False)  # changed more than the delta limit since the last result
    reference_text: str | None = Field(default=None, max_length=60)  # the range it was judged by: "3.5-5.1"
    status: str = Field(default="preliminary", max_length=12)  # preliminary | final | corrected
    source: str = Field(default="manual", max_length=10)  # manual | analyser
    resulted_at: datetime = Field(default_factory=utcnow)
    entered_by: str = Field(max_length=60)
    verified_at: datetime | None = Field(default=None)
    verified_by: str | None = Field(default=None, max_length=60)
    released_at: datetime | None = Field(default=None)
    portal_visible_from: datetime | None = Field(default=None)
    superseded_by_id: int | None = Field(default=None, foreign_key="lab_result.id")
    comment: str | None = Field(default=None, max_length=300)


class CriticalAlert(SQLModel, table=True):
    """A critical result someone must acknowledge: the ordering clinician first, then up the chain
    every time nobody acknowledges in time. One row per result; ``level`` rises on escalation."""

    __tablename__ = "critical_alert"
    __table_args__ = (
        UniqueConstraint("source_type", "source_id", name="uq_critical_alert_source"),
        Index("ix_critical_alert_open", "status", "escalate_at"),
        Index("ix_critical_alert_recipient", "recipient_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # What is critical: a lab result now, an imaging finding later (radiology reuses the loop).
    source_type: str = Field(max_length=12)  # "lab_result" | "imaging"
    source_id: int
    patient_id: int = Field(foreign_key="patient.id", index=True)
    summary: str = Field(max_length=200)  # "K 6.9 mmol/L (HH)"
    # The unit whose charge nurse and department lead the alert escalates to.
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    # Who ordered it (the first recipient): may acknowledge at every level, the result is theirs.
    clinician_id: int | None = Field(default=None, foreign_key="app_user.id")
    recipient_id: int | None = Field(default=None, foreign_key="app_user.id")
    level: int = Field(default=0)  # ALERT_LEVELS
    status: str = Field(default="open", max_length=12)  # open | acknowledged | withdrawn (specimen rejected)
    raised_at: datetime = Field(default_factory=utcnow)
    escalate_at: datetime
    escalated_at: datetime | None = Field(default=None)
    acknowledged_at: datetime | None = Field(default=None)
    acknowledged_by: str | None = Field(default=None, max_length=60)
    read_back: str | None = Field(default=None, max_length=200)  # what the clinician read back


class Hl7Message(SQLModel, table=True):
    """An HL7 v2 message an analyser sent, kept with the answer it got (one row per control id)."""

    __tablename__ = "hl7_message"
    __table_args__ = (UniqueConstraint("sender", "control_id", name="uq_hl7_message_control"),)

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=60)  # MSH-3/MSH-4: the sending application and facility
    control_id: str = Field(max_length=40)  # MSH-10
    message_type: str = Field(max_length=20)  # "ORU^R01"
    received_at: datetime = Field(default_factory=utcnow, index=True)
    status: str = Field(max_length=10)  # HL7_STATUSES
    ack_code: str = Field(max_length=2)  # AA | AE | AR
    error: str | None = Field(default=None, max_length=300)
    results: int = Field(default=0)
    raw: str
