"""The service catalogue and payer price lists (/billing/catalogue)."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError
from hms_app.services.billing import catalogue
from hms_app.services.billing.money import format_money
from hms_app.state.billing.common import PAGE_SIZE, _text, _turn_page, money
from hms_app.state.session import SessionState, browser_id, pages_for, requires


@dataclass
class CatalogueLine:
    id: int = 0
    code: str = ""
    name: str = ""
    category: str = ""
    department: str = ""
    department_id: str = ""
    price: str = ""
    price_plain: str = ""
    tax: str = ""
    tax_plain: str = ""
    active: bool = True


@dataclass
class PriceListLine:
    id: int = 0
    payer: str = ""
    name: str = ""
    valid: str = ""
    item_count: int = 0


class CatalogueState(SessionState):
    loading: bool = True
    query: str = ""
    rows: list[CatalogueLine] = []
    total: int = 0
    page: int = 1
    departments: list[list[str]] = []
    price_lists: list[PriceListLine] = []
    price_list_id: int = 0
    price_items: list[dict[str, str]] = []
    dialog: str = ""  # "" | service | price
    editing: CatalogueLine = CatalogueLine()
    error: str = ""

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self) -> None:
        rows, total = await self._run(
            catalogue.list_catalogue, query=self.query, offset=(self.page - 1) * PAGE_SIZE, limit=PAGE_SIZE
        )
        self.total = total
        self.rows = [
            CatalogueLine(
                r.id,
                r.code,
                r.name,
                r.category,
                r.department,
                str(r.department_id or ""),
                money(r.price_cents),
                format_money(r.price_cents).replace(",", ""),
                f"{r.tax_rate_bp / 100:g} %",
                f"{r.tax_rate_bp // 100}.{r.tax_rate_bp % 100:02d}",
                r.active,
            )
            for r in rows
        ]
        self.price_lists = [
            PriceListLine(
                p.id,
                p.payer,
                p.name,
                p.valid_from.isoformat() + " – " + (p.valid_to.isoformat() if p.valid_to else "open"),
                p.items,
            )
            for p in await self._run(catalogue.list_price_lists)
        ]
        if self.price_list_id:
            await self._load_items()

    async def _load_items(self) -> None:
        self.price_items = [
            {"code": c, "name": n, "list": money(lp), "price": money(p)}
            for c, n, lp, p in await self._run(
                catalogue.list_price_list_items, price_list_id=self.price_list_id
            )
        ]

    @rx.event
    @requires("billing.read")
    async def load(self):
        self.loading = True
        yield
        try:
            self.departments = [[str(i), n] for i, n in await self._run(catalogue.list_departments)]
            await self._reload()
        except DomainError as error:
            yield rx.toast.error(str(error))
        self.loading = False

    @rx.event
    @requires("billing.read")
    async def search(self, form: dict):
        try:
            self.query, self.page = _text(form, "query", 60), 1
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("billing.read")
    async def move(self, step: int):
        return await _turn_page(self, "page", step, self.page_count, self._reload)

    @rx.event
    @requires("billing.read")
    async def show_price_list(self, price_list_id: int):
        try:
            self.price_list_id = browser_id(price_list_id, "price list")
            await self._load_items()
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("billing.post")
    async def edit_service(self, code: str):
        row = next((r for r in self.rows if r.code == code), None)
        self.editing = (
            row if row is not None else CatalogueLine(category="procedure", price_plain="", tax_plain="0")
        )
        self.dialog, self.error = "service", ""

    @rx.event
    @requires("billing.post")
    async def open_price(self):
        if not self.price_list_id:
            return rx.toast.error("Choose a price list first.")
        self.dialog, self.error = "price", ""
        return None

    @rx.event
    @requires("billing.read")
    async def set_dialog_open(self, is_open: bool):
        if not is_open:
            self.dialog, self.error = "", ""

    @rx.event
    @requires("billing.post")
    async def save_service(self, form: dict):
        try:
            data = {
                k: _text(form, k)
                for k in ("code", "name", "category", "department_id", "price", "tax_percent")
            }
            data["active"] = "true" if _text(form, "active") == "on" else "false"
            data["department_id"] = "" if data["department_id"] == "none" else data["department_id"]
            saved = await self._run(catalogue.save_charge_definition, data=data)
            await self._reload()
        except DomainError as error:
            self.error = str(error)
            return None
        self.dialog = ""
        return rx.toast.success(f"{saved.code} saved.")

    @rx.event
    @requires("billing.post")
    async def save_price(self, form: dict):
        try:
            await self._run(
                catalogue.set_price,
                price_list_id=self.price_list_id,
                code=_text(form, "code", 40),
                price=_text(form, "price", 20),
            )
            await self._reload()
        except DomainError as error:
            self.error = str(error)
            return None
        self.dialog = ""
        return rx.toast.success("Price saved.")
