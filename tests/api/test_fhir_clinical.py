"""The clinical resource types over FHIR (Encounter, Condition, AllergyIntolerance,
MedicationStatement, Immunization), as a client and an attacker would try them: what is written
reads back, searches find it and only it, bad resources are refused naming the element, and a
token is held to its scopes and its patient."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from hms_app.models.emr import Encounter
from tests.api import fhir_support
from tests.api.fhir_support import headers

api = fhir_support.api
tokens = fhir_support.tokens

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
EXT = {"url": "http://example.org/fhir/StructureDefinition/source-system", "valueString": "clinic-kiosk"}
TODAY = datetime.now(UTC).date()


def new_patient(api, token: str, family: str) -> int:
    body = {
        "resourceType": "Patient",
        "name": [{"family": family, "given": ["Test"]}],
        "gender": "female",
        "birthDate": "1970-01-01",
    }
    answer = api.post("/fhir/Patient", json=body, headers=headers(token))
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def encounter(pid: int) -> dict:
    # Shaped like the spec's Encounter "example", with a reason and an element HMS does not model.
    return {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": ACT, "code": "AMB", "display": "ambulatory"},
        "subject": {"reference": f"Patient/{pid}"},
        "reasonCode": [{"text": "Chest pain on exertion"}],
        "priority": {"coding": [{"system": ACT, "code": "R", "display": "routine"}]},
        "extension": [EXT],
    }


ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def condition(pid: int, code: str = "T20.111A") -> dict:
    # The spec's Condition "example" (a burn of the ear), coded in ICD-10-CM.
    return {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
        "verificationStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "encounter-diagnosis",
                        "display": "Encounter Diagnosis",
                    }
                ]
            }
        ],
        "severity": {
            "coding": [{"system": "http://snomed.info/sct", "code": "24484000", "display": "Severe"}]
        },
        "code": {
            "coding": [{"system": ICD, "code": code, "display": "Burn of first degree of right ear"}],
            "text": "Burnt Ear",
        },
        "bodySite": [
            {"coding": [{"system": "http://snomed.info/sct", "code": "49521004"}], "text": "Left ear"}
        ],
        "subject": {"reference": f"Patient/{pid}"},
        "onsetDateTime": "2012-05-24",
        "extension": [EXT],
    }


ALLERGY = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"


def allergy(pid: int, substance: str = "Cashew nuts") -> dict:
    # After the spec's AllergyIntolerance "example" (cashew nuts, anaphylactic reaction).
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {"coding": [{"system": ALLERGY, "code": "active", "display": "Active"}]},
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "code": "confirmed",
                }
            ]
        },
        "type": "allergy",
        "category": ["food"],
        "criticality": "high",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "227493005"}], "text": substance},
        "patient": {"reference": f"Patient/{pid}"},
        "reaction": [
            {
                "manifestation": [{"text": "Anaphylactic reaction"}],
                "severity": "severe",
                "exposureRoute": {"text": "Oral"},
            }
        ],
        "extension": [EXT],
    }


RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def medication(pid: int, code: str = "197361", name: str = "Amlodipine 5 MG Oral Tablet") -> dict:
    # After the spec's MedicationStatement "example001", with the medicine as an RxNorm concept.
    return {
        "resourceType": "MedicationStatement",
        "status": "active",
        "category": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/medication-statement-category",
                    "code": "inpatient",
                }
            ]
        },
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": code, "display": name}],
            "text": name,
        },
        "subject": {"reference": f"Patient/{pid}"},
        "effectivePeriod": {"start": "2024-02-01"},
        "note": [{"text": "Patient indicates they miss the occasional dose"}],
        "dosage": [{"sequence": 1, "text": "1 tablet daily"}],
        "extension": [EXT],
    }


CVX = "http://hl7.org/fhir/sid/cvx"


def immunization(pid: int, code: str = "141", day: str = "2013-01-10") -> dict:
    # The spec's Immunization "example" (an influenza vaccine), coded in CVX.
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {
            "coding": [{"system": CVX, "code": code, "display": "Influenza, seasonal, injectable"}],
            "text": "Fluvax (Influenza)",
        },
        "patient": {"reference": f"Patient/{pid}"},
        "occurrenceDateTime": day,
        "primarySource": True,
        "lotNumber": "AAJN11K",
        "expirationDate": "2015-02-15",
        "site": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActSite", "code": "LA"}]},
        "doseQuantity": {"value": 5, "system": "http://unitsofmeasure.org", "code": "mg"},
        "extension": [EXT],
    }


# type -> (an example for a patient, the element the type's patient link is in, an unmodelled element)
EXAMPLES: dict[str, tuple[Callable[[int], dict], str, str]] = {
    "Encounter": (encounter, "subject", "priority"),
    "Condition": (condition, "subject", "bodySite"),
    "AllergyIntolerance": (allergy, "patient", "criticality"),
    "MedicationStatement": (medication, "subject", "note"),
    "Immunization": (immunization, "patient", "site"),
}
TYPES = list(EXAMPLES)


def create(api, token: str, resource: dict) -> dict:
    answer = api.post(f"/fhir/{resource['resourceType']}", json=resource, headers=headers(token))
    assert answer.status_code == 201, answer.text
    return answer.json()


def search(api, token: str, query: str) -> list[str]:
    answer = api.get(f"/fhir/{query}", headers=headers(token))
    assert answer.status_code == 200, answer.text
    return [entry["resource"]["id"] for entry in answer.json().get("entry", [])]


def refused(answer, status: int, expression: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    where = [e for issue in body["issue"] for e in issue.get("expression", [])]
    assert any(e.startswith(expression) for e in where), body
    return " ".join(issue["diagnostics"] for issue in body["issue"])


# --- every type ------------------------------------------------------------------------------


@pytest.mark.parametrize("resource_type", TYPES)
def test_unmodelled_elements_are_kept_and_read_back(api, tokens, resource_type):
    token = tokens.issue()
    pid = new_patient(api, token, "Keeper")
    example, link, unmodelled = EXAMPLES[resource_type]
    sent = example(pid)
    made = create(api, token, sent)
    read = api.get(f"/fhir/{resource_type}/{made['id']}", headers=headers(token)).json()
    assert read["extension"] == [EXT]
    assert read[unmodelled] == sent[unmodelled]
    assert read[link] == {"reference": f"Patient/{pid}"}
    assert read["meta"]["versionId"] == "1"


@pytest.mark.parametrize("resource_type", TYPES)
def test_a_token_without_the_write_scope_cannot_create(api, tokens, resource_type):
    writer = tokens.issue()
    pid = new_patient(api, writer, "Scope")
    reader = tokens.issue(scopes=f"system/{resource_type}.read system/Patient.read")
    answer = api.post(f"/fhir/{resource_type}", json=EXAMPLES[resource_type][0](pid), headers=headers(reader))
    assert answer.status_code == 403, answer.text
    assert answer.json()["issue"][0]["code"] == "forbidden"
    assert search(api, writer, f"{resource_type}?patient={pid}") == []


@pytest.mark.parametrize("resource_type", TYPES)
def test_a_patient_token_sees_only_its_own_patient(api, tokens, resource_type):
    staff = tokens.issue()
    mine, theirs = new_patient(api, staff, "Mine"), new_patient(api, staff, "Theirs")
    example = EXAMPLES[resource_type][0]
    my_row = create(api, staff, example(mine))["id"]
    their_row = create(api, staff, example(theirs))["id"]
    patient = tokens.issue(scopes=f"patient/{resource_type}.read", patient_id=mine)

    assert api.get(f"/fhir/{resource_type}/{my_row}", headers=headers(patient)).status_code == 200
    answer = api.get(f"/fhir/{resource_type}/{their_row}", headers=headers(patient))
    assert answer.status_code == 404, answer.text
    assert search(api, patient, resource_type) == [my_row]
    assert search(api, patient, f"{resource_type}?patient={theirs}") == []
    assert search(api, patient, f"{resource_type}?_id={their_row}") == []
    # ... and it cannot write into someone else's record either.
    writer = tokens.issue(scopes=f"patient/{resource_type}.write", patient_id=mine)
    answer = api.post(f"/fhir/{resource_type}", json=example(theirs), headers=headers(writer))
    assert answer.status_code == 403, answer.text


@pytest.mark.parametrize("resource_type", TYPES)
def test_everything_includes_the_type(api, tokens, resource_type):
    token = tokens.issue()
    pid, other = new_patient(api, token, "Whole"), new_patient(api, token, "Other")
    mine = create(api, token, EXAMPLES[resource_type][0](pid))["id"]
    create(api, token, EXAMPLES[resource_type][0](other))
    bundle = api.get(f"/fhir/Patient/{pid}/$everything", headers=headers(token)).json()
    found = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]]
    assert found.count((resource_type, mine)) == 1
    assert [f for f in found if f[0] == resource_type] == [(resource_type, mine)]


# --- Encounter -------------------------------------------------------------------------------


def test_encounter_reads_back_as_the_hospital_opened_it(api, tokens, session):
    token = tokens.issue()
    user_id = tokens.issued[token].actor.user_id
    pid = new_patient(api, token, "Visit")
    sent = encounter(pid) | {"period": {"start": "2001-01-01T00:00:00Z"}}
    made = create(api, token, sent)
    read = api.get(f"/fhir/Encounter/{made['id']}", headers=headers(token)).json()
    assert read["status"] == "in-progress"
    assert read["class"] == {"system": ACT, "code": "AMB", "display": "ambulatory"}
    assert read["reasonCode"] == [{"text": "Chest pain on exertion"}]
    assert read["participant"] == [{"individual": {"reference": f"Practitioner/{user_id}"}}]
    # Opened now by the service, not on the day the client claimed.
    start = datetime.fromisoformat(read["period"]["start"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - start) < timedelta(minutes=5)
    assert "end" not in read["period"]
    # The chart sees the visit as an outpatient one (AMB), opened by the client's user.
    row = session.get(Encounter, int(made["id"]))
    stored = (row.encounter_class, row.practitioner_id, row.status)
    session.rollback()  # end the test's read: on SQLite it would hold off the API's next write
    assert stored == ("outpatient", user_id, "in-progress")

    finished = read | {"status": "finished"}
    answer = api.put(f"/fhir/Encounter/{made['id']}", json=finished, headers=headers(token))
    assert answer.status_code == 200, answer.text
    again = api.get(f"/fhir/Encounter/{made['id']}", headers=headers(token)).json()
    assert again["status"] == "finished" and "end" in again["period"]
    assert again["meta"]["versionId"] == "2"
    assert again["extension"] == [EXT]

    reopened = again | {"status": "in-progress"}
    answer = api.put(f"/fhir/Encounter/{made['id']}", json=reopened, headers=headers(token))
    refused(answer, 422, "Encounter.status")
    moved = again | {"class": {"system": ACT, "code": "IMP"}}
    refused(
        api.put(f"/fhir/Encounter/{made['id']}", json=moved, headers=headers(token)), 422, "Encounter.class"
    )


def test_encounter_search_parameters(api, tokens):
    token = tokens.issue()
    user_id = tokens.issued[token].actor.user_id
    pid, other = new_patient(api, token, "Finder"), new_patient(api, token, "Nobody")
    first = create(api, token, encounter(pid))["id"]
    second = create(api, token, encounter(pid) | {"class": {"system": ACT, "code": "EMER"}})["id"]
    api.put(
        f"/fhir/Encounter/{second}",
        json=encounter(pid) | {"id": second, "class": {"system": ACT, "code": "EMER"}, "status": "finished"},
        headers=headers(token),
    )
    yesterday, tomorrow = TODAY - timedelta(days=1), TODAY + timedelta(days=1)
    cases = {
        f"patient={pid}": {first, second},
        f"subject=Patient/{pid}": {first, second},
        f"patient={other}": set(),
        "class=AMB": {first},
        f"class={ACT}|EMER": {second},
        "class=IMP": set(),
        "class=http://example.org|AMB": set(),
        "status=in-progress": {first},
        "status=finished": {second},
        f"date=ge{yesterday.isoformat()}": {first, second},
        f"date=lt{yesterday.isoformat()}": set(),
        f"date=gt{tomorrow.isoformat()}": set(),
        f"practitioner=Practitioner/{user_id}": {first, second},
        f"practitioner=Practitioner/{user_id + 999}": set(),
    }
    for query, expected in cases.items():
        found = search(api, token, f"Encounter?patient={pid}&{query}")
        assert set(found) == expected, query
    assert search(api, token, f"Encounter?patient={pid}&_sort=date") == [first, second]
    assert search(api, token, f"Encounter?patient={pid}&_sort=-date") == [second, first]
    answer = api.get("/fhir/Encounter?date=yesterday", headers=headers(token))
    assert answer.status_code == 400


def test_encounter_invalid_resources_are_refused_naming_the_element(api, tokens):
    token = tokens.issue()
    pid = new_patient(api, token, "Wrong")
    bad_class = encounter(pid) | {"class": {"system": "http://example.org/classes", "code": "AMB"}}
    refused(api.post("/fhir/Encounter", json=bad_class, headers=headers(token)), 422, "Encounter.class")
    no_status = {k: v for k, v in encounter(pid).items() if k != "status"}
    refused(api.post("/fhir/Encounter", json=no_status, headers=headers(token)), 400, "Encounter.status")
    no_subject = {k: v for k, v in encounter(pid).items() if k != "subject"}
    refused(api.post("/fhir/Encounter", json=no_subject, headers=headers(token)), 422, "Encounter.subject")
    planned = encounter(pid) | {"status": "planned"}
    refused(api.post("/fhir/Encounter", json=planned, headers=headers(token)), 422, "Encounter.status")
    assert search(api, token, f"Encounter?patient={pid}") == []


# --- Condition -------------------------------------------------------------------------------


def test_condition_reads_back_and_resolves(api, tokens):
    token = tokens.issue()
    pid = new_patient(api, token, "Problem")
    made = create(api, token, condition(pid) | {"recordedDate": "1999-01-01"})
    read = api.get(f"/fhir/Condition/{made['id']}", headers=headers(token)).json()
    assert read["code"]["coding"][0]["system"] == ICD and read["code"]["coding"][0]["code"] == "T20.111A"
    assert read["clinicalStatus"]["coding"][0] == {"system": CLINICAL, "code": "active"}
    assert read["onsetDateTime"] == "2012-05-24"
    assert read["recordedDate"].startswith(TODAY.isoformat()[:4])  # the hospital's, not the client's 1999
    assert read["severity"] == condition(pid)["severity"] and read["category"] == condition(pid)["category"]

    resolved = read | {
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "resolved"}]},
        "abatementDateTime": "2012-06-30",
    }
    answer = api.put(f"/fhir/Condition/{made['id']}", json=resolved, headers=headers(token))
    assert answer.status_code == 200, answer.text
    again = api.get(f"/fhir/Condition/{made['id']}", headers=headers(token)).json()
    assert again["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert again["abatementDateTime"] == "2012-06-30"
    assert search(api, token, f"Condition?patient={pid}&clinical-status=resolved") == [made["id"]]

    recoded = again | {"code": {"coding": [{"system": ICD, "code": "E11.9"}]}}
    refused(
        api.put(f"/fhir/Condition/{made['id']}", json=recoded, headers=headers(token)), 422, "Condition.code"
    )
    relapse = again | {"clinicalStatus": {"coding": [{"system": CLINICAL, "code": "relapse"}]}}
    answer = api.put(f"/fhir/Condition/{made['id']}", json=relapse, headers=headers(token))
    refused(answer, 422, "Condition.clinicalStatus")


def test_condition_search_parameters(api, tokens):
    token = tokens.issue()
    pid, other = new_patient(api, token, "Coded"), new_patient(api, token, "Uncoded")
    burn = create(api, token, condition(pid))["id"]
    diabetes = create(api, token, condition(pid, "E11.9") | {"onsetDateTime": "2020-03-01"})["id"]
    cases = {
        f"patient={pid}": {burn, diabetes},
        f"patient={other}": set(),
        "code=E11.9": {diabetes},
        f"code={ICD}|T20.111A": {burn},
        "code=http://snomed.info/sct|T20.111A": set(),
        "code=I10": set(),
        "clinical-status=active": {burn, diabetes},
        f"clinical-status={CLINICAL}|resolved": set(),
        "onset-date=2012-05-24": {burn},
        "onset-date=ge2015": {diabetes},
        "onset-date=lt2000": set(),
    }
    for query, expected in cases.items():
        assert set(search(api, token, f"Condition?patient={pid}&{query}")) == expected, query
    healed = condition(pid, "I10") | {
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "resolved"}]}
    }
    made = create(api, token, healed)
    assert made["abatementDateTime"] == TODAY.isoformat()  # resolved without a date: resolved today
    assert search(api, token, f"Condition?patient={pid}&clinical-status=resolved") == [made["id"]]
    assert search(api, token, f"Condition?patient={pid}&clinical-status=active&_sort=onset-date") == [
        burn,
        diabetes,
    ]
    assert search(api, token, f"Condition?patient={pid}&clinical-status=active&_sort=-onset-date") == [
        diabetes,
        burn,
    ]


def test_condition_invalid_resources_are_refused_naming_the_element(api, tokens):
    token = tokens.issue()
    pid = new_patient(api, token, "Miscoded")
    snomed = condition(pid) | {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "39065001"}]}}
    text = refused(api.post("/fhir/Condition", json=snomed, headers=headers(token)), 422, "Condition.code")
    assert "ICD-10-CM" in text
    not_a_code = condition(pid, "ZZZ.99")
    refused(api.post("/fhir/Condition", json=not_a_code, headers=headers(token)), 422, "Condition.code")
    no_subject = {k: v for k, v in condition(pid).items() if k != "subject"}
    refused(api.post("/fhir/Condition", json=no_subject, headers=headers(token)), 400, "Condition.subject")
    future = condition(pid) | {"onsetDateTime": (TODAY + timedelta(days=30)).isoformat()}
    refused(api.post("/fhir/Condition", json=future, headers=headers(token)), 422, "Condition.onsetDateTime")
    abated = condition(pid) | {"abatementDateTime": "2013-01-01"}
    refused(
        api.post("/fhir/Condition", json=abated, headers=headers(token)), 422, "Condition.abatementDateTime"
    )
    create(api, token, condition(pid))
    answer = api.post("/fhir/Condition", json=condition(pid), headers=headers(token))
    assert answer.status_code == 409, answer.text  # already on the active problem list
    assert len(search(api, token, f"Condition?patient={pid}")) == 1


# --- AllergyIntolerance ----------------------------------------------------------------------


def test_allergy_reads_back_and_changes_status(api, tokens):
    token = tokens.issue()
    pid = new_patient(api, token, "Allergic")
    made = create(api, token, allergy(pid))
    read = api.get(f"/fhir/AllergyIntolerance/{made['id']}", headers=headers(token)).json()
    assert read["code"]["text"] == "Cashew nuts"
    assert read["reaction"][0]["severity"] == "severe"
    assert read["reaction"][0]["manifestation"] == [{"text": "Anaphylactic reaction"}]
    assert read["clinicalStatus"]["coding"][0]["code"] == "active"
    assert read["patient"] == {"reference": f"Patient/{pid}"}

    inactive = read | {"clinicalStatus": {"coding": [{"system": ALLERGY, "code": "inactive"}]}}
    answer = api.put(f"/fhir/AllergyIntolerance/{made['id']}", json=inactive, headers=headers(token))
    assert answer.status_code == 200, answer.text
    again = api.get(f"/fhir/AllergyIntolerance/{made['id']}", headers=headers(token)).json()
    assert again["clinicalStatus"]["coding"][0]["code"] == "inactive"
    milder = again | {
        "reaction": [{"manifestation": [{"text": "Anaphylactic reaction"}], "severity": "mild"}]
    }
    answer = api.put(f"/fhir/AllergyIntolerance/{made['id']}", json=milder, headers=headers(token))
    refused(answer, 422, "AllergyIntolerance.reaction")


def test_allergy_search_parameters(api, tokens):
    token = tokens.issue()
    pid, other = new_patient(api, token, "Sneezy"), new_patient(api, token, "Clear")
    cashew = create(api, token, allergy(pid))["id"]
    penicillin = allergy(pid, "Penicillin")
    penicillin["clinicalStatus"] = {"coding": [{"system": ALLERGY, "code": "resolved"}]}
    resolved = create(api, token, penicillin)["id"]
    cases = {
        f"patient={pid}": {cashew, resolved},
        f"patient=Patient/{other}": set(),
        "clinical-status=active": {cashew},
        f"clinical-status={ALLERGY}|resolved": {resolved},
        "clinical-status=inactive": set(),
        "clinical-status=http://example.org|active": set(),
    }
    for query, expected in cases.items():
        assert set(search(api, token, f"AllergyIntolerance?patient={pid}&{query}")) == expected, query
    answer = api.get(f"/fhir/AllergyIntolerance?subject={pid}", headers=headers(token))
    assert answer.status_code == 400  # AllergyIntolerance names its patient "patient", not subject


def test_allergy_invalid_resources_are_refused_naming_the_element(api, tokens):
    token = tokens.issue()
    pid = new_patient(api, token, "Unclear")
    no_patient = {k: v for k, v in allergy(pid).items() if k != "patient"}
    refused(
        api.post("/fhir/AllergyIntolerance", json=no_patient, headers=headers(token)),
        400,
        "AllergyIntolerance.patient",
    )
    bad_severity = allergy(pid) | {"reaction": [{"manifestation": [{"text": "Rash"}], "severity": "deadly"}]}
    refused(
        api.post("/fhir/AllergyIntolerance", json=bad_severity, headers=headers(token)),
        422,
        "AllergyIntolerance.reaction[0].severity",
    )
    bad_status = allergy(pid) | {
        "clinicalStatus": {"coding": [{"system": "http://example.org", "code": "on"}]}
    }
    refused(
        api.post("/fhir/AllergyIntolerance", json=bad_status, headers=headers(token)),
        422,
        "AllergyIntolerance.clinicalStatus",
    )
    no_substance = allergy(pid) | {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}}
    refused(
        api.post("/fhir/AllergyIntolerance", json=no_substance, headers=headers(token)),
        422,
        "AllergyIntolerance.code",
    )
    assert search(api, token, f"AllergyIntolerance?patient={pid}") == []


# --- MedicationStatement ---------------------------------------------------------------------


def test_medication_reads_back_and_stops(api, tokens):
    token = tokens.issue()
    pid = new_patient(api, token, "Tablets")
    made = create(api, token, medication(pid))
    url = f"/fhir/MedicationStatement/{made['id']}"
    read = api.get(url, headers=headers(token)).json()
    assert read["status"] == "active"
    assert read["medicationCodeableConcept"]["coding"][0] == {
        "system": RXNORM,
        "code": "197361",
        "display": "Amlodipine 5 MG Oral Tablet",
    }
    assert read["dosage"][0]["text"] == "1 tablet daily"
    assert read["effectivePeriod"] == {"start": "2024-02-01"}

    no_reason = read | {"status": "stopped"}
    refused(api.put(url, json=no_reason, headers=headers(token)), 422, "MedicationStatement.statusReason")
    stopped = no_reason | {
        "statusReason": [{"text": "Ankle swelling"}],
        "effectivePeriod": {"start": "2024-02-01", "end": "2024-03-15"},
    }
    answer = api.put(url, json=stopped, headers=headers(token))
    assert answer.status_code == 200, answer.text
    again = api.get(url, headers=headers(token)).json()
    assert again["status"] == "stopped"
    assert again["statusReason"] == [{"text": "Ankle swelling"}]
    assert again["effectivePeriod"] == {"start": "2024-02-01", "end": "2024-03-15"}
    restarted = again | {"status": "active"}
    refused(api.put(url, json=restarted, headers=headers(token)), 422, "MedicationStatement.status")
    redosed = again | {"dosage": [{"text": "2 tablets daily"}]}
    refused(api.put(url, json=redosed, headers=headers(token)), 422, "MedicationStatement.dosage")


def test_medication_search_parameters(api, tokens):
    token = tokens.issue()
    pid, other = new_patient(api, token, "Pills"), new_patient(api, token, "NoPills")
    amlodipine = create(api, token, medication(pid))["id"]
    metformin = medication(pid, "860975", "Metformin 500 MG Oral Tablet") | {
        "status": "stopped",
        "statusReason": [{"text": "Stomach upset"}],
        "effectivePeriod": {"start": "2023-01-01", "end": "2023-06-01"},
    }
    stopped = create(api, token, metformin)["id"]
    cases = {
        f"patient={pid}": {amlodipine, stopped},
        f"patient={other}": set(),
        "status=active": {amlodipine},
        "status=stopped": {stopped},
        "status=completed": set(),
        "code=197361": {amlodipine},
        f"code={RXNORM}|860975": {stopped},
        "code=http://snomed.info/sct|860975": set(),
        "code=999999": set(),
        "effective=ge2024": {amlodipine},
        "effective=lt2020": set(),
    }
    for query, expected in cases.items():
        assert set(search(api, token, f"MedicationStatement?patient={pid}&{query}")) == expected, query
    assert search(api, token, f"MedicationStatement?patient={pid}&_sort=effective") == [stopped, amlodipine]


def test_medication_invalid_resources_are_refused_naming_the_element(api, tokens):
    token = tokens.issue()
    pid = new_patient(api, token, "Unlisted")
    no_medicine = {k: v for k, v in medication(pid).items() if k != "medicationCodeableConcept"}
    # The core names the resource for a missing choice element; the message names the element.
    text = refused(
        api.post("/fhir/MedicationStatement", json=no_medicine, headers=headers(token)),
        400,
        "MedicationStatement",
    )
    assert "medicationCodeableConcept" in text
    bad_status = medication(pid) | {"status": "taking"}
    refused(
        api.post("/fhir/MedicationStatement", json=bad_status, headers=headers(token)),
        422,
        "MedicationStatement.status",
    )
    referenced = {k: v for k, v in medication(pid).items() if k != "medicationCodeableConcept"} | {
        "medicationReference": {"reference": "#med0309"}
    }
    refused(
        api.post("/fhir/MedicationStatement", json=referenced, headers=headers(token)),
        422,
        "MedicationStatement.medicationReference",
    )
    future = medication(pid) | {"effectivePeriod": {"start": (TODAY + timedelta(days=9)).isoformat()}}
    refused(
        api.post("/fhir/MedicationStatement", json=future, headers=headers(token)),
        422,
        "MedicationStatement.effectivePeriod.start",
    )
    assert search(api, token, f"MedicationStatement?patient={pid}") == []


# --- Immunization ----------------------------------------------------------------------------


def test_immunization_reads_back_and_is_not_rewritten(api, tokens):
    token = tokens.issue()
    pid = new_patient(api, token, "Jabbed")
    made = create(api, token, immunization(pid))
    read = api.get(f"/fhir/Immunization/{made['id']}", headers=headers(token)).json()
    assert read["status"] == "completed"
    assert (
        read["vaccineCode"]["coding"][0]["system"] == CVX
        and read["vaccineCode"]["coding"][0]["code"] == "141"
    )
    assert read["occurrenceDateTime"] == "2013-01-10"
    assert read["lotNumber"] == "AAJN11K"
    assert read["expirationDate"] == "2015-02-15" and read["doseQuantity"]["value"] == 5
    answer = api.put(
        f"/fhir/Immunization/{made['id']}", json=read | {"lotNumber": "X"}, headers=headers(token)
    )
    assert answer.status_code == 405, answer.text
    assert (
        api.get(f"/fhir/Immunization/{made['id']}", headers=headers(token)).json()["lotNumber"] == "AAJN11K"
    )


def test_immunization_search_parameters(api, tokens):
    token = tokens.issue()
    pid, other = new_patient(api, token, "Vaccinated"), new_patient(api, token, "Unvaccinated")
    flu = create(api, token, immunization(pid))["id"]
    tetanus = create(api, token, immunization(pid, "115", "2020-06-15"))["id"]
    cases = {
        f"patient={pid}": {flu, tetanus},
        f"patient={other}": set(),
        "vaccine-code=141": {flu},
        f"vaccine-code={CVX}|115": {tetanus},
        "vaccine-code=http://snomed.info/sct|115": set(),
        "vaccine-code=207": set(),
        "date=2013-01-10": {flu},
        "date=ge2015": {tetanus},
        "date=lt2010": set(),
        "status=completed": {flu, tetanus},
        "status=not-done": set(),
    }
    for query, expected in cases.items():
        assert set(search(api, token, f"Immunization?patient={pid}&{query}")) == expected, query
    assert search(api, token, f"Immunization?patient={pid}&_sort=date") == [flu, tetanus]
    assert search(api, token, f"Immunization?patient={pid}") == [tetanus, flu]  # newest first


def test_immunization_invalid_resources_are_refused_naming_the_element(api, tokens):
    token = tokens.issue()
    pid = new_patient(api, token, "Unjabbed")
    oid = immunization(pid) | {
        "vaccineCode": {"coding": [{"system": "urn:oid:1.2.36.1.2001.1005.17", "code": "FLUVAX"}]}
    }
    text = refused(
        api.post("/fhir/Immunization", json=oid, headers=headers(token)), 422, "Immunization.vaccineCode"
    )
    assert "CVX" in text
    no_code = {k: v for k, v in immunization(pid).items() if k != "vaccineCode"}
    refused(
        api.post("/fhir/Immunization", json=no_code, headers=headers(token)), 400, "Immunization.vaccineCode"
    )
    before_birth = immunization(pid, day="1960-01-01")
    refused(
        api.post("/fhir/Immunization", json=before_birth, headers=headers(token)),
        422,
        "Immunization.occurrenceDateTime",
    )
    not_done = immunization(pid) | {"status": "not-done"}
    refused(api.post("/fhir/Immunization", json=not_done, headers=headers(token)), 422, "Immunization.status")
    assert search(api, token, f"Immunization?patient={pid}") == []


def test_the_capability_statement_lists_the_clinical_types(api, tokens):
    answer = api.get("/fhir/metadata", headers=headers(tokens.issue()))
    assert answer.status_code == 200, answer.text
    resources = {r["type"]: r for r in answer.json()["rest"][0]["resource"]}
    for resource_type in TYPES:
        assert resource_type in resources
    params = {p["name"] for p in resources["Condition"]["searchParam"]}
    assert {"patient", "code", "clinical-status", "onset-date"} <= params
