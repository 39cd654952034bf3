"""Rejecting a specimen withdraws the open critical alerts of its results: the value was measured on
a specimen nobody trusts any more, so nobody is to be phoned about it. The alert is kept (status
"withdrawn", audited), leaves the critical board and the clinician's banner, stops escalating and
can no longer be acknowledged; alerts already acknowledged, and other specimens' alerts, stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hms_app.clock import utcnow
from hms_app.errors import Conflict
from hms_app.models.laboratory import CriticalAlert, LabOrder
from hms_app.models.security import AuditEvent
from hms_app.services import live
from hms_app.services.laboratory.critical import (
    acknowledge_alert,
    critical_board,
    escalate_due_alerts,
    my_open_alerts,
)
from hms_app.services.laboratory.results import enter_result
from hms_app.services.laboratory.specimens import reject_specimen
from tests.services.lab_world import build_lab_world, received_order


@pytest.fixture
def world(session):
    return build_lab_world(session)


@pytest.fixture
def published(monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(live, "publish", lambda topic, key=None: sent.append(topic))
    return sent


def _critical(session, world, value: str) -> tuple[CriticalAlert, int]:
    """A potassium entered at a critical value: its alert and its specimen's id."""
    order_id, _ = received_order(session, world, world.man, "2823-3")
    row = enter_result(session, actor=world.tech, order_id=order_id, value=value)
    alert = session.execute(
        select(CriticalAlert).where(
            CriticalAlert.source_id == row.id, CriticalAlert.source_type == "lab_result"
        )
    ).scalar_one()
    return alert, session.get(LabOrder, order_id).specimen_id


def test_rejecting_a_specimen_withdraws_its_open_critical_alert(session, world, published):
    haemolysed, specimen_id = _critical(session, world, "7.9")  # falsely high: the tube was haemolysed
    other, _ = _critical(session, world, "7.1")  # another specimen: a real finding
    acknowledged, acknowledged_specimen = _critical(session, world, "7.5")
    acknowledge_alert(session, actor=world.physician, alert_id=acknowledged.id, read_back="K 7.5, repeating")
    banner = [row.id for row in my_open_alerts(session, actor=world.physician)]
    assert sorted(banner) == sorted([haemolysed.id, other.id])
    published.clear()

    reject_specimen(session, actor=world.tech, specimen_id=specimen_id, reason="haemolysed")
    reject_specimen(session, actor=world.tech, specimen_id=acknowledged_specimen, reason="clotted")

    session.expire_all()
    statuses = {
        alert_id: status
        for alert_id, status in session.execute(select(CriticalAlert.id, CriticalAlert.status)).all()
    }
    assert statuses == {haemolysed.id: "withdrawn", other.id: "open", acknowledged.id: "acknowledged"}
    assert [row.id for row in my_open_alerts(session, actor=world.physician)] == [other.id]
    board = critical_board(session, actor=world.tech, include_acknowledged_hours=24)
    assert sorted(row.id for row in board) == sorted([other.id, acknowledged.id])
    assert "critical" in published  # the boards and banners reload without it
    withdrawals = session.execute(
        select(AuditEvent.username, AuditEvent.patient_id, AuditEvent.target_id, AuditEvent.detail)
        .where(AuditEvent.action == "critical.withdraw")
        .order_by(AuditEvent.id)
    ).all()
    assert len(withdrawals) == 1
    username, patient_id, target_id, detail = withdrawals[0]
    assert (username, patient_id, target_id) == ("tech.one", world.man, str(haemolysed.id))
    assert "7.9" in detail and "Haemolysed" in detail

    with pytest.raises(Conflict, match="withdrawn"):
        acknowledge_alert(session, actor=world.physician, alert_id=haemolysed.id, read_back="7.9")
    session.rollback()
    # It never escalates: only the real finding moves up the chain.
    assert escalate_due_alerts(session, now=utcnow() + timedelta(hours=2)) == 1
    session.expire_all()
    assert session.get(CriticalAlert, haemolysed.id).level == 0
