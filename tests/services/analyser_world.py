"""A small laboratory for the analyser tests: a physician of General Medicine with a charge nurse,
a patient, potassium and sodium (numeric, with critical limits) and a urine dipstick (coded), and
specimens already received in the laboratory with their orders. Rows are written as the order,
collection and reception services leave them, so that only the analyser's path is under test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select

from hms_app.models.laboratory import LabOrder, LabReferenceRange, LabRequest, LabTest, Specimen
from hms_app.models.organization import Department
from hms_app.models.security import AppUser, Role, UserRole
from hms_app.services import accounts, patients
from hms_app.services.permissions import SYSTEM_ACTOR

POTASSIUM, SODIUM, GLUCOSE, DIPSTICK_PROTEIN = "2823-3", "2951-2", "2345-7", "2888-6"
COLLECTED = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Lab:
    department: int
    physician: int
    patient: int
    tests: dict[str, int]  # LOINC code -> lab_test id


def _test(session, code, name, short, *, unit=None, result_type="numeric", choices=None, ranges=()):
    test = LabTest(
        code=code,
        name=name,
        short_name=short,
        specimen_type="Venous blood" if result_type == "numeric" else "Urine",
        container="Lithium heparin (green)" if result_type == "numeric" else "Urine pot",
        result_type=result_type,
        unit=unit,
        decimals=1,
        choices=choices,
    )
    session.add(test)
    session.flush()
    for low, high, critical_low, critical_high in ranges:
        session.add(
            LabReferenceRange(
                test_id=test.id,
                low=Decimal(low),
                high=Decimal(high),
                critical_low=Decimal(critical_low),
                critical_high=Decimal(critical_high),
            )
        )
    return test.id


def build_lab(session) -> Lab:
    accounts.ensure_roles(session)
    department = Department(code="GEN", name="General Medicine")
    session.add(department)
    session.flush()
    physician = AppUser(
        username="dr.grey", display_name="Dr Meredith Grey", password_hash="x", department_id=department.id
    )
    nurse = AppUser(
        username="charge.nurse",
        display_name="Carla Charge, RN",
        password_hash="x",
        department_id=department.id,
    )
    session.add_all([physician, nurse])
    session.flush()
    for user, role in ((physician, "physician"), (nurse, "charge_nurse")):
        role_id = session.execute(select(Role.id).where(Role.name == role)).scalar_one()
        session.add(UserRole(user_id=user.id, role_id=role_id))
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Ana", "family_name": "Lyser", "sex": "female", "birth_date": "1962-05-17"},
    )
    tests = {
        POTASSIUM: _test(
            session, POTASSIUM, "Potassium", "K", unit="mmol/L", ranges=[("3.5", "5.1", "2.5", "6.5")]
        ),
        SODIUM: _test(session, SODIUM, "Sodium", "Na", unit="mmol/L", ranges=[("136", "145", "120", "160")]),
        GLUCOSE: _test(
            session, GLUCOSE, "Glucose", "Glu", unit="mmol/L", ranges=[("3.9", "7.8", "2.2", "25")]
        ),
        DIPSTICK_PROTEIN: _test(
            session,
            DIPSTICK_PROTEIN,
            "Protein [Presence] in Urine by Test strip",
            "U-Prot",
            result_type="coded",
            choices="Negative|Trace|1+|2+|3+",
        ),
    }
    session.commit()
    return Lab(department.id, physician.id, patient.id, tests)


def received_specimen(session, lab: Lab, accession: str, codes: list[str], *, number: int = 1) -> int:
    """A specimen received in the laboratory with one open order per test code; its id."""
    request = LabRequest(
        reference=f"LR-{number:06d}",
        patient_id=lab.patient,
        ordered_by_id=lab.physician,
        ordered_by="Dr Meredith Grey",
        department_id=lab.department,
    )
    session.add(request)
    session.flush()
    specimen = Specimen(
        accession=accession,
        request_id=request.id,
        patient_id=lab.patient,
        specimen_type="Venous blood",
        container="Lithium heparin (green)",
        status="received",
        collected_at=COLLECTED,
        collected_by="Joy Okafor, RN",
        received_at=COLLECTED,
        received_by="Lars Labtech",
    )
    session.add(specimen)
    session.flush()
    for code in codes:
        session.add(
            LabOrder(
                request_id=request.id,
                patient_id=lab.patient,
                test_id=lab.tests[code],
                specimen_id=specimen.id,
                status="received",
            )
        )
    session.commit()
    return specimen.id
