"""The laboratory test catalogue (/lab/catalogue): the tests and panels by name, searched by code,
name or short name, with the inactive ones when asked for, one SQL page at a time. A test opens on
its own screen (/lab/catalogue/[test_id], ``test_detail``), where it is edited.

Reading the catalogue needs ``lab.read`` or ``lab.catalogue`` (an administrator keeps the catalogue
without seeing patients' results): the handlers require a signed-in user and ``list_tests`` checks
which of the two the user holds, refusing (and auditing) anyone with neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.laboratory.catalogue import list_tests
from hms_app.services.laboratory.views import TestRow
from hms_app.state.forms import value_text
from hms_app.state.laboratory.common import CATALOGUE
from hms_app.state.session import SessionState, pages_for, requires, turn_page

PAGE_SIZE = 50
RESULT_TYPE_LABELS = {"numeric": "Number", "coded": "Coded", "text": "Text"}


@dataclass(frozen=True)
class TestLine:
    __test__ = False  # not a pytest test class

    id: int = 0
    code: str = ""
    name: str = ""
    short_name: str = ""
    is_panel: bool = False
    kind: str = ""  # "Panel", "Number", "Coded", "Text"
    unit: str = ""
    specimen: str = ""
    price_code: str = ""
    active: bool = True
    ranges: int = 0


def test_line(row: TestRow) -> TestLine:
    return TestLine(
        id=row.id,
        code=row.code,
        name=row.name,
        short_name=row.short_name,
        is_panel=row.is_panel,
        kind="Panel" if row.is_panel else RESULT_TYPE_LABELS.get(row.result_type, row.result_type),
        unit=row.unit,
        specimen=f"{row.specimen_type} · {row.container}",
        price_code=row.price_code,
        active=row.active,
        ranges=row.ranges,
    )


class LabCatalogueState(SessionState):
    """One page of the catalogue and its search."""

    query: str = ""
    include_inactive: bool = False
    rows: list[TestLine] = []
    total: int = 0
    page: int = 1
    loaded: bool = False
    can_edit: bool = False

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self) -> None:
        answer = await self._read(
            list_tests,
            query=self.query,
            include_inactive=self.include_inactive,
            page=self.page - 1,
            page_size=PAGE_SIZE,
        )
        self.rows, self.total = [test_line(row) for row in answer.rows], answer.total
        self.loaded = True

    async def _show(self):
        try:
            await self._reload()
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires()  # list_tests needs lab.read or lab.catalogue: it refuses anyone else
    async def load(self):
        self.page, self.can_edit = 1, self.acting().can(CATALOGUE)
        return await self._show()

    @rx.event
    @requires()
    async def search(self, query: str):
        try:
            text = value_text(query, "query", limit=60, label="search")
        except ValidationError as error:
            return rx.toast.error(str(error))
        self.query, self.page = " ".join(text.split()), 1
        return await self._show()

    @rx.event
    @requires()
    async def set_include_inactive(self, value: bool):
        self.include_inactive, self.page = value is True, 1
        return await self._show()

    @rx.event
    @requires()
    async def move(self, step: int):
        try:
            return await turn_page(self, "page", step, self.page_count, self._reload)
        except DomainError as error:
            return rx.toast.error(str(error))
