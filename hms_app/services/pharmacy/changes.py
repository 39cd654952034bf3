"""Stopping, changing and renewing a signed order, each with a reason, and reading a patient's
orders.

A change (other dose, route, frequency, product ...) and a renewal (the same again, from now) are
prepared as a new draft that names the order it replaces and why (``replaces_id``,
``replace_kind``, ``replace_reason``): the prescriber sees its quantity and checks (which leave
the order being replaced out of the patient's current medicines) and signs it like any order
(``prescribing.sign_order``). Signing ends the old order, "changed" or "completed", with that
reason, and moves the chart's medication-list entry to the new one. Stopping ends an order and
its list entry at once.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from hms_app.clock import local_today, to_local, utcnow
from hms_app.errors import Conflict, ValidationError, Withheld
from hms_app.models.emr import MedicationStatement
from hms_app.models.pharmacy import (
    FormularyProduct,
    MedicationOrder,
    MedicationOverride,
    MedicationVerification,
)
from hms_app.services import live
from hms_app.services.audit import audit_read
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.common import (
    ORDER,
    ORDER_MISSING,
    READ,
    actor_name,
    audit_rx,
    clean_text,
    get_order,
    get_patient,
)
from hms_app.services.pharmacy.prescribing import prepare, sig_text
from hms_app.services.pharmacy.rows import OrderView, PreparedOrder


def _order_of_patient(
    session: Session, actor: Actor, permission: str, order_id, patient_id
) -> MedicationOrder:
    """An order by the id a screen sent, refused exactly as a missing one when it is not the
    patient's the screen is about (an id from another chart proves nothing)."""
    authorize(actor, permission, patient_id=patient_id)
    order = get_order(session, order_id, lock=True)
    if order.patient_id != patient_id:
        raise Withheld(ORDER_MISSING)
    return order


def _reason(reason) -> str:
    return clean_text(reason, field="reason", label="Reason", maximum=300, required=True)


def _active(order: MedicationOrder) -> None:
    if order.status != "active":
        raise Conflict(f"Order {order.reference} is {order.status}, not active.")


def stop_order(session: Session, *, actor: Actor, patient_id: int, order_id: int, reason: str) -> OrderView:
    """Stop an active order with a reason (``medication.order``); the chart's list entry stops too."""
    order = _order_of_patient(session, actor, ORDER, order_id, patient_id)
    reason = _reason(reason)
    _active(order)
    now = utcnow()
    order.status, order.ended_at, order.ended_by, order.end_reason = "stopped", now, actor_name(actor), reason
    session.add(order)
    statement = session.get(MedicationStatement, order.statement_id) if order.statement_id else None
    if statement is not None and statement.status == "active":
        statement.status, statement.stopped_on, statement.stop_reason = "stopped", local_today(), reason[:200]
        session.add(statement)
    product = session.get(FormularyProduct, order.product_id)
    audit_rx(
        session,
        actor,
        "medication.stop",
        patient_id=order.patient_id,
        target_type="medication_order",
        target_id=order.id,
        detail=f"{order.reference} {product.name}: {reason}",
    )
    session.commit()
    live.publish("pharmacy", order.patient_id)
    return order_view(session, order)


def prepare_change(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    order_id: int,
    reason: str,
    data: dict,
    draft_id: int | None = None,
) -> PreparedOrder:
    """Prepare the order that replaces an active one with other fields (``medication.order``)."""
    order = _order_of_patient(session, actor, ORDER, order_id, patient_id)
    reason = _reason(reason)
    _active(order)
    return prepare(
        session,
        actor=actor,
        patient_id=patient_id,
        data=data,
        draft_id=draft_id,
        replaces=order,
        replace_kind="change",
        replace_reason=reason,
    )


def renewal_data(order: MedicationOrder) -> dict:
    """An order's fields as a form holds them, starting now, for the same number of days."""
    days = order.duration_days
    if days is None and order.end_at is not None:
        days = max(1, (to_local(order.end_at).date() - to_local(order.start_at).date()).days)
    return {
        "product_id": order.product_id,
        "setting": order.setting,
        "dose": str(Decimal(order.dose).normalize()),
        "dose_unit": order.dose_unit,
        "route": order.route,
        "frequency": order.frequency,
        "prn": order.prn,
        "prn_indication": order.prn_indication or "",
        "max_doses_per_day": order.max_doses_per_day or "",
        "duration_days": days or "",
        "instructions": order.instructions or "",
        "encounter_id": order.encounter_id,
    }


