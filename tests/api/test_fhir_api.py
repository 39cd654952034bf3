"""The FHIR R4 API as a client uses it (the core interactions on Patient and Observation): what a
client writes comes back with every element it sent; searches filter, sort and page as FHIR
says; bad input is refused with an OperationOutcome naming the element; a transaction is all or
nothing; and as an attacker: no token, the wrong scopes, the wrong role, another patient's ids,
oversized and malformed bodies. Every answer carrying patient data is in the audit trail."""

from __future__ import annotations

import copy

from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select

from hms_app.interop.fhir.elements import MRN_SYSTEM
from hms_app.models.emr import Observation
from hms_app.models.patients import Patient
from hms_app.models.security import AuditEvent
from hms_app.services.patients.records import update_patient
from hms_app.services.permissions import SYSTEM_ACTOR
from tests.api.fhir_support import FHIR_JSON, headers

# Shaped like the specification's own examples (Patient "example", Observation "heart-rate").
PATIENT = {
    "resourceType": "Patient",
    "extension": [
        {
            "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
            "valueCode": "F",
        }
    ],
    "identifier": [{"use": "secondary", "system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
    "active": True,
    "name": [
        {"use": "official", "family": "Chalmers", "given": ["Peter", "James"], "prefix": ["Mr"]},
        {"use": "usual", "given": ["Jim"]},
    ],
    "telecom": [
        {"system": "phone", "value": "(03) 5555 6473", "use": "home"},
        {"system": "email", "value": "jim@example.org"},
    ],
    "gender": "male",
    "birthDate": "1974-12-25",
    "maritalStatus": {"text": "Married"},
    "address": [
        {
            "use": "home",
            "line": ["534 Erewhon St"],
            "city": "PleasantVille",
            "postalCode": "3999",
            "country": "AU",
        }
    ],
}


def heart_rate(patient_id: str, value: float = 44, when: str = "2026-11-02T09:30:00Z") -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                        "display": "Vital Signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": "beats/minute",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
        "note": [{"text": "taken at rest"}],
    }


def _create(api, token, resource, **extra) -> dict:
    response = api.post(f"/fhir/{resource['resourceType']}", json=resource, headers=headers(token, **extra))
    assert response.status_code in (200, 201), response.text
    return response.json()


def _issues(response) -> list[dict]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"]


def test_metadata_is_a_valid_capability_statement_listing_exactly_the_mapped_types(api):
    response = api.get("/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(FHIR_JSON)
    statement = response.json()
    get_fhir_model_class("CapabilityStatement").model_validate(statement)
    assert statement["fhirVersion"] == "4.0.1"
    types = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {"Patient", "Observation"} <= set(types)
    patient_params = {p["name"] for p in types["Patient"]["searchParam"]}
    assert {"_id", "identifier", "name", "birthdate", "gender"} <= patient_params
    assert {"code", "date", "patient", "subject"} <= {p["name"] for p in types["Observation"]["searchParam"]}
    assert {"create", "update", "read", "search-type"} <= {i["code"] for i in types["Patient"]["interaction"]}


def test_a_patient_written_and_read_back_keeps_every_element_and_gets_an_mrn(api, tokens, session):
    token = tokens.issue()
    created = _create(api, token, PATIENT)
    assert created["meta"]["versionId"] == "1"
    read = api.get(f"/fhir/Patient/{created['id']}", headers=headers(token)).json()
    get_fhir_model_class("Patient").model_validate(read)
    for element in (
        "extension",
        "name",
        "telecom",
        "gender",
        "birthDate",
        "maritalStatus",
        "address",
        "active",
    ):
        assert read[element] == PATIENT[element], element
    mrn = session.get(Patient, int(created["id"])).mrn
    assert {"system": MRN_SYSTEM, "value": mrn} in [
        {k: i[k] for k in ("system", "value")} for i in read["identifier"]
    ]
    assert PATIENT["identifier"][0] in read["identifier"]
    row = session.get(Patient, int(created["id"]))
    session.rollback()
    assert (row.given_name, row.middle_name, row.family_name, row.phone) == (
        "Peter",
        "James",
        "Chalmers",
        "(03) 5555 6473",
    )


def test_a_change_made_on_a_screen_wins_over_what_the_client_wrote(api, tokens, session):
    token = tokens.issue()
    created = _create(api, token, PATIENT)
    data = {
        "given_name": "Peter",
        "middle_name": "James",
        "family_name": "Chalmers-Smith",
        "sex": "male",
        "birth_date": "1974-12-25",
        "phone": "(03) 5555 6473",
        "email": "jim@example.org",
        "address_line": "534 Erewhon St",
        "city": "PleasantVille",
        "postal_code": "3999",
        "country": "AU",
    }
    update_patient(session, actor=SYSTEM_ACTOR, patient_id=int(created["id"]), data=data)
    session.rollback()
    read = api.get(f"/fhir/Patient/{created['id']}", headers=headers(token)).json()
    assert read["name"][0]["family"] == "Chalmers-Smith"
    assert read["extension"] == PATIENT["extension"]  # elements HMS does not hold are still there
    assert read["telecom"] == PATIENT["telecom"]  # unchanged on the screen: as the client wrote it


def test_update_keeps_versions_and_if_match_stops_a_lost_update(api, tokens):
    token = tokens.issue()
    created = _create(api, token, PATIENT)
    changed = copy.deepcopy(created)
    changed["birthDate"] = "1974-12-24"
    response = api.put(
        f"/fhir/Patient/{created['id']}", json=changed, headers=headers(token, **{"If-Match": 'W/"1"'})
    )
    assert response.status_code == 200, response.text
    assert response.json()["meta"]["versionId"] == "2"
    stale = api.put(
        f"/fhir/Patient/{created['id']}", json=changed, headers=headers(token, **{"If-Match": 'W/"1"'})
    )
    assert stale.status_code == 412
    first = api.get(f"/fhir/Patient/{created['id']}/_history/1", headers=headers(token)).json()
    assert first["birthDate"] == "1974-12-25"
    history = api.get(f"/fhir/Patient/{created['id']}/_history", headers=headers(token)).json()
    assert history["total"] == 2
    other_id = copy.deepcopy(changed) | {"id": "999"}
    assert api.put(f"/fhir/Patient/{created['id']}", json=other_id, headers=headers(token)).status_code == 400


def test_searches_filter_sort_and_page(api, tokens):
    token = tokens.issue()
    patient = _create(api, token, PATIENT)
    other = _create(
        api,
        token,
        PATIENT
        | {
            "name": [{"family": "Okafor", "given": ["Ada"]}],
            "gender": "female",
            "birthDate": "1990-03-04",
            "identifier": [],
        },
    )
    for day, value in ((1, 60), (2, 70), (3, 80)):
        _create(api, token, heart_rate(patient["id"], value, f"2026-11-0{day}T08:00:00Z"))
    _create(api, token, heart_rate(other["id"], 90))

    def search(query: str) -> dict:
        response = api.get(f"/fhir/{query}", headers=headers(token))
        assert response.status_code == 200, response.text
        return response.json()

    assert search("Patient?name=chal")["total"] == 1
    assert search("Patient?family=okafor&gender=female")["total"] == 1
    assert search("Patient?gender=female&birthdate=1974")["total"] == 0
    assert search("Patient?birthdate=ge1980-01-01")["entry"][0]["resource"]["id"] == other["id"]
    assert search("Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|12345")["total"] == 1
    mrn_value = next(i["value"] for i in patient["identifier"] if i["system"] == MRN_SYSTEM)
    assert (
        search(f"Patient?identifier={MRN_SYSTEM}|{mrn_value}")["entry"][0]["resource"]["id"] == patient["id"]
    )
    assert search(f"Observation?patient={patient['id']}&code=http://loinc.org|8867-4")["total"] == 3
    assert (
        search(f"Observation?subject=Patient/{patient['id']}&code=http://snomed.info/sct|8867-4")["total"]
        == 0
    )
    assert search(f"Observation?patient={patient['id']}&date=gt2026-11-01&date=lt2026-11-03")["total"] == 1
    page = search(f"Observation?patient={patient['id']}&_sort=date&_count=2")
    values = [e["resource"]["valueQuantity"]["value"] for e in page["entry"]]
    assert values == [60, 70]
    links = {link["relation"]: link["url"] for link in page["link"]}
    following = api.get(links["next"].replace("http://localhost:3000", ""), headers=headers(token)).json()
    assert [e["resource"]["valueQuantity"]["value"] for e in following["entry"]] == [80]
    newest_first = search(f"Observation?patient={patient['id']}")
    assert newest_first["entry"][0]["resource"]["valueQuantity"]["value"] == 80


def test_bad_input_is_refused_with_an_outcome_naming_the_element(api, tokens):
    token = tokens.issue()
    patient = _create(api, token, PATIENT)
    wrong_value = heart_rate(patient["id"]) | {"valueQuantity": {"value": "fast"}}
    response = api.post("/fhir/Observation", json=wrong_value, headers=headers(token))
    assert response.status_code == 400
    assert _issues(response)[0]["expression"] == ["Observation.valueQuantity.value"]
    unknown_element = heart_rate(patient["id"]) | {"colour": "red"}
    response = api.post("/fhir/Observation", json=unknown_element, headers=headers(token))
    assert response.status_code == 400 and _issues(response)[0]["expression"] == ["Observation.colour"]
    impossible = heart_rate(patient["id"], 900)
    response = api.post("/fhir/Observation", json=impossible, headers=headers(token))
    assert response.status_code == 422 and "not possible" in _issues(response)[0]["diagnostics"]
    no_name = PATIENT | {"name": [{"use": "official", "given": ["X"]}]}
    response = api.post("/fhir/Patient", json=no_name, headers=headers(token))
    assert response.status_code == 422 and _issues(response)[0]["expression"] == ["Patient.name[0].family"]
    assert api.post("/fhir/Patient", content=b"{not json", headers=headers(token)).status_code == 400
    assert (
        api.post("/fhir/Patient", json=heart_rate(patient["id"]), headers=headers(token)).status_code == 400
    )
    assert (
        api.post(
            "/fhir/Patient",
            content=b"<Patient/>",
            headers=headers(token, **{"Content-Type": "application/fhir+xml"}),
        ).status_code
        == 415
    )
    assert api.get("/fhir/Patient", headers=headers(token, Accept="application/fhir+xml")).status_code == 406
    assert api.get("/fhir/Patient?colour=red", headers=headers(token)).status_code == 400
    assert api.get("/fhir/Patient?birthdate=yesterday", headers=headers(token)).status_code == 400
    assert api.get("/fhir/Patient?_count=-1", headers=headers(token)).status_code == 400
    assert api.get("/fhir/Patient?_sort=colour", headers=headers(token)).status_code == 400
    unknown = api.get("/fhir/Spaceship/1", headers=headers(token))
    assert unknown.status_code == 404 and _issues(unknown)[0]["code"] == "not-supported"
    missing = api.get("/fhir/Patient/987654", headers=headers(token))
    assert missing.status_code == 404 and _issues(missing)[0]["code"] == "not-found"
    assert api.get("/fhir/Patient/../../etc", headers=headers(token)).status_code == 404
    assert api.delete(f"/fhir/Patient/{patient['id']}", headers=headers(token)).status_code == 405
    big = b'{"resourceType":"Patient","x":"' + b"a" * (17 * 1024 * 1024) + b'"}'
    assert api.post("/fhir/Patient", content=big, headers=headers(token)).status_code == 413


def test_conditional_create_finds_instead_of_duplicating(api, tokens, session):
    token = tokens.issue()
    criteria = {"If-None-Exist": "identifier=urn:oid:1.2.36.146.595.217.0.1|12345"}
    first = api.post("/fhir/Patient", json=PATIENT, headers=headers(token, **criteria))
    again = api.post("/fhir/Patient", json=PATIENT, headers=headers(token, **criteria))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert session.execute(select(Patient.id)).all() == [(int(first.json()["id"]),)]
    session.rollback()  # on SQLite a test's open transaction would hold the write lock
    twin = api.post("/fhir/Patient", json=PATIENT, headers=headers(token))
    assert twin.status_code == 409 and _issues(twin)[0]["code"] == "duplicate"


def _bundle(patient: dict, temperature: float) -> dict:
    patient_urn = "urn:uuid:0c3f4f5e-8a1b-4c2d-9e0f-1a2b3c4d5e6f"
    observation = heart_rate(patient_urn, 37.0) | {
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
        "valueQuantity": {"value": temperature, "code": "Cel", "system": "http://unitsofmeasure.org"},
        "subject": {"reference": patient_urn},
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            # The observation first: it references the patient created later in the list.
            {"resource": observation, "request": {"method": "POST", "url": "Observation"}},
            {"fullUrl": patient_urn, "resource": patient, "request": {"method": "POST", "url": "Patient"}},
        ],
    }


def test_a_transaction_resolves_references_and_is_all_or_nothing(api, tokens, session):
    token = tokens.issue()
    response = api.post("/fhir", json=_bundle(PATIENT, 37.5), headers=headers(token))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "transaction-response"
    assert [e["response"]["status"] for e in result["entry"]] == ["201 Created", "201 Created"]
    patient_id = result["entry"][1]["resource"]["id"]
    assert result["entry"][0]["resource"]["subject"]["reference"] == f"Patient/{patient_id}"

    other = PATIENT | {
        "name": [{"family": "Rollback", "given": ["Rita"]}],
        "identifier": [],
        "birthDate": "1960-01-01",
    }
    refused = api.post("/fhir", json=_bundle(other, 99.0), headers=headers(token))
    assert refused.status_code == 422
    assert _issues(refused)[0]["expression"] == ["Bundle.entry[0].resource.valueQuantity"]
    assert session.execute(select(Patient).where(Patient.family_name == "Rollback")).first() is None
    assert len(session.execute(select(Observation.id)).all()) == 1
    session.rollback()
    dangling = _bundle(other, 37.0)
    dangling["entry"].pop()
    assert api.post("/fhir", json=dangling, headers=headers(token)).status_code == 400


def test_everything_answers_the_patient_and_their_records(api, tokens):
    token = tokens.issue()
    patient = _create(api, token, PATIENT)
    other = _create(
        api,
        token,
        PATIENT
        | {"name": [{"family": "Other", "given": ["O"]}], "identifier": [], "birthDate": "1950-01-01"},
    )
    _create(api, token, heart_rate(patient["id"]))
    _create(api, token, heart_rate(other["id"]))
    bundle = api.get(f"/fhir/Patient/{patient['id']}/$everything", headers=headers(token)).json()
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == ["Observation", "Patient"]
    assert all(
        e["resource"].get("subject", {}).get("reference", f"Patient/{patient['id']}")
        == f"Patient/{patient['id']}"
        for e in bundle["entry"]
    )


def test_no_token_a_bad_token_and_the_wrong_scope_or_role_are_refused(api, tokens, session):
    writer = tokens.issue()
    patient = _create(api, writer, PATIENT)
    assert api.get(f"/fhir/Patient/{patient['id']}").status_code == 401
    assert api.get(f"/fhir/Patient/{patient['id']}", headers=headers("forged-token")).status_code == 401
    reader = tokens.issue(scopes="system/Patient.read")
    assert api.get(f"/fhir/Patient/{patient['id']}", headers=headers(reader)).status_code == 200
    assert api.get(f"/fhir/Observation?patient={patient['id']}", headers=headers(reader)).status_code == 403
    assert api.post("/fhir/Patient", json=PATIENT, headers=headers(reader)).status_code == 403
    clerk = tokens.issue(scopes="system/*.*", permissions=frozenset({"patient.read"}))
    refused = api.post("/fhir/Observation", json=heart_rate(patient["id"]), headers=headers(clerk))
    assert refused.status_code == 403 and "role" in _issues(refused)[0]["diagnostics"]
    denials = (
        session.execute(select(AuditEvent.detail).where(AuditEvent.action == "access.denied")).scalars().all()
    )
    assert any("outside the token's scopes" in d for d in denials)
    assert any("needs emr.write" in d for d in denials)


def test_a_patient_token_sees_only_its_own_compartment(api, tokens, session):
    staff = tokens.issue()
    mine = _create(api, staff, PATIENT)
    theirs = _create(
        api,
        staff,
        PATIENT
        | {"name": [{"family": "Else", "given": ["Someone"]}], "identifier": [], "birthDate": "1955-05-05"},
    )
    mine_obs = _create(api, staff, heart_rate(mine["id"]))
    theirs_obs = _create(api, staff, heart_rate(theirs["id"]))
    own = tokens.issue(scopes="patient/*.read", patient_id=int(mine["id"]))
    assert api.get(f"/fhir/Observation/{mine_obs['id']}", headers=headers(own)).status_code == 200
    hidden = api.get(f"/fhir/Observation/{theirs_obs['id']}", headers=headers(own))
    assert hidden.status_code == 404
    nowhere = api.get("/fhir/Observation/987654", headers=headers(own))
    assert _issues(hidden)[0]["diagnostics"].replace(theirs_obs["id"], "N") == _issues(nowhere)[0][
        "diagnostics"
    ].replace("987654", "N")
    assert api.get(f"/fhir/Patient/{theirs['id']}", headers=headers(own)).status_code == 404
    assert api.get(f"/fhir/Patient/{theirs['id']}/$everything", headers=headers(own)).status_code == 404
    found = api.get(f"/fhir/Observation?patient={theirs['id']}", headers=headers(own)).json()
    assert found["total"] == 0
    everyone = api.get("/fhir/Patient", headers=headers(own)).json()
    assert [e["resource"]["id"] for e in everyone["entry"]] == [mine["id"]]
    denied = (
        session.execute(
            select(AuditEvent.patient_id).where(
                AuditEvent.action == "access.denied", AuditEvent.outcome == "denied"
            )
        )
        .scalars()
        .all()
    )
    assert int(theirs["id"]) in denied


def test_every_answer_with_patient_data_is_audited_per_patient(api, tokens, session):
    token = tokens.issue()
    first = _create(api, token, PATIENT)
    second = _create(
        api,
        token,
        PATIENT
        | {"name": [{"family": "Second", "given": ["S"]}], "identifier": [], "birthDate": "1966-06-06"},
    )
    api.get(f"/fhir/Patient/{first['id']}", headers=headers(token))
    api.get("/fhir/Patient?_count=10", headers=headers(token))
    rows = session.execute(select(AuditEvent.action, AuditEvent.patient_id, AuditEvent.username)).all()
    assert ("fhir.create", int(first["id"])) in [(a, p) for a, p, _u in rows]
    assert ("fhir.read", int(first["id"])) in [(a, p) for a, p, _u in rows]
    searched = {p for a, p, _u in rows if a == "fhir.search"}
    assert searched == {int(first["id"]), int(second["id"])}
    assert {u for a, _p, u in rows if a.startswith("fhir.")} == {"fhir-test-1"}


def test_a_signed_in_browser_may_read_but_never_write(api, session):
    from argon2 import PasswordHasher

    from hms_app.services import accounts, security

    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    accounts.ensure_roles(session)
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="dr.read",
        display_name="Dr Read",
        password="Ward-round-42",
        roles=["physician"],
    )
    cookie = security.sign_in(session, username="dr.read", password="Ward-round-42").token
    api.cookies.set("hms_session", cookie)
    assert api.get("/fhir/Patient").status_code == 200
    assert api.post("/fhir/Patient", json=PATIENT, headers={"Content-Type": FHIR_JSON}).status_code == 401


