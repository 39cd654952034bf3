"""The staff scheduling screens' states driven as a browser tab would, against the test database.

A receptionist opens the calendar, books from an empty cell, moves and cancels; a nurse runs
the visit flow; two clerks race for one time; a series is booked; the set-up forms show the
services' field messages. The actor always comes from a real session token.
"""

from __future__ import annotations

import inspect
from datetime import UTC, date, datetime, time, timedelta

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import func, select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.clock import format_local, to_local, utcnow
from hms_app.models.organization import Department
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AvailabilityException,
    AvailabilityRule,
    Resource,
    ResourceBlock,
)
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, security
from hms_app.services import patients as patient_svc
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.scheduling.booking import book_appointment, cancel_appointment
from hms_app.services.scheduling.flow import check_in, mark_no_show
from hms_app.services.scheduling.lists import AppointmentRow
from hms_app.services.scheduling.policy import SLOT_TAKEN_MESSAGE
from hms_app.services.scheduling.setup import (
    add_availability_rule,
    link_resource_service,
    save_appointment_type,
    save_resource,
    save_service,
)
from hms_app.services.scheduling.slots import local_moment
from hms_app.services.scheduling.waitlist import join_waitlist, list_waitlist
from hms_app.state.scheduling.booking_dialog import BookingState
from hms_app.state.scheduling.calendar import ScheduleState
from hms_app.state.scheduling.layout import WEEK_MAX_LANES, assign_lanes, column_blocks, window_for
from hms_app.state.scheduling.no_shows import NoShowState
from hms_app.state.scheduling.setup import ScheduleSetupState

PASSWORD = "Front-desk-42"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _today() -> date:
    return to_local(utcnow()).date()


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return local_moment(day, time(hour, minute), to_local(utcnow()).tzinfo).astimezone(UTC)


@pytest.fixture
def clinic(session):
    """A clinic: a doctor and a room that work all day every day, one 15-minute visit type needing
    a room, a receptionist, a nurse and two patients."""
    accounts.ensure_roles(session)
    for username, role in (("rita", "receptionist"), ("rosa", "receptionist"), ("nina", "nurse")):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
        )
    department = Department(code="GEN", name="General practice")
    session.add(department)
    session.commit()
    doctor = save_resource(
        session,
        actor=SYSTEM_ACTOR,
        data={"kind": "provider", "name": "Dr Ada Stone", "department_id": department.id},
    )
    room = save_resource(
        session, actor=SYSTEM_ACTOR, data={"kind": "room", "name": "Room 1", "department_id": department.id}
    )
    service = save_service(
        session,
        actor=SYSTEM_ACTOR,
        data={"code": "GP", "name": "GP consultation", "department_id": department.id, "self_bookable": True},
    )
    vtype = save_appointment_type(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "service_id": service.id,
            "code": "STD",
            "name": "Standard",
            "duration_minutes": 15,
            "mode": "in_person",
            "needs_room": True,
        },
    )
    for resource in (doctor, room):
        link_resource_service(session, actor=SYSTEM_ACTOR, resource_id=resource.id, service_id=service.id)
    for weekday in range(7):  # all day, so that the tests do not depend on the hour they run at
        add_availability_rule(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "resource_id": doctor.id,
                "weekday": weekday,
                "start_time": "00:00",
                "end_time": "23:55",
                "valid_from": (_today() - timedelta(days=400)).isoformat(),
            },
        )
    catherine = patient_svc.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "given_name": "Catherine",
            "family_name": "Johnson",
            "sex": "female",
            "birth_date": "1984-03-07",
        },
    )
    omar = patient_svc.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Omar", "family_name": "Haddad", "sex": "male", "birth_date": "1979-11-02"},
    )
    return {
        "department": department.id,
        "doctor": doctor.id,
        "room": room.id,
        "service": service.id,
        "type": vtype.id,
        "catherine": catherine,
        "omar": omar,
    }


