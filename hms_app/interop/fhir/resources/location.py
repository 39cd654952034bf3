"""Location: the rooms that visits are booked into (scheduling ``resource`` rows of kind room).

Wards and beds are places too, but an Appointment's participant names a bookable room, and a
reference a client cannot resolve is worth little: rooms are the Locations here. Read-only:
rooms are set up on the scheduling setup screen."""

from __future__ import annotations

from sqlalchemy.orm import object_session

from hms_app.interop.fhir.elements import concept, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.search import Param, reference, string, token
from hms_app.models.organization import Department
from hms_app.models.scheduling import Resource

PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"


def resource_actor(resource: Resource) -> dict:
    """A scheduling resource as a reference: a provider with an account is a Practitioner, a room a
    Location; a provider without one and a piece of equipment (no Device mapper) are named only."""
    if resource.kind == "provider" and resource.user_id is not None:
        return ref("Practitioner", resource.user_id, resource.name)
    if resource.kind == "room":
        return ref("Location", resource.id, resource.name)
    return {"display": resource.name}


class LocationMapper(Mapper):
    resource_type = "Location"
    table = Resource
    documentation = "Bookable rooms; managingOrganization is the department (Organization) they belong to."
    read_permission = "appointment.read"
    patient_column = None
    in_everything = False
    owned = frozenset({"status", "name", "mode", "physicalType", "managingOrganization"})
    sorts = {"name": Resource.name}

    def search_params(self) -> dict[str, Param]:
        return {
            "name": string(Resource.name),
            "status": token(Resource.active, values={"active": True, "inactive": False}),
            "organization": reference(Resource.department_id, "Organization"),
        }

    def select(self):
        return super().select().where(Resource.kind == "room")

    def last_updated(self, row: Resource):
        return None

    def to_fhir(self, row: Resource) -> dict:
        department = object_session(row).get(Department, row.department_id) if object_session(row) else None
        return {
            "status": "active" if row.active else "inactive",
            "name": row.name,
            "mode": "instance",
            "physicalType": concept(PHYSICAL_TYPE, "ro", "Room"),
            "managingOrganization": ref(
                "Organization", row.department_id, department.name if department else None
            ),
        }


MAPPER = LocationMapper()
