"""Invoice: the patient's bills (``invoice`` and its ``invoice_line`` rows), read-only: drafting,
issuing (the gap-free number) and voiding happen at the billing desk through the billing services."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import object_session

from hms_app.interop.fhir.elements import concept, instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.resources._finance import (
    CHARGE_CODE_SYSTEM,
    INVOICE_SYSTEM,
    PRICE_COMPONENT_SYSTEM,
    hospital,
    money,
    status_param,
)
from hms_app.interop.fhir.search import Param, date_param, identifier
from hms_app.models.billing import Invoice, InvoiceLine
from hms_app.services.billing.invoice_views import _settlement_sql, settlement

STATUS_SYSTEM = "http://hl7.org/fhir/invoice-status"
# An invoice is dated when it is issued; a draft, when it was drafted.
INVOICE_DATE = func.coalesce(Invoice.issued_at, Invoice.created_at)


def fhir_status(invoice: Invoice) -> str:
    """draft | issued | balanced (issued and paid in full, by the patient and the payer) | cancelled
    (voided: it keeps its number and lines)."""
    return {"draft": "draft", "void": "cancelled", "paid": "balanced"}.get(settlement(invoice), "issued")


def _component(kind: str, cents: int, **extra) -> dict:
    return {"type": kind, **extra, "amount": money(cents)}


def _share(code: str, display: str, cents: int) -> dict:
    return _component("informational", cents, code=concept(PRICE_COMPONENT_SYSTEM, code, display))


def price_components(gross: int, discount: int, tax: int, tax_rate_bp: int | None = None) -> list[dict]:
    """The gross (quantity x unit price), the discount taken off it (negative) and the tax: they add
    up to the total, as HMS computes it (tax on the net after the discount)."""
    components = [_component("base", gross)]
    if discount:
        components.append(_component("discount", -discount))
    if tax:
        extra = {"factor": float(Decimal(tax_rate_bp).scaleb(-4))} if tax_rate_bp else {}
        components.append(_component("tax", tax, **extra))
    return components


def line_item(sequence: int, line: InvoiceLine) -> dict:
    item: dict = {"sequence": sequence}
    if line.charge_item_id is not None:
        item["chargeItemReference"] = ref("ChargeItem", line.charge_item_id)
    else:
        item["chargeItemCodeableConcept"] = concept(CHARGE_CODE_SYSTEM, line.code, line.description)
    gross = line.quantity * line.unit_price_cents
    components = price_components(gross, line.discount_cents, line.tax_cents, line.tax_rate_bp)
    components[0]["code"] = concept(CHARGE_CODE_SYSTEM, line.code, line.description)
    components[0]["factor"] = line.quantity
    item["priceComponent"] = components
    return item


class InvoiceMapper(Mapper):
    resource_type = "Invoice"
    table = Invoice
    documentation = (
        "Bills: the number (identifier of system urn:hms:invoice, once issued), status (balanced: paid in "
        "full), one line item per charge with its price components (base, discount as a negative amount, "
        "tax), totals without and with tax, and the patient's and the payer's shares as informational "
        "components (urn:hms:price-component)."
    )
    read_permission = "billing.read"
    patient_column = "patient_id"
    owned = frozenset(
        {
            "identifier",
            "status",
            "cancelledReason",
            "subject",
            "date",
            "issuer",
            "lineItem",
            "totalPriceComponent",
            "totalNet",
            "totalGross",
        }
    )
    sorts = {"date": INVOICE_DATE}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        paid = _settlement_sql() == "paid"
        return {
            "identifier": identifier("Invoice", Invoice.id, {INVOICE_SYSTEM: Invoice.number}),
            "status": status_param(
                STATUS_SYSTEM,
                {
                    "draft": Invoice.status == "draft",
                    "issued": and_(Invoice.status == "issued", ~paid),
                    "balanced": and_(Invoice.status == "issued", paid),
                    "cancelled": Invoice.status == "void",
                },
            ),
            "date": date_param(INVOICE_DATE),
        }

    def last_updated(self, row: Invoice):
        return row.voided_at or row.issued_at or row.created_at

    def to_fhir(self, row: Invoice) -> dict:
        lines = (
            object_session(row)
            .execute(select(InvoiceLine).where(InvoiceLine.invoice_id == row.id).order_by(InvoiceLine.id))
            .scalars()
        )
        totals = price_components(row.subtotal_cents, row.discount_cents, row.tax_cents)
        totals.append(_share("patient-share", "Patient share", row.patient_share_cents))
        totals.append(_share("payer-share", "Payer share", row.payer_share_cents))
        return {
            "identifier": [{"system": INVOICE_SYSTEM, "value": row.number}] if row.number else None,
            "status": fhir_status(row),
            "cancelledReason": row.void_reason if row.status == "void" else None,
            "subject": ref("Patient", row.patient_id),
            "date": instant(row.issued_at or row.created_at),
            "issuer": hospital(),
            "lineItem": [line_item(sequence, line) for sequence, line in enumerate(lines, start=1)],
            "totalPriceComponent": totals,
            "totalNet": money(row.subtotal_cents - row.discount_cents),
            "totalGross": money(row.total_cents),
        }


MAPPER = InvoiceMapper()
