"""Claim: requests to a payer for an invoice's payer share (``claim``), read-only: claims are made,
submitted and settled on the billing desk's claims worklist through the billing services."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import object_session

from hms_app.interop.fhir.elements import concept, day, instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.resources._finance import (
    CHARGE_CODE_SYSTEM,
    INVOICE_SYSTEM,
    hospital,
    money,
    payer_of,
    payer_reference,
    staff_reference,
    status_param,
)
from hms_app.interop.fhir.search import Param, date_param, identifier
from hms_app.models.billing import Claim, Invoice, InvoiceLine

STATUS_SYSTEM = "http://hl7.org/fhir/fm-status"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
# The claim's own life in FHIR is only draft, active, cancelled: what the payer decided (accepted,
# denied, paid) is a ClaimResponse's outcome, which is not served yet.
STATUSES = {
    "draft": "draft",
    "submitted": "active",
    "accepted": "active",
    "denied": "active",
    "partially_paid": "active",
    "paid": "active",
    "cancelled": "cancelled",
}


class ClaimMapper(Mapper):
    resource_type = "Claim"
    table = Claim
    documentation = (
        "Claims to a payer for an invoice's payer share (total: the amount claimed). The identifier is the "
        "invoice's number (system urn:hms:invoice), as a claim's patient control number; items are the "
        "invoice's lines (net: the line total after discount and tax). The payer's decision is not served."
    )
    read_permission = "billing.read"
    patient_column = "patient_id"
    patient_params = ("patient",)
    owned = frozenset(
        {
            "identifier",
            "status",
            "type",
            "use",
            "patient",
            "billablePeriod",
            "created",
            "enterer",
            "insurer",
            "provider",
            "priority",
            "insurance",
            "item",
            "total",
        }
    )
    sorts = {"created": Claim.created_at}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        by_status = {}
        for ours, fhir in STATUSES.items():
            by_status.setdefault(fhir, []).append(ours)
        numbered = select(Invoice.number).where(Invoice.id == Claim.invoice_id).scalar_subquery()
        return {
            "identifier": identifier("Claim", Claim.id, {INVOICE_SYSTEM: numbered}),
            "status": status_param(
                STATUS_SYSTEM, {fhir: Claim.status.in_(ours) for fhir, ours in by_status.items()}
            ),
            "created": date_param(Claim.created_at),
            "use": status_param("http://hl7.org/fhir/claim-use", {"claim": Claim.id.is_not(None)}),
        }

    def last_updated(self, row: Claim):
        return row.closed_at or row.decided_at or row.submitted_at or row.created_at

    def to_fhir(self, row: Claim) -> dict:
        session = object_session(row)
        invoice = session.get(Invoice, row.invoice_id)
        lines = session.execute(
            select(InvoiceLine).where(InvoiceLine.invoice_id == row.invoice_id).order_by(InvoiceLine.id)
        ).scalars()
        payer = payer_reference(payer_of(row))
        coverage = ref("Coverage", row.coverage_id) or payer  # without a coverage, the payer names it
        period = {"start": day(invoice.period_from), "end": day(invoice.period_to)} if invoice else {}
        return {
            "identifier": [{"system": INVOICE_SYSTEM, "value": invoice.number}]
            if invoice and invoice.number
            else None,
            "status": STATUSES.get(row.status, "active"),
            # A hospital's bill for its services: an institutional claim, whoever performed them.
            "type": concept(CLAIM_TYPE, "institutional", "Institutional"),
            "use": "claim",
            "patient": ref("Patient", row.patient_id),
            "billablePeriod": {k: v for k, v in period.items() if v},
            "created": instant(row.created_at),
            "enterer": staff_reference(row, row.created_by),
            "insurer": payer,
            "provider": hospital(),
            "priority": concept(PRIORITY, "normal", "Normal"),
            "insurance": [{"sequence": 1, "focal": True, "coverage": coverage}],
            "item": [
                {
                    "sequence": sequence,
                    "productOrService": concept(CHARGE_CODE_SYSTEM, line.code, line.description),
                    "quantity": {"value": line.quantity},
                    "unitPrice": money(line.unit_price_cents),
                    "net": money(line.line_total_cents),
                }
                for sequence, line in enumerate(lines, start=1)
            ],
            "total": money(row.amount_claimed_cents),
        }


MAPPER = ClaimMapper()
