"""What the purchasing, supplier and stock-count screens share: money and dates as text, the id in
an address, the store and supplier pickers, and reading a dialog's refusal into field messages.

What is on screen only; every write goes through ``hms_app/services/inventory/``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError, field_messages
from hms_app.money import format_money, parse_money
from hms_app.services.inventory.order_views import ItemChoice, find_items, store_choices
from hms_app.services.inventory.suppliers import supplier_choices
from hms_app.state.forms import form_text
from hms_app.state.session import SessionState

ALL = "all"  # a select's "no filter" value (a Radix select item cannot be "")
FORM_LIMIT = 300
MAX_QUERY = 60


def money(cents: int | None) -> str:
    return format_money(cents or 0, symbol="$")


def cost_cents(text: str, field: str = "unit_cost") -> int:
    """A unit cost a person typed ("0.25", "1,20") in cents; blank is zero (a free sample)."""
    return parse_money(text, field=field, label="the unit cost", allow_zero=True, blank_is_zero=True)


def day(value: date | None) -> str:
    return value.strftime("%d %b %Y") if value else ""


def moment(value: datetime | None) -> str:
    return format_local(value, "%d %b %Y %H:%M")


def quantity(value: int | None, unit: str = "") -> str:
    if value is None:
        return ""
    return f"{value:,}" + (f" {unit}" if unit else "")


def text(form: dict, key: str, limit: int = FORM_LIMIT) -> str:
    """One submitted value as text, trimmed."""
    return form_text(form, key, limit=limit).strip()


def route_id(path: str, pattern: str, what: str) -> int:
    match = re.match(pattern, path or "")
    raw = match.group(1) if match else ""
    if not raw.isdigit() or len(raw) > 12 or int(raw) <= 0:
        raise ValidationError(f"This address does not name {what}. Open it from its list.")
    return int(raw)


def messages(error: DomainError, fields: tuple[str, ...] | None = None) -> tuple[dict[str, str], str]:
    """A refusal as messages under the dialog's fields and one above its buttons. ``fields`` None
    keeps every named field (a receipt's per-line fields are named by their line)."""
    if fields is None:
        found = getattr(error, "errors", None) or {error.field or "": str(error)}
        shown = {key: value for key, value in found.items() if key}
        return shown, found.get("", "")
    shown = field_messages(error, fields)
    general = shown.pop("", "")
    return shown, general


@dataclass
class Option:
    id: str = ""
    label: str = ""


@dataclass
class ItemOption:
    id: int = 0
    code: str = ""
    name: str = ""
    unit: str = ""
    pack: int = 1
    cost: str = ""  # the average cost as text: what the line's unit cost starts at
    tracked: bool = True


def item_option(item: ItemChoice) -> ItemOption:
    return ItemOption(
        item.id,
        item.code,
        item.name,
        item.base_unit,
        item.pack_size,
        format_money(item.unit_cost_cents),
        item.track_lots,
    )


async def load_stores(state: SessionState) -> list[Option]:
    return [Option(str(s.id), s.name) for s in await state._read(store_choices)]


async def load_suppliers(state: SessionState) -> list[Option]:
    return [
        Option(str(s.id), f"{s.name} ({s.lead_time_days} d)") for s in await state._read(supplier_choices)
    ]


async def search_items(state: SessionState, value) -> list[ItemOption]:
    query = value if isinstance(value, str) else ""
    if len(query) > MAX_QUERY:
        raise ValidationError(f"Search for at most {MAX_QUERY} characters.", field="item")
    if len(query.strip()) < 2:
        return []
    return [item_option(i) for i in await state._read(find_items, query=query)]


def picked_id(value, options: list[Option], what: str, field: str) -> int:
    """An id chosen from a list this tab was shown; anything else is refused at ``field``."""
    text_value = str(value or "").strip()
    if text_value not in {o.id for o in options}:
        raise ValidationError(f"Choose a {what} from the list.", field=field)
    return int(text_value)


REASON_FIELDS = ("reason",)


class PurchaseDialogs(rx.State, mixin=True):
    """Mixed into a purchasing screen's state (before ``SessionState``): its open dialog, the
    messages under its fields, and the steps every dialog takes. The state keeps its own guarded
    handlers and its ``_done(message)`` (how it reloads after a change)."""

    dialog: str = ""
    field_errors: dict[str, str] = {}
    error_text: str = ""
    saving: bool = False

    def _open(self, dialog: str) -> None:
        self.dialog, self.field_errors, self.error_text, self.saving = dialog, {}, "", False

    def _fail(self, error: DomainError, fields: tuple[str, ...] | None) -> None:
        self.saving = False
        self.field_errors, self.error_text = messages(error, fields)

    async def _done(self, message: str):
        raise NotImplementedError

    async def _with_reason(self, form: dict, service, done: str, **arguments):
        """A dialog that only asks why: run ``service`` with the reason, then say ``done`` (an
        async generator: the handler yields its updates)."""
        try:
            reason = text(form, "reason")
        except ValidationError as error:
            self._fail(error, REASON_FIELDS)
            return
        self.saving = True
        yield
        try:
            await self._run(service, reason=reason, **arguments)
        except DomainError as error:
            self._fail(error, REASON_FIELDS)
            return
        yield await self._done(done)
