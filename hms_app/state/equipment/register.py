"""The equipment register (/equipment): one page of the register, its search and status filter,
and the dialogs that register, edit and change the status of a piece of equipment."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.clock import local_today
from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory.equipment import STATUS_FILTERS, search_equipment
from hms_app.services.inventory.maintenance_board import equipment_detail
from hms_app.state.equipment.common import (
    FILTER_OPTIONS,
    STATUS_LABELS,
    EquipmentDialogs,
    Option,
    day_label,
    due_tone,
    status_change_toast,
)
from hms_app.state.forms import form_text
from hms_app.state.session import SessionState, browser_id, pages_for, requires, turn_page

PAGE_SIZE = 20


@dataclass
class EquipmentLine:
    id: int = 0
    asset_tag: str = ""
    name: str = ""
    make: str = ""  # manufacturer and model
    serial_number: str = ""
    location: str = ""
    department: str = ""
    status: str = ""
    status_label: str = ""
    status_note: str = ""
    next_due: str = ""
    due_tone: str = ""  # overdue | soon | later | "" (no plan)
    open_work_orders: int = 0


class EquipmentRegisterState(EquipmentDialogs, SessionState):
    """One page of the register and its dialogs."""

    rows: list[EquipmentLine] = []
    total: int = 0
    page: int = 1
    query: str = ""
    status_filter: str = "current"
    filter_options: list[Option] = FILTER_OPTIONS
    loading: bool = True

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self):
        try:
            rows, total = await self._read(
                search_equipment,
                query=self.query,
                status=self.status_filter,
                offset=(self.page - 1) * PAGE_SIZE,
                limit=PAGE_SIZE,
            )
        except DomainError as error:
            self.loading = False
            return rx.toast.error(str(error))
        today = local_today()
        self.total = total
        self.rows = [
            EquipmentLine(
                id=r.id,
                asset_tag=r.asset_tag,
                name=r.name,
                make=" ".join(x for x in (r.manufacturer, r.model) if x),
                serial_number=r.serial_number,
                location=r.location,
                department=r.department,
                status=r.status,
                status_label=STATUS_LABELS.get(r.status, r.status),
                status_note=r.status_note,
                next_due=day_label(r.next_due),
                due_tone=due_tone((r.next_due - today).days) if r.next_due else "",
                open_work_orders=r.open_work_orders,
            )
            for r in rows
        ]
        self.loading = False
        return None

    @rx.event
    @requires("equipment.read")
    async def load(self):
        self._close_dialog()
        self.loading = True
        return await self._reload()

    @rx.event
    @requires("equipment.read")
    async def search(self, form: dict):
        try:
            query = form_text(form, "query", limit=60).strip()
            status = form_text(form, "status", limit=30) or self.status_filter
        except ValidationError as error:
            return rx.toast.error(str(error))
        if status not in STATUS_FILTERS:
            return rx.toast.error("Choose a status from the list.")
        self.query, self.status_filter, self.page = query, status, 1
        return await self._reload()

    @rx.event
    @requires("equipment.read")
    async def set_status_filter(self, status: str):
        if not isinstance(status, str) or status not in STATUS_FILTERS:
            return rx.toast.error("Choose a status from the list.")
        self.status_filter, self.page = status, 1
        return await self._reload()

    @rx.event
    @requires("equipment.read")
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload)

    # ------------------------------------------------------------------ dialogs

    def _shown(self, equipment_id) -> EquipmentLine:
        wanted = browser_id(equipment_id, "piece of equipment")
        for row in self.rows:
            if row.id == wanted:
                return row
        raise ValidationError("Choose a piece of equipment on the register.")

    @rx.event
    @requires("equipment.maintain")
    async def open_new(self):
        try:
            await self._open_equipment_form(None)
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("equipment.maintain")
    async def open_edit(self, equipment_id: int):
        try:
            row = self._shown(equipment_id)
            detail = await self._read(equipment_detail, equipment_id=row.id)
            await self._open_equipment_form(detail.equipment)
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("equipment.maintain")
    async def save_equipment(self, form: dict):
        editing = bool(self._dialog_equipment_id)
        saved = await self._save_equipment_form(form)
        if saved is None:
            return None
        problem = await self._reload()
        verb = "saved" if editing else "registered"
        return problem or rx.toast.success(f"{saved.asset_tag} {saved.name} {verb}.")

    @rx.event
    @requires("equipment.maintain")
    async def open_status(self, equipment_id: int):
        try:
            row = self._shown(equipment_id)
        except ValidationError as error:
            return rx.toast.error(str(error))
        if row.status == "retired":
            return rx.toast.error(f"{row.asset_tag} is retired; a retired item does not come back.")
        self._open_status_form(row.id, row.asset_tag, row.name, row.status)
        return None

    @rx.event
    @requires("equipment.maintain")
    async def save_status(self, form: dict):
        change = await self._save_status_form(form)
        if change is None:
            return None
        problem = await self._reload()
        return problem or rx.toast.success(status_change_toast(change))

    @rx.event
    @requires("equipment.read")
    async def dialog_open_change(self, is_open: bool):
        if not is_open:
            self._close_dialog()
