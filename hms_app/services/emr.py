"""The electronic medical record: encounters, SOAP notes, vitals, problems, allergies,
medications, immunizations and documents. Reads are audited; writes need ``emr.write``."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import simple_icd_10_cm as icd
from sqlalchemy import case, func, select
from sqlmodel import Session

from hms_app.cds import vitals as vital_rules
from hms_app.clock import utcnow
from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.emr import (
    AllergyIntolerance,
    ClinicalNote,
    Condition,
    DocumentReference,
    Encounter,
    Immunization,
    MedicationStatement,
    Observation,
)
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser
from hms_app.services.audit import record_audit
from hms_app.services.patients import age_years, full_name, parse_date
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

ENCOUNTER_CLASSES = ("outpatient", "inpatient", "emergency", "virtual")
SEVERITIES = ("mild", "moderate", "severe")
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
DOCUMENT_TYPES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


def _patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient does not exist.")
    if patient.merged_into_id is not None:
        raise Conflict("This record was merged into another; open the surviving record.")
    return patient


def _text(value, label: str, field: str, *, max_length: int, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ValidationError(f"{label} is required.", field=field)
    if len(text) > max_length:
        raise ValidationError(f"{label} must be at most {max_length:,} characters.", field=field)
    return text


def _optional_date(value, label: str, field: str) -> date | None:
    if value in (None, ""):
        return None
    day = parse_date(value, field_name=field, label=label)
    if day > utcnow().date():
        raise ValidationError(f"{label} cannot be in the future.", field=field)
    return day


# --------------------------------------------------------------------------- encounters and notes


def start_encounter(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    encounter_class: str,
    reason: str = "",
    department_id: int | None = None,
) -> Encounter:
    """Open an encounter (visit, admission, emergency attendance or video visit)."""
    authorize(actor, "emr.write", patient_id=patient_id)
    _patient(session, patient_id)
    if encounter_class not in ENCOUNTER_CLASSES:
        raise ValidationError("Choose outpatient, inpatient, emergency or virtual.", field="encounter_class")
    encounter = Encounter(
        patient_id=patient_id,
        encounter_class=encounter_class,
        status="in-progress",
        reason=_text(reason, "Reason", "reason", max_length=300) or None,
        department_id=department_id,
        practitioner_id=actor.user_id or None,
    )
    session.add(encounter)
    session.flush()
    record_audit(
        session,
        actor,
        "encounter.start",
        patient_id=patient_id,
        target_type="encounter",
        target_id=encounter.id,
        detail=encounter_class,
    )
    session.commit()
    return encounter


def finish_encounter(session: Session, *, actor: Actor, encounter_id: int) -> Encounter:
    encounter = session.get(Encounter, encounter_id)
    if encounter is None:
        raise NotFound("That encounter does not exist.")
    authorize(actor, "emr.write", patient_id=encounter.patient_id)
    if encounter.status == "finished":
        return encounter
    encounter.status, encounter.end_at = "finished", utcnow()
    session.add(encounter)
    record_audit(
        session,
        actor,
        "encounter.finish",
        patient_id=encounter.patient_id,
        target_type="encounter",
        target_id=encounter.id,
    )
    session.commit()
    return encounter


SOAP = ("subjective", "objective", "assessment", "plan")


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
    encounter = session.get(Encounter, encounter_id)
    if encounter is None:
        raise NotFound("That encounter does not exist.")
    authorize(actor, "emr.write", patient_id=encounter.patient_id)
    texts = {
        k: _text(v, k.capitalize(), k, max_length=20000)
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


def amend_note(session: Session, *, actor: Actor, note_id: int) -> ClinicalNote:
    """Start an amendment of a signed note: a new draft that points at it; the original stays visible."""
    original = session.get(ClinicalNote, note_id)
    if original is None:
        raise NotFound("That note does not exist.")
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


# --------------------------------------------------------------------------- vitals


def record_vitals(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    values: dict,
    encounter_id: int | None = None,
    taken_at: datetime | None = None,
) -> list[Observation]:
    """Record a set of vital signs; each is checked for plausibility, and BMI is derived."""
    authorize(actor, "emr.write", patient_id=patient_id)
    _patient(session, patient_id)
    taken_at = taken_at or utcnow()
    if taken_at > utcnow() + timedelta(minutes=5):
        raise ValidationError("Vitals cannot be recorded in the future.", field="taken_at")
    parsed: dict[str, float] = {}
    for key, raw in values.items():
        if key not in vital_rules.VITALS:
            raise ValidationError(f"Unknown vital sign {key!r}.", field=key)
        text = str(raw if raw is not None else "").strip().replace(",", ".")
        if not text:
            continue
        try:
            number = float(text)
        except ValueError as error:
            spec = vital_rules.VITALS[key]
            raise ValidationError(f"{spec.display} must be a number in {spec.unit}.", field=key) from error
        try:
            parsed[key] = vital_rules.check_plausible(key, number)
        except vital_rules.ImplausibleValue as error:
            raise ValidationError(str(error), field=key) from error
    if not parsed:
        raise ValidationError("Enter at least one vital sign.")
    if (
        "systolic_bp" in parsed
        and "diastolic_bp" in parsed
        and parsed["diastolic_bp"] >= parsed["systolic_bp"]
    ):
        raise ValidationError("The diastolic pressure must be lower than the systolic.", field="diastolic_bp")
    if ("systolic_bp" in parsed) != ("diastolic_bp" in parsed):
        raise ValidationError("Enter both blood pressure values, or neither.", field="diastolic_bp")
    if encounter_id is not None:
        encounter = session.get(Encounter, encounter_id)
        if encounter is None or encounter.patient_id != patient_id:
            raise ValidationError("That encounter is not this patient's.", field="encounter_id")
    rows = []
    for key, number in parsed.items():
        spec = vital_rules.VITALS[key]
        rows.append(
            Observation(
                patient_id=patient_id,
                encounter_id=encounter_id,
                category="vital-signs",
                code=spec.loinc,
                display=spec.display,
                value=number,
                unit=spec.unit,
                effective_at=taken_at,
                recorded_by=actor.username,
            )
        )
    weight = parsed.get("weight")
    height = parsed.get("height") or (
        _latest_value(session, patient_id, vital_rules.VITALS["height"].loinc) if weight else None
    )
    if weight and height:
        rows.append(
            Observation(
                patient_id=patient_id,
                encounter_id=encounter_id,
                category="vital-signs",
                code=vital_rules.BMI.loinc,
                display=vital_rules.BMI.display,
                value=vital_rules.bmi(weight, height),
                unit=vital_rules.BMI.unit,
                effective_at=taken_at,
                recorded_by=actor.username,
            )
        )
    session.add_all(rows)
    session.flush()
    record_audit(
        session,
        actor,
        "vitals.record",
        patient_id=patient_id,
        target_type="observation",
        target_id=rows[0].id,
        detail=", ".join(f"{r.display}={r.value:g}" for r in rows),
    )
    session.commit()
    return rows


def _latest_value(session: Session, patient_id: int, code: str) -> float | None:
    return session.execute(
        select(Observation.value)
        .where(Observation.patient_id == patient_id, Observation.code == code)
        .order_by(Observation.effective_at.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class SeriesPoint:
    taken_at: datetime
    value: float


def vital_series(
    session: Session, *, actor: Actor, patient_id: int, key: str, limit: int = 200
) -> list[SeriesPoint]:
    """The latest ``limit`` values of one vital sign (or BMI), oldest first, for a trend chart."""
    authorize(actor, "patient.read", patient_id=patient_id)
    spec = vital_rules.BMI if key == "bmi" else vital_rules.VITALS.get(key)
    if spec is None:
        raise ValidationError(f"Unknown vital sign {key!r}.")
    rows = session.execute(
        select(Observation.effective_at, Observation.value)
        .where(Observation.patient_id == patient_id, Observation.code == spec.loinc)
        .order_by(Observation.effective_at.desc())
        .limit(min(max(limit, 1), 1000))
    ).all()
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient_id,
        target_type="observation",
        detail=f"trend {key}",
    )
    session.commit()
    return [SeriesPoint(t, v) for t, v in reversed(rows)]


# --------------------------------------------------------------------------- problems (ICD-10-CM)


@dataclass(frozen=True)
class IcdCode:
    code: str
    description: str


@lru_cache(maxsize=1)
def _billable_codes() -> tuple[tuple[str, str, str], ...]:
    """(code with dot, lowercase description, description) for every billable ICD-10-CM code."""
    rows = []
    for code in icd.get_all_codes(with_dots=True):
        if icd.is_leaf(code) and (icd.is_category(code) or icd.is_subcategory(code)):
            description = icd.get_description(code)
            rows.append((code, description.lower(), description))
    return tuple(rows)


def search_icd10(query: str, *, limit: int = 20) -> list[IcdCode]:
    """Billable ICD-10-CM codes whose code starts with ``query`` or whose words contain all its words."""
    text = re.sub(r"\s+", " ", (query or "").strip().lower())[:60]
    if len(text) < 2:
        return []
    limit = min(max(limit, 1), 50)
    code_like = re.fullmatch(r"[a-z]\d[0-9a-z]?\.?[0-9a-z]{0,4}", text)
    results: list[IcdCode] = []
    if code_like:
        prefix = text.upper()
        prefix_nodot = prefix.replace(".", "")
        for code, _lower, description in _billable_codes():
            if code.replace(".", "").startswith(prefix_nodot):
                results.append(IcdCode(code, description))
                if len(results) >= limit:
                    return results
    if code_like and results:
        return results
    # Every word must start a word of the description ("2" matches "type 2", not "stage 22"),
    # and the closest descriptions come first: those that begin with the first word, then the
    # shortest (the general code before its many specific variants).
    words = [w for w in re.split(r"[^a-z0-9.]+", text) if w]
    patterns = [re.compile(r"(?<![a-z0-9])" + re.escape(word)) for word in words]
    seen = {r.code for r in results}
    matches = []
    for code, lower, description in _billable_codes():
        # The plain substring test first: cheap, and it rules out almost every code.
        if all(w in lower for w in words) and code not in seen and all(p.search(lower) for p in patterns):
            matches.append((not lower.startswith(words[0]), len(description), code, description))
    matches.sort()
    results.extend(
        IcdCode(code, description) for _gap, _len, code, description in matches[: limit - len(results)]
    )
    return results


def icd10_description(code: str) -> str:
    """The description of a billable ICD-10-CM code; ValidationError for anything else."""
    code = (code or "").strip().upper()
    if not icd.is_valid_item(code):
        raise ValidationError(f"{code or 'That'} is not an ICD-10-CM code.", field="code")
    if not icd.is_leaf(code):
        raise ValidationError(
            f"{code} is a category, not a billable code; choose a more specific code.", field="code"
        )
    return icd.get_description(code)


def add_condition(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    code: str,
    onset_date: date | str | None = None,
    clinical_status: str = "active",
) -> Condition:
    """Add a coded problem to the patient's problem list."""
    authorize(actor, "emr.write", patient_id=patient_id)
    _patient(session, patient_id)
    code = (code or "").strip().upper()
    if "." not in code and len(code) > 3:
        code = code[:3] + "." + code[3:]
    description = icd10_description(code)
    if clinical_status not in ("active", "resolved", "inactive"):
        raise ValidationError("The status must be active, resolved or inactive.", field="clinical_status")
    onset = _optional_date(onset_date, "Onset date", "onset_date")
    existing = session.execute(
        select(Condition.id).where(
            Condition.patient_id == patient_id, Condition.code == code, Condition.clinical_status == "active"
        )
    ).first()
    if existing:
        raise Conflict(f"{code} is already on the active problem list.")
    condition = Condition(
        patient_id=patient_id,
        code=code,
        display=description[:300],
        clinical_status=clinical_status,
        onset_date=onset,
        recorded_by=actor.username,
    )
    session.add(condition)
    session.flush()
    record_audit(
        session,
        actor,
        "condition.add",
        patient_id=patient_id,
        target_type="condition",
        target_id=condition.id,
        detail=code,
    )
    session.commit()
    return condition


