"""The calendar's booking dialog: patient, service, visit type, resource, day, free times, repeat,
or the waitlist when the day is full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import reflex as rx

from hms_app.clock import format_local, local_today
from hms_app.errors import DomainError, ValidationError
from hms_app.services import patients as patient_svc
from hms_app.services.scheduling.booking import book_appointment, book_recurring
from hms_app.services.scheduling.calendar import booking_options
from hms_app.services.scheduling.policy import SlotTaken
from hms_app.services.scheduling.slots import find_free_slots
from hms_app.services.scheduling.waitlist import join_waitlist
from hms_app.state.scheduling.appointment_panel import SlotLine, slot_lines
from hms_app.state.scheduling.calendar import ScheduleState
from hms_app.state.scheduling.common import ANY, MAX_QUERY, Option, parse_day
from hms_app.state.session import SessionState, requires

PATIENT_OPTIONS = 8


@dataclass
class PatientPick:
    id: int = 0
    name: str = ""
    mrn: str = ""
    born: str = ""


@dataclass
class TypeChoice:
    id: str = ""
    label: str = ""  # "Follow-up · 15 min · virtual"


@dataclass
class BookableService:
    id: str = ""
    name: str = ""
    types: list[TypeChoice] = field(default_factory=list)


# The time clicked on the calendar is chosen in the list of free times: bring it into view.
SHOW_CHOSEN_SLOT = rx.call_script(
    """setTimeout(() => {
  const el = document.querySelector("[data-testid=booking-slots] [data-chosen=true]");
  if (el) el.scrollIntoView({block: "nearest"});
}, 250)"""
)
BOOKING_FIELDS = (
    "patient_id",
    "service_id",
    "appointment_type_id",
    "resource_id",
    "day",
    "start_at",
    "count",
    "every_days",
)


class BookingState(SessionState):
    """The booking dialog: patient, service, visit type, resource, day, free times, repeat."""

    open: bool = False
    department_id: int = 0
    patient_query: str = ""
    patient_hits: list[PatientPick] = []
    patient_id: int = 0
    patient_label: str = ""
    services: list[BookableService] = []
    service_id: str = ""
    type_id: str = ""
    resource_options: list[Option] = []
    resource_id: str = ANY
    day: str = ""
    prefer_minute: int = -1
    slots: list[SlotLine] = []
    slot_key: str = ""
    searched: bool = False  # the slots answer the current choices
    repeat: bool = False
    every_days: str = "7"
    count: str = "4"
    error_field: str = ""
    error_text: str = ""
    saving: bool = False
    waitlisted: str = ""  # a confirmation after adding the patient to the waitlist

    _primaries: dict[int, list[tuple[int, str, str]]] = {}  # per service: (id, name, kind) to book with
    _wanted_resource: int = 0  # the column clicked: preselected once a service it offers is chosen

    @rx.var
    def type_choices(self) -> list[TypeChoice]:
        for service in self.services:
            if service.id == self.service_id:
                return service.types
        return []

    @rx.var
    def chosen_slot(self) -> SlotLine:
        return next((s for s in self.slots if s.key == self.slot_key), SlotLine())

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        self.error_text = str(error)
        self.error_field = error.field if error.field in BOOKING_FIELDS else ""

    def _reset_form(self) -> None:
        self.patient_query, self.patient_hits, self.patient_id, self.patient_label = "", [], 0, ""
        self.service_id = self.type_id = ""
        self.resource_options, self.resource_id = [], ANY
        self.slots, self.slot_key, self.searched = [], "", False
        self.repeat, self.every_days, self.count = False, "7", "4"
        self.error_field = self.error_text = self.waitlisted = ""
        self.saving, self.prefer_minute = False, -1

    async def _open(self, day: str, resource_id: int, minute: int):
        schedule = await self.get_state(ScheduleState)
        department = schedule._department()
        if department is None:
            return rx.toast.error("Choose a department first.")
        self._reset_form()
        self.department_id = department
        try:
            options = await self._run(booking_options, department_id=department)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.services = [
            BookableService(
                str(s.id),
                s.name,
                [
                    TypeChoice(
                        str(t.id),
                        f"{t.name} · {t.duration_minutes} min"
                        + (" · virtual" if t.mode == "virtual" else ""),
                    )
                    for t in s.visit_types
                ],
            )
            for s in options.services
            if s.visit_types
        ]
        self._primaries = {
            sid: [(r.resource_id, r.name, r.kind) for r in rows] for sid, rows in options.primaries.items()
        }
        self.day = day or schedule.day or local_today().isoformat()
        if date.fromisoformat(self.day) < local_today():
            self.day = local_today().isoformat()
        self.prefer_minute = minute
        self._wanted_resource = resource_id
        if len(self.services) == 1:
            self._choose_service(self.services[0].id)
        self.open = True
        return None

    def _choose_service(self, service_id: str) -> None:
        self.service_id = service_id
        choice = next(s for s in self.services if s.id == service_id)
        self.type_id = choice.types[0].id if len(choice.types) == 1 else ""
        primaries = self._primaries.get(int(service_id), [])
        self.resource_options = [Option(str(rid), name, kind) for rid, name, kind in primaries]
        wanted = str(self._wanted_resource)
        self.resource_id = wanted if wanted in {o.id for o in self.resource_options} else ANY
        self.slots, self.slot_key, self.searched = [], "", False

    async def _search(self) -> None:
        self.slots, self.slot_key, self.searched, self.waitlisted = [], "", False, ""
        if not (self.service_id and self.type_id and self.day):
            return
        slots = await self._run(
            find_free_slots,
            service_id=int(self.service_id),
            appointment_type_id=int(self.type_id),
            day=self.day,
            resource_id=None if self.resource_id == ANY else int(self.resource_id),
            limit=120,
        )
        self.slots = slot_lines(slots, self.prefer_minute)
        preferred = next((s for s in self.slots if s.preferred), None)
        self.slot_key = preferred.key if preferred else ""
        self.searched = True

    async def _search_or_fail(self):
        try:
            await self._search()
        except DomainError as error:
            self._fail(error)
        return None

    @rx.event
    @requires("appointment.book")
    async def open_new(self):
        schedule = await self.get_state(ScheduleState)
        resource = schedule._resource() or 0
        return await self._open(schedule.day if schedule.view == "day" else "", resource, -1)

    @rx.event
    @requires("appointment.book")
    async def open_at(self, day: str, resource_id: int, minute: int):
        try:
            wanted_day = parse_day(day).isoformat()
        except ValidationError as error:
            return rx.toast.error(str(error))
        if not isinstance(minute, int) or isinstance(minute, bool) or not 0 <= minute < 24 * 60:
            return rx.toast.error("Choose a time on the calendar.")
        schedule = await self.get_state(ScheduleState)
        rid = (
            resource_id
            if isinstance(resource_id, int) and str(resource_id) in {r.id for r in schedule.resources}
            else 0
        )
        response = await self._open(wanted_day, rid, minute)
        if response is None and self.service_id and self.type_id:
            await self._search_or_fail()
            if self.slot_key:
                return SHOW_CHOSEN_SLOT
        return response

    @rx.event
    @requires("appointment.book")
    async def close(self):
        self.open = False
        self._reset_form()

    @rx.event
    @requires("appointment.book")
    async def on_open_change(self, is_open: bool):
        if not is_open:
            self.open = False
            self._reset_form()

    @rx.event
    @requires("patient.read")
    async def set_patient_query(self, value: str):
        if not isinstance(value, str) or len(value) > MAX_QUERY:
            return rx.toast.error(f"Search for at most {MAX_QUERY} characters.")
        self.patient_query = value
        if len(value.strip()) < 2:
            self.patient_hits = []
            return None
        try:
            rows = await self._run(patient_svc.find_living, query=value, limit=PATIENT_OPTIONS)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.patient_hits = [PatientPick(r.id, r.name, r.mrn, r.birth_date.isoformat()) for r in rows]
        return None

    @rx.event
    @requires("appointment.book")
    async def pick_patient(self, patient_id: int):
        chosen = next((p for p in self.patient_hits if p.id == patient_id), None)
        if chosen is None:
            return rx.toast.error("Choose a patient from the search results.")
        self.patient_id, self.patient_label = chosen.id, f"{chosen.name} · {chosen.mrn} · born {chosen.born}"
        self.patient_hits, self.patient_query = [], ""
        if self.error_field == "patient_id":
            self.error_field = self.error_text = ""
        return None

    @rx.event
    @requires("appointment.book")
    async def clear_patient(self):
        self.patient_id, self.patient_label = 0, ""

    @rx.event
    @requires("appointment.book")
    async def set_service(self, value: str):
        if value not in {s.id for s in self.services}:
            return rx.toast.error("Choose a service from the list.")
        self._choose_service(value)
        self.error_field = self.error_text = ""
        await self._search_or_fail()
        return SHOW_CHOSEN_SLOT if self.slot_key else None

    @rx.event
    @requires("appointment.book")
    async def set_type(self, value: str):
        if value not in {t.id for t in self.type_choices}:
            return rx.toast.error("Choose a visit type from the list.")
        self.type_id = value
        self.error_field = self.error_text = ""
        await self._search_or_fail()
        return SHOW_CHOSEN_SLOT if self.slot_key else None

    @rx.event
    @requires("appointment.book")
    async def set_booking_resource(self, value: str):
        if value != ANY and value not in {o.id for o in self.resource_options}:
            return rx.toast.error("Choose a resource from the list.")
        self.resource_id = value
        return await self._search_or_fail()

    @rx.event
    @requires("appointment.book")
    async def set_booking_day(self, value: str):
        try:
            wanted = parse_day(value)
        except ValidationError as error:
            self._fail(error)
            return None
        if wanted < local_today():
            self._fail(ValidationError("That day has passed.", field="day"))
            return None
        self.day, self.error_field, self.error_text = wanted.isoformat(), "", ""
        return await self._search_or_fail()

    @rx.event
    @requires("appointment.book")
    async def booking_day_step(self, direction: int):
        if direction not in (-1, 1) or not self.day:
            return None
        wanted = date.fromisoformat(self.day) + timedelta(days=direction)
        if wanted < local_today():
            return None
        self.day = wanted.isoformat()
        return await self._search_or_fail()

    @rx.event
    @requires("appointment.book")
    async def pick_slot(self, key: str):
        if key not in {s.key for s in self.slots}:
            return rx.toast.error("Choose one of the free times shown.")
        self.slot_key = key
        if self.error_field == "start_at":
            self.error_field = self.error_text = ""
        return None

    @rx.event
    @requires("appointment.book")
    async def set_repeat(self, value: bool):
        self.repeat = bool(value)

    @rx.event
    @requires("appointment.book")
    async def set_every_days(self, value: str):
        # Kept as typed; the service says what is allowed (every 1 to 91 days) when booking.
        if not isinstance(value, str) or len(value) > 3:
            return rx.toast.error("Enter every how many days the visit repeats.")
        self.every_days = value
        return None

    @rx.event
    @requires("appointment.book")
    async def set_count(self, value: str):
        if not isinstance(value, str) or len(value) > 3:
            return rx.toast.error("Enter the number of visits.")
        self.count = value
        return None

    async def _after_write(self):
        schedule = await self.get_state(ScheduleState)
        await schedule._safe_reload()

    @rx.event
    @requires("appointment.book")
    async def book(self):
        if not self.patient_id:
            self._fail(ValidationError("Choose the patient.", field="patient_id"))
            return
        slot = self.chosen_slot
        if not slot.key:
            self._fail(ValidationError("Choose one of the free times.", field="start_at"))
            return
        self.saving, self.error_field, self.error_text = True, "", ""
        yield
        try:
            if self.repeat:
                booked = await self._run(
                    book_recurring,
                    patient_id=self.patient_id,
                    service_id=int(self.service_id),
                    appointment_type_id=int(self.type_id),
                    first_start_at=slot.start_iso,
                    count=self.count,
                    every_days=self.every_days,
                    resource_id=None if self.resource_id == ANY else int(self.resource_id),
                )
            else:
                booked = [
                    await self._run(
                        book_appointment,
                        patient_id=self.patient_id,
                        service_id=int(self.service_id),
                        appointment_type_id=int(self.type_id),
                        start_at=slot.start_iso,
                        resource_id=slot.resource_id,
                    )
                ]
        except DomainError as error:
            self._fail(error)
            if isinstance(error, SlotTaken):
                await self._search_or_fail()  # the clear message stays; the list shows what is free now
                self.error_text, self.error_field = str(error), "start_at"
            return
        first = booked[0]
        when = format_local(first.start_at, "%a %d %b %H:%M")
        if len(booked) > 1:
            message = f"Booked {len(booked)} visits from {when} (series {first.series_id}); first {first.reference}."
        else:
            message = f"Booked {first.reference} on {when}."
        self.open = False
        self._reset_form()
        await self._after_write()
        yield rx.toast.success(message, id="booked")

    @rx.event
    @requires("appointment.book")
    async def add_to_waitlist(self):
        if not self.patient_id:
            self._fail(ValidationError("Choose the patient.", field="patient_id"))
            return None
        if not (self.service_id and self.type_id and self.day):
            self._fail(ValidationError("Choose the service, visit type and day.", field="service_id"))
            return None
        try:
            await self._run(
                join_waitlist,
                patient_id=self.patient_id,
                service_id=int(self.service_id),
                appointment_type_id=int(self.type_id),
                wanted_date=self.day,
                resource_id=None if self.resource_id == ANY else int(self.resource_id),
            )
        except DomainError as error:
            self._fail(error)
            return None
        day = date.fromisoformat(self.day).strftime("%a %d %b")
        self.waitlisted = (
            f"On the waitlist for {day}: the first time freed that day is offered to the patient."
        )
        return rx.toast.success("Added to the waitlist.")
