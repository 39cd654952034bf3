"""Schedule: the calendar of one bookable scheduling ``resource`` (a provider, a room, a scanner),
read-only. Its working hours are the weekly templates on the scheduling setup screen; its busy
times are the Slots (see slot.py)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import object_session

from hms_app.interop.fhir.elements import concept
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.resources.appointment import SERVICE_SYSTEM
from hms_app.interop.fhir.resources.location import resource_actor
from hms_app.interop.fhir.search import Param, boolean, reference_id, split_values
from hms_app.models.scheduling import HealthcareService, Resource, ResourceService


def actor_param() -> Param:
    """``actor=Practitioner/3`` or ``actor=Location/7``: the schedule of that provider or room."""

    def build(raw: str, modifier: str | None, name: str):
        if modifier is not None:
            raise fail(400, f"The modifier :{modifier} is not supported on {name}.", code="not-supported")
        clauses = []
        for value in split_values(raw, name):
            target = "Location" if "Location/" in value else "Practitioner"
            if "/" in value and f"{target}/" not in value:
                raise fail(
                    400,
                    f"Search parameter {name} takes a Practitioner or Location reference, not {value[:60]!r}.",
                )
            wanted = reference_id(value, target, name)
            if target == "Location":
                clauses.append((Resource.kind == "room") & (Resource.id == wanted))
            else:
                clauses.append((Resource.kind == "provider") & (Resource.user_id == wanted))
        return or_(*clauses)

    return Param("reference", build)


class ScheduleMapper(Mapper):
    resource_type = "Schedule"
    table = Resource
    documentation = "One per bookable provider, room or scanner; actor is the Practitioner or Location."
    read_permission = "appointment.read"
    patient_column = None
    in_everything = False
    owned = frozenset({"active", "serviceType", "actor", "comment"})
    sorts = {"name": Resource.name}

    def search_params(self) -> dict[str, Param]:
        return {"actor": actor_param(), "active": boolean(Resource.active)}

    def last_updated(self, row: Resource):
        return None

    def to_fhir(self, row: Resource) -> dict:
        # The row's own session is open while the answer is rendered: it reads the services.
        services = (
            object_session(row)
            .execute(
                select(HealthcareService)
                .join(ResourceService, ResourceService.service_id == HealthcareService.id)
                .where(ResourceService.resource_id == row.id)
                .order_by(HealthcareService.code)
            )
            .scalars()
        )
        return {
            "active": row.active,
            "serviceType": [concept(SERVICE_SYSTEM, service.code, service.name) for service in services],
            "actor": [resource_actor(row)],
            "comment": f"{row.kind.capitalize()}: {row.name}",
        }


MAPPER = ScheduleMapper()
