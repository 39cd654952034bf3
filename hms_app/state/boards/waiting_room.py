"""The waiting-room screen (/boards/waiting): one department's tokens being called and its queue
with predicted waits, for a public screen (tokens and initials only)."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError, ValidationError
from hms_app.services import live
from hms_app.services.clinic_boards import board_departments, waiting_room
from hms_app.state.boards.common import WATCH_REASON, DepartmentChoice, clock_label, now_label, shared_read
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires


@dataclass
class CalledView:
    token: str = ""
    where: str = ""
    at: str = ""


@dataclass
class WaitingView:
    token: str = ""
    initials: str = ""
    position: int = 0
    wait: str = ""


def wait_label(minutes: int) -> str:
    """What a TV says about a wait: 'under 5 min', else rounded up to 5 minutes."""
    if minutes < 5:
        return "under 5 min"
    return f"about {-(-minutes // 5) * 5} min"


class WaitingRoomState(SessionState):
    """The public waiting-room screen of one department: tokens and initials only."""

    department_id: int = 0
    department: str = ""
    calling: list[CalledView] = []
    waiting: list[WaitingView] = []
    waiting_total: int = 0
    service_minutes: int = 0
    sample_size: int = 0
    problem: str = ""
    loaded: bool = False
    version: int = 0
    updated_at: str = ""
    choices: list[DepartmentChoice] = []

    async def _reload(self, *, shared: bool = False):
        if not self.department_id:
            options = await self._run(board_departments)
            self.choices = [DepartmentChoice(str(o.id), o.name) for o in options]
            self.loaded, self.problem = True, "Choose the department this screen shows."
            return None
        try:
            if shared:
                room = await shared_read(
                    ("waiting", self.department_id),
                    waiting_room,
                    actor=self.acting(),
                    department_id=self.department_id,
                )
            else:
                room = await self._run(waiting_room, department_id=self.department_id)
        except DomainError as error:
            self.department_id = 0  # an address naming no department: offer the list instead
            await self._reload()
            self.problem = f"{error} Choose the department this screen shows."
            return None
        self.department = room.department
        self.calling = [CalledView(c.token, c.where, clock_label(c.called_at)) for c in room.calling]
        self.waiting = [
            WaitingView(w.token, w.initials, w.position, wait_label(w.predicted_minutes))
            for w in room.waiting
        ]
        self.waiting_total, self.service_minutes, self.sample_size = (
            room.waiting_total,
            room.service_minutes,
            room.sample_size,
        )
        self.loaded, self.problem = True, ""
        self.version += 1
        self.updated_at = now_label()
        return None

    @rx.event
    @requires("appointment.read")
    async def load(self):
        wanted = self.router.url.query_parameters.get("department", "") if self.router else ""
        try:
            self.department_id = browser_id(wanted, "department") if wanted else 0
        except ValidationError:
            self.department_id = 0
        return await self._reload()

    @rx.event
    @requires("appointment.read")
    async def refresh(self):
        return await self._reload(shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async with self:
            department_id = self.department_id
        # The department is fixed by the address for the life of the screen: follow only it.
        async for _ in live_changes(self, live.QUEUE, [department_id or None], permission="appointment.read"):
            yield WaitingRoomState.refresh
