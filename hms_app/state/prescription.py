"""A signed order's printable prescription (/pharmacy/prescriptions/[prescription_id]/print), opened
from the chart's medication orders in a tab of its own: patient, prescriber, drug, sig, quantity in
words and figures, date and the order's reference. ``medication.read`` on the server; the service
refuses drafts and audits the print. (The route's argument is not ``order_id``: other states hold a
var of that name, which a route argument may not shadow.)"""

from __future__ import annotations

import re

import reflex as rx

from hms_app.errors import DomainError, NotFound
from hms_app.services.pharmacy.prescription import prescription
from hms_app.state.laboratory.common import long_moment
from hms_app.state.session import SessionState, requires

READ = "medication.read"


def route_order_id(path: str) -> int:
    """The route's order id: a positive whole number, nothing else."""
    match = re.match(r"^/pharmacy/prescriptions/(\d{1,12})/print/?$", path or "")
    if match is None or int(match.group(1)) <= 0:
        raise NotFound("This address does not name a prescription. Print it from the patient's chart.")
    return int(match.group(1))


class PrescriptionPrintState(SessionState):
    problem: str = ""
    loaded: bool = False
    patient_id: int = 0
    patient_name: str = ""
    mrn: str = ""
    birth_date: str = ""
    sex: str = ""
    prescriber: str = ""
    reference: str = ""
    product: str = ""
    sig: str = ""
    setting: str = ""
    instructions: str = ""
    quantity_figures: str = ""  # "28"
    quantity_words: str = ""  # "twenty-eight tablets"
    signed: str = ""
    status: str = ""

    @rx.event
    @requires(READ)
    async def load(self):
        self.reset()
        try:
            order_id = route_order_id(self.router.url.path)
            found = await self._read(prescription, order_id=order_id)
        except DomainError as error:
            self.problem, self.loaded = str(error), True
            return None
        order = found.order
        self.patient_id, self.patient_name, self.mrn = order.patient_id, found.patient_name, found.mrn
        self.birth_date, self.sex = found.birth_date.isoformat(), found.sex.capitalize()
        self.prescriber = f"{found.prescriber_name} ({found.prescriber_username})"
        self.reference, self.product, self.sig = order.reference, order.product, order.sig
        self.setting = "Inpatient order" if order.setting == "inpatient" else "Outpatient prescription"
        self.instructions = order.instructions or ""
        self.quantity_figures = str(order.dispense_quantity)
        self.quantity_words = found.quantity_words
        self.signed, self.status = long_moment(found.signed_at), order.status
        self.loaded = True
        return None
