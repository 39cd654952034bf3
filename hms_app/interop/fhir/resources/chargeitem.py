"""ChargeItem: what a patient is billed for (``charge_item``), one billable act each, read-only:
charges are posted by the act they bill (a visit completed, a drug dispensed) or by the billing
desk, through the billing services."""

from __future__ import annotations

from hms_app.interop.fhir.elements import concept, instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.resources._finance import CHARGE_CODE_SYSTEM, money, staff_reference, status_param
from hms_app.interop.fhir.search import Param, date_param, reference, token
from hms_app.models.billing import ChargeItem

STATUS_SYSTEM = "http://hl7.org/fhir/chargeitem-status"
# HMS's states as FHIR's. A void charge is one the desk decided not to bill ("should not be
# billed", with a reason): not-billable, not entered-in-error, which would say it never happened.
STATUSES = {"open": "billable", "invoiced": "billed", "void": "not-billable"}


class ChargeItemMapper(Mapper):
    resource_type = "ChargeItem"
    table = ChargeItem
    documentation = (
        "Charges: the service (the hospital's catalogue code, system urn:hms:charge-code), quantity, the "
        "price charged (priceOverride: quantity x unit price, before tax), the department that performed "
        "it and who entered it. billable: waiting for an invoice; billed: on one; not-billable: cancelled."
    )
    read_permission = "billing.read"
    patient_column = "patient_id"
    owned = frozenset(
        {
            "status",
            "code",
            "subject",
            "occurrenceDateTime",
            "performingOrganization",
            "quantity",
            "priceOverride",
            "enterer",
            "enteredDate",
            "note",
        }
    )
    sorts = {"entered-date": ChargeItem.entered_at}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "code": token(ChargeItem.code, system=CHARGE_CODE_SYSTEM, lower=True),
            "entered-date": date_param(ChargeItem.entered_at),
            "occurrence": date_param(ChargeItem.entered_at),
            "status": status_param(
                STATUS_SYSTEM, {fhir: ChargeItem.status == ours for ours, fhir in STATUSES.items()}
            ),
            "performing-organization": reference(ChargeItem.department_id, "Organization"),
        }

    def last_updated(self, row: ChargeItem):
        return row.voided_at or row.entered_at

    def to_fhir(self, row: ChargeItem) -> dict:
        notes = []
        if row.reason:
            notes.append({"text": f"Entered by hand: {row.reason}"})
        if row.status == "void" and row.void_reason:
            notes.append({"text": f"Cancelled: {row.void_reason}", "time": instant(row.voided_at)})
        return {
            "status": STATUSES.get(row.status, "unknown"),
            "code": concept(CHARGE_CODE_SYSTEM, row.code, row.description),
            "subject": ref("Patient", row.patient_id),
            # HMS records when the act was charged, which is when it was done (its completion posts it).
            "occurrenceDateTime": instant(row.entered_at),
            "performingOrganization": ref("Organization", row.department_id),
            "quantity": {"value": row.quantity},
            "priceOverride": money(row.quantity * row.unit_price_cents),
            "enterer": staff_reference(row, row.entered_by),
            "enteredDate": instant(row.entered_at),
            "note": notes,
        }


MAPPER = ChargeItemMapper()
