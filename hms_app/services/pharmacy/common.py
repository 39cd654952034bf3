"""What the pharmacy services share: the permissions, the audit row, parsing what people type,
loading rows with a plain message when they are gone, and a product's arithmetic spec."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlmodel import Session

from hms_app.errors import NotFound, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.pharmacy import FormularyIngredient, FormularyProduct, MedicationOrder
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.inputs import actor_name, as_id  # noqa: F401  (re-exported for the domain)
from hms_app.services.permissions import Actor
from hms_app.services.pharmacy.quantity import ProductSpec

READ = "medication.read"
ORDER = "medication.order"
VERIFY = "pharmacy.verify"
FORMULARY = "pharmacy.formulary"

PRODUCT_MISSING = "That formulary product does not exist."
ORDER_MISSING = "That medication order does not exist."
PATIENT_MISSING = "That patient does not exist."
MAX_NUMBER = Decimal("99999999")  # Numeric(12, 4) holds eight whole digits


def audit_rx(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    patient_id: int | None,
    target_type: str,
    target_id: object,
    detail: str,
) -> None:
    """One audit row for a pharmacy read or write, in the caller's transaction."""
    record_audit(
        session,
        actor,
        action,
        patient_id=patient_id,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
    )


def clean_text(value, *, field: str, label: str, maximum: int, required: bool = False) -> str:
    text = " ".join(str(value if value is not None else "").split())
    if required and not text:
        raise ValidationError(f"{label} is required.", field=field)
    if len(text) > maximum:
        raise ValidationError(f"{label} can be at most {maximum} characters.", field=field)
    return text


def parse_decimal(value, *, field: str, label: str, places: int = 4) -> Decimal:
    """A positive number typed by a person: ``2.5``; ``2,5`` is refused (ambiguous)."""
    text = str(value if value is not None else "").strip()
    if not text:
        raise ValidationError(f"{label} is required.", field=field)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"{label} must be a number (use a point for decimals).", field=field) from None
    if not number.is_finite() or number <= 0:
        raise ValidationError(f"{label} must be more than 0.", field=field)
    if number > MAX_NUMBER:
        raise ValidationError(f"{label} is too large.", field=field)
    if number.as_tuple().exponent < -places:
        raise ValidationError(f"{label} can have at most {places} decimals.", field=field)
    return number


def parse_count(value, *, field: str, label: str, maximum: int, required: bool = True) -> int | None:
    """A whole number from 1 to ``maximum``."""
    text = str(value if value is not None else "").strip()
    if not text:
        if required:
            raise ValidationError(f"{label} is required.", field=field)
        return None
    if isinstance(value, bool) or not text.isdigit():
        raise ValidationError(f"{label} must be a whole number.", field=field)
    number = int(text)
    if not 1 <= number <= maximum:
        raise ValidationError(f"{label} must be from 1 to {maximum}.", field=field)
    return number


def order_reference(session: Session) -> str:
    return f"RX-{take_numbers(session, 'medication_order')[0]:06d}"


def get_patient(session: Session, patient_id) -> Patient:
    patient = session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None:
        raise NotFound(PATIENT_MISSING)
    return patient


def get_product(session: Session, product_id, *, field: str = "product_id") -> FormularyProduct:
    product_id = as_id(product_id, field=field, label="formulary product")
    product = session.get(FormularyProduct, product_id)
    if product is None:
        raise NotFound(PRODUCT_MISSING)
    return product


def get_order(session: Session, order_id, *, lock: bool = False) -> MedicationOrder:
    order_id = as_id(order_id, field="order_id", label="medication order")
    order = session.get(MedicationOrder, order_id, with_for_update=lock or None)
    if order is None:
        raise NotFound(ORDER_MISSING)
    return order


def ingredients_of(session: Session, product_id: int) -> list[FormularyIngredient]:
    return list(
        session.execute(
            select(FormularyIngredient)
            .where(FormularyIngredient.product_id == product_id)
            .order_by(FormularyIngredient.position, FormularyIngredient.id)
        ).scalars()
    )


def spec_of(product: FormularyProduct, ingredients: list[FormularyIngredient]) -> ProductSpec:
    first = ingredients[0]
    return ProductSpec(
        name=product.name,
        dose_form=product.dose_form,
        strength=Decimal(first.strength),
        strength_unit=first.strength_unit,
        dispense_unit=product.dispense_unit,
        package_size=Decimal(product.package_size),
        strength_volume=Decimal(product.strength_volume),
        scored=product.scored,
        priming_units=product.priming_units,
        wear_hours=product.wear_hours,
        drops_per_ml=product.drops_per_ml,
    )


def routes_of(product: FormularyProduct) -> list[str]:
    return [r for r in product.routes.split("|") if r]
