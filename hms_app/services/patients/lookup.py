"""Reading patients the way every patient service does: one record or NotFound, live records only,
and the audit row that every read of a record leaves."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from hms_app.errors import NotFound
from hms_app.models.patients import Patient
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor


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


def record_read(session: Session, actor: Actor, patient_id: int, detail: str) -> None:
    """Audit that ``actor`` read this part (``detail``) of the patient's record, and commit."""
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient_id,
        target_type="patient",
        target_id=patient_id,
        detail=detail,
    )
    session.commit()
