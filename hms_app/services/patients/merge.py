"""Merging two records of one person, undoing a merge exactly, and the merges a record took part in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models import metadata
from hms_app.models.patients import Patient, PatientHistory, PatientMerge
from hms_app.services.audit import record_audit
from hms_app.services.patients.demographics import full_name
from hms_app.services.patients.lookup import record_read, require_patient
from hms_app.services.permissions import Actor, authorize

# Columns that point at a patient but must not move in a merge: the merge bookkeeping itself,
# and the record of who was merged into whom.
_NOT_MOVED = {
    ("patient", "merged_into_id"),
    ("patient_merge", "survivor_id"),
    ("patient_merge", "merged_id"),
    ("patient_history", "patient_id"),  # a record's history stays with the record it describes
    # The stock ledger is never rewritten (its triggers refuse it): an issue stays under the record
    # it was made to, which the merge keeps pointing at the survivor; its charge moves with the account.
    ("stock_move", "patient_id"),
}


def patient_links() -> list[tuple[Table, str]]:
    """Every (table, column) that references a patient: the one hook through which every
    module's rows follow a merge. A new module's table with a foreign key to patient.id is
    included by itself."""
    links = []
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            points_at_patient = fk.column.table.name == "patient" and fk.column.name == "id"
            if points_at_patient and (table.name, fk.parent.name) not in _NOT_MOVED:
                links.append((table, fk.parent.name))
    return links


@dataclass(frozen=True)
class MergeResult:
    merge_id: int
    moved: dict[str, int] = field(default_factory=dict)


def merge_patients(
    session: Session, *, actor: Actor, survivor_id: int, merged_id: int, reason: str
) -> MergeResult:
    """Make two records one: everything linked to ``merged_id`` moves to ``survivor_id``."""
    authorize(actor, "patient.merge")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError(
            "Say why these records are the same person (at least 5 characters).", field="reason"
        )
    if survivor_id == merged_id:
        raise ValidationError("Choose two different records to merge.")
    # Lock both in id order so that two merges of the same pair cannot deadlock or interleave.
    first, second = sorted((survivor_id, merged_id))
    locked = {
        first: require_patient(session, first, lock=True),
        second: require_patient(session, second, lock=True),
    }
    survivor, merged = locked[survivor_id], locked[merged_id]
    if survivor.merged_into_id is not None or merged.merged_into_id is not None:
        raise Conflict("One of these records has already been merged into another.")
    moved: dict[str, dict[str, list[int]]] = {}
    counts: dict[str, int] = {}
    for table, column in patient_links():
        pk = next(iter(table.primary_key.columns))
        ids = list(session.execute(select(pk).where(table.c[column] == merged_id)).scalars())
        if not ids:
            continue
        try:
            session.execute(update(table).where(pk.in_(ids)).values({column: survivor_id}))
        except IntegrityError as error:
            # Some rows may exist once per patient (an active hospital stay): both records have one.
            session.rollback()
            what = table.name.replace("_", " ")
            raise Conflict(
                f"These records cannot be merged yet: both have an active {what}, and a patient can have only "
                f"one. Close one of them first (for example, discharge the duplicate stay). Nothing was changed."
            ) from error
        moved.setdefault(table.name, {})[column] = ids
        counts[table.name] = counts.get(table.name, 0) + len(ids)
    merged.merged_into_id, merged.active, merged.updated_at = survivor.id, False, utcnow()
    session.add(merged)
    record = PatientMerge(
        survivor_id=survivor.id, merged_id=merged.id, reason=reason, moved=moved, merged_by=actor.username
    )
    session.add(record)
    session.add(
        PatientHistory(
            patient_id=merged.id,
            changed_by=actor.username,
            field="merged_into",
            old_value=None,
            new_value=survivor.mrn,
            reason=reason,
        )
    )
    session.flush()
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no linked rows"
    for patient_id in (survivor.id, merged.id):
        record_audit(
            session,
            actor,
            "patient.merge",
            patient_id=patient_id,
            target_type="patient_merge",
            target_id=record.id,
            detail=f"{merged.mrn} -> {survivor.mrn}; moved {summary}; {reason}",
        )
    session.commit()
    return MergeResult(record.id, counts)


def undo_merge(session: Session, *, actor: Actor, merge_id: int, reason: str) -> MergeResult:
    """Split a merge: the rows that moved go back to the merged record, which becomes active again."""
    authorize(actor, "patient.merge")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError("Say why the merge is undone (at least 5 characters).", field="reason")
    record = session.execute(
        select(PatientMerge).where(PatientMerge.id == merge_id).with_for_update()
    ).scalar_one_or_none()
    if record is None:
        raise NotFound("That merge does not exist.")
    if record.undone_at is not None:
        raise Conflict("That merge has already been undone.")
    merged = require_patient(session, record.merged_id, lock=True)
    tables = {t.name: t for t in metadata.sorted_tables}
    counts: dict[str, int] = {}
    for table_name, columns in (record.moved or {}).items():
        table = tables[table_name]
        pk = next(iter(table.primary_key.columns))
        for column, ids in columns.items():
            # Only rows still on the survivor go back; a row moved on since stays where it is.
            result = session.execute(
                update(table)
                .where(pk.in_(ids), table.c[column] == record.survivor_id)
                .values({column: record.merged_id})
            )
            counts[table_name] = counts.get(table_name, 0) + (result.rowcount or 0)
    merged.merged_into_id, merged.active, merged.updated_at = None, True, utcnow()
    record.undone_at, record.undone_by = utcnow(), actor.username
    session.add_all([merged, record])
    session.add(
        PatientHistory(
            patient_id=merged.id,
            changed_by=actor.username,
            field="merged_into",
            old_value=str(record.survivor_id),
            new_value=None,
            reason=f"merge undone: {reason}",
        )
    )
    for patient_id in (record.survivor_id, record.merged_id):
        record_audit(
            session,
            actor,
            "patient.merge_undo",
            patient_id=patient_id,
            target_type="patient_merge",
            target_id=record.id,
            detail=reason,
        )
    session.commit()
    return MergeResult(record.id, counts)


@dataclass(frozen=True)
class MergeRow:
    id: int
    survivor_id: int
    survivor_mrn: str
    survivor_name: str
    merged_id: int
    merged_mrn: str
    merged_name: str
    reason: str
    merged_at: datetime
    merged_by: str
    undone_at: datetime | None
    undone_by: str | None
    moved_rows: int


def list_merges(session: Session, *, actor: Actor, patient_id: int, limit: int = 50) -> list[MergeRow]:
    """Merges this record took part in, as survivor or as the record merged away, newest first."""
    authorize(actor, "patient.read", patient_id=patient_id)
    records = (
        session.execute(
            select(PatientMerge)
            .where(or_(PatientMerge.survivor_id == patient_id, PatientMerge.merged_id == patient_id))
            .order_by(PatientMerge.merged_at.desc(), PatientMerge.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    ids = {r.survivor_id for r in records} | {r.merged_id for r in records}
    people = (
        {p.id: p for p in session.execute(select(Patient).where(Patient.id.in_(ids))).scalars()}
        if ids
        else {}
    )
    rows = [
        MergeRow(
            r.id,
            r.survivor_id,
            people[r.survivor_id].mrn,
            full_name(people[r.survivor_id]),
            r.merged_id,
            people[r.merged_id].mrn,
            full_name(people[r.merged_id]),
            r.reason,
            r.merged_at,
            r.merged_by,
            r.undone_at,
            r.undone_by,
            sum(len(ids) for columns in (r.moved or {}).values() for ids in columns.values()),
        )
        for r in records
    ]
    record_read(session, actor, patient_id, "merges")
    return rows
