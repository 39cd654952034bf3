"""A small laboratory for the analyser tests: a physician of General Medicine with a charge nurse,
a patient, potassium and sodium (numeric, with critical limits) and a urine dipstick (coded), and
specimens already received in the laboratory with their orders. Rows are written as the order,
collection and reception services leave them, so that only the analyser's path is under test."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import hl7
from hl7.mllp import open_hl7_connection
from sqlalchemy import func, select

from hms_app.models.laboratory import Hl7Message, LabOrder, LabReferenceRange, LabRequest, LabTest, Specimen
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


# ---------------------------------------------------------------------------- messages


STAMP = "20261207083000"


def oru(
    control: str = "MSG00001",
    groups=(("S-00000001", [(POTASSIUM, "4.2", "mmol/L")]),),
    *,
    sender: str = "COBAS|HOSPLAB",
    kind: str = "ORU^R01^ORU_R01",
    version: str = "2.5",
    spm: bool = False,
) -> str:
    """An ORU^R01 with one OBR per (accession, results) group; a result is (code, value, unit[, type, time, status])."""
    lines = [f"MSH|^~\\&|{sender}|HMS|HOSP|{STAMP}||{kind}|{control}|P|{version}", "PID|1||H0001234-4"]
    for group_number, (accession, observations) in enumerate(groups, start=1):
        lines.append(f"OBR|{group_number}||{'' if spm else accession}|24326-1^Electrolytes^LN")
        for number, observation in enumerate(observations, start=1):
            code, value, unit, kind_, when, status = (
                *observation,
                *("NM", STAMP, "F")[len(observation) - 3 :],
            )
            lines.append(f"OBX|{number}|{kind_}|{code}^^LN||{value}|{unit}^^UCUM|||||{status}|||{when}")
        if spm:
            lines.append(f"SPM|1|^{accession}&HOSPLAB||SER")
    return "\r".join(lines) + "\r"


def ack_of(text: str) -> dict[str, str]:
    message = hl7.parse(text)
    msh, msa = message.segment("MSH"), message.segment("MSA")
    found = {
        "type": str(msh(9)),
        "code": str(msa(1)),
        "control": str(msa(2)),
        "text": msa.extract_field(1, 3),  # unescaped
        "id": str(msh(10)),
    }
    try:
        err = message.segment("ERR")
    except KeyError:
        return found
    found["error"] = err.extract_field(1, 3, 1, 1)
    found["location"] = str(err(2))
    found["reason"] = err.extract_field(1, 8)
    return found


def count(session, model) -> int:
    session.expire_all()
    count = session.execute(select(func.count()).select_from(model)).scalar_one()
    session.rollback()  # end the read: on SQLite an open transaction holds the listener's writes
    return count


def stored_messages(session) -> list[tuple[str, str, str, int]]:
    session.expire_all()
    columns = (Hl7Message.control_id, Hl7Message.status, Hl7Message.ack_code, Hl7Message.results)
    rows = [tuple(row) for row in session.execute(select(*columns).order_by(Hl7Message.id)).all()]
    session.rollback()
    return rows


async def exchange(port: int, *messages: str, pipelined: bool = False) -> list[str]:
    reader, writer = await open_hl7_connection("127.0.0.1", port, encoding="utf-8")
    acks = []
    try:
        for message in messages:
            writer.writeblock(message.encode("utf-8"))
            await writer.drain()
            if not pipelined:
                acks.append((await asyncio.wait_for(reader.readblock(), 30)).decode())
        for _ in messages if pipelined else ():
            acks.append((await asyncio.wait_for(reader.readblock(), 30)).decode())
    finally:
        writer.close()
        await writer.wait_closed()
    return acks