def test_an_imported_problem_keeps_its_snomed_code_over_fhir(api, tokens, session):
    from hms_app.models.emr import Condition

    token = tokens.issue()
    patient = _create(api, token, PATIENT)
    session.add(
        Condition(
            patient_id=int(patient["id"]), code="444814009", code_system="snomed", display="Viral sinusitis"
        )
    )
    session.commit()
    found = api.get(
        f"/fhir/Condition?patient={patient['id']}&code=http://snomed.info/sct|444814009",
        headers=headers(token),
    ).json()
    assert found["total"] == 1
    coding = found["entry"][0]["resource"]["code"]["coding"][0]
    assert (coding["system"], coding["code"]) == ("http://snomed.info/sct", "444814009")
    as_icd = f"/fhir/Condition?patient={patient['id']}&code=http://hl7.org/fhir/sid/icd-10-cm|444814009"
    assert api.get(as_icd, headers=headers(token)).json()["total"] == 0


def test_a_count_only_search_and_a_busy_database_answer_as_fhir(api, tokens, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from hms_app.interop.fhir import engine

    token = tokens.issue()
    _create(api, token, PATIENT)
    counted = api.get("/fhir/Patient?_summary=count", headers=headers(token)).json()
    assert counted["total"] == 1 and counted["entry"] == []

    def busy(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    monkeypatch.setattr(engine, "search", busy)
    answer = api.get("/fhir/Patient", headers=headers(token))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "2"
    assert _issues(answer)[0]["code"] == "transient"
