"""The wristband and labels: name, MRN, birth date, the allergy status and the MRN as a barcode."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from hms_app.services.allergy_status import allergy_status
from hms_app.services.audit import record_audit
from hms_app.services.patients.lookup import require_patient
from hms_app.services.permissions import Actor, authorize


@dataclass(frozen=True)
class Wristband:
    mrn: str
    name: str
    birth_date: date
    sex: str
    allergies: tuple[str, ...]
    barcode_svg_data_url: str
    allergy_state: str  # unassessed | none_known | allergies (services.emr.allergies)


def mrn_barcode_data_url(mrn: str) -> str:
    """The MRN as a Code 128 barcode (SVG, as a data URL) that any ward scanner reads."""
    import base64
    import io

    import barcode
    from barcode.writer import SVGWriter

    buffer = io.BytesIO()
    barcode.get("code128", mrn, writer=SVGWriter()).write(
        buffer, options={"module_height": 8.0, "font_size": 0, "text_distance": 1, "quiet_zone": 2}
    )
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def wristband(session: Session, *, actor: Actor, patient_id: int) -> Wristband:
    """What a wristband or label shows, with the MRN barcode; printing it is audited. The band
    prints the allergy status as recorded: the allergies, "no known allergies" only when a
    clinician recorded it, and otherwise that allergies are not yet assessed."""
    authorize(actor, "patient.read", patient_id=patient_id)
    patient = require_patient(session, patient_id)
    status = allergy_status(session, patient_id, limit=6)
    record_audit(
        session,
        actor,
        "patient.wristband",
        patient_id=patient_id,
        target_type="patient",
        target_id=patient_id,
    )
    session.commit()
    return Wristband(
        patient.mrn,
        f"{patient.family_name.upper()}, {patient.given_name}",
        patient.birth_date,
        patient.sex,
        tuple(substance for substance, _severity in status.allergies),
        mrn_barcode_data_url(patient.mrn),
        status.state,
    )