def set_condition_status(
    session: Session,
    *,
    actor: Actor,
    condition_id: int,
    clinical_status: str,
    abatement_date: date | str | None = None,
) -> Condition:
    condition = session.get(Condition, condition_id)
    if condition is None:
        raise NotFound("That problem does not exist.")
    authorize(actor, "emr.write", patient_id=condition.patient_id)
    if clinical_status not in ("active", "resolved", "inactive"):
        raise ValidationError("The status must be active, resolved or inactive.", field="clinical_status")
    abatement = _optional_date(abatement_date, "Resolution date", "abatement_date")
    if clinical_status == "resolved" and abatement is None:
        abatement = utcnow().date()
    if abatement and condition.onset_date and abatement < condition.onset_date:
        raise ValidationError("The resolution date is before the onset.", field="abatement_date")
    condition.clinical_status = clinical_status
    condition.abatement_date = abatement if clinical_status != "active" else None
    session.add(condition)
    record_audit(
        session,
        actor,
        "condition.status",
        patient_id=condition.patient_id,
        target_type="condition",
        target_id=condition.id,
        detail=clinical_status,
    )
    session.commit()
    return condition


# --------------------------------------------------------------------------- allergies, medications, immunizations


def add_allergy(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    substance: str,
    reaction: str = "",
    severity: str = "moderate",
) -> AllergyIntolerance:
    authorize(actor, "emr.write", patient_id=patient_id)
    _patient(session, patient_id)
    substance = _text(substance, "Substance", "substance", max_length=120, required=True)
    if severity not in SEVERITIES:
        raise ValidationError("The severity must be mild, moderate or severe.", field="severity")
    duplicate = session.execute(
        select(AllergyIntolerance.id).where(
            AllergyIntolerance.patient_id == patient_id,
            AllergyIntolerance.status == "active",
            func.lower(AllergyIntolerance.substance) == substance.lower(),
        )
    ).first()
    if duplicate:
        raise Conflict(f"An active allergy to {substance} is already recorded.")
    allergy = AllergyIntolerance(
        patient_id=patient_id,
        substance=substance,
        reaction=_text(reaction, "Reaction", "reaction", max_length=200) or None,
        severity=severity,
        recorded_by=actor.username,
    )
    session.add(allergy)
    session.flush()
    record_audit(
        session,
        actor,
        "allergy.add",
        patient_id=patient_id,
        target_type="allergy_intolerance",
        target_id=allergy.id,
        detail=f"{substance} ({severity})",
    )
    session.commit()
    return allergy


