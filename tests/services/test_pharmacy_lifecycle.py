"""Orders that ran their course are completed by the periodic job, with the chart's medication-list
entry they feed; an order still running, stopped or already completed is left alone, and two
workers running the job at once complete each order once. Also: the medication list refuses to
stop an entry an active order feeds, and the chart's orders show the pharmacist's "sent back"."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hms_app import db as hms_db
from hms_app.clock import to_local, utcnow
from hms_app.errors import Conflict, Forbidden
from hms_app.models.emr import MedicationStatement
from hms_app.models.pharmacy import MedicationOrder
from hms_app.models.security import AuditEvent
from hms_app.services import live
from hms_app.services.emr.chart import open_chart
from hms_app.services.emr.medications import stop_medication
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.pharmacy.changes import patient_orders, stop_order
from hms_app.services.pharmacy.lifecycle import complete_ended_orders
from hms_app.services.pharmacy.prescribing import prepare_order, sign_order
from hms_app.services.pharmacy.verification import send_back_order
from tests.services.pharmacy_world import build_rx_world, engine  # noqa: F401 - the fixture


@pytest.fixture
def world(session, engine):  # noqa: F811
    return build_rx_world(session)


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, object]]:
    calls: list[tuple[str, object]] = []
    monkeypatch.setattr(live, "publish", lambda topic, key=None: calls.append((topic, key)))
    return calls


def signed(session, world, patient_id: int, days: int = 5, code: str = "RX-AMLO-5-TAB") -> MedicationOrder:
    data = {
        "product_id": world.product(code),
        "setting": "outpatient",
        "dose": "1",
        "dose_unit": "tablet",
        "route": "oral",
        "frequency": "QD",
        "duration_days": str(days),
    }
    prepared = prepare_order(session, actor=world.physician, patient_id=patient_id, data=data)
    order_id = sign_order(session, actor=world.physician, order_id=prepared.order_id).order_id
    return session.get(MedicationOrder, order_id)


def completions(session) -> int:
    return session.execute(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "medication.complete")
    ).scalar_one()


def test_an_order_past_its_end_is_completed_with_its_list_entry_and_once_only(session, world, published):
    ended = signed(session, world, world.man, days=5)
    running = signed(session, world, world.woman, days=30)
    stopped = signed(session, world, world.woman, days=2, code="RX-IBU-400-TAB")
    stop_order(session, actor=world.physician, patient_id=world.woman, order_id=stopped.id, reason="Rash")
    published.clear()
    later = utcnow() + timedelta(days=6)

    assert complete_ended_orders(session, actor=SYSTEM_ACTOR, now=later) == 1

    session.expire_all()
    order = session.get(MedicationOrder, ended.id)
    assert (order.status, order.ended_by, order.end_reason) == ("completed", "system", "Course finished")
    assert order.ended_at is not None
    statement = session.get(MedicationStatement, order.statement_id)
    last_day = (to_local(order.end_at) - timedelta(microseconds=1)).date()
    assert (statement.status, statement.stopped_on, statement.stop_reason) == (
        "completed",
        last_day,
        "Course finished",
    )
    # The order ending in the future and the one stopped before its end are as they were.
    assert session.get(MedicationOrder, running.id).status == "active"
    assert session.get(MedicationStatement, running.statement_id).status == "active"
    assert session.get(MedicationOrder, stopped.id).end_reason == "Rash"
    assert published == [("pharmacy", world.man)]
    (audit,) = session.execute(select(AuditEvent).where(AuditEvent.action == "medication.complete")).scalars()
    assert (audit.patient_id, audit.target_id, audit.username) == (world.man, str(ended.id), "system")
    assert ended.reference in audit.detail

    # The second round finds nothing to do: no change, no audit row, no notice.
    published.clear()
    assert complete_ended_orders(session, actor=SYSTEM_ACTOR, now=later) == 0
    assert completions(session) == 1 and published == []
    # Nor does the chart's list offer to stop what the course finished.
    with pytest.raises(Conflict, match="no longer active"):
        stop_medication(session, actor=world.physician, medication_id=order.statement_id, reason="done")
    history = patient_orders(session, actor=world.nurse, patient_id=world.man, include_ended=True)
    assert [(o.status, o.end_reason) for o in history] == [("completed", "Course finished")]


def test_the_job_needs_the_permission_and_leaves_an_order_without_an_end(session, world):
    with pytest.raises(Forbidden):
        complete_ended_orders(session, actor=world.receptionist)
    order = signed(session, world, world.man, days=3)
    order.end_at = None  # an inpatient order "until stopped"
    session.add(order)
    session.commit()
    assert complete_ended_orders(session, actor=SYSTEM_ACTOR, now=utcnow() + timedelta(days=400)) == 0
    assert session.get(MedicationOrder, order.id).status == "active"


def test_two_workers_at_once_complete_each_order_once(session, world, published, configured_db):
    orders = [signed(session, world, patient, days=1).id for patient in (world.man, world.woman) * 3]
    session.commit()  # on SQLite the test's own session must not hold the write lock
    later = utcnow() + timedelta(days=2)
    done: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            with hms_db.session_scope(configured_db) as own:
                start.wait()
                done.append(complete_ended_orders(own, actor=SYSTEM_ACTOR, now=later))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(done) == len(orders)
    session.expire_all()
    assert {session.get(MedicationOrder, order_id).status for order_id in orders} == {"completed"}
    assert completions(session) == len(orders)


def test_the_list_entry_of_an_active_order_is_stopped_through_the_order(session, world):
    order = signed(session, world, world.man, days=5)
    (entry,) = open_chart(session, actor=world.physician, patient_id=world.man).medications
    assert (entry.id, entry.order_reference) == (order.statement_id, order.reference)
    with pytest.raises(
        Conflict, match=f"Stop it through its order {order.reference} on the Medication orders"
    ):
        stop_medication(session, actor=world.physician, medication_id=order.statement_id, reason="done")
    session.rollback()
    assert session.get(MedicationStatement, order.statement_id).status == "active"
    # Once the order is stopped, the entry is no longer the order's to guard.
    stop_order(session, actor=world.physician, patient_id=world.man, order_id=order.id, reason="Rash")
    (entry,) = open_chart(session, actor=world.physician, patient_id=world.man).medications
    assert (entry.status, entry.order_reference) == ("stopped", None)


def test_an_order_the_pharmacist_sent_back_shows_the_reason_on_the_chart(session, world):
    order = signed(session, world, world.man, days=5)
    kept = signed(session, world, world.man, days=5, code="RX-IBU-400-TAB")
    send_back_order(session, actor=world.pharmacist, order_id=order.id, reason="Dose too high for eGFR")
    views = {v.reference: v for v in patient_orders(session, actor=world.physician, patient_id=world.man)}
    assert views[order.reference].sent_back == "Dose too high for eGFR"
    assert views[kept.reference].sent_back is None
