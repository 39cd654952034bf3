"""The laboratory test world (tests/services/lab_world.py) with staff who can sign in, for driving
the laboratory screens' states as browser tabs would: two technicians (one enters, the other
verifies), a ward nurse (reads results, enters none), a receptionist (no laboratory access at all)
and an administrator (keeps the catalogue, sees no patient's results)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher

from hms_app import db as hms_db
from hms_app.services import accounts, live, security
from hms_app.services.laboratory.orders import place_order
from hms_app.services.laboratory.specimens import collect_specimen, receive_specimen
from hms_app.services.permissions import SYSTEM_ACTOR
from tests.services.lab_world import LabWorld, build_lab_world
from tests.state.test_patients_state import PASSWORD

STAFF = (
    ("lara", "Lara Lab", "lab_technician"),
    ("leo", "Leo Lab", "lab_technician"),
    ("nina", "Nina Nurse", "nurse"),
    ("rita", "Rita Reception", "receptionist"),
    ("ada", "Ada Admin", "admin"),
)


@dataclass(frozen=True)
class Placed:
    request_id: int
    specimen_ids: list[int]
    accessions: list[str]


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    """Quick password hashes; change notices go nowhere (the tests call ``refresh`` themselves)."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(live, "publish", lambda *args, **kwargs: None)


def build_desk(session) -> LabWorld:
    world = build_lab_world(session)
    accounts.ensure_roles(session)
    for username, name, role in STAFF:
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=name,
            password=PASSWORD,
            roles=[role],
        )
    session.commit()
    return world


def order(
    world: LabWorld, patient_id: int, *codes: str, priority: str = "routine", collect: bool = True
) -> Placed:
    """A physician's order of ``codes`` for a patient, collected on the ward unless told not to."""
    with hms_db.session_scope() as s:
        placed = place_order(
            s,
            actor=world.physician,
            patient_id=patient_id,
            test_ids=[world.test(code) for code in codes],
            priority=priority,
            confirm_duplicates=True,
        )
        if collect:
            for specimen_id in placed.specimen_ids:
                collect_specimen(s, actor=world.nurse, specimen_id=specimen_id)
    return Placed(placed.request_id, placed.specimen_ids, placed.accessions)


def receive(world: LabWorld, placed: Placed) -> None:
    with hms_db.session_scope() as s:
        for accession in placed.accessions:
            receive_specimen(s, actor=world.tech, scan=accession)
