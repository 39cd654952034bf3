"""The catalogue's stores tab (/inventory/items): every store with its kind, department, ward and how
many items it holds; the store dialog (a storekeeper's) with every field's message at once."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError, field_messages
from hms_app.services.inventory.catalogue import save_store
from hms_app.services.inventory.catalogue_views import catalogue_choices, list_stores
from hms_app.state.inventory.stock_common import text
from hms_app.state.session import SessionState, browser_id, requires

READ = "inventory.read"
MANAGE = "inventory.manage"
STORE_FIELDS = ("code", "name", "kind", "department_id", "ward_id", "active")


@dataclass(frozen=True)
class Choice:
    value: str = ""
    label: str = ""


@dataclass(frozen=True)
class StoreLine:
    id: int = 0
    code: str = ""
    name: str = ""
    kind: str = "central"
    kind_label: str = ""
    department_id: str = ""
    department: str = ""
    ward_id: str = ""
    ward: str = ""
    active: bool = True
    items_held: int = 0


class CatalogueStoresState(SessionState):
    loading: bool = True
    rows: list[StoreLine] = []
    kinds: list[Choice] = []
    departments: list[Choice] = []
    wards: list[Choice] = []
    dialog_open: bool = False
    editing: StoreLine = StoreLine()
    field_errors: dict[str, str] = {}
    form_error: str = ""
    saving: bool = False

    async def _reload(self) -> None:
        labels = {c.value: c.label for c in self.kinds}
        self.rows = [
            StoreLine(
                s.id,
                s.code,
                s.name,
                s.kind,
                labels.get(s.kind, s.kind),
                str(s.department_id or ""),
                s.department,
                str(s.ward_id or ""),
                s.ward,
                s.active,
                s.items_held,
            )
            for s in await self._read(list_stores)
        ]

    @rx.event
    @requires(READ)
    async def load(self):
        self.loading, self.dialog_open = True, False
        yield
        try:
            choices = await self._read(catalogue_choices)
            self.kinds = [Choice(code, label) for code, label in choices.kinds]
            self.departments = [Choice(str(i), name) for i, name in choices.departments]
            self.wards = [Choice(str(i), name) for i, name in choices.wards]
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    def _open(self, line: StoreLine | None) -> None:
        self.editing = line or StoreLine()
        self.dialog_open, self.field_errors, self.form_error, self.saving = True, {}, "", False

    @rx.event
    @requires(MANAGE)
    async def new_store(self):
        self._open(None)

    @rx.event
    @requires(MANAGE)
    async def edit_store(self, store_id: int):
        try:
            wanted = browser_id(store_id, "store")
        except ValidationError as error:
            return rx.toast.error(str(error))
        line = next((r for r in self.rows if r.id == wanted), None)
        if line is None:
            return rx.toast.error("Choose a store from the list.")
        self._open(line)
        return None

    @rx.event
    @requires(MANAGE)
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self.dialog_open = False

    @rx.event
    @requires(MANAGE)
    async def save(self, form: dict):
        self.saving = True
        try:
            data = {key: text(form, key, 120) for key in STORE_FIELDS}
            for key in ("department_id", "ward_id"):
                data[key] = "" if data[key] == "none" else data[key]
            store = await self._run(save_store, data=data, location_id=self.editing.id or None)
            await self._reload()
        except DomainError as error:
            self.saving = False
            shown = field_messages(error, STORE_FIELDS)
            self.form_error = shown.pop("", "")
            self.field_errors = shown
            return None
        self.dialog_open, self.saving = False, False
        return rx.toast.success(f"{store.name} ({store.code}) saved.")
