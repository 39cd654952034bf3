"""Organization: the hospital's departments (``department`` table; plain ids) and the payers
(``payer``; ids ``pay-<n>``), read-only."""

from __future__ import annotations

from sqlalchemy import literal

from hms_app.interop.fhir.elements import concept
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.search import Param, boolean, identifier, string, token
from hms_app.models.organization import Department
from hms_app.models.patients import Payer

DEPARTMENT_SYSTEM = "urn:hms:department"
ORGANIZATION_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"


class OrganizationMapper(Mapper):
    resource_type = "Organization"
    table = Department
    documentation = (
        "The hospital's departments; the department code is the identifier of system urn:hms:department."
    )
    # Departments name where a visit happens and who works there: read alongside schedules.
    read_permission = "appointment.read"
    patient_column = None
    in_everything = False
    owned = frozenset({"identifier", "active", "type", "name"})
    sorts = {"name": Department.name}

    def search_params(self) -> dict[str, Param]:
        return {
            "identifier": identifier("Organization", Department.id, {DEPARTMENT_SYSTEM: Department.code}),
            "name": string(Department.name),
            "active": boolean(Department.active),
            # Every row is a hospital department: the type matches all of them or none.
            "type": token(literal("dept"), system=ORGANIZATION_TYPE),
        }

    def last_updated(self, row: Department):
        return None

    def to_fhir(self, row: Department) -> dict:
        return {
            "identifier": [{"system": DEPARTMENT_SYSTEM, "value": row.code}],
            "active": row.active,
            "type": [concept(ORGANIZATION_TYPE, "dept", "Hospital Department")],
            "name": row.name,
        }


PAYER_SYSTEM = "urn:hms:payer"


class PayerMapper(Mapper):
    resource_type = "Organization"
    id_prefix = "pay-"
    table = Payer
    read_permission = "appointment.read"
    patient_column = None
    in_everything = False
    owned = frozenset({"identifier", "active", "type", "name"})
    sorts = {"name": Payer.name}

    def search_params(self) -> dict[str, Param]:
        return {
            "identifier": identifier(self.identity_key, Payer.id, {PAYER_SYSTEM: Payer.code}),
            "name": string(Payer.name),
            "active": boolean(Payer.active),
            "type": token(literal("pay"), system=ORGANIZATION_TYPE),
        }

    def last_updated(self, row: Payer):
        return None

    def to_fhir(self, row: Payer) -> dict:
        return {
            "identifier": [{"system": PAYER_SYSTEM, "value": row.code}],
            "active": row.active,
            "type": [concept(ORGANIZATION_TYPE, "pay", "Payer")],
            "name": row.name,
        }


MAPPERS = [OrganizationMapper(), PayerMapper()]
