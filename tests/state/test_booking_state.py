"""The portal's self-service states driven as a browser tab would, against the test database.

Nothing is patched except the argon2 work factor: the actor comes from a real session token, and
the patient is always the one of that session, whatever the browser sends.
"""

from __future__ import annotations

import inspect
from datetime import date, timedelta

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import func, select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.errors import ValidationError
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services import accounts, security
from hms_app.state.portal.appointments import PortalAppointmentsState
from hms_app.state.portal.booking import PortalBookingState
from hms_app.state.portal.signup import SignupState

PASSWORD = "Sunny-meadow-42"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def roles(session):
    accounts.ensure_roles(session)


def _tab(cls, path: str, *, token: str = "", client_token: str = "tab-token-1"):
    """The state ``cls`` in a fresh tab's tree opened at ``path`` (signed in when ``token`` is given)."""
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.QUERY: {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
            constants.RouteVar.CLIENT_TOKEN: client_token,
        },
        {},
    )
    state = root.get_substate(cls.get_full_name().split(".")[1:])
    state.auth_token = token
    return state


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


def _arguments(event) -> dict:
    return {name._js_expr: value for name, value in getattr(event, "args", ())}


def _redirects(events) -> list[str]:
    return [_arguments(e)["path"]._var_value for e in events if "path" in _arguments(e)]


def _toasts(events) -> list[str]:
    return [_arguments(e)["function"]._js_expr for e in events if "function" in _arguments(e)]


def _signup_form(**changes) -> dict:
    form = {
        "given_name": "Mira",
        "family_name": "Castell",
        "sex": "female",
        "birth_date": "1990-06-14",
        "phone": "+1 555 010 4455",
        "email": "mira@example.org",
        "username": "mira.c",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "consent": "on",
    }
    form.update(changes)
    return form


def _count(model) -> int:
    with hms_db.session_scope() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


# --------------------------------------------------------------------------- sign-up


async def test_signing_up_answers_check_your_mail_and_the_mailed_link_creates_the_account(roles):
    from hms_app.state.portal.signup import SignupConfirmState
    from tests.services.test_portal_accounts import link_token, outbox

    tab = _tab(SignupState, "/portal/signup")
    await _call(tab, "submit", _signup_form())
    assert tab.sent_text.startswith("Check your e-mail") and tab.field_errors == {} and not tab.busy
    assert tab.auth_token == "" and _count(AppUser) == 0
    # The same answer for an address that already has an account (only the mailbox learns more).
    token = link_token(outbox()[-1])
    confirm = _tab_with_query(SignupConfirmState, "/portal/signup/confirm", {"token": token})
    await _call(confirm, "confirm")
    assert confirm.done_text.startswith("Your account is ready") and confirm.error_text == ""
    with hms_db.session_scope() as s:
        user = s.execute(select(AppUser).where(AppUser.username == "mira.c")).scalar_one()
    assert user.patient_id is not None
    again = _tab(SignupState, "/portal/signup", client_token="second")
    await _call(again, "submit", _signup_form(username="other.name"))
    assert again.sent_text == tab.sent_text
    assert "already exists" in outbox()[-1]["body"]
    used = _tab_with_query(SignupConfirmState, "/portal/signup/confirm", {"token": token})
    await _call(used, "confirm")
    assert "already been used" in used.error_text and used.done_text == ""


def _tab_with_query(cls, path: str, query: dict):
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path + "?" + "&".join(f"{k}={v}" for k, v in query.items()),
            constants.RouteVar.QUERY: query,
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
            constants.RouteVar.CLIENT_TOKEN: "tab-token-9",
        },
        {},
    )
    return root.get_substate(cls.get_full_name().split(".")[1:])


