"""Observation: coded numeric measurements (``observation`` table): vital signs as the chart
records them, and results other systems send; written through the observations service."""

from __future__ import annotations

from sqlmodel import Session

from hms_app.cds.vitals import patient_reported
from hms_app.interop.fhir.elements import LOINC, UCUM, concept, instant, moment, pick_code, reference_to
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.search import Param, date_param, reference, token
from hms_app.models.emr import Observation
from hms_app.services.emr.observations import correct_observation, record_observation

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"


class ObservationMapper(Mapper):
    resource_type = "Observation"
    plain_rows = True
    table = Observation
    documentation = "Vital signs and other coded numeric observations (LOINC codes, UCUM units)."
    read_permission = "patient.read"
    write_permission = "emr.write"
    owned = frozenset(
        {"status", "category", "code", "subject", "encounter", "effectiveDateTime", "valueQuantity"}
    )
    sorts = {"date": Observation.effective_at}
    updated_column = "effective_at"
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "code": token(Observation.code, system=LOINC),
            "category": token(Observation.category, system=CATEGORY_SYSTEM),
            "date": date_param(Observation.effective_at),
            "status": token(Observation.status),
            "encounter": reference(Observation.encounter_id, "Encounter"),
        }

    last_updated_element = "effectiveDateTime"

    def last_updated(self, row: Observation):
        return row.effective_at

    def __init__(self) -> None:
        # The same few categories and codes come back on every row: their concepts are built
        # once and shared by the answers (which are only serialized, never changed).
        self._concepts: dict[tuple[str, str, str], dict] = {}

    def _concept(self, system: str, code: str, display: str) -> dict:
        key = (system, code, display)
        found = self._concepts.get(key)
        if found is None:
            if len(self._concepts) > 5000:
                self._concepts.clear()
            found = self._concepts[key] = concept(system, code, display)
        return found

    def to_fhir(self, row: Observation) -> dict:
        category = row.category
        resource = {
            "status": row.status,
            "category": [self._concept(CATEGORY_SYSTEM, category, category.replace("-", " ").capitalize())],
            "code": self._concept(LOINC, row.code, row.display),
            "subject": {"reference": f"Patient/{row.patient_id}"},
            "effectiveDateTime": instant(row.effective_at),
            "valueQuantity": {"value": row.value, "unit": row.unit, "system": UCUM, "code": row.unit},
        }
        if row.encounter_id is not None:
            resource["encounter"] = {"reference": f"Encounter/{row.encounter_id}"}
        if patient_reported(row.recorded_by):
            # Entered by the patient at home (the portal's home readings): the patient performed it.
            resource["performer"] = [{"reference": f"Patient/{row.patient_id}"}]
        return resource

    def patient_of_resource(self, session: Session, resource: dict) -> int | None:
        return reference_to(resource, "subject", "Patient")

    def _fields(self, resource: dict) -> dict:
        _system, code, display = pick_code(resource, "code", (LOINC,))
        if not code:
            raise fail(
                422,
                "Observation.code needs a LOINC coding (system http://loinc.org).",
                code="required",
                expression="Observation.code",
            )
        quantity = resource.get("valueQuantity")
        if not quantity or quantity.get("value") is None:
            raise fail(
                422,
                "Observation.valueQuantity with a value is required: this server keeps numeric observations.",
                code="not-supported",
                expression="Observation.valueQuantity",
            )
        _csys, category, _cdisplay = pick_code(
            {"c": (resource.get("category") or [{}])[0]}, "c", (CATEGORY_SYSTEM,)
        )
        effective = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
        if not effective:
            raise fail(
                422,
                "Observation.effectiveDateTime is required.",
                code="required",
                expression="Observation.effectiveDateTime",
            )
        return {
            "code": code,
            "display": display or code,
            "value": float(quantity["value"]),
            "unit": quantity.get("code") or quantity.get("unit") or "",
            "category": category or "vital-signs",
            "status": resource["status"],
            "effective_at": moment(effective, "Observation.effectiveDateTime"),
            "encounter_id": reference_to(resource, "encounter", "Encounter", required=False),
        }

    def create(self, session: Session, *, actor, resource: dict) -> int:
        patient_id = reference_to(resource, "subject", "Patient")
        return record_observation(session, actor=actor, patient_id=patient_id, **self._fields(resource)).id

    def update(self, session: Session, *, actor, row: Observation, resource: dict) -> None:
        correct_observation(session, actor=actor, observation_id=row.id, **self._fields(resource))


MAPPER = ObservationMapper()
