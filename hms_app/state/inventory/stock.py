"""Stock on hand (/inventory): one store's items, searchable and paged, with their lots, expiry and
reorder flags; an item opened shows its lots here and its stock in every store.

The store choice offers only the stores the user may see. The transfer, adjustment and write-off
dialogs of this screen are ``stock_moves``.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory.balances import stock_on_hand
from hms_app.services.inventory.catalogue_views import store_stock
from hms_app.services.inventory.ledger import STOCK
from hms_app.state.inventory.stock_common import PAGE_SIZE, StockLine, StorePicker, stock_line, text
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, pages_for, public, requires, turn_page

READ = "inventory.read"
WATCH_REASON = "only waits for change notices and reads no data; the refresh it triggers is guarded"


@dataclass(frozen=True)
class StoreHolding:
    location_id: int = 0
    store: str = ""
    quantity: int = 0
    usable: int = 0
    lots: int = 0


class StockState(StorePicker, SessionState):
    """One store's stock, and the item opened from it."""

    loading: bool = True
    query: str = ""
    low_only: bool = False
    rows: list[StockLine] = []
    total: int = 0
    page: int = 1
    can_keep: bool = False  # may receive, move and adjust at the store shown
    can_issue: bool = False

    item: StockLine = StockLine()  # the item opened (its lots at this store)
    holdings: list[StoreHolding] = []  # its stock in every store
    item_open: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self) -> None:
        store = self._store()
        if not store:
            self.rows, self.total = [], 0
            return
        rows, total = await self._read(
            store_stock,
            location_id=store,
            query=self.query,
            low_only=self.low_only,
            offset=(self.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        self.rows, self.total = [stock_line(r) for r in rows], total
        option = next((s for s in self.stores if s.id == self.store_id), None)
        self.can_keep = bool(option and option.can_keep)
        self.can_issue = bool(option and option.can_issue)
        if self.item_open:
            self.item = next((r for r in self.rows if r.item_id == self.item.item_id), self.item)

    @rx.event
    @requires(READ)
    async def load(self):
        self.loading, self.item_open = True, False
        yield
        try:
            await self._load_stores("read")
            self.page = 1
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires(READ)
    async def refresh(self):
        """Reload the page shown (a stock change in this store, or after a move from this screen)."""
        try:
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, STOCK, permission=READ):
            yield StockState.refresh

    @rx.event
    @requires(READ)
    async def select_store(self, store_id: str):
        try:
            self._pick_store(store_id)
            self.page, self.item_open = 1, False
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires(READ)
    async def search(self, form: dict):
        try:
            self.query, self.page = text(form, "query", 60), 1
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires(READ)
    async def set_low_only(self, value: bool):
        self.low_only, self.page = value is True, 1
        try:
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires(READ)
    async def move(self, step: int):
        try:
            return await turn_page(self, "page", step, self.page_count, self._reload)
        except DomainError as error:
            return rx.toast.error(str(error))

    def _shown(self, item_id) -> StockLine:
        wanted = browser_id(item_id, "item")
        line = next((r for r in self.rows if r.item_id == wanted), None)
        if line is None:
            raise ValidationError("That item is no longer on this page: search for it again.")
        return line

    @rx.event
    @requires(READ)
    async def open_item(self, item_id: int):
        try:
            line = self._shown(item_id)
            holdings = await self._read(stock_on_hand, item_id=line.item_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.item, self.item_open = line, True
        self.holdings = [
            StoreHolding(h.location_id, h.location, h.quantity, h.usable, h.lots) for h in holdings
        ]
        return None

    @rx.event
    @requires(READ)
    async def set_item_open(self, is_open: bool):
        if not is_open:
            self.item_open = False
