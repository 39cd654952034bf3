"""What the stock screens share: the store choice limited to what the user may see (or work), the
lines a store's stock is shown in, and dates, quantities and money as the screens write them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import reflex as rx

from hms_app.errors import ValidationError
from hms_app.money import format_money
from hms_app.services.inventory.catalogue_views import StoreChoice, StoreStockRow, visible_stores
from hms_app.state.forms import form_text
from hms_app.state.session import browser_id

PAGE_SIZE = 20
FLAG_LABELS = {"out": "Out of stock", "below_min": "Below minimum", "reorder": "Reorder"}


def day(value: date | None) -> str:
    return value.strftime("%d %b %Y") if value else ""


def money(cents: int) -> str:
    return format_money(cents, symbol="$")


def text(form, key: str, limit: int = 300) -> str:
    return form_text(form, key, limit=limit).strip()


@dataclass(frozen=True)
class StoreOption:
    id: str = ""
    label: str = ""
    can_issue: bool = False
    can_keep: bool = False


def store_option(store: StoreChoice) -> StoreOption:
    return StoreOption(str(store.id), f"{store.name} ({store.code})", store.can_issue, store.can_keep)


@dataclass(frozen=True)
class LotLine:
    lot_id: int = 0
    number: str = ""  # "" for untracked stock
    expiry: str = ""
    quantity: int = 0
    expired: bool = False
    expiring: bool = False


@dataclass(frozen=True)
class StockLine:
    item_id: int = 0
    code: str = ""
    name: str = ""
    unit: str = ""
    on_hand: int = 0
    usable: int = 0
    expired: int = 0
    next_expiry: str = ""
    levels: str = ""  # "5 / 10 / 40" (min / reorder / max), "" without levels
    bin: str = ""
    flag: str = ""
    flag_label: str = ""
    chargeable: bool = False
    lots: tuple[LotLine, ...] = ()


def stock_line(row: StoreStockRow) -> StockLine:
    levels = (
        f"{row.min_quantity:,} / {row.reorder_point:,} / {row.max_quantity:,}"
        if row.min_quantity is not None
        else ""
    )
    return StockLine(
        row.item_id,
        row.code,
        row.name,
        row.base_unit,
        row.on_hand,
        row.usable,
        row.expired,
        day(row.next_expiry),
        levels,
        row.bin,
        row.flag,
        FLAG_LABELS.get(row.flag, ""),
        row.chargeable,
        tuple(
            LotLine(lot.lot_id, lot.lot_number, day(lot.expiry_date), lot.quantity, lot.expired, lot.expiring)
            for lot in row.lots
        ),
    )


class StorePicker(rx.State, mixin=True):
    """A screen that works one store at a time, chosen among those the user may see (``purpose``:
    "read" every visible store, "issue" or "keep" those the user may work that way)."""

    stores: list[StoreOption] = []
    store_id: str = ""
    store_name: str = ""

    async def _load_stores(self, purpose: str = "read") -> bool:
        """Fill the choice; keep the store asked for in ?store= or shown before if still allowed."""
        choices = [store_option(s) for s in await self._read(visible_stores)]
        if purpose == "issue":
            choices = [s for s in choices if s.can_issue]
        elif purpose == "keep":
            choices = [s for s in choices if s.can_keep]
        self.stores = choices
        wanted = self.router.url.query_parameters.get("store", "") if self.router else ""
        ids = {s.id for s in choices}
        if isinstance(wanted, str) and wanted in ids:
            self.store_id = wanted
        elif self.store_id not in ids:
            self.store_id = choices[0].id if choices else ""
        self.store_name = next((s.label for s in choices if s.id == self.store_id), "")
        return bool(choices)

    def _pick_store(self, store_id) -> int:
        """A store the browser chose, refused unless it is one this screen offered."""
        wanted = str(browser_id(store_id, "store"))
        option = next((s for s in self.stores if s.id == wanted), None)
        if option is None:
            raise ValidationError("Choose one of the stores offered.", field="store")
        self.store_id, self.store_name = option.id, option.label
        return int(option.id)

    def _store(self) -> int:
        return int(self.store_id) if self.store_id.isdigit() else 0
