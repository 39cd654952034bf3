"""The clinic boards' queries: today's appointments per department by status, the flow board's
columns, and the waiting-room screen's calls, queue and predicted waits from recent visits.

The appointments are written straight into the scheduling tables (what the booking and flow
services would have left), so these tests depend only on the tables, not on those services.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from hms_app.clock import utcnow
from hms_app.errors import Forbidden, NotFound
from hms_app.models.organization import Department
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    HealthcareService,
    Resource,
)
from hms_app.models.security import AuditEvent
from hms_app.services import clinic_boards, patients
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.settings import get_settings

CLERK = Actor(
    user_id=0, username="rita", roles=frozenset({"receptionist"}), permissions=frozenset({"appointment.read"})
)
PHARMACIST = Actor(
    user_id=0, username="phil", roles=frozenset({"pharmacist"}), permissions=frozenset({"patient.read"})
)


class Clinic:
    """Two departments with a provider each, a visit type and a handful of patients."""

    def __init__(self, session):
        self.session = session
        self.now = utcnow()
        self.count = 0
        self.gen = Department(code="GEN", name="General Medicine")
        self.card = Department(code="CARD", name="Cardiology")
        session.add_all([self.gen, self.card])
        session.flush()
        self.services, self.types, self.providers = {}, {}, {}
        for department, doctor in ((self.gen, "Dr Grey"), (self.card, "Dr Heart")):
            service = HealthcareService(
                code=department.code, name=f"{department.name} visit", department_id=department.id
            )
            session.add(service)
            session.flush()
            kind = AppointmentType(service_id=service.id, code="STD", name="Standard", duration_minutes=15)
            provider = Resource(kind="provider", name=doctor, department_id=department.id)
            session.add_all([kind, provider])
            session.flush()
            self.services[department.id], self.types[department.id] = service.id, kind.id
            self.providers[department.id] = provider.id
        self.room = Resource(kind="room", name="Room 3", department_id=self.gen.id)
        session.add(self.room)
        self.people = [
            patients.register_patient(
                session,
                actor=SYSTEM_ACTOR,
                data={
                    "given_name": given,
                    "family_name": family,
                    "sex": "female",
                    "birth_date": "1980-01-01",
                },
            ).id
            for given, family in (
                ("Ada", "Lovelace"),
                ("Grace", "Hopper"),
                ("Mary", "Jackson"),
                ("Katherine", "Johnson"),
            )
        ]
        session.commit()

    def visit(
        self,
        department: Department,
        status: str,
        *,
        start: timedelta = timedelta(0),
        patient: int = 0,
        arrived: timedelta | None = None,
        called: timedelta | None = None,
        done: timedelta | None = None,
        token: str | None = None,
        provider: bool = True,
        room: bool = False,
    ) -> Appointment:
        """An appointment ``start`` from now; the other times are offsets from now too."""
        self.count += 1
        at = self.now + start
        appointment = Appointment(
            reference=f"AP-{self.count:06d}",
            patient_id=self.people[patient],
            service_id=self.services[department.id],
            appointment_type_id=self.types[department.id],
            department_id=department.id,
            start_at=at,
            end_at=at + timedelta(minutes=15),
            status=status,
            queue_token=token,
            arrived_at=None if arrived is None else self.now + arrived,
            in_room_at=None if called is None else self.now + called,
            completed_at=None if done is None else self.now + done,
        )
        self.session.add(appointment)
        self.session.flush()
        if provider:
            self.session.add(
                AppointmentParticipant(
                    appointment_id=appointment.id, resource_id=self.providers[department.id]
                )
            )
        if room:
            self.session.add(AppointmentParticipant(appointment_id=appointment.id, resource_id=self.room.id))
        self.session.commit()
        return appointment


@pytest.fixture
def clinic(session, monkeypatch):
    # Noon in the hospital's zone: every offset used below stays within today.
    monkeypatch.setenv("HMS_TIME_ZONE", "UTC")
    get_settings.cache_clear()
    c = Clinic(session)
    noon = c.now.replace(hour=12, minute=0, second=0, microsecond=0)
    monkeypatch.setattr(clinic_boards, "utcnow", lambda: noon)
    c.now = noon
    return c


def test_todays_appointments_are_counted_per_department_and_status(session, clinic):
    gen, card = clinic.gen, clinic.card
    for status in ("booked", "booked", "arrived", "in_room", "completed", "no_show", "cancelled"):
        clinic.visit(gen, status)
    clinic.visit(card, "booked")
    clinic.visit(card, "completed")
    clinic.visit(gen, "booked", start=timedelta(days=1))  # tomorrow: not on today's board
    clinic.visit(gen, "booked", start=timedelta(days=-1))  # yesterday
    counted = {d.department: d.counts for d in clinic_boards.flow_counts(session, actor=CLERK)}
    assert counted["General Medicine"] == {
        "booked": 2,
        "arrived": 1,
        "in_room": 1,
        "completed": 1,
        "no_show": 1,
        "cancelled": 1,
    }
    assert counted["Cardiology"]["booked"] == 1 and counted["Cardiology"]["completed"] == 1
    totals = {d.department: d.total for d in clinic_boards.flow_counts(session, actor=CLERK)}
    assert totals == {"Cardiology": 2, "General Medicine": 6}  # cancelled ones are not visits
    options = {o.name: o.today for o in clinic_boards.board_departments(session, actor=CLERK)}
    assert options == {"Cardiology": 2, "General Medicine": 6}


def test_the_flow_board_puts_each_card_in_its_column_with_a_short_name_and_is_audited(session, clinic):
    gen = clinic.gen
    clinic.visit(gen, "booked", start=timedelta(minutes=30), patient=1)
    clinic.visit(gen, "arrived", start=timedelta(minutes=-5), arrived=timedelta(minutes=-12), token="G-002")
    clinic.visit(
        gen, "in_room", called=timedelta(minutes=-4), arrived=timedelta(minutes=-30), token="G-001", patient=2
    )
    clinic.visit(clinic.card, "booked", patient=3)
    board = clinic_boards.flow_board(session, actor=CLERK, department_id=gen.id)
    assert [(c.token, c.patient, c.provider) for c in board.columns["arrived"]] == [
        ("G-002", "Ada L.", "Dr Grey")
    ]
    assert [c.patient for c in board.columns["booked"]] == ["Grace H."]  # Cardiology's is filtered out
    assert board.columns["in_room"][0].since == clinic.now - timedelta(minutes=4)
    assert board.counts["booked"] == 1 and board.counts["in_room"] == 1
    everyone = clinic_boards.flow_board(session, actor=CLERK, audit=False)
    assert everyone.counts["booked"] == 2
    details = list(
        session.execute(select(AuditEvent.detail).where(AuditEvent.action == "appointment.board")).scalars()
    )
    assert len(details) == 1 and "3 appointments shown" in details[0]
    with pytest.raises(Forbidden):
        clinic_boards.flow_board(session, actor=PHARMACIST)
    with pytest.raises(NotFound):
        clinic_boards.flow_board(session, actor=CLERK, department_id=9999)


def test_predicted_waits_follow_each_providers_queue():
    # Dr A has someone in the room for 5 of a typical 15 minutes; Dr B is free.
    waits = clinic_boards.predict_waits([(1, "A"), (2, "B"), (3, "A"), (4, "B"), (5, None)], {"A": 5}, 15.0)
    assert waits == [10, 0, 25, 15, 0]
    # A visit running past the typical length still leaves two minutes at least.
    assert clinic_boards.predict_waits([(1, "A")], {"A": 40}, 15.0) == [2]


def test_the_waiting_room_shows_tokens_initials_and_waits_from_recent_visit_times(session, clinic):
    gen = clinic.gen
    # Recent visits took 10, 12 and 20 minutes from call to completion: the median is 12.
    for minutes, ago in ((10, 200), (12, 150), (20, 100)):
        clinic.visit(
            gen,
            "completed",
            start=timedelta(minutes=-ago),
            called=timedelta(minutes=-ago),
            done=timedelta(minutes=-ago + minutes),
        )
    clinic.visit(gen, "in_room", called=timedelta(minutes=-2), token="G-007", room=True, patient=1)
    clinic.visit(gen, "in_room", called=timedelta(minutes=-40), token="G-003", patient=2)  # called long ago
    clinic.visit(
        gen, "arrived", start=timedelta(minutes=-10), arrived=timedelta(minutes=-15), token="G-008", patient=3
    )
    clinic.visit(
        gen, "arrived", start=timedelta(minutes=5), arrived=timedelta(minutes=-1), token="G-009", patient=0
    )
    clinic.visit(clinic.card, "arrived", token="C-001")  # another department's queue
    room = clinic_boards.waiting_room(session, actor=CLERK, department_id=gen.id)
    assert room.department == "General Medicine"
    assert [(c.token, c.where) for c in room.calling] == [("G-007", "Room 3")]
    assert (room.service_minutes, room.sample_size) == (12, 3)
    # Dr Grey called G-007 two minutes ago (G-003 is a stale call): 10 of the typical 12 minutes left.
    assert [(w.token, w.initials, w.predicted_minutes) for w in room.waiting] == [
        ("G-008", "K. J.", 10),
        ("G-009", "A. L.", 22),
    ]
    assert room.waiting_total == 2
    with pytest.raises(NotFound):
        clinic_boards.waiting_room(session, actor=CLERK, department_id=9999)
    with pytest.raises(Forbidden):
        clinic_boards.waiting_room(session, actor=PHARMACIST, department_id=gen.id)


def test_without_recent_visits_the_booked_length_stands_in(session, clinic):
    clinic.visit(clinic.card, "arrived", token="C-001")
    clinic.visit(clinic.card, "arrived", token="C-002", patient=1)
    room = clinic_boards.waiting_room(session, actor=CLERK, department_id=clinic.card.id)
    assert (room.service_minutes, room.sample_size) == (15, 0)
    assert [w.predicted_minutes for w in room.waiting] == [0, 15]


def test_names_are_shortened_for_staff_and_reduced_to_initials_for_the_public_screen():
    assert clinic_boards.short_name("Ada", "Lovelace") == "Ada L."
    assert clinic_boards.initials("ada", "lovelace") == "A. L."
    assert isinstance(clinic_boards.day_bounds(datetime(2026, 1, 1).date())[0], datetime)


def test_imaging_patients_queue_for_the_scanner_and_are_sent_to_the_room():
    scan = clinic_boards.Who(provider="", room="Imaging room 2", equipment="CT scanner")
    assert (scan.queue, scan.where) == ("CT scanner", "Imaging room 2")
    visit = clinic_boards.Who(provider="Dr Grey")
    assert (visit.queue, visit.where) == ("Dr Grey", "Dr Grey")
    assert (clinic_boards.NOBODY.queue, clinic_boards.NOBODY.where) == (None, "")
