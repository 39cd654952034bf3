"""What the portal's booking steps offer: the days with a free time, one button per free start
time however many providers are free then, and no time a move could not land on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hms_app.errors import Forbidden, InvalidFields, ValidationError
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


def test_the_portal_offers_only_services_that_fit_the_patient_and_refuses_the_rest_by_id(session):
    """Mira is a woman born in 1990. A men's health check and a children's clinic are bookable
    online too: the portal does not list them for her, and asking for their times by id is refused
    with who the service is for; staff see and book every service."""
    clinic = _clinic(session)
    department_id = clinic["service"].department_id
    others = {}
    for code, name, extra in (
        ("MEN", "Men's health check", {"min_age": "40", "max_age": "74", "for_sex": "male"}),
        ("KIDS", "Children's clinic", {"max_age": "15"}),
        ("WELL", "Well-woman check", {"min_age": "25", "for_sex": "female"}),
    ):
        others[code] = sched.save_service(
            session,
            actor=SYSTEM_ACTOR,
            data={"code": code, "name": name, "department_id": department_id, "self_bookable": True, **extra},
        )
        sched.save_appointment_type(
            session,
            actor=SYSTEM_ACTOR,
            data={"service_id": others[code].id, "code": "STD", "name": "Visit", "duration_minutes": 30},
        )
    offered = [s.code for s in sched.list_services(session, actor=clinic["me"])]
    assert offered == ["GPC", "WELL"]
    everything = {s.code: s.eligibility for s in sched.list_services(session, actor=SYSTEM_ACTOR)}
    assert everything == {
        "GPC": "",
        "MEN": "aged 40 to 74, men and boys",
        "KIDS": "aged up to 15",
        "WELL": "aged 25 and over, women and girls",
    }
    men = next(s for s in sched.list_services(session, actor=SYSTEM_ACTOR) if s.code == "MEN")
    with pytest.raises(ValidationError) as refused:
        sched.find_free_slots(
            session,
            actor=clinic["me"],
            service_id=men.id,
            appointment_type_id=men.visit_types[0].id,
            day=MONDAY,
            now=BEFORE_MONDAY,
        )
    assert str(refused.value) == (
        "This service is for patients aged 40 to 74, men and boys. "
        "Please call the clinic if you think it is right for you."
    )
    assert refused.value.field == "service_id"


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        (
            {"min_age": "-1"},
            "min_age",
            "Give the youngest age as whole years from 0 to 130, or leave it empty.",
        ),
        (
            {"max_age": "200"},
            "max_age",
            "Give the oldest age as whole years from 0 to 130, or leave it empty.",
        ),
        ({"min_age": "50", "max_age": "40"}, "max_age", "The oldest age must not be below the youngest."),
        ({"for_sex": "robots"}, "for_sex", "Choose who the service is for: anyone, female or male patients."),
    ],
)
def test_who_a_service_is_for_is_checked_when_it_is_saved(session, extra, field, message):
    department = Department(code="GP", name="General practice")
    session.add(department)
    session.commit()
    with pytest.raises(InvalidFields) as refused:
        sched.save_service(
            session,
            actor=SYSTEM_ACTOR,
            data={"code": "ODD", "name": "Odd service", "department_id": department.id, **extra},
        )
    assert refused.value.errors == {field: message}
