"""``hms import synthea``: CSV and FHIR samples land where the chart, the problem list, billing
and the population screens read them; a re-run adds nothing; a kill mid-import leaves no
half-imported patient and a re-run completes; bad input is refused plainly."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import simple_icd_10_cm as icd
from sqlalchemy import create_engine, func, select

from hms_app.cli import main as hms_main
from hms_app.clock import held_at
from hms_app.errors import Forbidden
from hms_app.interop.synthea import SyntheaFormatError, import_synthea
from hms_app.interop.synthea.generate import generate
from hms_app.interop.synthea.mapper import SNOMED_MAP_FILE
from hms_app.models.billing import Invoice
from hms_app.models.emr import Condition, Encounter, Observation
from hms_app.models.imports import ImportedRecord
from hms_app.models.patients import Patient
from hms_app.models.population import PopulationSummary
from hms_app.models.scheduling import Appointment
from hms_app.services.emr.vitals import vital_series
from hms_app.services.operations import operations_dashboard
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.services.scheduling.lists import list_resources, list_services
from hms_app.settings import get_settings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "synthea"
ADMIN = Actor(
    user_id=0, username="importer", roles=frozenset({"admin"}), permissions=frozenset({"data.import"})
)
NURSE = Actor(
    user_id=0, username="nurse", roles=frozenset({"nurse"}), permissions=frozenset({"patient.read"})
)
READER = Actor(
    user_id=0, username="doc", roles=frozenset({"physician"}), permissions=frozenset({"patient.read"})
)
# Synthea's classes of visits booked at a clinic: the others (emergency, urgent care, admissions,
# home visits) were never appointments.
BOOKED = ("wellness", "ambulatory", "outpatient", "virtual")


def _csv_rows(folder: Path, name: str) -> list[dict]:
    with (folder / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def _patient_of(session, synthea_id: str) -> int:
    return session.execute(
        select(ImportedRecord.row_id).where(
            ImportedRecord.resource_type == "Patient", ImportedRecord.external_id == synthea_id
        )
    ).scalar_one()


def test_snomed_map_holds_billable_icd10cm_codes_only():
    with SNOMED_MAP_FILE.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 100
    assert len({row["snomed"] for row in rows}) == len(rows), "a SNOMED code is mapped twice"
    for row in rows:
        code = row["icd10cm"]
        assert icd.is_valid_item(code) and icd.is_leaf(code), f"{row} is not a billable ICD-10-CM code"


def test_csv_sample_lands_where_the_record_is_read(session):
    folder = FIXTURES / "csv"
    report = import_synthea(session, actor=SYSTEM_ACTOR, path=folder)
    observations = _csv_rows(folder, "observations.csv")
    assert report.problems == []
    assert report.counts["patient"] == len(_csv_rows(folder, "patients.csv")) == 5
    assert report.counts["encounter"] == len(_csv_rows(folder, "encounters.csv"))
    assert report.counts["condition"] == len(_csv_rows(folder, "conditions.csv"))
    assert report.counts["observation"] == sum(row["TYPE"] == "numeric" for row in observations)
    assert report.counts["immunization"] == len(_csv_rows(folder, "immunizations.csv"))
    assert report.counts["procedure"] == len(_csv_rows(folder, "procedures.csv"))
    assert report.counts["claim"] == len(_csv_rows(folder, "claims.csv"))
    assert report.counts["organization"] == 3 and report.counts["practitioner"] == 9

    # The chart's trends read SpO2 under 59408-5; Synthea writes 2708-6.
    synthea_id = observations[0]["PATIENT"]
    patient_id = _patient_of(session, synthea_id)
    spo2 = [float(r["VALUE"]) for r in observations if r["PATIENT"] == synthea_id and r["CODE"] == "2708-6"]
    systolic = [
        float(r["VALUE"]) for r in observations if r["PATIENT"] == synthea_id and r["CODE"] == "8480-6"
    ]
    assert [p.value for p in vital_series(session, actor=READER, patient_id=patient_id, key="spo2")] == spo2
    assert [
        p.value for p in vital_series(session, actor=READER, patient_id=patient_id, key="systolic_bp")
    ] == systolic
    patient = session.get(Patient, patient_id)
    assert patient.mrn.startswith("H") and not any(ch.isdigit() for ch in patient.given_name)

    codes = dict(session.execute(select(Condition.code, Condition.code_system)).all())
    assert codes["I10"] == "icd-10-cm"  # 59621000 essential hypertension
    assert codes["160903007"] == "snomed"  # full-time employment: no ICD-10-CM equivalent
    # Billing and population screens have something to show.
    invoiced = session.execute(select(func.sum(Invoice.total_cents))).scalar_one()
    expected = sum(round(float(r["TOTAL_CLAIM_COST"]) * 100) for r in _csv_rows(folder, "encounters.csv"))
    assert invoiced == expected
    assert session.execute(select(func.count()).select_from(PopulationSummary)).scalar_one() >= 5


def test_fhir_sample_unpacks_blood_pressure_and_maps_codes(session):
    report = import_synthea(session, actor=SYSTEM_ACTOR, path=FIXTURES / "fhir", format="fhir")
    assert report.problems == []
    assert {k: v for k, v in report.counts.items() if v} == {
        "organization": 1, "practitioner": 1, "payer": 1, "patient": 2, "encounter": 3, "appointment": 2, "condition": 4,
        "observation": 15, "medication": 2, "immunization": 2, "allergy": 2, "procedure": 2, "claim": 3,
    }  # fmt: skip
    marcus = _patient_of(session, "8f1e6a3c-5b2d-4c71-9e0a-2d4b6f8a1c01")
    assert [p.value for p in vital_series(session, actor=READER, patient_id=marcus, key="systolic_bp")] == [
        128,
        131,
    ]
    assert [p.value for p in vital_series(session, actor=READER, patient_id=marcus, key="diastolic_bp")] == [
        82,
        83,
    ]
    assert [p.value for p in vital_series(session, actor=READER, patient_id=marcus, key="spo2")] == [97, 97]
    conditions = session.execute(
        select(Condition.code, Condition.code_system).where(Condition.patient_id == marcus)
    )
    assert sorted(conditions) == [("160903007", "snomed"), ("E11.9", "icd-10-cm")]
    encounter = session.execute(select(Encounter).where(Encounter.patient_id == marcus)).scalars().first()
    assert encounter.practitioner_id is not None and encounter.department_id is not None
    invoice = session.execute(select(Invoice).where(Invoice.patient_id == marcus)).scalars().first()
    assert (invoice.total_cents, invoice.payer_share_cents, invoice.payer_paid_cents) == (70420, 56336, 56336)
    text_values = session.execute(select(func.count()).where(Observation.code == "72166-2")).scalar_one()
    assert text_values == 0  # smoking status is coded, not a number: left out


def test_a_second_run_adds_nothing(configured_db, capsys):
    folder = str(FIXTURES / "csv")
    assert hms_main(["import", "synthea", folder, "--quiet"]) == 0
    first = capsys.readouterr().out
    assert "IMPORTED patient 5" in first
    assert hms_main(["import", "synthea", folder, "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 14 and all(line.startswith("IMPORTED ") and line.endswith(" 0") for line in lines)


def test_without_data_import_nothing_is_written(session):
    with pytest.raises(Forbidden):
        import_synthea(session, actor=NURSE, path=FIXTURES / "csv")
    assert session.execute(select(func.count()).select_from(Patient)).scalar_one() == 0
    report = import_synthea(session, actor=ADMIN, path=FIXTURES / "csv")  # an admin may
    assert report.counts["patient"] == 5


def test_bad_inputs_are_refused_plainly(session, tmp_path, capsys, configured_db):
    with pytest.raises(SyntheaFormatError, match="does not exist"):
        import_synthea(session, actor=SYSTEM_ACTOR, path=tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SyntheaFormatError, match="not a folder"):
        import_synthea(session, actor=SYSTEM_ACTOR, path=tmp_path / "notes.txt")
    with pytest.raises(SyntheaFormatError, match="neither patients.csv nor FHIR"):
        import_synthea(session, actor=SYSTEM_ACTOR, path=tmp_path)
    session.rollback()
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "patients.csv").write_text("name,age\nann,3\n")
    assert hms_main(["import", "synthea", str(wrong), "--quiet"]) == 2
    assert "not a Synthea CSV file: its header lacks BIRTHDATE" in capsys.readouterr().err
    (wrong / "patients.csv").write_text("")
    (tmp_path / "x.json").write_text('{"resourceType": "Patient"}')
    assert hms_main(["import", "synthea", str(tmp_path), "--format", "fhir", "--quiet"]) == 2
    assert "not a FHIR Bundle" in capsys.readouterr().err
    assert session.execute(select(func.count()).select_from(Patient)).scalar_one() == 0
    session.rollback()  # the command line writes with its own session

    # Malformed rows: each reported with file:line and skipped; the rest goes in.
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in (FIXTURES / "csv").iterdir():
        (broken / path.name).write_text(path.read_text())
    lines = (broken / "observations.csv").read_text().splitlines()
    lines[3] = lines[3].replace("vital-signs,", "vital-signs,extra,", 1)
    lines[5] = "yesterday" + lines[5][len("2021-03-05T10:11:00Z") :]
    (broken / "observations.csv").write_text("\n".join(lines) + "\n")
    assert hms_main(["import", "synthea", str(broken), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "SKIPPED observations.csv:4: 10 fields where the header has 9; skipped" in captured.err
    assert "SKIPPED observations.csv:6: DATE" in captured.err and "is not a date" in captured.err
    assert "Traceback" not in captured.err
    assert "IMPORTED patient 5" in captured.out


def test_a_kill_mid_import_leaves_whole_patients_and_a_rerun_finishes(session, configured_db, tmp_path):
    folder = tmp_path / "export"
    counts = generate(folder, 200, seed=5)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    command = [
        sys.executable,
        "-m",
        "hms_app.cli",
        "import",
        "synthea",
        str(folder),
        "--batch-size",
        "20",
        "--quiet",
    ]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    imported = 0
    deadline = time.monotonic() + 60
    watcher = create_engine(configured_db)  # plain reads: they must not hold the importer up
    count = select(func.count()).where(ImportedRecord.resource_type == "Patient")
    while time.monotonic() < deadline and child.poll() is None:
        with watcher.connect() as connection:
            imported = connection.execute(count).scalar_one()
        if imported >= 5:
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    child.wait()
    watcher.dispose()
    assert child.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    mapped_count = session.execute(count).scalar_one()
    assert 5 <= mapped_count < 200, f"{mapped_count} patients were in when the kill landed"

    # Every patient that is there has all of its encounters (a batch commits whole).
    per_patient = {}
    for row in _csv_rows(folder, "encounters.csv"):
        per_patient[row["PATIENT"]] = per_patient.get(row["PATIENT"], 0) + 1
    mapped = dict(
        session.execute(
            select(ImportedRecord.external_id, ImportedRecord.row_id).where(
                ImportedRecord.resource_type == "Patient"
            )
        ).all()
    )
    stored = dict(
        session.execute(select(Encounter.patient_id, func.count()).group_by(Encounter.patient_id)).all()
    )
    assert mapped and all(stored.get(row_id, 0) == per_patient.get(ext, 0) for ext, row_id in mapped.items())
    assert len(mapped) % 5 == 0, "only whole batches are committed"

    report = import_synthea(session, actor=SYSTEM_ACTOR, path=folder)
    assert report.counts["patient"] == 200 - len(mapped)
    assert session.execute(select(func.count()).select_from(Patient)).scalar_one() == 200
    assert (
        session.execute(select(func.count()).select_from(Encounter)).scalar_one() == counts["encounters.csv"]
    )
    assert (
        session.execute(select(func.count()).select_from(Condition)).scalar_one() == counts["conditions.csv"]
    )
    numeric = sum(row["TYPE"] == "numeric" for row in _csv_rows(folder, "observations.csv"))
    assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == numeric
    assert session.execute(select(func.count()).select_from(Invoice)).scalar_one() == counts["claims.csv"]
    booked = sum(row["ENCOUNTERCLASS"] in BOOKED for row in _csv_rows(folder, "encounters.csv"))
    assert session.execute(select(func.count()).select_from(Appointment)).scalar_one() == booked


def test_booked_visits_show_on_the_operations_dashboard_and_cannot_be_booked_again(session):
    folder = FIXTURES / "csv"
    report = import_synthea(session, actor=SYSTEM_ACTOR, path=folder)
    encounters = _csv_rows(folder, "encounters.csv")
    booked = [row for row in encounters if row["ENCOUNTERCLASS"] in BOOKED]
    assert 0 < len(booked) < len(encounters)  # the sample's emergency visit was not booked
    assert report.counts["appointment"] == len(booked)

    # The manager looks at the 90 days up to a day after the sample's last booked visit.
    tz = get_settings().tz
    local = {row["Id"]: datetime.fromisoformat(row["START"]).astimezone(tz) for row in booked}
    today = max(local.values()).date() + timedelta(days=1)
    first_day = today - timedelta(days=89)
    in_period = [row for row in booked if first_day <= local[row["Id"]].date() <= today]
    organizations = {row["Id"]: row["NAME"] for row in _csv_rows(folder, "organizations.csv")}
    providers = {row["Id"]: row["NAME"] for row in _csv_rows(folder, "providers.csv")}
    with held_at(datetime.combine(today, datetime.min.time(), tzinfo=tz).replace(hour=12).astimezone(UTC)):
        board = operations_dashboard(session, actor=SYSTEM_ACTOR, days=90, department_id=None)
    by_department = board.volume.groupby("department")["appointments"].sum()
    expected = {}
    for row in in_period:
        name = organizations[row["ORGANIZATION"]]
        expected[name] = expected.get(name, 0) + 1
    assert {k: int(v) for k, v in by_department.items() if v} == expected
    assert board.no_show_overall == (len(in_period), 0)  # Synthea's visits all took place
    # Each visit's clinician has a bar, named as the chart names them (Synthea's digits removed).
    clinicians = {re.sub(r"\d", "", providers[row["PROVIDER"]]) for row in in_period}
    assert set(board.no_shows["provider"]) == clinicians
    assert board.waits.empty  # the export holds no arrival times: none are made up

    # What the visits are booked on is inactive: no screen offers it for a new booking.
    every = list_services(session, actor=SYSTEM_ACTOR, include_inactive=True)
    assert {s.department_name for s in every if s.name == "Imported visits"} == set(organizations.values())
    assert not [s for s in list_services(session, actor=SYSTEM_ACTOR) if s.name == "Imported visits"]
    everyone = list_resources(session, actor=SYSTEM_ACTOR, kind="provider", include_inactive=True)
    assert clinicians <= {r.name for r in everyone}
    assert not {r.name for r in list_resources(session, actor=SYSTEM_ACTOR, kind="provider")} & clinicians
    visit = session.execute(select(Appointment).order_by(Appointment.start_at.desc())).scalars().first()
    assert (visit.status, visit.reference[:3], visit.booked_via) == ("completed", "SY-", "import")
