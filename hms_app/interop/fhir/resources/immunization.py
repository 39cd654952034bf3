"""Immunization: vaccines given (``immunization`` table), coded in CVX, recorded through the
immunizations service (a day between the patient's birth and today)."""

from __future__ import annotations

from sqlmodel import Session

from hms_app.interop.fhir.elements import CVX, concept, day, instant, pick_code, plain_date, ref, reference_to
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.resources._clinical import server_sets, service_paths
from hms_app.interop.fhir.search import Param, date_param, token
from hms_app.models.emr import Immunization
from hms_app.services.emr.immunizations import add_immunization

PATHS = {
    "vaccine": "vaccineCode",
    "code": "vaccineCode.coding",
    "occurrence_date": "occurrenceDateTime",
    "lot_number": "lotNumber",
}


class ImmunizationMapper(Mapper):
    resource_type = "Immunization"
    plain_rows = True
    table = Immunization
    documentation = (
        "Vaccines given: vaccineCode in CVX (http://hl7.org/fhir/sid/cvx), occurrenceDateTime "
        "(a day), lotNumber; status completed. Created over FHIR, not updated (a wrong entry is "
        "corrected on the chart)."
    )
    read_permission = "patient.read"
    write_permission = "emr.write"
    patient_params = ("patient",)
    owned = frozenset({"status", "vaccineCode", "patient", "occurrenceDateTime", "lotNumber", "recorded"})
    sorts = {"date": Immunization.occurrence_date}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "date": date_param(Immunization.occurrence_date, is_date=True),
            "vaccine-code": token(Immunization.code, system=CVX),
            "status": token(Immunization.status),
            "lot-number": token(Immunization.lot_number),
        }

    def to_fhir(self, row: Immunization) -> dict:
        return {
            "status": row.status,
            "vaccineCode": concept(CVX, row.code, None, row.vaccine),
            "patient": ref("Patient", row.patient_id),
            "occurrenceDateTime": day(row.occurrence_date),
            "lotNumber": row.lot_number,
            "recorded": instant(row.recorded_at),
        }

    def patient_of_resource(self, session: Session, resource: dict) -> int | None:
        return reference_to(resource, "patient", "Patient")

    def create(self, session: Session, *, actor, resource: dict) -> int:
        if resource["status"] != "completed":
            raise fail(
                422,
                "Immunization.status must be completed: this server records vaccines that were given.",
                code="business-rule",
                expression="Immunization.status",
            )
        _system, code, display = pick_code(resource, "vaccineCode", (CVX,))
        if not code:
            raise fail(
                422,
                "Immunization.vaccineCode needs a CVX coding (system http://hl7.org/fhir/sid/cvx).",
                code="value",
                expression="Immunization.vaccineCode",
            )
        if "occurrenceDateTime" not in resource:
            raise fail(
                422,
                "Immunization.occurrenceDateTime is required: the day the vaccine was given.",
                code="required",
                expression="Immunization.occurrenceDateTime",
            )
        server_sets(resource, "recorded")
        with service_paths("Immunization", PATHS):
            row = add_immunization(
                session,
                actor=actor,
                patient_id=reference_to(resource, "patient", "Patient"),
                vaccine=(resource["vaccineCode"].get("text") or display or f"CVX {code}"),
                occurrence_date=plain_date(resource["occurrenceDateTime"], "Immunization.occurrenceDateTime"),
                lot_number=resource.get("lotNumber") or "",
                code=code,
            )
        return row.id


MAPPER = ImmunizationMapper()