async def test_every_wrong_field_shows_its_own_message_at_once(roles):
    tab = _tab(SignupState, "/portal/signup")
    await _call(tab, "submit", _signup_form(password_confirm="something-else-1", consent="", username="X"))
    assert tab.field_errors == {
        "username": "The username must be 3 to 60 characters: lowercase letters, digits, dots, dashes or underscores.",
        "password_confirm": "The two passwords are not the same.",
        "consent": "Please accept the terms of use and the privacy notice to create an account.",
    }
    assert tab.error_text == "" and tab.sent_text == "" and not tab.busy
    assert _count(Patient) == 0 and _count(AppUser) == 0


async def test_the_browser_limit_is_keyed_on_a_server_issued_key_not_the_client_token(roles, monkeypatch):
    from hms_app.services import portal_accounts

    seen: list[dict] = []

    def spy(session, **kwargs):
        seen.append(kwargs)
        raise ValidationError("stop here")

    monkeypatch.setattr(portal_accounts, "request_signup", spy)
    first = _tab(SignupState, "/portal/signup", client_token="same-token")
    second = _tab(SignupState, "/portal/signup", client_token="same-token")
    await _call(first, "submit", _signup_form())
    await _call(first, "submit", _signup_form())
    await _call(second, "submit", _signup_form())
    keys = [call["browser_key"] for call in seen]
    assert keys[0] == keys[1] != keys[2]  # one key per tab, kept; never derived from what the client sent
    assert "same-token" not in keys and all(len(key) >= 20 for key in keys)
    assert all(call["client_ip"] == "10.1.2.3" for call in seen)


async def test_whatever_the_browser_sends_only_the_form_fields_reach_the_service(roles, monkeypatch):
    from hms_app.services import portal_accounts

    seen: dict = {}

    def spy(session, *, form, client_ip, browser_key):
        seen.update(form=form, client_ip=client_ip)
        raise ValidationError("stop here")

    monkeypatch.setattr(portal_accounts, "request_signup", spy)
    tab = _tab(SignupState, "/portal/signup")
    # A value no person types is refused at the field, never cut short in silence.
    await _call(tab, "submit", {**_signup_form(given_name="x" * 5000)})
    assert not seen
    assert list(tab.field_errors) == ["given_name"] and "256" in tab.field_errors["given_name"]
    await _call(tab, "submit", {**_signup_form(), "patient_id": "1", "roles": "admin"})
    assert seen["form"] == _signup_form()
    assert seen["client_ip"] == "10.1.2.3"
    await _call(tab, "submit", ["not", "a", "form"])
    assert seen["form"] == dict.fromkeys(_signup_form(), "")
    assert tab.error_text == "stop here" and tab.field_errors == {}


# --------------------------------------------------------------------------- booking


def _clinic(session, hours: tuple[str, str] = ("08:00", "18:00")) -> dict:
    """A clinic open every day (08:00-18:00) with two doctors, one online service and one desk-only."""
    from hms_app.models.organization import Department
    from hms_app.services import patients as patient_service
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    accounts.ensure_roles(session)
    department = Department(code="GP", name="General practice")
    session.add(department)
    session.commit()
    online = sched.save_service(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "code": "GPC",
            "name": "GP consultation",
            "department_id": department.id,
            "self_bookable": True,
        },
    )
    desk = sched.save_service(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "code": "MINOR",
            "name": "Minor surgery",
            "department_id": department.id,
            "self_bookable": False,
        },
    )
    types = {}
    for service in (online, desk):
        types[service.code] = sched.save_appointment_type(
            session,
            actor=SYSTEM_ACTOR,
            data={"service_id": service.id, "code": "STD", "name": "Standard visit", "duration_minutes": 15},
        )
    doctors = []
    for name in ("Dr Ada Grey", "Dr Ben Hale"):
        doctor = sched.save_resource(
            session,
            actor=SYSTEM_ACTOR,
            data={"kind": "provider", "name": name, "department_id": department.id},
        )
        for service in (online, desk):
            sched.link_resource_service(
                session, actor=SYSTEM_ACTOR, resource_id=doctor.id, service_id=service.id
            )
        for weekday in range(7):
            sched.add_availability_rule(
                session,
                actor=SYSTEM_ACTOR,
                data={
                    "resource_id": doctor.id,
                    "weekday": weekday,
                    "start_time": hours[0],
                    "end_time": hours[1],
                    "valid_from": (_today() - timedelta(days=7)).isoformat(),
                },
            )
        doctors.append(doctor)
    people = {}
    for username, given in (("mira", "Mira"), ("otto", "Otto")):
        patient = patient_service.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={"given_name": given, "family_name": "Castell", "sex": "female", "birth_date": "1990-06-14"},
        )
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=f"{given} Castell",
            password=PASSWORD,
            roles=["patient"],
            patient_id=patient.id,
        )
        people[username] = patient
    return {
        "department": department,
        "online": online,
        "desk": desk,
        "types": types,
        "doctors": doctors,
        "people": people,
    }


