"""The claims worklist (/billing/claims)."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError
from hms_app.services.billing import claims
from hms_app.services.billing.money import format_money, parse_money
from hms_app.state.billing.common import PAGE_SIZE, _reload_or_toast, _text, _turn_page, money, new_key
from hms_app.state.session import SessionState, browser_id, pages_for, requires


@dataclass
class ClaimLine:
    id: int = 0
    invoice_id: int = 0
    invoice: str = ""
    patient_id: int = 0
    patient: str = ""
    mrn: str = ""
    payer: str = ""
    status: str = ""
    status_label: str = ""
    created: str = ""
    claimed: str = ""
    paid: str = ""
    left_cents: int = 0
    moved: str = ""
    denial_reason: str = ""
    open: bool = False


class ClaimsState(SessionState):
    """The claims worklist: status filter, paging, and the next step for each claim."""

    loading: bool = True
    status: str = "open"
    rows: list[ClaimLine] = []
    total: int = 0
    page: int = 1
    dialog: str = ""  # "" | deny | remit
    claim_id: int = 0
    claim_label: str = ""
    claim_left: str = ""
    error: str = ""
    _key: str = ""

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self) -> None:
        rows, total = await self._run(
            claims.list_claims, status=self.status, offset=(self.page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        self.total = total
        self.rows = [
            ClaimLine(
                r.id,
                r.invoice_id,
                r.invoice_number,
                r.patient_id,
                r.patient_name,
                r.mrn,
                r.payer,
                r.status,
                claims.STATUS_LABELS.get(r.status, r.status),
                format_local(r.created_at, "%Y-%m-%d"),
                money(r.amount_claimed_cents),
                money(r.amount_paid_cents),
                r.amount_claimed_cents - r.amount_paid_cents,
                money(r.moved_to_patient_cents),
                r.denial_reason,
                r.open,
            )
            for r in rows
        ]

    @rx.event
    @requires("billing.read")
    async def load(self):
        self.loading = True
        yield
        try:
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires("billing.read")
    async def set_status(self, status: str):
        if status not in ("all", "open", *claims.CLAIM_STATUSES):
            return rx.toast.error("Choose a status from the list.")
        self.status, self.page = status, 1
        return await _reload_or_toast(self._reload)

    @rx.event
    @requires("billing.read")
    async def move(self, step: int):
        return await _turn_page(self, "page", step, self.page_count, self._reload)

    async def _step(self, fn, message: str, claim_id):
        try:
            await self._run(fn, claim_id=browser_id(claim_id, "claim"))
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success(message)

    @rx.event
    @requires("billing.post")
    async def submit_claim(self, claim_id: int):
        return await self._step(claims.submit_claim, "Claim submitted to the payer.", claim_id)

    @rx.event
    @requires("billing.post")
    async def accept_claim(self, claim_id: int):
        return await self._step(claims.accept_claim, "Claim marked accepted.", claim_id)

    @rx.event
    @requires("billing.post")
    async def cancel_claim(self, claim_id: int):
        return await self._step(claims.cancel_claim, "Claim cancelled.", claim_id)

    @rx.event
    @requires("billing.post")
    async def open_dialog(self, kind: str, claim_id: int):
        if kind not in ("deny", "remit"):
            return None
        try:
            claim_id = browser_id(claim_id, "claim")
        except ValidationError as error:
            return rx.toast.error(str(error))
        row = next((r for r in self.rows if r.id == claim_id), None)
        if row is None:
            return rx.toast.error("Choose a claim from the list.")
        self.claim_id, self.claim_label = claim_id, f"{row.invoice} · {row.patient} · {row.payer}"
        self.claim_left = format_money(row.left_cents)
        self.dialog, self.error, self._key = kind, "", new_key()
        return None

    @rx.event
    @requires("billing.read")
    async def set_dialog_open(self, is_open: bool):
        if not is_open:
            self.dialog, self.error = "", ""

    @rx.event
    @requires("billing.post")
    async def submit_denial(self, form: dict):
        try:
            await self._run(claims.deny_claim, claim_id=self.claim_id, reason=_text(form, "reason"))
            await self._reload()
        except DomainError as error:
            self.error = str(error)
            return None
        self.dialog = ""
        return rx.toast.success("Denial recorded; the amount is now the patient's to pay.")

    @rx.event
    @requires("billing.post")
    async def submit_remittance(self, form: dict):
        if self.dialog != "remit" or not self._key:
            return None
        try:
            amount = parse_money(_text(form, "amount", 20))
            await self._run(
                claims.post_remittance,
                claim_id=self.claim_id,
                amount_cents=amount,
                reference=_text(form, "reference", 120),
                final=_text(form, "final") == "on",
                idempotency_key=self._key,
            )
            await self._reload()
        except DomainError as error:
            self.error = str(error)
            return None
        self.dialog, self._key = "", ""
        return rx.toast.success(f"Remittance of {money(amount)} posted.")
