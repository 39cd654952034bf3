"""MedicationStatement: the medication list (``medication_statement`` table): what the patient
takes, with the RxNorm code where known, added and stopped through the medications service."""

from __future__ import annotations

from sqlmodel import Session

from hms_app.interop.fhir.elements import RXNORM, concept, day, pick_code, plain_date, ref, reference_to
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.resources._clinical import first_text, server_sets, service_paths, unchanged
from hms_app.interop.fhir.search import Param, date_param, token
from hms_app.models.emr import MedicationStatement
from hms_app.services.emr.medications import add_medication, stop_medication

PATHS = {
    "medication": "medicationCodeableConcept",
    "code": "medicationCodeableConcept.coding",
    "dosage": "dosage[0].text",
    "started_on": "effectivePeriod.start",
    "stopped_on": "effectivePeriod.end",
    "stop_reason": "statusReason",
}


def _medication(resource: dict) -> tuple[str, str | None]:
    """(the medicine's name, its RxNorm code or None)."""
    if "medicationReference" in resource:
        raise fail(
            422,
            "MedicationStatement.medicationReference is not supported here: send medicationCodeableConcept.",
            code="not-supported",
            expression="MedicationStatement.medicationReference",
        )
    concept_value = resource.get("medicationCodeableConcept") or {}
    _system, code, display = pick_code(resource, "medicationCodeableConcept", (RXNORM,))
    name = concept_value.get("text") or display
    if not name:
        raise fail(
            422,
            "MedicationStatement.medicationCodeableConcept needs the medicine's name (text or an RxNorm display).",
            code="required",
            expression="MedicationStatement.medicationCodeableConcept",
        )
    return name.strip(), code


def _dosage(resource: dict) -> str:
    dosages = resource.get("dosage") or []
    return (dosages[0].get("text") or "").strip() if dosages else ""


def _period(resource: dict, end: str) -> object:
    return plain_date(
        (resource.get("effectivePeriod") or {}).get(end), f"MedicationStatement.effectivePeriod.{end}"
    )


class MedicationStatementMapper(Mapper):
    resource_type = "MedicationStatement"
    plain_rows = True
    table = MedicationStatement
    documentation = (
        "The medication list: medicationCodeableConcept with an RxNorm code where known, dosage "
        "text, effectivePeriod; a PUT with status stopped (and a statusReason) stops it."
    )
    read_permission = "patient.read"
    write_permission = "emr.write"
    owned = frozenset(
        {
            "status",
            "statusReason",
            "medicationCodeableConcept",
            "subject",
            "effectivePeriod",
            "dosage",
            "dateAsserted",
        }
    )
    sorts = {"effective": MedicationStatement.started_on, "_lastUpdated": MedicationStatement.recorded_at}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "status": token(MedicationStatement.status),
            "code": token(MedicationStatement.code, system=RXNORM),
            "effective": date_param(MedicationStatement.started_on, is_date=True),
        }

    def to_fhir(self, row: MedicationStatement) -> dict:
        period = {"start": day(row.started_on), "end": day(row.stopped_on)}
        return {
            "status": row.status,
            "statusReason": [{"text": row.stop_reason}] if row.stop_reason else None,
            "medicationCodeableConcept": concept(RXNORM, row.code, None, row.medication),
            "subject": ref("Patient", row.patient_id),
            "effectivePeriod": {k: v for k, v in period.items() if v} or None,
            "dateAsserted": row.recorded_at.date().isoformat() if row.recorded_at else None,
            "dosage": [{"text": row.dosage}] if row.dosage else None,
        }

    def patient_of_resource(self, session: Session, resource: dict) -> int | None:
        return reference_to(resource, "subject", "Patient")

    def create(self, session: Session, *, actor, resource: dict) -> int:
        status = resource["status"]
        if status not in ("active", "stopped"):
            raise fail(
                422,
                "A new MedicationStatement is active (or stopped, with a statusReason) here.",
                code="business-rule",
                expression="MedicationStatement.status",
            )
        name, code = _medication(resource)
        server_sets(resource, "dateAsserted")
        with service_paths("MedicationStatement", PATHS):
            row = add_medication(
                session,
                actor=actor,
                patient_id=reference_to(resource, "subject", "Patient"),
                medication=name,
                dosage=_dosage(resource),
                started_on=_period(resource, "start"),
                code=code,
            )
            if status == "stopped":
                self._stop(session, actor, row.id, resource)
        return row.id

    def _stop(self, session: Session, actor, row_id: int, resource: dict) -> None:
        stopped_on = _period(resource, "end")
        stop_medication(
            session,
            actor=actor,
            medication_id=row_id,
            reason=first_text(resource, "statusReason") or "",
            stopped_on=stopped_on,
        )
        if stopped_on is None:  # the service stops it today: show the table's period
            server_sets(resource, "effectivePeriod")

    def update(self, session: Session, *, actor, row: MedicationStatement, resource: dict) -> None:
        how = "record a new MedicationStatement"
        name, code = _medication(resource)
        unchanged(
            "MedicationStatement", "medicationCodeableConcept", (name, code), (row.medication, row.code), how
        )
        unchanged("MedicationStatement", "dosage", _dosage(resource), row.dosage or "", how)
        unchanged("MedicationStatement", "effectivePeriod", _period(resource, "start"), row.started_on, how)
        server_sets(resource, "dateAsserted")
        status = resource["status"]
        if status == row.status:
            return
        if status != "stopped":
            raise fail(
                422,
                f"MedicationStatement.status can only change to stopped here, not from {row.status} to {status}.",
                code="business-rule",
                expression="MedicationStatement.status",
            )
        with service_paths("MedicationStatement", PATHS):
            self._stop(session, actor, row.id, resource)


MAPPER = MedicationStatementMapper()
