"""SOAP notes: drafts, signing (which locks a note) and amendments, and reading an encounter's notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.emr import ClinicalNote, Encounter
from hms_app.models.security import AppUser
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import clean_text
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen

SOAP = ("subjective", "objective", "assessment", "plan")


@returns_frozen
def save_note(
    session: Session,
    *,
    actor: Actor,
    encounter_id: int,
    subjective: str = "",
    objective: str = "",
    assessment: str = "",
    plan: str = "",
    note_id: int | None = None,
) -> ClinicalNote:
    """Create or update a draft SOAP note; a signed note can no longer change."""
    encounter = get_row(session, Encounter, encounter_id, "That encounter does not exist.")
    authorize(actor, "emr.write", patient_id=encounter.patient_id)
    texts = {
        k: clean_text(v, k.capitalize(), k, max_length=20000)
        for k, v in zip(SOAP, (subjective, objective, assessment, plan), strict=True)
    }
    if not any(texts.values()):
        raise ValidationError("Write at least one part of the note.")
    if note_id is None:
        note = ClinicalNote(
            encounter_id=encounter.id,
            patient_id=encounter.patient_id,
            author_id=actor.user_id or None,
            **texts,
        )
    else:
        note = session.execute(
            select(ClinicalNote).where(ClinicalNote.id == note_id).with_for_update()
        ).scalar_one_or_none()
        if note is None or note.encounter_id != encounter.id:
            raise NotFound("That note does not exist.")
        if note.status == "signed":
            raise Conflict("This note is signed and locked. Write an amendment instead.")
        for key, value in texts.items():
            setattr(note, key, value)
    session.add(note)
    session.flush()
    record_audit(
        session,
        actor,
        "note.save",
        patient_id=encounter.patient_id,
        target_type="clinical_note",
        target_id=note.id,
    )
    session.commit()
    return note


@returns_frozen
def sign_note(session: Session, *, actor: Actor, note_id: int) -> ClinicalNote:
    """Sign a draft: from now on it is locked."""
    note = session.execute(
        select(ClinicalNote).where(ClinicalNote.id == note_id).with_for_update()
    ).scalar_one_or_none()
    if note is None:
        raise NotFound("That note does not exist.")
    authorize(actor, "emr.write", patient_id=note.patient_id)
    if note.status == "signed":
        raise Conflict("This note is already signed.")
    note.status, note.signed_at, note.signed_by = "signed", utcnow(), actor.username
    session.add(note)
    record_audit(
        session,
        actor,
        "note.sign",
        patient_id=note.patient_id,
        target_type="clinical_note",
        target_id=note.id,
    )
    session.commit()
    return note


@returns_frozen
def amend_note(session: Session, *, actor: Actor, note_id: int) -> ClinicalNote:
    """Start an amendment of a signed note: a new draft that points at it; the original stays visible."""
    original = get_row(session, ClinicalNote, note_id, "That note does not exist.")
    authorize(actor, "emr.write", patient_id=original.patient_id)
    if original.status != "signed":
        raise Conflict("Only a signed note is amended; a draft can simply be edited.")
    draft = ClinicalNote(
        encounter_id=original.encounter_id,
        patient_id=original.patient_id,
        amends_id=original.id,
        author_id=actor.user_id or None,
        **{k: getattr(original, k) for k in SOAP},
    )
    session.add(draft)
    session.flush()
    record_audit(
        session,
        actor,
        "note.amend",
        patient_id=original.patient_id,
        target_type="clinical_note",
        target_id=draft.id,
        detail=f"amends note {original.id}",
    )
    session.commit()
    return draft


@dataclass(frozen=True)
class NoteView:
    id: int
    encounter_id: int
    status: str
    subjective: str
    objective: str
    assessment: str
    plan: str
    author: str
    created_at: datetime
    signed_at: datetime | None
    signed_by: str
    amends_id: int | None
    amended_by_id: int | None


def encounter_notes(session: Session, *, actor: Actor, encounter_id: int) -> list[NoteView]:
    """All notes of an encounter, originals and amendments, oldest first."""
    encounter = get_row(session, Encounter, encounter_id, "That encounter does not exist.")
    authorize(actor, "patient.read", patient_id=encounter.patient_id)
    notes = session.execute(
        select(ClinicalNote, AppUser.display_name)
        .outerjoin(AppUser, AppUser.id == ClinicalNote.author_id)
        .where(ClinicalNote.encounter_id == encounter_id)
        .order_by(ClinicalNote.created_at, ClinicalNote.id)
    ).all()
    amended_by = {n.amends_id: n.id for n, _ in notes if n.amends_id}
    # Notes keep the signer's username (what the audit trail names); people read the full name.
    signers = {n.signed_by for n, _ in notes if n.signed_by}
    signer_names = (
        dict(
            session.execute(
                select(AppUser.username, AppUser.display_name).where(AppUser.username.in_(signers))
            ).all()
        )
        if signers
        else {}
    )
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=encounter.patient_id,
        target_type="encounter",
        target_id=encounter_id,
        detail="notes",
    )
    session.commit()
    return [
        NoteView(
            n.id,
            n.encounter_id,
            n.status,
            n.subjective,
            n.objective,
            n.assessment,
            n.plan,
            name or "",
            n.created_at,
            n.signed_at,
            signer_names.get(n.signed_by, n.signed_by or ""),
            n.amends_id,
            amended_by.get(n.id),
        )
        for n, name in notes
    ]
