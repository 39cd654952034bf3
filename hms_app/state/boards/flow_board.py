"""The clinic flow board (/boards/flow): today's appointments by status, one column per step of
the visit, counts per department, and the buttons that move a patient on. It reloads through its
guarded ``refresh`` when a change notice arrives; ``version`` counts the reloads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import reflex as rx

from hms_app.clock import utcnow
from hms_app.errors import DomainError, ValidationError
from hms_app.services import live
from hms_app.services import scheduling as scheduling_svc
from hms_app.services import video_visits as video_svc
from hms_app.services.clinic_boards import (
    FLOW_COLUMNS,
    FLOW_STATUSES,
    STATUS_LABELS,
    FlowCard,
    FlowScreen,
    board_departments,
    flow_board,
    flow_screen,
)
from hms_app.state.boards.common import WATCH_REASON, DepartmentChoice, clock_label, now_label, shared_read
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires


@dataclass(frozen=True)
class FlowCardView:
    id: int = 0
    token: str = ""
    time: str = ""
    patient: str = ""
    provider: str = ""
    service: str = ""
    department: str = ""
    status: str = ""
    waited: str = ""  # "waiting 12 min", "in room 8 min", "done 10:42"
    late: bool = False
    virtual: bool = False  # a video visit: Admit / Join instead of Call in / Complete
    video: str = ""  # its video visit's status: "" (not joined yet) | waiting | admitted | ended
    clinician_ids: list[int] = field(default_factory=list)  # who may admit and join (the booked clinician)


@dataclass(frozen=True)
class FlowColumn:
    status: str = ""
    title: str = ""
    count: int = 0
    cards: list[FlowCardView] = field(default_factory=list)


@dataclass(frozen=True)
class CountRow:
    department_id: int = 0
    department: str = ""
    booked: int = 0
    arrived: int = 0
    in_room: int = 0
    completed: int = 0
    no_show: int = 0
    cancelled: int = 0
    total: int = 0


LATE_MINUTES = 10
CONDUCT = "telehealth.conduct"
VIDEO_STEPS = (
    "This is a video visit: the booked clinician admits the patient from the video waiting room "
    "and ends the visit on its call page."
)


def _flow_card(card: FlowCard, now: datetime) -> FlowCardView:
    minutes = int((now - card.since).total_seconds() // 60) if card.since else 0
    waited = {
        "arrived": f"waiting {max(0, minutes)} min",
        "in_room": f"in room {max(0, minutes)} min",
        "completed": f"done {clock_label(card.since)}",
    }.get(card.status, "")
    late = card.status == "booked" and (now - card.start_at).total_seconds() > LATE_MINUTES * 60
    return FlowCardView(
        card.id,
        card.token,
        clock_label(card.start_at),
        card.patient,
        card.provider,
        card.service,
        card.department,
        card.status,
        waited,
        late,
        card.virtual,
        card.video,
        list(card.clinician_user_ids),
    )


@dataclass(frozen=True)
class _FlowView:
    """The flow board as the screen shows it; built once per change and shared by its boards."""

    departments: tuple[DepartmentChoice, ...]
    rows: tuple[CountRow, ...]
    columns: tuple[FlowColumn, ...]
    counts: dict[str, int]
    day: str


def _flow_view(screen: FlowScreen) -> _FlowView:
    options, board, now = screen.departments, screen.board, utcnow()
    return _FlowView(
        departments=(
            DepartmentChoice("all", "All departments"),
            *(DepartmentChoice(str(o.id), f"{o.name} ({o.today})") for o in options),
        ),
        rows=tuple(
            CountRow(d.department_id, d.department, *(d.counts.get(s, 0) for s in FLOW_STATUSES), d.total)
            for d in board.departments
        ),
        columns=tuple(
            FlowColumn(
                status,
                STATUS_LABELS[status],
                board.counts.get(status, 0),
                [_flow_card(card, now) for card in board.columns.get(status, [])],
            )
            for status in FLOW_COLUMNS
        ),
        counts=dict(board.counts),
        day=board.day.strftime("%A %d %B %Y"),
    )


class FlowBoardState(SessionState):
    """Today's appointments by status: one column per step of the visit, counts per department."""

    department: str = ""  # "" = every department; else a department id
    departments: list[DepartmentChoice] = []
    rows: list[CountRow] = []
    columns: list[FlowColumn] = []
    no_show: int = 0
    cancelled: int = 0
    total: int = 0
    day: str = ""
    loaded: bool = False
    version: int = 0
    updated_at: str = ""
    me: int = 0  # the signed-in clinician's account when they hold video visits (0: nobody's Admit/Join)

    _opened: bool = False

    async def _reload(self, *, audit: bool, shared: bool = False):
        department_id = int(self.department) if self.department else None
        try:
            if shared:
                view = await shared_read(
                    ("flow", department_id),
                    flow_screen,
                    build=_flow_view,
                    actor=self.acting(),
                    department_id=department_id,
                )
            else:
                view = _flow_view(
                    FlowScreen(
                        await self._run(board_departments),
                        await self._run(flow_board, department_id=department_id, audit=audit),
                    )
                )
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        # The rows and cards may be shared with other tabs' boards: replaced, never changed in place.
        self._opened = True
        actor = self.acting()
        self.me = (actor.user_id or 0) if actor.can(CONDUCT) else 0
        self.departments, self.rows, self.columns = (
            list(view.departments),
            list(view.rows),
            list(view.columns),
        )
        self.no_show, self.cancelled = view.counts.get("no_show", 0), view.counts.get("cancelled", 0)
        self.total = sum(n for s, n in view.counts.items() if s != "cancelled")
        self.day = view.day
        self.loaded = True
        self.version += 1
        self.updated_at = now_label()
        return None

    @rx.event
    @requires("appointment.read")
    async def load(self):
        wanted = self.router.url.query_parameters.get("department", "") if self.router else ""
        if isinstance(wanted, str) and wanted.isdigit() and len(wanted) < 10:
            self.department = wanted
        return await self._reload(audit=True)

    @rx.event
    @requires("appointment.read")
    async def refresh(self):
        if not self._opened:
            return None
        return await self._reload(audit=False, shared=True)

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        # No key: the department filter can change while the board is open; refresh reads it.
        async for _ in live_changes(self, live.APPOINTMENTS, permission="appointment.read"):
            yield FlowBoardState.refresh

    @rx.event
    @requires("appointment.read")
    async def set_department(self, value: str):
        if value in ("", "all"):
            self.department = ""
        else:
            try:
                self.department = str(browser_id(value, "department"))
            except ValidationError as error:
                return rx.toast.error(str(error))
        return await self._reload(audit=True)

    # ------------------------------------------------------------------ moving a patient on

    def _shown_card(self, appointment_id, status: str) -> FlowCardView:
        wanted = browser_id(appointment_id, "appointment")
        for column in self.columns:
            for card in column.cards:
                if card.id == wanted:
                    if card.status != status:
                        raise ValidationError(
                            "This appointment has moved on; the board shows where it is now."
                        )
                    return card
        raise ValidationError("Choose an appointment on the board.")

    async def _advance(self, appointment_id, status: str, service, message: str, *, video_ok: bool = True):
        try:
            card = self._shown_card(appointment_id, status)
            if card.virtual and not video_ok:
                raise ValidationError(VIDEO_STEPS)
            appointment = await self._run(service, appointment_id=card.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        token = getattr(appointment, "queue_token", None) or card.token
        problem = await self._reload(audit=False)
        return problem or rx.toast.success(message.format(patient=card.patient, token=token))

    @rx.event
    @requires("appointment.flow")
    async def check_in(self, appointment_id: str):
        return await self._advance(
            appointment_id, "booked", scheduling_svc.check_in, "{patient} checked in: token {token}."
        )

    @rx.event
    @requires("appointment.flow")
    async def call_in(self, appointment_id: str):
        return await self._advance(
            appointment_id, "arrived", scheduling_svc.call_patient, "{token} called in.", video_ok=False
        )

    @rx.event
    @requires("appointment.flow")
    async def complete(self, appointment_id: str):
        return await self._advance(
            appointment_id,
            "in_room",
            scheduling_svc.complete_appointment,
            "{patient}'s visit is complete.",
            video_ok=False,
        )

    @rx.event
    @requires(CONDUCT)
    async def admit_video(self, appointment_id: str):
        """Admit a patient waiting in a video visit (the booked clinician), then open the call."""
        try:
            card = self._shown_card(appointment_id, "arrived")
            if not card.virtual:
                raise ValidationError("Only a video visit's patient is admitted; call this patient in.")
            await self._run(video_svc.admit_patient, appointment_id=card.id)
        except DomainError as error:
            return rx.toast.error(str(error))
        await self._reload(audit=False)
        return [rx.toast.success(f"{card.patient} admitted."), rx.redirect(f"/video/{card.id}")]

    @rx.event
    @requires("appointment.flow")
    async def mark_no_show(self, appointment_id: str):
        return await self._advance(
            appointment_id, "booked", scheduling_svc.mark_no_show, "{patient} marked as not attended."
        )
