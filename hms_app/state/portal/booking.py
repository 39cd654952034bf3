"""/portal/book: service -> provider (or any) -> day -> time -> confirm -> reference; the same
steps move one of the patient's own bookings."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import reflex as rx

from hms_app.clock import format_local, utcnow
from hms_app.errors import DomainError
from hms_app.services import messaging, scheduling
from hms_app.services.scheduling import portal as portal_booking
from hms_app.settings import get_settings
from hms_app.state.session import SessionState, browser_id, requires

DAYS_AHEAD = 30
STEPS = ("service", "provider", "day", "slot", "confirm", "done")


@dataclass
class VisitChoice:
    key: str = ""  # "service_id:type_id"
    service_id: int = 0
    type_id: int = 0
    service: str = ""
    visit_type: str = ""
    department: str = ""
    minutes: int = 0
    virtual: bool = False


@dataclass
class ProviderChoice:
    id: int = 0
    name: str = ""


@dataclass
class DayChoice:
    iso: str = ""
    weekday: str = ""  # "Mon"
    day: str = ""  # "03"
    month: str = ""  # "Dec"
    free: bool = False


@dataclass
class SlotChoice:
    index: int = 0
    time: str = ""  # "09:15"
    provider: str = ""


def _ics_text(value: str) -> str:
    """A calendar TEXT value: backslashes, commas, semicolons and newlines escaped (RFC 5545)."""
    escaped = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return escaped.replace("\n", "\\n")


def _ics(row: scheduling.AppointmentRow, hospital: str) -> str:
    """A calendar file (RFC 5545) for one appointment, for the patient's own calendar."""
    stamp = "%Y%m%dT%H%M%SZ"
    with_whom = f" with {row.resource_names[0]}" if row.resource_names else ""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//HMS//Patient portal//EN",
        "BEGIN:VEVENT",
        f"UID:{row.reference}@hms",
        f"DTSTAMP:{utcnow().strftime(stamp)}",
        f"DTSTART:{row.start_at.astimezone(UTC).strftime(stamp)}",
        f"DTEND:{row.end_at.astimezone(UTC).strftime(stamp)}",
        f"SUMMARY:{_ics_text(row.service_name + with_whom)}",
        f"LOCATION:{_ics_text(hospital)}",
        f"DESCRIPTION:{_ics_text(f'Reference {row.reference}. {row.visit_type}.')}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"


def key_matches(choice: tuple[int, int], row: scheduling.AppointmentRow) -> bool:
    return choice == (row.service_id, row.appointment_type_id)


