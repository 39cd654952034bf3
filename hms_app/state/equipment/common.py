"""What the equipment screens share: words and dates as shown, the register's row as the form
edits it, and the dialogs that register, edit and change the status of a piece of equipment
(the register and the item page both offer them).

``EquipmentDialogs`` is a mixin of vars and helpers only: each page's state declares its own
guarded handlers that call them, so every handler stays visible to the handler-guard test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

import reflex as rx

from hms_app.clock import format_local, local_today
from hms_app.errors import DomainError, ValidationError, field_messages
from hms_app.money import format_money
from hms_app.services.inventory.equipment import (
    EQUIPMENT_FIELDS,
    STATUS_FILTERS,
    STATUS_LABELS,
    change_equipment_status,
    edit_equipment,
    equipment_choices,
    register_equipment,
)
from hms_app.services.inventory.maintenance import (
    PLAN_KIND_LABELS,
    WORK_ORDER_KIND_LABELS,
    WORK_ORDER_STATUS_LABELS,
)
from hms_app.state.forms import form_text

FORM_LIMIT = 300
WATCH_REASON = "only waits for change notices and reads no data; the refresh it triggers is guarded"

__all__ = [
    "PLAN_KIND_LABELS",
    "STATUS_FILTERS",
    "STATUS_LABELS",
    "WORK_ORDER_KIND_LABELS",
    "WORK_ORDER_STATUS_LABELS",
]


def day_label(day: date | None) -> str:
    return day.strftime("%d %b %Y") if day else ""


def moment_label(moment: datetime | None) -> str:
    return format_local(moment, "%d %b %Y %H:%M") if moment else ""


def money_label(cents: int | None) -> str:
    return "" if cents is None else format_money(cents, symbol="$")


def due_words(days_left: int) -> str:
    """ "Overdue 3 days", "Due today", "Due in 5 days"."""
    if days_left < 0:
        return f"Overdue {-days_left} day{'s' if days_left != -1 else ''}"
    if days_left == 0:
        return "Due today"
    return f"Due in {days_left} day{'s' if days_left != 1 else ''}"


def due_tone(days_left: int) -> str:
    """How a due date is coloured: red overdue, amber within a week, grey later."""
    return "overdue" if days_left < 0 else ("soon" if days_left <= 7 else "later")


def minutes_label(minutes: int) -> str:
    """90 -> "1 h 30 min"."""
    hours, rest = divmod(int(minutes or 0), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


@dataclass
class Option:
    value: str = ""
    label: str = ""


STATUS_OPTIONS = [Option(code, label) for code, label in STATUS_LABELS.items()]
FILTER_OPTIONS = [Option(code, label) for code, label in STATUS_FILTERS.items()]


@dataclass
class EquipmentForm:
    """A piece of equipment as its form shows it (text in every field; "" for none)."""

    id: int = 0
    asset_tag: str = ""
    name: str = ""
    serial_number: str = ""
    model: str = ""
    manufacturer: str = ""
    location_id: str = "none"
    department_id: str = "none"
    resource_id: str = "none"
    purchase_date: str = ""
    purchase_cost: str = ""
    warranty_end: str = ""
    status: str = "in_service"


def equipment_form(row: Any) -> EquipmentForm:
    """The form's values for a register row (an ``EquipmentView`` from a service)."""

    def chosen(value) -> str:
        return str(value) if value else "none"

    return EquipmentForm(
        id=row.id,
        asset_tag=row.asset_tag,
        name=row.name,
        serial_number=row.serial_number or "",
        model=row.model or "",
        manufacturer=row.manufacturer or "",
        location_id=chosen(row.location_id),
        department_id=chosen(row.department_id),
        resource_id=chosen(row.resource_id),
        purchase_date=row.purchase_date.isoformat() if row.purchase_date else "",
        purchase_cost=format_money(row.purchase_cost_cents).replace(",", "")
        if row.purchase_cost_cents is not None
        else "",
        warranty_end=row.warranty_end.isoformat() if row.warranty_end else "",
        status=row.status,
    )


