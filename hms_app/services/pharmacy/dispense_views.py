"""What the pharmacy's screens read about dispensing: the verified orders still owed, today's
dispenses, and one dispense's label (patient, drug, directions, quantity, date, lots and expiry,
the order's reference)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from hms_app.clock import local_today
from hms_app.models.inventory import StockLocation, StockLot
from hms_app.models.patients import Patient
from hms_app.models.pharmacy import (
    FormularyProduct,
    MedicationDispense,
    MedicationDispenseLot,
    MedicationOrder,
)
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.common import audit_rx
from hms_app.services.pharmacy.dispensing import get_dispense
from hms_app.services.pharmacy.prescribing import sig_text
from hms_app.services.pharmacy.register import DISPENSE
from hms_app.services.pharmacy.verification import (
    PAGE,
    QueueOrder,
    _queue_select,
    _search,
    queue_row,
    verified_clause,
)
from hms_app.settings import get_settings


@dataclass(frozen=True)
class OwedOrder:
    order: QueueOrder
    dispensed: int
    owed: int


def _dispensed_total():
    every = aliased(MedicationDispense)  # apart from the dispense a row of today's list shows
    return (
        select(func.coalesce(func.sum(every.quantity), 0))
        .where(every.order_id == MedicationOrder.id)
        .correlate(MedicationOrder)
        .scalar_subquery()
    )


def to_dispense(session: Session, *, actor: Actor, search: str = "", limit: int = PAGE) -> list[OwedOrder]:
    """Verified active orders with something still owed, oldest signed first (``pharmacy.dispense``)."""
    authorize(actor, DISPENSE)
    total = _dispensed_total()
    query = _search(
        _queue_select()
        .add_columns(total.label("dispensed"))
        .where(verified_clause(), total < MedicationOrder.dispense_quantity),
        search,
    ).order_by(MedicationOrder.signed_at, MedicationOrder.id)
    rows = session.execute(query.limit(max(1, min(limit, 200)))).all()
    result = []
    for row in rows:
        order = queue_row(tuple(row)[:-1])
        done = int(row[-1] or 0)
        result.append(OwedOrder(order=order, dispensed=done, owed=order.dispense_quantity - done))
    return result


@dataclass(frozen=True)
class DispenseRow:
    dispense_id: int
    reference: str
    order_reference: str
    patient_id: int
    patient: str
    mrn: str
    product: str
    quantity: int
    returned: int
    unit: str
    owed: int
    dispensed_by: str
    witness: str | None
    dispensed_at: datetime
    controlled: bool


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    zone = get_settings().tz
    start = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)


def dispensed_on(
    session: Session, *, actor: Actor, day: date | None = None, search: str = "", limit: int = PAGE
) -> list[DispenseRow]:
    """The dispenses of one day (today by default), newest first (``pharmacy.dispense``)."""
    authorize(actor, DISPENSE)
    start, end = _day_bounds(day or local_today())
    query = (
        select(
            MedicationDispense,
            MedicationOrder,
            FormularyProduct.name,
            FormularyProduct.controlled,
            Patient.given_name,
            Patient.family_name,
            Patient.mrn,
            _dispensed_total().label("total"),
        )
        .join(MedicationOrder, MedicationOrder.id == MedicationDispense.order_id)
        .join(FormularyProduct, FormularyProduct.id == MedicationDispense.product_id)
        .join(Patient, Patient.id == MedicationDispense.patient_id)
        .where(MedicationDispense.dispensed_at >= start, MedicationDispense.dispensed_at < end)
        .order_by(MedicationDispense.dispensed_at.desc(), MedicationDispense.id.desc())
    )
    query = _search(query, search)
    return [
        DispenseRow(
            dispense_id=d.id,
            reference=d.reference,
            order_reference=o.reference,
            patient_id=d.patient_id,
            patient=f"{family.upper()}, {given}",
            mrn=mrn,
            product=product,
            quantity=d.quantity,
            returned=d.returned,
            unit=o.dispense_unit,
            owed=max(0, o.dispense_quantity - int(total or 0)) if o.status == "active" else 0,
            dispensed_by=d.dispensed_by,
            witness=d.witness,
            dispensed_at=d.dispensed_at,
            controlled=bool(controlled),
        )
        for d, o, product, controlled, given, family, mrn, total in session.execute(
            query.limit(max(1, min(limit, 200)))
        ).all()
    ]


@dataclass(frozen=True)
class LabelLot:
    lot_number: str
    expiry_date: date | None
    quantity: int


@dataclass(frozen=True)
class DispenseLabel:
    dispense_id: int
    reference: str
    order_reference: str
    patient: str
    mrn: str
    birth_date: date
    product: str
    sig: str
    instructions: str | None
    quantity: int
    unit: str
    owed: int
    dispensed_at: datetime
    dispensed_by: str
    witness: str | None
    store: str
    lots: tuple[LabelLot, ...]
    controlled: bool


def dispense_label(session: Session, *, actor: Actor, dispense_id) -> DispenseLabel:
    """What the printed label says; printing is audited (it shows the patient's medication)."""
    authorize(actor, DISPENSE)
    dispense = get_dispense(session, dispense_id)
    order = session.get(MedicationOrder, dispense.order_id)
    product = session.get(FormularyProduct, dispense.product_id)
    patient = session.get(Patient, dispense.patient_id)
    store = session.get(StockLocation, dispense.location_id)
    lots = tuple(
        LabelLot(number, expiry, quantity)
        for number, expiry, quantity in session.execute(
            select(StockLot.lot_number, StockLot.expiry_date, MedicationDispenseLot.quantity)
            .join(StockLot, StockLot.id == MedicationDispenseLot.lot_id)
            .where(MedicationDispenseLot.dispense_id == dispense.id)
            .order_by(MedicationDispenseLot.id)
        ).all()
    )
    total = session.execute(
        select(func.coalesce(func.sum(MedicationDispense.quantity), 0)).where(
            MedicationDispense.order_id == order.id, MedicationDispense.id <= dispense.id
        )
    ).scalar_one()
    audit_rx(
        session,
        actor,
        "pharmacy.label",
        patient_id=dispense.patient_id,
        target_type="medication_dispense",
        target_id=dispense.id,
        detail=dispense.reference,
    )
    session.commit()
    return DispenseLabel(
        dispense_id=dispense.id,
        reference=dispense.reference,
        order_reference=order.reference,
        patient=f"{patient.family_name.upper()}, {patient.given_name}",
        mrn=patient.mrn,
        birth_date=patient.birth_date,
        product=product.name,
        sig=sig_text(order),
        instructions=order.instructions,
        quantity=dispense.quantity,
        unit=order.dispense_unit,
        owed=max(0, order.dispense_quantity - int(total)),
        dispensed_at=dispense.dispensed_at,
        dispensed_by=dispense.dispensed_by,
        witness=dispense.witness,
        store=store.name,
        lots=lots,
        controlled=product.controlled,
    )
