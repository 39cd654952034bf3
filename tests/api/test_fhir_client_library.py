"""Every type the server says it supports, used through a real FHIR client library (fhirpy) as
another system would: on a seeded hospital, each type of the CapabilityStatement is searched and
each found resource read back by its id; each writable type is created, read, updated and found
again by a search. A type added to the server without data here fails this test."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import requests
from fhir.resources.R4B import get_fhir_model_class
from fhirpy import SyncFHIRClient
from fhirpy.base import lib_sync
from fhirpy.base.exceptions import OperationOutcome
from sqlalchemy import select

from hms_app.models.emr import DocumentReference, Procedure
from hms_app.models.patients import Patient
from hms_app.models.radiology import ImagingOrder, ImagingStudy
from hms_app.seed.registry import run_seeders
from hms_app.settings import get_settings

BASE = "http://testserver/fhir"


class _Answer:
    def __init__(self, response):
        self.status_code = response.status_code
        self.content = response.content


@pytest.fixture
def client(api, tokens, monkeypatch) -> SyncFHIRClient:
    """fhirpy as it is, its HTTP calls answered by the API under test (no network, no port).

    The server writes its public address into paging links; it is the test client's here, so that
    fhirpy follows a search's next pages as it would against a real deployment."""
    monkeypatch.setenv("HMS_PUBLIC_URL", BASE.removesuffix("/fhir"))
    get_settings.cache_clear()

    def request(method, url, json=None, headers=None, **_config):
        return _Answer(api.request(method, url, json=json, headers=headers))

    monkeypatch.setattr(lib_sync.requests, "request", request)
    assert lib_sync.requests is requests
    return SyncFHIRClient(BASE, authorization=f"Bearer {tokens.issue()}")


def _extra_rows(session) -> None:
    """Rows of the types the demo seed has none of (documents, procedures, images)."""
    patient_id = session.execute(select(Patient.id).order_by(Patient.id)).scalars().first()
    order = session.execute(select(ImagingOrder).order_by(ImagingOrder.id)).scalars().first()
    session.add_all(
        [
            Procedure(
                patient_id=patient_id,
                code="73761001",
                display="Colonoscopy",
                status="completed",
                performed_at=datetime(2026, 10, 1, 9, tzinfo=UTC),
            ),
            DocumentReference(
                patient_id=patient_id,
                title="Discharge letter",
                content_type="application/pdf",
                size_bytes=10,
                sha256="0" * 64,
                storage_key="fhir-test-doc",
            ),
            ImagingStudy(
                study_uid="1.2.826.0.1.3680043.8.498.1",
                order_id=order.id,
                patient_id=order.patient_id,
                accession=order.accession,
                modalities="CT",
                series_count=1,
            ),
        ]
    )
    session.commit()