def _today() -> date:
    """Today in the hospital's zone (UTC in the tests), the calendar the portal shows."""
    from hms_app.clock import to_local, utcnow

    return to_local(utcnow()).date()


def _token(username: str) -> str:
    with hms_db.session_scope() as s:
        return security.sign_in(s, username=username, password=PASSWORD).token


def _appointments(patient_id: int):
    from hms_app.models.scheduling import Appointment

    with hms_db.session_scope() as s:
        return list(
            s.execute(
                select(Appointment).where(Appointment.patient_id == patient_id).order_by(Appointment.id)
            ).scalars()
        )


def _book_for(patient, clinic, start, *, now=None):
    """A booking made at the desk (staff), e.g. for a time soon after now."""
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    with hms_db.session_scope() as s:
        return sched.book_appointment(
            s,
            actor=SYSTEM_ACTOR,
            patient_id=patient.id,
            service_id=clinic["online"].id,
            appointment_type_id=clinic["types"]["GPC"].id,
            start_at=start,
            resource_id=clinic["doctors"][0].id,
            now=now,
        )


def _tomorrow_at(hour: int, minute: int = 0):
    from datetime import UTC, datetime

    day = _today() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


async def _walk_to_slots(tab, service_key: str, provider: int | str, day_iso: str) -> None:
    await _call(tab, "choose_service", service_key)
    await _call(tab, "choose_provider", provider)
    await _call(tab, "choose_day", day_iso)


async def test_a_patient_books_online_and_gets_a_reference(session):
    clinic = _clinic(session)
    tab = _tab(PortalBookingState, "/portal/book", token=_token("mira"))
    await _call(tab, "load")
    # Only what may be booked online is offered.
    assert [(c.service, c.visit_type) for c in tab.services] == [("GP consultation", "Standard visit")]
    key = tab.services[0].key
    await _call(tab, "choose_service", key)
    assert tab.step == "provider"
    assert [p.name for p in tab.providers] == ["Dr Ada Grey", "Dr Ben Hale"]
    await _call(tab, "choose_provider", clinic["doctors"][1].id)
    assert tab.step == "day" and len(tab.days) == 30
    tomorrow = (_today() + timedelta(days=1)).isoformat()
    assert [d.free for d in tab.days if d.iso == tomorrow] == [True]
    await _call(tab, "choose_day", tomorrow)
    assert tab.step == "slot" and not tab.day_full
    assert [s.time for s in tab.slots[:3]] == ["08:00", "08:15", "08:30"]
    assert {s.provider for s in tab.slots} == {"Dr Ben Hale"}
    await _call(tab, "choose_slot", 2)
    assert tab.step == "confirm" and tab.slot_label.endswith("at 08:30")
    await _call(tab, "confirm")
    assert tab.step == "done"
    [booked] = _appointments(clinic["people"]["mira"].id)
    assert (booked.reference, booked.booked_via, booked.status) == (tab.reference, "portal", "booked")
    assert booked.start_at == _tomorrow_at(8, 30)
    assert tab.booked_with == "Dr Ben Hale" and tab.booked_when.endswith("at 08:30")
    assert booked.reference in tab.calendar_text and "08:30–08:45" in tab.calendar_text
    [download] = await _call(tab, "download_calendar")
    assert f"{booked.reference}.ics" in str(download)
    assert f"UID:{booked.reference}@hms" in tab._ics
    assert f"DTSTART:{(_tomorrow_at(8, 30)).strftime('%Y%m%dT%H%M%SZ')}" in tab._ics
    assert "SUMMARY:GP consultation with Dr Ben Hale" in tab._ics
    # The slot just taken is no longer offered to the next patient.
    other = _tab(PortalBookingState, "/portal/book", token=_token("otto"))
    await _call(other, "load")
    await _walk_to_slots(other, key, clinic["doctors"][1].id, tomorrow)
    assert "08:30" not in [s.time for s in other.slots] and "08:15" in [s.time for s in other.slots]


