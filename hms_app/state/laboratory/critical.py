"""The laboratory's board of open critical results (/lab/critical): each alert's level in the chain
(ordering clinician, charge nurse, department lead), who has it now, how long it has been open and
how long until it escalates; escalated alerts first and highlighted. It follows the live topic
"critical" (raised, acknowledged, escalated), and its clocks move on every half minute without
reading the database: the moments are kept on the server and the labels recomputed.

Opening the board is audited (it names patients); a live refresh is not, like the ward board's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import reflex as rx

from hms_app.clock import utcnow
from hms_app.errors import DomainError
from hms_app.services.laboratory.critical import TOP_LEVEL, AlertRow, critical_board
from hms_app.state.boards.common import WATCH_REASON, now_label, shared_read
from hms_app.state.laboratory.common import LIVE_CRITICAL, READ, duration_label, moment_label
from hms_app.state.live import _connected, live_changes
from hms_app.state.session import SessionState, public, requires

ROUTE = "/lab/critical"
RECENT_HOURS = 24  # "show acknowledged": those of the last day
CLOCK_SECONDS = 30.0
MAX_CLOCK_TICKS = 24 * 120  # a board left open for a day stops counting (a reload starts it again)
CLOCK_REASON = (
    "only redraws the minutes of alerts a guarded load has already read; reads nothing, one per tab"
)
# (tab token, state name) of the clocks running on this worker.
_clocks: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class AlertLine:
    id: int = 0
    patient_id: int = 0
    patient_name: str = ""
    mrn: str = ""
    summary: str = ""
    level: int = 0
    level_name: str = ""
    recipient: str = ""
    open: bool = True
    escalated: bool = False  # past the ordering clinician
    overdue: bool = False  # its escalation time has passed (the job moves it next)
    raised: str = ""
    minutes_open: str = ""
    escalates: str = ""  # "in 4 min", "due now", "top of the chain"
    acknowledged: str = ""  # "14:05 by dr.grey: K 6.9"


def _escalates(row: AlertRow, now: datetime) -> tuple[str, bool]:
    """When the alert moves up the chain, and whether that time has passed."""
    if row.status != "open" or row.escalate_at is None:
        return "", False
    if row.level >= TOP_LEVEL:
        return "top of the chain", False
    seconds = (row.escalate_at - now).total_seconds()
    if seconds <= 0:
        return "due now", True
    if seconds < 60:
        return "within a minute", False
    return f"in {duration_label(int(-(-seconds // 60)))}", False  # whole minutes, rounded up


def _line(row: AlertRow, now: datetime) -> AlertLine:
    is_open = row.status == "open"
    minutes = row.minutes_open
    if is_open:
        minutes = max(0, int((now - row.raised_at).total_seconds() // 60))
    escalates, overdue = _escalates(row, now)
    acknowledged = ""
    if not is_open:
        acknowledged = f"{moment_label(row.acknowledged_at)} by {row.acknowledged_by}"
        if row.read_back:
            acknowledged += f": “{row.read_back}”"
    return AlertLine(
        id=row.id,
        patient_id=row.patient_id,
        patient_name=row.patient_name,
        mrn=row.mrn,
        summary=row.summary,
        level=row.level,
        level_name=row.level_name,
        recipient=row.recipient or "nobody found",
        open=is_open,
        escalated=row.level > 0,
        overdue=overdue,
        raised=moment_label(row.raised_at),
        minutes_open=duration_label(minutes),
        escalates=escalates,
        acknowledged=acknowledged,
    )


class CriticalBoardState(SessionState):
    """The open critical results (and, when asked, those acknowledged in the last day)."""

    rows: list[AlertLine] = []
    open_count: int = 0
    escalated_count: int = 0
    show_acknowledged: bool = False
    loaded: bool = False
    version: int = 0
    updated_at: str = ""

    _alerts: list[AlertRow] = []
    _opened: bool = False

    def _draw(self) -> None:
        now = utcnow()
        self.rows = [_line(row, now) for row in self._alerts]
        self.open_count = sum(1 for row in self._alerts if row.status == "open")
        self.escalated_count = sum(1 for row in self._alerts if row.status == "open" and row.level > 0)

    async def _reload(self, *, shared: bool = False):
        hours = RECENT_HOURS if self.show_acknowledged else 0
        try:
            if shared:
                key = ("lab-critical", hours)
                alerts = await shared_read(
                    key,
                    critical_board,
                    actor=self.acting(),
                    include_acknowledged_hours=hours,
                    audit=False,
                )
            else:
                alerts = await self._read(critical_board, include_acknowledged_hours=hours)
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        self._alerts = list(alerts)
        self._draw()
        self.loaded, self._opened = True, True
        self.version += 1
        self.updated_at = now_label()
        return None

    @rx.event
    @requires(READ)
    async def load(self):
        return await self._reload()

    @rx.event
    @requires(READ)
    async def refresh(self):
        if not self._opened:
            return None
        return await self._reload(shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, LIVE_CRITICAL, permission=READ):
            yield CriticalBoardState.refresh

    @rx.event(background=True)
    @public(CLOCK_REASON)
    async def run_clock(self):
        """Every half minute, while the tab shows the board: the minutes open and the time to
        escalation move on, without a read (a notice on "critical" brings fresh rows)."""
        token = self.router.session.client_token
        marker = (token, self.get_full_name())
        if not token or marker in _clocks:
            return
        _clocks.add(marker)
        try:
            for _ in range(MAX_CLOCK_TICKS):
                await asyncio.sleep(CLOCK_SECONDS)
                if not _connected(token):
                    break
                async with self:
                    if self.router.url.path.rstrip("/") != ROUTE:
                        break
                    if self._opened:
                        self._draw()
        finally:
            _clocks.discard(marker)

    @rx.event
    @requires(READ)
    async def set_show_acknowledged(self, value: bool):
        self.show_acknowledged = value is True
        return await self._reload()
