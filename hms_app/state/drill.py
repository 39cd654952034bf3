"""The drill-down shared by the analytics dashboards: a click on a bar opens the list of what is
behind it, one SQL-paged page at a time.

A mixin holds the drill-down's memory and its paging; each dashboard keeps its own guarded
handlers (one line each, calling these), how a click maps to a key (``_key_for``) and how a page is
read (``_load_drill``). A mixin's guarded handlers would be copies whose guard runs the mixin's
body, out of reach of tests/state/test_handler_guards.py (see state/chart/dialogs.py).
"""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from hms_app.errors import DomainError
from hms_app.state.session import pages_for


class DrillDown(rx.State, mixin=True):
    """Mixed into a dashboard's state (before ``SessionState``), which declares its own
    ``drill_headings`` and ``drill_rows`` (their row type is the dashboard's)."""

    DRILL_PAGE_SIZE: ClassVar[int] = 20
    DRILL_HINT: ClassVar[str] = "Click a bar to list what is behind it."

    drill_open: bool = False
    drill_loading: bool = False
    drill_figure: str = ""
    drill_key: str = ""
    drill_title: str = ""
    drill_total: int = 0
    drill_amount: str = ""
    drill_page: int = 1

    @rx.var
    def drill_page_count(self) -> int:
        return pages_for(self.drill_total, self.DRILL_PAGE_SIZE)

    def _key_for(self, figure: str, points) -> str | None:
        raise NotImplementedError

    async def _load_drill(self) -> None:
        raise NotImplementedError

    async def _open_drill(self, figure: str, points: list):
        """Open the list behind the clicked bar (an async generator: the handler yields its updates)."""
        key = self._key_for(figure, points)
        if key is None:
            yield rx.toast.info(self.DRILL_HINT, id="drill")
            return
        self.drill_figure, self.drill_key, self.drill_page = figure, key, 1
        self.drill_open, self.drill_loading, self.drill_rows, self.drill_title = True, True, [], ""
        yield
        try:
            await self._load_drill()
        except DomainError as error:
            self.drill_open = False
            yield rx.toast.error(str(error))
        finally:
            self.drill_loading = False

    async def _turn(self, page: int):
        if not self.drill_figure or page < 1 or page > self.drill_page_count:
            return None
        self.drill_page = page
        self.drill_loading = True
        try:
            await self._load_drill()
        except DomainError as error:
            return rx.toast.error(str(error))
        finally:
            self.drill_loading = False
        return None

    def _show_drill(self, value: bool) -> None:
        self.drill_open = bool(value) and bool(self.drill_figure)
        if not self.drill_open:
            self.drill_rows, self.drill_total = [], 0
