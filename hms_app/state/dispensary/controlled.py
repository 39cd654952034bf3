"""The controlled drug register (/pharmacy/controlled): every dispense and return of a controlled
product with its running balance per store, who recorded it and the witness; filtered by product.
``pharmacy.dispense`` on the server."""

from __future__ import annotations

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError
from hms_app.services.pharmacy.register import controlled_products, register_lines
from hms_app.state.boards.common import WATCH_REASON, now_label
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires

DISPENSE = "pharmacy.dispense"
EVERY = "all"


class RegisterState(SessionState):
    products: list[list[str]] = []  # [id, name]
    product: str = EVERY
    lines: list[dict[str, str]] = []
    loaded: bool = False
    updated_at: str = ""
    _opened: bool = False

    async def _reload(self) -> None:
        product_id = None if self.product == EVERY else int(self.product)
        rows = await self._read(register_lines, product_id=product_id)
        self.lines = [
            {
                "id": str(r.id),
                "when": format_local(r.recorded_at, "%d %b %Y %H:%M"),
                "product": r.product,
                "store": r.store,
                "kind": "Dispensed" if r.kind == "dispense" else "Returned",
                "quantity": f"{r.quantity:+d}",
                "balance": str(r.balance),
                "patient": f"{r.patient} · {r.mrn}",
                "lots": r.lots,
                "recorded_by": r.recorded_by,
                "witness": r.witness,
                "reason": r.reason or "",
            }
            for r in rows
        ]
        self.loaded, self._opened, self.updated_at = True, True, now_label()

    @rx.event
    @requires(DISPENSE)
    async def load(self):
        try:
            self.products = [[str(pid), name] for pid, name in await self._read(controlled_products)]
            await self._reload()
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires(DISPENSE)
    async def refresh(self):
        if not self._opened:
            return None
        try:
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, "pharmacy", permission=DISPENSE):
            yield RegisterState.refresh

    @rx.event
    @requires(DISPENSE)
    async def set_product(self, value: str):
        if value != EVERY:
            try:
                wanted = str(browser_id(value, "product"))
            except DomainError as error:
                return rx.toast.error(str(error))
            if wanted not in {pid for pid, _ in self.products}:
                return rx.toast.error("Choose a controlled product from the list.")
            value = wanted
        self.product = value
        return await self.refresh()
