"""Laboratory results are Observations beside the vital signs: once released, a numeric result
is on the chart's observation list (category ``laboratory``), so a client searching a patient's
Observations by code, category or date finds it; a result not yet released is never answered."""

from __future__ import annotations

from fhir.resources.R4B import get_fhir_model_class

from hms_app.services.emr.observations import record_observation
from hms_app.services.permissions import SYSTEM_ACTOR
from tests.api.fhir_support import headers
from tests.services.lab_world import build_lab_world, received_order, released_value

POTASSIUM = "2823-3"
SODIUM = "2951-2"


def _search(api, token, query: str) -> dict:
    response = api.get(f"/fhir/Observation?{query}", headers=headers(token))
    assert response.status_code == 200, response.text
    return response.json()


def test_released_results_are_observations_beside_the_vital_signs(api, tokens, session):
    world = build_lab_world(session)
    released_value(session, world, world.man, POTASSIUM, "6.9")
    received_order(session, world, world.man, SODIUM)  # in the laboratory, no result yet
    record_observation(
        session,
        actor=SYSTEM_ACTOR,
        patient_id=world.man,
        code="8867-4",
        display="Heart rate",
        value=72,
        unit="/min",
    )
    session.rollback()
    token = tokens.issue()

    labs = _search(api, token, f"patient={world.man}&category=laboratory")
    assert labs["total"] == 1
    potassium = labs["entry"][0]["resource"]
    get_fhir_model_class("Observation").model_validate(potassium)
    assert potassium["code"]["coding"][0]["code"] == POTASSIUM
    assert potassium["valueQuantity"]["value"] == 6.9
    assert _search(api, token, f"patient={world.man}&category=vital-signs")["total"] == 1
    assert _search(api, token, f"patient={world.man}&code=http://loinc.org|{SODIUM}")["total"] == 0
    assert _search(api, token, f"patient={world.man}")["total"] == 2
    assert _search(api, token, f"patient={world.woman}&category=laboratory")["total"] == 0
