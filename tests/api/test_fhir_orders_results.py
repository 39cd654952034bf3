"""Procedure, ImagingStudy, Specimen and DocumentReference over FHIR, as a client and an attacker
would read them: each row reads back as its resource (checked by the R4B model), every search
parameter finds it and only it, writes are refused, a token is held to its scopes and its patient,
and Patient/$everything carries the type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hms_app.models.emr import Procedure
from hms_app.models.laboratory import Specimen
from hms_app.services.emr.documents import store_document
from hms_app.services.laboratory.specimens import reject_specimen
from hms_app.services.permissions import SYSTEM_ACTOR
from tests.api import fhir_support
from tests.api.fhir_orders_support import check_access, check_read_only, read, refused, search
from tests.api.fhir_support import headers
from tests.services.lab_world import build_lab_world, received_order
from tests.services.radiology_images import a_patient, ct_study

api = fhir_support.api
tokens = fhir_support.tokens

SNOMED = "http://snomed.info/sct"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def two_patients(session) -> tuple[int, int]:
    first, second = (
        a_patient(session, given="Ada", family="First"),
        a_patient(session, given="Bo", family="Second"),
    )
    session.commit()
    return first, second


# --- Procedure ---------------------------------------------------------------------------------


def procedure(session, pid: int, code: str, display: str, at: datetime, **fields) -> str:
    # Rows as the Synthea import writes them: HMS records no procedure of its own.
    row = Procedure(patient_id=pid, code=code, display=display, performed_at=at, **fields)
    session.add(row)
    session.commit()
    return str(row.id)


def test_procedure_reads_and_searches(api, tokens, session):
    mine, theirs = two_patients(session)
    june = datetime(2024, 6, 3, 10, 0, tzinfo=UTC)
    appendix = procedure(
        session, mine, "80146002", "Appendectomy", june, performed_end_at=june + timedelta(hours=1)
    )
    scan = procedure(
        session, mine, "77477000", "CT of abdomen", june - timedelta(days=400), status="in-progress"
    )
    other = procedure(session, theirs, "80146002", "Appendectomy", june)
    token = tokens.issue()

    body = read(api, token, "Procedure", appendix)
    assert body["code"] == {
        "coding": [{"system": SNOMED, "code": "80146002", "display": "Appendectomy"}],
        "text": "Appendectomy",
    }
    assert (body["status"], body["subject"]) == ("completed", {"reference": f"Patient/{mine}"})
    assert body["performedPeriod"] == {"start": "2024-06-03T10:00:00Z", "end": "2024-06-03T11:00:00Z"}
    assert "performedDateTime" in read(api, token, "Procedure", scan)

    assert search(api, token, f"Procedure?patient={mine}") == [appendix, scan]
    assert search(api, token, f"Procedure?code={SNOMED}|80146002") == [other, appendix]
    assert search(api, token, "Procedure?code=http://loinc.org|80146002") == []
    assert search(api, token, f"Procedure?patient={mine}&date=2024-06") == [appendix]
    assert search(api, token, f"Procedure?patient={mine}&date=lt2024-01-01") == [scan]
    assert search(api, token, "Procedure?date=2020") == []
    assert search(api, token, "Procedure?status=in-progress") == [scan]
    assert search(api, token, "Procedure?status=stopped") == []
    assert "date" in refused(api, token, "Procedure?date=June")

    check_read_only(api, tokens, body)
    check_access(api, tokens, "Procedure", (mine, appendix), (theirs, other))


# --- ImagingStudy ------------------------------------------------------------------------------


def test_imaging_study_reads_and_searches(api, tokens, session):
    mine, theirs = two_patients(session)
    study = ct_study(session, patient_id=mine, slices=2, size=16, seed="mine")
    other = ct_study(session, patient_id=theirs, slices=1, size=16, seed="theirs")
    my_id, their_id = str(study.id), str(other.id)
    token = tokens.issue()

    body = read(api, token, "ImagingStudy", my_id)
    assert body["identifier"][0] == {"system": "urn:dicom:uid", "value": f"urn:oid:{study.study_uid}"}
    assert body["status"] == "available" and body["started"] == "2026-12-06"
    assert (body["numberOfSeries"], body["numberOfInstances"]) == (1, 2)
    assert body["series"][0]["uid"] == study.series_uids[0]
    assert body["series"][0]["modality"]["code"] == "CT"
    accession = body["identifier"][1]["value"]

    assert search(api, token, f"ImagingStudy?patient={mine}") == [my_id]
    assert search(api, token, f"ImagingStudy?identifier=urn:dicom:uid|urn:oid:{study.study_uid}") == [my_id]
    assert search(api, token, "ImagingStudy?identifier=urn:dicom:uid|urn:oid:1.2.3") == []
    assert search(api, token, f"ImagingStudy?identifier=urn:hms:accession|{accession}") == [my_id]
    assert search(api, token, "ImagingStudy?modality=CT&_sort=_lastUpdated") == [my_id, their_id]
    assert search(api, token, "ImagingStudy?modality=http://dicom.nema.org/resources/ontology/DCM|MR") == []
    assert search(api, token, f"ImagingStudy?patient={mine}&started=2026-12-06") == [my_id]
    assert search(api, token, f"ImagingStudy?patient={mine}&started=ge2026-12-07") == []
    assert search(api, token, f"ImagingStudy?patient={mine}&started=lt2027") == [my_id]
    assert "modality" in refused(api, token, "ImagingStudy?modality=C;T")

    # imaging.read, not patient.read, is what opens images.
    chart_only = tokens.issue(permissions=frozenset({"patient.read"}))
    assert api.get(f"/fhir/ImagingStudy/{my_id}", headers=headers(chart_only)).status_code == 403
    check_read_only(api, tokens, body)
    check_access(api, tokens, "ImagingStudy", (mine, my_id), (theirs, their_id))


# --- Specimen ----------------------------------------------------------------------------------


def test_specimen_reads_and_searches(api, tokens, session):
    world = build_lab_world(session)
    _, kept = received_order(session, world, world.man, "2823-3")  # potassium
    _, spoiled = received_order(session, world, world.woman, "2823-3")
    ids = dict(session.execute(select(Specimen.accession, Specimen.id)).all())
    reject_specimen(
        session, actor=world.tech, specimen_id=ids[spoiled], reason="haemolysed", note="Pink serum"
    )
    session.commit()
    recollect = session.execute(select(Specimen.id).where(Specimen.replaces_id == ids[spoiled])).scalar_one()
    mine, rejected, pending = str(ids[kept]), str(ids[spoiled]), str(recollect)
    row = session.get(Specimen, ids[kept])
    collected = row.collected_at
    session.commit()
    token = tokens.issue()

    body = read(api, token, "Specimen", mine)
    assert body["identifier"] == [{"system": "urn:hms:specimen", "value": kept}]
    assert body["status"] == "available" and body["type"]["text"]
    assert body["collection"]["collectedDateTime"] and body["receivedTime"]
    bad = read(api, token, "Specimen", rejected)
    assert bad["status"] == "unsatisfactory"
    assert (bad["condition"], bad["note"]) == ([{"text": "Haemolysed"}], [{"text": "Pink serum"}])

    assert search(api, token, f"Specimen?patient={world.man}") == [mine]
    assert search(api, token, f"Specimen?identifier=urn:hms:specimen|{kept}") == [mine]
    assert search(api, token, "Specimen?identifier=urn:hms:specimen|S-99999999") == []
    assert search(api, token, "Specimen?status=available") == [mine]
    assert search(api, token, "Specimen?status=unsatisfactory") == [rejected]
    assert search(api, token, "Specimen?status=unavailable") == [pending]
    since = (collected - timedelta(minutes=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sorted(search(api, token, f"Specimen?collected=ge{since}")) == sorted([mine, rejected])
    assert search(api, token, f"Specimen?collected=lt{since}") == []
    assert search(api, token, "Specimen?collected=lt2000-01-01") == []
    assert "no search parameter 'type'" in refused(api, token, "Specimen?type=blood")

    lab_blind = tokens.issue(permissions=frozenset({"patient.read"}))
    assert api.get(f"/fhir/Specimen/{mine}", headers=headers(lab_blind)).status_code == 403
    check_read_only(api, tokens, body)
    check_access(api, tokens, "Specimen", (world.man, mine), (world.woman, rejected))


# --- DocumentReference -------------------------------------------------------------------------


def document(session, pid: int, title: str) -> str:
    row = store_document(
        session, actor=SYSTEM_ACTOR, patient_id=pid, title=title, content=PDF, content_type="application/pdf"
    )
    session.commit()
    return str(row.id)


def test_document_reference_reads_and_searches(api, tokens, session):
    mine, theirs = two_patients(session)
    letter = document(session, mine, "Discharge letter")
    consent = document(session, mine, "Consent form")
    other = document(session, theirs, "Discharge letter")
    token = tokens.issue()

    body = read(api, token, "DocumentReference", letter)
    attachment = body["content"][0]["attachment"]
    assert body["status"] == "current" and body["description"] == "Discharge letter"
    assert attachment == {
        "contentType": "application/pdf",
        "url": f"/api/documents/{letter}",
        "size": len(PDF),
        "title": "Discharge letter",
        "creation": body["date"],
    }
    assert "data" not in attachment  # the bytes only ever come from the authorized route

    assert search(api, token, f"DocumentReference?patient={mine}") == [consent, letter]
    assert search(api, token, f"DocumentReference?patient={mine}&_sort=date") == [letter, consent]
    assert search(api, token, "DocumentReference?description=discharge&_sort=date") == [letter, other]
    assert search(api, token, "DocumentReference?description=x-ray") == []
    today = body["date"][:10]
    assert len(search(api, token, f"DocumentReference?date=ge{today}T00:00:00Z")) == 3
    assert search(api, token, "DocumentReference?date=lt2000") == []

    check_read_only(api, tokens, body)
    check_access(api, tokens, "DocumentReference", (mine, letter), (theirs, other))
