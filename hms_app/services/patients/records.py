"""One patient record: registration (a likely duplicate needs a reason), edits and status changes
kept in the record's history, and audited reads of the demographics, summary and history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.patients import Patient, PatientHistory
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.patient_keys import search_keys
from hms_app.services.patients.demographics import (
    DEMOGRAPHIC_FIELDS,
    full_name,
    parse_date,
    validate_demographics,
)
from hms_app.services.patients.duplicates import LIKELY_DUPLICATE, DuplicateSuspected, find_duplicates
from hms_app.services.patients.lookup import record_read, require_patient
from hms_app.services.patients.merge import MergeRow, list_merges
from hms_app.services.patients.mrn import format_mrn
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen


@returns_frozen
def register_patient(
    session: Session, *, actor: Actor, data: dict, duplicate_reason: str | None = None
) -> Patient:
    """Register a new patient. A likely duplicate needs ``duplicate_reason`` to go ahead."""
    authorize(actor, "patient.write")
    clean = validate_demographics(data)
    reason = (duplicate_reason or "").strip()
    candidates = find_duplicates(
        session,
        actor=actor,
        given_name=clean["given_name"],
        family_name=clean["family_name"],
        birth_date=clean["birth_date"],
        phone=clean["phone"],
    )
    likely = [c for c in candidates if c.score >= LIKELY_DUPLICATE]
    if likely and len(reason) < 5:
        raise DuplicateSuspected(likely)
    if len(reason) > 300:
        raise ValidationError("Keep the reason under 300 characters.", field="duplicate_reason")
    number = take_numbers(session, "mrn")[0]
    now = utcnow()
    patient = Patient(
        mrn=format_mrn(number),
        created_at=now,
        updated_at=now,
        **clean,
        **search_keys(given_name=clean["given_name"], family_name=clean["family_name"], phone=clean["phone"]),
    )
    session.add(patient)
    session.flush()
    detail = None
    if likely:
        detail = f"registered despite likely duplicate(s) {','.join(c.mrn for c in likely)}: {reason}"
    record_audit(
        session,
        actor,
        "patient.create",
        patient_id=patient.id,
        target_type="patient",
        target_id=patient.id,
        detail=detail,
    )
    session.commit()
    return patient


def _display(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


@returns_frozen
def update_patient(
    session: Session, *, actor: Actor, patient_id: int, data: dict, reason: str | None = None
) -> Patient:
    """Change demographics; every changed field is kept in the patient's history."""
    authorize(actor, "patient.write", patient_id=patient_id)
    patient = require_patient(session, patient_id, lock=True)
    if patient.merged_into_id is not None:
        raise Conflict("This record was merged into another; edit the surviving record.")
    clean = validate_demographics(data)
    changes = [(k, getattr(patient, k), v) for k, v in clean.items() if getattr(patient, k) != v]
    if not changes:
        return patient
    now = utcnow()
    for key, old, new in changes:
        setattr(patient, key, new)
        session.add(
            PatientHistory(
                patient_id=patient.id,
                changed_at=now,
                changed_by=actor.username,
                field=key,
                old_value=_display(old),
                new_value=_display(new),
                reason=(reason or None),
            )
        )
    for key, value in search_keys(
        given_name=patient.given_name, family_name=patient.family_name, phone=patient.phone
    ).items():
        setattr(patient, key, value)
    patient.updated_at = now
    session.add(patient)
    record_audit(
        session,
        actor,
        "patient.update",
        patient_id=patient.id,
        target_type="patient",
        target_id=patient.id,
        detail="changed: " + ", ".join(k for k, _o, _n in changes),
    )
    session.commit()
    return patient