class PortalBookingState(SessionState):
    """/portal/book: service -> provider (or any) -> day -> time -> confirm -> reference.

    With ``?move=<appointment id>`` the same steps move one of the patient's own bookings.
    """

    step: str = "service"
    loading: bool = False
    busy: bool = False
    services: list[VisitChoice] = []
    service_key: str = ""
    service_label: str = ""
    providers: list[ProviderChoice] = []
    provider_id: int = 0  # 0: any provider
    provider_label: str = "Any available"
    days: list[DayChoice] = []
    day_iso: str = ""
    day_label: str = ""
    day_full: bool = False
    waitlisted: bool = False
    slots: list[SlotChoice] = []
    slot_label: str = ""
    slot_provider: str = ""
    # The result, shown big, and the text for a calendar.
    reference: str = ""
    booked_when: str = ""
    booked_with: str = ""
    booked_what: str = ""
    calendar_text: str = ""
    # Moving an existing booking (reschedule) instead of a new one.
    move_id: int = 0
    move_reference: str = ""
    move_from: str = ""
    cutoff_hours: int = 2
    # Booking what the care team invited the patient to in a message (?invite=<id>).
    invite_id: int = 0
    invite_label: str = ""

    _choices: dict[str, tuple[int, int]] = {}
    _slot_starts: list[tuple[str, int | None, str]] = []  # (start ISO, resource id or None, provider)
    _chosen: tuple[str, int | None] = ("", None)
    _ics: str = ""

    def _clear_from(self, step: str) -> None:
        """Forget every choice from ``step`` on (going back, or a choice that changes what follows)."""
        order = STEPS.index(step)
        if order <= STEPS.index("provider"):
            self.providers, self.provider_id, self.provider_label = [], 0, "Any available"
        if order <= STEPS.index("day"):
            self.days, self.day_iso, self.day_label, self.day_full, self.waitlisted = [], "", "", False, False
        if order <= STEPS.index("slot"):
            self.slots, self._slot_starts = [], []
        if order <= STEPS.index("confirm"):
            self.slot_label, self.slot_provider, self._chosen = "", "", ("", None)

    @rx.event
    @requires("portal.self")
    async def load(self):
        self.step, self.loading, self.busy = "service", True, False
        self.cutoff_hours = scheduling.policy().cancel_cutoff_hours
        self.service_key, self.service_label = "", ""
        self.reference = self.booked_when = self.booked_with = self.booked_what = self.calendar_text = ""
        self.move_id, self.move_reference, self.move_from, self._ics = 0, "", "", ""
        self.invite_id, self.invite_label = 0, ""
        self._clear_from("provider")
        yield
        query = self.router.url.query_parameters if self.router else {}
        invitation = None
        try:
            options = await self._run(scheduling.list_services)
            move = query.get("move", "")
            row = (
                await self._run(scheduling.get_appointment, appointment_id=browser_id(move, "appointment"))
                if move
                else None
            )
            invite = query.get("invite", "") if not move else ""
            if invite:
                invitation = await self._run(
                    messaging.portal_invitation, invitation_id=browser_id(invite, "invitation")
                )
        except DomainError as error:
            self.loading = False
            yield rx.toast.error(str(error))
            return
        self.services, self._choices = [], {}
        for service in options:
            for vtype in service.visit_types:
                key = f"{service.id}:{vtype.id}"
                self._choices[key] = (service.id, vtype.id)
                self.services.append(
                    VisitChoice(
                        key,
                        service.id,
                        vtype.id,
                        service.name,
                        vtype.name,
                        service.department_name,
                        vtype.duration_minutes,
                        vtype.mode == "virtual",
                    )
                )
        self.loading = False
        if invitation is not None:
            async for event in self._follow_invitation(invitation):
                yield event
            return
        if row is None:
            return
        key = f"{row.service_id}:{row.appointment_type_id}"
        try:
            refusal = await self._run(scheduling.portal_change_refusal, appointment_id=row.id)
        except DomainError as error:
            refusal = str(error)
        if not refusal and row.status != "booked":
            refusal = "Only a booked appointment can be moved."
        if not refusal and key not in self._choices:
            refusal = "Please call the clinic to change this appointment."
        if refusal:
            yield [rx.toast.error(refusal, id="policy"), rx.redirect("/portal/appointments")]
            return
        self.move_id, self.move_reference = row.id, row.reference
        self.move_from = f"{row.day_label} at {row.start_label}"
        async for event in self._pick_service(key):
            yield event

    async def _follow_invitation(self, invitation: messaging.InvitationView):
        """Start from the visit the care team invited the patient to book."""
        key = f"{invitation.service_id}:{invitation.appointment_type_id}"
        if invitation.status != "open":
            yield rx.toast.info("You have already used this invitation.", id="invite")
            return
        if key not in self._choices:
            yield rx.toast.error("This visit cannot be booked online any more. Please call the clinic.")
            return
        self.invite_id = invitation.id
        self.invite_label = f"{invitation.service_name} · {invitation.visit_type}"
        async for event in self._pick_service(key):
            yield event

    async def _pick_service(self, key: str):
        self.service_key = key
        choice = next(c for c in self.services if c.key == key)
        self.service_label = f"{choice.service} · {choice.visit_type}"
        self._clear_from("provider")
        self.step, self.loading = "provider", True
        yield
        service_id, _type_id = self._choices[key]
        try:
            providers = await self._run(scheduling.list_resources, service_id=service_id, kind="provider")
        except DomainError as error:
            self.loading = False
            yield rx.toast.error(str(error))
            return
        self.providers = [ProviderChoice(p.id, p.name) for p in providers]
        self.loading = False
        if not self.providers:
            # A service without named providers (a scan): the only choice is "any", so skip it.
            async for event in self._pick_provider(0):
                yield event

    @rx.event
    @requires("portal.self")
    async def choose_service(self, key: str):
        if not isinstance(key, str) or key not in self._choices or self.move_id:
            yield rx.toast.error("Choose a service from the list.")
            return
        async for event in self._pick_service(key):
            yield event

    async def _pick_provider(self, provider_id: int):
        self.provider_id = provider_id
        self.provider_label = next((p.name for p in self.providers if p.id == provider_id), "Any available")
        self._clear_from("day")
        self.step, self.loading = "day", True
        yield
        service_id, type_id = self._choices[self.service_key]
        try:
            days = await self._run(
                portal_booking.free_days,
                service_id=service_id,
                appointment_type_id=type_id,
                resource_id=provider_id or None,
                days=DAYS_AHEAD,
                moving=bool(self.move_id),
            )
        except DomainError as error:
            self.loading = False
            yield rx.toast.error(str(error))
            return
        self.days = [
            DayChoice(
                d.day.isoformat(), d.day.strftime("%a"), d.day.strftime("%d"), d.day.strftime("%b"), d.free
            )
            for d in days
        ]
        self.loading = False

    @rx.event
    @requires("portal.self")
    async def choose_provider(self, provider_id: int | str):
        try:
            chosen = 0 if str(provider_id) == "0" else browser_id(provider_id, "provider")
        except DomainError as error:
            yield rx.toast.error(str(error))
            return
        if not self.service_key or (chosen and chosen not in {p.id for p in self.providers}):
            yield rx.toast.error("Choose a provider from the list.")
            return
        async for event in self._pick_provider(chosen):
            yield event

    @rx.event
    @requires("portal.self")
    async def choose_day(self, iso: str):
        day = next((d for d in self.days if d.iso == iso), None) if isinstance(iso, str) else None
        if day is None or not self.service_key:
            yield rx.toast.error("Choose a day from the calendar.")
            return
        self._clear_from("slot")
        self.day_iso, self.day_full, self.waitlisted = day.iso, False, False
        self.day_label = date.fromisoformat(day.iso).strftime("%A %d %B")
        self.step, self.loading = "slot", True
        yield
        async for event in self._load_slots():
            yield event

    async def _load_slots(self):
        service_id, type_id = self._choices[self.service_key]
        try:
            times = await self._run(
                portal_booking.free_times,
                service_id=service_id,
                appointment_type_id=type_id,
                day=self.day_iso,
                resource_id=self.provider_id or None,
                moving=bool(self.move_id),
            )
        except DomainError as error:
            self.loading = False
            yield rx.toast.error(str(error))
            return
        starts = [(t.start_at.isoformat(), self.provider_id or None, t.provider_name) for t in times]
        self._slot_starts = starts
        self.slots = [
            SlotChoice(i, format_local(datetime.fromisoformat(s), "%H:%M"), name)
            for i, (s, _r, name) in enumerate(starts)
        ]
        self.day_full = not starts
        self.loading = False

    @rx.event
    @requires("portal.self")
    def choose_slot(self, index: int | str):
        try:
            position = int(str(index)) if str(index).isdigit() else -1
        except ValueError:
            position = -1
        if not 0 <= position < len(self._slot_starts):
            return rx.toast.error("Choose a time from the list.")
        start, resource_id, provider = self._slot_starts[position]
        self._chosen = (start, resource_id)
        self.slot_label = format_local(datetime.fromisoformat(start), "%A %d %B %Y at %H:%M")
        self.slot_provider = provider
        self.step = "confirm"
        return None

    @rx.event
    @requires("portal.self")
    async def confirm(self):
        start, resource_id = self._chosen
        if not start or not self.service_key or self.busy:
            return
        self.busy = True
        yield
        service_id, type_id = self._choices[self.service_key]
        try:
            if self.move_id:
                appointment = await self._run(
                    scheduling.reschedule_appointment,
                    appointment_id=self.move_id,
                    start_at=start,
                    resource_id=resource_id,
                )
            else:
                appointment = await self._run(
                    scheduling.book_appointment,
                    service_id=service_id,
                    appointment_type_id=type_id,
                    start_at=start,
                    resource_id=resource_id,
                )
            row = await self._run(scheduling.get_appointment, appointment_id=appointment.id)
        except scheduling.SlotTaken as error:
            self.busy, self.step, self.loading = False, "slot", True
            yield rx.toast.error(str(error))
            async for event in self._load_slots():
                yield event
            return
        except DomainError as error:
            self.busy = False
            yield rx.toast.error(str(error))
            return
        self.busy, self.step = False, "done"
        if self.invite_id and not self.move_id and key_matches(self._choices[self.service_key], row):
            # The booking stands either way; a refusal only leaves the invitation open in the thread.
            with contextlib.suppress(DomainError):
                await self._run(
                    messaging.invitation_booked, invitation_id=self.invite_id, appointment_id=row.id
                )
        self.reference = row.reference
        self.booked_when = f"{row.day_label} at {row.start_label}"
        self.booked_with = row.resource_names[0] if row.resource_names else ""
        self.booked_what = f"{row.service_name} · {row.visit_type}"
        hospital = get_settings().hospital_name
        self.calendar_text = (
            f"{row.service_name} ({row.visit_type}), {row.day_label} {row.start_label}–"
            f"{format_local(row.end_at, '%H:%M')}"
            + (f", with {self.booked_with}" if self.booked_with else "")
            + f", {hospital}. Reference {row.reference}."
        )
        self._ics = _ics(row, hospital)
        self._chosen = ("", None)

    @rx.event
    @requires("portal.self")
    def download_calendar(self):
        if not self._ics:
            return rx.toast.error("Book an appointment first.")
        return rx.download(data=self._ics, filename=f"{self.reference or 'appointment'}.ics")

    @rx.event
    @requires("portal.self")
    async def join_waitlist(self):
        if not self.day_full or not self.service_key or self.busy or self.move_id:
            return
        self.busy = True
        yield
        service_id, type_id = self._choices[self.service_key]
        try:
            await self._run(
                scheduling.join_waitlist,
                service_id=service_id,
                appointment_type_id=type_id,
                wanted_date=self.day_iso,
                resource_id=self.provider_id or None,
            )
        except DomainError as error:
            self.busy = False
            yield rx.toast.error(str(error))
            return
        self.busy, self.waitlisted = False, True
        yield rx.toast.success(
            f"You are on the waitlist for {self.day_label}. If a place opens up we will offer it to you here."
        )

    @rx.event
    @requires("portal.self")
    def back(self):
        """One step back; the choices of the steps after it are forgotten."""
        if self.step in ("service", "done") or self.busy:
            return
        order = STEPS.index(self.step) - 1
        if STEPS[order] == "provider" and not self.providers:
            order -= 1  # the provider step was skipped: there was nothing to choose
        if order == 0 and self.move_id:
            return rx.redirect("/portal/appointments")
        self.step = STEPS[max(order, 0)]
        self._clear_from(STEPS[order + 1])
        return None