def _tree(path: str, username: str):
    """A fresh tab's state tree opened at ``path`` and signed in as ``username``."""
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.QUERY: {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
        },
        {},
    )
    token = None
    with hms_db.session_scope() as s:
        token = security.sign_in(s, username=username, password=PASSWORD).token

    def get(cls):
        state = root.get_substate(cls.get_full_name().split(".")[1:])
        state.auth_token = token
        return state

    return get


async def _call(state, name: str, *args) -> list:
    """Run one handler as Reflex would; return what it produced, flattened."""
    fn = type(state).event_handlers[name].fn
    if inspect.isasyncgenfunction(fn):
        produced = [item async for item in fn(state, *args)]
    else:
        result = fn(state, *args)
        produced = [await result if inspect.isawaitable(result) else result]
    flat: list = []

    def walk(item):
        if isinstance(item, (list, tuple)):
            for inner in item:
                walk(inner)
        elif item is not None:
            flat.append(item)

    walk(produced)
    return flat


def _toasts(events) -> str:
    """Everything the events would show, as one text to search in."""
    return " ".join(str(e) for e in events)


def _appointments() -> list[Appointment]:
    with hms_db.session_scope() as s:
        return list(s.execute(select(Appointment).order_by(Appointment.id)).scalars())


def _audit(action: str) -> list[AuditEvent]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()
        )


def _book_directly(clinic, patient, start: datetime, *, now: datetime | None = None) -> Appointment:
    with hms_db.session_scope() as s:
        return book_appointment(
            s,
            actor=SYSTEM_ACTOR,
            patient_id=patient.id,
            service_id=clinic["service"],
            appointment_type_id=clinic["type"],
            start_at=start,
            now=now,
        )


async def _open_calendar(get, day: date):
    calendar = get(ScheduleState)
    await _call(calendar, "load")
    await _call(calendar, "set_day", day.isoformat())
    return calendar


def _blocks(calendar, resource_id: int) -> dict[str, str]:
    column = next(c for c in calendar.columns if c.resource_id == resource_id)
    return {b.reference: b.status for b in column.blocks}


# --------------------------------------------------------------------------- layout (pure)


def test_overlapping_visits_sit_side_by_side_and_the_rest_take_the_full_width():
    placed = assign_lanes([(540, 570), (550, 565), (600, 615), (565, 600)])
    # 09:05 reuses the lane freed at 09:05; 10:00 starts a new cluster at full width.
    assert [(p.lane, p.lanes) for p in placed] == [(0, 2), (1, 2), (0, 1), (1, 2)]
    three = assign_lanes([(540, 570), (550, 565), (560, 600)])
    assert [(p.lane, p.lanes) for p in three] == [(0, 3), (1, 3), (2, 3)]
    assert [(p.lane, p.lanes) for p in assign_lanes([(540, 555), (555, 570)])] == [(0, 1), (0, 1)]


def _row(ident: int, start: datetime, minutes: int) -> AppointmentRow:
    return AppointmentRow(
        id=ident,
        reference=f"AP-{ident}",
        patient_id=ident,
        patient_name=f"Patient {ident}",
        mrn="",
        service_id=1,
        service_name="Clinic",
        visit_type="Follow-up",
        mode="in_person",
        department_id=1,
        start_at=start,
        end_at=start + timedelta(minutes=minutes),
        start_label=format_local(start, "%H:%M"),
        day_label="",
        status="booked",
        booked_via="staff",
        queue_token=None,
    )


def test_a_crowded_week_column_folds_the_overlap_into_a_chip_and_the_day_view_shows_every_visit():
    day = _today() + timedelta(days=1)
    rows = [_row(i, _local(day, 9, 5 * i), 30) for i in range(4)] + [_row(9, _local(day, 14), 15)]
    window = (7 * 60, 19 * 60)
    week = column_blocks(rows, day, window, WEEK_MAX_LANES)
    shown = {b.reference: (b.left, b.width) for b in week if not b.more}
    chips = [b for b in week if b.more]
    # 09:00 keeps the whole width, the three that overlap it are one chip on it, 14:00 is alone
    assert shown == {"AP-0": (0.0, 100.0), "AP-9": (0.0, 100.0)}
    assert [(c.patient, c.more, c.day) for c in chips] == [("+3", 3, day.isoformat())]
    assert chips[0].visit == "3 more visits at this time: open the day"
    assert chips[0].top == round((9 * 60 + 5 - window[0]) * 1.6)
    day_view = column_blocks(rows, day, window)
    assert sorted(b.width for b in day_view) == [25.0, 25.0, 25.0, 25.0, 100.0] and not any(
        b.more for b in day_view
    )