def set_allergy_status(session: Session, *, actor: Actor, allergy_id: int, status: str) -> AllergyIntolerance:
    allergy = session.get(AllergyIntolerance, allergy_id)
    if allergy is None:
        raise NotFound("That allergy does not exist.")
    authorize(actor, "emr.write", patient_id=allergy.patient_id)
    if status not in ("active", "inactive", "resolved"):
        raise ValidationError("The status must be active, inactive or resolved.", field="status")
    allergy.status = status
    session.add(allergy)
    record_audit(
        session,
        actor,
        "allergy.status",
        patient_id=allergy.patient_id,
        target_type="allergy_intolerance",
        target_id=allergy.id,
        detail=status,
    )
    session.commit()
    return allergy


def add_medication(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    medication: str,
    dosage: str = "",
    started_on: date | str | None = None,
    code: str | None = None,
) -> MedicationStatement:
    authorize(actor, "emr.write", patient_id=patient_id)
    _patient(session, patient_id)
    row = MedicationStatement(
        patient_id=patient_id,
        medication=_text(medication, "Medication", "medication", max_length=200, required=True),
        dosage=_text(dosage, "Dosage", "dosage", max_length=200) or None,
        code=_text(code, "Code", "code", max_length=20) or None,
        started_on=_optional_date(started_on, "Start date", "started_on"),
        recorded_by=actor.username,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor,
        "medication.add",
        patient_id=patient_id,
        target_type="medication_statement",
        target_id=row.id,
        detail=row.medication,
    )
    session.commit()
    return row