@returns_frozen
def set_patient_status(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    status: str,
    reason: str,
    deceased_on: date | str | None = None,
) -> Patient:
    """Mark a record active, inactive or deceased (with the date), keeping the change in history."""
    authorize(actor, "patient.write", patient_id=patient_id)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Say why the status changes (at least 3 characters).", field="reason")
    if status not in ("active", "inactive", "deceased"):
        raise ValidationError("The status must be active, inactive or deceased.", field="status")
    patient = require_patient(session, patient_id, lock=True)
    if patient.merged_into_id is not None:
        raise Conflict("This record was merged into another; its status follows the surviving record.")
    old = "deceased" if patient.deceased_at else ("active" if patient.active else "inactive")
    deceased_at = None
    if status == "deceased":
        day = parse_date(deceased_on, field_name="deceased_on", label="Date of death")
        if day > utcnow().date():
            raise ValidationError("The date of death cannot be in the future.", field="deceased_on")
        if day < patient.birth_date:
            raise ValidationError("The date of death is before the date of birth.", field="deceased_on")
        deceased_at = datetime.combine(day, datetime.min.time()).replace(tzinfo=utcnow().tzinfo)
    patient.active = status == "active"
    patient.deceased_at = deceased_at
    patient.updated_at = utcnow()
    session.add(patient)
    session.add(
        PatientHistory(
            patient_id=patient.id,
            changed_by=actor.username,
            field="status",
            old_value=old,
            new_value=status if not deceased_at else f"deceased {deceased_at.date().isoformat()}",
            reason=reason,
        )
    )
    record_audit(
        session,
        actor,
        f"patient.status.{status}",
        patient_id=patient.id,
        target_type="patient",
        target_id=patient.id,
        detail=reason,
    )
    session.commit()
    return patient


@dataclass(frozen=True)
class HistoryRow:
    changed_at: datetime
    changed_by: str
    field: str
    old_value: str
    new_value: str
    reason: str


def patient_history(session: Session, *, actor: Actor, patient_id: int, limit: int = 100) -> list[HistoryRow]:
    authorize(actor, "patient.read", patient_id=patient_id)
    rows = session.execute(
        select(PatientHistory)
        .where(PatientHistory.patient_id == patient_id)
        .order_by(PatientHistory.changed_at.desc(), PatientHistory.id.desc())
        .limit(limit)
    ).scalars()
    result = [
        HistoryRow(r.changed_at, r.changed_by, r.field, r.old_value or "", r.new_value or "", r.reason or "")
        for r in rows
    ]
    record_read(session, actor, patient_id, "history")
    return result


@dataclass(frozen=True)
class PatientSummary:
    id: int
    mrn: str
    name: str
    sex: str
    birth_date: date
    phone: str
    email: str


def get_patient_summary(session: Session, *, actor: Actor, patient_id: int) -> PatientSummary:
    """One patient's demographics, for staff who may read patients or the patient themself."""
    permission = "portal.self" if actor.patient_id is not None else "patient.read"
    authorize(actor, permission, patient_id=patient_id)
    patient = get_row(session, Patient, patient_id, "That patient does not exist.")
    record_read(session, actor, patient.id, "summary")
    return PatientSummary(
        patient.id,
        patient.mrn,
        full_name(patient),
        patient.sex,
        patient.birth_date,
        patient.phone or "",
        patient.email or "",
    )


@dataclass(frozen=True)
class PatientRecord:
    """The full demographic record as the staff details screen shows it."""

    id: int
    mrn: str
    name: str
    sex: str
    birth_date: date
    active: bool
    deceased_at: datetime | None
    merged_into_id: int | None
    photo_key: str | None
    demographics: dict[str, object]  # every field of DEMOGRAPHIC_FIELDS as stored (None when empty)


def get_patient(session: Session, *, actor: Actor, patient_id: int) -> PatientRecord:
    """The full demographic record (staff), audited as a read."""
    authorize(actor, "patient.read", patient_id=patient_id)
    patient = require_patient(session, patient_id)
    record_read(session, actor, patient.id, "demographics")
    return PatientRecord(
        patient.id,
        patient.mrn,
        full_name(patient),
        patient.sex,
        patient.birth_date,
        patient.active,
        patient.deceased_at,
        patient.merged_into_id,
        patient.photo_key,
        {key: getattr(patient, key) for key in DEMOGRAPHIC_FIELDS},
    )


@dataclass(frozen=True)
class PatientDetails:
    record: PatientRecord
    history: list[HistoryRow]
    merges: list[MergeRow]


def get_patient_details(session: Session, *, actor: Actor, patient_id: int) -> PatientDetails:
    """The record, its change history and its merges, read (and audited) in one go."""
    authorize(actor, "patient.read", patient_id=patient_id)
    return PatientDetails(
        get_patient(session, actor=actor, patient_id=patient_id),
        patient_history(session, actor=actor, patient_id=patient_id),
        list_merges(session, actor=actor, patient_id=patient_id),
    )