def test_the_window_is_seven_to_seven_and_widens_to_whole_hours_for_early_or_late_visits():
    assert window_for([]) == (7 * 60, 19 * 60)
    assert window_for([(6 * 60 + 40, 7 * 60 + 10), (19 * 60, 19 * 60 + 5)]) == (6 * 60, 20 * 60)


# --------------------------------------------------------------------------- booking from the calendar


async def test_reception_books_from_an_empty_cell_and_sees_the_block(clinic, configured_db):
    get = _tree("/schedule", "rita")
    tomorrow = _today() + timedelta(days=1)
    calendar = await _open_calendar(get, tomorrow)
    assert [d.label for d in calendar.departments] == ["General practice"]
    assert [c.title for c in calendar.columns] == ["Dr Ada Stone"]  # providers by default
    await _call(calendar, "toggle_kind", "room")
    assert [c.title for c in calendar.columns] == ["Dr Ada Stone", "Room 1"]

    booking = get(BookingState)
    await _call(booking, "open_at", tomorrow.isoformat(), clinic["doctor"], 10 * 60)
    assert (
        booking.open
        and booking.service_id == str(clinic["service"])
        and booking.type_id == str(clinic["type"])
    )
    assert booking.resource_id == str(clinic["doctor"])  # the column clicked
    assert booking.chosen_slot.time == "10:00"  # the time clicked is chosen
    assert booking.chosen_slot.resources == "Dr Ada Stone, Room 1"

    events = await _call(booking, "book")
    assert booking.error_field == "patient_id" and _appointments() == []
    await _call(booking, "set_patient_query", "johns")
    assert [p.mrn for p in booking.patient_hits] == [clinic["catherine"].mrn]
    await _call(booking, "pick_patient", clinic["catherine"].id)
    events = await _call(booking, "book")

    (booked,) = _appointments()
    assert (booked.patient_id, booked.status, booked.start_at) == (
        clinic["catherine"].id,
        "booked",
        _local(tomorrow, 10),
    )
    assert booked.reference in _toasts(events) and not booking.open
    blocks = _blocks(calendar, clinic["doctor"])
    assert blocks == {booked.reference: "booked"}  # the calendar reloaded with the new block
    assert _blocks(calendar, clinic["room"]) == {booked.reference: "booked"}  # the room is held too
    assert _audit("appointment.book")[-1].username == "rita"


async def test_a_time_taken_by_another_clerk_gives_the_clear_message_and_fresh_times(clinic, configured_db):
    tomorrow = _today() + timedelta(days=1)
    tabs = []
    for username in ("rita", "rosa"):
        get = _tree("/schedule", username)
        await _open_calendar(get, tomorrow)
        booking = get(BookingState)
        await _call(booking, "open_at", tomorrow.isoformat(), clinic["doctor"], 9 * 60)
        tabs.append(booking)
    first, second = tabs
    await _call(first, "set_patient_query", "Johnson")
    await _call(first, "pick_patient", clinic["catherine"].id)
    await _call(second, "set_patient_query", "Haddad")
    await _call(second, "pick_patient", clinic["omar"].id)
    assert first.chosen_slot.time == second.chosen_slot.time == "09:00"

    await _call(first, "book")
    await _call(second, "book")
    assert second.open and second.error_field == "start_at"
    assert second.error_text == SLOT_TAKEN_MESSAGE
    assert "09:00" not in {s.time for s in second.slots} and "09:15" in {s.time for s in second.slots}
    assert [a.patient_id for a in _appointments()] == [clinic["catherine"].id]  # nothing half-written