def stop_medication(
    session: Session,
    *,
    actor: Actor,
    medication_id: int,
    reason: str,
    stopped_on: date | str | None = None,
) -> MedicationStatement:
    row = session.get(MedicationStatement, medication_id)
    if row is None:
        raise NotFound("That medication does not exist.")
    authorize(actor, "emr.write", patient_id=row.patient_id)
    if row.status == "stopped":
        raise Conflict("This medication is already stopped.")
    reason = _text(reason, "Reason", "stop_reason", max_length=200, required=True)
    stopped = _optional_date(stopped_on, "Stop date", "stopped_on") or utcnow().date()
    if row.started_on and stopped < row.started_on:
        raise ValidationError("The stop date is before the start date.", field="stopped_on")
    row.status, row.stopped_on, row.stop_reason = "stopped", stopped, reason
    session.add(row)
    record_audit(
        session,
        actor,
        "medication.stop",
        patient_id=row.patient_id,
        target_type="medication_statement",
        target_id=row.id,
        detail=reason,
    )
    session.commit()
    return row


def add_immunization(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    vaccine: str,
    occurrence_date: date | str,
    lot_number: str = "",
    code: str | None = None,
) -> Immunization:
    authorize(actor, "emr.write", patient_id=patient_id)
    patient = _patient(session, patient_id)
    day = _optional_date(occurrence_date, "Date given", "occurrence_date")
    if day is None:
        raise ValidationError("Date given is required.", field="occurrence_date")
    if day < patient.birth_date:
        raise ValidationError("The date given is before the patient's birth.", field="occurrence_date")
    row = Immunization(
        patient_id=patient_id,
        vaccine=_text(vaccine, "Vaccine", "vaccine", max_length=120, required=True),
        code=_text(code, "Code", "code", max_length=10) or None,
        occurrence_date=day,
        lot_number=_text(lot_number, "Lot number", "lot_number", max_length=40) or None,
        recorded_by=actor.username,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor,
        "immunization.add",
        patient_id=patient_id,
        target_type="immunization",
        target_id=row.id,
        detail=row.vaccine,
    )
    session.commit()
    return row


