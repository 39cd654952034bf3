"""Never a double booking: many patients taking the same time at the same instant, on SQLite and PostgreSQL.

Each attempt runs in its own thread with its own session (``session_scope``), released together
by a barrier. Exactly one booking commits; every other attempt gets SlotTaken (a clear message),
and an independent SQL check finds no two holding appointments overlapping on any resource.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import and_, func, select, text

from hms_app import db as hms_db
from hms_app.errors import DomainError
from hms_app.models.scheduling import Appointment, AppointmentParticipant, AppointmentType
from hms_app.services.scheduling.booking import book_appointment
from hms_app.services.scheduling.lists import list_resources
from hms_app.services.scheduling.policy import SLOT_TAKEN_MESSAGE, SlotTaken
from hms_app.services.scheduling.slots import find_free_slots
from hms_app.settings import get_settings
from tests.services.test_scheduling import RECEPTION, add_patients, build_clinic

ATTEMPTS = 24

OVERLAPS_SQL = """
SELECT count(*) FROM appointment_participant p1
JOIN appointment a1 ON a1.id = p1.appointment_id
JOIN appointment_participant p2 ON p2.resource_id = p1.resource_id AND p2.appointment_id > p1.appointment_id
JOIN appointment a2 ON a2.id = p2.appointment_id
WHERE a1.status IN ('offered', 'booked', 'arrived', 'in_room', 'completed')
  AND a2.status IN ('offered', 'booked', 'arrived', 'in_room', 'completed')
  AND a1.start_at < a2.end_at AND a2.start_at < a1.end_at
"""


def double_bookings(session) -> int:
    """Pairs of holding appointments sharing a resource and overlapping in time (must be 0)."""
    return session.execute(text(OVERLAPS_SQL)).scalar_one()


@pytest.fixture
def clinic(session, monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", "Europe/Berlin")
    get_settings.cache_clear()
    c = build_clinic(session, patients=ATTEMPTS, extra_providers=ATTEMPTS)
    return c


def race(url: str, attempts: list[dict]) -> tuple[list[int], list[DomainError]]:
    """Run each booking in its own thread and session, all released at the same instant."""
    barrier = threading.Barrier(len(attempts))
    booked: list[int] = []
    refused: list[DomainError] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def attempt(kwargs: dict) -> None:
        try:
            with hms_db.session_scope(url) as s:
                barrier.wait(timeout=30)
                appointment = book_appointment(s, actor=RECEPTION, **kwargs)
                with lock:
                    booked.append(appointment.id)
        except DomainError as error:
            with lock:
                refused.append(error)
        except BaseException as error:  # noqa: BLE001  (reported below: the test must see it)
            with lock:
                unexpected.append(error)

    threads = [threading.Thread(target=attempt, args=(kwargs,)) for kwargs in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not unexpected, f"attempts failed with something other than a clear message: {unexpected!r}"
    assert len(booked) + len(refused) == len(attempts)
    return booked, refused


def test_many_patients_taking_the_same_time_exactly_one_succeeds(session, clinic, configured_db):
    attempts = [
        dict(patient_id=clinic.patients[n], service_id=clinic.gp, appointment_type_id=clinic.gp_visit,
             start_at=clinic.at(9), resource_id=clinic.dr_a)
        for n in range(ATTEMPTS)
    ]  # fmt: skip
    booked, refused = race(configured_db, attempts)
    assert len(booked) == 1
    assert all(isinstance(e, SlotTaken) for e in refused)
    assert {str(e) for e in refused} == {SLOT_TAKEN_MESSAGE}
    session.expire_all()
    assert double_bookings(session) == 0
    assert session.execute(select(func.count()).select_from(Appointment)).scalar_one() == 1
    # The losers reload: the free times no longer include the taken one.
    starts = [
        s.start_at
        for s in find_free_slots(
            session, actor=RECEPTION, service_id=clinic.gp, appointment_type_id=clinic.gp_visit, day=clinic.day,
            resource_id=clinic.dr_a, limit=500,
        )
    ]  # fmt: skip
    assert clinic.at(9) not in starts and starts


def test_overlapping_times_of_different_lengths_on_one_resource_exactly_one_succeeds(
    session, clinic, configured_db
):
    lengths = [15, 20, 25, 30, 35, 40, 45, 50]
    types = []
    for minutes in lengths:
        vtype = AppointmentType(
            service_id=clinic.gp, code=f"L{minutes}", name=f"{minutes} min", duration_minutes=minutes
        )
        session.add(vtype)
        session.flush()
        types.append(vtype.id)
    session.commit()
    # Every attempt covers 09:40-09:45, starting at different moments: all overlap pairwise, none identical.
    attempts = []
    for n in range(ATTEMPTS):
        minutes = lengths[n % len(lengths)]
        latest_start = 40  # minutes after 09:00
        earliest_start = 45 - minutes
        offset = earliest_start + 5 * ((n // len(lengths)) % ((latest_start - earliest_start) // 5 + 1))
        attempts.append(
            dict(patient_id=clinic.patients[n], service_id=clinic.gp, appointment_type_id=types[n % len(types)],
                 start_at=clinic.at(9) + timedelta(minutes=offset), resource_id=clinic.dr_a)
        )  # fmt: skip
    assert len({(a["start_at"], a["appointment_type_id"]) for a in attempts}) == ATTEMPTS
    booked, refused = race(configured_db, attempts)
    assert len(booked) == 1 and all(isinstance(e, SlotTaken) for e in refused)
    session.expire_all()
    assert double_bookings(session) == 0


def test_different_providers_sharing_one_room_only_one_gets_the_room(session, clinic, configured_db):
    providers = [
        r.id for r in list_resources(session, actor=RECEPTION, service_id=clinic.gp, kind="provider")
    ]
    assert len(providers) >= ATTEMPTS
    session.commit()  # end this read: on SQLite an open transaction would hold the write lock
    attempts = [
        dict(patient_id=clinic.patients[n], service_id=clinic.gp, appointment_type_id=clinic.gp_visit,
             start_at=clinic.at(10), resource_id=providers[n])
        for n in range(ATTEMPTS)
    ]  # fmt: skip
    booked, refused = race(configured_db, attempts)
    assert len(booked) == 1 and all(isinstance(e, SlotTaken) for e in refused)
    session.expire_all()
    assert double_bookings(session) == 0
    # Without the room, every other provider can still be booked at that time, all at once.
    (winner,) = booked
    winner_provider = session.execute(
        select(AppointmentParticipant.resource_id).where(
            AppointmentParticipant.appointment_id == winner, AppointmentParticipant.resource_id != clinic.room
        )
    ).scalar_one()
    others = [p for p in providers if p != winner_provider]
    more = add_patients(session, len(others), offset=1000)
    session.commit()
    virtual = [
        dict(patient_id=more[n], service_id=clinic.gp, appointment_type_id=clinic.gp_video, start_at=clinic.at(10),
             resource_id=provider)
        for n, provider in enumerate(others)
    ]  # fmt: skip
    booked, refused = race(configured_db, virtual)
    assert len(booked) == len(others) and not refused
    session.expire_all()
    assert double_bookings(session) == 0
    per_provider = session.execute(
        select(func.count(Appointment.id)).where(
            and_(Appointment.start_at == clinic.at(10), Appointment.status == "booked")
        )
    ).scalar_one()
    assert per_provider == 1 + len(others)
