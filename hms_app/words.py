"""The one place where a stored value becomes the words a person reads.

The database keeps codes (``in_room``, ``outpatient``, ``billing_clerk``, UCUM's ``mm[Hg]``);
screens, exports and messages show these words instead. A value a vocabulary does not know is
still shown as words ("out_of_service" reads "Out of service"), never as the raw code.
"""

from __future__ import annotations

from collections.abc import Mapping

# UCUM codes, as the record stores units, and how people write them.
UNITS = {
    "mm[Hg]": "mmHg",
    "Cel": "°C",
    "kg/m2": "kg/m²",
    "/min": "/min",
    "%": "%",
    "kg": "kg",
    "cm": "cm",
    "L/min": "L/min",
    "mmol/L": "mmol/L",
    "mg/dL": "mg/dL",
    "umol/L": "µmol/L",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
}

APPOINTMENT_STATUS = {
    "offered": "Offered (waitlist)",
    "booked": "Booked",
    "arrived": "Arrived",
    "in_room": "In room",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
}
# The clinic board speaks from the waiting room's side of the same statuses.
FLOW_STATUS = {
    "offered": "Offered",
    "booked": "Booked",
    "arrived": "Waiting",
    "in_room": "With clinician",
    "completed": "Done",
    "no_show": "No-show",
    "cancelled": "Cancelled",
}
CLAIM_STATUS = {
    "draft": "Draft",
    "submitted": "Submitted",
    "accepted": "Accepted",
    "denied": "Denied",
    "partially_paid": "Partially paid",
    "paid": "Paid",
    "cancelled": "Cancelled",
}
SETTLEMENT = {
    "draft": "Draft",
    "issued": "Issued",
    "void": "Void",
    "paid": "Paid",
    "partially_paid": "Partially paid",
    "unpaid": "Unpaid",
}
BED_STATUS = {
    "free": "Free",
    "occupied": "Occupied",
    "cleaning": "Being cleaned",
    "out_of_service": "Out of service",
}
PAYMENT_METHOD = {
    "cash": "Cash",
    "card": "Card",
    "transfer": "Bank transfer",
    "insurer": "Insurer",
    "credit": "Credit",
}
RESOURCE_KIND = {"provider": "Provider", "room": "Room", "equipment": "Equipment"}
ENCOUNTER_CLASS = {
    "outpatient": "Outpatient visit",
    "inpatient": "Inpatient stay",
    "emergency": "Emergency",
    "virtual": "Video or phone visit",
}
CLINICAL_STATUS = {
    "active": "Active",
    "recurrence": "Recurred",
    "relapse": "Relapsed",
    "inactive": "Inactive",
    "remission": "In remission",
    "resolved": "Resolved",
}
CHARGE_SOURCE = {
    "appointment": "Visit",
    "manual": "Entered by hand",
    "lab": "Laboratory",
    "imaging": "Imaging",
    "pharmacy": "Pharmacy",
    "stock": "Issued from stock",
}
CHARGE_STATUS = {"open": "Waiting for an invoice", "invoiced": "Invoiced", "void": "Voided"}


def humanise(value: object) -> str:
    """A code as words: ``out_of_service`` → ``Out of service``."""
    text = str(value or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def say(vocabulary: Mapping[str, str], value: object) -> str:
    """``value`` in the words of ``vocabulary``, or humanised when the vocabulary lacks it."""
    return vocabulary.get(str(value), humanise(value))


def unit(code: str) -> str:
    """A UCUM unit as people write it (``mm[Hg]`` → ``mmHg``); an unknown one as stored."""
    return UNITS.get(code, code)
