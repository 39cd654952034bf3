"""ServiceRequest is kept in two tables, the laboratory's orders and radiology's: one search
answers both, merged in one order and paged across them; each id leads to its own table
(``img-`` for imaging); each department's permission decides which of them a role sees."""

from __future__ import annotations

from datetime import timedelta

from fhir.resources.R4B import get_fhir_model_class

from hms_app.clock import utcnow
from hms_app.models.radiology import ImagingOrder
from hms_app.seed.radiology import load_catalogue as load_imaging_catalogue
from hms_app.services.permissions import PERMISSIONS
from tests.api.fhir_support import headers
from tests.services.lab_world import build_lab_world, received_order

POTASSIUM = "2823-3"


def _imaging_order(session, world, patient_id: int, accession: str, minutes_ago: int) -> int:
    codes = load_imaging_catalogue(session)
    order = ImagingOrder(
        accession=accession,
        patient_id=patient_id,
        procedure_id=codes["IMG-CT-HEAD"],
        clinical_question="Headache: bleed?",
        ordered_by_id=world.physician.user_id,
        ordered_by=world.physician.username,
        ordered_at=utcnow() - timedelta(minutes=minutes_ago),
    )
    session.add(order)
    session.commit()
    return order.id


def _search(api, token, query: str) -> dict:
    response = api.get(f"/fhir/ServiceRequest?{query}", headers=headers(token))
    assert response.status_code == 200, response.text
    return response.json()


def test_one_search_answers_laboratory_and_imaging_orders_merged_and_paged(api, tokens, session):
    world = build_lab_world(session)
    lab_order_id, _ = received_order(session, world, world.man, POTASSIUM)
    older = _imaging_order(session, world, world.man, "ACC00000001", minutes_ago=600)
    _imaging_order(session, world, world.woman, "ACC00000002", minutes_ago=5)
    session.rollback()
    token = tokens.issue()

    found = _search(api, token, f"patient={world.man}&_sort=-authored")
    assert found["total"] == 2
    ids = [e["resource"]["id"] for e in found["entry"]]
    assert ids == [str(lab_order_id), f"img-{older}"]  # the lab order is the newer
    for entry in found["entry"]:
        get_fhir_model_class("ServiceRequest").model_validate(entry["resource"])
    oldest_first = _search(api, token, f"patient={world.man}&_sort=authored&_count=1")
    assert [e["resource"]["id"] for e in oldest_first["entry"]] == [f"img-{older}"]
    following = next(link["url"] for link in oldest_first["link"] if link["relation"] == "next")
    second = api.get(following.replace("http://localhost:3000", ""), headers=headers(token)).json()
    assert [e["resource"]["id"] for e in second["entry"]] == [str(lab_order_id)]

    imaging = _search(api, token, f"patient={world.man}&category=363679005")
    assert [e["resource"]["id"] for e in imaging["entry"]] == [f"img-{older}"]
    assert _search(api, token, f"code=http://loinc.org|{POTASSIUM}")["total"] == 1
    assert _search(api, token, "identifier=urn:hms:accession|ACC00000002")["entry"][0]["resource"][
        "subject"
    ] == {"reference": f"Patient/{world.woman}"}
    assert _search(api, token, "status=active")["total"] == 3
    assert _search(api, token, "status=completed")["total"] == 0

    read = api.get(f"/fhir/ServiceRequest/img-{older}", headers=headers(token)).json()
    assert read["code"]["coding"][0]["code"] == "IMG-CT-HEAD"
    assert read["reasonCode"] == [{"text": "Headache: bleed?"}]
    assert (
        api.get(f"/fhir/ServiceRequest/img-{lab_order_id + 999}", headers=headers(token)).status_code == 404
    )
    assert api.get("/fhir/ServiceRequest/lab-1", headers=headers(token)).status_code == 404
    everything = api.get(f"/fhir/Patient/{world.man}/$everything", headers=headers(token)).json()
    assert {str(lab_order_id), f"img-{older}"} <= {e["resource"]["id"] for e in everything["entry"]}
    assert api.get("/fhir/ServiceRequest?_count=1000&_offset=9500", headers=headers(token)).status_code == 400


def test_each_departments_permission_decides_which_orders_a_role_sees(api, tokens, session):
    world = build_lab_world(session)
    lab_order_id, _ = received_order(session, world, world.man, POTASSIUM)
    imaging_id = _imaging_order(session, world, world.man, "ACC00000003", minutes_ago=30)
    session.rollback()
    lab_only = tokens.issue(permissions=frozenset(PERMISSIONS) - {"imaging.read", "portal.self"})
    seen = _search(api, lab_only, f"patient={world.man}")
    assert [e["resource"]["id"] for e in seen["entry"]] == [str(lab_order_id)]
    assert api.get(f"/fhir/ServiceRequest/img-{imaging_id}", headers=headers(lab_only)).status_code == 403
    imaging_only = tokens.issue(permissions=frozenset(PERMISSIONS) - {"lab.read", "portal.self"})
    seen = _search(api, imaging_only, f"patient={world.man}")
    assert [e["resource"]["id"] for e in seen["entry"]] == [f"img-{imaging_id}"]
    neither = tokens.issue(permissions=frozenset(PERMISSIONS) - {"lab.read", "imaging.read", "portal.self"})
    assert api.get(f"/fhir/ServiceRequest?patient={world.man}", headers=headers(neither)).status_code == 403
    other = tokens.issue(scopes="patient/*.read", patient_id=world.woman)
    assert _search(api, other, f"patient={world.man}")["total"] == 0
    assert api.get(f"/fhir/ServiceRequest/img-{imaging_id}", headers=headers(other)).status_code == 404
    assert (
        api.post(
            "/fhir/ServiceRequest",
            json={
                "resourceType": "ServiceRequest",
                "status": "active",
                "intent": "order",
                "subject": {"reference": f"Patient/{world.man}"},
            },
            headers=headers(tokens.issue()),
        ).status_code
        == 405
    )


def test_a_bulk_export_writes_both_tables_and_only_those_the_role_reads(api, tokens, session):
    from tests.api.test_fhir_export import _download, _finish, _kick_off

    world = build_lab_world(session)
    lab_order_id, _ = received_order(session, world, world.man, POTASSIUM)
    imaging_id = _imaging_order(session, world, world.man, "ACC00000004", minutes_ago=30)
    session.rollback()
    everything = tokens.issue()
    manifest = _finish(api, everything, _kick_off(api, everything, "?_type=ServiceRequest"))
    (output,) = manifest["output"]
    lines = _download(api, everything, output["url"])
    assert sorted(line["id"] for line in lines) == sorted([str(lab_order_id), f"img-{imaging_id}"])
    lab_only = tokens.issue(permissions=frozenset(PERMISSIONS) - {"imaging.read", "portal.self"})
    manifest = _finish(api, lab_only, _kick_off(api, lab_only, "?_type=ServiceRequest"))
    assert [line["id"] for line in _download(api, lab_only, manifest["output"][0]["url"])] == [
        str(lab_order_id)
    ]
