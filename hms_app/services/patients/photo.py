"""The patient's photo, kept as a document outside the public upload folder."""

from __future__ import annotations

from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict
from hms_app.models.patients import PatientHistory
from hms_app.services.audit import record_audit
from hms_app.services.file_store import write_document
from hms_app.services.patients.lookup import require_patient
from hms_app.services.permissions import Actor, authorize

PHOTO_TYPES = ("image/png", "image/jpeg")


def set_patient_photo(
    session: Session, *, actor: Actor, patient_id: int, content: bytes, content_type: str
) -> int:
    """Store the patient's photo (PNG or JPEG) outside the public upload folder; returns its document id.

    The photo is served like any document, only to users who may read the patient.
    """
    authorize(actor, "patient.write", patient_id=patient_id)
    patient = require_patient(session, patient_id, lock=True)
    if patient.merged_into_id is not None:
        raise Conflict("This record was merged into another; edit the surviving record.")
    row = write_document(
        session,
        patient_id=patient.id,
        title="Patient photo",
        content=content,
        content_type=content_type,
        written_by=actor,
        allowed=PHOTO_TYPES,
    )
    old = patient.photo_key
    patient.photo_key, patient.updated_at = str(row.id), utcnow()
    session.add(patient)
    session.add(
        PatientHistory(
            patient_id=patient.id,
            changed_by=actor.username,
            field="photo",
            old_value=old,
            new_value=str(row.id),
        )
    )
    record_audit(
        session,
        actor,
        "patient.photo",
        patient_id=patient.id,
        target_type="document_reference",
        target_id=row.id,
    )
    session.commit()
    return row.id
