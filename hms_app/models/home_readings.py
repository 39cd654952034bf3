"""Home measurements (telehealth): what patients measure at home and enter in the portal, the alert
limits staff set for them, and the alerts a reading beyond them raises.

A reading's values live in the chart as ``observation`` rows (so trends, FHIR and population health
see them), each marked patient-reported by its ``recorded_by`` ("home:<username>"); the reading row
groups them, keeps when the patient says they measured and when they entered it, and carries the
alert. Limits are kept as a history (the newest row per patient and measure is in force), so a
patient merge never meets two "current" limits that a unique constraint would refuse.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow


class HomeReading(SQLModel, table=True):
    """One measurement session at home: a blood pressure (with its pulse), a glucose, a weight, a
    temperature or an oxygen saturation."""

    __tablename__ = "home_reading"
    __table_args__ = (
        Index("ix_home_reading_patient_measured", "patient_id", "measured_at"),
        # The staff board: open alerts, newest first, paged in SQL.
        Index("ix_home_reading_alert", "alert_status", "measured_at"),
        Index("ix_home_reading_entered", "entered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    kind: str = Field(max_length=20)  # blood_pressure | glucose | weight | temperature | spo2
    measured_at: datetime  # when the patient says they measured (UTC)
    entered_at: datetime = Field(default_factory=utcnow)
    entered_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    # What the patient typed, for the record ("7.8 mmol/L" stays 7.8 mmol/L though stored in mg/dL).
    entered_text: str = Field(default="", max_length=120)
    # "" no alert | open | cleared
    alert_status: str = Field(default="", max_length=10)
    alert_text: str = Field(default="", max_length=300)  # "Systolic 172 mmHg is above the limit of 160"
    cleared_at: datetime | None = Field(default=None)
    cleared_by: str | None = Field(default=None, max_length=60)
    cleared_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class HomeReadingObservation(SQLModel, table=True):
    """The chart observations one reading wrote (systolic, diastolic and pulse for a blood pressure)."""

    __tablename__ = "home_reading_observation"

    reading_id: int = Field(foreign_key="home_reading.id", primary_key=True)
    observation_id: int = Field(foreign_key="observation.id", primary_key=True, unique=True)
    measure: str = Field(max_length=20)  # systolic | diastolic | pulse | glucose | weight | ...


class HomeReadingLimit(SQLModel, table=True):
    """An alert limit set for one patient and one measure; the newest row is in force. A limit of
    None on a side means no alert on that side; both None switches the alert off."""

    __tablename__ = "home_reading_limit"
    __table_args__ = (Index("ix_home_reading_limit_patient", "patient_id", "measure", "set_at"),)

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    measure: str = Field(max_length=20)
    low: float | None = Field(default=None)
    high: float | None = Field(default=None)
    set_at: datetime = Field(default_factory=utcnow)
    set_by: str = Field(max_length=60)
    reason: str = Field(default="", max_length=300)
