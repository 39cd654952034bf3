"""The pharmacist's verification queue as a pharmacist and an auditor see it: signed orders wait
(new orders, changes, orders signed past interrupting alerts first), the verifier reads the alerts
and the prescriber's override reasons, verifies (overrides only once reviewed) or sends back with a
reason; each decision is made once, audited, and refused to other roles."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.emr import AllergyIntolerance
from hms_app.models.pharmacy import MedicationVerification
from hms_app.models.security import AuditEvent
from hms_app.services.pharmacy.changes import prepare_change, stop_order
from hms_app.services.pharmacy.prescribing import prepare_order, sign_order
from hms_app.services.pharmacy.verification import (
    count_to_verify,
    send_back_order,
    to_verify,
    verification_detail,
    verify_order,
)
from tests.services.dispensing_world import build_dispense_world, signed_order
from tests.services.pharmacy_world import (
    PENICILLIN_ALLERGY,
    engine,  # noqa: F401 - the fixture
)


@pytest.fixture
def world(session, engine):  # noqa: F811
    return build_dispense_world(session)


def _allergic_amoxicillin(session, world) -> int:
    """An amoxicillin order for the penicillin-allergic woman, signed past the allergy alert."""
    session.add(AllergyIntolerance(patient_id=world.rx.woman, substance="Penicillin", recorded_by="dr.rx"))
    session.commit()
    data = {
        "product_id": world.rx.product("RX-AMOX-500-CAP"),
        "setting": "outpatient",
        "dose": "500",
        "dose_unit": "mg",
        "route": "oral",
        "frequency": "TID",
        "duration_days": "5",
    }
    prepared = prepare_order(session, actor=world.rx.physician, patient_id=world.rx.woman, data=data)
    return sign_order(
        session,
        actor=world.rx.physician,
        order_id=prepared.order_id,
        overrides={PENICILLIN_ALLERGY: "Tolerated amoxicillin in 2024 without reaction"},
    ).order_id


def test_signed_orders_queue_with_overrides_first_and_kinds_named(session, world):
    plain = signed_order(session, world)
    flagged = _allergic_amoxicillin(session, world)
    change = prepare_change(
        session,
        actor=world.rx.physician,
        patient_id=world.rx.man,
        order_id=plain,
        reason="Lower dose for liver function",
        data={
            "product_id": world.rx.product("RX-APAP-500-TAB"),
            "setting": "outpatient",
            "dose": "500",
            "dose_unit": "mg",
            "route": "oral",
            "frequency": "QID",
            "duration_days": "5",
        },
    )
    changed = sign_order(session, actor=world.rx.physician, order_id=change.order_id).order_id
    rows = to_verify(session, actor=world.pharmacist)
    # The replaced order left the queue (it is no longer active); the overridden one is first.
    assert [r.order_id for r in rows] == [flagged, changed]
    assert (rows[0].overrides, rows[0].kind) == (1, "new")
    assert (rows[1].overrides, rows[1].kind) == (0, "change")
    assert count_to_verify(session, actor=world.pharmacist) == 2
    assert [r.order_id for r in to_verify(session, actor=world.pharmacist, search="cillin")] == [flagged]


def test_the_verifier_sees_the_alerts_and_the_reasons_and_must_review_overrides(session, world):
    order_id = _allergic_amoxicillin(session, world)
    detail = verification_detail(session, actor=world.pharmacist, order_id=order_id)
    allergy = next(a for a in detail.alerts if a.rule == PENICILLIN_ALLERGY)
    assert allergy.interrupt and allergy.override_reason == "Tolerated amoxicillin in 2024 without reaction"
    assert allergy.overridden_by == "dr.rx"
    with pytest.raises(ValidationError, match="signed past 1 interrupting alert"):
        verify_order(session, actor=world.pharmacist, order_id=order_id)
    session.rollback()
    decision = verify_order(session, actor=world.pharmacist, order_id=order_id, overrides_reviewed=True)
    assert (decision.outcome, decision.overrides_reviewed, decision.decided_by) == ("verified", 1, "pharm.rx")
    assert to_verify(session, actor=world.pharmacist) == []
    audit = session.execute(select(AuditEvent).where(AuditEvent.action == "pharmacy.verify")).scalar_one()
    assert audit.patient_id == world.rx.woman and "1 override(s) reviewed" in audit.detail


def test_send_back_needs_a_reason_and_each_order_is_decided_once(session, world):
    order_id = signed_order(session, world)
    with pytest.raises(ValidationError, match="reason is required"):
        send_back_order(session, actor=world.pharmacist, order_id=order_id, reason="  ")
    decision = send_back_order(
        session, actor=world.pharmacist, order_id=order_id, reason="Duplicate of the ward's supply"
    )
    assert (decision.outcome, decision.reason) == ("returned", "Duplicate of the ward's supply")
    with pytest.raises(Conflict, match="already sent back"):
        verify_order(session, actor=world.witness, order_id=order_id)
    session.rollback()
    assert session.execute(select(MedicationVerification.id)).scalars().all() == [decision.id]
    events = session.execute(
        select(AuditEvent.detail).where(AuditEvent.action == "pharmacy.send_back")
    ).scalars()
    assert list(events) == [
        f"{decision_reference(session, order_id)} sent back to dr.rx: Duplicate of the ward's supply"
    ]


def decision_reference(session, order_id: int) -> str:
    from hms_app.models.pharmacy import MedicationOrder

    return session.get(MedicationOrder, order_id).reference


def test_a_stopped_order_leaves_the_queue_and_cannot_be_verified(session, world):
    order_id = signed_order(session, world)
    stop_order(
        session, actor=world.rx.physician, patient_id=world.rx.man, order_id=order_id, reason="Not needed"
    )
    assert to_verify(session, actor=world.pharmacist) == []
    with pytest.raises(Conflict, match="stopped"):
        verify_order(session, actor=world.pharmacist, order_id=order_id)


@pytest.mark.parametrize("who", ["physician", "nurse", "receptionist"])
def test_other_roles_cannot_see_the_queue_or_decide(session, world, who):
    order_id = signed_order(session, world)
    actor = getattr(world.rx, who)
    for call in (
        lambda: to_verify(session, actor=actor),
        lambda: verification_detail(session, actor=actor, order_id=order_id),
        lambda: verify_order(session, actor=actor, order_id=order_id),
        lambda: send_back_order(session, actor=actor, order_id=order_id, reason="because"),
    ):
        with pytest.raises(Forbidden):
            call()
    assert session.execute(select(MedicationVerification)).first() is None


def test_unknown_or_malformed_order_ids_are_refused_plainly(session, world):
    for bad in (999999, "abc", None, True, -3):
        with pytest.raises((NotFound, ValidationError)):
            verify_order(session, actor=world.pharmacist, order_id=bad)
