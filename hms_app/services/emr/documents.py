"""A patient's documents (PDFs and images): storing one from the chart and opening one, audited."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from hms_app.errors import NotFound
from hms_app.models.emr import DocumentReference
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import clean_text, require_patient
from hms_app.services.file_store import DOCUMENT_TYPES, documents_dir, write_document
from hms_app.services.permissions import Actor, authorize, authorize_owner
from hms_app.services.rows import get_row, returns_frozen


@returns_frozen
def store_document(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    title: str,
    content: bytes,
    content_type: str,
) -> DocumentReference:
    """Store a PDF or image for a patient; its type is checked from its bytes, not its name."""
    authorize(actor, "emr.write", patient_id=patient_id)
    require_patient(session, patient_id)
    title = clean_text(title, "Title", "title", max_length=200, required=True)
    return write_document(
        session,
        patient_id=patient_id,
        title=title,
        content=content,
        content_type=content_type,
        written_by=actor,
        allowed=tuple(DOCUMENT_TYPES),
    )


DOCUMENT_MISSING = "That document does not exist."


@returns_frozen
def open_document(session: Session, *, actor: Actor, document_id: int) -> tuple[DocumentReference, Path]:
    """A document and its file, for a user allowed to read that patient; audited."""
    permission = "portal.self" if actor is not None and actor.patient_id is not None else "patient.read"
    authorize(actor, permission)  # before the lookup: a role's refusal says nothing about the id
    row = get_row(session, DocumentReference, document_id, DOCUMENT_MISSING)
    authorize_owner(actor, permission, patient_id=row.patient_id, missing=DOCUMENT_MISSING)
    path = documents_dir() / row.storage_key
    if not path.is_file():
        raise NotFound("The document's file is missing; tell IT.")
    record_audit(
        session,
        actor,
        "document.read",
        patient_id=row.patient_id,
        target_type="document_reference",
        target_id=row.id,
    )
    session.commit()
    return row, path
