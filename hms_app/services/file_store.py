"""Files kept outside the public upload folder, each with its DocumentReference: the chart's
documents and the patients' photos store theirs here, and only an authorized route serves them."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from sqlmodel import Session

from hms_app.errors import ValidationError
from hms_app.models.emr import DocumentReference
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor
from hms_app.settings import get_settings

# One limit for every upload (HMS_MAX_UPLOAD_MB): the edge refuses a larger body before reading it.
MAX_DOCUMENT_BYTES = get_settings().max_upload_bytes
DOCUMENT_TYPES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


def documents_dir() -> Path:
    """Patient documents live here: outside the public upload folder, served only by an authorized route."""
    path = get_settings().documents_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_file(content: bytes, content_type: str, allowed: tuple[str, ...]) -> None:
    """Refuse a file of another type, an empty or too large one, or one whose bytes are not its type."""
    if content_type not in allowed:
        kinds = [k.split("/")[1].upper() for k in allowed]
        listed = f"{', '.join(kinds[:-1])} and {kinds[-1]}" if len(kinds) > 1 else kinds[0]
        raise ValidationError(f"Only {listed} files can be stored here.", field="file")
    if not content:
        raise ValidationError("The file is empty.", field="file")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ValidationError(
            f"The file is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB.", field="file"
        )
    if not any(content.startswith(magic) for magic in DOCUMENT_TYPES[content_type]):
        raise ValidationError("The file's contents do not match its type.", field="file")


def store_file(content: bytes, content_type: str, allowed: tuple[str, ...]) -> tuple[str, Path]:
    """Check a file and write it under a new random key; the caller records it (and removes the
    file again if its transaction fails)."""
    check_file(content, content_type, allowed)
    key = uuid.uuid4().hex
    path = documents_dir() / key
    path.write_bytes(content)
    return key, path


def write_document(
    session: Session,
    *,
    patient_id: int,
    title: str,
    content: bytes,
    content_type: str,
    written_by: Actor,
    allowed: tuple[str, ...],
) -> DocumentReference:
    """Check and write a file and its DocumentReference, audited and committed.

    The callers (documents, patient photos) check the permission first; this only stores.
    """
    key, path = store_file(content, content_type, allowed)
    try:
        row = DocumentReference(
            patient_id=patient_id,
            title=title,
            content_type=content_type,
            size_bytes=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            storage_key=key,
            created_by=written_by.username,
        )
        session.add(row)
        session.flush()
        record_audit(
            session,
            written_by,
            "document.store",
            patient_id=patient_id,
            target_type="document_reference",
            target_id=row.id,
            detail=title,
        )
        session.commit()
    except BaseException:
        path.unlink(missing_ok=True)  # nothing half-written: no file without its record
        raise
    return row
