"""What the billing screens share: form reading, money as text, the invoice and payment rows.

What is on screen only: one page of rows, formatted here. Every write goes through the billing
services (``hms_app/services/billing/``)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date

import reflex as rx

from hms_app import words
from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError
from hms_app.services.billing import invoice_views, payments
from hms_app.services.billing.money import format_money
from hms_app.state.forms import day_in_range, form_text
from hms_app.state.session import SessionState, step_page

PAGE_SIZE = 20
FORM_LIMIT = 300
WATCH_REASON = "only waits for change notices and reads no data; the refresh it triggers is guarded"
METHOD_LABELS = words.PAYMENT_METHOD


def money(cents: int) -> str:
    return format_money(cents, symbol="$")


def _text(form: dict, key: str, limit: int = FORM_LIMIT) -> str:
    """One submitted value as text, trimmed: billing never keeps surrounding spaces."""
    return form_text(form, key, limit=limit).strip()


def _date(value: str, label: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValidationError(f"{label} is a date like 2026-11-26.") from error
    return day_in_range(day, None, label)


def _route_id(path: str, pattern: str, what: str) -> int:
    match = re.match(pattern, path or "")
    raw = match.group(1) if match else ""
    if not raw.isdigit() or len(raw) > 12 or int(raw) <= 0:
        raise ValidationError(f"This address does not name {what}. Open it from the billing desk.")
    return int(raw)


def new_key() -> str:
    """A fresh idempotency key for one payment attempt (a double click reuses it)."""
    return f"ui-{uuid.uuid4().hex}"


async def _reload_or_toast(reload):
    """Run one reload; a domain error comes back as an error toast, success as nothing."""
    try:
        await reload()
    except DomainError as error:
        return rx.toast.error(str(error))
    return None


async def _turn_page(state: SessionState, page: str, step, count: int, reload):
    """Move a list one page (``step`` -1 or 1, as the browser sent it; anything else changes
    nothing) and reload it; a domain error comes back as an error toast."""
    if step not in (-1, 1):
        return None
    setattr(state, page, step_page(getattr(state, page), step, count))
    return await _reload_or_toast(reload)


@dataclass
class InvoiceListLine:
    id: int = 0
    number: str = ""
    patient_id: int = 0
    patient: str = ""
    mrn: str = ""
    status: str = ""
    status_label: str = ""
    date: str = ""
    total: str = ""
    patient_due: str = ""
    payer_due: str = ""
    payer: str = ""


def _invoice_line(row: invoice_views.InvoiceRow) -> InvoiceListLine:
    return InvoiceListLine(
        row.id,
        row.number,
        row.patient_id,
        row.patient_name,
        row.mrn,
        row.settlement,
        invoice_views.SETTLEMENT_LABELS.get(row.settlement, row.settlement),
        format_local(row.issued_at or row.created_at, "%Y-%m-%d"),
        money(row.total_cents),
        money(row.patient_due_cents),
        money(row.payer_due_cents),
        row.payer,
    )


@dataclass
class PaymentLine:
    id: int = 0
    date: str = ""
    kind: str = ""
    method: str = ""
    amount: str = ""
    applied: str = ""
    invoice: str = ""
    reference: str = ""
    by: str = ""
    refundable: int = 0
    refundable_text: str = ""


def _payment_line(p: payments.PaymentView) -> PaymentLine:
    return PaymentLine(
        p.id,
        format_local(p.received_at),
        "Refund" if p.kind == "refund" else "Payment",
        METHOD_LABELS.get(p.method, p.method),
        money(p.amount_cents),
        money(p.applied_cents),
        p.invoice_number,
        p.reference,
        p.received_by,
        p.refundable_cents,
        money(p.refundable_cents),
    )
