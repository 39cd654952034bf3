"""What outside data was imported, and where it went (the Synthea import, ``hms import synthea``).

Each imported record leaves one row naming its source ("synthea"), its type there ("Patient",
"Encounter" ...) and its id there, with the id of the HMS row it became. The unique key makes a
re-run of an import skip what it already wrote: the row is written in the same transaction as
the record it points at, so after a kill either both exist or neither does. It also keeps each
patient's outside identifier (the Synthea UUID) next to the MRN HMS gave them.

``row_id`` has no foreign key: one column points at rows of many tables (``resource_type`` says
which), and the trace of an import outlives a merge that moves the patient's rows elsewhere.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow


class ImportedRecord(SQLModel, table=True):
    __tablename__ = "imported_record"
    __table_args__ = (
        UniqueConstraint("source", "resource_type", "external_id", name="uq_imported_record_external"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)  # synthea
    resource_type: str = Field(max_length=40)  # Patient | Encounter | Condition ... (the source's name)
    external_id: str = Field(max_length=120)
    row_id: int = Field(index=True)
    patient_id: int | None = Field(default=None, index=True)  # the HMS patient the record belongs to
    imported_at: datetime = Field(default_factory=utcnow)
