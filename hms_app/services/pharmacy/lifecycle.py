"""Orders that ran their course: the periodic job that completes active orders past their end.

An order written for a number of days (or to an end date) has ``end_at``; once that moment has
passed, the order is "completed" by the system with the reason "Course finished", and the chart's
medication-list entry it feeds is completed with it (the list then shows what the patient took
and until when). Every backend worker runs the job every 30 s: each order is claimed with a
conditional UPDATE (``status = 'active'``), so two workers never complete one twice, and an order
a prescriber stopped or changed a moment before is left as they left it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from hms_app.clock import to_local, utcnow
from hms_app.models.emr import MedicationStatement
from hms_app.models.pharmacy import FormularyProduct, MedicationOrder
from hms_app.services import live
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.common import ORDER, audit_rx

SYSTEM_ENDER = "system"
COURSE_FINISHED = "Course finished"


def _last_day(end_at: datetime):
    """The last local day of a course that ends (exclusively) at ``end_at``."""
    return (to_local(end_at) - timedelta(microseconds=1)).date()


def complete_ended_orders(
    session: Session, *, actor: Actor, now: datetime | None = None, limit: int = 200
) -> int:
    """Complete every active order whose end has passed, and its medication-list entry
    (``medication.order``; the periodic job runs it as the system). Returns how many it completed."""
    authorize(actor, ORDER)
    now = now or utcnow()
    due = (
        session.execute(
            select(MedicationOrder.id)
            .where(
                MedicationOrder.status == "active",
                MedicationOrder.end_at.is_not(None),
                MedicationOrder.end_at < now,
            )
            .order_by(MedicationOrder.end_at, MedicationOrder.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    session.commit()
    patients: set[int] = set()
    completed = 0
    for order_id in due:
        # The claim: only the worker whose UPDATE still finds the order active completes it.
        claimed = session.execute(
            update(MedicationOrder)
            .where(
                MedicationOrder.id == order_id,
                MedicationOrder.status == "active",
                MedicationOrder.end_at < now,
            )
            .values(status="completed", ended_at=now, ended_by=SYSTEM_ENDER, end_reason=COURSE_FINISHED)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:  # stopped, changed or completed by someone else meanwhile
            session.rollback()
            continue
        order = session.get(MedicationOrder, order_id, populate_existing=True)
        statement = session.get(MedicationStatement, order.statement_id) if order.statement_id else None
        if statement is not None and statement.status == "active":
            statement.status, statement.stopped_on = "completed", _last_day(order.end_at)
            statement.stop_reason = COURSE_FINISHED
            session.add(statement)
        product = session.get(FormularyProduct, order.product_id)
        audit_rx(
            session,
            actor,
            "medication.complete",
            patient_id=order.patient_id,
            target_type="medication_order",
            target_id=order.id,
            detail=f"{order.reference} {product.name}: {COURSE_FINISHED.lower()} "
            f"(ended {to_local(order.end_at):%Y-%m-%d %H:%M})",
        )
        session.commit()
        patients.add(order.patient_id)
        completed += 1
    # After the commits: the queue, the chart's orders card and the boards read them again.
    for patient_id in sorted(patients):
        live.publish("pharmacy", patient_id)
    return completed
