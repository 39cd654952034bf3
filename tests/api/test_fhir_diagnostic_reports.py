"""DiagnosticReport from the laboratory (a released result) and from radiology (a signed report,
``img-`` ids): drafts and unreleased results are never answered, each points at the order it
answers, and a search by category or code finds each department's own."""

from __future__ import annotations

import base64

from fhir.resources.R4B import get_fhir_model_class

from hms_app.clock import utcnow
from hms_app.models.radiology import ImagingReport
from tests.api.fhir_support import headers
from tests.api.test_fhir_service_requests import _imaging_order
from tests.services.lab_world import build_lab_world, received_order, released_value

POTASSIUM = "2823-3"


def _report(session, world, order_id: int, patient_id: int, status: str, impression: str) -> int:
    signed = status != "draft"
    row = ImagingReport(
        signed_by_id=world.physician.user_id if signed else None,
        signed_by=world.physician.username if signed else None,
        final_at=utcnow() if status == "final" else None,
        order_id=order_id,
        patient_id=patient_id,
        status=status,
        findings="No haemorrhage. Ventricles normal.",
        impression=impression,
        drafted_by="dr.read",
    )
    session.add(row)
    session.commit()
    return row.id


def _search(api, token, query: str) -> dict:
    response = api.get(f"/fhir/DiagnosticReport?{query}", headers=headers(token))
    assert response.status_code == 200, response.text
    return response.json()


def test_released_results_and_signed_reports_are_diagnostic_reports(api, tokens, session):
    world = build_lab_world(session)
    result_id = released_value(session, world, world.man, POTASSIUM, "6.9")
    received_order(session, world, world.man, "2951-2")  # no result yet: no report
    order_id = _imaging_order(session, world, world.man, "ACC00000009", minutes_ago=60)
    signed = _report(session, world, order_id, world.man, "final", "No acute intracranial abnormality.")
    draft_order = _imaging_order(session, world, world.man, "ACC00000010", minutes_ago=30)
    _report(session, world, draft_order, world.man, "draft", "not yet")
    session.rollback()
    token = tokens.issue()

    found = _search(api, token, f"patient={world.man}")
    assert sorted(e["resource"]["id"] for e in found["entry"]) == sorted([str(result_id), f"img-{signed}"])
    for entry in found["entry"]:
        get_fhir_model_class("DiagnosticReport").model_validate(entry["resource"])
    lab = api.get(f"/fhir/DiagnosticReport/{result_id}", headers=headers(token)).json()
    assert "6.9 mmol/L (HH)" in lab["conclusion"]
    assert lab["code"]["coding"][0]["code"] == POTASSIUM
    imaging = api.get(f"/fhir/DiagnosticReport/img-{signed}", headers=headers(token)).json()
    assert imaging["conclusion"] == "No acute intracranial abnormality."
    assert imaging["basedOn"] == [{"reference": f"ServiceRequest/img-{order_id}"}]
    assert (
        base64.b64decode(imaging["presentedForm"][0]["data"]).decode() == "No haemorrhage. Ventricles normal."
    )
    assert [e["resource"]["id"] for e in _search(api, token, "category=RAD")["entry"]] == [f"img-{signed}"]
    assert [
        e["resource"]["id"] for e in _search(api, token, f"code=http://loinc.org|{POTASSIUM}")["entry"]
    ] == [str(result_id)]
    assert _search(api, token, f"based-on=ServiceRequest/img-{order_id}")["total"] == 1
    assert _search(api, token, "status=preliminary")["total"] == 0
    other = tokens.issue(scopes="patient/*.read", patient_id=world.woman)
    assert _search(api, other, f"patient={world.man}")["total"] == 0
    assert api.get(f"/fhir/DiagnosticReport/img-{signed}", headers=headers(other)).status_code == 404
