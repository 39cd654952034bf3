"""The stock catalogue's items (/inventory/items): the item list (search, category, paged), the item
dialog with every field's message at once, and an item's packs and its levels at each store.

Reading is for ``inventory.read``; every change is a storekeeper's (``inventory.manage``), checked
again by the services. The stores tab is ``catalogue_stores``; labels are ``label``.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError, field_messages
from hms_app.services.inventory import catalogue as svc
from hms_app.services.inventory.catalogue_views import (
    ItemDetail,
    ItemRow,
    catalogue_choices,
    item_detail,
    list_items,
    list_stores,
)
from hms_app.state.inventory.stock_common import PAGE_SIZE, text
from hms_app.state.session import SessionState, browser_id, pages_for, requires, turn_page

READ = "inventory.read"
MANAGE = "inventory.manage"
ITEM_FIELDS = (
    "code",
    "name",
    "category",
    "base_unit",
    "gtin",
    "chargeable",
    "charge_code",
    "track_lots",
    "supplier_id",
    "order_pack_size",
    "active",
)
PACK_FIELDS = ("name", "base_quantity", "gtin")
LEVEL_FIELDS = ("location_id", "min_quantity", "reorder_point", "max_quantity", "bin")


@dataclass(frozen=True)
class Choice:
    value: str = ""
    label: str = ""


@dataclass(frozen=True)
class ItemLine:
    id: int = 0
    code: str = ""
    name: str = ""
    category: str = ""
    category_label: str = ""
    unit: str = ""
    gtin: str = ""
    chargeable: bool = False
    charge_code: str = ""
    track_lots: bool = True
    active: bool = True
    on_hand: str = ""
    supplier_id: str = ""
    order_pack_size: str = "1"


@dataclass(frozen=True)
class PackLine:
    id: int = 0
    name: str = ""
    base_quantity: str = ""
    gtin: str = ""


@dataclass(frozen=True)
class LevelLine:
    location_id: str = ""
    store: str = ""
    min_quantity: str = ""
    reorder_point: str = ""
    max_quantity: str = ""
    bin: str = ""
    on_hand: str = ""


class CatalogueState(SessionState):
    """The items of the catalogue, the item dialog, and the item opened with its packs and levels."""

    loading: bool = True
    query: str = ""
    category: str = "all"
    rows: list[ItemLine] = []
    total: int = 0
    page: int = 1
    categories: list[Choice] = []
    suppliers: list[Choice] = []
    stores: list[Choice] = []
    tab: str = "items"  # items | stores

    dialog: str = ""  # "" | item | pack | level
    editing: ItemLine = ItemLine()
    editing_pack: PackLine = PackLine()
    editing_level: LevelLine = LevelLine()
    field_errors: dict[str, str] = {}
    form_error: str = ""
    saving: bool = False

    opened: ItemLine = ItemLine()  # the item whose packs and levels are shown
    packs: list[PackLine] = []
    levels: list[LevelLine] = []

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    def _labels(self) -> dict[str, str]:
        return {c.value: c.label for c in self.categories}

    def _line(self, row: ItemRow, supplier_id: int | None = None, pack_size: int = 1) -> ItemLine:
        return ItemLine(
            row.id,
            row.code,
            row.name,
            row.category,
            self._labels().get(row.category, row.category),
            row.base_unit,
            row.gtin,
            row.chargeable,
            row.charge_code,
            row.track_lots,
            row.active,
            f"{row.on_hand:,} {row.base_unit}",
            str(supplier_id or ""),
            str(pack_size),
        )

    async def _reload(self) -> None:
        rows, total = await self._read(
            list_items,
            query=self.query,
            category="" if self.category == "all" else self.category,
            offset=(self.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        self.rows, self.total = [self._line(r) for r in rows], total
        if self.opened.id:
            await self._open_item(self.opened.id)

    async def _open_item(self, item_id: int) -> None:
        detail: ItemDetail = await self._read(item_detail, item_id=item_id)
        self.opened = self._line(detail.item, detail.supplier_id, detail.order_pack_size)
        self.packs = [PackLine(p.id, p.name, str(p.base_quantity), p.gtin) for p in detail.packs]
        self.levels = [
            LevelLine(
                str(lv.location_id),
                lv.store,
                str(lv.min_quantity),
                str(lv.reorder_point),
                str(lv.max_quantity),
                lv.bin,
                f"{lv.on_hand:,}",
            )
            for lv in detail.levels
        ]

    @rx.event
    @requires(READ)
    async def load(self):
        self.loading, self.dialog = True, ""
        yield
        try:
            choices = await self._read(catalogue_choices)
            self.categories = [Choice(code, label) for code, label in choices.categories]
            self.suppliers = [Choice(str(i), name) for i, name in choices.suppliers]
            wanted = self.router.url.query_parameters.get("item", "") if self.router else ""
            await self._reload()
            if isinstance(wanted, str) and wanted.isdigit() and len(wanted) < 10:
                await self._open_item(int(wanted))
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires(READ)
    async def set_tab(self, tab: str):
        if tab in ("items", "stores"):
            self.tab = tab

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
    async def set_category(self, value: str):
        self.category = value if value in {c.value for c in self.categories} else "all"
        self.page = 1
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

    @rx.event
    @requires(READ)
    async def open_item(self, item_id: int):
        try:
            wanted = browser_id(item_id, "item")
            if wanted not in {r.id for r in self.rows}:
                raise ValidationError("That item is no longer on this page: search for it again.")
            await self._open_item(wanted)
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires(READ)
    async def close_item(self):
        self.opened, self.packs, self.levels = ItemLine(), [], []

    # ------------------------------------------------------------------ dialogs

    def _dialog(self, name: str) -> None:
        self.dialog, self.field_errors, self.form_error, self.saving = name, {}, "", False

    def _fail(self, error: DomainError, fields: tuple[str, ...]) -> None:
        self.saving = False
        shown = field_messages(error, fields)
        self.form_error = shown.pop("", "")
        self.field_errors = shown

    async def _saved(self, message: str):
        self._dialog("")
        try:
            await self._reload()
        except DomainError as error:
            return [rx.toast.success(message), rx.toast.error(str(error))]
        return rx.toast.success(message)

    @rx.event
    @requires(MANAGE)
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self._dialog("")

    @rx.event
    @requires(MANAGE)
    async def new_item(self):
        self.editing = ItemLine(category="supply", unit="each", track_lots=True, active=True)
        self._dialog("item")

    @rx.event
    @requires(MANAGE)
    async def edit_item(self):
        if not self.opened.id:
            return rx.toast.error("Open the item to edit first.")
        self.editing = self.opened
        self._dialog("item")
        return None

    @rx.event
    @requires(MANAGE)
    async def save_item(self, form: dict):
        self.saving = True
        try:
            data = {key: text(form, key, 200) for key in ITEM_FIELDS}
            data["supplier_id"] = "" if data["supplier_id"] == "none" else data["supplier_id"]
            saved = await self._run(svc.save_item, data=data, item_id=self.editing.id or None)
            self.opened = ItemLine(id=saved.id)
        except DomainError as error:
            self._fail(error, ITEM_FIELDS)
            return None
        return await self._saved(f"{saved.code} {saved.name} saved.")

    @rx.event
    @requires(MANAGE)
    async def new_pack(self):
        self.editing_pack = PackLine()
        self._dialog("pack")

    @rx.event
    @requires(MANAGE)
    async def edit_pack(self, pack_id: int):
        try:
            wanted = browser_id(pack_id, "pack")
        except ValidationError as error:
            return rx.toast.error(str(error))
        pack = next((p for p in self.packs if p.id == wanted), None)
        if pack is None:
            return rx.toast.error("Choose a pack shown for the item.")
        self.editing_pack = pack
        self._dialog("pack")
        return None

    @rx.event
    @requires(MANAGE)
    async def save_pack(self, form: dict):
        if not self.opened.id:
            return None
        self.saving = True
        try:
            data = {key: text(form, key, 40) for key in PACK_FIELDS}
            pack = await self._run(
                svc.save_pack, item_id=self.opened.id, data=data, pack_id=self.editing_pack.id or None
            )
        except DomainError as error:
            self._fail(error, PACK_FIELDS)
            return None
        return await self._saved(
            f"The {pack.name} of {self.opened.code} holds {pack.base_quantity:,} {self.opened.unit}."
        )

    @rx.event
    @requires(MANAGE)
    async def remove_pack(self, pack_id: int):
        try:
            wanted = browser_id(pack_id, "pack")
            if wanted not in {p.id for p in self.packs}:
                raise ValidationError("Choose a pack shown for the item.")
            label = await self._run(svc.remove_pack, pack_id=wanted)
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success(f"The {label} is removed.")

    @rx.event
    @requires(MANAGE)
    async def edit_level(self, location_id: str):
        try:
            if not self.stores:
                self.stores = [
                    Choice(str(s.id), f"{s.name} ({s.code})")
                    for s in await self._read(list_stores)
                    if s.active
                ]
        except DomainError as error:
            return rx.toast.error(str(error))
        level = next((lv for lv in self.levels if lv.location_id == location_id), None)
        self.editing_level = level or LevelLine()
        self._dialog("level")
        return None

    @rx.event
    @requires(MANAGE)
    async def save_level(self, form: dict):
        if not self.opened.id:
            return None
        self.saving = True
        try:
            store = text(form, "location_id", 12)
            if store not in {c.value for c in self.stores}:
                raise ValidationError("Choose the store.", field="location_id")
            data = {key: text(form, key, 20) for key in LEVEL_FIELDS}
            await self._run(svc.save_level, item_id=self.opened.id, location_id=int(store), data=data)
        except DomainError as error:
            self._fail(error, LEVEL_FIELDS)
            return None
        where = next(c.label for c in self.stores if c.value == store)
        return await self._saved(f"Levels of {self.opened.code} at {where} saved.")

    @rx.event
    @requires(MANAGE)
    async def remove_level(self, location_id: str):
        try:
            level = next((lv for lv in self.levels if lv.location_id == location_id), None)
            if level is None:
                raise ValidationError("Choose a store shown for the item.")
            said = await self._run(
                svc.remove_level, item_id=self.opened.id, location_id=int(level.location_id)
            )
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success(f"{said}: no longer replenished.")