async def test_a_weekly_series_is_booked_whole(clinic, configured_db):
    get = _tree("/schedule", "rita")
    tomorrow = _today() + timedelta(days=1)
    await _open_calendar(get, tomorrow)
    booking = get(BookingState)
    await _call(booking, "open_at", tomorrow.isoformat(), clinic["doctor"], 14 * 60)
    await _call(booking, "set_patient_query", "Haddad")
    await _call(booking, "pick_patient", clinic["omar"].id)
    await _call(booking, "set_repeat", True)
    await _call(booking, "set_count", "3")
    events = await _call(booking, "book")
    series = _appointments()
    assert [to_local(a.start_at).date() for a in series] == [
        tomorrow + timedelta(days=7 * n) for n in range(3)
    ]
    assert len({a.series_id for a in series}) == 1 and series[0].series_id
    assert series[0].series_id in _toasts(events)

    # A series never vanishes from view: cancel the second visit; the first still lists all three.
    with hms_db.session_scope() as s:
        cancel_appointment(s, actor=SYSTEM_ACTOR, appointment_id=series[1].id, reason="Away that week")
    calendar = get(ScheduleState)
    await _call(calendar, "set_day", tomorrow.isoformat())
    await _call(calendar, "select", series[0].id)
    assert calendar.detail.series == series[0].series_id and calendar.series == []
    await _call(calendar, "show_series")
    assert [(line.reference, line.status, line.current) for line in calendar.series] == [
        (series[0].reference, "booked", True),
        (series[1].reference, "cancelled", False),
        (series[2].reference, "booked", False),
    ]


# --------------------------------------------------------------------------- the side panel


async def test_the_nurse_checks_in_calls_and_completes_and_sees_the_queue_token(clinic, configured_db):
    today = _today()
    midnight = _local(today, 0)
    appointment = _book_directly(clinic, clinic["catherine"], _local(today, 0, 30), now=midnight)
    get = _tree("/schedule", "nina")
    calendar = await _open_calendar(get, today)
    assert _blocks(calendar, clinic["doctor"]) == {appointment.reference: "booked"}

    await _call(calendar, "select", appointment.id)
    assert (calendar.panel, calendar.detail.patient, calendar.detail.resources) == (
        "details",
        "Catherine Johnson",
        "Dr Ada Stone, Room 1",
    )
    events = await _call(calendar, "check_in")
    assert calendar.detail.status == "arrived" and calendar.detail.token.startswith("G-")
    assert calendar.detail.token in _toasts(events)
    assert next(b for c in calendar.columns for b in c.blocks).token == calendar.detail.token
    await _call(calendar, "call_in")
    assert calendar.detail.status == "in_room"
    await _call(calendar, "complete")
    assert calendar.detail.status == "completed"
    assert [a.status for a in _appointments()] == ["completed"]
    for action in ("appointment.check_in", "appointment.call", "appointment.complete"):
        assert _audit(action)[-1].username == "nina"

    # The nurse may run the flow but not book: the server refuses, whatever the browser sends.
    refused = await _call(calendar, "ask_cancel")
    assert "does not allow" in _toasts(refused) and calendar.panel == "details"


async def test_only_appointments_on_the_screen_can_be_opened(clinic, configured_db):
    other = _book_directly(clinic, clinic["omar"], _local(_today() + timedelta(days=3), 9))
    get = _tree("/schedule", "rita")
    calendar = await _open_calendar(get, _today() + timedelta(days=1))
    events = await _call(calendar, "select", other.id)
    assert "on the calendar" in _toasts(events) and calendar.panel == ""
    events = await _call(calendar, "select", "1; drop table appointment")
    assert "from the list" in _toasts(events)


