"""Recording a dose on the MAR, with the bedside scanning checks ("the five rights") done on the
server before anything is written:

* right patient: the wristband scanned is this patient's MRN;
* right drug: the medicine scanned (the pharmacy's dispensing label, the formulary product's code,
  or the stock item's GTIN on the box) is the ordered product; another strength or form of the
  same ingredient is refused with its own message;
* right dose and route: as ordered; a different dose or route needs a new order, not a note;
* right time: a scheduled dose may be given from the window before its time; after the window it
  is late and needs a reason; a PRN dose stays within the order's maximum a day.

The order must be an active inpatient order the pharmacy has verified. A dose is recorded once: the
unique (order, scheduled time) turns a second nurse's record into a plain message. Held, refused and
not available need a reason and no scans (nothing reaches the patient).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.inventory import StockItem, StockPackUnit
from hms_app.models.patients import Patient
from hms_app.models.pharmacy import (
    ADMINISTRATION_OUTCOMES,
    ROUTES,
    FormularyIngredient,
    FormularyProduct,
    MedicationAdministration,
    MedicationDispense,
    MedicationOrder,
    MedicationVerification,
)
from hms_app.services import live
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.common import (
    actor_name,
    audit_rx,
    clean_text,
    get_order,
    parse_decimal,
)
from hms_app.services.pharmacy.mar import WINDOW, prn_given_since, scheduled_doses

ADMINISTER = "medication.administer"
TOPIC = "mar"
MAX_SCAN = 40
MAX_REASON = 300


@dataclass(frozen=True)
class Recorded:
    id: int
    order_reference: str
    product: str
    outcome: str
    scheduled_at: datetime | None
    late_minutes: int
    message: str


def _scan(value, *, field: str, what: str) -> str:
    code = "".join(str(value if value is not None else "").split())
    if not code:
        raise ValidationError(f"Scan the {what}.", field=field)
    if len(code) > MAX_SCAN:
        raise ValidationError(f"That is not a {what} barcode (too long).", field=field)
    return code


def check_wristband(session: Session, patient: Patient, value) -> str:
    """Right patient: the wristband's barcode is the MRN (``services.patients.wristband``)."""
    code = _scan(value, field="wristband", what="patient's wristband")
    if code.upper() == patient.mrn.upper():
        return code
    other = session.execute(select(Patient.id).where(Patient.mrn.in_({code, code.upper()}))).first()
    if other is not None:
        raise ValidationError(
            f"Wrong patient: that wristband is MRN {code}, not this patient's ({patient.mrn}). "
            "Do not give; check who is in the bed.",
            field="wristband",
        )
    raise ValidationError(
        f"That wristband ({code}) is not a patient's MRN. Scan the band on the patient's wrist.",
        field="wristband",
    )


@dataclass(frozen=True)
class ScannedMedicine:
    product: FormularyProduct | None
    dispense_id: int | None
    code: str


def resolve_medicine(session: Session, value) -> ScannedMedicine:
    """What a medicine barcode is: a pharmacy label (DSP-...), a formulary product code, or a GTIN
    of the stock item or of one of its packs. A GTIN stocked as several products is ambiguous."""
    code = _scan(value, field="medicine", what="medicine")
    upper = code.upper()
    if upper.startswith("DSP-"):
        dispense = session.execute(
            select(MedicationDispense).where(MedicationDispense.reference == upper)
        ).scalar_one_or_none()
        if dispense is None:
            raise ValidationError(f"No pharmacy label {upper} was printed here.", field="medicine")
        return ScannedMedicine(session.get(FormularyProduct, dispense.product_id), dispense.id, code)
    product = session.execute(
        select(FormularyProduct).where(func.upper(FormularyProduct.code) == upper)
    ).scalar_one_or_none()
    if product is not None:
        return ScannedMedicine(product, None, code)
    if code.isdigit():
        items = (
            select(StockItem.id)
            .where(StockItem.gtin == code)
            .union(select(StockPackUnit.item_id).where(StockPackUnit.gtin == code))
        )
        products = list(
            session.execute(
                select(FormularyProduct).where(FormularyProduct.stock_item_id.in_(items)).limit(2)
            ).scalars()
        )
        if len(products) == 1:
            return ScannedMedicine(products[0], None, code)
        if products:
            raise ValidationError(
                "That box's barcode is stocked as more than one product: scan the pharmacy label.",
                field="medicine",
            )
    raise ValidationError(f"That barcode ({code}) is not a medicine in the formulary.", field="medicine")