def prepare_renewal(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    order_id: int,
    reason: str,
    data: dict | None = None,
) -> PreparedOrder:
    """Prepare the same order again from now (``medication.order``); ``data`` may change its days."""
    order = _order_of_patient(session, actor, ORDER, order_id, patient_id)
    reason = _reason(reason)
    _active(order)
    fields = {**renewal_data(order), **(data or {})}
    if fields.get("product_id") != order.product_id:
        raise ValidationError("A renewal keeps the product: change the order instead.", field="product_id")
    return prepare(
        session,
        actor=actor,
        patient_id=patient_id,
        data=fields,
        replaces=order,
        replace_kind="renew",
        replace_reason=reason,
    )


def order_view(session: Session, order: MedicationOrder) -> OrderView:
    product = session.get(FormularyProduct, order.product_id)
    overrides = tuple(
        f"{rule}: {reason}"
        for rule, reason in session.execute(
            select(MedicationOverride.rule, MedicationOverride.reason)
            .where(MedicationOverride.order_id == order.id)
            .order_by(MedicationOverride.id)
        ).all()
    )
    # The pharmacist's decision sent back to the prescriber shows on the order until it ends.
    sent_back = session.execute(
        select(MedicationVerification.reason).where(
            MedicationVerification.order_id == order.id, MedicationVerification.outcome == "returned"
        )
    ).scalar_one_or_none()
    return OrderView(
        id=order.id,
        reference=order.reference,
        patient_id=order.patient_id,
        product_id=order.product_id,
        product=product.name,
        sig=sig_text(order),
        setting=order.setting,
        dose=Decimal(order.dose),
        dose_unit=order.dose_unit,
        route=order.route,
        frequency=order.frequency,
        prn=order.prn,
        prn_indication=order.prn_indication,
        max_doses_per_day=order.max_doses_per_day,
        start_at=order.start_at,
        end_at=order.end_at,
        duration_days=order.duration_days,
        instructions=order.instructions,
        dispense_quantity=order.dispense_quantity,
        dispense_unit=order.dispense_unit,
        quantity_basis=order.quantity_basis,
        status=order.status,
        prescriber=order.prescriber,
        signed_at=order.signed_at,
        ended_at=order.ended_at,
        end_reason=order.end_reason,
        replaces_id=order.replaces_id,
        replace_kind=order.replace_kind,
        overrides=overrides,
        sent_back=sent_back,
    )


def patient_orders(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    include_ended: bool = False,
    include_own_drafts: bool = False,
    limit: int = 100,
) -> list[OrderView]:
    """A patient's signed orders, newest first (``medication.read``; the read is audited). Drafts
    are their prescriber's work in progress: listed (first) only to that prescriber, when asked;
    ended ones only when asked."""
    authorize(actor, READ, patient_id=patient_id)
    get_patient(session, patient_id)
    statuses = ("active", "stopped", "completed", "changed") if include_ended else ("active",)
    wanted = MedicationOrder.status.in_(statuses)
    if include_own_drafts:
        wanted = or_(
            wanted, and_(MedicationOrder.status == "draft", MedicationOrder.prescriber_id == actor.user_id)
        )
    rows = session.execute(
        select(MedicationOrder)
        .where(MedicationOrder.patient_id == patient_id, wanted)
        .order_by(
            MedicationOrder.signed_at.is_(None).desc(),
            MedicationOrder.signed_at.desc(),
            MedicationOrder.id.desc(),
        )
        .limit(max(1, min(int(limit), 500)))
    ).scalars()
    views = [order_view(session, row) for row in rows]
    audit_read(
        session,
        actor,
        "medication.read",
        patient_id=patient_id,
        target_type="patient",
        target_id=patient_id,
        detail=f"{len(views)} medication order(s)",
    )
    return views