class EquipmentDialogs(rx.State, mixin=True):
    """The register / edit dialog (``dialog == "equipment"``) and the status dialog
    (``dialog == "status"``) of a page; the page's own handlers open and submit them."""

    FORM_FIELDS: ClassVar[tuple[str, ...]] = (*EQUIPMENT_FIELDS, "status")

    dialog: str = ""
    editing: EquipmentForm = EquipmentForm()
    form_key: int = 0  # a new key remounts the form, so its default values are the new ones
    field_errors: dict[str, str] = {}
    form_error: str = ""
    saving: bool = False
    locations: list[Option] = []
    departments: list[Option] = []
    resources: list[Option] = []
    status_options: list[Option] = []
    status_subject: str = ""

    _dialog_equipment_id: int = 0  # what the open dialog acts on: an id this page was shown

    def _close_dialog(self) -> None:
        self.dialog, self.field_errors, self.form_error, self.saving = "", {}, "", False
        self._dialog_equipment_id = 0

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        shown = field_messages(error, self.FORM_FIELDS)
        self.form_error = shown.pop("", "")
        self.field_errors = shown

    async def _load_choices(self) -> None:
        choices = await self._read(equipment_choices)
        self.locations = [Option(str(c.id), c.label) for c in choices.locations]
        self.departments = [Option(str(c.id), c.label) for c in choices.departments]
        self.resources = [Option(str(c.id), c.label) for c in choices.resources]

    async def _open_equipment_form(self, row: Any | None) -> None:
        """New (``row`` None) or edit a row the page was shown."""
        self._close_dialog()
        await self._load_choices()
        self.editing = equipment_form(row) if row is not None else EquipmentForm()
        self._dialog_equipment_id = row.id if row is not None else 0
        self.form_key += 1
        self.dialog = "equipment"

    async def _save_equipment_form(self, form: dict):
        """Register or save the edit; the saved row, or None with the messages shown at the fields."""
        try:
            data = {name: form_text(form, name, limit=FORM_LIMIT) for name in EQUIPMENT_FIELDS}
        except ValidationError as error:
            self._fail(error)
            return None
        self.saving = True
        try:
            if self._dialog_equipment_id:
                saved = await self._run(edit_equipment, equipment_id=self._dialog_equipment_id, data=data)
            else:
                saved = await self._run(register_equipment, data=data)
        except DomainError as error:
            self._fail(error)
            return None
        self._close_dialog()
        return saved

    def _open_status_form(self, equipment_id: int, asset_tag: str, name: str, status: str) -> None:
        self._close_dialog()
        self.status_subject = f"{asset_tag} {name} · now {STATUS_LABELS.get(status, status).lower()}"
        self.status_options = [o for o in STATUS_OPTIONS if o.value != status]
        self._dialog_equipment_id = equipment_id
        self.form_key += 1
        self.dialog = "status"

    async def _save_status_form(self, form: dict):
        """The status change, or None with its message shown."""
        try:
            status = form_text(form, "status", limit=30)
            reason = form_text(form, "reason", limit=FORM_LIMIT)
        except ValidationError as error:
            self._fail(error)
            return None
        if not status:
            self._fail(ValidationError("Choose the new status.", field="status"))
            return None
        self.saving = True
        try:
            change = await self._run(
                change_equipment_status, equipment_id=self._dialog_equipment_id, status=status, reason=reason
            )
        except DomainError as error:
            self._fail(error)
            return None
        self._close_dialog()
        return change


def status_change_toast(change) -> str:
    said = f"{change.asset_tag} is {STATUS_LABELS.get(change.status, change.status).lower()}."
    if change.appointments_ahead:
        n = change.appointments_ahead
        said += f" {n} booked appointment{'s' if n != 1 else ''} on it need{'s' if n == 1 else ''} moving."
    return said


def today_label() -> str:
    return day_label(local_today())