EXAMPLES = {
    "Patient": lambda pid: {
        "name": [{"use": "official", "family": "Library", "given": ["Fhirpy"]}],
        "gender": "female",
        "birthDate": "1985-04-03",
        "identifier": [{"system": "urn:example:lib", "value": "LIB-1"}],
    },
    "Observation": lambda pid: {
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5", "display": "Body temperature"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "2026-11-30T08:00:00Z",
        "valueQuantity": {"value": 37.1, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"},
    },
    "Encounter": lambda pid: {
        "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{pid}"},
    },
    "Condition": lambda pid: {
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "code": {
            "coding": [
                {
                    "system": "http://hl7.org/fhir/sid/icd-10-cm",
                    "code": "I10",
                    "display": "Essential (primary) hypertension",
                }
            ]
        },
        "subject": {"reference": f"Patient/{pid}"},
        "onsetDateTime": "2025-02-01",
    },
    "AllergyIntolerance": lambda pid: {
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"text": "Latex"},
        "patient": {"reference": f"Patient/{pid}"},
        "reaction": [{"manifestation": [{"text": "Hives"}], "severity": "moderate"}],
    },
    "MedicationStatement": lambda pid: {
        "status": "active",
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "197361",
                    "display": "Amlodipine 5 MG Oral Tablet",
                }
            ],
            "text": "Amlodipine 5 mg tablet",
        },
        "subject": {"reference": f"Patient/{pid}"},
        "dosage": [{"text": "1 tablet daily"}],
    },
    "Immunization": lambda pid: {
        "status": "completed",
        "vaccineCode": {
            "coding": [
                {"system": "http://hl7.org/fhir/sid/cvx", "code": "140", "display": "Influenza, seasonal"}
            ]
        },
        "patient": {"reference": f"Patient/{pid}"},
        "occurrenceDateTime": "2026-10-15",
        "lotNumber": "FLU-123",
    },
    "MedicationRequest": lambda pid: {
        "status": "active",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                        "code": "outpatient",
                    }
                ]
            }
        ],
        "medicationCodeableConcept": {"coding": [{"system": "urn:hms:formulary", "code": "RX-APAP-500-TAB"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "dosageInstruction": [
            {
                "text": "500 mg four times a day",
                "timing": {
                    "code": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation",
                                "code": "QID",
                            }
                        ]
                    }
                },
                "route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}]},
                "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}],
            }
        ],
        "dispenseRequest": {
            "expectedSupplyDuration": {
                "value": 3,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            }
        },
    },
}
# What an update changes, and how the change shows in what is read back.
UPDATES = {
    "Patient": (lambda r: r.__setitem__("gender", "other"), lambda r: r["gender"] == "other"),
    "Observation": (
        lambda r: r["valueQuantity"].__setitem__("value", 37.4),
        lambda r: r["valueQuantity"]["value"] == 37.4,
    ),
    "Encounter": (lambda r: r.__setitem__("status", "finished"), lambda r: r["status"] == "finished"),
    "Condition": (
        lambda r: r["clinicalStatus"]["coding"][0].__setitem__("code", "resolved"),
        lambda r: r["clinicalStatus"]["coding"][0]["code"] == "resolved",
    ),
    "AllergyIntolerance": (
        lambda r: r["clinicalStatus"]["coding"][0].__setitem__("code", "inactive"),
        lambda r: r["clinicalStatus"]["coding"][0]["code"] == "inactive",
    ),
    "MedicationStatement": (
        lambda r: r.update(status="stopped", statusReason=[{"text": "Ankle swelling"}]),
        lambda r: r["status"] == "stopped",
    ),
    "MedicationRequest": (
        lambda r: r.update(status="stopped", statusReason={"text": "Course finished early"}),
        lambda r: r["status"] == "stopped",
    ),
}


def test_every_supported_type_round_trips_through_a_fhir_client_library(client, api, session):
    run_seeders(session, patients=12, seed=3, as_of=date(2026, 11, 1), stock_days=30)
    _extra_rows(session)
    patient_id = session.execute(select(Patient.id).order_by(Patient.id)).scalars().first()
    session.rollback()
    statement = api.get("/fhir/metadata").json()
    types = {entry["type"]: entry for entry in statement["rest"][0]["resource"]}

    written = {}
    for resource_type, example in EXAMPLES.items():
        assert "create" in {i["code"] for i in types[resource_type]["interaction"]}, resource_type
        created = client.resource(resource_type, **example(patient_id))
        created.create()
        assert created.id, resource_type
        written[resource_type] = created.id
        read = client.reference(resource_type, created.id).to_resource().serialize()
        get_fhir_model_class(resource_type).model_validate(read)
        if resource_type in UPDATES:
            change, changed = UPDATES[resource_type]
            change(read)
            updated = client.resource(resource_type, **read)
            updated.save()
            again = client.reference(resource_type, created.id).to_resource().serialize()
            assert changed(again), (resource_type, again)
            assert again["meta"]["versionId"] == "2", resource_type
        else:
            with pytest.raises(OperationOutcome):
                client.resource(resource_type, **read).save()

    assert not set(EXAMPLES) - set(types)
    creatable = {t for t, entry in types.items() if "create" in {i["code"] for i in entry["interaction"]}}
    assert creatable == set(EXAMPLES), "every type the server creates has an example here"
    for resource_type, entry in types.items():
        found = client.resources(resource_type).limit(5).fetch()
        assert found, f"no {resource_type} found: add data for it to this test"
        for resource in found:
            body = resource.serialize()
            get_fhir_model_class(resource_type).model_validate(body)
            assert client.reference(resource_type, resource.id).to_resource().serialize() == body
        for param in ("patient", "subject"):
            if param in {p["name"] for p in entry["searchParam"]} and resource_type in written:
                own = client.resources(resource_type).search(**{param: f"Patient/{patient_id}"}).fetch_all()
                assert written[resource_type] in {r.id for r in own}, (resource_type, param)
    library = client.resources("Patient").search(identifier="urn:example:lib|LIB-1").fetch_all()
    assert [p.id for p in library] == [written["Patient"]]
