"""A signed order as a printable prescription: the patient, the prescriber, the drug, the sig, the
quantity in words and figures, the date and the order's reference (``medication.read``; printing is
audited as a read of the patient's record). A draft is not a prescription and is refused as missing:
an unsigned order must never leave the building on paper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from hms_app.errors import Withheld
from hms_app.models.security import AppUser
from hms_app.services.audit import audit_read
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.changes import order_view
from hms_app.services.pharmacy.common import ORDER_MISSING, READ, get_order, get_patient
from hms_app.services.pharmacy.quantity import unit_noun
from hms_app.services.pharmacy.rows import OrderView

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(number: int) -> str:
    """A whole quantity in English words, as a prescription spells it out (0 to 999,999)."""
    if not 0 <= number < 1_000_000:
        raise ValueError("number out of range")
    if number < 20:
        return ONES[number]
    if number < 100:
        tens, rest = divmod(number, 10)
        return TENS[tens] + (f"-{ONES[rest]}" if rest else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{ONES[hundreds]} hundred" + (f" and {number_words(rest)}" if rest else "")
    thousands, rest = divmod(number, 1000)
    tail = "" if not rest else (" and " if rest < 100 else " ") + number_words(rest)
    return f"{number_words(thousands)} thousand{tail}"


@dataclass(frozen=True)
class Prescription:
    order: OrderView
    patient_name: str
    mrn: str
    birth_date: date
    sex: str
    prescriber_name: str
    prescriber_username: str
    signed_at: datetime
    quantity_words: str  # "twenty-eight tablets"


def prescription(session: Session, *, actor: Actor, order_id) -> Prescription:
    """One signed order to print (``medication.read`` for its patient; audited)."""
    authorize(actor, READ)
    order = get_order(session, order_id)
    authorize(actor, READ, patient_id=order.patient_id)
    if order.status == "draft" or order.signed_at is None:
        raise Withheld(ORDER_MISSING)
    patient = get_patient(session, order.patient_id)
    prescriber = session.get(AppUser, order.prescriber_id)
    view = order_view(session, order)
    unit = unit_noun(view.dispense_quantity, view.dispense_unit)
    audit_read(
        session,
        actor,
        "medication.print",
        patient_id=order.patient_id,
        target_type="medication_order",
        target_id=order.id,
        detail=f"{order.reference} printed",
    )
    return Prescription(
        order=view,
        patient_name=f"{patient.family_name.upper()}, {patient.given_name}",
        mrn=patient.mrn,
        birth_date=patient.birth_date,
        sex=patient.sex,
        prescriber_name=prescriber.display_name if prescriber else order.prescriber,
        prescriber_username=order.prescriber,
        signed_at=order.signed_at,
        quantity_words=f"{number_words(view.dispense_quantity)} {unit}",
    )
