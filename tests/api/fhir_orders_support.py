"""What the order-side FHIR tests share: reading and searching as a client, and checking every
answer against the R4B model the way a client library would parse it."""

from __future__ import annotations

from fhir.resources.R4B import get_fhir_model_class

from tests.api.fhir_support import headers


def valid(resource: dict) -> dict:
    """The resource, after the R4B model has accepted it (a refused one fails the test)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def read(api, token: str, resource_type: str, fhir_id) -> dict:
    answer = api.get(f"/fhir/{resource_type}/{fhir_id}", headers=headers(token))
    assert answer.status_code == 200, answer.text
    return valid(answer.json())


def search(api, token: str, query: str) -> list[str]:
    """The ids a search answers, in order; the searchset Bundle itself validated."""
    answer = api.get(f"/fhir/{query}", headers=headers(token))
    assert answer.status_code == 200, answer.text
    bundle = valid(answer.json())
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def refused(api, token: str, query: str, status: int = 400) -> str:
    answer = api.get(f"/fhir/{query}", headers=headers(token))
    assert answer.status_code == status, answer.text
    return answer.json()["issue"][0]["diagnostics"]


def check_access(api, tokens, resource_type: str, mine: tuple[int, str], theirs: tuple[int, str]) -> None:
    """Writes, scopes and the patient compartment, as an attacker would try them: ``mine`` and
    ``theirs`` are (patient id, resource id) of two patients' rows of ``resource_type``."""
    (my_patient, my_row), (their_patient, their_row) = mine, theirs
    staff = tokens.issue()
    body = read(api, staff, resource_type, my_row)
    # A token without the type's read scope is refused, and says why.
    other = tokens.issue(scopes="system/Patient.read")
    answer = api.get(f"/fhir/{resource_type}/{my_row}", headers=headers(other))
    assert answer.status_code == 403, answer.text
    answer = api.get(f"/fhir/{resource_type}?patient={my_patient}", headers=headers(other))
    assert answer.status_code == 403, answer.text
    # A patient's token reads its own row, never the other patient's (which looks missing).
    patient = tokens.issue(scopes=f"patient/{resource_type}.read", patient_id=my_patient)
    assert read(api, patient, resource_type, my_row)["id"] == my_row
    answer = api.get(f"/fhir/{resource_type}/{their_row}", headers=headers(patient))
    assert answer.status_code == 404, answer.text
    own = search(api, staff, f"{resource_type}?patient={my_patient}")
    assert my_row in own and their_row not in own
    assert search(api, patient, resource_type) == own
    assert search(api, patient, f"{resource_type}?patient={their_patient}") == []
    assert search(api, patient, f"{resource_type}?_id={their_row}") == []
    # $everything holds the patient's rows of this type and only theirs.
    bundle = api.get(f"/fhir/Patient/{my_patient}/$everything", headers=headers(staff)).json()
    found = [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]
    assert sorted(found) == sorted(own)
    return body


def check_read_only(api, tokens, resource: dict) -> None:
    """Creating, updating and deleting the type are refused (405), whatever the token holds."""
    token = tokens.issue()
    resource_type, fhir_id = resource["resourceType"], resource["id"]
    sent = {k: v for k, v in resource.items() if k not in ("id", "meta")}
    answer = api.post(f"/fhir/{resource_type}", json=sent, headers=headers(token))
    assert answer.status_code == 405, answer.text
    answer = api.put(f"/fhir/{resource_type}/{fhir_id}", json=resource, headers=headers(token))
    assert answer.status_code == 405, answer.text
    assert api.delete(f"/fhir/{resource_type}/{fhir_id}", headers=headers(token)).status_code == 405