async def test_any_provider_offers_each_time_once_and_books_a_free_doctor(session):
    _clinic(session)
    tab = _tab(PortalBookingState, "/portal/book", token=_token("mira"))
    await _call(tab, "load")
    tomorrow = (_today() + timedelta(days=1)).isoformat()
    await _walk_to_slots(tab, tab.services[0].key, 0, tomorrow)
    times = [s.time for s in tab.slots]
    assert len(times) == len(set(times)) == 40  # 08:00 to 17:45, each time once
    await _call(tab, "choose_slot", 0)
    await _call(tab, "confirm")
    assert tab.step == "done" and tab.booked_with in ("Dr Ada Grey", "Dr Ben Hale")


async def test_what_the_browser_sends_is_checked_against_what_it_was_offered(session):
    clinic = _clinic(session)
    tab = _tab(PortalBookingState, "/portal/book", token=_token("mira"))
    await _call(tab, "load")
    desk_key = f"{clinic['desk'].id}:{clinic['types']['MINOR'].id}"
    toasts = _toasts(await _call(tab, "choose_service", desk_key))
    assert any("Choose a service from the list" in t for t in toasts) and tab.step == "service"
    await _call(tab, "choose_service", tab.services[0].key)
    for forged in ("-1", "abc", 987654):
        toasts = _toasts(await _call(tab, "choose_provider", forged))
        assert toasts and tab.step == "provider"
    await _call(tab, "choose_provider", 0)
    assert _toasts(await _call(tab, "choose_day", "2099-01-01")) and tab.step == "day"
    await _call(tab, "choose_day", (_today() + timedelta(days=2)).isoformat())
    for forged in (999, -1, "1e3", None):
        assert _toasts(await _call(tab, "choose_slot", forged))
    assert tab.step == "slot"
    assert _appointments(clinic["people"]["mira"].id) == []


async def test_a_time_taken_meanwhile_is_refused_and_the_times_reload(session):
    clinic = _clinic(session)
    tab = _tab(PortalBookingState, "/portal/book", token=_token("mira"))
    await _call(tab, "load")
    tomorrow = (_today() + timedelta(days=1)).isoformat()
    await _walk_to_slots(tab, tab.services[0].key, clinic["doctors"][0].id, tomorrow)
    await _call(tab, "choose_slot", 0)  # 08:00 with Dr Grey
    _book_for(clinic["people"]["otto"], clinic, _tomorrow_at(8, 0))  # the desk books it first
    toasts = _toasts(await _call(tab, "confirm"))
    assert any("just taken" in t for t in toasts)
    assert tab.step == "slot" and tab.slots[0].time == "08:15"
    assert _appointments(clinic["people"]["mira"].id) == []


