"""FHIR Bulk Data export (``$export``) as a system client uses it: kick-off, polling, the manifest
and the NDJSON files, whose every line is a valid R4B resource and whose counts are the tables';
``_type`` and ``_since``; and as an attacker: no ``Prefer``, a patient's token, a browser, another
client polling or downloading someone else's export, unknown types and parameters. Also what an
auditor checks (one row per kick-off and per file) and what a restart leaves behind."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import func, select, update

from hms_app.interop.fhir import export
from hms_app.models.emr import Condition, Encounter, Observation
from hms_app.models.fhir_export import FhirExportJob
from hms_app.models.patients import Patient
from hms_app.models.security import AuditEvent
from hms_app.services.patients.records import register_patient
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings
from tests.api.fhir_support import headers

OLD = datetime(2020, 3, 1, 9, 0, tzinfo=UTC)
NEW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
TABLES = {"Patient": Patient, "Observation": Observation, "Encounter": Encounter, "Condition": Condition}


def _async(token: str) -> dict[str, str]:
    return headers(token, Prefer="respond-async")


@pytest.fixture
def records(session) -> list[int]:
    """Three patients (one changed long ago), their encounters, observations old and new, and
    problems."""
    ids = []
    for n, (given, family) in enumerate((("Ada", "Lovelace"), ("Alan", "Turing"), ("Grace", "Hopper"))):
        patient = register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "given_name": given,
                "family_name": family,
                "sex": "female",
                "birth_date": f"19{50 + n}-01-0{n + 1}",
            },
            duplicate_reason="test patients",
        )
        ids.append(patient.id)
    session.execute(update(Patient).where(Patient.id == ids[0]).values(updated_at=OLD, created_at=OLD))
    for n, patient_id in enumerate(ids):
        encounter = Encounter(
            patient_id=patient_id, encounter_class="outpatient", status="finished", start_at=NEW
        )
        session.add(encounter)
        session.flush()
        for when in (OLD, NEW):
            session.add(
                Observation(
                    patient_id=patient_id,
                    encounter_id=encounter.id,
                    code="8867-4",
                    display="Heart rate",
                    value=60 + n,
                    unit="/min",
                    effective_at=when,
                )
            )
        session.add(Condition(patient_id=patient_id, code="I10", display="Essential hypertension"))
    session.commit()
    return ids


def _kick_off(api, token: str, query: str = "") -> str:
    answer = api.get(f"/fhir/$export{query}", headers=_async(token))
    assert answer.status_code == 202, answer.text
    location = answer.headers["Content-Location"]
    assert location.startswith("http") and "/fhir/$export-status/" in location
    return location.split("/fhir", 1)[1]


def _finish(api, token: str, status_path: str) -> dict:
    """Poll as a client would (what Retry-After says, shortened) until the manifest comes."""
    for _ in range(400):
        answer = api.get(f"/fhir{status_path}", headers=headers(token))
        if answer.status_code != 202:
            assert answer.status_code == 200, answer.text
            return answer.json()
        assert answer.headers["Retry-After"].isdigit() and answer.headers["X-Progress"]
        time.sleep(0.05)
    raise AssertionError("the export never finished")


def _download(api, token: str, url: str) -> list[dict]:
    answer = api.get(urlsplit(url).path, headers=headers(token))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+ndjson")
    return [json.loads(line) for line in answer.text.splitlines()]


def _count(session, table) -> int:
    count = session.execute(select(func.count()).select_from(table)).scalar_one()
    session.rollback()  # a test's session holds SQLite's write lock until its transaction ends
    return count


def test_export_writes_every_readable_type_as_valid_ndjson_with_the_tables_counts(
    api, tokens, session, records
):
    token = tokens.issue(scopes="system/*.read")
    status_path = _kick_off(api, token)
    manifest = _finish(api, token, status_path)

    assert manifest["requiresAccessToken"] is True
    assert manifest["error"] == []
    assert manifest["request"].endswith("/fhir/$export")
    assert datetime.fromisoformat(manifest["transactionTime"].replace("Z", "+00:00")) <= datetime.now(UTC)
    by_type = {item["type"]: item for item in manifest["output"]}
    assert set(TABLES) <= set(by_type)
    for resource_type, table in TABLES.items():
        resources = _download(api, token, by_type[resource_type]["url"])
        assert by_type[resource_type]["count"] == len(resources) == _count(session, table)
        assert {r["id"] for r in resources} == {str(i) for i in session.execute(select(table.id)).scalars()}
        session.rollback()
        for resource in resources:
            assert resource["resourceType"] == resource_type
            get_fhir_model_class(resource_type).model_validate(resource)  # raises when not valid R4B

    audit = session.execute(
        select(AuditEvent.action, AuditEvent.patient_id, AuditEvent.detail).where(
            AuditEvent.action.like("fhir.export%")
        )
    ).all()
    kick_offs = [row for row in audit if row.action == "fhir.export"]
    downloads = [row for row in audit if row.action == "fhir.export.download"]
    assert len(kick_offs) == 1 and "Observation" in kick_offs[0].detail
    assert len(downloads) == len(TABLES)
    assert any(
        row.detail.startswith("Observation.ndjson") and "6 resources" in row.detail for row in downloads
    )
    assert all(row.patient_id is None for row in audit)  # bulk: one row per file, not per patient


def test_type_limits_the_files_and_since_keeps_what_changed_after_it(api, tokens, session, records):
    token = tokens.issue()
    manifest = _finish(api, token, _kick_off(api, token, "?_type=Observation,Patient"))
    assert sorted(item["type"] for item in manifest["output"]) == ["Observation", "Patient"]

    since = _finish(
        api, token, _kick_off(api, token, "?_type=Observation,Patient&_since=2025-01-01T00:00:00Z")
    )
    counts = {item["type"]: item["count"] for item in since["output"]}
    assert counts == {"Observation": 3, "Patient": 2}  # the 2020 readings and the patient untouched since
    observations = _download(
        api, token, next(i["url"] for i in since["output"] if i["type"] == "Observation")
    )
    assert all(o["effectiveDateTime"].startswith("2026") for o in observations)
    assert (
        "_since=2025-01-01T00%3A00%3A00Z" in since["request"]
        or "_since=2025-01-01T00:00:00Z" in since["request"]
    )


def test_patient_level_export_keeps_to_the_compartment(api, tokens, records):
    token = tokens.issue()
    answer = api.get("/fhir/Patient/$export", headers=_async(token))
    assert answer.status_code == 202
    manifest = _finish(api, token, answer.headers["Content-Location"].split("/fhir", 1)[1])
    types = {item["type"] for item in manifest["output"]}
    assert {"Patient", "Observation", "Encounter"} <= types
    assert not types & {"Practitioner", "Location", "Organization"}


def test_refusals_are_operation_outcomes_with_the_reason(api, tokens, records):
    token = tokens.issue()
    plain = api.get("/fhir/$export", headers=headers(token))
    assert plain.status_code == 400
    assert "Prefer: respond-async" in plain.json()["issue"][0]["diagnostics"]

    unknown = api.get("/fhir/$export?_type=Observation,Spaceship", headers=_async(token))
    assert unknown.status_code == 400
    issue = unknown.json()["issue"][0]
    assert unknown.json()["resourceType"] == "OperationOutcome" and "Spaceship" in issue["diagnostics"]
    assert issue["expression"] == ["_type"]

    for query, word in (
        ("?_since=yesterday", "_since"),
        ("?_since=2026-01-01", "_since"),  # no time, no zone
        ("?_typeFilter=Observation%3Fcode%3D1", "_typeFilter"),
        ("?_outputFormat=text/csv", "_outputFormat"),
        ("?_type=Patient&_type=Observation", "_type"),
    ):
        answer = api.get(f"/fhir/$export{query}", headers=_async(token))
        assert answer.status_code == 400, query
        assert word in answer.json()["issue"][0]["diagnostics"], query
    assert api.get("/fhir/$export-status/0123456789abcdef", headers=headers(token)).status_code == 404


def test_only_system_clients_export(api, tokens, session, records):
    patient_token = tokens.issue(scopes="patient/*.read", patient_id=records[0])
    answer = api.get("/fhir/$export", headers=_async(patient_token))
    assert answer.status_code == 403 and answer.json()["resourceType"] == "OperationOutcome"
    assert api.get("/fhir/Patient/$export", headers=_async(patient_token)).status_code == 403
    denied = session.execute(select(AuditEvent.detail).where(AuditEvent.action == "access.denied")).scalars()
    assert any("$export" in (detail or "") for detail in denied)

    narrow = tokens.issue(scopes="system/Patient.read")
    refused = api.get("/fhir/$export?_type=Observation", headers=_async(narrow))
    assert refused.status_code == 403 and "Observation" in refused.json()["issue"][0]["diagnostics"]
    manifest = _finish(api, narrow, _kick_off(api, narrow))
    assert [item["type"] for item in manifest["output"]] == ["Patient"]  # the default: what it may read


def test_a_browser_session_cannot_export(api, session, records):
    from argon2 import PasswordHasher

    from hms_app.services import accounts, security

    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    accounts.ensure_roles(session)
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="dr.bulk",
        display_name="Dr Bulk",
        password="Ward-round-42",
        roles=["admin"],
    )
    api.cookies.set(
        "hms_session", security.sign_in(session, username="dr.bulk", password="Ward-round-42").token
    )
    answer = api.get("/fhir/$export", headers={"Prefer": "respond-async"})
    assert answer.status_code == 403
    assert _count(session, FhirExportJob) == 0


def test_another_client_can_neither_poll_nor_download_nor_cancel(api, tokens, session, records):
    owner, other = tokens.issue(), tokens.issue()
    status_path = _kick_off(api, owner, "?_type=Patient")
    manifest = _finish(api, owner, status_path)
    file_url = urlsplit(manifest["output"][0]["url"]).path

    assert api.get(f"/fhir{status_path}", headers=headers(other)).status_code == 404
    assert api.get(file_url, headers=headers(other)).status_code == 404
    assert api.delete(f"/fhir{status_path}", headers=headers(other)).status_code == 404
    assert api.get(file_url).status_code == 401  # the file needs the token too
    assert (
        api.get(
            file_url.replace("Patient.ndjson", "../../secrets.ndjson"), headers=headers(owner)
        ).status_code
        == 404
    )
    assert len(_download(api, owner, manifest["output"][0]["url"])) == 3  # still the owner's


def test_cancel_stops_the_job_and_removes_its_files(api, tokens, session, records):
    token = tokens.issue()
    status_path = _kick_off(api, token)
    job_id = status_path.rsplit("/", 1)[1]
    _finish(api, token, status_path)
    folder = get_settings().data_dir / "fhir-export" / job_id
    assert folder.is_dir() and any(folder.glob("*.ndjson"))
    assert not str(folder).startswith(str(get_settings().data_dir / "uploaded_files"))

    assert api.delete(f"/fhir{status_path}", headers=headers(token)).status_code == 202
    assert not folder.exists()
    assert api.get(f"/fhir{status_path}", headers=headers(token)).status_code == 404
    assert api.get(f"/fhir/$export-file/{job_id}/Patient.ndjson", headers=headers(token)).status_code == 404


def test_a_job_cut_off_by_a_restart_is_reported_failed(api, tokens, session, records):
    token = tokens.issue()
    job_id = _kick_off(api, token, "?_type=Patient").rsplit("/", 1)[1]
    _finish(api, token, f"/$export-status/{job_id}")
    # As a restart leaves it: still "running", by a process that is gone, silent for ten minutes.
    session.execute(
        update(FhirExportJob)
        .where(FhirExportJob.id == job_id)
        .values(
            status="running", worker="old-host:1:dead", heartbeat_at=datetime.now(UTC) - timedelta(minutes=10)
        )
    )
    session.commit()
    answer = api.get(f"/fhir/$export-status/{job_id}", headers=headers(token))
    assert answer.status_code == 500
    assert "restarted" in answer.json()["issue"][0]["diagnostics"]
    assert session.get(FhirExportJob, job_id, populate_existing=True).status == "failed"


def test_jobs_older_than_a_day_are_deleted_with_their_files(api, tokens, session, records):
    token = tokens.issue()
    old_id = _kick_off(api, token, "?_type=Patient").rsplit("/", 1)[1]
    _finish(api, token, f"/$export-status/{old_id}")
    session.execute(
        update(FhirExportJob)
        .where(FhirExportJob.id == old_id)
        .values(created_at=datetime.now(UTC) - export.KEEP_FOR - timedelta(minutes=1))
    )
    session.commit()
    _finish(api, token, _kick_off(api, token, "?_type=Patient"))
    assert session.get(FhirExportJob, old_id, populate_existing=True) is None
    session.rollback()
    assert not (get_settings().data_dir / "fhir-export" / old_id).exists()
    assert api.get(f"/fhir/$export-status/{old_id}", headers=headers(token)).status_code == 404


def test_real_smart_clients_each_see_only_their_own_exports(api, session, records):
    """Two registered clients with real bearer tokens (no stand-in): the second gets 404s."""
    from hms_app.services import accounts, fhir_clients

    accounts.ensure_roles(session)
    owner = fhir_clients.issue_token_for_operator(session, client_name="bulk-a", scope="system/*.read")
    other = fhir_clients.issue_token_for_operator(session, client_name="bulk-b", scope="system/*.read")
    session.commit()
    status_path = _kick_off(api, owner.access_token, "?_type=Patient,Observation")
    manifest = _finish(api, owner.access_token, status_path)
    assert {i["type"]: i["count"] for i in manifest["output"]} == {"Patient": 3, "Observation": 6}
    url = next(i["url"] for i in manifest["output"] if i["type"] == "Observation")
    assert len(_download(api, owner.access_token, url)) == 6
    assert api.get(urlsplit(url).path, headers=headers(other.access_token)).status_code == 404
    assert api.get(f"/fhir{status_path}", headers=headers(other.access_token)).status_code == 404
    job = session.get(FhirExportJob, status_path.rsplit("/", 1)[1])
    assert job.client_name == "bulk-a"
    session.rollback()
