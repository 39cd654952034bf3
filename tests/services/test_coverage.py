"""Insurance coverage: validation, shares in cents, permission and audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hms_app.errors import Conflict, Forbidden, ValidationError
from hms_app.models.patients import Payer
from hms_app.models.security import AuditEvent
from hms_app.services import coverage, patients
from hms_app.services.permissions import SYSTEM_ACTOR, Actor


@pytest.fixture
def patient_and_payer(session):
    payer = Payer(code="ACME", name="Acme Health")
    session.add(payer)
    session.commit()
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Ines", "family_name": "Insured", "sex": "female", "birth_date": "1975-02-03"},
    )
    return patient.id, payer.id


def _form(payer_id, **changes):
    form = {
        "payer_id": payer_id,
        "plan_name": "Gold PPO",
        "member_id": "ACM-0001",
        "valid_from": "2025-01-01",
        "valid_to": "",
        "priority": "1",
        "copay": "12.50",
        "coinsurance_percent": "20",
    }
    if "payer" in changes:  # an unknown payer id, as a crafted request could send
        form["payer_id"] = changes.pop("payer")
    form.update(changes)
    return form


def test_coverage_is_recorded_with_the_copay_in_cents_and_audited(session, patient_and_payer):
    patient_id, payer_id = patient_and_payer
    row = coverage.add_coverage(session, actor=SYSTEM_ACTOR, patient_id=patient_id, data=_form(payer_id))
    assert (row.copay_cents, row.coinsurance_percent, row.priority) == (1250, 20, 1)
    listed = coverage.list_coverage(session, actor=SYSTEM_ACTOR, patient_id=patient_id)
    assert [(c.payer, c.member_id, c.current) for c in listed] == [("Acme Health", "ACM-0001", True)]
    actions = (
        session.execute(select(AuditEvent.action).where(AuditEvent.patient_id == patient_id)).scalars().all()
    )
    assert "coverage.add" in actions


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"payer": "0"}, "payer_id"),
        ({"plan_name": "x"}, "plan_name"),
        ({"member_id": "a"}, "member_id"),
        ({"valid_from": "yesterday"}, "valid_from"),
        ({"valid_to": "2024-01-01"}, "valid_to"),
        ({"priority": "7"}, "priority"),
        ({"coinsurance_percent": "120"}, "coinsurance_percent"),
        ({"copay": "12.345"}, "copay"),
        ({"copay": "-5"}, "copay"),
    ],
)
def test_bad_coverage_input_is_refused_with_the_field(session, patient_and_payer, changes, field):
    patient_id, payer_id = patient_and_payer
    with pytest.raises(ValidationError) as caught:
        coverage.add_coverage(
            session, actor=SYSTEM_ACTOR, patient_id=patient_id, data=_form(payer_id, **changes)
        )
    assert caught.value.field == field


def test_the_same_card_twice_is_a_conflict_and_an_ended_one_is_no_longer_current(session, patient_and_payer):
    patient_id, payer_id = patient_and_payer
    row = coverage.add_coverage(session, actor=SYSTEM_ACTOR, patient_id=patient_id, data=_form(payer_id))
    with pytest.raises(Conflict):
        coverage.add_coverage(session, actor=SYSTEM_ACTOR, patient_id=patient_id, data=_form(payer_id))
    coverage.end_coverage(session, actor=SYSTEM_ACTOR, coverage_id=row.id, reason="plan replaced")
    assert [
        c.current for c in coverage.list_coverage(session, actor=SYSTEM_ACTOR, patient_id=patient_id)
    ] == [False]


def test_a_nurse_cannot_change_coverage(session, patient_and_payer):
    patient_id, payer_id = patient_and_payer
    nurse = Actor(
        user_id=9,
        username="nina",
        roles=frozenset({"nurse"}),
        permissions=frozenset({"patient.read", "emr.write"}),
    )
    with pytest.raises(Forbidden):
        coverage.add_coverage(session, actor=nurse, patient_id=patient_id, data=_form(payer_id))
