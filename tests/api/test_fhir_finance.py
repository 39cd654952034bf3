"""The financial records over FHIR: insurance (Coverage), charges (ChargeItem), bills (Invoice) and
claims (Claim), read and searched as a payer's or a finance system's client would, never written.
Amounts are checked to the cent as decimals, the way a client reading Money would."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from fhir.resources.R4B import get_fhir_model_class

from hms_app.models.patients import Coverage
from hms_app.settings import get_settings
from tests.api import fhir_support
from tests.api.fhir_support import headers
from tests.services import test_billing

api, tokens = fhir_support.api, fhir_support.tokens  # the fixtures
world = test_billing.world  # a catalogue, the payer Acme (code ACME), a self-pay and an insured patient

# A role that reads records but holds no billing permission (a nurse's).
NO_BILLING = frozenset({"patient.read", "appointment.read", "emr.write"})


def valid(resource: dict) -> dict:
    """The resource, after checking it is a valid R4B resource of its type."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def get(api, token: str, url: str, status: int = 200) -> dict:
    """The answer's body, its numbers read as decimals (as a client keeping money exact reads them)."""
    response = api.get(f"/fhir/{url}", headers=headers(token))
    assert response.status_code == status, response.text
    body = json.loads(response.text, parse_float=Decimal)
    if status == 200 and body["resourceType"] != "Bundle":
        valid(json.loads(response.text))
    return body


def ids(api, token: str, query: str) -> list[str]:
    response = api.get(f"/fhir/{query}", headers=headers(token))
    assert response.status_code == 200, response.text
    bundle = response.json()
    for entry in bundle.get("entry", []):
        valid(entry["resource"])
    assert bundle["total"] == len(bundle.get("entry", []))
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def money(body: dict) -> tuple[Decimal, str]:
    return body["value"], body["currency"]


def assert_read_only_and_guarded(api, tokens, resource_type: str, fhir_id: str, permission: str) -> None:
    """Create is 405; a token without the type's read scope and a role without ``permission`` get 403."""
    full = tokens.issue()
    created = api.post(f"/fhir/{resource_type}", json={"resourceType": resource_type}, headers=headers(full))
    assert created.status_code == 405, created.text
    assert created.json()["resourceType"] == "OperationOutcome"
    updated = api.put(
        f"/fhir/{resource_type}/{fhir_id}",
        json={"resourceType": resource_type, "id": fhir_id},
        headers=headers(full),
    )
    assert updated.status_code == 405, updated.text
    other_scope = tokens.issue(scopes="system/Patient.read")
    no_role = tokens.issue(permissions=frozenset(NO_BILLING - {permission}))
    for token in (other_scope, no_role):
        for url in (f"/fhir/{resource_type}/{fhir_id}", f"/fhir/{resource_type}"):
            refused = api.get(url, headers=headers(token))
            assert refused.status_code == 403, (url, refused.text)
            assert refused.json()["resourceType"] == "OperationOutcome"


# --- Coverage -------------------------------------------------------------------------------


def test_coverage_is_the_patients_insurance(api, tokens, session, world):
    token = tokens.issue()
    cid = str(world["coverage"])
    body = get(api, token, f"Coverage/{cid}")
    assert body["status"] == "active"
    assert body["beneficiary"] == {"reference": f"Patient/{world['insured']}"}
    assert body["payor"] == [
        {"identifier": {"system": "urn:hms:payer", "value": "ACME"}, "display": "Acme Health"}
    ]
    assert body["subscriberId"] == "ACM-1"
    assert body["identifier"][0]["system"] == "urn:hms:member-id"
    assert body["identifier"][0]["value"] == "ACM-1"
    assert body["period"] == {"start": "2020-01-01"}
    assert body["class"][0]["value"] == "Gold"
    assert body["order"] == 1
    copay, share = body["costToBeneficiary"]
    assert money(copay["valueMoney"]) == (Decimal("15.00"), "USD")
    assert share["valueQuantity"]["value"] == 20 and share["valueQuantity"]["code"] == "%"

    # A second, lapsed and withdrawn coverage of the same patient.
    old = Coverage(
        patient_id=world["insured"],
        payer_id=world["payer"],
        plan_name="Bronze",
        member_id="ACM-OLD",
        valid_from=date(2010, 1, 1),
        valid_to=date(2019, 12, 31),
        priority=2,
        active=False,
    )
    session.add(old)
    session.commit()
    old_id = str(old.id)
    assert get(api, token, f"Coverage/{old_id}")["period"] == {"start": "2010-01-01", "end": "2019-12-31"}

    assert ids(api, token, f"Coverage?patient={world['insured']}") == [cid, old_id]
    assert ids(api, token, f"Coverage?beneficiary=Patient/{world['insured']}") == [cid, old_id]
    assert ids(api, token, f"Coverage?patient={world['self']}") == []
    assert ids(api, token, "Coverage?status=active") == [cid]
    assert ids(api, token, "Coverage?status=cancelled") == [old_id]
    assert ids(api, token, "Coverage?status=draft") == []
    assert ids(api, token, "Coverage?identifier=urn:hms:member-id|ACM-1") == [cid]
    assert ids(api, token, "Coverage?identifier=ACM-OLD") == [old_id]
    assert ids(api, token, "Coverage?identifier=urn:other|ACM-1") == []
    assert ids(api, token, "Coverage?payor:identifier=urn:hms:payer|ACME") == [cid, old_id]
    assert ids(api, token, "Coverage?payor:identifier=NOBODY") == []
    assert ids(api, token, "Coverage?class-value=bron") == [old_id]
    refused = api.get("/fhir/Coverage?payor=Organization/1", headers=headers(token))
    assert refused.status_code == 400 and "payor:identifier" in refused.text
    assert_read_only_and_guarded(api, tokens, "Coverage", cid, "patient.read")


def test_money_is_in_the_hospitals_currency(api, tokens, world, monkeypatch):
    monkeypatch.setenv("HMS_CURRENCY", "EUR")
    get_settings.cache_clear()
    body = get(api, tokens.issue(), f"Coverage/{world['coverage']}")
    assert money(body["costToBeneficiary"][0]["valueMoney"]) == (Decimal("15.00"), "EUR")
    monkeypatch.setenv("HMS_CURRENCY", "euro")
    get_settings.cache_clear()
    with pytest.raises(RuntimeError, match="HMS_CURRENCY"):
        get_settings()
    monkeypatch.setenv("HMS_CURRENCY", "EUR")
    get_settings.cache_clear()
