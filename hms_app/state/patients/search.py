"""The patient search (/patients): one page of patients matching what the clerk typed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import reflex as rx

from hms_app.clock import local_today
from hms_app.errors import DomainError
from hms_app.services.patients.demographics import age_years
from hms_app.services.patients.search import COUNT_CAP, PatientRow, search_patients
from hms_app.state.patients.common import (
    MAX_QUERY,
    MIN_QUERY,
    record_status,
)
from hms_app.state.session import SessionState, pages_for, requires, turn_page

PAGE_SIZE = 20


@dataclass
class PatientLine:
    id: int = 0
    mrn: str = ""
    name: str = ""
    sex: str = ""
    birth_date: str = ""
    age: int = 0
    phone: str = ""
    status: str = "active"  # active | inactive | deceased


def _line(row: PatientRow, today: date) -> PatientLine:
    return PatientLine(
        row.id,
        row.mrn,
        row.name,
        row.sex,
        row.birth_date.isoformat(),
        age_years(row.birth_date, today),
        row.phone,
        record_status(row.active, row.deceased),
    )


class PatientSearchState(SessionState):
    """One page of patients matching what the clerk typed."""

    query: str = ""
    page: int = 1
    total: int = 0
    rows: list[PatientLine] = []
    searched: bool = False  # the rows answer a query of at least MIN_QUERY characters
    loading: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    @rx.var
    def total_label(self) -> str:
        # The service stops counting at the cap: more would cost more than the page itself.
        return f"{COUNT_CAP}+" if self.total >= COUNT_CAP else str(self.total)

    def _clear(self) -> None:
        self.rows, self.total, self.page, self.searched, self.loading = [], 0, 1, False, False

    async def _reload(self):
        text = self.query.strip()
        if len(text) < MIN_QUERY:
            self._clear()
            return None
        try:
            rows, total = await self._read(search_patients, query=text, page=self.page, page_size=PAGE_SIZE)
            pages = pages_for(total, PAGE_SIZE)
            if self.page > pages:  # the last page emptied since it was shown
                self.page = pages
                rows, total = await self._read(
                    search_patients, query=text, page=self.page, page_size=PAGE_SIZE
                )
        except DomainError as error:
            self.loading = False
            return rx.toast.error(str(error))
        today = local_today()
        self.rows, self.total = [_line(r, today) for r in rows], total
        self.searched, self.loading = True, False
        return None

    @rx.event
    @requires("patient.read")
    async def load(self):
        # Coming back to the list shows the last search again, fresh from the database.
        return await self._reload()

    @rx.event
    @requires("patient.read")
    async def set_query(self, value: str):
        if not isinstance(value, str):
            return rx.toast.error("Type a name, MRN, phone number or date of birth.")
        if len(value) > MAX_QUERY:
            return rx.toast.error(f"Search for at most {MAX_QUERY} characters.")
        self.query, self.page = value, 1
        return await self._reload()

    @rx.event
    @requires("patient.read")
    async def clear_search(self):
        self.query = ""
        self._clear()

    @rx.event
    @requires("patient.read")
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload)
