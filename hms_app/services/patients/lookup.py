"""Reading patients the way every patient service does: one record or NotFound, live records only."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from hms_app.errors import NotFound
from hms_app.models.patients import Patient


def require_patient(session: Session, patient_id: int, *, lock: bool = False) -> Patient:
    query = select(Patient).where(Patient.id == patient_id)
    if lock:
        query = query.with_for_update()
    patient = session.execute(query).scalar_one_or_none()
    if patient is None:
        raise NotFound("That patient does not exist.")
    return patient


def not_merged(session: Session):
    """Live records only (not merged into another).

    On SQLite the test is an expression that no index serves: SQLite keeps no statistics, so it
    would take the index on ``merged_into_id`` (NULL for every live patient) for a selective one
    and read every patient instead of the name, phone or birth-date index. PostgreSQL knows the
    column's null fraction and needs no such help.
    """
    if session.get_bind().dialect.name == "sqlite":
        return (Patient.merged_into_id + 0).is_(None)
    return Patient.merged_into_id.is_(None)
