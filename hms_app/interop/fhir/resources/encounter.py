"""Encounter: visits, admissions, emergency attendances and video visits (``encounter`` table),
opened and finished through the encounters service as the chart's "Start encounter" does."""

from __future__ import annotations

from sqlmodel import Session

from hms_app.interop.fhir.elements import coding, instant, ref, reference_to
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.resources._clinical import first_text, server_sets, service_paths, unchanged
from hms_app.interop.fhir.search import Param, date_param, reference, token
from hms_app.models.emr import Encounter
from hms_app.services.emr.encounters import finish_encounter, start_encounter

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# HL7 v3 ActCode encounter codes for HMS's four encounter classes.
CLASS_CODES = {"AMB": "outpatient", "IMP": "inpatient", "EMER": "emergency", "VR": "virtual"}
CLASS_OF = {stored: code for code, stored in CLASS_CODES.items()}
CLASS_DISPLAY = {"AMB": "ambulatory", "IMP": "inpatient encounter", "EMER": "emergency", "VR": "virtual"}
PATHS = {"encounter_class": "class", "reason": "reasonCode"}


class EncounterMapper(Mapper):
    resource_type = "Encounter"
    plain_rows = True
    table = Encounter
    documentation = (
        "Visits, admissions, emergency attendances and video visits; class is a v3 ActCode "
        "(AMB, IMP, EMER, VR). Created in progress by the acting user; finished by a PUT with "
        "status finished. serviceProvider is not given (departments are not Organizations here)."
    )
    read_permission = "patient.read"
    write_permission = "emr.write"
    owned = frozenset({"status", "class", "subject", "participant", "period", "reasonCode"})
    sorts = {"date": Encounter.start_at}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "date": date_param(Encounter.start_at),
            "status": token(Encounter.status),
            "class": token(Encounter.encounter_class, system=ACT_CODE, values=CLASS_CODES),
            "practitioner": reference(Encounter.practitioner_id, "Practitioner"),
            "participant": reference(Encounter.practitioner_id, "Practitioner"),
        }

    def last_updated(self, row: Encounter):
        return row.end_at or row.start_at

    def to_fhir(self, row: Encounter) -> dict:
        code = CLASS_OF.get(row.encounter_class)
        return {
            "status": row.status,
            "class": coding(ACT_CODE, code, CLASS_DISPLAY.get(code or "")) or None,
            "subject": ref("Patient", row.patient_id),
            "participant": (
                [{"individual": ref("Practitioner", row.practitioner_id)}] if row.practitioner_id else None
            ),
            "period": {
                k: v for k, v in (("start", instant(row.start_at)), ("end", instant(row.end_at))) if v
            },
            "reasonCode": [{"text": row.reason}] if row.reason else None,
        }

    def patient_of_resource(self, session: Session, resource: dict) -> int | None:
        return reference_to(resource, "subject", "Patient")

    def _class(self, resource: dict) -> str:
        sent = resource.get("class") or {}
        stored = CLASS_CODES.get(sent.get("code", "")) if sent.get("system") == ACT_CODE else None
        if stored is None:
            raise fail(
                422,
                "Encounter.class must be a v3 ActCode (system http://terminology.hl7.org/CodeSystem/v3-ActCode) "
                "of AMB, IMP, EMER or VR.",
                code="value",
                expression="Encounter.class",
            )
        return stored

    def create(self, session: Session, *, actor, resource: dict) -> int:
        if resource["status"] not in ("in-progress", "arrived"):
            raise fail(
                422,
                "A new Encounter starts in progress (status in-progress): this server opens it now.",
                code="business-rule",
                expression="Encounter.status",
            )
        # The service opens the encounter now, by the acting user: the start, the end and the
        # participant are the hospital's record of that, not the client's.
        server_sets(resource, "status", "period", "participant")
        with service_paths("Encounter", PATHS):
            row = start_encounter(
                session,
                actor=actor,
                patient_id=reference_to(resource, "subject", "Patient"),
                encounter_class=self._class(resource),
                reason=first_text(resource, "reasonCode") or "",
            )
        return row.id

    def update(self, session: Session, *, actor, row: Encounter, resource: dict) -> None:
        server_sets(resource, "period", "participant")
        unchanged("Encounter", "class", self._class(resource), row.encounter_class, "open a new Encounter")
        unchanged("Encounter", "reasonCode", first_text(resource, "reasonCode"), row.reason, "kept as opened")
        status = resource["status"]
        if status == row.status:
            return
        if status != "finished":
            raise fail(
                422,
                f"Encounter.status can only change to finished here, not from {row.status} to {status}.",
                code="business-rule",
                expression="Encounter.status",
            )
        # The period's end is when the service finishes it (now).
        with service_paths("Encounter", PATHS):
            finish_encounter(session, actor=actor, encounter_id=row.id)


MAPPER = EncounterMapper()