async def test_move_shows_the_free_times_and_one_click_moves(clinic, configured_db):
    tomorrow = _today() + timedelta(days=1)
    appointment = _book_directly(clinic, clinic["catherine"], _local(tomorrow, 10))
    get = _tree("/schedule", "rita")
    calendar = await _open_calendar(get, tomorrow)
    await _call(calendar, "select", appointment.id)
    await _call(calendar, "ask_move")
    assert calendar.panel == "move" and calendar.move_day == tomorrow.isoformat()
    times = {s.time for s in calendar.move_slots}
    assert "10:00" not in times and {"09:45", "10:15"} <= times

    await _call(calendar, "move_day_step", 1)  # the next day, with the same doctor
    assert calendar.move_day == (tomorrow + timedelta(days=1)).isoformat() and "10:00" in {
        s.time for s in calendar.move_slots
    }
    target = next(s for s in calendar.move_slots if s.time == "11:30")
    events = await _call(calendar, "move_to", target.key)
    moved = _appointments()[0]
    assert (moved.reference, moved.start_at) == (
        appointment.reference,
        _local(tomorrow + timedelta(days=1), 11, 30),
    )
    assert "moved to" in _toasts(events)
    assert calendar.day == (tomorrow + timedelta(days=1)).isoformat()  # the calendar follows the appointment
    assert _blocks(calendar, clinic["doctor"]) == {appointment.reference: "booked"}
    with hms_db.session_scope() as s:
        held = s.execute(
            select(func.count()).select_from(ResourceBlock).where(ResourceBlock.appointment_id == moved.id)
        ).scalar_one()
    assert held == 2 * 3  # doctor and room, three 5-minute blocks each, nothing left at the old time
    assert "to " in _audit("appointment.reschedule")[-1].detail


async def test_cancelling_needs_a_reason(clinic, configured_db):
    tomorrow = _today() + timedelta(days=1)
    appointment = _book_directly(clinic, clinic["catherine"], _local(tomorrow, 10))
    get = _tree("/schedule", "rita")
    calendar = await _open_calendar(get, tomorrow)
    await _call(calendar, "select", appointment.id)
    await _call(calendar, "ask_cancel")
    await _call(calendar, "confirm_cancel", {"reason": " "})
    assert "Say why" in calendar.panel_error and _appointments()[0].status == "booked"
    events = await _call(calendar, "confirm_cancel", {"reason": "Patient called: feeling better"})
    cancelled = _appointments()[0]
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "Patient called: feeling better")
    assert "cancelled" in _toasts(events) and calendar.detail.status == "cancelled"
    assert _blocks(calendar, clinic["doctor"]) == {}  # cancelled visits are hidden by default
    await _call(calendar, "set_show_cancelled", True)
    assert _blocks(calendar, clinic["doctor"]) == {appointment.reference: "cancelled"}


async def test_the_week_view_puts_each_visit_under_its_day(clinic, configured_db):
    tomorrow = _today() + timedelta(days=1)
    first = _book_directly(clinic, clinic["catherine"], _local(tomorrow, 9))
    # the same weekday a week on is always in the next week, whatever day today is
    later = _book_directly(clinic, clinic["omar"], _local(tomorrow + timedelta(days=7), 9))
    get = _tree("/schedule", "rita")
    calendar = await _open_calendar(get, tomorrow)
    await _call(calendar, "set_view", "week")
    assert (
        len(calendar.columns) == 7
        and calendar.columns[0].day == (tomorrow - timedelta(days=tomorrow.weekday())).isoformat()
    )
    by_day = {c.day: [b.reference for b in c.blocks] for c in calendar.columns}
    assert by_day[tomorrow.isoformat()] == [first.reference]
    assert later.reference not in str(by_day)
    await _call(calendar, "step", 1)
    assert later.reference in str({c.day: [b.reference for b in c.blocks] for c in calendar.columns})


async def test_leave_is_drawn_on_the_column(clinic, configured_db):
    tomorrow = _today() + timedelta(days=1)
    with hms_db.session_scope() as s:
        s.add(
            AvailabilityException(
                resource_id=clinic["doctor"],
                starts_at=_local(tomorrow, 12),
                ends_at=_local(tomorrow, 14),
                kind="leave",
                reason="Dentist",
            )
        )
        s.commit()
    get = _tree("/schedule", "rita")
    calendar = await _open_calendar(get, tomorrow)
    (column,) = calendar.columns
    leave = [b for b in column.bands if b.kind == "leave"]
    assert [b.label for b in leave] == ["Leave: Dentist"] and leave[0].height == round(120 * 1.6)