async def test_a_full_day_offers_the_waitlist_and_a_freed_time_is_offered_and_accepted(session):
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    clinic = _clinic(session)
    # One short morning session, one visit long, in three days' time.
    day = _today() + timedelta(days=3)
    physio = sched.save_service(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "code": "PHYSIO",
            "name": "Physiotherapy",
            "department_id": clinic["department"].id,
            "self_bookable": True,
        },
    )
    vtype = sched.save_appointment_type(
        session,
        actor=SYSTEM_ACTOR,
        data={"service_id": physio.id, "code": "STD", "name": "Session", "duration_minutes": 15},
    )
    therapist = sched.save_resource(
        session,
        actor=SYSTEM_ACTOR,
        data={"kind": "provider", "name": "Pia Physio", "department_id": clinic["department"].id},
    )
    sched.link_resource_service(session, actor=SYSTEM_ACTOR, resource_id=therapist.id, service_id=physio.id)
    sched.add_availability_rule(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "resource_id": therapist.id,
            "weekday": day.weekday(),
            "start_time": "09:00",
            "end_time": "09:15",
            "valid_from": day.isoformat(),
            "valid_to": day.isoformat(),
        },
    )
    otto = sched.book_appointment(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=clinic["people"]["otto"].id,
        service_id=physio.id,
        appointment_type_id=vtype.id,
        start_at=f"{day.isoformat()}T09:00:00+00:00",
    )
    tab = _tab(PortalBookingState, "/portal/book", token=_token("mira"))
    await _call(tab, "load")
    await _call(tab, "choose_service", f"{physio.id}:{vtype.id}")
    await _call(tab, "choose_provider", 0)
    assert not any(d.free for d in tab.days)
    await _call(tab, "choose_day", day.isoformat())
    assert tab.day_full and tab.slots == []
    await _call(tab, "join_waitlist")
    assert tab.waitlisted
    mine = _tab(PortalAppointmentsState, "/portal/appointments", token=tab.auth_token)
    await _call(mine, "load")
    assert [(w.what, w.with_whom) for w in mine.waitlist] == [("Physiotherapy · Session", "Any available")]
    # Otto cancels: the time is offered to Mira at once, to accept within the time limit.
    sched.cancel_appointment(session, actor=SYSTEM_ACTOR, appointment_id=otto.id, reason="Patient phoned")
    await _call(mine, "load")
    [offer] = mine.upcoming
    assert offer.status == "offered" and offer.time == "09:00" and offer.offer_until
    assert mine.waitlist == []
    toasts = _toasts(await _call(mine, "accept_offer", offer.id))
    assert any("Booked" in t for t in toasts)
    [line] = mine.upcoming
    assert line.status == "booked" and line.reference == offer.reference


async def test_declining_an_offer_releases_it(session):
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    clinic = _clinic(session)
    day = _today() + timedelta(days=4)
    mira = clinic["people"]["mira"]
    # The desk puts Mira on the waitlist of a day and then frees a time on it.
    sched.join_waitlist(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=mira.id,
        service_id=clinic["online"].id,
        appointment_type_id=clinic["types"]["GPC"].id,
        wanted_date=day,
    )
    otto = sched.book_appointment(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=clinic["people"]["otto"].id,
        service_id=clinic["online"].id,
        appointment_type_id=clinic["types"]["GPC"].id,
        start_at=f"{day.isoformat()}T10:00:00+00:00",
    )
    sched.cancel_appointment(session, actor=SYSTEM_ACTOR, appointment_id=otto.id, reason="Patient phoned")
    mine = _tab(PortalAppointmentsState, "/portal/appointments", token=_token("mira"))
    await _call(mine, "load")
    [offer] = mine.upcoming
    await _call(mine, "decline_offer", offer.id)
    assert mine.upcoming == []
    assert [a.status for a in _appointments(mira.id)] == ["cancelled"]


# --------------------------------------------------------------------------- own appointments


