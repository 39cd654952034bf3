"""MedicationRequest over FHIR, as a client, a prescriber and an attacker would try it: signed
orders read back with their product, dose, route, frequency and quantity; the searches find them
and only them; a new order goes through the prescribing service and its order checks; a token is
held to its scopes and its patient."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hms_app.clock import local_today, utcnow
from hms_app.interop.fhir.elements import instant
from hms_app.models.pharmacy import FormularyProduct, MedicationOrder
from hms_app.services.pharmacy.changes import stop_order
from hms_app.services.pharmacy.prescribing import prepare_order, sign_order
from tests.api import fhir_support
from tests.api.fhir_orders_support import check_access, read, refused, search, valid
from tests.api.fhir_support import headers
from tests.services.pharmacy_world import build_rx_world, engine  # noqa: F401 - the fixture

api = fhir_support.api
tokens = fhir_support.tokens

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
IBUPROFEN_RXCUI = "197806"  # Ibuprofen 400 MG Oral Tablet
CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
SNOMED = "http://snomed.info/sct"


@pytest.fixture
def rx(session, engine):  # noqa: F811
    world = build_rx_world(session)
    product = session.get(FormularyProduct, world.product("RX-IBU-400-TAB"))
    product.rxcui = IBUPROFEN_RXCUI
    session.add(product)
    session.commit()
    return world


def order(session, world, patient_id: int, code: str, **fields) -> str:
    data = {
        "product_id": world.product(code),
        "setting": "outpatient",
        "dose": "1",
        "dose_unit": "tablet",
        "route": "oral",
        "frequency": "QD",
        "duration_days": "7",
        **fields,
    }
    prepared = prepare_order(session, actor=world.physician, patient_id=patient_id, data=data)
    return str(sign_order(session, actor=world.physician, order_id=prepared.order_id).order_id)


def stop(session, world, patient_id: int, row_id: str, reason: str) -> None:
    stop_order(session, actor=world.physician, patient_id=patient_id, order_id=int(row_id), reason=reason)
    session.commit()  # the service reads after its commit: end that transaction (SQLite writes wait)


def ibuprofen(session, world, patient_id: int) -> str:
    fields = {"dose": "400", "dose_unit": "mg", "frequency": "TID", "duration_days": "5"}
    return order(session, world, patient_id, "RX-IBU-400-TAB", **fields)


def test_a_signed_order_reads_as_a_medication_request(api, tokens, session, rx):
    row_id = ibuprofen(session, rx, rx.man)
    body = read(api, tokens.issue(), "MedicationRequest", row_id)
    row = session.get(MedicationOrder, int(row_id))
    assert body["status"] == "active" and body["intent"] == "order"
    assert body["identifier"] == [{"system": "urn:hms:medication-order", "value": row.reference}]
    medication = body["medicationCodeableConcept"]
    assert {"system": RXNORM, "code": IBUPROFEN_RXCUI, "display": "Ibuprofen 400 mg tablet"} in medication[
        "coding"
    ]
    assert medication["text"] == "Ibuprofen 400 mg tablet"
    assert body["subject"] == {"reference": f"Patient/{rx.man}"}
    assert body["requester"]["reference"] == f"Practitioner/{rx.physician.user_id}"
    assert body["category"][0]["coding"][0] == {
        "system": CATEGORY,
        "code": "outpatient",
        "display": "Outpatient",
    }
    dosage = body["dosageInstruction"][0]
    assert dosage["text"] == "400 mg oral TID for 5 days"
    assert dosage["doseAndRate"] == [{"doseQuantity": {"value": 400, "unit": "mg"}}]
    assert dosage["route"]["coding"][0] == {"system": SNOMED, "code": "26643006", "display": "By mouth"}
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation", "code": "TID"} in dosage[
        "timing"
    ]["code"]["coding"]
    assert body["dispenseRequest"]["quantity"] == {"value": 15, "unit": "tablet"}
    assert body["dispenseRequest"]["expectedSupplyDuration"]["value"] == 5
    assert body["authoredOn"] == instant(row.signed_at)


def test_drafts_are_not_served_and_a_stopped_order_says_why(api, tokens, session, rx):
    draft = prepare_order(
        session,
        actor=rx.physician,
        patient_id=rx.man,
        data={"product_id": rx.product("RX-APAP-500-TAB"), "setting": "inpatient", "dose": "1",
              "dose_unit": "g", "route": "oral", "frequency": "QID"},
    )  # fmt: skip
    token = tokens.issue()
    assert api.get(f"/fhir/MedicationRequest/{draft.order_id}", headers=headers(token)).status_code == 404
    row_id = ibuprofen(session, rx, rx.man)
    stop(session, rx, rx.man, row_id, "Gastric upset")
    body = read(api, token, "MedicationRequest", row_id)
    assert body["status"] == "stopped"
    assert body["statusReason"] == {"text": "Gastric upset"}
    assert search(api, token, f"MedicationRequest?patient={rx.man}") == [row_id]


def test_medication_request_search_parameters(api, tokens, session, rx):
    token = tokens.issue()
    ibu = ibuprofen(session, rx, rx.man)
    warf = order(session, rx, rx.woman, "RX-WARF-5-TAB", dose="5", dose_unit="mg")
    stopped = order(session, rx, rx.woman, "RX-APAP-500-TAB", dose="1", dose_unit="g", frequency="QID")
    stop(session, rx, rx.woman, stopped, "Pain settled")
    session.execute(  # the warfarin order was signed last week
        MedicationOrder.__table__.update()
        .where(MedicationOrder.id == int(warf))
        .values(signed_at=utcnow() - timedelta(days=7))
    )
    reference = session.get(MedicationOrder, int(ibu)).reference
    session.commit()
    today = local_today().isoformat()

    assert search(api, token, f"MedicationRequest?patient={rx.man}") == [ibu]
    assert search(api, token, f"MedicationRequest?subject=Patient/{rx.woman}") == [stopped, warf]
    assert search(api, token, "MedicationRequest?status=active") == [ibu, warf]
    assert search(api, token, "MedicationRequest?status=stopped") == [stopped]
    assert search(api, token, "MedicationRequest?status=completed") == []
    assert search(api, token, "MedicationRequest?status:not=active") == [stopped]
    assert search(api, token, "MedicationRequest?intent=order&_sort=authoredon") == [warf, ibu, stopped]
    assert search(api, token, "MedicationRequest?intent=plan") == []
    assert search(api, token, f"MedicationRequest?code={RXNORM}|{IBUPROFEN_RXCUI}") == [ibu]
    assert search(api, token, f"MedicationRequest?code={IBUPROFEN_RXCUI}") == [ibu]
    assert search(api, token, "MedicationRequest?code=urn:hms:formulary|RX-WARF-5-TAB") == [warf]
    assert search(api, token, f"MedicationRequest?code=http://snomed.info/sct|{IBUPROFEN_RXCUI}") == []
    assert search(api, token, "MedicationRequest?code=999999") == []
    assert search(api, token, f"MedicationRequest?authoredon=lt{today}") == [warf]
    assert search(api, token, f"MedicationRequest?authoredon=ge{today}&_sort=-authoredon") == [stopped, ibu]
    assert search(api, token, f"MedicationRequest?identifier=urn:hms:medication-order|{reference}") == [ibu]
    assert search(api, token, "MedicationRequest?identifier=urn:hms:medication-order|RX-999999") == []
    assert "authoredon" in refused(api, token, "MedicationRequest?authoredon=yesterday")
    assert "cannot be sorted" in refused(api, token, "MedicationRequest?_sort=dose")
    assert "no search parameter" in refused(api, token, "MedicationRequest?dose=400")


def test_medication_request_access(api, tokens, session, rx):
    mine = ibuprofen(session, rx, rx.man)
    theirs = ibuprofen(session, rx, rx.woman)
    check_access(api, tokens, "MedicationRequest", (rx.man, mine), (rx.woman, theirs))
    # Reading needs medication.read: a role without it is refused whatever the scopes.
    token = tokens.issue(permissions=frozenset({"patient.read"}))
    answer = api.get(f"/fhir/MedicationRequest/{mine}", headers=headers(token))
    assert answer.status_code == 403, answer.text


def prescription(pid: int, *, rxcui: str = IBUPROFEN_RXCUI, route: str = "26643006") -> dict:
    # After the spec's MedicationRequest "medrx0302": one dose, route, timing code and supply.
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": CATEGORY, "code": "outpatient"}]}],
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxcui}]},
        "subject": {"reference": f"Patient/{pid}"},
        "dosageInstruction": [
            {
                "text": "400 mg three times a day",
                "timing": {
                    "code": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation",
                                "code": "TID",
                            }
                        ]
                    }
                },
                "route": {"coding": [{"system": SNOMED, "code": route}]},
                "doseAndRate": [{"doseQuantity": {"value": 400, "unit": "mg"}}],
            }
        ],
        # A quantity the client guessed: the pharmacy's own computation is what is kept.
        "dispenseRequest": {
            "quantity": {"value": 99, "unit": "tablet"},
            "expectedSupplyDuration": {
                "value": 5,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        },
    }


def post(api, token: str, resource: dict):
    return api.post("/fhir/MedicationRequest", json=resource, headers=headers(token))


def test_a_new_medication_request_is_prepared_and_signed_by_the_service(api, tokens, session, rx):
    token = tokens.issue()
    answer = post(api, token, prescription(rx.man))
    assert answer.status_code == 201, answer.text
    body = valid(answer.json())
    row = session.get(MedicationOrder, int(body["id"]))
    assert (row.status, row.frequency, row.route, row.dose_unit) == ("active", "TID", "oral", "mg")
    assert row.dispense_quantity == 15 and row.prescriber_id == tokens.issued[token].actor.user_id
    session.commit()
    again = read(api, token, "MedicationRequest", body["id"])
    assert again["dispenseRequest"]["quantity"] == {"value": 15, "unit": "tablet"}
    assert again["requester"]["reference"] == f"Practitioner/{row.prescriber_id}"
    # Stopping over FHIR goes through the service, with the reason.
    stopped = {**again, "status": "stopped", "statusReason": {"text": "Rash"}}
    answer = api.put(f"/fhir/MedicationRequest/{body['id']}", json=stopped, headers=headers(token))
    assert answer.status_code == 200, answer.text
    session.expire_all()
    assert (session.get(MedicationOrder, int(body["id"])).status, row.end_reason) == ("stopped", "Rash")
    session.commit()
    restarted = {**stopped, "status": "active"}
    answer = api.put(f"/fhir/MedicationRequest/{body['id']}", json=restarted, headers=headers(token))
    assert answer.status_code == 422, answer.text


def test_an_order_check_that_needs_an_override_refuses_the_request(api, tokens, session, rx):
    order(session, rx, rx.man, "RX-WARF-5-TAB", dose="5", dose_unit="mg")
    answer = post(api, tokens.issue(), prescription(rx.man))
    assert answer.status_code == 422, answer.text
    assert "Warfarin with an NSAID: bleeding." in answer.json()["issue"][0]["diagnostics"]
    signed = session.execute(select(MedicationOrder.id).where(MedicationOrder.patient_id == rx.man)).all()
    assert len(signed) == 1  # only the warfarin: nothing of the refused order was kept


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            {"medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1"}]}},
            "medicationCodeableConcept",
        ),
        ({"medicationCodeableConcept": {"text": "ibuprofen"}}, "medicationCodeableConcept"),
        ({"category": []}, "category"),
        ({"status": "draft"}, "status"),
        ({"dosageInstruction": []}, "dosageInstruction"),
    ],
)
def test_invalid_medication_requests_are_refused_naming_the_element(api, tokens, session, rx, change, where):
    answer = post(api, tokens.issue(), {**prescription(rx.man), **change})
    assert answer.status_code in (400, 422), answer.text
    expressions = [e for issue in answer.json()["issue"] for e in issue.get("expression", [])]
    assert any(e.startswith(f"MedicationRequest.{where}") for e in expressions), answer.text
    assert session.execute(select(MedicationOrder.id)).all() == []


def test_a_wrong_route_is_named_by_the_service(api, tokens, rx):
    answer = post(api, tokens.issue(), prescription(rx.man, route="47625008"))  # intravenous
    assert answer.status_code == 422, answer.text
    issue = answer.json()["issue"][0]
    assert issue["expression"] == ["MedicationRequest.dosageInstruction[0].route"]
    assert "by mouth" in issue["diagnostics"]


def test_writing_needs_the_write_scope_and_the_patient(api, tokens, rx):
    reader = tokens.issue(scopes="system/MedicationRequest.read")
    assert post(api, reader, prescription(rx.man)).status_code == 403
    theirs = tokens.issue(scopes="patient/MedicationRequest.write", patient_id=rx.woman)
    assert post(api, theirs, prescription(rx.man)).status_code == 403