# --------------------------------------------------------------------------- no-show rates


async def test_no_show_rates_per_provider_and_patient(clinic, configured_db):
    yesterday = _today() - timedelta(days=1)
    long_ago = _local(yesterday, 0)
    visits = [
        _book_directly(clinic, clinic["omar"], _local(yesterday, 9 + n), now=long_ago) for n in range(3)
    ] + [_book_directly(clinic, clinic["catherine"], _local(yesterday, 15), now=long_ago)]
    with hms_db.session_scope() as s:
        mark_no_show(s, actor=SYSTEM_ACTOR, appointment_id=visits[0].id)
        mark_no_show(s, actor=SYSTEM_ACTOR, appointment_id=visits[1].id)
        for visit in visits[2:]:
            check_in(s, actor=SYSTEM_ACTOR, appointment_id=visit.id, now=_local(yesterday, 20))
    get = _tree("/schedule/stats", "rita")
    stats = get(NoShowState)
    await _call(stats, "load")
    assert [(r.name, r.appointments, r.no_shows, r.rate) for r in stats.providers] == [
        ("Dr Ada Stone", 4, 2, "50.0 %")
    ]
    assert [(r.name, r.rate, r.high) for r in stats.patients] == [("Omar Haddad", "66.7 %", True)]
    assert stats.overall == "50.0 % of 4 visits due"
    assert list(stats.figure.data[0].y) == ["Dr Ada Stone"]


# --------------------------------------------------------------------------- set-up


async def test_setup_forms_show_the_services_messages_next_to_the_fields(clinic, configured_db):
    get = _tree("/schedule/setup", "rita")
    setup = get(ScheduleSetupState)
    await _call(setup, "load")
    assert {r.name for r in setup.resources} == {"Dr Ada Stone", "Room 1"}
    assert [s.code for s in setup.services] == ["GP"] and [o.label for o in setup.services[0].linked] == [
        "Dr Ada Stone",
        "Room 1",
    ]

    await _call(setup, "open_resource", 0)
    await _call(
        setup,
        "save_dialog",
        {"kind": "equipment", "name": "MRI 1", "department_id": str(clinic["department"])},
    )
    assert setup.dialog == "resource" and setup.error_field == "capability"
    events = await _call(
        setup,
        "save_dialog",
        {
            "kind": "equipment",
            "name": "MRI 1",
            "department_id": str(clinic["department"]),
            "capability": "mri",
            "active": "on",
        },
    )
    assert setup.dialog == "" and "saved" in _toasts(events)
    mri = next(r for r in setup.resources if r.name == "MRI 1")
    assert (mri.kind, mri.capability, mri.active) == ("equipment", "MRI", True)

    await _call(setup, "set_rules_resource", str(mri.id))
    await _call(setup, "add_rule", {"weekday": "2", "start_time": "13:00", "end_time": "09:00"})
    assert setup.error_field == "end_time" and setup.rules == []
    await _call(setup, "add_rule", {"weekday": "2", "start_time": "08:00", "end_time": "12:30"})
    assert [(r.weekday_label, r.hours) for r in setup.rules] == [("Wednesday", "08:00–12:30")]
    with hms_db.session_scope() as s:
        assert (
            s.execute(
                select(func.count())
                .select_from(AvailabilityRule)
                .where(AvailabilityRule.resource_id == mri.id)
            ).scalar_one()
            == 1
        )

    await _call(setup, "open_type", clinic["service"], 0)
    await _call(
        setup,
        "save_dialog",
        {"code": "LONG", "name": "Long visit", "duration_minutes": "17", "mode": "in_person"},
    )
    assert setup.error_field == "duration_minutes" and "steps of 5" in setup.error_text
    await _call(
        setup,
        "save_dialog",
        {
            "code": "LONG",
            "name": "Long visit",
            "duration_minutes": "30",
            "mode": "virtual",
            "price_code": "99214",
            "active": "on",
        },
    )
    assert [(t.code, t.minutes, t.mode, t.price_code) for t in setup.services[0].types] == [
        ("STD", 15, "in_person", ""),
        ("LONG", 30, "virtual", "99214"),
    ]


