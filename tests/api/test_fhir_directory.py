"""The directory over FHIR: staff (Practitioner), departments (Organization), rooms (Location),
appointments and schedules, read and searched as a client would, never written."""

from __future__ import annotations

from fhir.resources.R4B import get_fhir_model_class

from hms_app.models.scheduling import Resource
from hms_app.services import accounts
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.scheduling.booking import cancel_appointment
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


# --- Appointment ----------------------------------------------------------------------------


def booked_day(session, clinic):
    """Dr A (who has an account) sees patient 0 at 09:00; Dr B sees patient 1 at 10:00, cancelled."""
    doctor = staff(session, "dra", "Dr A")
    session.get(Resource, clinic.dr_a).user_id = doctor.id
    session.commit()
    first = test_scheduling.book(session, clinic, 9, patient=0, resource=clinic.dr_a)
    second = test_scheduling.book(session, clinic, 10, patient=1, resource=clinic.dr_b)
    cancel_appointment(
        session, actor=test_scheduling.RECEPTION, appointment_id=second.id, reason="Feels better"
    )
    session.commit()
    return doctor, first, second


def test_appointment_names_patient_practitioner_room_and_visit_type(api, tokens, session, clinic):
    doctor, first, second = booked_day(session, clinic)
    token = tokens.issue()
    body = valid(api.get(f"/fhir/Appointment/{first.id}", headers=headers(token)).json())
    assert body["status"] == "booked"
    assert body["identifier"] == [{"system": "urn:hms:appointment", "value": first.reference}]
    assert body["start"] == clinic.at(9).isoformat().replace("+00:00", "Z")
    assert body["end"] == clinic.at(9, 20).isoformat().replace("+00:00", "Z")
    assert body["minutesDuration"] == 20
    assert body["serviceType"][0]["coding"][0]["code"] == "GP"
    assert body["appointmentType"]["coding"][0]["code"] == "STD"
    actors = [p["actor"].get("reference") for p in body["participant"]]
    assert actors == [f"Patient/{clinic.patients[0]}", f"Practitioner/{doctor.id}", f"Location/{clinic.room}"]
    # Each reference resolves to a resource the same client can read.
    for reference in actors:
        assert api.get(f"/fhir/{reference}", headers=headers(token)).status_code == 200

    cancelled = valid(api.get(f"/fhir/Appointment/{second.id}", headers=headers(token)).json())
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelationReason"] == {"text": "Feels better"}
    # Dr B has no account: named, not referenced.
    assert {"display": "Dr B"} in [p["actor"] for p in cancelled["participant"]]
    assert_read_only_and_scoped(api, tokens, "Appointment", str(first.id))


def test_appointment_searches(api, tokens, session, clinic):
    doctor, first, second = booked_day(session, clinic)
    one, two = str(first.id), str(second.id)
    token = tokens.issue()
    day = clinic.day.isoformat()
    assert ids(api, token, f"Appointment?patient=Patient/{clinic.patients[0]}") == [one]
    assert ids(api, token, f"Appointment?patient={clinic.patients[2]}") == []
    assert ids(api, token, f"Appointment?date={day}") == [one, two]
    assert ids(api, token, f"Appointment?date={day}&_sort=-date") == [two, one]
    assert ids(api, token, f"Appointment?date=gt{day}") == []
    assert ids(api, token, f"Appointment?date=ge{clinic.at(9, 30):%Y-%m-%dT%H:%M:%SZ}") == [two]
    assert ids(api, token, "Appointment?status=booked") == [one]
    assert ids(api, token, "Appointment?status=cancelled,noshow") == [two]
    assert ids(api, token, "Appointment?status=fulfilled") == []
    assert ids(api, token, f"Appointment?practitioner=Practitioner/{doctor.id}") == [one]
    assert ids(api, token, f"Appointment?practitioner={doctor.id + 1000}") == []
    assert ids(api, token, f"Appointment?location=Location/{clinic.room}") == [one, two]
    assert ids(api, token, f"Appointment?location={clinic.mri}") == []  # a scanner is no Location
    assert ids(api, token, f"Appointment?identifier=urn:hms:appointment|{second.reference}") == [two]
    assert ids(api, token, "Appointment?identifier=urn:hms:appointment|AP-NOPE") == []
    bad = api.get("/fhir/Appointment?practitioner=Patient/1", headers=headers(token))
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    bad = api.get("/fhir/Appointment?date=tomorrow", headers=headers(token))
    assert bad.status_code == 400


def test_a_patient_token_sees_only_its_own_appointments(api, tokens, session, clinic):
    _doctor, first, second = booked_day(session, clinic)
    mine = tokens.issue(patient_id=clinic.patients[0])
    assert api.get(f"/fhir/Appointment/{first.id}", headers=headers(mine)).status_code == 200
    theirs = api.get(f"/fhir/Appointment/{second.id}", headers=headers(mine))
    assert theirs.status_code == 404
    assert ids(api, mine, "Appointment") == [str(first.id)]
    assert ids(api, mine, f"Appointment?patient={clinic.patients[1]}") == []