def _ingredients(session: Session, product_id: int) -> set[str]:
    return set(
        session.execute(
            select(FormularyIngredient.ingredient).where(FormularyIngredient.product_id == product_id)
        ).scalars()
    )


def check_medicine(session: Session, order: MedicationOrder, value) -> ScannedMedicine:
    """Right drug: the scanned medicine is the ordered product (a label printed for this order, or
    for another order of this patient of the same product)."""
    scanned = resolve_medicine(session, value)
    ordered = session.get(FormularyProduct, order.product_id)
    if scanned.dispense_id is not None:
        dispense = session.get(MedicationDispense, scanned.dispense_id)
        if dispense.patient_id != order.patient_id:
            raise ValidationError(
                "Wrong patient: that pharmacy label was dispensed for another patient. Do not give.",
                field="medicine",
            )
    product = scanned.product
    if product.id == ordered.id:
        return scanned
    if _ingredients(session, product.id) == _ingredients(session, ordered.id):
        raise ValidationError(
            f"Wrong strength or form: scanned {product.name}; the order is for {ordered.name}.",
            field="medicine",
        )
    raise ValidationError(
        f"Wrong medicine: scanned {product.name}; the order is for {ordered.name}.", field="medicine"
    )


def _verified(session: Session, order: MedicationOrder) -> None:
    outcome = session.execute(
        select(MedicationVerification.outcome).where(MedicationVerification.order_id == order.id)
    ).scalar_one_or_none()
    if outcome == "returned":
        raise Conflict(f"The pharmacy sent order {order.reference} back to the prescriber: do not give it.")
    if outcome != "verified":
        raise Conflict(f"The pharmacy has not verified order {order.reference} yet.")


def _scheduled(order: MedicationOrder, value) -> datetime:
    text = str(value or "").strip()
    try:
        wanted = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("Choose a dose on the MAR.", field="scheduled_at") from None
    if wanted.tzinfo is None:
        raise ValidationError("Choose a dose on the MAR.", field="scheduled_at")
    for moment in scheduled_doses(order, wanted - timedelta(minutes=1), wanted + timedelta(minutes=1)):
        if moment == wanted:
            return moment
    raise ValidationError(f"Order {order.reference} has no dose at that time.", field="scheduled_at")


def _prn_room(session: Session, order: MedicationOrder, now: datetime) -> None:
    given = prn_given_since(session, order.id, now - timedelta(hours=24))
    if order.max_doses_per_day and len(given) >= order.max_doses_per_day:
        raise ValidationError(
            f"At most {order.max_doses_per_day} doses in 24 hours: {len(given)} given, the last at "
            f"{format_local(given[-1], '%H:%M')}. Ask the prescriber before giving more.",
            field="scheduled_at",
        )


def _dose_and_route(order: MedicationOrder, dose, route) -> tuple[Decimal, str]:
    amount = parse_decimal(dose, field="dose", label="Dose given")
    ordered = f"{Decimal(order.dose).normalize():f} {order.dose_unit}"
    if amount != Decimal(order.dose):
        raise ValidationError(
            f"Wrong dose: the order is for {ordered}. Give the dose ordered, or ask the prescriber to change the order.",
            field="dose",
        )
    route = str(route or "").strip()
    if route not in ROUTES:
        raise ValidationError("Choose the route it was given by.", field="route")
    if route != order.route:
        raise ValidationError(
            f"Wrong route: the order is {ROUTES.get(order.route, order.route).lower()} ({order.route}).",
            field="route",
        )
    return amount, route