async def test_reschedule_moves_the_booking_and_keeps_its_reference(session):
    from hms_app.models.security import AuditEvent

    clinic = _clinic(session)
    mira = clinic["people"]["mira"]
    original = _book_for(mira, clinic, _tomorrow_at(9, 0))
    mine = _tab(PortalAppointmentsState, "/portal/appointments", token=_token("mira"))
    await _call(mine, "load")
    [line] = mine.upcoming
    assert (line.reference, line.time, line.changeable) == (original.reference, "09:00", True)
    assert _redirects(await _call(mine, "reschedule", line.id)) == [f"/portal/book?move={line.id}"]

    tab = _moved_tab(mine.auth_token, line.id)
    await _call(tab, "load")
    assert tab.move_reference == original.reference and tab.step == "provider"
    day_after = (_today() + timedelta(days=2)).isoformat()
    await _call(tab, "choose_provider", 0)
    await _call(tab, "choose_day", day_after)
    await _call(tab, "choose_slot", 4)  # 09:00
    await _call(tab, "confirm")
    assert tab.step == "done" and tab.reference == original.reference
    [moved] = _appointments(mira.id)
    assert moved.id == original.id and moved.status == "booked"
    assert moved.start_at.date().isoformat() == day_after and moved.start_at.hour == 9
    with hms_db.session_scope() as s:
        assert s.execute(
            select(AuditEvent.username).where(AuditEvent.action == "appointment.reschedule")
        ).scalars().all() == ["mira"]


def _moved_tab(token: str, appointment_id: int):
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: "/portal/book",
            constants.RouteVar.ORIGIN: f"/portal/book?move={appointment_id}",
            constants.RouteVar.QUERY: {"move": str(appointment_id)},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
            constants.RouteVar.CLIENT_TOKEN: "tab-token-1",
        },
        {},
    )
    state = root.get_substate(PortalBookingState.get_full_name().split(".")[1:])
    state.auth_token = token
    return state


async def test_another_patients_booking_cannot_be_moved_through_the_address(session):
    clinic = _clinic(session)
    ottos = _book_for(clinic["people"]["otto"], clinic, _tomorrow_at(11, 0))
    tab = _moved_tab(_token("mira"), ottos.id)
    events = await _call(tab, "load")
    assert _toasts(events) and tab.move_id == 0 and tab.move_reference == ""
    assert all(ottos.reference not in t for t in _toasts(events))
    # The attempt leaves a trace an auditor can find: who tried, on what, and that it was refused.
    with hms_db.session_scope() as fresh:
        [refusal] = (
            fresh.execute(select(AuditEvent).where(AuditEvent.action == "access.refused")).scalars().all()
        )
    assert (refusal.username, refusal.outcome) == ("mira", "denied")
    assert refusal.patient_id == clinic["people"]["mira"].id
    assert "get_appointment" in refusal.detail and f"appointment_id={ottos.id}" in refusal.detail


async def test_cancelling_within_two_hours_is_refused_with_the_clinics_message(session):
    from datetime import UTC, datetime

    clinic = _clinic(session, hours=("00:00", "23:55"))  # open whenever the test happens to run
    mira = clinic["people"]["mira"]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)
    # A time 40 to 110 minutes ahead whose visit does not run past the end of the day.
    soon = next(
        start
        for start in (now + timedelta(minutes=m) for m in range(40, 115, 5))
        if start.date() == (start + timedelta(minutes=15)).date() and start.time().isoformat() < "23:40"
    )
    _book_for(mira, clinic, soon, now=soon - timedelta(minutes=30))
    mine = _tab(PortalAppointmentsState, "/portal/appointments", token=_token("mira"))
    await _call(mine, "load")
    [line] = mine.upcoming
    assert not line.changeable
    message = "Appointments can be changed online until 2 hours before they start. Please call the clinic."
    assert any(message in t for t in _toasts(await _call(mine, "open_cancel", line.id)))
    assert mine.cancel_id == 0
    assert any(message in t for t in _toasts(await _call(mine, "reschedule", line.id)))
    # A browser that skips the dialog's check meets the service's own refusal.
    mine.cancel_id = line.id
    await _call(mine, "submit_cancel", {"reason": "I feel better"})
    assert mine.cancel_error == message
    assert [a.status for a in _appointments(mira.id)] == ["booked"]


