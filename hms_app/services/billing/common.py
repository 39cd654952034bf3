"""What the billing modules share: the lock order (patient, then invoice), the current coverage
and negotiated prices, the audit row, and checks of keys and counts."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import or_, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import NotFound, ValidationError
from hms_app.models.billing import ChargeItem, ChargeItemDefinition, Invoice, Payment, PriceList
from hms_app.models.patients import Coverage, Patient
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor

KEY_RE = re.compile(r"^[A-Za-z0-9_.:\-]{8,80}$")


def _lock_patient(session: Session, patient_id: int) -> Patient:
    """Serialize money movements of one patient (PostgreSQL row lock; SQLite writes are serial)."""
    patient = session.execute(
        select(Patient).where(Patient.id == patient_id).with_for_update()
    ).scalar_one_or_none()
    if patient is None:
        raise NotFound("That patient does not exist.")
    return patient


def _lock_invoice(session: Session, invoice_id: int) -> Invoice:
    invoice = session.execute(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if invoice is None:
        raise NotFound("That invoice does not exist.")
    return invoice


def current_coverage(session: Session, patient_id: int, on: date | None = None) -> Coverage | None:
    """The coverage that pays first on ``on``: active, valid that day, lowest priority number."""
    on = on or utcnow().date()
    return session.execute(
        select(Coverage)
        .where(
            Coverage.patient_id == patient_id,
            Coverage.active.is_(True),
            Coverage.valid_from <= on,
            or_(Coverage.valid_to.is_(None), Coverage.valid_to >= on),
        )
        .order_by(Coverage.priority, Coverage.id)
        .limit(1)
    ).scalar_one_or_none()


def _audit(
    session: Session, actor: Actor, action: str, *, patient_id: int | None, target, detail: str
) -> None:
    target_type = {
        ChargeItem: "charge_item",
        Invoice: "invoice",
        Payment: "payment",
        ChargeItemDefinition: "charge_item_definition",
        PriceList: "price_list",
    }.get(type(target))
    record_audit(
        session,
        actor,
        action,
        patient_id=patient_id,
        target_type=target_type,
        target_id=getattr(target, "id", None),
        detail=detail,
    )


def _reading_permission(actor: Actor | None) -> str:
    """A portal user reads their own bills with portal.self; staff need billing.read."""
    return "portal.self" if actor is not None and actor.patient_id is not None else "billing.read"


def _check_key(key: str) -> str:
    key = str(key or "").strip()
    if not KEY_RE.fullmatch(key):
        raise ValidationError("The request is missing its payment key; reload the page and try again.")
    return key


def _positive_int(value, *, field: str, label: str, maximum: int = 10_000) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError) as error:
        raise ValidationError(f"{label} is a whole number.", field=field) from error
    if not 1 <= number <= maximum:
        raise ValidationError(f"{label} is between 1 and {maximum:,}.", field=field)
    return number
