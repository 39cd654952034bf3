"""Charges: what a patient is billed for, one billable act each, until an invoice takes them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app import words
from hms_app.clock import utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.billing import ChargeItem, ChargeItemDefinition
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.scheduling import Appointment
from hms_app.services import live
from hms_app.services.audit import audit_read
from hms_app.services.billing.catalogue import price_for
from hms_app.services.billing.common import _audit, _positive_int, current_coverage
from hms_app.services.billing.money import format_money
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen

# Who may post a charge that a module raises for an act it performed (not a manual charge).
CHARGING_PERMISSIONS = frozenset(
    {
        "billing.post",
        "appointment.flow",
        "ward.manage",
        "lab.work",
        "lab.collect",  # a nurse or physician collecting a specimen posts its tests' charges
        "radiology.work",
        "pharmacy.dispense",
        "inventory.issue",
    }
)


@returns_frozen
def post_charge(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    code: str,
    quantity: int = 1,
    source_type: str,
    source_id: int | None = None,
    department_id: int | None = None,
    reason: str | None = None,
    commit: bool = True,
) -> ChargeItem:
    """Charge the patient for one billable act (the one call every module uses)."""
    source_type = str(source_type or "").strip().lower()
    # A manual charge is a billing decision; a module's charge rides on the act it bills, so the
    # clinician who completes the visit or dispenses the drug posts it under their own name.
    if source_type == "manual" or actor is None or not (actor.permissions & CHARGING_PERMISSIONS):
        authorize(actor, "billing.post", patient_id=patient_id)
    else:
        authorize(actor, next(iter(sorted(actor.permissions & CHARGING_PERMISSIONS))), patient_id=patient_id)
    if not re.fullmatch(r"[a-z_]{2,20}", source_type):
        raise ValidationError(
            "The charge needs a source (appointment, lab, manual, ...).", field="source_type"
        )
    manual = source_type == "manual"
    reason = (reason or "").strip() or None
    if manual:
        if source_id is not None:
            raise ValidationError("A manual charge has no source record.", field="source_id")
        if reason is None or len(reason) < 3:
            raise ValidationError("Say why this charge is added by hand.", field="reason")
    elif source_id is None:
        raise ValidationError("The charge needs the record it bills for.", field="source_id")
    quantity = _positive_int(quantity, field="quantity", label="Quantity", maximum=1000)
    code = str(code or "").strip().upper()
    if not code:
        raise ValidationError("Choose the service to charge.", field="code")
    if not manual:
        existing = _charge_for_source(session, source_type, source_id, code)
        if existing is not None:
            return existing  # a retried completion: the act is already charged
    definition = session.execute(
        select(ChargeItemDefinition).where(ChargeItemDefinition.code == code)
    ).scalar_one_or_none()
    if definition is None or not definition.active:
        raise ValidationError(f"There is no active service with the code {code}.", field="code")
    if session.get(Patient, patient_id) is None:
        raise NotFound("That patient does not exist.")
    if department_id is not None and session.get(Department, department_id) is None:
        raise ValidationError("That department does not exist.", field="department_id")
    coverage = current_coverage(session, patient_id)
    negotiated = price_for(session, code=code, payer_id=coverage.payer_id if coverage else None)
    charge = ChargeItem(
        patient_id=patient_id,
        code=code,
        description=definition.name,
        department_id=department_id if department_id is not None else definition.department_id,
        quantity=quantity,
        unit_price_cents=negotiated if negotiated is not None else definition.price_cents,
        tax_rate_bp=definition.tax_rate_bp,
        status="open",
        source_type=source_type,
        source_id=source_id,
        reason=reason,
        entered_by=actor.username,
    )
    try:
        with session.begin_nested():
            session.add(charge)
            session.flush()
    except IntegrityError:
        # Another worker charged the same act a moment ago: that charge is this one.
        existing = _charge_for_source(session, source_type, source_id, code)
        if existing is None:
            raise
        return existing
    _audit(
        session,
        actor,
        "billing.charge",
        patient_id=patient_id,
        target=charge,
        detail=f"{code} x{quantity} {format_money(charge.unit_price_cents * quantity)} ({source_type}"
        + (f" {source_id}" if source_id is not None else f": {reason}")
        + ")",
    )
    if commit:
        session.commit()
        live.publish(live.BILLING, patient_id)
    return charge


def _charge_for_source(
    session: Session, source_type: str, source_id: int | None, code: str
) -> ChargeItem | None:
    return session.execute(
        select(ChargeItem).where(
            ChargeItem.source_type == source_type,
            ChargeItem.source_id == source_id,
            ChargeItem.code == code,
        )
    ).scalar_one_or_none()


@returns_frozen
def void_charge(session: Session, *, actor: Actor, charge_id: int, reason: str) -> ChargeItem:
    """Cancel an open charge that should not be billed (it stays on record)."""
    charge = get_row(session, ChargeItem, charge_id, "That charge does not exist.")
    authorize(actor, "billing.void", patient_id=charge.patient_id)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Say why the charge is cancelled.", field="reason")
    done = session.execute(
        update(ChargeItem)
        .where(ChargeItem.id == charge_id, ChargeItem.status == "open")
        .values(status="void", voided_at=utcnow(), voided_by=actor.username, void_reason=reason[:300])
    ).rowcount
    if done != 1:
        raise Conflict(
            "Only an open charge can be cancelled; this one is already on an invoice or cancelled."
        )
    _audit(session, actor, "billing.charge.void", patient_id=charge.patient_id, target=charge, detail=reason)
    session.commit()
    session.refresh(charge)
    live.publish(live.BILLING, charge.patient_id)
    return charge


@dataclass(frozen=True)
class ChargeRow:
    id: int
    entered_at: datetime
    code: str
    description: str
    department: str
    quantity: int
    unit_price_cents: int
    amount_cents: int
    status: str
    source: str
    reason: str


def _source_words(charge: ChargeItem, visit_reference: str | None) -> str:
    """Where a charge came from, as the desk reads it: "Visit AP-7K3QX9", "Entered by hand"."""
    what = words.say(words.CHARGE_SOURCE, charge.source_type)
    if visit_reference:
        return f"{what} {visit_reference}"
    return what if charge.source_id is None else f"{what} #{charge.source_id}"


def list_charges(
    session: Session, *, actor: Actor, patient_id: int, status: str = "open", limit: int = 200
) -> list[ChargeRow]:
    """A patient's charges (default: the open ones waiting for an invoice), oldest first."""
    authorize(actor, "billing.read", patient_id=patient_id)
    query = (
        select(ChargeItem, Department.name, Appointment.reference)
        .outerjoin(Department, Department.id == ChargeItem.department_id)
        .outerjoin(
            Appointment, (ChargeItem.source_type == "appointment") & (Appointment.id == ChargeItem.source_id)
        )
        .where(ChargeItem.patient_id == patient_id)
    )
    if status != "all":
        query = query.where(ChargeItem.status == status)
    rows = session.execute(query.order_by(ChargeItem.entered_at, ChargeItem.id).limit(limit)).all()
    result = [
        ChargeRow(
            c.id,
            c.entered_at,
            c.code,
            c.description,
            dept or "",
            c.quantity,
            c.unit_price_cents,
            c.quantity * c.unit_price_cents,
            c.status,
            _source_words(c, visit),
            c.reason or "",
        )
        for c, dept, visit in rows
    ]
    audit_read(
        session,
        actor,
        "billing.charges_read",
        patient_id=patient_id,
        detail=f"{len(result)} {status} charges",
    )
    return result
