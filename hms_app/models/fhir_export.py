"""FHIR Bulk Data exports (``GET /fhir/$export``): one row per job a system client started.

The NDJSON files themselves are in the data directory (``<data>/fhir-export/<job id>/``), never
in the database and never in the public upload folder. A job row outlives a restart: a finished
job's files can still be fetched; one that was running when its process stopped is marked failed
at the next status poll (its ``worker`` is gone and its ``heartbeat_at`` stopped moving).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow


class FhirExportJob(SQLModel, table=True):
    __tablename__ = "fhir_export_job"

    # Random (not a counter): a job's URL tells nobody how many others there are.
    id: str = Field(primary_key=True, max_length=32)
    # The client's own account (a FHIR client's service user): only it may poll and download.
    requested_by: int = Field(foreign_key="app_user.id", index=True)
    client_name: str = Field(default="", max_length=60)
    request: str = Field(max_length=2000)  # the kick-off URL, echoed in the manifest
    types: str = Field(max_length=2000)  # comma list, in export order
    since: datetime | None = Field(default=None)
    # queued | running | done | failed | cancelled
    status: str = Field(default="queued", max_length=12, index=True)
    progress: str = Field(default="", max_length=200)
    transaction_time: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = Field(default=None)
    worker: str = Field(default="", max_length=64)  # the process running it
    heartbeat_at: datetime | None = Field(default=None)
    # JSON [{"type": ..., "count": ...}] once done; the failure's message when failed.
    output: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    error: str = Field(default="", max_length=500)
