"""Wards and beds: admit, transfer, discharge, cleaning and out of service, the bed board's
figures, the audit trail, the chart's inpatient encounter and the live notices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.emr import Encounter
from hms_app.models.organization import Department
from hms_app.models.security import AuditEvent
from hms_app.models.wards import Admission, Bed, BedAssignment, Ward
from hms_app.services import live, patients
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.services.wards.admissions import (
    admission_moves,
    admit_patient,
    discharge_patient,
    transfer_patient,
)
from hms_app.services.wards.beds import mark_bed_clean, return_bed_to_service, set_bed_out_of_service
from hms_app.services.wards.board import bed_board, free_beds, length_of_stay_label, list_wards

NURSE = Actor(
    user_id=0,
    username="nina",
    roles=frozenset({"nurse"}),
    permissions=frozenset({"patient.read", "ward.manage"}),
)
PHYSICIAN = Actor(
    user_id=0, username="doc", roles=frozenset({"physician"}), permissions=frozenset({"patient.read"})
)


@pytest.fixture
def published(monkeypatch):
    """The live notices services send, in order."""
    sent: list[tuple[str, str | None]] = []
    monkeypatch.setattr(
        live, "publish", lambda topic, key=None: sent.append((topic, None if key is None else str(key)))
    )
    return sent


@pytest.fixture
def hospital(session):
    """Two wards (three and two beds) and three registered patients."""
    department = Department(code="GEN", name="General Medicine")
    session.add(department)
    session.flush()
    medical = Ward(name="Medical", department_id=department.id)
    surgical = Ward(name="Surgical")
    session.add_all([medical, surgical])
    session.flush()
    beds = {}
    for ward, labels in ((medical, ("M-01", "M-02", "M-03")), (surgical, ("S-01", "S-02"))):
        for label in labels:
            bed = Bed(ward_id=ward.id, label=label)
            session.add(bed)
            session.flush()
            beds[label] = bed.id
    people = {}
    for given, family, born in (
        ("Ada", "Lovelace", "1950-12-10"),
        ("Alan", "Turing", "1960-06-23"),
        ("Grace", "Hopper", "1946-12-09"),
    ):
        p = patients.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={"given_name": given, "family_name": family, "sex": "female", "birth_date": born},
        )
        people[given] = p.id
    session.commit()
    return {"medical": medical.id, "surgical": surgical.id, "beds": beds, "patients": people}


def _bed(session, bed_id) -> Bed:
    session.expire_all()
    return session.get(Bed, bed_id)


def _actions(session, patient_id=None) -> list[str]:
    query = select(AuditEvent.action).order_by(AuditEvent.id)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    return list(session.execute(query).scalars())


def test_admission_occupies_the_bed_opens_an_inpatient_encounter_and_shows_on_the_board(
    session, hospital, published
):
    ada, bed_id = hospital["patients"]["Ada"], hospital["beds"]["M-02"]
    admission = admit_patient(
        session, actor=NURSE, patient_id=ada, bed_id=bed_id, reason="  Community-acquired   pneumonia "
    )
    assert (admission.status, admission.reason, admission.admitted_by) == (
        "active",
        "Community-acquired pneumonia",
        "nina",
    )
    assert _bed(session, bed_id).status == "occupied"
    encounter = session.get(Encounter, admission.encounter_id)
    assert (encounter.encounter_class, encounter.status, encounter.patient_id) == (
        "inpatient",
        "in-progress",
        ada,
    )
    assert "ward.admit" in _actions(session, ada)
    assert published == [(live.BEDS, str(hospital["medical"]))]

    board = bed_board(session, actor=PHYSICIAN, ward_id=hospital["medical"])
    assert [(b.label, b.status, b.patient_name) for b in board.beds] == [
        ("M-01", "free", ""),
        ("M-02", "occupied", "Ada Lovelace"),
        ("M-03", "free", ""),
    ]
    assert (board.ward.beds, board.ward.occupied, board.ward.free, board.ward.occupancy_percent) == (
        3,
        1,
        2,
        33,
    )
    assert board.admitted_today == 1 and board.discharged_today == 0
    # Opening the board shows names, so it is audited; a live refresh of the open board is not.
    assert _actions(session).count("ward.board") == 1
    bed_board(session, actor=PHYSICIAN, ward_id=hospital["medical"], audit=False)
    assert _actions(session).count("ward.board") == 1


def test_length_of_stay_counts_whole_hours_since_admission(session, hospital):
    admission = admit_patient(
        session,
        actor=NURSE,
        patient_id=hospital["patients"]["Ada"],
        bed_id=hospital["beds"]["M-01"],
        reason="Sepsis",
    )
    session.execute(
        update(Admission)
        .where(Admission.id == admission.id)
        .values(admitted_at=admission.admitted_at - timedelta(days=3, hours=5, minutes=20))
    )
    session.commit()
    tile = bed_board(session, actor=NURSE, ward_id=hospital["medical"]).beds[0]
    assert tile.los_hours == 77
    assert length_of_stay_label(tile.los_hours) == "3 d 5 h"
    assert length_of_stay_label(5) == "5 h"
    assert length_of_stay_label(48) == "2 d"


def test_a_bed_takes_one_patient_and_a_patient_one_bed(session, hospital):
    ada, alan = hospital["patients"]["Ada"], hospital["patients"]["Alan"]
    admit_patient(session, actor=NURSE, patient_id=ada, bed_id=hospital["beds"]["M-01"], reason="Sepsis")
    with pytest.raises(Conflict, match="M-01 on Medical has just been given to another patient"):
        admit_patient(session, actor=NURSE, patient_id=alan, bed_id=hospital["beds"]["M-01"], reason="Fall")
    with pytest.raises(Conflict, match=r"Ada Lovelace is already admitted \(Medical, bed M-01\)"):
        admit_patient(session, actor=NURSE, patient_id=ada, bed_id=hospital["beds"]["M-02"], reason="Again")
    assert session.execute(select(Admission.id).where(Admission.patient_id == alan)).first() is None
    assert _bed(session, hospital["beds"]["M-02"]).status == "free"


def test_transfer_moves_the_patient_keeps_the_history_and_sends_the_old_bed_to_cleaning(
    session, hospital, published
):
    ada = hospital["patients"]["Ada"]
    admission = admit_patient(
        session, actor=NURSE, patient_id=ada, bed_id=hospital["beds"]["M-01"], reason="Hip fracture"
    )
    published.clear()
    transfer_patient(
        session, actor=NURSE, admission_id=admission.id, bed_id=hospital["beds"]["S-02"], reason="for surgery"
    )
    assert _bed(session, hospital["beds"]["M-01"]).status == "cleaning"
    assert _bed(session, hospital["beds"]["S-02"]).status == "occupied"
    session.expire_all()
    assert session.get(Admission, admission.id).ward_id == hospital["surgical"]
    moves = admission_moves(session, actor=NURSE, admission_id=admission.id)
    assert [(m.ward, m.bed, m.to_at is None) for m in moves] == [
        ("Medical", "M-01", False),
        ("Surgical", "S-02", True),
    ]
    assert moves[0].to_at == moves[1].from_at
    assert sorted(published) == sorted(
        [(live.BEDS, str(hospital["medical"])), (live.BEDS, str(hospital["surgical"]))]
    )
    detail = session.execute(
        select(AuditEvent.detail).where(AuditEvent.action == "ward.transfer")
    ).scalar_one()
    assert detail == "from Medical bed M-01 to Surgical bed S-02: for surgery"
    # The bed being cleaned cannot take the next patient until it is marked clean.
    with pytest.raises(Conflict, match="being cleaned"):
        admit_patient(
            session,
            actor=NURSE,
            patient_id=hospital["patients"]["Alan"],
            bed_id=hospital["beds"]["M-01"],
            reason="Fall",
        )
    with pytest.raises(ValidationError, match="already in this bed"):
        transfer_patient(session, actor=NURSE, admission_id=admission.id, bed_id=hospital["beds"]["S-02"])


def test_discharge_ends_the_stay_and_the_encounter_and_the_bed_is_cleaned_before_reuse(
    session, hospital, published
):
    ada, alan = hospital["patients"]["Ada"], hospital["patients"]["Alan"]
    bed_id = hospital["beds"]["M-03"]
    admission = admit_patient(session, actor=NURSE, patient_id=ada, bed_id=bed_id, reason="Asthma attack")
    with pytest.raises(ValidationError) as caught:
        discharge_patient(session, actor=NURSE, admission_id=admission.id, disposition="moon")
    assert caught.value.field == "disposition"
    discharge_patient(session, actor=NURSE, admission_id=admission.id, disposition="home", note="well")
    session.expire_all()
    stay = session.get(Admission, admission.id)
    assert (stay.status, stay.discharge_disposition, stay.discharged_by) == ("discharged", "home", "nina")
    assert stay.discharged_at is not None
    assert session.get(Encounter, stay.encounter_id).status == "finished"
    assert _bed(session, bed_id).status == "cleaning"
    open_rows = session.execute(select(BedAssignment).where(BedAssignment.to_at.is_(None))).all()
    assert open_rows == []
    with pytest.raises(Conflict, match="already been discharged"):
        discharge_patient(session, actor=NURSE, admission_id=admission.id, disposition="home")
    board = bed_board(session, actor=NURSE, ward_id=hospital["medical"])
    assert (board.ward.cleaning, board.discharged_today) == (1, 1)

    mark_bed_clean(session, actor=NURSE, bed_id=bed_id)
    assert _bed(session, bed_id).status == "free"
    with pytest.raises(Conflict, match="already clean"):
        mark_bed_clean(session, actor=NURSE, bed_id=bed_id)
    # Discharged patients can be admitted again, to the bed now clean.
    admit_patient(session, actor=NURSE, patient_id=alan, bed_id=bed_id, reason="Fall")
    admit_patient(session, actor=NURSE, patient_id=ada, bed_id=hospital["beds"]["M-01"], reason="Relapse")
    assert "ward.discharge" in _actions(session, ada) and "bed.clean" in _actions(session)


def test_out_of_service_needs_an_empty_bed_and_a_reason_and_counts_apart(session, hospital):
    bed_id = hospital["beds"]["S-01"]
    with pytest.raises(ValidationError):
        set_bed_out_of_service(session, actor=NURSE, bed_id=bed_id, reason="")
    set_bed_out_of_service(session, actor=NURSE, bed_id=bed_id, reason="Broken motor")
    bed = _bed(session, bed_id)
    assert (bed.status, bed.status_note) == ("out_of_service", "Broken motor")
    with pytest.raises(Conflict, match="out of service"):
        admit_patient(
            session, actor=NURSE, patient_id=hospital["patients"]["Ada"], bed_id=bed_id, reason="Appendicitis"
        )
    board = bed_board(session, actor=NURSE, ward_id=hospital["surgical"])
    assert (board.ward.out_of_service, board.ward.free, board.ward.occupancy_percent) == (1, 1, 0)
    return_bed_to_service(session, actor=NURSE, bed_id=bed_id)
    assert _bed(session, bed_id).status == "cleaning"

    admit_patient(
        session,
        actor=NURSE,
        patient_id=hospital["patients"]["Ada"],
        bed_id=hospital["beds"]["S-02"],
        reason="x-ray",
    )
    with pytest.raises(Conflict, match="Transfer the patient first"):
        set_bed_out_of_service(session, actor=NURSE, bed_id=hospital["beds"]["S-02"], reason="Leaking")


def test_only_ward_staff_change_beds_and_bad_input_is_refused(session, hospital):
    ada, bed_id = hospital["patients"]["Ada"], hospital["beds"]["M-01"]
    with pytest.raises(Forbidden):
        admit_patient(session, actor=PHYSICIAN, patient_id=ada, bed_id=bed_id, reason="Sepsis")
    with pytest.raises(Forbidden):
        mark_bed_clean(session, actor=PHYSICIAN, bed_id=bed_id)
    with pytest.raises(ValidationError) as caught:
        admit_patient(session, actor=NURSE, patient_id=ada, bed_id=bed_id, reason="x")
    assert caught.value.field == "reason"
    with pytest.raises(NotFound):
        admit_patient(session, actor=NURSE, patient_id=ada, bed_id=99999, reason="Sepsis")
    with pytest.raises(NotFound):
        admit_patient(session, actor=NURSE, patient_id=99999, bed_id=bed_id, reason="Sepsis")
    with pytest.raises(NotFound):
        bed_board(session, actor=NURSE, ward_id=99999)
    assert _bed(session, bed_id).status == "free"
    assert session.execute(select(Admission.id)).first() is None


def test_ward_list_counts_beds_by_status_and_free_beds_lists_every_ward(session, hospital):
    admit_patient(
        session,
        actor=NURSE,
        patient_id=hospital["patients"]["Ada"],
        bed_id=hospital["beds"]["S-01"],
        reason="Hernia",
    )
    summary = {w.name: (w.beds, w.occupied, w.free) for w in list_wards(session, actor=PHYSICIAN)}
    assert summary == {"Medical": (3, 0, 3), "Surgical": (2, 1, 1)}
    free = [(b.ward, b.label) for b in free_beds(session, actor=NURSE)]
    assert free == [("Medical", "M-01"), ("Medical", "M-02"), ("Medical", "M-03"), ("Surgical", "S-02")]


def test_the_demo_hospital_has_four_wards_seven_in_ten_beds_taken_and_consistent_stays(session):
    from datetime import date

    from hms_app.seed.registry import run_seeders

    run_seeders(
        session, patients=300, seed=7, as_of=date(2026, 3, 2), only=["departments", "patients", "wards"]
    )
    summaries = list_wards(session, actor=SYSTEM_ACTOR)
    assert [w.name for w in summaries] == ["Intensive Care", "Medical Ward", "Paediatrics", "Surgical Ward"]
    beds = sum(w.beds for w in summaries)
    occupied = sum(w.occupied for w in summaries)
    assert beds == 60 and 0.6 <= occupied / beds <= 0.8
    assert sum(w.cleaning for w in summaries) >= 2 and sum(w.out_of_service for w in summaries) == 1
    # Every occupied bed holds exactly one open stay, and every open stay is in an occupied bed.
    open_rows = session.execute(
        select(Bed.status)
        .join(BedAssignment, BedAssignment.bed_id == Bed.id)
        .where(BedAssignment.to_at.is_(None))
    ).all()
    assert len(open_rows) == occupied and {status for (status,) in open_rows} == {"occupied"}
    # Children are on the children's ward; the stays before today ended before the next began.
    paediatrics = next(w for w in summaries if w.name == "Paediatrics")
    board = bed_board(session, actor=SYSTEM_ACTOR, ward_id=paediatrics.id, audit=False)
    assert all(tile.age is not None and tile.age < 18 for tile in board.beds if tile.patient_id)
    history = session.execute(
        select(BedAssignment.bed_id, BedAssignment.from_at, BedAssignment.to_at).order_by(
            BedAssignment.bed_id, BedAssignment.from_at
        )
    ).all()
    for (bed_a, _start_a, end_a), (bed_b, start_b, _end_b) in zip(history, history[1:], strict=False):
        if bed_a == bed_b:
            assert end_a is not None and end_a <= start_b
