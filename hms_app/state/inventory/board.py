"""The live low-stock board (/inventory/board): what is out, below its minimum or at its reorder
point, and the lots expired or expiring within 30 days, for one store or every store the user may
see. It follows the live topic "stock" as the bed board follows "beds": a change notice queues the
board's own guarded ``refresh``; boards showing the same thing share one read per notice; ``version``
counts the reloads and the page puts it on the board as ``data-version``.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory.board import LowStockBoard, low_stock_board
from hms_app.services.inventory.ledger import STOCK
from hms_app.state.boards.common import WATCH_REASON, now_label, shared_read
from hms_app.state.inventory.stock_common import FLAG_LABELS, StoreOption, day, store_option
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, pages_for, public, requires, step_page

READ = "inventory.read"
ALL = "all"
LOW_PAGE = 24
EXPIRING_PAGE = 10


@dataclass(frozen=True)
class LowLine:
    key: str = ""
    store: str = ""
    code: str = ""
    name: str = ""
    usable: str = ""
    levels: str = ""
    to_order: str = ""
    bin: str = ""
    flag: str = ""
    flag_label: str = ""
    expired_note: str = ""


@dataclass(frozen=True)
class ExpiringLine:
    key: str = ""
    store: str = ""
    item: str = ""
    lot: str = ""
    expiry: str = ""
    when: str = ""  # "expired 3 days ago", "in 12 days", "today"
    expired: bool = False
    quantity: str = ""


def _when(days: int) -> str:
    if days < 0:
        return f"expired {-days} day{'s' if days != -1 else ''} ago"
    if days == 0:
        return "expires today"
    return f"in {days} day{'s' if days != 1 else ''}"


@dataclass(frozen=True)
class _BoardView:
    """One board as the screen shows it; built once per change and shared by the boards that show it."""

    rows: tuple[LowLine, ...]
    expiring: tuple[ExpiringLine, ...]
    counts: tuple[int, ...]  # total, stock-outs, below min, at reorder, expiring, expired


def _view(board: LowStockBoard) -> _BoardView:
    rows = tuple(
        LowLine(
            f"{r.location_id}-{r.item_id}",
            r.store,
            r.code,
            r.name,
            f"{r.usable:,} {r.base_unit}",
            f"{r.min_quantity:,} / {r.reorder_point:,} / {r.max_quantity:,}",
            f"{r.to_order:,}",
            r.bin,
            r.flag,
            FLAG_LABELS.get(r.flag, r.flag),
            f"{r.expired:,} expired not counted" if r.expired else "",
        )
        for r in board.rows
    )
    expiring = tuple(
        ExpiringLine(
            f"{lot.location_id}-{lot.lot_id}",
            lot.store,
            f"{lot.code} · {lot.name}",
            lot.lot_number,
            day(lot.expiry_date),
            _when(lot.days_left),
            lot.days_left < 0,
            f"{lot.quantity:,} {lot.base_unit}",
        )
        for lot in board.expiring
    )
    counts = (
        board.total,
        board.stock_outs,
        board.below_min,
        board.at_reorder,
        board.expiring_total,
        board.expired_lots,
    )
    return _BoardView(rows, expiring, counts)


class LowStockBoardState(SessionState):
    """The low-stock board: one page of low items, one of expiring lots, and the counts."""

    stores: list[StoreOption] = []
    store: str = ALL
    rows: list[LowLine] = []
    expiring: list[ExpiringLine] = []
    total: int = 0
    stock_outs: int = 0
    below_min: int = 0
    at_reorder: int = 0
    expiring_total: int = 0
    expired_lots: int = 0
    page: int = 1
    expiring_page: int = 1
    loaded: bool = False
    version: int = 0
    updated_at: str = ""

    _opened: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, LOW_PAGE)

    @rx.var
    def expiring_page_count(self) -> int:
        return pages_for(self.expiring_total, EXPIRING_PAGE)

    def _arguments(self) -> dict:
        return {
            "location_id": None if self.store == ALL else int(self.store),
            "offset": (self.page - 1) * LOW_PAGE,
            "limit": LOW_PAGE,
            "expiring_offset": (self.expiring_page - 1) * EXPIRING_PAGE,
            "expiring_limit": EXPIRING_PAGE,
        }

    async def _reload(self, *, shared: bool = False):
        try:
            if shared:
                # Boards of users who see the same stores show the same rows: one read per notice.
                key = ("stock-board", tuple(s.id for s in self.stores), *self._arguments().values())
                view = await shared_read(
                    key, low_stock_board, build=_view, actor=self.acting(), **self._arguments()
                )
            else:
                board = await self._read(low_stock_board, **self._arguments())
                self.stores = [store_option(s) for s in board.stores]
                view = _view(board)
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        self._show(view)
        return None

    def _show(self, view: _BoardView) -> None:
        self.rows, self.expiring = list(view.rows), list(view.expiring)
        (
            self.total,
            self.stock_outs,
            self.below_min,
            self.at_reorder,
            self.expiring_total,
            self.expired_lots,
        ) = view.counts
        # A page past the end (the list shrank while it was open): show the last page next time.
        self.page = min(self.page, pages_for(self.total, LOW_PAGE))
        self.expiring_page = min(self.expiring_page, pages_for(self.expiring_total, EXPIRING_PAGE))
        self.loaded, self._opened = True, True
        self.version += 1
        self.updated_at = now_label()

    @rx.event
    @requires(READ)
    async def load(self):
        wanted = self.router.url.query_parameters.get("store", "") if self.router else ""
        if isinstance(wanted, str) and wanted.isdigit() and len(wanted) < 10:
            self.store = wanted
        elif self.store != ALL and not self.store.isdigit():
            self.store = ALL
        self.page = self.expiring_page = 1
        problem = await self._reload()
        if problem is not None and self.store != ALL:
            self.store = ALL  # a store not (or no longer) the user's: the whole board instead
            return [problem, await self._reload()]
        return problem

    @rx.event
    @requires(READ)
    async def refresh(self):
        """Reload what this tab shows (a live change); never before the tab has opened the board."""
        if not self._opened:
            return None
        return await self._reload(shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, STOCK, permission=READ):
            yield LowStockBoardState.refresh

    @rx.event
    @requires(READ)
    async def select_store(self, value: str):
        if value == ALL:
            self.store = ALL
        else:
            try:
                wanted = str(browser_id(value, "store"))
            except ValidationError as error:
                return rx.toast.error(str(error))
            if wanted not in {s.id for s in self.stores}:
                return rx.toast.error("Choose one of the stores offered.")
            self.store = wanted
        self.page = self.expiring_page = 1
        return await self._reload()

    @rx.event
    @requires(READ)
    async def move(self, step: int):
        page = step_page(self.page, step, self.page_count)
        if page != self.page:
            self.page = page
            return await self._reload()
        return None

    @rx.event
    @requires(READ)
    async def move_expiring(self, step: int):
        page = step_page(self.expiring_page, step, self.expiring_page_count)
        if page != self.expiring_page:
            self.expiring_page = page
            return await self._reload()
        return None
