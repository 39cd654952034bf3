"""Stock counts (/inventory/counts): one page of counts with their progress, and the dialog that
starts one (a full count, the items counted longest ago, or chosen items)."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory import count_views, counts
from hms_app.state.inventory.purchase_common import (
    ALL,
    ItemOption,
    Option,
    load_stores,
    messages,
    moment,
    picked_id,
    search_items,
    text,
)
from hms_app.state.session import SessionState, pages_for, requires, turn_page

PAGE_SIZE = 20
STATUS_FILTERS = [Option(key, label) for key, label in count_views.COUNT_FILTERS.items()]
START_FIELDS = ("location_id", "kind", "oldest", "item_ids")
# How a count chooses what to count: every lot, the items counted longest ago, or chosen items.
HOW = {
    "full": "Full count: every lot the store holds",
    "oldest": "Cycle: the items counted longest ago",
    "chosen": "Cycle: items I choose",
}


@dataclass
class CountLine:
    id: int = 0
    reference: str = ""
    store: str = ""
    kind: str = ""
    status: str = ""
    status_label: str = ""
    started: str = ""
    started_by: str = ""
    progress: str = ""
    variances: int = 0
    approved_by: str = ""


def _line(row: count_views.CountRow) -> CountLine:
    return CountLine(
        row.id,
        row.reference,
        row.location,
        counts.COUNT_KINDS.get(row.kind, row.kind),
        row.status,
        counts.COUNT_STATUS_LABELS.get(row.status, row.status),
        moment(row.started_at),
        row.started_by,
        f"{row.counted:,} of {row.lines:,}",
        row.variances,
        row.approved_by,
    )


class CountsState(SessionState):
    loading: bool = True
    rows: list[CountLine] = []
    total: int = 0
    page: int = 1
    status_filter: str = "open"
    store_filter: str = ALL
    stores: list[Option] = []

    dialog: str = ""  # "" | start
    how: str = "oldest"
    chosen: list[ItemOption] = []
    item_options: list[ItemOption] = []
    field_errors: dict[str, str] = {}
    error_text: str = ""
    saving: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self):
        try:
            rows, total = await self._read(
                count_views.list_counts,
                status=self.status_filter,
                location_id=None if self.store_filter == ALL else int(self.store_filter),
                offset=(self.page - 1) * PAGE_SIZE,
                limit=PAGE_SIZE,
            )
        except DomainError as error:
            self.loading = False
            return rx.toast.error(str(error))
        self.rows, self.total, self.loading = [_line(r) for r in rows], total, False
        return None

    @rx.event
    @requires("inventory.read")
    async def load(self):
        self.loading, self.dialog = True, ""
        yield
        try:
            self.stores = await load_stores(self)
        except DomainError as error:
            yield rx.toast.error(str(error))
            return
        if self.store_filter != ALL and self.store_filter not in {s.id for s in self.stores}:
            self.store_filter = ALL
        yield await self._reload()

    @rx.event
    @requires("inventory.read")
    async def set_status_filter(self, value: str):
        if value not in count_views.COUNT_FILTERS:
            return rx.toast.error("Choose a status from the list.")
        self.status_filter, self.page = value, 1
        return await self._reload()

    @rx.event
    @requires("inventory.read")
    async def set_store_filter(self, value: str):
        if value != ALL and value not in {s.id for s in self.stores}:
            return rx.toast.error("Choose a store from the list.")
        self.store_filter, self.page = value, 1
        return await self._reload()

    @rx.event
    @requires("inventory.read")
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload)

    # ------------------------------------------------------------------ starting a count

    @rx.event
    @requires("inventory.keep")
    async def open_start(self):
        self.dialog, self.how, self.chosen, self.item_options = "start", "oldest", [], []
        self.field_errors, self.error_text, self.saving = {}, "", False

    @rx.event
    @requires("inventory.read")
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self.dialog, self.saving = "", False

    @rx.event
    @requires("inventory.read")
    async def close_dialog(self):
        self.dialog, self.saving = "", False

    @rx.event
    @requires("inventory.keep")
    async def set_how(self, value: str):
        if value not in HOW:
            return rx.toast.error("Choose how to count from the list.")
        self.how = value
        self.field_errors = {}
        return None

    @rx.event
    @requires("inventory.keep")
    async def search_item(self, value: str):
        try:
            found = await search_items(self, value)
        except DomainError as error:
            self.field_errors = {"item_ids": str(error)}
            return
        chosen = {o.id for o in self.chosen}
        self.item_options = [o for o in found if o.id not in chosen]

    @rx.event
    @requires("inventory.keep")
    async def choose_item(self, item_id: int):
        option = next((o for o in self.item_options if o.id == item_id), None)
        if option is None:
            return rx.toast.error("Choose an item from the list.")
        if len(self.chosen) >= counts.MAX_CYCLE_ITEMS:
            return rx.toast.error(f"A cycle count takes at most {counts.MAX_CYCLE_ITEMS} items.")
        self.chosen = [*self.chosen, option]
        self.item_options = [o for o in self.item_options if o.id != item_id]
        self.field_errors = {}
        return None

    @rx.event
    @requires("inventory.keep")
    async def drop_item(self, item_id: int):
        self.chosen = [o for o in self.chosen if o.id != item_id]

    @rx.event
    @requires("inventory.keep")
    async def submit_start(self, form: dict):
        try:
            location_id = picked_id(text(form, "location_id"), self.stores, "store", "location_id")
            options: dict = {"location_id": location_id, "kind": "full" if self.how == "full" else "cycle"}
            if self.how == "oldest":
                options["oldest"] = text(form, "oldest", 6)
            elif self.how == "chosen":
                if not self.chosen:
                    raise ValidationError("Search for the items to count and choose them.", field="item_ids")
                options["item_ids"] = [o.id for o in self.chosen]
        except ValidationError as error:
            self.field_errors, self.error_text = messages(error, START_FIELDS)
            return
        self.saving = True
        yield
        try:
            count = await self._run(counts.start_count, **options)
        except DomainError as error:
            self.saving = False
            self.field_errors, self.error_text = messages(error, START_FIELDS)
            return
        self.dialog, self.saving = "", False
        yield [
            rx.toast.success(f"{count.reference} started: the book is frozen, count the shelves."),
            rx.redirect(f"/inventory/counts/{count.id}"),
        ]
