"""/portal/appointments: the patient's upcoming and past visits, waitlist places and offers:
cancel, move (on the booking screen), accept or decline an offer, leave the waitlist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import reflex as rx

from hms_app.clock import format_local, to_local, utcnow
from hms_app.errors import DomainError
from hms_app.services import scheduling
from hms_app.services.scheduling import portal as portal_booking
from hms_app.services.video_visits import access as video_access
from hms_app.state.portal.forms import form_fields
from hms_app.state.session import SessionState, browser_id, pages_for, requires, turn_page

PAST_PAGE_SIZE = 10
JOIN_ACTIVE = ("booked", "arrived", "in_room")
STATUS_LABELS = {
    "offered": "Offered to you",
    "booked": "Booked",
    "arrived": "Checked in",
    "in_room": "With the clinician",
    "completed": "Attended",
    "cancelled": "Cancelled",
    "no_show": "Missed",
}
CANCEL_REASONS = (
    "I cannot come at that time",
    "I feel better",
    "I booked by mistake",
    "I will be seen elsewhere",
    "Another reason",
)


@dataclass
class AppointmentLine:
    id: int = 0
    reference: str = ""
    what: str = ""  # "General practice · Standard visit"
    with_whom: str = ""
    day: str = ""  # "Mon 03 Dec 2026"
    time: str = ""  # "09:15"
    status: str = ""
    status_label: str = ""
    virtual: bool = False
    offer_until: str = ""  # "09:45" for an open offer
    offer_expired: bool = False
    note: str = ""  # a cancellation reason, shown on past visits
    changeable: bool = False  # booked and not yet inside the window where online changes stop
    online: bool = True  # a service patients book themselves (others are changed by phone)
    joinable: bool = False  # a video visit whose waiting room is open now
    join_from: str = ""  # "09:05": when its waiting room opens (10 minutes before the start)


@dataclass
class WaitlistLine:
    id: int = 0
    what: str = ""
    day: str = ""
    with_whom: str = ""
    status: str = ""


def _until(moment: datetime | None, now: datetime) -> str:
    """When an offer ends: the time alone today, with the day when that is another day."""
    if moment is None:
        return ""
    same_day = to_local(moment).date() == to_local(now).date()
    return format_local(moment, "%H:%M" if same_day else "%a %d %b %H:%M")


def next_join_change(rows, now: datetime) -> datetime | None:
    """The next moment a video visit's Join button turns on (its waiting room opens) or off
    (the visit's time has passed), among the visits shown; None when there is none."""
    moments = []
    for row in rows:
        if row.mode != "virtual" or row.status not in JOIN_ACTIVE:
            continue
        for moment in (
            row.start_at - video_access.OPENS_BEFORE,
            row.end_at + video_access.CLOSES_AFTER + timedelta(seconds=1),
        ):
            if moment > now:
                moments.append(moment)
    return min(moments, default=None)


def _line(row: scheduling.AppointmentRow, now: datetime, online: set[int] | None = None) -> AppointmentLine:
    return AppointmentLine(
        id=row.id,
        reference=row.reference,
        what=f"{row.service_name} · {row.visit_type}",
        with_whom=row.resource_names[0] if row.resource_names else "",
        day=row.day_label,
        time=row.start_label,
        status=row.status,
        status_label=STATUS_LABELS.get(row.status, row.status),
        virtual=row.mode == "virtual",
        offer_until=_until(row.offer_expires_at, now),
        offer_expired=bool(row.offer_expires_at and row.offer_expires_at <= now),
        note=row.cancel_reason or "",
        changeable=row.status == "booked" and not portal_booking.inside_change_window(row.start_at, now),
        online=online is None or row.service_id in online,
        joinable=row.mode == "virtual"
        and row.status in JOIN_ACTIVE
        and row.start_at - video_access.OPENS_BEFORE <= now <= row.end_at + video_access.CLOSES_AFTER,
        join_from=_until(row.start_at - video_access.OPENS_BEFORE, now) if row.mode == "virtual" else "",
    )


class PortalAppointmentsState(SessionState):
    """/portal/appointments: the patient's upcoming and past visits, waitlist places and offers."""

    loaded: bool = False
    upcoming: list[AppointmentLine] = []
    past: list[AppointmentLine] = []
    cancelled: list[AppointmentLine] = []  # visits cancelled before their time: not "past"
    past_page: int = 1
    past_total: int = 0
    waitlist: list[WaitlistLine] = []
    busy: bool = False
    cancel_id: int = 0
    cancel_title: str = ""
    cancel_error: str = ""
    cancel_reasons: list[str] = list(CANCEL_REASONS)
    cutoff_hours: int = 2
    # While a video visit's Join button will change (its waiting room opens in 10 min before the
    # start), a hidden client timer calls ``tick``, which reloads once that moment has come.
    join_pending: bool = False
    _next_join_change: datetime | None = None

    @rx.var
    def past_pages(self) -> int:
        return pages_for(self.past_total, PAST_PAGE_SIZE)

    @rx.event
    @requires("portal.self")
    async def load(self):
        self.past_page, self.cancel_id, self.cancel_error, self.busy = 1, 0, "", False
        self.cutoff_hours = scheduling.policy().cancel_cutoff_hours
        return await self._refresh()

    async def _refresh(self):
        now = utcnow()
        try:
            upcoming = await self._run(scheduling.patient_appointments, upcoming=True, limit=50, now=now)
            past = await self._run(
                scheduling.patient_appointments,
                upcoming=False,
                limit=PAST_PAGE_SIZE,
                offset=(self.past_page - 1) * PAST_PAGE_SIZE,
                now=now,
            )
            cancelled = await self._run(
                scheduling.patient_appointments, upcoming=False, cancelled=True, limit=20, now=now
            )
            waiting = await self._run(scheduling.list_waitlist, statuses=("waiting",), limit=20)
            online = {service.id for service in await self._run(scheduling.list_services)}
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        self.upcoming = [_line(r, now, online) for r in upcoming.rows]
        self._next_join_change = next_join_change(upcoming.rows, now)
        self.join_pending = self._next_join_change is not None
        self.past = [_line(r, now) for r in past.rows]
        self.past_total = past.total
        self.cancelled = [_line(r, now) for r in cancelled.rows]
        self.waitlist = [
            WaitlistLine(
                w.id,
                f"{w.service_name} · {w.visit_type}",
                w.wanted_date.strftime("%a %d %b %Y"),
                w.resource_name or "Any available",
                w.status,
            )
            for w in waiting
        ]
        self.loaded = True
        return None

    @rx.event
    @requires("portal.self")
    async def tick(self, _moment: str = ""):
        """The page's timer: once a Join button is due to change, reload (the server still refuses an
        early join; this only keeps the button honest without a reload)."""
        if self._next_join_change is None or utcnow() < self._next_join_change:
            return None
        return await self._refresh()

    @rx.event
    @requires("portal.self")
    async def move_past(self, step: int):
        """Older (1) or newer (-1) past visits."""
        return await turn_page(self, "past_page", step, self.past_pages, self._refresh)

    def _upcoming(self, appointment_id) -> AppointmentLine | None:
        """One of the visits on screen (the service checks again that it is this patient's)."""
        try:
            wanted = browser_id(appointment_id, "appointment")
        except DomainError:
            return None
        return next((a for a in self.upcoming if a.id == wanted), None)

    async def _changeable(self, appointment_id) -> tuple[AppointmentLine | None, Any]:
        """One of the patient's booked visits that may still be changed online, or else the toast
        with the clinic's reason why not."""
        line = self._upcoming(appointment_id)
        if line is None or line.status != "booked":
            return None, rx.toast.error("Choose one of your booked appointments.")
        try:
            refusal = await self._run(scheduling.portal_change_refusal, appointment_id=line.id)
        except DomainError as error:
            refusal = str(error)
        if refusal:
            return None, rx.toast.error(refusal, id="policy")
        return line, None

    @rx.event
    @requires("portal.self")
    async def open_cancel(self, appointment_id: int):
        line, refused = await self._changeable(appointment_id)
        if line is None:
            return refused
        self.cancel_id, self.cancel_error = line.id, ""
        self.cancel_title = f"{line.what}, {line.day} at {line.time}"
        return None

    @rx.event
    @requires("portal.self")
    def close_cancel(self):
        self.cancel_id, self.cancel_error = 0, ""

    @rx.event
    @requires("portal.self")
    async def submit_cancel(self, form: dict):
        if not self.cancel_id or self.busy:
            return
        fields = form_fields(form, ("reason", "details"))
        reason = fields.get("reason", "").strip()
        if reason not in CANCEL_REASONS:
            self.cancel_error = "Choose a reason."
            return
        details = fields.get("details", "").strip()[:200]
        self.busy = True
        yield
        try:
            await self._run(
                scheduling.cancel_appointment,
                appointment_id=self.cancel_id,
                reason=f"{reason}: {details}" if details else reason,
            )
        except DomainError as error:
            self.busy, self.cancel_error = False, str(error)
            return
        self.busy, self.cancel_id = False, 0
        yield rx.toast.success("Your appointment is cancelled.")
        yield await self._refresh()

    @rx.event
    @requires("portal.self")
    async def reschedule(self, appointment_id: int):
        line, refused = await self._changeable(appointment_id)
        if line is None:
            return refused
        return rx.redirect(f"/portal/book?move={line.id}")

    async def _change(self, service, done, *, refresh_on_error: bool = False, **arguments):
        """Run one change of the patient's (busy meanwhile), then say so and show the lists as they are now."""
        self.busy = True
        yield
        try:
            await self._run(service, **arguments)
        except DomainError as error:
            self.busy = False
            yield rx.toast.error(str(error))
            if refresh_on_error:
                yield await self._refresh()
            return
        self.busy = False
        yield done
        yield await self._refresh()

    @rx.event
    @requires("portal.self")
    async def accept_offer(self, appointment_id: int):
        line = self._upcoming(appointment_id)
        if line is None or line.status != "offered" or self.busy:
            return
        booked = rx.toast.success(f"Booked: {line.day} at {line.time}. Your reference is {line.reference}.")
        # An offer refused here has usually expired or gone: show the list as it is now.
        async for event in self._change(
            scheduling.accept_offer, booked, refresh_on_error=True, appointment_id=line.id
        ):
            yield event

    @rx.event
    @requires("portal.self")
    async def decline_offer(self, appointment_id: int):
        line = self._upcoming(appointment_id)
        if line is None or line.status != "offered" or self.busy:
            return
        declined = rx.toast.info("Offer declined. You are no longer waiting for that day.")
        async for event in self._change(scheduling.decline_offer, declined, appointment_id=line.id):
            yield event

    @rx.event
    @requires("portal.self")
    async def leave_waitlist(self, entry_id: int):
        try:
            wanted = browser_id(entry_id, "waitlist place")
        except DomainError as error:
            yield rx.toast.error(str(error))
            return
        if wanted not in {w.id for w in self.waitlist} or self.busy:
            return
        left = rx.toast.info("You have left the waitlist.")
        async for event in self._change(scheduling.leave_waitlist, left, entry_id=wanted):
            yield event
