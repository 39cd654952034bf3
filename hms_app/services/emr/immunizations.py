"""Immunizations: a vaccine given, on a day between the patient's birth and today."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from hms_app.errors import ValidationError
from hms_app.models.emr import Immunization
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import clean_text, past_date, require_patient
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen


@returns_frozen
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
    """Record a vaccine given, on a day between the patient's birth and today."""
    authorize(actor, "emr.write", patient_id=patient_id)
    patient = require_patient(session, patient_id)
    day = past_date(occurrence_date, "Date given", "occurrence_date")
    if day is None:
        raise ValidationError("Date given is required.", field="occurrence_date")
    if day < patient.birth_date:
        raise ValidationError("The date given is before the patient's birth.", field="occurrence_date")
    row = Immunization(
        patient_id=patient_id,
        vaccine=clean_text(vaccine, "Vaccine", "vaccine", max_length=120, required=True),
        code=clean_text(code, "Code", "code", max_length=10) or None,
        occurrence_date=day,
        lot_number=clean_text(lot_number, "Lot number", "lot_number", max_length=40) or None,
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
