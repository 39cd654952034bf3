"""Suppliers (/inventory/suppliers): one page of suppliers and the dialog that adds or edits one,
with a message under each field the service refuses."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory import suppliers
from hms_app.state.inventory.purchase_common import MAX_QUERY, messages, text
from hms_app.state.session import SessionState, browser_id, pages_for, requires, turn_page

PAGE_SIZE = 25
FIELDS = ("name", "contact", "email", "phone", "lead_time_days")


@dataclass
class SupplierLine:
    id: int = 0
    name: str = ""
    contact: str = ""
    email: str = ""
    phone: str = ""
    lead_time: str = ""
    lead_time_days: int = 0
    active: bool = True
    item_count: int = 0
    open_orders: int = 0


def _line(row: suppliers.SupplierRow) -> SupplierLine:
    return SupplierLine(
        row.id,
        row.name,
        row.contact,
        row.email,
        row.phone,
        f"{row.lead_time_days} d",
        row.lead_time_days,
        row.active,
        row.items,
        row.open_orders,
    )


class SuppliersState(SessionState):
    loading: bool = True
    rows: list[SupplierLine] = []
    total: int = 0
    page: int = 1
    query: str = ""

    dialog: str = ""  # "" | create | edit
    editing: SupplierLine = SupplierLine()
    form_active: bool = True
    field_errors: dict[str, str] = {}
    error_text: str = ""
    saving: bool = False
    form_key: int = 0  # a new key redraws the form, so its fields start from the row edited

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self):
        try:
            rows, total = await self._read(
                suppliers.list_suppliers,
                query=self.query,
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
        yield await self._reload()

    @rx.event
    @requires("inventory.read")
    async def set_query(self, value: str):
        value = value if isinstance(value, str) else ""
        if len(value) > MAX_QUERY:
            return rx.toast.error(f"Search for at most {MAX_QUERY} characters.")
        self.query, self.page = value, 1
        return await self._reload()

    @rx.event
    @requires("inventory.read")
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload)

    def _open(self, dialog: str, line: SupplierLine) -> None:
        self.dialog, self.editing, self.form_active = dialog, line, line.active
        self.field_errors, self.error_text, self.saving = {}, "", False
        self.form_key += 1

    @rx.event
    @requires("inventory.manage")
    async def open_create(self):
        self._open("create", SupplierLine(lead_time_days=7))

    @rx.event
    @requires("inventory.manage")
    async def open_edit(self, supplier_id: int):
        try:
            wanted = browser_id(supplier_id, "supplier")
        except DomainError as error:
            return rx.toast.error(str(error))
        line = next((r for r in self.rows if r.id == wanted), None)
        if line is None:
            return rx.toast.error("That supplier is no longer on this page. Reload and try again.")
        self._open("edit", line)
        return None

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
    @requires("inventory.manage")
    async def set_form_active(self, checked: bool):
        self.form_active = checked is True

    @rx.event
    @requires("inventory.manage")
    async def submit(self, form: dict):
        try:
            data = {key: text(form, key, 200) for key in FIELDS}
        except ValidationError as error:
            self.field_errors, self.error_text = messages(error, FIELDS)
            return
        data["active"] = self.form_active
        self.saving = True
        yield
        try:
            if self.dialog == "edit" and self.editing.id:
                saved = await self._run(suppliers.update_supplier, supplier_id=self.editing.id, data=data)
                message = f"{saved.name} saved."
            else:
                saved = await self._run(suppliers.create_supplier, data=data)
                message = f"{saved.name} added to the suppliers."
        except DomainError as error:
            self.saving = False
            self.field_errors, self.error_text = messages(error, FIELDS)
            return
        self.dialog, self.saving = "", False
        problem = await self._reload()
        yield [rx.toast.success(message), problem] if problem else rx.toast.success(message)