# --------------------------------------------------------------------------- documents


def documents_dir() -> Path:
    """Patient documents live here: outside the public upload folder, served only by an authorized route."""
    path = get_settings().documents_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    _patient(session, patient_id)
    title = _text(title, "Title", "title", max_length=200, required=True)
    return write_document(
        session,
        patient_id=patient_id,
        title=title,
        content=content,
        content_type=content_type,
        written_by=actor,
        allowed=tuple(DOCUMENT_TYPES),
    )


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
    key = uuid.uuid4().hex
    path = documents_dir() / key
    path.write_bytes(content)
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


def open_document(session: Session, *, actor: Actor, document_id: int) -> tuple[DocumentReference, Path]:
    """A document and its file, for a user allowed to read that patient; audited."""
    row = session.get(DocumentReference, document_id)
    if row is None:
        raise NotFound("That document does not exist.")
    permission = "portal.self" if actor.patient_id is not None else "patient.read"
    authorize(actor, permission, patient_id=row.patient_id)
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


# --------------------------------------------------------------------------- the chart


@dataclass(frozen=True)
class Banner:
    patient_id: int
    mrn: str
    name: str
    sex: str
    birth_date: date
    age: str
    allergies: tuple[str, ...]
    problems: tuple[str, ...]
    alerts: tuple[str, ...]


