"""The maintenance board (/equipment/board): plans overdue or due within the look-ahead, most
overdue first, one page at a time, with the figures above them. Live: a change anywhere (a work
order opened by the job or by an engineer, one completed, equipment taken out of service) reloads
the page on every open board through its own guarded ``refresh``; ``version`` counts the reloads
(the page carries it as ``data-version`` for the browser tests)."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services.inventory.equipment import LIVE_TOPIC
from hms_app.services.inventory.maintenance import open_work_order
from hms_app.services.inventory.maintenance_board import BOARD_SHOWS, MaintenanceBoard, maintenance_board
from hms_app.state.boards.common import now_label, shared_read
from hms_app.state.equipment.common import (
    PLAN_KIND_LABELS,
    STATUS_LABELS,
    WATCH_REASON,
    WORK_ORDER_STATUS_LABELS,
    Option,
    day_label,
    due_tone,
    due_words,
)
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, pages_for, public, requires, turn_page

PAGE_SIZE = 25
LOOK_AHEAD = (7, 14, 30, 90)


@dataclass
class DueLine:
    plan_id: int = 0
    equipment_id: int = 0
    asset_tag: str = ""
    equipment: str = ""
    equipment_status: str = ""
    equipment_status_label: str = ""
    where: str = ""
    kind_label: str = ""
    description: str = ""
    next_due: str = ""
    due: str = ""
    due_tone: str = ""
    work_order: str = ""
    work_order_status: str = ""
    work_order_status_label: str = ""


def _line(line) -> DueLine:
    return DueLine(
        plan_id=line.plan_id,
        equipment_id=line.equipment_id,
        asset_tag=line.asset_tag,
        equipment=line.equipment,
        equipment_status=line.equipment_status,
        equipment_status_label=STATUS_LABELS.get(line.equipment_status, line.equipment_status),
        where=" · ".join(x for x in (line.location, line.department) if x),
        kind_label=PLAN_KIND_LABELS.get(line.kind, line.kind),
        description=line.description,
        next_due=day_label(line.next_due),
        due=due_words(line.days_left),
        due_tone=due_tone(line.days_left),
        work_order=line.work_order,
        work_order_status=line.work_order_status,
        work_order_status_label=WORK_ORDER_STATUS_LABELS.get(line.work_order_status, line.work_order_status),
    )


class MaintenanceBoardState(SessionState):
    """What the board shows now: one page of due plans and the figures."""

    lines: list[DueLine] = []
    total: int = 0
    page: int = 1
    show: str = "all"
    within_days: int = 14
    overdue: int = 0
    due_soon: int = 0
    open_work_orders: int = 0
    not_in_use: int = 0
    loaded: bool = False
    version: int = 0
    updated_at: str = ""
    show_options: list[Option] = [Option(code, label) for code, label in BOARD_SHOWS.items()]
    look_ahead_options: list[Option] = [Option(str(days), f"{days} days") for days in LOOK_AHEAD]

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    def _show_board(self, board: MaintenanceBoard) -> None:
        self.lines = [_line(line) for line in board.lines]
        self.total, self.overdue, self.due_soon = board.total, board.overdue, board.due_soon
        self.open_work_orders, self.not_in_use = board.open_work_orders, board.not_in_use
        self.loaded = True
        self.version += 1
        self.updated_at = now_label()

    async def _reload(self, *, shared: bool = False):
        try:
            if shared:
                # A change notice wakes every open board: boards showing the same page share one read.
                board = await shared_read(
                    ("equipment-board", self.within_days, self.show, self.page),
                    maintenance_board,
                    actor=self.acting(),
                    within_days=self.within_days,
                    show=self.show,
                    offset=(self.page - 1) * PAGE_SIZE,
                    limit=PAGE_SIZE,
                )
            else:
                board = await self._read(
                    maintenance_board,
                    within_days=self.within_days,
                    show=self.show,
                    offset=(self.page - 1) * PAGE_SIZE,
                    limit=PAGE_SIZE,
                )
            if not board.lines and self.page > 1:  # the last page emptied: show the one before
                self.page = pages_for(board.total, PAGE_SIZE)
                board = await self._read(
                    maintenance_board,
                    within_days=self.within_days,
                    show=self.show,
                    offset=(self.page - 1) * PAGE_SIZE,
                    limit=PAGE_SIZE,
                )
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        self._show_board(board)
        return None

    @rx.event
    @requires("equipment.read")
    async def load(self):
        return await self._reload()

    @rx.event
    @requires("equipment.read")
    async def refresh(self):
        """Reload the page this tab shows (a change notice)."""
        return await self._reload(shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, LIVE_TOPIC, permission="equipment.read"):
            yield MaintenanceBoardState.refresh

    @rx.event
    @requires("equipment.read")
    async def set_show(self, show: str | list[str]):
        if not isinstance(show, str) or show not in BOARD_SHOWS:
            return rx.toast.error("Choose what the board shows.")
        self.show, self.page = show, 1
        return await self._reload()

    @rx.event
    @requires("equipment.read")
    async def set_within_days(self, days: str):
        if not isinstance(days, str) or days not in {str(d) for d in LOOK_AHEAD}:
            return rx.toast.error("Choose how far ahead to look.")
        self.within_days, self.page = int(days), 1
        return await self._reload()

    @rx.event
    @requires("equipment.read")
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload)

    @rx.event
    @requires("equipment.maintain")
    async def open_order(self, plan_id: int):
        """Open the work order of a due plan shown on the board."""
        try:
            wanted = browser_id(plan_id, "plan")
            line = next((x for x in self.lines if x.plan_id == wanted), None)
            if line is None:
                raise ValidationError("Choose a plan on the board.")
            order = await self._run(open_work_order, equipment_id=line.equipment_id, plan_id=line.plan_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        problem = await self._reload()
        return problem or rx.toast.success(f"{order.reference} opened for {line.asset_tag} {line.equipment}.")
