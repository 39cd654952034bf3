"""The billing desk (/billing): accounts with open charges to bill, and the invoice list."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError
from hms_app.services import live
from hms_app.services.billing import accounts, invoice_views
from hms_app.state.billing.common import (
    PAGE_SIZE,
    WATCH_REASON,
    InvoiceListLine,
    _date,
    _invoice_line,
    _reload_or_toast,
    _text,
    _turn_page,
    money,
)
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, pages_for, public, requires


@dataclass
class AccountLine:
    patient_id: int = 0
    name: str = ""
    mrn: str = ""
    open_charges: int = 0
    open_amount: str = ""
    oldest: str = ""


INVOICE_FILTER_LABELS = {
    "all": "All",
    "draft": "Drafts",
    "unpaid": "Unpaid",
    "partially_paid": "Partially paid",
    "paid": "Paid",
    "issued": "All issued",
    "void": "Void",
}


class BillingDeskState(SessionState):
    """Accounts with charges waiting for an invoice, and the invoice list (server-paged)."""

    loading: bool = True
    account_query: str = ""
    accounts: list[AccountLine] = []
    accounts_total: int = 0
    accounts_page: int = 1
    invoices: list[InvoiceListLine] = []
    invoices_total: int = 0
    page: int = 1
    status: str = "all"
    issued_from: str = ""
    issued_to: str = ""
    query: str = ""

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.invoices_total, PAGE_SIZE)

    @rx.var
    def accounts_page_count(self) -> int:
        return pages_for(self.accounts_total, 8)

    async def _load_accounts(self):
        rows, total = await self._run(
            accounts.accounts_to_bill, query=self.account_query, offset=(self.accounts_page - 1) * 8, limit=8
        )
        self.accounts_total = total
        self.accounts = [
            AccountLine(
                r.patient_id,
                r.name,
                r.mrn,
                r.open_charges,
                money(r.open_cents),
                format_local(r.oldest, "%Y-%m-%d") if r.oldest else "",
            )
            for r in rows
        ]

    async def _load_invoices(self):
        rows, total = await self._run(
            invoice_views.list_invoices,
            status=self.status,
            issued_from=_date(self.issued_from, "From"),
            issued_to=_date(self.issued_to, "To"),
            query=self.query,
            offset=(self.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        self.invoices_total = total
        self.invoices = [_invoice_line(r) for r in rows]

    @rx.event
    @requires("billing.read")
    async def load(self):
        self.loading = True
        yield
        try:
            await self._load_accounts()
            await self._load_invoices()
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires("billing.read")
    async def refresh(self):
        """Reload what is on screen (after a change notice), keeping the filters and pages."""
        try:
            await self._load_accounts()
            await self._load_invoices()
        except DomainError:
            return None  # the next notice or the next action shows the problem
        return None

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, live.BILLING, permission="billing.read"):
            yield BillingDeskState.refresh

    @rx.event
    @requires("billing.read")
    async def find_accounts(self, form: dict):
        try:
            self.account_query = _text(form, "account_query", 60)
            self.accounts_page = 1
            await self._load_accounts()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("billing.read")
    async def accounts_move(self, step: int):
        return await _turn_page(self, "accounts_page", step, self.accounts_page_count, self._load_accounts)

    @rx.event
    @requires("billing.read")
    async def filter_invoices(self, form: dict):
        try:
            status = _text(form, "status", 20) or "all"
            if status not in invoice_views.INVOICE_FILTERS:
                raise ValidationError("Choose a status from the list.")
            self.status = status
            self.issued_from, self.issued_to = _text(form, "issued_from", 10), _text(form, "issued_to", 10)
            self.query = _text(form, "query", 60)
            self.page = 1
            await self._load_invoices()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("billing.read")
    async def set_status(self, status: str):
        if status not in invoice_views.INVOICE_FILTERS:
            return rx.toast.error("Choose a status from the list.")
        self.status, self.page = status, 1
        return await _reload_or_toast(self._load_invoices)

    @rx.event
    @requires("billing.read")
    async def invoices_move(self, step: int):
        return await _turn_page(self, "page", step, self.page_count, self._load_invoices)
