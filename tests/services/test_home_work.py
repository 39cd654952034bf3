"""Each clinical role's home screen lists its day's work: the front desk its arrivals, waiting room
and waitlist; a physician their patients, unsigned notes and alerts; a nurse the ward's NEWS2
alerts and the observations that are due. Managers get none, patients are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hms_app.clock import utcnow
from hms_app.errors import Forbidden
from hms_app.models.laboratory import Specimen
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services.emr.encounters import start_encounter
from hms_app.services.emr.notes import save_note
from hms_app.services.home_work import todays_work
from hms_app.services.permissions import Actor
from hms_app.services.wards.admissions import admit_patient
from tests.services.test_cds import CALM_SET, _vitals
from tests.services.test_clinic_boards import clinic  # noqa: F401  (a fixture)
from tests.services.test_wards import hospital  # noqa: F401  (a fixture)

HIGH_SET = {**CALM_SET, "respiratory_rate": 25, "oxygen_flow": 2, "spo2": 94, "systolic_bp": 100}


def _actor(user_id, username, roles, permissions) -> Actor:
    return Actor(
        user_id=user_id, username=username, roles=frozenset(roles), permissions=frozenset(permissions)
    )


RECEPTION = _actor(0, "rita", {"receptionist"}, {"patient.read", "appointment.read", "appointment.book"})
MANAGER = _actor(0, "mona", {"manager"}, {"analytics.read"})


def _by_key(lists):
    return {work.key: work for work in lists}


def test_the_front_desk_sees_who_arrives_next_who_waits_and_the_waitlist(session, clinic):  # noqa: F811
    gen = clinic.gen
    clinic.visit(gen, "booked", start=timedelta(hours=1), patient=0)
    clinic.visit(gen, "booked", start=timedelta(minutes=-30), patient=1)  # late
    clinic.visit(gen, "arrived", start=timedelta(minutes=-50), patient=2, arrived=timedelta(minutes=-40))
    clinic.visit(gen, "completed", start=timedelta(hours=-2), patient=3, done=timedelta(hours=-1))
    work = _by_key(todays_work(session, actor=RECEPTION, now=clinic.now))
    assert list(work) == ["arrivals", "waiting", "waitlist"]
    arrivals = work["arrivals"]
    assert arrivals.count == 2
    assert [i.title for i in arrivals.items] == ["Hopper, Grace", "Lovelace, Ada"]  # by time
    assert arrivals.items[0].tone == "amber" and "late" in arrivals.items[0].detail
    assert "Dr Grey" in arrivals.items[1].detail and arrivals.items[1].link == f"/patients/{clinic.people[0]}"
    waiting = work["waiting"]
    assert waiting.count == 1 and waiting.items[0].title == "Jackson, Mary"
    assert "waiting 40 minutes" in waiting.items[0].detail and waiting.items[0].tone == "amber"
    assert work["waitlist"].count == 0 and work["waitlist"].empty
    [read] = session.execute(select(AuditEvent).where(AuditEvent.action == "home.worklists")).scalars().all()
    assert read.username == "rita" and "arrivals: 2" in read.detail


def test_a_physician_sees_their_own_patients_unsigned_notes_and_alerts(session, clinic):  # noqa: F811
    doctor = AppUser(username="dr.grey", display_name="Dr Grey", password_hash="x")
    session.add(doctor)
    session.flush()
    grey = session.get(type(clinic.room), clinic.providers[clinic.gen.id])
    grey.user_id = doctor.id
    session.commit()
    me = _actor(doctor.id, "dr.grey", {"physician"}, {"patient.read", "appointment.read", "emr.write"})
    clinic.visit(
        clinic.gen, "arrived", start=timedelta(minutes=-10), patient=0, arrived=timedelta(minutes=-15)
    )
    clinic.visit(clinic.gen, "booked", start=timedelta(hours=2), patient=1)
    clinic.visit(clinic.card, "booked", start=timedelta(hours=1), patient=2)  # Dr Heart's patient
    _vitals(session, clinic.people[1], HIGH_SET, utcnow() - timedelta(minutes=5))
    _vitals(session, clinic.people[2], HIGH_SET, utcnow() - timedelta(minutes=5))  # not mine
    encounter = start_encounter(session, actor=me, patient_id=clinic.people[0], encounter_class="outpatient")
    save_note(session, actor=me, encounter_id=encounter.id, subjective="Cough for a week")
    work = _by_key(todays_work(session, actor=me, now=clinic.now))
    assert list(work) == ["my_patients", "unsigned_notes", "my_alerts"]
    assert [i.title for i in work["my_patients"].items] == ["Lovelace, Ada", "Hopper, Grace"]
    assert work["my_patients"].items[0].detail.endswith("Waiting")
    assert work["unsigned_notes"].count == 1 and work["unsigned_notes"].items[0].title == "Lovelace, Ada"
    alerts = work["my_alerts"]
    assert [i.title for i in alerts.items] == ["Hopper, Grace"] and "NEWS2 8" in alerts.items[0].detail


def test_a_nurse_sees_the_wards_alerts_and_whose_observations_are_due(session, hospital):  # noqa: F811
    nurse = AppUser(username="nina", display_name="Nina", password_hash="x")
    session.add(nurse)
    session.commit()
    me = _actor(nurse.id, "nina", {"nurse"}, {"patient.read", "emr.write", "ward.manage"})
    people, beds = hospital["patients"], hospital["beds"]
    for name, bed in (("Ada", "M-01"), ("Alan", "M-02"), ("Grace", "S-01")):
        admit_patient(session, actor=me, patient_id=people[name], bed_id=beds[bed], reason="Pneumonia")
    now = utcnow()
    _vitals(session, people["Ada"], HIGH_SET, now - timedelta(minutes=5))  # NEWS2 8: alert, due in 15 min
    _vitals(session, people["Alan"], CALM_SET, now - timedelta(hours=13))  # NEWS2 0, 12-hourly: overdue
    work = _by_key(todays_work(session, actor=me, now=now))
    assert list(work) == ["ward_alerts", "observations_due"]
    [alert] = work["ward_alerts"].items
    assert alert.title == "Lovelace, Ada" and "Medical · bed M-01" in alert.detail and alert.tone == "red"
    due = {i.title: i for i in work["observations_due"].items}
    assert set(due) == {"Turing, Alan", "Hopper, Grace"}  # Ada was observed 5 minutes ago
    assert "NEWS2 0: observations due" in due["Turing, Alan"].detail
    assert "no NEWS2 set yet" in due["Hopper, Grace"].detail


def test_managers_get_no_worklists_and_patients_are_refused(session):
    assert todays_work(session, actor=MANAGER) == []
    assert not session.execute(select(AuditEvent).where(AuditEvent.action == "home.worklists")).first()
    patient = Actor(
        user_id=9,
        username="pat",
        roles=frozenset({"patient"}),
        permissions=frozenset({"portal.self"}),
        patient_id=1,
    )
    with pytest.raises(Forbidden):
        todays_work(session, actor=patient)


def test_the_ordering_clinician_hears_of_a_rejected_specimen_until_it_is_taken_again(session):
    """A rejection tells the clinician who ordered: their home lists the specimen to take again, with
    the reason, until the new sample is collected; another physician's home does not."""
    from hms_app.services.laboratory.specimens import collect_specimen, reject_specimen
    from tests.services.lab_world import build_lab_world, received_order, role_actor

    world = build_lab_world(session)
    _, accession = received_order(session, world, world.man, "2823-3")  # potassium
    specimen = session.execute(select(Specimen).where(Specimen.accession == accession)).scalar_one()
    assert _by_key(todays_work(session, actor=world.physician))["lab_recollect"].count == 0

    new = reject_specimen(session, actor=world.tech, specimen_id=specimen.id, reason="haemolysed")
    work = _by_key(todays_work(session, actor=world.physician))["lab_recollect"]
    assert work.count == 1
    (item,) = work.items
    assert item.link == f"/patients/{world.man}" and item.tone == "red"
    assert item.detail == f"Haemolysed: {accession} rejected, take {new.accession}"
    other = role_actor(session, "dr.other", "physician", None)
    assert _by_key(todays_work(session, actor=other))["lab_recollect"].count == 0

    collect_specimen(session, actor=world.nurse, specimen_id=new.id)
    assert _by_key(todays_work(session, actor=world.physician))["lab_recollect"].count == 0