@dataclass(frozen=True)
class TimelineRow:
    id: int
    encounter_class: str
    status: str
    start_at: datetime
    end_at: datetime | None
    reason: str
    practitioner: str
    notes: int
    signed_notes: int


def age_text(birth: date, on: date) -> str:
    years = age_years(birth, on)
    if years >= 2:
        return f"{years} y"
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    if months >= 1:
        return f"{months} mo"
    return f"{(on - birth).days} d"


def _banner(session: Session, patient: Patient) -> Banner:
    allergies = tuple(
        f"{s} ({sev})"
        for s, sev in session.execute(
            select(AllergyIntolerance.substance, AllergyIntolerance.severity)
            .where(AllergyIntolerance.patient_id == patient.id, AllergyIntolerance.status == "active")
            .order_by(AllergyIntolerance.substance)
            .limit(20)
        )
    )
    problems = tuple(
        f"{c} {d}"
        for c, d in session.execute(
            select(Condition.code, Condition.display)
            .where(Condition.patient_id == patient.id, Condition.clinical_status == "active")
            .order_by(Condition.recorded_at.desc())
            .limit(10)
        )
    )
    alerts = []
    if patient.deceased_at:
        alerts.append(f"Deceased {patient.deceased_at.date().isoformat()}")
    elif not patient.active:
        alerts.append("Record inactive")
    if patient.merged_into_id:
        alerts.append("Merged into another record")
    if any("(severe)" in a for a in allergies):
        alerts.append("Severe allergy")
    name = full_name(patient)
    return Banner(
        patient.id,
        patient.mrn,
        name,
        patient.sex,
        patient.birth_date,
        age_text(patient.birth_date, utcnow().date()),
        allergies,
        problems,
        tuple(alerts),
    )


