"""Files sent with messages: PDFs and images, checked by their bytes, kept with the patients'
documents outside the public upload folder, and served only to the thread's patient or to staff
who answer messages. Every read is audited."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from hms_app.errors import NotFound
from hms_app.models.messaging import MessageAttachment, MessageThread, SecureMessage
from hms_app.services.audit import record_audit
from hms_app.services.file_store import DOCUMENT_TYPES, documents_dir, store_file
from hms_app.services.messaging.common import authorize_side, side_permission
from hms_app.services.permissions import Actor, authorize_owner

ATTACHMENT_MISSING = "That file does not exist."
EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}


@dataclass(frozen=True)
class NewFile:
    """A file as the screen received it; the service checks it."""

    filename: str
    content_type: str
    content: bytes


def clean_filename(name: str, content_type: str) -> str:
    """A name safe to show and to send back in a download header, with its type's extension."""
    stem = (name or "").replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = "".join(c if c.isalnum() or c in " -_." else "_" for c in stem).strip(" .") or "attachment"
    return stem[:100] + EXTENSIONS.get(content_type, "")


def attach(session: Session, *, message: SecureMessage, upload: NewFile) -> Path:
    """Check and store a file for a message in the caller's transaction; returns the written path
    so the caller can remove it if the transaction fails."""
    key, path = store_file(upload.content, upload.content_type, tuple(DOCUMENT_TYPES))
    session.add(
        MessageAttachment(
            message_id=message.id,
            filename=clean_filename(upload.filename, upload.content_type),
            content_type=upload.content_type,
            size_bytes=len(upload.content),
            sha256=hashlib.sha256(upload.content).hexdigest(),
            storage_key=key,
        )
    )
    try:
        session.flush()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True)
class AttachmentFile:
    filename: str
    content_type: str
    path: Path


def open_attachment(session: Session, *, actor: Actor, attachment_id: int) -> AttachmentFile:
    """A message's file, for the thread's patient or staff who answer messages; audited."""
    authorize_side(actor)  # before the lookup: a refused role learns nothing about the id
    found = session.execute(
        select(MessageAttachment, MessageThread.patient_id, MessageThread.id)
        .join(SecureMessage, SecureMessage.id == MessageAttachment.message_id)
        .join(MessageThread, MessageThread.id == SecureMessage.thread_id)
        .where(MessageAttachment.id == attachment_id)
    ).first()
    if found is None:
        raise NotFound(ATTACHMENT_MISSING)
    row, patient_id, thread_id = found
    authorize_owner(actor, side_permission(actor), patient_id=patient_id, missing=ATTACHMENT_MISSING)
    path = documents_dir() / row.storage_key
    if not path.is_file():
        raise NotFound("The file is missing; tell IT.")
    record_audit(
        session,
        actor,
        "message.attachment_read",
        patient_id=patient_id,
        target_type="message_attachment",
        target_id=row.id,
        detail=f"thread {thread_id}: {row.filename}",
    )
    session.commit()
    return AttachmentFile(row.filename, row.content_type, path)
