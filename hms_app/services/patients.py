"""Patient records: reading a patient is permission-checked and audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from hms_app.errors import NotFound
from hms_app.models.patients import Patient
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize

MRN_PREFIX = "H"


def mrn_check_digit(number: int) -> int:
    """Luhn check digit over the MRN's digits: catches any single typo and most swaps."""
    total = 0
    for index, char in enumerate(reversed(str(number))):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def format_mrn(number: int) -> str:
    """The printed MRN: prefix, seven digits and the check digit, e.g. H00001234-5."""
    return f"{MRN_PREFIX}{number:07d}-{mrn_check_digit(number)}"


def is_valid_mrn(mrn: str) -> bool:
    mrn = mrn.strip().upper()
    if not mrn.startswith(MRN_PREFIX) or "-" not in mrn:
        return False
    body, _, check = mrn[len(MRN_PREFIX):].partition("-")
    return body.isdigit() and check.isdigit() and len(check) == 1 and mrn_check_digit(int(body)) == int(check)


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
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient does not exist.")
    record_audit(session, actor, "patient.read", patient_id=patient.id, target_type="patient", target_id=patient.id,
                 detail="summary")
    session.commit()
    name = " ".join(p for p in (patient.given_name, patient.middle_name, patient.family_name) if p)
    return PatientSummary(patient.id, patient.mrn, name, patient.sex, patient.birth_date, patient.phone or "",
                          patient.email or "")
