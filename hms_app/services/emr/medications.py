"""The medication list: adding a medicine the patient takes and stopping it, with the reason kept."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.emr import MedicationStatement
from hms_app.models.pharmacy import MedicationOrder
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import clean_text, past_date, require_patient
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen


@returns_frozen
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
    """Add a medicine the patient takes to the medication list."""
    authorize(actor, "emr.write", patient_id=patient_id)
    require_patient(session, patient_id)
    row = MedicationStatement(
        patient_id=patient_id,
        medication=clean_text(medication, "Medication", "medication", max_length=200, required=True),
        dosage=clean_text(dosage, "Dosage", "dosage", max_length=200) or None,
        code=clean_text(code, "Code", "code", max_length=20) or None,
        started_on=past_date(started_on, "Start date", "started_on"),
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


@returns_frozen
def stop_medication(
    session: Session,
    *,
    actor: Actor,
    medication_id: int,
    reason: str,
    stopped_on: date | str | None = None,
) -> MedicationStatement:
    """Stop a medication with its reason, on a day not before its start (today if none)."""
    row = get_row(session, MedicationStatement, medication_id, "That medication does not exist.")
    authorize(actor, "emr.write", patient_id=row.patient_id)
    if row.status == "stopped":
        raise Conflict("This medication is already stopped.")
    if row.status != "active":  # "completed": an ordered course that ran to its end
        raise Conflict("This medication is no longer active.")
    # An entry written by a medication order follows the order: stopping it here would leave the
    # order active (dispensed, on the MAR) while the list says stopped.
    ordered = session.execute(
        select(MedicationOrder.reference)
        .where(MedicationOrder.statement_id == row.id, MedicationOrder.status == "active")
        .limit(1)
    ).scalar_one_or_none()
    if ordered is not None:
        raise Conflict(
            f"Stop it through its order {ordered} on the Medication orders card: "
            "this list entry follows that order."
        )
    reason = clean_text(reason, "Reason", "stop_reason", max_length=200, required=True)
    stopped = past_date(stopped_on, "Stop date", "stopped_on") or utcnow().date()
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
