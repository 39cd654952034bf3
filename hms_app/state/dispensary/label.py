"""A dispense's printable label (/pharmacy/dispensed/[dispense_id]/label): patient, drug, directions,
quantity (and what is still owed), date, lots with their expiry and the order's reference.
``pharmacy.dispense`` on the server; printing it is audited by the service."""

from __future__ import annotations

import re

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, NotFound
from hms_app.services.pharmacy.dispense_views import dispense_label
from hms_app.services.pharmacy.quantity import dispense_amount
from hms_app.state.session import SessionState, requires

DISPENSE = "pharmacy.dispense"


def route_dispense_id(path: str) -> int:
    """The route's dispense id: a positive whole number, nothing else."""
    match = re.match(r"^/pharmacy/dispensed/(\d{1,12})/label/?$", path or "")
    if match is None or int(match.group(1)) <= 0:
        raise NotFound("This address does not name a dispense. Print its label from the pharmacy queue.")
    return int(match.group(1))


class DispenseLabelState(SessionState):
    problem: str = ""
    loaded: bool = False
    reference: str = ""
    order_reference: str = ""
    patient: str = ""
    mrn: str = ""
    birth_date: str = ""
    product: str = ""
    sig: str = ""
    instructions: str = ""
    quantity: str = ""
    owed: str = ""
    dispensed: str = ""
    dispensed_by: str = ""
    witness: str = ""
    store: str = ""
    lots: list[str] = []
    controlled: bool = False

    @rx.event
    @requires(DISPENSE)
    async def load(self):
        self.reset()
        try:
            label = await self._run(dispense_label, dispense_id=route_dispense_id(self.router.url.path))
        except DomainError as error:
            self.problem, self.loaded = str(error), True
            return None
        self.reference, self.order_reference = label.reference, label.order_reference
        self.patient, self.mrn, self.birth_date = label.patient, label.mrn, label.birth_date.isoformat()
        self.product, self.sig, self.instructions = label.product, label.sig, label.instructions or ""
        self.quantity = dispense_amount(label.quantity, label.unit)
        self.owed = f"{dispense_amount(label.owed, label.unit)} still owed" if label.owed else ""
        self.dispensed = format_local(label.dispensed_at, "%d %b %Y %H:%M")
        self.dispensed_by, self.witness, self.store = label.dispensed_by, label.witness or "", label.store
        self.lots = [
            f"Lot {lot.lot_number}"
            + (f", expires {lot.expiry_date:%d %b %Y}" if lot.expiry_date else "")
            + f" ({lot.quantity})"
            for lot in label.lots
        ]
        self.controlled, self.loaded = label.controlled, True
        return None