def test_everything_includes_the_patients_appointments(api, tokens, session, clinic):
    _doctor, first, _second = booked_day(session, clinic)
    token = tokens.issue()
    bundle = api.get(f"/fhir/Patient/{clinic.patients[0]}/$everything", headers=headers(token)).json()
    found = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]]
    assert ("Appointment", str(first.id)) in found
    assert [t for t, _ in found].count("Appointment") == 1  # not the other patient's
    assert not {"Practitioner", "Organization", "Location"} & {t for t, _ in found}


# --- Schedule and Slot ----------------------------------------------------------------------


def test_schedule_is_a_bookable_resource_with_its_actor(api, tokens, session, clinic):
    doctor, _first, _second = booked_day(session, clinic)
    token = tokens.issue()
    body = valid(api.get(f"/fhir/Schedule/{clinic.dr_a}", headers=headers(token)).json())
    assert body["actor"] == [{"reference": f"Practitioner/{doctor.id}", "display": "Dr A"}]
    assert body["serviceType"][0]["coding"][0]["code"] == "GP"
    assert body["active"] is True
    room = valid(api.get(f"/fhir/Schedule/{clinic.room}", headers=headers(token)).json())
    assert room["actor"][0]["reference"] == f"Location/{clinic.room}"

    assert len(ids(api, token, "Schedule")) == 4  # two GPs, the room, the scanner
    assert ids(api, token, f"Schedule?actor=Practitioner/{doctor.id}") == [str(clinic.dr_a)]
    assert ids(api, token, f"Schedule?actor=Location/{clinic.room}") == [str(clinic.room)]
    assert ids(api, token, f"Schedule?actor=Location/{clinic.dr_a}") == []  # a provider is no place
    assert ids(api, token, f"Schedule?actor=Practitioner/{doctor.id + 1000}") == []
    assert len(ids(api, token, "Schedule?active=true")) == 4
    assert ids(api, token, "Schedule?active=false") == []
    assert api.get("/fhir/Schedule?actor=Patient/1", headers=headers(token)).status_code == 400
    assert_read_only_and_scoped(api, tokens, "Schedule", str(clinic.dr_a))


def test_slots_are_the_busy_times_of_a_schedule(api, tokens, session, clinic):
    _doctor, _first, _second = booked_day(session, clinic)  # the 10:00 visit was cancelled: its time is free
    token = tokens.issue()
    slots = api.get(f"/fhir/Slot?schedule=Schedule/{clinic.dr_a}", headers=headers(token)).json()
    starts = [e["resource"]["start"] for e in slots["entry"]]
    # A 20-minute visit at 09:00 holds four 5-minute steps of Dr A.
    assert starts == [f"{clinic.at(9, m):%Y-%m-%dT%H:%M:%SZ}" for m in (0, 5, 10, 15)]
    first = valid(slots["entry"][0]["resource"])
    assert first["status"] == "busy"
    assert first["schedule"] == {"reference": f"Schedule/{clinic.dr_a}"}
    assert first["end"] == f"{clinic.at(9, 5):%Y-%m-%dT%H:%M:%SZ}"
    assert (
        valid(api.get(f"/fhir/Slot/{first['id']}", headers=headers(token)).json())["start"] == first["start"]
    )

    assert ids(api, token, f"Slot?schedule={clinic.dr_b}") == []  # the cancelled visit holds nothing
    assert len(ids(api, token, f"Slot?schedule={clinic.room}&status=busy")) == 4
    assert ids(api, token, f"Slot?schedule={clinic.room}&status=busy-tentative") == []
    assert (
        len(ids(api, token, f"Slot?start=ge{clinic.at(9, 10):%Y-%m-%dT%H:%M:%SZ}&schedule={clinic.dr_a}"))
        == 2
    )
    assert ids(api, token, f"Slot?start=ge{clinic.at(9, 30):%Y-%m-%dT%H:%M:%SZ}") == []
    free = api.get("/fhir/Slot?status=free", headers=headers(token))
    assert free.status_code == 400 and "Free slots" in free.json()["issue"][0]["diagnostics"]
    assert api.get("/fhir/Slot?status=open", headers=headers(token)).status_code == 400
    assert_read_only_and_scoped(api, tokens, "Slot", first["id"])


def test_the_capability_statement_lists_the_directory_read_only(api, tokens):
    statement = api.get("/fhir/metadata").json()
    types = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for name, param in (
        ("Practitioner", "name"),
        ("Organization", "identifier"),
        ("Location", "organization"),
        ("Appointment", "practitioner"),
        ("Schedule", "actor"),
        ("Slot", "schedule"),
    ):
        assert param in {p["name"] for p in types[name]["searchParam"]}
        assert {i["code"] for i in types[name]["interaction"]} <= {
            "read",
            "vread",
            "history-instance",
            "search-type",
        }
