"""Scheduling: free slots, booking rules, the visit flow, cancellation policy, waitlist offers, setup.

The clinic used here works in Europe/Berlin (so that local wall times and UTC differ), on a
day a week ahead; ``now`` is passed explicitly where the policy depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from hms_app.errors import Conflict, Forbidden, ValidationError, Withheld
from hms_app.models.billing import ChargeItem, ChargeItemDefinition
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    AvailabilityRule,
    HealthcareService,
    ReminderMessage,
    Resource,
    ResourceBlock,
    ResourceService,
    WaitlistEntry,
)
from hms_app.models.security import AuditEvent
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.services.rows import reload
from hms_app.services.scheduling.booking import (
    book_appointment,
    book_recurring,
    cancel_appointment,
    portal_change_refusal,
    reschedule_appointment,
)
from hms_app.services.scheduling.flow import (
    call_patient,
    check_in,
    complete_appointment,
    mark_no_show,
    queue_status,
)
from hms_app.services.scheduling.lists import (
    get_appointment,
    list_day,
    list_services,
    list_week,
    patient_appointments,
)
from hms_app.services.scheduling.policy import RecurrenceConflict, SlotTaken
from hms_app.services.scheduling.setup import (
    add_availability_exception,
    add_availability_rule,
    save_appointment_type,
    save_service,
)
from hms_app.services.scheduling.slots import day_is_full, find_free_slots
from hms_app.services.scheduling.stats import no_show_rates, no_show_report, overall_no_show
from hms_app.services.scheduling.waitlist import accept_offer, decline_offer, expire_offers, join_waitlist
from hms_app.settings import get_settings

TZ = ZoneInfo("Europe/Berlin")
RECEPTION = Actor(
    user_id=0,
    username="reception",
    roles=frozenset({"receptionist"}),
    permissions=frozenset({"patient.read", "appointment.read", "appointment.book", "appointment.flow"}),
)
NURSE = Actor(
    user_id=0,
    username="nurse",
    roles=frozenset({"nurse"}),
    permissions=frozenset({"patient.read", "appointment.read", "appointment.flow"}),
)


def portal(patient_id: int) -> Actor:
    return Actor(
        user_id=0, username=f"patient{patient_id}", roles=frozenset({"patient"}),
        permissions=frozenset({"portal.self"}), patient_id=patient_id,
    )  # fmt: skip


@dataclass
class Clinic:
    day: date
    gen: int
    img: int
    dr_a: int
    dr_b: int
    room: int
    mri: int
    gp: int  # self-bookable service
    gp_visit: int  # 20 min, needs the room
    gp_long: int  # 40 min, needs the room
    gp_video: int  # 15 min, virtual
    mri_service: int  # not self-bookable
    mri_scan: int  # 30 min
    patients: list[int]

    def at(self, hh: int, mm: int = 0, day: date | None = None) -> datetime:
        return datetime.combine(day or self.day, time(hh, mm), tzinfo=TZ).astimezone(UTC)


def add_patients(session, count: int, offset: int = 0) -> list[int]:
    rows = [
        Patient(
            mrn=f"MRN{offset + n:06d}", given_name=f"Pat{offset + n}", family_name="Tester", sex="female",
            birth_date=date(1980, 1, 1), email=f"p{offset + n}@example.org",
        )
        for n in range(count)
    ]  # fmt: skip
    session.add_all(rows)
    session.flush()
    return [p.id for p in rows]


def build_clinic(session, *, patients: int = 8, extra_providers: int = 0) -> Clinic:
    """Two GPs sharing one examination room, an MRI scanner; open 08:00-18:00 every day."""
    gen, img = Department(code="GEN", name="General medicine"), Department(code="IMG", name="Imaging")
    session.add_all([gen, img])
    session.flush()
    gp = HealthcareService(code="GP", name="GP consultation", department_id=gen.id, self_bookable=True)
    mri_service = HealthcareService(code="MRI", name="MRI scan", department_id=img.id)
    session.add_all([gp, mri_service])
    session.add(
        ChargeItemDefinition(code="VISIT-GP", name="GP visit", department_id=gen.id, price_cents=6500)
    )
    session.flush()
    types = [
        AppointmentType(service_id=gp.id, code="STD", name="Consultation", duration_minutes=20, needs_room=True,
                        price_code="VISIT-GP"),
        AppointmentType(service_id=gp.id, code="LONG", name="Long consultation", duration_minutes=40, needs_room=True),
        AppointmentType(service_id=gp.id, code="VIDEO", name="Video visit", duration_minutes=15, mode="virtual"),
        AppointmentType(service_id=mri_service.id, code="SCAN", name="MRI scan", duration_minutes=30),
    ]  # fmt: skip
    session.add_all(types)
    providers = [Resource(kind="provider", name=f"Dr {c}", department_id=gen.id) for c in ("A", "B")]
    providers += [
        Resource(kind="provider", name=f"Dr X{n:02d}", department_id=gen.id) for n in range(extra_providers)
    ]
    room = Resource(kind="room", name="Exam room 1", department_id=gen.id)
    mri = Resource(kind="equipment", name="MRI scanner", department_id=img.id, capability="mri")
    session.add_all([*providers, room, mri])
    session.flush()
    for r in (*providers, room):
        session.add(ResourceService(resource_id=r.id, service_id=gp.id))
    session.add(ResourceService(resource_id=mri.id, service_id=mri_service.id))
    for r in (*providers, mri):  # the room has no rules: it is open whenever a provider works
        for weekday in range(7):
            session.add(
                AvailabilityRule(resource_id=r.id, weekday=weekday, start_time=time(8), end_time=time(18),
                                 valid_from=date(2020, 1, 1))
            )  # fmt: skip
    patient_ids = add_patients(session, patients)
    session.commit()
    day = datetime.now(TZ).date() + timedelta(days=7)
    return Clinic(
        day, gen.id, img.id, providers[0].id, providers[1].id, room.id, mri.id, gp.id, types[0].id, types[1].id,
        types[2].id, mri_service.id, types[3].id, patient_ids,
    )  # fmt: skip


@pytest.fixture
def clinic(session, monkeypatch) -> Clinic:
    monkeypatch.setenv("HMS_TIME_ZONE", "Europe/Berlin")
    get_settings.cache_clear()
    return build_clinic(session)


def book(session, c: Clinic, hh: int, mm: int = 0, *, patient: int = 0, vtype: int | None = None, resource=None,
         actor=RECEPTION, service=None):  # fmt: skip
    return book_appointment(
        session, actor=actor, patient_id=c.patients[patient], service_id=service or c.gp,
        appointment_type_id=vtype or c.gp_visit, start_at=c.at(hh, mm), resource_id=resource,
    )  # fmt: skip


def audit_actions(session, target_id=None) -> list[str]:
    query = select(AuditEvent.action).order_by(AuditEvent.id)
    if target_id is not None:
        query = query.where(AuditEvent.target_type == "appointment", AuditEvent.target_id == str(target_id))
    return list(session.execute(query).scalars())


# --- slots and booking ------------------------------------------------------------------------


def test_free_slots_follow_the_local_template_and_name_the_provider_and_room(session, clinic):
    slots = find_free_slots(
        session, actor=RECEPTION, service_id=clinic.gp, appointment_type_id=clinic.gp_visit, day=clinic.day,
        resource_id=clinic.dr_a, limit=500,
    )  # fmt: skip
    assert slots[0].start_at == clinic.at(8, 0)
    # Starts every 15 minutes: 17:30 is the last one that ends by 18:00.
    assert slots[-1].start_at == clinic.at(17, 30) and len(slots) == 39
    assert slots[0].resource_names == ("Dr A", "Exam room 1")
    assert slots[0].label.endswith("08:00")
    assert [s.start_at for s in slots[:3]] == [clinic.at(8), clinic.at(8, 15), clinic.at(8, 30)]


def test_booking_holds_every_resource_writes_reminders_and_is_audited(session, clinic):
    appointment = book(session, clinic, 9, 0, resource=clinic.dr_a)
    assert appointment.reference.startswith("AP-") and len(appointment.reference) == 9
    assert (appointment.status, appointment.booked_via) == ("booked", "staff")
    held = session.execute(
        select(ResourceBlock.resource_id, func.count()).where(ResourceBlock.appointment_id == appointment.id)
        .group_by(ResourceBlock.resource_id)
    ).all()  # fmt: skip
    assert sorted(held) == sorted([(clinic.dr_a, 4), (clinic.room, 4)])  # 20 minutes = 4 blocks each
    due = session.execute(
        select(ReminderMessage.due_at).where(ReminderMessage.appointment_id == appointment.id)
    ).scalars()
    assert sorted(due) == [clinic.at(9) - timedelta(hours=24), clinic.at(9) - timedelta(hours=2)]
    assert audit_actions(session, appointment.id) == ["appointment.book"]
    starts = [
        s.start_at
        for s in find_free_slots(
            session, actor=RECEPTION, service_id=clinic.gp, appointment_type_id=clinic.gp_visit, day=clinic.day,
            resource_id=clinic.dr_a, limit=500,
        )
    ]  # fmt: skip
    assert clinic.at(9) not in starts and clinic.at(8, 45) not in starts  # 08:45-09:05 would overlap
    assert clinic.at(9, 20) in starts  # the gap right after the visit is offered


def test_the_same_time_twice_is_refused_with_a_clear_message(session, clinic):
    book(session, clinic, 10, 0, resource=clinic.dr_a, patient=0)
    with pytest.raises(SlotTaken) as caught:
        book(session, clinic, 10, 0, resource=clinic.dr_a, patient=1)
    assert "just taken by someone else" in str(caught.value)
    assert session.execute(select(func.count()).select_from(Appointment)).scalar_one() == 1


def test_overlapping_visits_of_different_lengths_conflict(session, clinic):
    book(session, clinic, 10, 0, vtype=clinic.gp_long, resource=clinic.dr_a)  # 10:00-10:40
    with pytest.raises(SlotTaken):
        book(session, clinic, 10, 30, resource=clinic.dr_a, patient=1)  # 10:30-10:50
    assert book(session, clinic, 10, 40, resource=clinic.dr_a, patient=1).start_at == clinic.at(10, 40)


def test_only_the_room_conflicts_when_another_provider_needs_the_same_room(session, clinic):
    book(session, clinic, 11, 0, resource=clinic.dr_a)
    with pytest.raises(SlotTaken):
        book(session, clinic, 11, 0, resource=clinic.dr_b, patient=1)  # Dr B is free, the room is not
    video = book(session, clinic, 11, 0, resource=clinic.dr_b, patient=1, vtype=clinic.gp_video)
    assert video.status == "booked"  # a virtual visit needs no room


def test_any_provider_booking_picks_a_free_one(session, clinic):
    first = book(session, clinic, 12, 0, vtype=clinic.gp_video)
    second = book(session, clinic, 12, 0, vtype=clinic.gp_video, patient=1)
    resources = session.execute(
        select(AppointmentParticipant.resource_id).where(AppointmentParticipant.appointment_id.in_([first.id, second.id]))
    ).scalars()  # fmt: skip
    assert sorted(resources) == sorted([clinic.dr_a, clinic.dr_b])


def test_a_scanner_is_booked_like_a_doctor(session, clinic):
    scan = book(session, clinic, 9, 0, vtype=clinic.mri_scan, service=clinic.mri_service)
    assert scan.department_id == clinic.img
    with pytest.raises(SlotTaken):
        book(session, clinic, 9, 15, vtype=clinic.mri_scan, service=clinic.mri_service, patient=1)


def test_bad_booking_input_is_refused(session, clinic):
    with pytest.raises(ValidationError) as caught:
        book(session, clinic, 9, 3)
    assert caught.value.field == "start_at"
    with pytest.raises(ValidationError):
        book_appointment(
            session, actor=RECEPTION, patient_id=clinic.patients[0], service_id=clinic.gp,
            appointment_type_id=clinic.mri_scan, start_at=clinic.at(9),
        )  # fmt: skip
    with pytest.raises(ValidationError):
        book_appointment(
            session, actor=RECEPTION, patient_id=clinic.patients[0], service_id=clinic.gp,
            appointment_type_id=clinic.gp_visit, start_at=clinic.at(9, day=clinic.day - timedelta(days=10)),
        )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        book(session, clinic, 19, 0)  # after hours: not "taken", but nobody works then
    assert "outside working hours" in str(caught.value)
    book(session, clinic, 9, 0)
    with pytest.raises(Conflict):
        book(session, clinic, 9, 0, vtype=clinic.gp_video)  # the same patient, the same time


def test_a_nurse_cannot_book_and_a_patient_books_only_for_themselves(session, clinic):
    with pytest.raises(Forbidden):
        book(session, clinic, 9, actor=NURSE)
    mine = book_appointment(
        session, actor=portal(clinic.patients[2]), service_id=clinic.gp, appointment_type_id=clinic.gp_visit,
        start_at=clinic.at(9),
    )  # fmt: skip
    assert (mine.patient_id, mine.booked_via) == (clinic.patients[2], "portal")
    with pytest.raises(Forbidden):
        book(session, clinic, 10, actor=portal(clinic.patients[2]), patient=3)
    with pytest.raises(ValidationError):  # the MRI is not self-bookable
        book_appointment(
            session, actor=portal(clinic.patients[2]), service_id=clinic.mri_service,
            appointment_type_id=clinic.mri_scan, start_at=clinic.at(11),
        )  # fmt: skip
    assert [s.code for s in list_services(session, actor=portal(clinic.patients[2]))] == ["GP"]


def test_holidays_closures_and_leave_remove_slots(session, clinic):
    add_availability_exception(
        session, actor=SYSTEM_ACTOR,
        data={"kind": "leave", "resource_id": clinic.dr_a, "starts_at": clinic.at(8), "ends_at": clinic.at(13),
              "reason": "Conference"},
    )  # fmt: skip
    slots = find_free_slots(
        session,
        actor=RECEPTION,
        service_id=clinic.gp,
        appointment_type_id=clinic.gp_video,
        day=clinic.day,
        limit=500,
    )
    assert {s.provider_name for s in slots if s.start_at < clinic.at(13)} == {"Dr B"}
    assert {s.provider_name for s in slots if s.start_at >= clinic.at(13)} == {"Dr A", "Dr B"}
    add_availability_exception(
        session, actor=SYSTEM_ACTOR,
        data={"kind": "holiday", "starts_at": clinic.at(0), "ends_at": clinic.at(23, 55), "reason": "Public holiday"},
    )  # fmt: skip
    assert not find_free_slots(
        session, actor=RECEPTION, service_id=clinic.gp, appointment_type_id=clinic.gp_video, day=clinic.day
    )
    assert day_is_full(
        session, actor=RECEPTION, service_id=clinic.gp, appointment_type_id=clinic.gp_video, day=clinic.day
    )


# --- the visit flow -------------------------------------------------------------------------------


def test_check_in_gives_queue_tokens_and_every_status_change_is_audited(session, clinic):
    first = book(session, clinic, 9, 0, resource=clinic.dr_a)
    second = book(session, clinic, 9, 0, resource=clinic.dr_b, patient=1, vtype=clinic.gp_video)
    on_the_day = clinic.at(8, 40)
    with pytest.raises(Conflict):  # not today
        check_in(session, actor=NURSE, appointment_id=first.id)
    a = check_in(session, actor=NURSE, appointment_id=first.id, now=on_the_day)
    b = check_in(session, actor=NURSE, appointment_id=second.id, now=on_the_day + timedelta(minutes=3))
    assert (a.status, a.queue_token, b.queue_token) == ("arrived", "G-001", "G-002")
    with pytest.raises(Conflict):
        check_in(session, actor=NURSE, appointment_id=first.id, now=on_the_day)
    queue = queue_status(session, actor=NURSE, department_id=clinic.gen, day=clinic.day,
                               now=on_the_day + timedelta(minutes=5))  # fmt: skip
    assert [r.token for r in queue.waiting] == ["G-001", "G-002"] and queue.now_serving is None
    call_patient(session, actor=NURSE, appointment_id=first.id, now=on_the_day + timedelta(minutes=20))
    done = complete_appointment(session, actor=NURSE, appointment_id=first.id, now=clinic.at(9, 25))
    assert done.status == "completed" and done.completed_at == clinic.at(9, 25)
    queue = queue_status(session, actor=NURSE, department_id=clinic.gen, day=clinic.day,
                               now=clinic.at(9, 30))  # fmt: skip
    assert [r.token for r in queue.waiting] == ["G-002"]
    assert queue.median_wait_minutes == 20  # G-001 waited 08:40 -> 09:00
    assert queue.waiting[0].predicted_wait_minutes == 0  # already waited 47 minutes
    assert audit_actions(session, first.id) == [
        "appointment.book", "appointment.check_in", "appointment.call", "appointment.complete",
    ]  # fmt: skip
    with pytest.raises(Conflict):
        complete_appointment(session, actor=NURSE, appointment_id=first.id)


def test_completing_a_visit_posts_its_charge_once_with_the_visit(session, clinic):
    visit = book(session, clinic, 9, 0, resource=clinic.dr_a)
    unpriced = book(session, clinic, 9, 0, resource=clinic.dr_b, patient=1, vtype=clinic.gp_video)
    for appointment in (visit, unpriced):
        check_in(session, actor=NURSE, appointment_id=appointment.id, now=clinic.at(8, 50))
    complete_appointment(session, actor=NURSE, appointment_id=visit.id, now=clinic.at(9, 20))
    complete_appointment(session, actor=NURSE, appointment_id=unpriced.id, now=clinic.at(9, 20))
    charges = session.execute(select(ChargeItem)).scalars().all()
    assert [
        (c.patient_id, c.code, c.unit_price_cents, c.source_type, c.source_id, c.status) for c in charges
    ] == [
        (visit.patient_id, "VISIT-GP", 6500, "appointment", visit.id, "open")
    ]  # the video visit type has no price code: nothing to bill


def test_a_visit_whose_price_code_is_not_in_the_catalogue_is_not_completed(session, clinic):
    session.execute(update(ChargeItemDefinition).values(active=False))
    session.commit()
    visit = book(session, clinic, 9, 0, resource=clinic.dr_a)
    check_in(session, actor=NURSE, appointment_id=visit.id, now=clinic.at(8, 50))
    with pytest.raises(ValidationError, match="bills the code VISIT-GP, which is not an active service"):
        complete_appointment(session, actor=NURSE, appointment_id=visit.id, now=clinic.at(9, 20))
    session.expire_all()
    assert session.get(Appointment, visit.id).status == "arrived"
    assert session.execute(select(ChargeItem)).first() is None


def test_no_show_only_after_the_start_frees_the_time_and_counts_in_the_rates(session, clinic):
    missed = book(session, clinic, 9, 0, resource=clinic.dr_a)
    kept = book(session, clinic, 10, 0, resource=clinic.dr_a, patient=1)
    other = book(session, clinic, 10, 0, resource=clinic.dr_b, patient=0, vtype=clinic.gp_video)
    with pytest.raises(Conflict):
        mark_no_show(session, actor=NURSE, appointment_id=missed.id, now=clinic.at(8, 50))
    mark_no_show(session, actor=NURSE, appointment_id=missed.id, now=clinic.at(9, 15))
    assert (
        session.execute(
            select(func.count()).select_from(ResourceBlock).where(ResourceBlock.appointment_id == missed.id)
        ).scalar_one()
        == 0
    )
    check_in(session, actor=NURSE, appointment_id=kept.id, now=clinic.at(9, 55))
    complete_appointment(session, actor=NURSE, appointment_id=kept.id, now=clinic.at(10, 20))
    check_in(session, actor=NURSE, appointment_id=other.id, now=clinic.at(9, 56))
    assert audit_actions(session, missed.id) == ["appointment.book", "appointment.no_show"]
    by_provider = no_show_rates(session, actor=NURSE, start_day=clinic.day, end_day=clinic.day)
    assert [(r.name, r.appointments, r.no_shows) for r in by_provider] == [("Dr A", 2, 1), ("Dr B", 1, 0)]
    assert by_provider[0].rate == 0.5
    by_patient = no_show_rates(session, actor=NURSE, start_day=clinic.day, end_day=clinic.day, by="patient")
    assert [(r.id, r.appointments, r.no_shows) for r in by_patient] == [
        (clinic.patients[0], 2, 1), (clinic.patients[1], 1, 0),
    ]  # fmt: skip


def test_the_overall_no_show_rate_counts_each_visit_due_once_by_the_same_rule(session, clinic):
    missed = book(session, clinic, 9, 0, resource=clinic.dr_a)
    kept = book(session, clinic, 10, 0, resource=clinic.dr_a, patient=1)
    scan = book(session, clinic, 9, 0, patient=2, service=clinic.mri_service, vtype=clinic.mri_scan)
    book(session, clinic, 11, 0, resource=clinic.dr_b, patient=3)  # still booked: not due
    for appointment in (missed, scan):
        mark_no_show(session, actor=NURSE, appointment_id=appointment.id, now=clinic.at(9, 15))
    check_in(session, actor=NURSE, appointment_id=kept.id, now=clinic.at(9, 55))
    span = {"start_day": clinic.day, "end_day": clinic.day}
    assert overall_no_show(session, actor=NURSE, **span) == (3, 2)
    assert overall_no_show(session, actor=NURSE, department_id=clinic.img, **span) == (1, 1)
    report = no_show_report(session, actor=NURSE, **span)
    # The scan has no provider: it counts in the overall rate, not in any provider's.
    assert [(r.name, r.appointments, r.no_shows) for r in report.providers] == [("Dr A", 2, 1)]
    assert report.patients == []  # nobody has the three visits due that make a pattern
    assert report.overall == "66.7 % of 3 visits due"
    assert [d.code for d in report.departments] == ["GEN", "IMG"]
    with pytest.raises(Forbidden):
        overall_no_show(session, actor=portal(clinic.patients[0]), **span)


def test_day_and_patient_lists(session, clinic):
    book(session, clinic, 9, 0, resource=clinic.dr_a)
    book(session, clinic, 9, 0, resource=clinic.dr_b, patient=1, vtype=clinic.gp_video)
    page = list_day(session, actor=NURSE, day=clinic.day, department_id=clinic.gen)
    assert page.total == 2 and [r.resource_names for r in page.rows] == [("Dr A", "Exam room 1"), ("Dr B",)]
    assert page.rows[0].start_label == "09:00" and page.rows[0].patient_name == "Pat0 Tester"
    only_b = list_day(session, actor=NURSE, day=clinic.day, resource_id=clinic.dr_b)
    assert [r.patient_id for r in only_b.rows] == [clinic.patients[1]]
    week = list_week(session, actor=NURSE, week_start=clinic.day - timedelta(days=3))
    assert week.total == 2
    mine = patient_appointments(session, actor=portal(clinic.patients[1]), patient_id=None)
    assert [r.mode for r in mine.rows] == ["virtual"]
    with pytest.raises(Forbidden):
        patient_appointments(session, actor=portal(clinic.patients[1]), patient_id=clinic.patients[0])
    assert "patient.read" in audit_actions(session)


def test_a_visit_cancelled_before_its_time_is_not_past(session, clinic):
    """Past is what happened; a future visit cancelled is listed apart, and past once its time is over."""
    visit = book(session, clinic, 9, 0, resource=clinic.dr_a)  # on the clinic's day, in the future
    cancel_appointment(session, actor=RECEPTION, appointment_id=visit.id, reason="Feels better")
    patient = portal(clinic.patients[0])
    before = visit.start_at - timedelta(days=1)
    assert patient_appointments(session, actor=patient, upcoming=False, now=before).rows == []
    assert patient_appointments(session, actor=patient, upcoming=True, now=before).rows == []
    listed = patient_appointments(session, actor=patient, upcoming=False, cancelled=True, now=before)
    assert [(r.id, r.status) for r in listed.rows] == [(visit.id, "cancelled")]
    after = visit.start_at + timedelta(days=1)
    assert [r.id for r in patient_appointments(session, actor=patient, upcoming=False, now=after).rows] == [
        visit.id
    ]
    assert patient_appointments(session, actor=patient, upcoming=False, cancelled=True, now=after).rows == []


# --- cancel, reschedule, recurring ------------------------------------------------------------------


def test_cancel_needs_a_reason_frees_the_time_and_cancels_reminders(session, clinic):
    appointment = book(session, clinic, 9, 0, resource=clinic.dr_a)
    with pytest.raises(ValidationError):
        cancel_appointment(session, actor=RECEPTION, appointment_id=appointment.id, reason=" ")
    cancelled = cancel_appointment(
        session, actor=RECEPTION, appointment_id=appointment.id, reason="Feels better"
    )
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "Feels better")
    statuses = session.execute(
        select(ReminderMessage.status).where(ReminderMessage.appointment_id == appointment.id)
    ).scalars()
    assert set(statuses) == {"cancelled"}
    assert book(session, clinic, 9, 0, resource=clinic.dr_a, patient=1).status == "booked"
    assert audit_actions(session, appointment.id) == ["appointment.book", "appointment.cancel"]


def test_patients_change_bookings_only_outside_the_cutoff(session, clinic):
    me = portal(clinic.patients[0])
    appointment = book(session, clinic, 9, 0, actor=me)
    too_late = clinic.at(7, 30)  # 90 minutes before
    assert portal_change_refusal(session, actor=me, appointment_id=appointment.id) is None
    assert "2 hours" in portal_change_refusal(session, actor=me, appointment_id=appointment.id, now=too_late)
    with pytest.raises(Conflict) as caught:
        cancel_appointment(session, actor=me, appointment_id=appointment.id, reason="Busy", now=too_late)
    assert "2 hours" in str(caught.value)
    with pytest.raises(Conflict):
        reschedule_appointment(
            session, actor=me, appointment_id=appointment.id, start_at=clinic.at(15), now=too_late
        )
    with pytest.raises(Withheld, match="^That appointment does not exist.$"):  # as if it were not there
        cancel_appointment(
            session, actor=portal(clinic.patients[1]), appointment_id=appointment.id, reason="x y z"
        )
    moved = reschedule_appointment(session, actor=me, appointment_id=appointment.id, start_at=clinic.at(15))
    assert (moved.start_at, moved.reference) == (clinic.at(15), appointment.reference)
    assert get_appointment(session, actor=me, appointment_id=moved.id).appointment_type_id == clinic.gp_visit
    blocks = session.execute(
        select(func.min(ResourceBlock.starts_at)).where(ResourceBlock.appointment_id == appointment.id)
    ).scalar_one()
    assert blocks == clinic.at(15)
    assert book(session, clinic, 9, 0, resource=clinic.dr_a, patient=1).status == "booked"  # old time is free
    cancel_appointment(session, actor=me, appointment_id=appointment.id, reason="Busy that day")
    assert audit_actions(session, appointment.id) == [
        "appointment.book", "appointment.reschedule", "appointment.read", "appointment.cancel",
    ]  # fmt: skip


def test_reschedule_to_an_overlapping_time_of_its_own_is_allowed(session, clinic):
    appointment = book(session, clinic, 9, 0, resource=clinic.dr_a)
    moved = reschedule_appointment(
        session, actor=RECEPTION, appointment_id=appointment.id, start_at=clinic.at(9, 10)
    )
    assert moved.start_at == clinic.at(9, 10)


def test_a_recurring_series_is_booked_whole_or_not_at_all(session, clinic):
    blocker = book(session, clinic, 9, 0, resource=clinic.dr_a, patient=1, vtype=clinic.gp_video)
    blocker_day = clinic.day
    with pytest.raises(RecurrenceConflict) as caught:
        book_recurring(
            session, actor=RECEPTION, patient_id=clinic.patients[0], service_id=clinic.gp,
            appointment_type_id=clinic.gp_video, first_start_at=clinic.at(9, day=blocker_day - timedelta(days=0)),
            count=4, every_days=7, resource_id=clinic.dr_a,
        )  # fmt: skip
    assert caught.value.moments == [clinic.at(9)]
    assert session.execute(select(func.count()).select_from(Appointment)).scalar_one() == 1
    cancel_appointment(session, actor=RECEPTION, appointment_id=blocker.id, reason="Moved away")
    series = book_recurring(
        session, actor=RECEPTION, patient_id=clinic.patients[0], service_id=clinic.gp,
        appointment_type_id=clinic.gp_video, first_start_at=clinic.at(9), count=4, every_days=7,
        resource_id=clinic.dr_a,
    )  # fmt: skip
    assert len({a.series_id for a in series}) == 1
    # Weekly at 09:00 local, whatever DST does in between.
    assert [a.start_at.astimezone(TZ).time() for a in series] == [time(9)] * 4
    assert [a.start_at.astimezone(TZ).date() for a in series] == [
        clinic.day + timedelta(days=7 * n) for n in range(4)
    ]


# --- the waitlist ----------------------------------------------------------------------------------


def test_a_freed_time_is_offered_to_the_first_patient_waiting_and_expires_to_the_next(session, clinic):
    taken = book(session, clinic, 9, 0, resource=clinic.dr_a, patient=0)
    first = join_waitlist(session, actor=RECEPTION, patient_id=clinic.patients[1], service_id=clinic.gp,
                                appointment_type_id=clinic.gp_visit, wanted_date=clinic.day)  # fmt: skip
    second = join_waitlist(session, actor=RECEPTION, patient_id=clinic.patients[2], service_id=clinic.gp,
                                 appointment_type_id=clinic.gp_visit, wanted_date=clinic.day)  # fmt: skip
    with pytest.raises(Conflict):  # free times remain: a patient books one instead
        join_waitlist(session, actor=portal(clinic.patients[3]), service_id=clinic.gp,
                            appointment_type_id=clinic.gp_visit, wanted_date=clinic.day)  # fmt: skip
    now = datetime.now(UTC)
    cancel_appointment(session, actor=RECEPTION, appointment_id=taken.id, reason="Patient unwell", now=now)
    offer = session.execute(select(Appointment).where(Appointment.status == "offered")).scalar_one()
    assert (offer.patient_id, offer.start_at) == (clinic.patients[1], clinic.at(9))
    assert offer.offer_expires_at == now + timedelta(minutes=30)
    first = reload(session, first)
    assert (first.status, first.offered_appointment_id) == ("offered", offer.id)
    notice = session.execute(select(ReminderMessage).where(ReminderMessage.kind == "offer")).scalar_one()
    assert notice.patient_id == clinic.patients[1]
    with pytest.raises(SlotTaken):  # the offer holds the time
        book(session, clinic, 9, 0, resource=clinic.dr_a, patient=4)

    assert expire_offers(session, actor=SYSTEM_ACTOR, now=now + timedelta(minutes=29)) == 0
    assert expire_offers(session, actor=SYSTEM_ACTOR, now=now + timedelta(minutes=31)) == 1
    first = reload(session, first)
    offer = reload(session, offer)
    assert (first.status, offer.status) == ("expired", "cancelled")
    next_offer = session.execute(select(Appointment).where(Appointment.status == "offered")).scalar_one()
    assert next_offer.patient_id == clinic.patients[2]
    with pytest.raises(Withheld, match="^That appointment does not exist.$"):
        accept_offer(session, actor=portal(clinic.patients[1]), appointment_id=next_offer.id)
    accepted = accept_offer(
        session,
        actor=portal(clinic.patients[2]),
        appointment_id=next_offer.id,
        now=now + timedelta(minutes=40),
    )
    assert accepted.status == "booked" and accepted.offer_expires_at is None
    second = reload(session, second)
    assert second.status == "accepted"
    assert audit_actions(session, offer.id) == ["appointment.offer", "appointment.offer_expire"]
    assert audit_actions(session, next_offer.id) == ["appointment.offer", "appointment.offer_accept"]


def test_a_declined_offer_goes_to_the_next_patient_and_a_late_acceptance_is_refused(session, clinic):
    taken = book(session, clinic, 9, 0, resource=clinic.dr_a, patient=0)
    for n in (1, 2):
        join_waitlist(session, actor=RECEPTION, patient_id=clinic.patients[n], service_id=clinic.gp,
                            appointment_type_id=clinic.gp_visit, wanted_date=clinic.day)  # fmt: skip
    now = datetime.now(UTC)
    cancel_appointment(session, actor=RECEPTION, appointment_id=taken.id, reason="Patient unwell", now=now)
    offer = session.execute(select(Appointment).where(Appointment.status == "offered")).scalar_one()
    decline_offer(session, actor=portal(clinic.patients[1]), appointment_id=offer.id, now=now)
    offer2 = session.execute(select(Appointment).where(Appointment.status == "offered")).scalar_one()
    assert offer2.patient_id == clinic.patients[2]
    with pytest.raises(Conflict) as caught:
        accept_offer(session, actor=portal(clinic.patients[2]), appointment_id=offer2.id,
                           now=now + timedelta(minutes=45))  # fmt: skip
    assert "expired" in str(caught.value)
    statuses = session.execute(select(WaitlistEntry.status).order_by(WaitlistEntry.id)).scalars().all()
    assert statuses == ["cancelled", "expired"]
    assert (
        session.execute(
            select(func.count()).select_from(Appointment).where(Appointment.status == "offered")
        ).scalar_one()
        == 0
    )


# --- setup -------------------------------------------------------------------------------------


def test_setup_validates_visit_lengths_and_template_overlaps(session, clinic):
    base = {"service_id": clinic.gp, "code": "X", "name": "Odd"}
    for minutes in (7, 0, 485):
        with pytest.raises(ValidationError) as caught:
            save_appointment_type(
                session, actor=SYSTEM_ACTOR, data={**base, "code": "XX", "duration_minutes": minutes}
            )
        assert caught.value.field == "duration_minutes"
    vtype = save_appointment_type(
        session, actor=SYSTEM_ACTOR, data={**base, "code": "xx", "duration_minutes": 45, "mode": "virtual", "needs_room": True}
    )  # fmt: skip
    assert (vtype.code, vtype.needs_room) == ("XX", False)  # a virtual visit never needs a room
    rule = {
        "resource_id": clinic.room,
        "weekday": 0,
        "start_time": "08:00",
        "end_time": "12:00",
        "valid_from": "2026-01-01",
    }
    add_availability_rule(session, actor=SYSTEM_ACTOR, data=rule)
    with pytest.raises(Conflict):
        add_availability_rule(
            session, actor=SYSTEM_ACTOR, data={**rule, "start_time": "11:00", "end_time": "13:00"}
        )
    with pytest.raises(ValidationError) as caught:
        add_availability_rule(
            session, actor=SYSTEM_ACTOR, data={**rule, "start_time": "14:00", "end_time": "13:00"}
        )
    assert caught.value.field == "end_time"
    with pytest.raises(ValidationError):
        add_availability_rule(
            session, actor=SYSTEM_ACTOR, data={**rule, "start_time": "13:02", "end_time": "14:00"}
        )
    add_availability_rule(
        session, actor=SYSTEM_ACTOR, data={**rule, "start_time": "12:00", "end_time": "13:00"}
    )
    with pytest.raises(Forbidden):
        add_availability_rule(session, actor=RECEPTION, data=rule)
    service = save_service(
        session, actor=SYSTEM_ACTOR, data={"code": "derm", "name": "Dermatology", "department_id": clinic.gen,
                                           "self_bookable": True},
    )  # fmt: skip
    assert service.code == "DERM" and service.self_bookable
    with pytest.raises(ValidationError):
        add_availability_exception(
            session, actor=SYSTEM_ACTOR,
            data={"kind": "leave", "starts_at": clinic.at(8), "ends_at": clinic.at(9), "reason": "Sick"},
        )  # fmt: skip
    actions = audit_actions(session)
    assert actions.count("schedule.rule_add") == 2 and "schedule.service_save" in actions


# --- the demo seed ----------------------------------------------------------------------------------


def test_the_demo_seed_is_a_lived_in_schedule_without_double_bookings(session):
    from sqlalchemy import text

    from hms_app.seed.registry import run_seeders
    from tests.services.test_scheduling_concurrency import OVERLAPS_SQL

    as_of = date.today() + timedelta(days=1)
    while as_of.weekday() != 2 or (as_of.month, as_of.day) in ((1, 1), (7, 4), (12, 25)):
        as_of += timedelta(days=1)  # a clinic day: the next Wednesday that is no holiday
    run_seeders(
        session, patients=120, seed=7, as_of=as_of, only=["departments", "staff", "patients", "scheduling"]
    )
    assert session.execute(text(OVERLAPS_SQL)).scalar_one() == 0
    statuses = dict(
        session.execute(select(Appointment.status, func.count()).group_by(Appointment.status)).all()
    )
    assert {"completed", "no_show", "cancelled", "booked"} <= set(statuses)
    assert 0.03 < statuses["no_show"] / (statuses["no_show"] + statuses["completed"]) < 0.2
    today = list_day(session, actor=NURSE, day=as_of)
    assert today.total > 20
    assert session.execute(select(func.count()).select_from(WaitlistEntry)).scalar_one() > 0
    assert session.execute(select(func.count()).select_from(ReminderMessage)).scalar_one() > 0
    grey = session.execute(select(Resource).where(Resource.name == "Dr Meredith Grey")).scalar_one()
    assert grey.user_id is not None
    gp = session.execute(select(HealthcareService).where(HealthcareService.code == "GP")).scalar_one()
    assert gp.self_bookable
    video = session.execute(
        select(AppointmentType).where(AppointmentType.service_id == gp.id, AppointmentType.mode == "virtual")
    ).scalar_one()
    slots = find_free_slots(
        session, actor=NURSE, service_id=gp.id, appointment_type_id=video.id, day=as_of,
        end_day=as_of + timedelta(days=14), limit=5,
    )  # fmt: skip
    assert slots and slots[0].start_at > datetime.now(UTC)
    # Booking a seeded free slot works (the counters and the blocks agree with the service).
    patient_id = session.execute(select(Patient.id).order_by(Patient.id.desc()).limit(1)).scalar_one()
    booked = book_appointment(
        session, actor=RECEPTION, patient_id=patient_id, service_id=gp.id, appointment_type_id=video.id,
        start_at=slots[0].start_at, resource_id=slots[0].provider_id,
    )  # fmt: skip
    assert booked.status == "booked"


def test_the_database_itself_refuses_a_second_hold_on_the_same_resource_step(session, clinic):
    """The double-booking guard is the unique (resource, start) of resource_block: a row written
    past the service (a second worker, a bug) is refused by the database on both engines."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    first = book(session, clinic, 9, 0, resource=clinic.dr_a)
    second = book(session, clinic, 10, 0, resource=clinic.dr_a, patient=1)
    held = session.execute(
        select(ResourceBlock.resource_id, ResourceBlock.starts_at).where(
            ResourceBlock.appointment_id == first.id
        )
    ).first()
    with pytest.raises(IntegrityError):
        session.execute(
            insert(ResourceBlock).values(
                resource_id=held.resource_id, starts_at=held.starts_at, appointment_id=second.id
            )
        )
    session.rollback()
    holders = session.execute(
        select(func.count()).where(
            ResourceBlock.resource_id == held.resource_id, ResourceBlock.starts_at == held.starts_at
        )
    ).scalar_one()
    assert holders == 1
