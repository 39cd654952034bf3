"""Billing: charges, invoices, payments, refunds and patient credit, claims, expenses, the service
catalogue, the patient's bills in the portal and the finance dashboard's reads.

One module per concern: ``money`` (the arithmetic below), ``charges``, ``invoices`` (drafting,
issuing, voiding), ``invoice_views`` (lists and the detail view), ``payments``, ``accounts``,
``portal_bills``, ``catalogue``, ``claims``, ``expenses``, ``finance_reports``; ``common`` holds the
locks and lookups they share.

Money rules (every amount is integer cents; no float is ever involved):

1. A line's gross is ``quantity x unit price``. Its discount (cents, 0..gross) is taken off
   the gross: ``net = gross - discount``.
2. Tax is computed **per line** on the net: ``tax = round_half_up(net x tax_rate_bp / 10 000)``
   to the cent. ``line total = net + tax``. The invoice's tax is the sum of its lines' taxes (never
   recomputed on the invoice total), so the lines always add up to the invoice.
3. Shares, when the patient has a current coverage (the active coverage valid on the day with the
   lowest priority number): lines are taken in order; the co-pay (once per invoice) is taken from
   the first lines' totals until it is used up; **co-insurance** is
   ``round_half_up((line total - co-pay taken from that line) x percent / 100)`` on each line;
   the payer's share of the line is the rest. Patient share + payer share = line total, exactly.
4. Limits: the payer's share of the invoice is capped by the coverage's per-invoice limit and by
   what is left of its per-year limit (payer shares of the coverage's issued invoices that calendar
   year). The excess moves to the patient, taken from the last line backwards.
5. ``round_half_up`` rounds halves away from zero on non-negative amounts (0.5 cent -> 1 cent),
   as ``Decimal.quantize(ROUND_HALF_UP)`` does; it is integer arithmetic here.
6. Invoice totals are sums of line amounts: total = subtotal - discount + tax =
   patient share + payer share. Shares are recomputed on every draft change and at issue.
7. A payment is applied to the invoice's outstanding patient share; any excess becomes patient
   credit (the ``credit_entry`` ledger: balance = SUM(amount)). A refund takes the patient's credit
   first, then un-applies the rest from the refunded payment's invoice. Voiding an invoice moves
   the patient money applied to it into credit; the invoice, its lines and its number stay.

Numbers: an invoice gets its number when it is issued (drafts have none), from the gap-free
counter ``invoice``; a rolled-back issue gives its number back.

The names below are the ones other domains use (every module charges through ``post_charge``;
the seeders price with ``compute_lines``; the portal reads and pays its bills).
"""

from hms_app.services.billing.accounts import account_summary
from hms_app.services.billing.charges import post_charge
from hms_app.services.billing.common import current_coverage
from hms_app.services.billing.invoice_views import SETTLEMENT_LABELS, InvoiceRow, get_invoice
from hms_app.services.billing.invoices import format_invoice_number
from hms_app.services.billing.money import LineInput, ShareTerms, compute_lines, format_money, parse_money
from hms_app.services.billing.portal_bills import pay_online, portal_invoices

__all__ = [
    "SETTLEMENT_LABELS",
    "InvoiceRow",
    "LineInput",
    "ShareTerms",
    "account_summary",
    "compute_lines",
    "current_coverage",
    "format_invoice_number",
    "format_money",
    "get_invoice",
    "parse_money",
    "pay_online",
    "portal_invoices",
    "post_charge",
]
