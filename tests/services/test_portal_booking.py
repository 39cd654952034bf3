"""What the portal's booking steps offer: the days with a free time, one button per free start
time however many providers are free then, and no time a move could not land on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hms_app.errors import Forbidden
from hms_app.models.organization import Department
from hms_app.services import patients
from hms_app.services import scheduling as sched
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.services.scheduling import portal as portal_booking

MONDAY = date(2031, 3, 3)
BEFORE_MONDAY = datetime(2031, 3, 2, 12, 0, tzinfo=UTC)  # Sunday noon (the tests' zone is UTC)


def _clinic(session) -> dict:
    """Two doctors working Mondays 09:00-10:00 for one online service of 30-minute visits."""
    department = Department(code="GP", name="General practice")
    session.add(department)
    session.commit()
    service = sched.save_service(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "code": "GPC",
            "name": "GP consultation",
            "department_id": department.id,
            "self_bookable": True,
        },
    )
    vtype = sched.save_appointment_type(
        session,
        actor=SYSTEM_ACTOR,
        data={"service_id": service.id, "code": "STD", "name": "Standard visit", "duration_minutes": 30},
    )
    doctors = []
    for name in ("Dr Ada Grey", "Dr Ben Hale"):
        doctor = sched.save_resource(
            session,
            actor=SYSTEM_ACTOR,
            data={"kind": "provider", "name": name, "department_id": department.id},
        )
        sched.link_resource_service(session, actor=SYSTEM_ACTOR, resource_id=doctor.id, service_id=service.id)
        sched.add_availability_rule(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "resource_id": doctor.id,
                "weekday": 0,
                "start_time": "09:00",
                "end_time": "10:00",
                "valid_from": "2031-01-01",
            },
        )
        doctors.append(doctor)
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Mira", "family_name": "Castell", "sex": "female", "birth_date": "1990-06-14"},
    )
    me = Actor(
        user_id=60,
        username="mira",
        roles=frozenset({"patient"}),
        permissions=frozenset({"portal.self"}),
        patient_id=patient.id,
    )
    return {"service": service, "type": vtype, "doctors": doctors, "me": me}


def _ask(clinic, **changes) -> dict:
    asked = {
        "actor": clinic["me"],
        "service_id": clinic["service"].id,
        "appointment_type_id": clinic["type"].id,
        "resource_id": None,
    }
    asked.update(changes)
    return asked


def test_with_any_provider_each_free_time_is_offered_once(session):
    clinic = _clinic(session)
    slots = sched.find_free_slots(session, **_ask(clinic), day=MONDAY, limit=200, now=BEFORE_MONDAY)
    times = portal_booking.free_times(session, **_ask(clinic), day=MONDAY, now=BEFORE_MONDAY)
    # Both doctors are free at every time: one button a time, not one a doctor.
    assert len(slots) == 2 * len(times)
    assert [t.start_at for t in times] == sorted({s.start_at for s in slots})
    assert times[0].start_at.strftime("%H:%M") == "09:00"
    named = portal_booking.free_times(
        session, **_ask(clinic, resource_id=clinic["doctors"][1].id), day=MONDAY, now=BEFORE_MONDAY
    )
    assert [t.start_at for t in named] == [t.start_at for t in times]
    assert {t.provider_name for t in named} == {"Dr Ben Hale"}


def test_a_move_is_offered_no_time_inside_the_window_where_changes_stop(session):
    clinic = _clinic(session)
    cutoff = timedelta(hours=sched.policy().cancel_cutoff_hours)
    now = datetime(2031, 3, 3, 9, 0, tzinfo=UTC) - cutoff + timedelta(minutes=1)  # 09:00 is inside the window
    new = portal_booking.free_times(session, **_ask(clinic), day=MONDAY, now=now)
    moving = portal_booking.free_times(session, **_ask(clinic), day=MONDAY, moving=True, now=now)
    assert new[0].start_at.strftime("%H:%M") == "09:00"
    assert moving and all(t.start_at >= now + cutoff for t in moving)


def test_the_days_from_today_say_which_have_a_free_time(session):
    clinic = _clinic(session)
    days = portal_booking.free_days(session, **_ask(clinic), days=9, now=BEFORE_MONDAY)
    assert [d.day for d in days] == [MONDAY - timedelta(days=1) + timedelta(days=n) for n in range(9)]
    assert [d.day for d in days if d.free] == [MONDAY, MONDAY + timedelta(days=7)]


def test_staff_are_not_offered_the_portals_times(session):
    clinic = _clinic(session)
    clerk = Actor(
        user_id=8,
        username="rita",
        roles=frozenset({"receptionist"}),
        permissions=frozenset({"appointment.read"}),
    )
    with pytest.raises(Forbidden):
        portal_booking.free_days(session, **_ask(clinic, actor=clerk), days=3, now=BEFORE_MONDAY)
    with pytest.raises(Forbidden):
        portal_booking.free_times(session, **_ask(clinic, actor=clerk), day=MONDAY, now=BEFORE_MONDAY)


def test_the_change_window_hint_follows_the_clinics_cut_off():
    cutoff = sched.policy().cancel_cutoff_hours
    start = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
    assert portal_booking.inside_change_window(start, start - timedelta(hours=cutoff) + timedelta(minutes=1))
    assert not portal_booking.inside_change_window(start, start - timedelta(hours=cutoff))
