"""The portal's self-service screens: sign-up, booking, and the patient's own appointments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import reflex as rx

from hms_app.clock import format_local, to_local, utcnow
from hms_app.errors import DomainError
from hms_app.services import portal_accounts, scheduling, security
from hms_app.services.permissions import Actor
from hms_app.settings import get_settings
from hms_app.state.session import SessionState, browser_id, call_service, pages_for, public, requires

SIGNUP_FIELDS = (
    "given_name",
    "family_name",
    "sex",
    "birth_date",
    "phone",
    "email",
    "username",
    "password",
    "password_confirm",
    "consent",
)


def _form_fields(form, names: tuple[str, ...]) -> dict[str, str]:
    """Only the fields the form has, as short strings: a browser may send anything at all."""
    if not isinstance(form, dict):
        return {}
    return {name: str(form.get(name) or "")[:256] for name in names}


class SignupState(SessionState):
    """/portal/signup: a patient creates their own portal account."""

    error_field: str = ""
    error_text: str = ""
    busy: bool = False

    @rx.event
    @public("only clears this tab's sign-up form when the form is shown")
    def clear_form(self):
        # On mount rather than on_load, for the reason given in SignInState.clear_form.
        self.error_field, self.error_text, self.busy = "", "", False

    @rx.event
    @public("only sends a tab that is already signed in to its home page")
    async def load(self):
        if self.auth_token and await self._current_actor() is not None:
            return rx.redirect(security.home_for(frozenset(self.user_roles)))
        return None

    @rx.event
    @public(
        "creates the visitor's own patient account: every field is validated on the server, attempts "
        "are limited per browser and network address and audited, and the answer never tells whether "
        "a patient record exists"
    )
    async def submit(self, form: dict):
        if self.busy:
            return
        self.busy, self.error_field, self.error_text = True, "", ""
        yield
        try:
            result = await call_service(
                portal_accounts.sign_up,
                form=_form_fields(form, SIGNUP_FIELDS),
                client_ip=self.router.session.client_ip if self.router else None,
                client_token=self.router.session.client_token if self.router else None,
            )
        except DomainError as error:
            self.busy = False
            self.error_field = error.field if error.field in SIGNUP_FIELDS else ""
            self.error_text = str(error)
            if self.error_field:
                # On a phone the field may be a screen away from the button: bring it into view.
                yield rx.scroll_to(self.error_field)
            return
        self.busy = False
        if result.stage != "active":
            # Patients must use two-factor sign-in here: the sign-in page walks them through it.
            yield [
                rx.redirect("/login?next=/portal"),
                rx.toast.success("Your account is ready. Sign in to set up two-factor sign-in.", id="auth"),
            ]
            return
        self.auth_token = result.token
        self._actor_checked_at = 0.0
        yield [
            rx.toast.success(f"Welcome! {result.message}", id="signup"),
            rx.redirect(result.home),
        ]


# ====================================================================== /portal/book

DAYS_AHEAD = 30
STEPS = ("service", "provider", "day", "slot", "confirm", "done")


@dataclass
class ServiceChoice:
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


def _free_days(
    session,
    *,
    actor: Actor,
    service_id: int,
    appointment_type_id: int,
    resource_id: int | None,
    first: date,
    count: int,
    not_before: datetime,
) -> list[tuple[date, bool]]:
    """Which of ``count`` days from ``first`` still have a free time: one look per day that stops at
    the first free time (about half a second for 30 days on the demo data, in a worker thread)."""
    days = []
    for offset in range(count):
        day = first + timedelta(days=offset)
        free = scheduling.find_free_slots(
            session,
            actor=actor,
            service_id=service_id,
            appointment_type_id=appointment_type_id,
            day=day,
            resource_id=resource_id,
            limit=1,
            now=not_before,
        )
        days.append((day, bool(free)))
    return days


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


def inside_change_window(start_at: datetime, now: datetime) -> bool:
    """Too close to the start to change online: only the hint on screen (the service decides)."""
    return start_at - now < timedelta(hours=scheduling.policy().cancel_cutoff_hours)


class BookingState(SessionState):
    """/portal/book: service -> provider (or any) -> day -> time -> confirm -> reference.

    With ``?move=<appointment id>`` the same steps move one of the patient's own bookings.
    """

    step: str = "service"
    loading: bool = False
    busy: bool = False
    services: list[ServiceChoice] = []
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
        self._clear_from("provider")
        yield
        try:
            options = await self._run(scheduling.list_services)
            move = self.router.url.query_parameters.get("move", "") if self.router else ""
            row = (
                await self._run(scheduling.get_appointment, appointment_id=browser_id(move, "appointment"))
                if move
                else None
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
                    ServiceChoice(
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
        now = utcnow()
        try:
            days = await self._run(
                _free_days,
                service_id=service_id,
                appointment_type_id=type_id,
                resource_id=provider_id or None,
                first=to_local(now).date(),
                count=DAYS_AHEAD,
                not_before=self._not_before(now),
            )
        except DomainError as error:
            self.loading = False
            yield rx.toast.error(str(error))
            return
        self.days = [
            DayChoice(d.isoformat(), d.strftime("%a"), d.strftime("%d"), d.strftime("%b"), free)
            for d, free in days
        ]
        self.loading = False

    def _not_before(self, now: datetime) -> datetime:
        # A move must land outside the window in which changes are refused.
        if self.move_id:
            return now + timedelta(hours=scheduling.policy().cancel_cutoff_hours)
        return now

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
            found = await self._run(
                scheduling.find_free_slots,
                service_id=service_id,
                appointment_type_id=type_id,
                day=self.day_iso,
                resource_id=self.provider_id or None,
                limit=200,
                now=self._not_before(utcnow()),
            )
        except DomainError as error:
            self.loading = False
            yield rx.toast.error(str(error))
            return
        starts: list[tuple[str, int | None, str]] = []
        seen: set = set()
        for slot in found:
            if slot.start_at in seen:
                continue  # "any provider": one button per time, the first provider free then
            seen.add(slot.start_at)
            starts.append((slot.start_at.isoformat(), self.provider_id or None, slot.provider_name))
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


# ====================================================================== /portal/appointments

PAST_PAGE_SIZE = 10
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
        changeable=row.status == "booked" and not inside_change_window(row.start_at, now),
        online=online is None or row.service_id in online,
    )


class AppointmentsState(SessionState):
    """/portal/appointments: the patient's upcoming and past visits, waitlist places and offers."""

    loaded: bool = False
    upcoming: list[AppointmentLine] = []
    past: list[AppointmentLine] = []
    past_page: int = 1
    past_total: int = 0
    waitlist: list[WaitlistLine] = []
    busy: bool = False
    cancel_id: int = 0
    cancel_title: str = ""
    cancel_error: str = ""
    cancel_reasons: list[str] = list(CANCEL_REASONS)
    cutoff_hours: int = 2

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
            waiting = await self._run(scheduling.list_waitlist, statuses=("waiting",), limit=20)
            online = {service.id for service in await self._run(scheduling.list_services)}
        except DomainError as error:
            self.loaded = True
            return rx.toast.error(str(error))
        self.upcoming = [_line(r, now, online) for r in upcoming.rows]
        self.past = [_line(r, now) for r in past.rows]
        self.past_total = past.total
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
    async def next_past(self):
        if self.past_page < self.past_pages:
            self.past_page += 1
            return await self._refresh()
        return None

    @rx.event
    @requires("portal.self")
    async def previous_past(self):
        if self.past_page > 1:
            self.past_page -= 1
            return await self._refresh()
        return None

    def _upcoming(self, appointment_id) -> AppointmentLine | None:
        """One of the visits on screen (the service checks again that it is this patient's)."""
        try:
            wanted = browser_id(appointment_id, "appointment")
        except DomainError:
            return None
        return next((a for a in self.upcoming if a.id == wanted), None)

    async def _refusal_for(self, line: AppointmentLine) -> str | None:
        """The clinic's reason why this visit cannot be changed online now (None: it can)."""
        try:
            return await self._run(scheduling.portal_change_refusal, appointment_id=line.id)
        except DomainError as error:
            return str(error)

    @rx.event
    @requires("portal.self")
    async def open_cancel(self, appointment_id: int):
        line = self._upcoming(appointment_id)
        if line is None or line.status != "booked":
            return rx.toast.error("Choose one of your booked appointments.")
        refusal = await self._refusal_for(line)
        if refusal:
            return rx.toast.error(refusal, id="policy")
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
        fields = _form_fields(form, ("reason", "details"))
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
        line = self._upcoming(appointment_id)
        if line is None or line.status != "booked":
            return rx.toast.error("Choose one of your booked appointments.")
        refusal = await self._refusal_for(line)
        if refusal:
            return rx.toast.error(refusal, id="policy")
        return rx.redirect(f"/portal/book?move={line.id}")

    @rx.event
    @requires("portal.self")
    async def accept_offer(self, appointment_id: int):
        line = self._upcoming(appointment_id)
        if line is None or line.status != "offered" or self.busy:
            return
        self.busy = True
        yield
        try:
            await self._run(scheduling.accept_offer, appointment_id=line.id)
        except DomainError as error:
            self.busy = False
            yield rx.toast.error(str(error))
            yield await self._refresh()
            return
        self.busy = False
        yield rx.toast.success(f"Booked: {line.day} at {line.time}. Your reference is {line.reference}.")
        yield await self._refresh()

    @rx.event
    @requires("portal.self")
    async def decline_offer(self, appointment_id: int):
        line = self._upcoming(appointment_id)
        if line is None or line.status != "offered" or self.busy:
            return
        self.busy = True
        yield
        try:
            await self._run(scheduling.decline_offer, appointment_id=line.id)
        except DomainError as error:
            self.busy = False
            yield rx.toast.error(str(error))
            return
        self.busy = False
        yield rx.toast.info("Offer declined. You are no longer waiting for that day.")
        yield await self._refresh()

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
        self.busy = True
        yield
        try:
            await self._run(scheduling.leave_waitlist, entry_id=wanted)
        except DomainError as error:
            self.busy = False
            yield rx.toast.error(str(error))
            return
        self.busy = False
        yield rx.toast.info("You have left the waitlist.")
        yield await self._refresh()
