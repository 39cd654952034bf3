"""Expenses (/billing/expenses): record one, list them by category."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError
from hms_app.services.billing import catalogue, expenses
from hms_app.services.billing.expenses import EXPENSE_CATEGORIES
from hms_app.state.billing.common import PAGE_SIZE, _reload_or_toast, _text, _turn_page, money
from hms_app.state.session import SessionState, pages_for, requires


@dataclass
class ExpenseLine:
    id: int = 0
    date: str = ""
    category: str = ""
    department: str = ""
    supplier: str = ""
    description: str = ""
    amount: str = ""
    by: str = ""


class ExpensesState(SessionState):
    loading: bool = True
    rows: list[ExpenseLine] = []
    count: int = 0
    sum_text: str = ""
    page: int = 1
    category: str = "all"
    departments: list[list[str]] = []  # [id, name]
    error: str = ""

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.count, PAGE_SIZE)

    async def _reload(self) -> None:
        rows, count, total = await self._run(
            expenses.list_expenses,
            category=self.category,
            offset=(self.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        self.count, self.sum_text = count, money(total)
        self.rows = [
            ExpenseLine(
                r.id,
                r.incurred_on.isoformat(),
                EXPENSE_CATEGORIES.get(r.category, r.category),
                r.department,
                r.supplier,
                r.description,
                money(r.amount_cents),
                r.entered_by,
            )
            for r in rows
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
    async def set_category(self, category: str):
        if category != "all" and category not in EXPENSE_CATEGORIES:
            return rx.toast.error("Choose a category from the list.")
        self.category, self.page = category, 1
        return await _reload_or_toast(self._reload)

    @rx.event
    @requires("billing.read")
    async def move(self, step: int):
        return await _turn_page(self, "page", step, self.page_count, self._reload)

    @rx.event
    @requires("billing.post")
    async def record(self, form: dict):
        try:
            data = {
                k: _text(form, k)
                for k in ("category", "department_id", "supplier", "description", "amount", "incurred_on")
            }
            data["department_id"] = "" if data["department_id"] == "none" else data["department_id"]
            expense = await self._run(expenses.record_expense, data=data)
            self.page = 1
            await self._reload()
        except DomainError as error:
            self.error = str(error)
            return None
        self.error = ""
        return [
            rx.toast.success(f"Expense of {money(expense.amount_cents)} recorded."),
            rx.set_value("supplier", ""),
            rx.set_value("description", ""),
            rx.set_value("amount", ""),
        ]