async def test_a_visit_cancelled_with_a_reason_is_listed_as_cancelled_not_past(session):
    clinic = _clinic(session)
    mira = clinic["people"]["mira"]
    booked = _book_for(mira, clinic, _tomorrow_at(14, 0))
    mine = _tab(PortalAppointmentsState, "/portal/appointments", token=_token("mira"))
    await _call(mine, "load")
    await _call(mine, "open_cancel", booked.id)
    assert mine.cancel_id == booked.id and "14:00" in mine.cancel_title
    await _call(mine, "submit_cancel", {"reason": "made up"})
    assert mine.cancel_error == "Choose a reason." and mine.cancel_id == booked.id
    await _call(mine, "submit_cancel", {"reason": "I cannot come at that time", "details": "work trip"})
    assert mine.cancel_id == 0 and mine.upcoming == []
    assert mine.past == [] and mine.past_total == 0  # tomorrow's visit has not happened: not "past"
    [cancelled] = mine.cancelled
    assert cancelled.status == "cancelled" and cancelled.note == "I cannot come at that time: work trip"
    assert [a.cancel_reason for a in _appointments(mira.id)] == ["I cannot come at that time: work trip"]


async def test_only_the_patients_own_visits_are_listed_or_reachable(session):
    clinic = _clinic(session)
    ottos = _book_for(clinic["people"]["otto"], clinic, _tomorrow_at(15, 0))
    mine = _tab(PortalAppointmentsState, "/portal/appointments", token=_token("mira"))
    await _call(mine, "load")
    assert mine.upcoming == [] and mine.past == []
    for handler in ("open_cancel", "reschedule"):
        toasts = _toasts(await _call(mine, handler, ottos.id))
        assert any("Choose one of your booked appointments" in t for t in toasts)
    await _call(mine, "accept_offer", ottos.id)
    assert [a.status for a in _appointments(clinic["people"]["otto"].id)] == ["booked"]


async def test_a_visit_of_a_service_not_booked_online_is_changed_by_phone(session):
    from hms_app.services import scheduling as sched
    from hms_app.services.permissions import SYSTEM_ACTOR

    clinic = _clinic(session)
    surgery = sched.book_appointment(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=clinic["people"]["mira"].id,
        service_id=clinic["desk"].id,
        appointment_type_id=clinic["types"]["MINOR"].id,
        start_at=_tomorrow_at(10, 0),
    )
    mine = _tab(PortalAppointmentsState, "/portal/appointments", token=_token("mira"))
    await _call(mine, "load")
    [line] = mine.upcoming
    assert (line.reference, line.online) == (surgery.reference, False)
    toasts = _toasts(await _call(mine, "open_cancel", line.id))
    assert any("Please call the clinic" in t for t in toasts) and mine.cancel_id == 0


# --------------------------------------------------------------------------- the portal's front door


async def test_a_visitor_without_a_session_sees_the_front_door_and_a_patient_their_record(session):
    from hms_app.state.portal.record import PortalState

    clinic = _clinic(session)
    visitor = _tab(PortalState, "/portal")
    events = await _call(visitor, "open")
    assert visitor.signed_out and _redirects(events) == [] and _toasts(events) == []
    assert visitor.mrn == "" and visitor.name == ""  # nothing of anyone's record
    patient = _tab(PortalState, "/portal", token=_token("mira"))
    [follow_up] = await _call(patient, "open")
    assert not patient.signed_out and "load" in str(follow_up)
    await _call(patient, "load")
    assert patient.mrn == clinic["people"]["mira"].mrn