def encounter_timeline(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    page: int = 1,
    page_size: int = 20,
    audit: bool = True,
) -> tuple[list[TimelineRow], int]:
    """One page of the patient's encounters, newest first, with note counts."""
    authorize(actor, "patient.read", patient_id=patient_id)
    page, page_size = max(1, page), min(max(1, page_size), 100)
    total = session.execute(
        select(func.count()).select_from(Encounter).where(Encounter.patient_id == patient_id)
    ).scalar_one()
    encounters = session.execute(
        select(Encounter, AppUser.display_name)
        .outerjoin(AppUser, AppUser.id == Encounter.practitioner_id)
        .where(Encounter.patient_id == patient_id)
        .order_by(Encounter.start_at.desc(), Encounter.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    ids = [e.id for e, _name in encounters]
    counts: dict[int, tuple[int, int]] = {}
    if ids:
        for encounter_id, notes, signed in session.execute(
            select(
                ClinicalNote.encounter_id,
                func.count(),
                func.sum(case((ClinicalNote.status == "signed", 1), else_=0)),
            )
            .where(ClinicalNote.encounter_id.in_(ids))
            .group_by(ClinicalNote.encounter_id)
        ):
            counts[encounter_id] = (int(notes), int(signed or 0))
    rows = [
        TimelineRow(
            e.id,
            e.encounter_class,
            e.status,
            e.start_at,
            e.end_at,
            e.reason or "",
            name or "",
            *counts.get(e.id, (0, 0)),
        )
        for e, name in encounters
    ]
    if audit:
        record_audit(
            session,
            actor,
            "patient.read",
            patient_id=patient_id,
            target_type="encounter",
            detail=f"timeline page {page}",
        )
        session.commit()
    return rows, total


@dataclass(frozen=True)
class Chart:
    banner: Banner
    timeline: list[TimelineRow]
    timeline_total: int
    latest_vitals: dict[str, tuple[float, str, datetime]]
    conditions: list[Condition]
    allergies: list[AllergyIntolerance]
    medications: list[MedicationStatement]
    immunizations: list[Immunization]
    documents: list[DocumentReference]


def latest_vitals(session: Session, patient_id: int) -> dict[str, tuple[float, str, datetime]]:
    """The most recent value of each vital sign: one indexed lookup per code."""
    result = {}
    for spec in (*vital_rules.VITALS.values(), vital_rules.BMI):
        row = session.execute(
            select(Observation.value, Observation.unit, Observation.effective_at)
            .where(Observation.patient_id == patient_id, Observation.code == spec.loinc)
            .order_by(Observation.effective_at.desc())
            .limit(1)
        ).first()
        if row:
            result[spec.key] = (row.value, row.unit, row.effective_at)
    return result


def open_chart(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    page_size: int = 20,
    page: int = 1,
    refresh: bool = False,
) -> Chart:
    """Everything the chart's first screen shows, in a fixed number of indexed queries; audited once.

    ``refresh`` re-reads an open chart after a change (audited as such); ``page`` keeps the timeline's page.
    """
    authorize(actor, "patient.read", patient_id=patient_id)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient does not exist.")
    timeline, total = encounter_timeline(
        session, actor=actor, patient_id=patient_id, page=page, page_size=page_size, audit=False
    )

    def listing(model, order, limit=50):
        return list(
            session.execute(
                select(model).where(model.patient_id == patient_id).order_by(*order).limit(limit)
            ).scalars()
        )

    chart = Chart(
        banner=_banner(session, patient),
        timeline=timeline,
        timeline_total=total,
        latest_vitals=latest_vitals(session, patient_id),
        conditions=listing(Condition, (Condition.clinical_status, Condition.recorded_at.desc())),
        allergies=listing(AllergyIntolerance, (AllergyIntolerance.status, AllergyIntolerance.substance)),
        medications=listing(
            MedicationStatement, (MedicationStatement.status, MedicationStatement.medication)
        ),
        immunizations=listing(Immunization, (Immunization.occurrence_date.desc(),)),
        documents=listing(DocumentReference, (DocumentReference.created_at.desc(),)),
    )
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient_id,
        target_type="patient",
        target_id=patient_id,
        detail="chart refreshed" if refresh else "chart opened",
    )
    session.commit()
    return chart


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
    encounter = session.get(Encounter, encounter_id)
    if encounter is None:
        raise NotFound("That encounter does not exist.")
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


@dataclass(frozen=True)
class PortalRecord:
    banner: Banner
    latest_vitals: dict[str, tuple[float, str, datetime]]
    conditions: list[Condition]
    allergies: list[AllergyIntolerance]
    medications: list[MedicationStatement]
    immunizations: list[Immunization]
    documents: list[DocumentReference]


def portal_record(session: Session, *, actor: Actor) -> PortalRecord:
    """The signed-in patient's own record, read-only. The patient is the session's, never an id sent in."""
    authorize(actor, "portal.self", patient_id=actor.patient_id)
    if actor.patient_id is None:
        raise Forbidden("Only a patient's own account has a portal record.")
    patient = session.get(Patient, actor.patient_id)
    if patient is None:
        raise NotFound("Your record could not be found; please contact the hospital.")
    patient_id = patient.id

    def listing(model, condition, order, limit=50):
        return list(
            session.execute(
                select(model).where(model.patient_id == patient_id, condition).order_by(*order).limit(limit)
            ).scalars()
        )

    record = PortalRecord(
        banner=_banner(session, patient),
        latest_vitals=latest_vitals(session, patient_id),
        conditions=listing(Condition, Condition.clinical_status == "active", (Condition.recorded_at.desc(),)),
        allergies=listing(
            AllergyIntolerance, AllergyIntolerance.status == "active", (AllergyIntolerance.substance,)
        ),
        medications=listing(
            MedicationStatement, MedicationStatement.status == "active", (MedicationStatement.medication,)
        ),
        immunizations=listing(
            Immunization, Immunization.status == "completed", (Immunization.occurrence_date.desc(),)
        ),
        documents=listing(
            DocumentReference, DocumentReference.id.isnot(None), (DocumentReference.created_at.desc(),)
        ),
    )
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient_id,
        target_type="patient",
        target_id=patient_id,
        detail="portal summary",
    )
    session.commit()
    return record