async def test_leave_over_booked_visits_is_recorded_only_after_the_warning(clinic, configured_db):
    tomorrow = _today() + timedelta(days=1)
    _book_directly(clinic, clinic["catherine"], _local(tomorrow, 10))
    get = _tree("/schedule/setup", "rita")
    setup = get(ScheduleSetupState)
    await _call(setup, "load")
    form = {
        "kind": "leave",
        "resource_id": str(clinic["doctor"]),
        "starts_at": f"{tomorrow.isoformat()}T09:00",
        "ends_at": f"{tomorrow.isoformat()}T12:00",
        "reason": "Training day",
    }
    await _call(setup, "add_exception", {**form, "reason": ""})
    assert setup.error_field == "reason"
    await _call(setup, "add_exception", form)
    assert "1 booked appointment" in setup.exception_warning and setup.exceptions == []
    events = await _call(setup, "add_exception", form)
    assert "recorded" in _toasts(events) and setup.exception_warning == ""
    assert [(e.kind, e.scope, e.reason) for e in setup.exceptions] == [
        ("leave", "Dr Ada Stone", "Training day")
    ]
    with hms_db.session_scope() as s:
        assert s.execute(select(func.count()).select_from(Resource)).scalar_one() == 2
        assert s.execute(select(func.count()).select_from(AppointmentParticipant)).scalar_one() == 2


async def test_a_time_freed_for_the_waitlist_is_accepted_for_the_patient_at_the_desk(clinic, configured_db):
    tomorrow = _today() + timedelta(days=1)
    first = _book_directly(clinic, clinic["catherine"], _local(tomorrow, 10))
    with hms_db.session_scope() as s:
        join_waitlist(
            s,
            actor=SYSTEM_ACTOR,
            patient_id=clinic["omar"].id,
            service_id=clinic["service"],
            appointment_type_id=clinic["type"],
            wanted_date=tomorrow,
        )
    get = _tree("/schedule", "rita")
    calendar = await _open_calendar(get, tomorrow)
    await _call(calendar, "select", first.id)
    await _call(calendar, "ask_cancel")
    await _call(calendar, "confirm_cancel", {"reason": "Patient moved away"})
    offered = next(a for a in _appointments() if a.patient_id == clinic["omar"].id)
    assert offered.status == "offered" and _blocks(calendar, clinic["doctor"]) == {
        offered.reference: "offered"
    }

    await _call(calendar, "select", offered.id)
    events = await _call(calendar, "accept_offer")
    assert calendar.detail.status == "booked" and "booked" in _toasts(events)
    assert next(a for a in _appointments() if a.id == offered.id).status == "booked"


async def test_a_full_day_offers_the_waitlist_instead(clinic, configured_db):
    tomorrow = _today() + timedelta(days=1)
    with hms_db.session_scope() as s:
        s.add(
            AvailabilityException(
                department_id=clinic["department"],
                starts_at=_local(tomorrow, 0),
                ends_at=_local(tomorrow + timedelta(days=1), 0),
                kind="closure",
                reason="Staff training",
            )
        )
        s.commit()
    get = _tree("/schedule", "rita")
    await _open_calendar(get, tomorrow)
    booking = get(BookingState)
    await _call(booking, "open_at", tomorrow.isoformat(), clinic["doctor"], 9 * 60)
    assert booking.searched and booking.slots == []
    await _call(booking, "add_to_waitlist")
    assert booking.error_field == "patient_id"
    await _call(booking, "set_patient_query", "Haddad")
    await _call(booking, "pick_patient", clinic["omar"].id)
    events = await _call(booking, "add_to_waitlist")
    assert "waitlist" in _toasts(events) and "first time freed" in booking.waitlisted
    with hms_db.session_scope() as s:
        (entry,) = list_waitlist(s, actor=SYSTEM_ACTOR)
    assert (entry.patient_id, entry.wanted_date, entry.status) == (clinic["omar"].id, tomorrow, "waiting")
