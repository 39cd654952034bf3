"""Never two patients in one bed, never one patient in two beds: the database decides when many
nurses press "Admit" at the same moment. Each attempt runs in its own thread with its own
session and connection, released together by a barrier."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from hms_app import db as hms_db
from hms_app.errors import Conflict
from hms_app.models.wards import Admission, Bed, BedAssignment, Ward
from hms_app.services import patients
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.wards.admissions import admit_patient

ATTEMPTS = 20


@pytest.fixture
def ward_with_patients(session):
    ward = Ward(name="Medical")
    session.add(ward)
    session.flush()
    beds = []
    for number in range(1, ATTEMPTS + 1):
        bed = Bed(ward_id=ward.id, label=f"M-{number:02d}")
        session.add(bed)
        session.flush()
        beds.append(bed.id)
    people = [
        patients.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={"given_name": "Pat", "family_name": "Rush", "sex": "male", "birth_date": "1970-01-01"},
            duplicate_reason="Different people: a test ward of namesakes",
        ).id
        for n in range(ATTEMPTS)
    ]
    session.commit()
    return beds, people


def _race(configured_db: str, attempts: list[dict]) -> tuple[list[int], list[str], list[BaseException]]:
    barrier = threading.Barrier(len(attempts))
    won: list[int] = []
    refused: list[str] = []
    crashed: list[BaseException] = []
    lock = threading.Lock()

    def attempt(kwargs: dict) -> None:
        barrier.wait()
        try:
            with hms_db.session_scope(configured_db) as s:
                admission = admit_patient(s, actor=SYSTEM_ACTOR, reason="Chest pain", **kwargs)
            with lock:
                won.append(admission.id)
        except Conflict as error:
            with lock:
                refused.append(str(error))
        except BaseException as error:  # noqa: BLE001 - anything else is the failure under test
            with lock:
                crashed.append(error)

    threads = [threading.Thread(target=attempt, args=(kwargs,)) for kwargs in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return won, refused, crashed


def test_twenty_simultaneous_admissions_to_one_bed_admit_exactly_one_patient(
    configured_db, session, ward_with_patients
):
    beds, people = ward_with_patients
    won, refused, crashed = _race(configured_db, [{"patient_id": p, "bed_id": beds[0]} for p in people])
    assert crashed == []
    assert len(won) == 1 and len(refused) == ATTEMPTS - 1
    assert set(refused) == {"Bed M-01 on Medical has just been given to another patient. Choose another bed."}
    session.expire_all()
    assert session.execute(select(func.count()).select_from(Admission)).scalar_one() == 1
    assert (
        session.execute(
            select(func.count()).select_from(BedAssignment).where(BedAssignment.bed_id == beds[0])
        ).scalar_one()
        == 1
    )
    assert session.get(Bed, beds[0]).status == "occupied"
    # The losers left nothing behind: no stray encounter, no other bed touched.
    assert (
        session.execute(select(func.count()).select_from(Bed).where(Bed.status != "free")).scalar_one() == 1
    )


def test_one_patient_admitted_to_twenty_beds_at_once_gets_exactly_one(
    configured_db, session, ward_with_patients
):
    beds, people = ward_with_patients
    won, refused, crashed = _race(configured_db, [{"patient_id": people[0], "bed_id": b} for b in beds])
    assert crashed == []
    assert len(won) == 1 and len(refused) == ATTEMPTS - 1
    assert all("already admitted" in message for message in refused), refused
    session.expire_all()
    assert session.execute(select(func.count()).select_from(Admission)).scalar_one() == 1
    assert (
        session.execute(select(func.count()).select_from(Bed).where(Bed.status == "occupied")).scalar_one()
        == 1
    )
