"""The FHIR API's own records: every version of a resource written through it.

HMS's tables hold what HMS models of a resource (a patient's names, an observation's code and
value ...). A FHIR client may send more: extensions, a second identifier system, a narrative.
Those elements must come back on read, so each create or update keeps the whole resource as
received, one row per version. A read starts from the latest kept version and replaces every
element HMS models with what the tables say now (a change made on a screen wins); ``vread``
answers a kept version exactly as it was written.

``resource_id`` is the FHIR id (``Observation/vs-12`` keeps ``vs-12``): a type may map more
than one table, so ids are strings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from hms_app.clock import utcnow


class FhirResourceVersion(SQLModel, table=True):
    """One version of a resource as a FHIR client wrote it (JSON, with ``id`` and ``meta``)."""

    __tablename__ = "fhir_resource_version"
    __table_args__ = (UniqueConstraint("resource_type", "resource_id", "version_id"),)

    id: int | None = Field(default=None, primary_key=True)
    resource_type: str = Field(max_length=40)
    resource_id: str = Field(max_length=64)
    version_id: int
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    # What HMS's tables held of it just after it was written (see interop/fhir/store.py).
    projection: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    written_at: datetime = Field(default_factory=utcnow)
    written_by: int | None = Field(default=None, foreign_key="app_user.id")


class FhirIdentifier(SQLModel, table=True):
    """An identifier a FHIR client gave a resource (``system|value``), for ``identifier`` searches
    and conditional creates; rewritten with each version. HMS's own (the MRN) are in its tables."""

    __tablename__ = "fhir_identifier"
    __table_args__ = (Index("ix_fhir_identifier_lookup", "resource_type", "system", "value"),)

    id: int | None = Field(default=None, primary_key=True)
    resource_type: str = Field(max_length=40)
    row_id: int = Field(index=True)
    system: str = Field(default="", max_length=200)
    value: str = Field(max_length=200)
