"""The pharmacist's verification of signed orders: the queue of orders waiting (new orders, changes
and renewals, orders signed past interrupting alerts), what the verifier must see before deciding
(the order, the alerts shown at signing and the prescriber's override reasons), and the decision:
verified (it may be dispensed) or sent back to the prescriber with a reason.

Decisions written down:

* one decision per order (a unique constraint): two pharmacists deciding at once get one decision
  and a plain "already verified" for the other; a corrected order is a new order and queues again;
* an order signed with overrides is verified only when the verifier says they reviewed them
  (``overrides_reviewed``), so that a click past the alerts is not a review; the number reviewed is
  stored and audited;
* only active orders queue: an order stopped or changed before verification leaves the queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.errors import Conflict, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.pharmacy import (
    FormularyProduct,
    MedicationOrder,
    MedicationOrderAlert,
    MedicationOverride,
    MedicationVerification,
)
from hms_app.services import live
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.common import (
    VERIFY,
    actor_name,
    audit_rx,
    clean_text,
    get_order,
)
from hms_app.services.pharmacy.prescribing import sig_text
from hms_app.services.rows import returns_frozen

TOPIC = "pharmacy"
PAGE = 50
MAX_REASON = 300


@dataclass(frozen=True)
class QueueOrder:
    """A signed order waiting for the pharmacist, as a queue row."""

    order_id: int
    reference: str
    patient_id: int
    patient: str
    mrn: str
    product: str
    sig: str
    dispense_quantity: int
    dispense_unit: str
    setting: str
    prescriber: str
    signed_at: datetime
    kind: str  # "new" | "change" | "renew"
    overrides: int  # interrupting alerts signed past: to review
    restricted: bool
    controlled: bool


@dataclass(frozen=True)
class ShownAlert:
    rule: str
    kind: str
    severity: str
    interrupt: bool
    message: str
    override_reason: str | None  # the prescriber's reason, for an interrupting alert
    overridden_by: str | None


@dataclass(frozen=True)
class VerificationDetail:
    """What the verifier reads before deciding."""

    order: QueueOrder
    quantity_basis: str
    instructions: str | None
    prn_indication: str | None
    restriction: str | None
    replaces: str | None  # the reference of the order a change or renewal replaces
    replace_reason: str | None
    alerts: tuple[ShownAlert, ...]
    decided: str | None  # an earlier decision's outcome, if any


def _overrides_count():
    return (
        select(func.count(MedicationOverride.id))
        .where(MedicationOverride.order_id == MedicationOrder.id)
        .scalar_subquery()
    )


def _queue_select():
    return (
        select(
            MedicationOrder,
            FormularyProduct.name,
            FormularyProduct.formulary_status,
            FormularyProduct.controlled,
            Patient.given_name,
            Patient.family_name,
            Patient.mrn,
            _overrides_count().label("overrides"),
        )
        .join(FormularyProduct, FormularyProduct.id == MedicationOrder.product_id)
        .join(Patient, Patient.id == MedicationOrder.patient_id)
    )


def queue_row(row) -> QueueOrder:
    order, product, status, controlled, given, family, mrn, overrides = row
    return QueueOrder(
        order_id=order.id,
        reference=order.reference,
        patient_id=order.patient_id,
        patient=f"{family.upper()}, {given}",
        mrn=mrn,
        product=product,
        sig=sig_text(order),
        dispense_quantity=order.dispense_quantity,
        dispense_unit=order.dispense_unit,
        setting=order.setting,
        prescriber=order.prescriber,
        signed_at=order.signed_at,
        kind=order.replace_kind or "new",
        overrides=int(overrides or 0),
        restricted=status == "restricted",
        controlled=bool(controlled),
    )


def _undecided():
    return ~exists().where(MedicationVerification.order_id == MedicationOrder.id)


def _search(query, text: str):
    text = " ".join(str(text or "").split())[:60]
    if not text:
        return query
    like = f"%{text.lower()}%"
    return query.where(
        or_(
            func.lower(MedicationOrder.reference).like(like),
            func.lower(Patient.family_name).like(like),
            func.lower(Patient.mrn).like(like),
            func.lower(FormularyProduct.name).like(like),
        )
    )


def to_verify(session: Session, *, actor: Actor, search: str = "", limit: int = PAGE) -> list[QueueOrder]:
    """Active signed orders with no pharmacist decision yet, those with overrides first, then oldest
    first (``pharmacy.verify``)."""
    authorize(actor, VERIFY)
    query = _search(
        _queue_select().where(MedicationOrder.status == "active", _undecided()),
        search,
    ).order_by(_overrides_count().desc(), MedicationOrder.signed_at, MedicationOrder.id)
    return [queue_row(row) for row in session.execute(query.limit(max(1, min(limit, 200)))).all()]


def count_to_verify(session: Session, *, actor: Actor) -> int:
    authorize(actor, VERIFY)
    return session.execute(
        select(func.count(MedicationOrder.id)).where(MedicationOrder.status == "active", _undecided())
    ).scalar_one()


def verification_detail(session: Session, *, actor: Actor, order_id) -> VerificationDetail:
    """The order with every alert shown at signing and the reasons given for overriding them; the
    read is audited (the verifier sees the patient's medication)."""
    authorize(actor, VERIFY)
    order = get_order(session, order_id)
    row = session.execute(_queue_select().where(MedicationOrder.id == order.id)).one()
    product = session.get(FormularyProduct, order.product_id)
    overrides = {
        o.rule: o
        for o in session.execute(
            select(MedicationOverride).where(MedicationOverride.order_id == order.id)
        ).scalars()
    }
    alerts = [
        ShownAlert(
            rule=a.rule,
            kind=a.kind,
            severity=a.severity,
            interrupt=a.interrupt,
            message=a.message,
            override_reason=overrides[a.rule].reason if a.rule in overrides else None,
            overridden_by=overrides[a.rule].overridden_by if a.rule in overrides else None,
        )
        for a in session.execute(
            select(MedicationOrderAlert)
            .where(MedicationOrderAlert.order_id == order.id)
            .order_by(MedicationOrderAlert.interrupt.desc(), MedicationOrderAlert.id)
        ).scalars()
    ]
    replaced = session.get(MedicationOrder, order.replaces_id) if order.replaces_id else None
    decided = session.execute(
        select(MedicationVerification.outcome).where(MedicationVerification.order_id == order.id)
    ).scalar_one_or_none()
    audit_rx(
        session,
        actor,
        "pharmacy.verification_read",
        patient_id=order.patient_id,
        target_type="medication_order",
        target_id=order.id,
        detail=order.reference,
    )
    session.commit()
    return VerificationDetail(
        order=queue_row(row),
        quantity_basis=order.quantity_basis,
        instructions=order.instructions,
        prn_indication=order.prn_indication,
        restriction=product.restriction if product.formulary_status == "restricted" else None,
        replaces=replaced.reference if replaced else None,
        replace_reason=order.replace_reason,
        alerts=tuple(alerts),
        decided=decided,
    )


def _decide(
    session: Session, actor: Actor, order: MedicationOrder, outcome: str, reason: str | None, reviewed: int
) -> MedicationVerification:
    decision = MedicationVerification(
        order_id=order.id,
        patient_id=order.patient_id,
        outcome=outcome,
        reason=reason,
        overrides_reviewed=reviewed,
        decided_by_id=actor.user_id,
        decided_by=actor_name(actor),
    )
    try:
        with session.begin_nested():
            session.add(decision)
            session.flush()
    except IntegrityError:
        raise Conflict(f"Order {order.reference} was already decided by another pharmacist.") from None
    return decision


def _open_order(session: Session, order_id) -> MedicationOrder:
    order = get_order(session, order_id, lock=True)
    if order.status != "active":
        raise Conflict(f"Order {order.reference} is {order.status}: there is nothing to verify.")
    done = session.execute(
        select(MedicationVerification.outcome).where(MedicationVerification.order_id == order.id)
    ).scalar_one_or_none()
    if done is not None:
        word = "verified" if done == "verified" else "sent back"
        raise Conflict(f"Order {order.reference} was already {word}.")
    return order


@returns_frozen
def verify_order(
    session: Session, *, actor: Actor, order_id, overrides_reviewed: bool = False, note: str | None = None
) -> MedicationVerification:
    """Verify an active order for dispensing (``pharmacy.verify``). An order signed past
    interrupting alerts needs ``overrides_reviewed``."""
    authorize(actor, VERIFY)
    order = _open_order(session, order_id)
    count = session.execute(
        select(func.count(MedicationOverride.id)).where(MedicationOverride.order_id == order.id)
    ).scalar_one()
    if count and overrides_reviewed is not True:
        raise ValidationError(
            f"Order {order.reference} was signed past {count} interrupting alert(s): read the "
            "prescriber's reasons and tick that you reviewed them.",
            field="overrides_reviewed",
        )
    note = clean_text(note, field="note", label="The note", maximum=MAX_REASON) or None
    decision = _decide(session, actor, order, "verified", note, count)
    audit_rx(
        session,
        actor,
        "pharmacy.verify",
        patient_id=order.patient_id,
        target_type="medication_order",
        target_id=order.id,
        detail=f"{order.reference} verified"
        + (f"; {count} override(s) reviewed" if count else "")
        + (f": {note}" if note else ""),
    )
    session.commit()
    live.publish(TOPIC, order.patient_id)
    return decision


@returns_frozen
def send_back_order(session: Session, *, actor: Actor, order_id, reason) -> MedicationVerification:
    """Send an order back to its prescriber with the reason (``pharmacy.verify``); it is not dispensed."""
    authorize(actor, VERIFY)
    reason = clean_text(reason, field="reason", label="The reason", maximum=MAX_REASON, required=True)
    if len(reason) < 3:
        raise ValidationError("Say why the order goes back to the prescriber.", field="reason")
    order = _open_order(session, order_id)
    decision = _decide(session, actor, order, "returned", reason, 0)
    audit_rx(
        session,
        actor,
        "pharmacy.send_back",
        patient_id=order.patient_id,
        target_type="medication_order",
        target_id=order.id,
        detail=f"{order.reference} sent back to {order.prescriber}: {reason}",
    )
    session.commit()
    live.publish(TOPIC, order.patient_id)
    return decision


def verified_clause():
    """Orders verified and still active: what may be dispensed."""
    return and_(
        MedicationOrder.status == "active",
        exists().where(
            MedicationVerification.order_id == MedicationOrder.id,
            MedicationVerification.outcome == "verified",
        ),
    )
