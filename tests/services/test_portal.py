"""The portal record: the signed-in patient's own chart summary and nothing of anyone else's."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hms_app.errors import Forbidden
from hms_app.models.security import AuditEvent
from hms_app.services import emr, patients
from hms_app.services.permissions import SYSTEM_ACTOR, Actor


def _patient(session, given: str, family: str):
    return patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": given, "family_name": family, "sex": "female", "birth_date": "1980-04-05"},
    )


def test_the_portal_record_holds_only_the_patients_own_data_and_the_read_is_audited(session):
    own, other = _patient(session, "Paula", "Portal"), _patient(session, "Otto", "Other")
    emr.add_condition(session, actor=SYSTEM_ACTOR, patient_id=own.id, code="I10")
    emr.add_allergy(session, actor=SYSTEM_ACTOR, patient_id=own.id, substance="Latex", severity="mild")
    emr.add_condition(session, actor=SYSTEM_ACTOR, patient_id=other.id, code="E11.9")
    emr.add_allergy(session, actor=SYSTEM_ACTOR, patient_id=other.id, substance="Peanuts", severity="severe")
    emr.record_vitals(session, actor=SYSTEM_ACTOR, patient_id=other.id, values={"heart_rate": "80"})
    me = Actor(
        user_id=50,
        username="paula",
        roles=frozenset({"patient"}),
        permissions=frozenset({"portal.self"}),
        patient_id=own.id,
    )
    record = emr.portal_record(session, actor=me)
    assert record.banner.mrn == own.mrn
    assert [c.code for c in record.conditions] == ["I10"]
    assert [a.substance for a in record.allergies] == ["Latex"]
    assert record.latest_vitals == {}
    reads = session.execute(
        select(AuditEvent.patient_id, AuditEvent.detail).where(AuditEvent.username == "paula")
    ).all()
    assert reads == [(own.id, "portal summary")]


def test_staff_have_no_portal_record(session):
    nurse = Actor(
        user_id=7, username="nina", roles=frozenset({"nurse"}), permissions=frozenset({"patient.read"})
    )
    with pytest.raises(Forbidden):
        emr.portal_record(session, actor=nurse)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_a_patient_photo_is_stored_outside_the_upload_folder_and_kept_in_history(session):
    from hms_app.errors import ValidationError
    from hms_app.models.patients import Patient, PatientHistory
    from hms_app.services.emr import documents_dir

    patient = _patient(session, "Fiona", "Photo")
    clerk = Actor(
        user_id=3,
        username="rita",
        roles=frozenset({"receptionist"}),
        permissions=frozenset({"patient.read", "patient.write"}),
    )
    with pytest.raises(ValidationError):
        patients.set_patient_photo(
            session, actor=clerk, patient_id=patient.id, content=b"%PDF-1.4", content_type="application/pdf"
        )
    document_id = patients.set_patient_photo(
        session, actor=clerk, patient_id=patient.id, content=PNG, content_type="image/png"
    )
    session.expire_all()
    assert session.get(Patient, patient.id).photo_key == str(document_id)
    row, path = emr.open_document(session, actor=SYSTEM_ACTOR, document_id=document_id)
    assert path.read_bytes() == PNG and path.parent == documents_dir() and "upload" not in str(path)
    fields = session.execute(
        select(PatientHistory.field).where(PatientHistory.patient_id == patient.id)
    ).scalars()
    assert list(fields) == ["photo"]
    nurse = Actor(
        user_id=7, username="nina", roles=frozenset({"nurse"}), permissions=frozenset({"patient.read"})
    )
    with pytest.raises(Forbidden):
        patients.set_patient_photo(
            session, actor=nurse, patient_id=patient.id, content=PNG, content_type="image/png"
        )
