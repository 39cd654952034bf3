"""A small hospital for the laboratory tests: the seeded catalogue (with billing's lab services),
the staff of every role that touches the laboratory (two technicians, so that one can verify what
the other entered), and patients of both sexes and several ages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from hms_app.clock import local_today
from hms_app.models.organization import Department
from hms_app.models.security import AppUser
from hms_app.seed.laboratory import load_catalogue
from hms_app.services import patients
from hms_app.services.laboratory.orders import place_order
from hms_app.services.laboratory.results import enter_result
from hms_app.services.laboratory.specimens import collect_specimen, receive_specimen
from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor


@dataclass(frozen=True)
class LabWorld:
    codes: dict[str, int]  # LOINC code -> test id
    man: int  # adult male, 50
    woman: int  # adult female, 40
    child: int  # 5 years old
    physician: Actor
    nurse: Actor
    tech: Actor
    second_tech: Actor
    receptionist: Actor
    manager: Actor
    admin: Actor

    def test(self, code: str) -> int:
        return self.codes[code]


def role_actor(session, username: str, role: str, department_id: int | None) -> Actor:
    user = AppUser(
        username=username, display_name=username.title(), password_hash="x", department_id=department_id
    )
    session.add(user)
    session.flush()
    return Actor(
        user.id, username, username.title(), roles=frozenset({role}), permissions=DEFAULT_GRANTS[role]
    )


def portal_actor(patient_id: int) -> Actor:
    return Actor(
        user_id=9000 + patient_id,
        username=f"portal{patient_id}",
        roles=frozenset({"patient"}),
        permissions=frozenset({"portal.self"}),
        patient_id=patient_id,
    )


def _patient(session, given: str, family: str, sex: str, birth: date) -> int:
    return patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": given, "family_name": family, "sex": sex, "birth_date": birth.isoformat()},
        duplicate_reason="laboratory tests",
    ).id


def years_ago(years: int) -> date:
    today = local_today()
    return (
        today.replace(year=today.year - years)
        if not (today.month == 2 and today.day == 29)
        else (today - timedelta(days=1)).replace(year=today.year - years)
    )


def build_lab_world(session) -> LabWorld:
    lab = Department(code="LAB", name="Laboratory", kind="diagnostic")
    gen = Department(code="GEN", name="General Medicine")
    session.add_all([lab, gen])
    session.flush()
    codes = load_catalogue(session)
    world = LabWorld(
        codes=codes,
        man=_patient(session, "Adam", "Mann", "male", years_ago(50)),
        woman=_patient(session, "Eve", "Frau", "female", years_ago(40)),
        child=_patient(session, "Kim", "Kind", "female", years_ago(5)),
        physician=role_actor(session, "dr.house", "physician", gen.id),
        nurse=role_actor(session, "nurse.ward", "nurse", gen.id),
        tech=role_actor(session, "tech.one", "lab_technician", lab.id),
        second_tech=role_actor(session, "tech.two", "lab_technician", lab.id),
        receptionist=role_actor(session, "desk", "receptionist", gen.id),
        manager=role_actor(session, "boss", "manager", None),
        admin=role_actor(session, "root", "admin", None),
    )
    session.commit()
    return world


def received_order(session, world: LabWorld, patient_id: int, code: str, **options) -> tuple[int, str]:
    """Order one test (or panel) and take its specimen(s) to the laboratory: (first order id, accession)."""
    from hms_app.models.laboratory import LabOrder

    placed = place_order(
        session,
        actor=world.physician,
        patient_id=patient_id,
        test_ids=[world.test(code)],
        confirm_duplicates=True,
        **options,
    )
    for specimen_id, accession in zip(placed.specimen_ids, placed.accessions, strict=True):
        collect_specimen(session, actor=world.nurse, specimen_id=specimen_id)
        receive_specimen(session, actor=world.tech, scan=accession)
    order_id = (
        session.execute(
            select(LabOrder.id).where(LabOrder.request_id == placed.request_id).order_by(LabOrder.id)
        )
        .scalars()
        .first()
    )
    return order_id, placed.accessions[0]


def released_value(session, world: LabWorld, patient_id: int, code: str, value: str) -> int:
    """A result entered by one technician and released by the other: its id."""
    from hms_app.services.laboratory.results import verify_results

    order_id, _ = received_order(session, world, patient_id, code)
    row = enter_result(session, actor=world.tech, order_id=order_id, value=value)
    verify_results(session, actor=world.second_tech, result_ids=[row.id])
    return row.id
