"""Allergy status has three states (issue 11, item 16): nobody has assessed the patient yet, a
clinician recorded "no known allergies" (who and when), or the allergies. A patient with no
allergy rows is never shown or printed as having no known allergies unless someone recorded it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hms_app.errors import Conflict, Forbidden
from hms_app.models.emr import AllergyAssessment
from hms_app.models.security import AuditEvent
from hms_app.services.allergy_status import ALLERGIES, NONE_KNOWN, UNASSESSED, allergy_status
from hms_app.services.emr.allergies import add_allergy, record_no_known_allergies, set_allergy_status
from hms_app.services.emr.chart import open_chart
from hms_app.services.patients.wristband import wristband
from tests.services.test_emr import ward  # noqa: F401  (the fixture: a doctor, a nurse, a clerk, patients)


def _banner(session, ward):  # noqa: F811
    return open_chart(session, actor=ward.doctor, patient_id=ward.patient_id).banner


def test_a_patient_nobody_asked_is_not_assessed_on_the_banner_and_the_wristband(session, ward):  # noqa: F811
    banner = _banner(session, ward)
    assert (banner.allergy_state, banner.allergies, banner.allergy_assessed) == (UNASSESSED, (), "")
    band = wristband(session, actor=ward.nurse, patient_id=ward.patient_id)
    assert (band.allergy_state, band.allergies) == (UNASSESSED, ())


def test_no_known_allergies_is_recorded_with_who_and_when(session, ward):  # noqa: F811
    record_no_known_allergies(session, actor=ward.nurse, patient_id=ward.patient_id)
    status = allergy_status(session, ward.patient_id)
    assert (status.state, status.recorded_by) == (NONE_KNOWN, "nurse.ratched") and status.recorded_at
    banner = _banner(session, ward)
    assert banner.allergy_state == NONE_KNOWN
    assert banner.allergy_assessed.startswith("nurse.ratched, ")
    assert wristband(session, actor=ward.nurse, patient_id=ward.patient_id).allergy_state == NONE_KNOWN
    (audit,) = session.execute(select(AuditEvent).where(AuditEvent.action == "allergy.none_known")).scalars()
    assert (audit.patient_id, audit.username) == (ward.patient_id, "nurse.ratched")
    # The other patient is still not assessed.
    assert allergy_status(session, ward.other_patient_id).state == UNASSESSED


def test_an_allergy_supersedes_no_known_allergies_and_then_none_can_be_recorded(session, ward):  # noqa: F811
    record_no_known_allergies(session, actor=ward.nurse, patient_id=ward.patient_id)
    allergy = add_allergy(
        session, actor=ward.doctor, patient_id=ward.patient_id, substance="Penicillin", severity="severe"
    )
    status = allergy_status(session, ward.patient_id)
    assert (status.state, status.allergies) == (ALLERGIES, (("Penicillin", "severe"),))
    (assessment,) = session.execute(select(AllergyAssessment)).scalars()
    assert assessment.superseded_at is not None and assessment.superseded_by == "dr.house"
    band = wristband(session, actor=ward.nurse, patient_id=ward.patient_id)
    assert (band.allergy_state, band.allergies) == (ALLERGIES, ("Penicillin",))
    with pytest.raises(Conflict, match="1 active allergy is recorded"):
        record_no_known_allergies(session, actor=ward.doctor, patient_id=ward.patient_id)
    # Resolved, the allergy no longer stands, but nobody has said there are none: not assessed.
    set_allergy_status(session, actor=ward.doctor, allergy_id=allergy.id, status="resolved")
    assert allergy_status(session, ward.patient_id).state == UNASSESSED
    record_no_known_allergies(session, actor=ward.doctor, patient_id=ward.patient_id)
    assert allergy_status(session, ward.patient_id).recorded_by == "dr.house"
    # Reactivated, it supersedes that one too.
    set_allergy_status(session, actor=ward.doctor, allergy_id=allergy.id, status="active")
    assert allergy_status(session, ward.patient_id).state == ALLERGIES
    assert (
        session.execute(select(AllergyAssessment.id).where(AllergyAssessment.superseded_at.is_(None))).all()
        == []
    )


def test_only_a_clinician_records_no_known_allergies(session, ward):  # noqa: F811
    with pytest.raises(Forbidden):
        record_no_known_allergies(session, actor=ward.clerk, patient_id=ward.patient_id)
    with pytest.raises(Forbidden):
        record_no_known_allergies(session, actor=ward.portal, patient_id=ward.patient_id)
    assert allergy_status(session, ward.patient_id).state == UNASSESSED
