"""The directory over FHIR: staff (Practitioner), departments (Organization), rooms (Location),
appointments and schedules, read and searched as a client would, never written."""

from __future__ import annotations

from fhir.resources.R4B import get_fhir_model_class

from hms_app.services import accounts
from hms_app.services.permissions import SYSTEM_ACTOR
from tests.api import fhir_support
from tests.api.fhir_support import headers
from tests.services import test_scheduling
from tests.services.test_scheduling import add_patients

api, tokens = fhir_support.api, fhir_support.tokens  # the fixtures
clinic = test_scheduling.clinic  # two GPs, an exam room and an MRI scanner; departments GEN and IMG


def valid(resource: dict) -> dict:
    """The resource, after checking it is a valid R4B resource of its type."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def ids(api, token: str, query: str) -> list[str]:
    response = api.get(f"/fhir/{query}", headers=headers(token))
    assert response.status_code == 200, response.text
    bundle = response.json()
    for entry in bundle.get("entry", []):
        valid(entry["resource"])
    assert bundle["total"] == len(bundle.get("entry", []))
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def assert_read_only_and_scoped(api, tokens, resource_type: str, fhir_id: str) -> None:
    """Creating is refused with an OperationOutcome; a token without read scope for the type is refused."""
    full = tokens.issue()
    created = api.post(f"/fhir/{resource_type}", json={"resourceType": resource_type}, headers=headers(full))
    assert created.status_code == 405, created.text
    assert created.json()["resourceType"] == "OperationOutcome"
    other = tokens.issue(scopes="system/Patient.read")
    for url in (f"/fhir/{resource_type}/{fhir_id}", f"/fhir/{resource_type}"):
        refused = api.get(url, headers=headers(other))
        assert refused.status_code == 403, refused.text
        assert refused.json()["resourceType"] == "OperationOutcome"


def staff(session, username: str, name: str, **extra):
    accounts.ensure_roles(session)
    user = accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username=username,
        display_name=name,
        password="Correct-horse-7-battery",
        roles=["physician"],
        **extra,
    )
    session.commit()
    return user


# --- Practitioner ---------------------------------------------------------------------------


def test_practitioner_is_a_member_of_staff_read_and_searched(api, tokens, session):
    grey = staff(session, "mgrey", "Meredith Grey", email="grey@example.org")
    shep = staff(session, "dshep", "Derek Shepherd")
    patient_id = add_patients(session, 1)[0]
    portal_user = staff(session, "portal-pat", "Pat Portal", patient_id=patient_id)
    token = tokens.issue()  # its own service account (fhir-test-1) is no member of staff

    body = valid(api.get(f"/fhir/Practitioner/{grey.id}", headers=headers(token)).json())
    assert body["name"] == [{"text": "Meredith Grey"}]
    assert body["identifier"] == [{"system": "urn:hms:user", "value": "mgrey"}]
    assert body["active"] is True
    assert body["telecom"][0]["value"] == "grey@example.org"

    assert sorted(ids(api, token, "Practitioner")) == sorted([str(grey.id), str(shep.id)])
    assert ids(api, token, "Practitioner?name=meredith") == [str(grey.id)]
    assert ids(api, token, "Practitioner?name=nobody") == []
    assert ids(api, token, "Practitioner?identifier=urn:hms:user|dshep") == [str(shep.id)]
    assert ids(api, token, "Practitioner?identifier=urn:other|dshep") == []
    assert ids(api, token, "Practitioner?active=true&name=derek") == [str(shep.id)]
    assert ids(api, token, "Practitioner?active=false") == []
    # A portal patient's account and a client's service account are not staff.
    for hidden in (portal_user.id, tokens.issued[token].actor.user_id):
        assert api.get(f"/fhir/Practitioner/{hidden}", headers=headers(token)).status_code == 404
    assert_read_only_and_scoped(api, tokens, "Practitioner", str(grey.id))


def test_practitioner_needs_the_schedule_reading_permission(api, tokens, session):
    grey = staff(session, "mgrey", "Meredith Grey")
    lab_only = tokens.issue(permissions=frozenset({"patient.read", "lab.read"}))
    refused = api.get(f"/fhir/Practitioner/{grey.id}", headers=headers(lab_only))
    assert refused.status_code == 403
    assert "schedules" in refused.json()["issue"][0]["diagnostics"]


# --- Organization ---------------------------------------------------------------------------


def test_organization_is_a_department(api, tokens, session, clinic):
    token = tokens.issue()
    body = valid(api.get(f"/fhir/Organization/{clinic.gen}", headers=headers(token)).json())
    assert body["name"] == "General medicine"
    assert body["identifier"] == [{"system": "urn:hms:department", "value": "GEN"}]
    assert body["type"][0]["coding"][0]["code"] == "dept"
    assert body["active"] is True

    assert ids(api, token, "Organization?_sort=name") == [str(clinic.gen), str(clinic.img)]
    assert ids(api, token, "Organization?name=imag") == [str(clinic.img)]
    assert ids(api, token, "Organization?name=surgery") == []
    assert ids(api, token, "Organization?identifier=urn:hms:department|GEN") == [str(clinic.gen)]
    assert ids(api, token, "Organization?identifier=IMG") == [str(clinic.img)]
    assert ids(api, token, "Organization?identifier=urn:hms:department|XXX") == []
    assert len(ids(api, token, "Organization?active=true")) == 2
    assert ids(api, token, "Organization?active=false") == []
    assert len(ids(api, token, "Organization?type=dept")) == 2
    assert ids(api, token, "Organization?type=pay") == []
    assert api.get("/fhir/Organization/999", headers=headers(token)).status_code == 404
    assert_read_only_and_scoped(api, tokens, "Organization", str(clinic.gen))


# --- Location -------------------------------------------------------------------------------


def test_location_is_a_bookable_room(api, tokens, session, clinic):
    token = tokens.issue()
    body = valid(api.get(f"/fhir/Location/{clinic.room}", headers=headers(token)).json())
    assert body["name"] == "Exam room 1"
    assert body["status"] == "active"
    assert body["managingOrganization"] == {
        "reference": f"Organization/{clinic.gen}",
        "display": "General medicine",
    }
    # A provider and a scanner are booked too, but they are no place.
    for not_a_place in (clinic.dr_a, clinic.mri):
        assert api.get(f"/fhir/Location/{not_a_place}", headers=headers(token)).status_code == 404
    assert ids(api, token, "Location") == [str(clinic.room)]
    assert ids(api, token, "Location?name=exam") == [str(clinic.room)]
    assert ids(api, token, "Location?name=ward") == []
    assert ids(api, token, "Location?status=active") == [str(clinic.room)]
    assert ids(api, token, "Location?status=inactive") == []
    assert ids(api, token, f"Location?organization=Organization/{clinic.gen}") == [str(clinic.room)]
    assert ids(api, token, f"Location?organization={clinic.img}") == []
    assert_read_only_and_scoped(api, tokens, "Location", str(clinic.room))