def record_administration(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    order_id,
    outcome: str,
    scheduled_at=None,
    wristband=None,
    medicine=None,
    dose=None,
    route=None,
    reason=None,
) -> Recorded:
    """Record one dose of an inpatient order on the MAR after its checks; one transaction, audited."""
    authorize(actor, ADMINISTER, patient_id=patient_id)
    if outcome not in ADMINISTRATION_OUTCOMES:
        raise ValidationError("Choose given, held, refused or not available.", field="outcome")
    order = get_order(session, order_id, lock=True)
    if order.patient_id != patient_id:
        raise NotFound("That medication order does not exist.")
    if order.setting != "inpatient":
        raise ValidationError(
            f"Order {order.reference} is an outpatient prescription, not given on the ward."
        )
    if order.status != "active":
        raise Conflict(f"Order {order.reference} is {order.status}: there is nothing more to give.")
    _verified(session, order)
    now = utcnow()
    note = clean_text(reason, field="reason", label="Reason", maximum=MAX_REASON)
    moment = None if order.prn else _scheduled(order, scheduled_at)
    if order.prn and str(scheduled_at or "").strip():
        raise ValidationError(
            f"Order {order.reference} is PRN: it has no scheduled doses.", field="scheduled_at"
        )
    row = MedicationAdministration(
        order_id=order.id,
        patient_id=patient_id,
        scheduled_at=moment,
        outcome=outcome,
        recorded_by_id=actor.user_id,
        recorded_by=actor_name(actor),
        recorded_at=now,
    )
    if outcome == "given":
        patient = session.get(Patient, patient_id)
        row.wristband_code = check_wristband(session, patient, wristband)
        scanned = check_medicine(session, order, medicine)
        row.medicine_code, row.product_id, row.dispense_id = (
            scanned.code,
            scanned.product.id,
            scanned.dispense_id,
        )
        row.dose, row.route = _dose_and_route(order, dose, route)
        row.dose_unit = order.dose_unit
        if moment is not None:
            if now < moment - WINDOW:
                raise ValidationError(
                    f"Too early: this dose is due at {format_local(moment, '%H:%M')} and may be given from "
                    f"{format_local(moment - WINDOW, '%H:%M')}.",
                    field="scheduled_at",
                )
            if now > moment + WINDOW:
                row.late_minutes = int((now - moment).total_seconds() // 60)
                if not note:
                    raise ValidationError(
                        f"This dose is late (due {format_local(moment, '%H:%M')}): say why before recording it.",
                        field="reason",
                    )
        else:
            _prn_room(session, order, now)
    elif not note:
        raise ValidationError(
            f"Say why the dose was {ADMINISTRATION_OUTCOMES[outcome].lower()}.", field="reason"
        )
    row.reason = note or None
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("This dose was recorded a moment ago by someone else. The MAR shows it now.") from None
    product = session.get(FormularyProduct, order.product_id)
    when = format_local(moment, "%d %b %H:%M") if moment else "PRN"
    audit_rx(
        session,
        actor,
        "medication.administer",
        patient_id=patient_id,
        target_type="medication_administration",
        target_id=row.id,
        detail=f"{order.reference} {product.name} {when}: {ADMINISTRATION_OUTCOMES[outcome].lower()}"
        + (f", {row.late_minutes} min late" if row.late_minutes else ""),
    )
    session.commit()
    live.publish(TOPIC, patient_id)
    live.publish(live.BEDS)
    verb = ADMINISTRATION_OUTCOMES[outcome].lower()
    return Recorded(
        row.id,
        order.reference,
        product.name,
        outcome,
        moment,
        row.late_minutes,
        f"{product.name} ({when}) recorded as {verb}.",
    )
