"""The financial records over FHIR: insurance (Coverage), charges (ChargeItem), bills (Invoice) and
claims (Claim), read and searched as a payer's or a finance system's client would, never written.
Amounts are checked to the cent as decimals, the way a client reading Money would."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select

from hms_app.clock import utcnow
from hms_app.models.patients import Coverage, Payer
from hms_app.services.billing import charges, claims, invoices, payments
from hms_app.services.permissions import Actor
from hms_app.settings import get_settings
from tests.api import fhir_support
from tests.api.fhir_support import headers
from tests.api.test_fhir_directory import staff
from tests.services import test_billing
from tests.services.test_billing import CLERK, MANAGER, _charge, key

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


@pytest.fixture
def books(session, world):
    """The self-pay patient: an invoice of a visit and three blood counts (179.99 + 8.25 tax =
    188.24) paid in full, a voided invoice re-billed on a draft, an open charge for a drug posted by
    a physician, and a cancelled charge. The insured patient: an issued invoice of a visit at Acme's
    price and a blood count (106.08: patient 33.22, payer 72.86) and a submitted claim for it."""
    grey = staff(session, "dr.grey", "Meredith Grey")
    doctor = Actor(
        user_id=grey.id,
        username="dr.grey",
        roles=frozenset({"physician"}),
        permissions=frozenset({"patient.read", "pharmacy.dispense"}),
    )
    me = world["self"]
    visit = _charge(session, me, "VISIT-GP", source_id=101)
    labs = _charge(session, me, "LAB-CBC", quantity=3)
    paid = invoices.issue_invoice(
        session, actor=CLERK, invoice_id=invoices.draft_invoice(session, actor=CLERK, patient_id=me).id
    )
    payments.post_payment(
        session,
        actor=CLERK,
        patient_id=me,
        invoice_id=paid.id,
        amount_cents=18824,
        method="card",
        idempotency_key=key(),
    )
    _charge(session, me, "VISIT-GP", source_id=104)
    voided = invoices.issue_invoice(
        session, actor=CLERK, invoice_id=invoices.draft_invoice(session, actor=CLERK, patient_id=me).id
    )
    voided = invoices.void_invoice(session, actor=MANAGER, invoice_id=voided.id, reason="wrong patient")
    drug = _charge(session, me, "DRUG-AMOX", source_id=102, actor=doctor)
    cancelled = _charge(session, me, "VISIT-GP", source_id=103)
    charges.void_charge(session, actor=MANAGER, charge_id=cancelled.id, reason="duplicate visit")
    insured_visit = _charge(session, world["insured"], "VISIT-GP", source_id=201)
    _charge(session, world["insured"], "LAB-CBC")
    billed = invoices.issue_invoice(
        session,
        actor=CLERK,
        invoice_id=invoices.draft_invoice(session, actor=CLERK, patient_id=world["insured"]).id,
    )
    claim = claims.create_claim(session, actor=CLERK, invoice_id=billed.id)
    claims.submit_claim(session, actor=CLERK, claim_id=claim.id)
    return {
        **world,
        "grey": grey.id,
        "visit": str(visit.id),
        "labs": str(labs.id),
        "drug": str(drug.id),
        "cancelled": str(cancelled.id),
        "insured_visit": str(insured_visit.id),
        "paid": str(paid.id),
        "voided": str(voided.id),
        "redraft": str(voided.replaced_by_id),
        "billed": str(billed.id),
        "claim": str(claim.id),
    }


# --- Coverage -------------------------------------------------------------------------------


def test_coverage_is_the_patients_insurance(api, tokens, session, world):
    token = tokens.issue()
    cid = str(world["coverage"])
    body = get(api, token, f"Coverage/{cid}")
    assert body["status"] == "active"
    assert body["beneficiary"] == {"reference": f"Patient/{world['insured']}"}
    acme = session.execute(select(Payer.id).where(Payer.code == "ACME")).scalar_one()
    session.rollback()
    assert body["payor"] == [
        {
            "reference": f"Organization/pay-{acme}",
            "identifier": {"system": "urn:hms:payer", "value": "ACME"},
            "display": "Acme Health",
        }
    ]
    payer = get(api, token, f"Organization/pay-{acme}")
    assert (payer["name"], payer["type"][0]["coding"][0]["code"]) == ("Acme Health", "pay")
    assert ids(api, token, f"Coverage?payor=Organization/pay-{acme}") == ids(
        api, token, "Coverage?payor:identifier=urn:hms:payer|ACME"
    )
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


# --- ChargeItem -----------------------------------------------------------------------------


def test_charge_item_is_a_charge_priced_to_the_cent(api, tokens, books):
    token = tokens.issue()
    labs = get(api, token, f"ChargeItem/{books['labs']}")
    assert labs["status"] == "billed"
    assert labs["code"] == {
        "coding": [{"system": "urn:hms:charge-code", "code": "LAB-CBC", "display": "Full blood count"}],
        "text": "Full blood count",
    }
    assert labs["subject"] == {"reference": f"Patient/{books['self']}"}
    assert labs["quantity"] == {"value": 3}
    assert money(labs["priceOverride"]) == (Decimal("99.99"), "USD")  # 3 x 33.33, before tax
    assert labs["performingOrganization"] == {"reference": f"Organization/{books['lab']}"}
    assert labs["enterer"] == {
        "identifier": {"system": "urn:hms:user", "value": "billing"},
        "display": "billing",
    }
    assert labs["note"] == [{"text": "Entered by hand: walk-in test"}]
    assert labs["occurrenceDateTime"] == labs["enteredDate"]

    drug = get(api, token, f"ChargeItem/{books['drug']}")
    assert drug["status"] == "billable"
    assert drug["enterer"] == {"reference": f"Practitioner/{books['grey']}", "display": "Meredith Grey"}
    assert money(drug["priceOverride"]) == (Decimal("12.50"), "USD")
    cancelled = get(api, token, f"ChargeItem/{books['cancelled']}")
    assert cancelled["status"] == "not-billable"
    assert cancelled["note"][0]["text"] == "Cancelled: duplicate visit"
    # Acme's negotiated price, not the catalogue's 80.00.
    assert money(get(api, token, f"ChargeItem/{books['insured_visit']}")["priceOverride"])[0] == Decimal(
        "70.00"
    )

    mine = f"patient={books['self']}"
    assert set(ids(api, token, f"ChargeItem?{mine}")) >= {books["visit"], books["labs"], books["drug"]}
    assert ids(api, token, f"ChargeItem?subject=Patient/{books['insured']}&code=LAB-CBC") != []
    assert ids(api, token, f"ChargeItem?{mine}&code=urn:hms:charge-code|lab-cbc") == [books["labs"]]
    assert ids(api, token, f"ChargeItem?{mine}&code=http://www.ama-assn.org/go/cpt|LAB-CBC") == []
    assert ids(api, token, f"ChargeItem?{mine}&code=NOPE") == []
    assert ids(api, token, f"ChargeItem?{mine}&status=billable") == [books["drug"]]
    assert ids(api, token, f"ChargeItem?{mine}&status=not-billable") == [books["cancelled"]]
    assert ids(api, token, f"ChargeItem?{mine}&status=entered-in-error") == []
    assert len(ids(api, token, f"ChargeItem?{mine}&status=billed")) == 3  # two paid, one re-billed
    today = utcnow().date().isoformat()
    assert len(ids(api, token, f"ChargeItem?{mine}&entered-date={today}")) == 5
    assert len(ids(api, token, f"ChargeItem?{mine}&occurrence=ge{today}")) == 5
    assert ids(api, token, f"ChargeItem?{mine}&entered-date=lt2020-01-01") == []
    assert ids(api, token, f"ChargeItem?performing-organization=Organization/{books['lab']}&{mine}") == [
        books["labs"]
    ]
    assert api.get("/fhir/ChargeItem?entered-date=yesterday", headers=headers(token)).status_code == 400
    assert_read_only_and_guarded(api, tokens, "ChargeItem", books["labs"], "billing.read")


# --- Invoice --------------------------------------------------------------------------------


def components(items: list[dict]) -> dict[str, Decimal]:
    return {
        c.get("code", {}).get("coding", [{}])[0].get("code") or c["type"]: c["amount"]["value"] for c in items
    }


def test_invoice_is_a_bill_whose_lines_add_up_to_the_cent(api, tokens, books):
    token = tokens.issue()
    paid = get(api, token, f"Invoice/{books['paid']}")
    assert paid["status"] == "balanced"  # paid in full at the desk
    assert paid["identifier"] == [{"system": "urn:hms:invoice", "value": "INV-000001"}]
    assert paid["subject"] == {"reference": f"Patient/{books['self']}"}
    assert paid["issuer"] == {"display": get_settings().hospital_name}
    assert money(paid["totalNet"]) == (Decimal("179.99"), "USD")
    assert money(paid["totalGross"]) == (Decimal("188.24"), "USD")
    assert components(paid["totalPriceComponent"]) == {
        "base": Decimal("179.99"),
        "tax": Decimal("8.25"),
        "patient-share": Decimal("188.24"),
        "payer-share": Decimal("0.00"),
    }
    visit, labs = paid["lineItem"]
    assert (visit["sequence"], visit["chargeItemReference"]) == (
        1,
        {"reference": f"ChargeItem/{books['visit']}"},
    )
    assert labs["chargeItemReference"] == {"reference": f"ChargeItem/{books['labs']}"}
    base, tax = labs["priceComponent"]
    assert (base["type"], base["factor"], base["amount"]["value"]) == ("base", 3, Decimal("99.99"))
    assert base["code"]["coding"][0]["code"] == "LAB-CBC"
    assert (tax["type"], tax["factor"], tax["amount"]["value"]) == ("tax", Decimal("0.0825"), Decimal("8.25"))
    line_sum = sum(c["amount"]["value"] for item in paid["lineItem"] for c in item["priceComponent"])
    assert line_sum == paid["totalGross"]["value"] == Decimal("188.24")

    voided = get(api, token, f"Invoice/{books['voided']}")
    assert (voided["status"], voided["cancelledReason"]) == ("cancelled", "wrong patient")
    assert voided["identifier"][0]["value"] == "INV-000002"  # a void keeps its number
    redraft = get(api, token, f"Invoice/{books['redraft']}")
    assert redraft["status"] == "draft" and "identifier" not in redraft
    billed = get(api, token, f"Invoice/{books['billed']}")
    assert billed["status"] == "issued"
    assert money(billed["totalGross"])[0] == Decimal("106.08")
    shares = components(billed["totalPriceComponent"])
    assert (shares["patient-share"], shares["payer-share"]) == (Decimal("33.22"), Decimal("72.86"))
    assert shares["patient-share"] + shares["payer-share"] == billed["totalGross"]["value"]

    mine = f"patient={books['self']}"
    assert ids(api, token, f"Invoice?{mine}&_sort=date") == [books["paid"], books["voided"], books["redraft"]]
    assert ids(api, token, f"Invoice?subject=Patient/{books['insured']}") == [books["billed"]]
    assert ids(api, token, "Invoice?status=balanced") == [books["paid"]]
    assert ids(api, token, "Invoice?status=issued") == [books["billed"]]
    assert ids(api, token, "Invoice?status=cancelled") == [books["voided"]]
    assert ids(api, token, "Invoice?status=draft") == [books["redraft"]]
    assert ids(api, token, "Invoice?status=entered-in-error") == []
    assert ids(api, token, "Invoice?identifier=urn:hms:invoice|INV-000003") == [books["billed"]]
    assert ids(api, token, "Invoice?identifier=INV-000001") == [books["paid"]]
    assert ids(api, token, "Invoice?identifier=urn:hms:invoice|INV-999999") == []
    today = utcnow().date().isoformat()
    assert len(ids(api, token, f"Invoice?date={today}")) == 4
    assert ids(api, token, f"Invoice?date=gt{today}") == []
    assert_read_only_and_guarded(api, tokens, "Invoice", books["paid"], "billing.read")


def test_a_patient_bound_token_sees_only_its_own_bills(api, tokens, books):
    own = tokens.issue(scopes="patient/*.read", patient_id=books["self"])
    assert get(api, own, f"Invoice/{books['paid']}")["status"] == "balanced"
    for url in (
        f"Invoice/{books['billed']}",
        f"Claim/{books['claim']}",
        f"ChargeItem/{books['insured_visit']}",
    ):
        assert get(api, own, url, status=404)["resourceType"] == "OperationOutcome"
    assert sorted(ids(api, own, "Invoice")) == sorted([books["paid"], books["voided"], books["redraft"]])
    assert ids(api, own, f"Invoice?patient={books['insured']}") == []
    assert ids(api, own, "Invoice?identifier=INV-000003") == []
    assert ids(api, own, "Claim") == [] and ids(api, own, "Coverage") == []
    assert books["insured_visit"] not in ids(api, own, "ChargeItem")


def test_everything_includes_the_patients_coverage_charges_invoices_and_claims(api, tokens, books):
    bundle = get(api, tokens.issue(), f"Patient/{books['insured']}/$everything")
    found = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]}
    assert {
        ("Coverage", str(books["coverage"])),
        ("ChargeItem", books["insured_visit"]),
        ("Invoice", books["billed"]),
        ("Claim", books["claim"]),
    } <= found
    assert ("Invoice", books["paid"]) not in found
    # Without the billing permission the same request leaves the money out.
    clinical = get(api, tokens.issue(permissions=NO_BILLING), f"Patient/{books['insured']}/$everything")
    types = {e["resource"]["resourceType"] for e in clinical["entry"]}
    assert "Coverage" in types and not types & {"ChargeItem", "Invoice", "Claim"}


# --- Claim ----------------------------------------------------------------------------------


def test_claim_asks_the_payer_for_its_share(api, tokens, session, books):
    token = tokens.issue()
    claim = get(api, token, f"Claim/{books['claim']}")
    assert claim["status"] == "active"  # submitted
    assert claim["use"] == "claim"
    assert claim["type"]["coding"][0]["code"] == "institutional"
    assert claim["identifier"] == [{"system": "urn:hms:invoice", "value": "INV-000003"}]
    assert claim["patient"] == {"reference": f"Patient/{books['insured']}"}
    assert claim["insurer"]["reference"].startswith("Organization/pay-")
    assert claim["insurer"] == {
        "reference": claim["insurer"]["reference"],
        "identifier": {"system": "urn:hms:payer", "value": "ACME"},
        "display": "Acme Health",
    }
    assert claim["provider"] == {"display": get_settings().hospital_name}
    assert claim["priority"]["coding"][0]["code"] == "normal"
    assert claim["insurance"] == [
        {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{books['coverage']}"}}
    ]
    visit, labs = claim["item"]
    assert visit["productOrService"]["coding"][0]["code"] == "VISIT-GP"
    assert (visit["unitPrice"]["value"], visit["net"]["value"]) == (Decimal("70.00"), Decimal("70.00"))
    assert (labs["sequence"], labs["net"]["value"]) == (2, Decimal("36.08"))  # 33.33 + 2.75 tax
    assert money(claim["total"]) == (Decimal("72.86"), "USD")  # the payer's share, not the bill's 106.08

    # The payer's answer (a denial) is a ClaimResponse's outcome: the claim itself stays active.
    claims.deny_claim(session, actor=CLERK, claim_id=int(books["claim"]), reason="not covered")
    assert (
        get(api, token, f"Claim/{books['claim']}")["status"] == "active"
    )  # the denial is the payer's answer
    assert ids(api, token, f"Claim?patient={books['insured']}") == [books["claim"]]
    assert ids(api, token, f"Claim?patient=Patient/{books['self']}") == []
    assert ids(api, token, "Claim?status=active") == [books["claim"]]
    assert ids(api, token, "Claim?status=draft,cancelled") == []
    assert ids(api, token, "Claim?identifier=urn:hms:invoice|INV-000003") == [books["claim"]]
    assert ids(api, token, "Claim?identifier=INV-000001") == []
    today = utcnow().date().isoformat()
    assert ids(api, token, f"Claim?created={today}&use=claim") == [books["claim"]]
    assert ids(api, token, "Claim?created=lt2020-01-01") == []
    assert ids(api, token, "Claim?use=preauthorization") == []
    assert_read_only_and_guarded(api, tokens, "Claim", books["claim"], "billing.read")


def test_the_capability_statement_lists_the_financial_types_read_only(api):
    statement = api.get("/fhir/metadata").json()
    valid(statement)
    types = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for name, param in (
        ("Coverage", "beneficiary"),
        ("ChargeItem", "entered-date"),
        ("Invoice", "date"),
        ("Claim", "created"),
    ):
        assert param in {p["name"] for p in types[name]["searchParam"]}
        assert {i["code"] for i in types[name]["interaction"]} <= {
            "read",
            "vread",
            "history-instance",
            "search-type",
        }
