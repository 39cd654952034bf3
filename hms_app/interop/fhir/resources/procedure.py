"""Procedure: procedures performed (``procedure`` table), coded in SNOMED CT. HMS records none
itself yet (they come from imports such as Synthea), so the type is read-only."""

from __future__ import annotations

from hms_app.interop.fhir.elements import SNOMED, concept, instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.search import Param, date_param, reference, token
from hms_app.models.emr import Procedure

SYSTEMS = {"snomed": SNOMED}


class ProcedureMapper(Mapper):
    resource_type = "Procedure"
    table = Procedure
    documentation = "Procedures performed, coded in SNOMED CT (http://snomed.info/sct); read-only (imported)."
    read_permission = "patient.read"
    owned = frozenset(
        {"status", "code", "subject", "encounter", "performedDateTime", "performedPeriod", "reasonCode"}
    )
    sorts = {"date": Procedure.performed_at}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "code": token(Procedure.code, system=SNOMED),
            "date": date_param(Procedure.performed_at),
            "status": token(Procedure.status),
            "encounter": reference(Procedure.encounter_id, "Encounter"),
        }

    def last_updated(self, row: Procedure):
        return row.recorded_at

    def to_fhir(self, row: Procedure) -> dict:
        performed = {"start": instant(row.performed_at), "end": instant(row.performed_end_at)}
        return {
            "status": row.status,
            "code": concept(SYSTEMS.get(row.code_system, SNOMED), row.code, row.display),
            "subject": ref("Patient", row.patient_id),
            "encounter": ref("Encounter", row.encounter_id),
            # A moment when it has no end; a period when the import gave one.
            "performedDateTime": instant(row.performed_at) if row.performed_end_at is None else None,
            "performedPeriod": performed if row.performed_end_at is not None else None,
            "reasonCode": [{"text": row.reason}] if row.reason else None,
        }


MAPPER = ProcedureMapper()
