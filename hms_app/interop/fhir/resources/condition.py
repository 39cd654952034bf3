"""Condition: the problem list, coded in ICD-10-CM (``condition`` table), added and resolved
through the problems service as the chart's problem list does."""

from __future__ import annotations

from sqlalchemy import and_, or_
from sqlmodel import Session

from hms_app.interop.fhir.elements import (
    ICD10CM,
    SNOMED,
    concept,
    day,
    instant,
    pick_code,
    plain_date,
    ref,
    reference_to,
)
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.resources._clinical import server_sets, service_paths, unchanged
from hms_app.interop.fhir.search import Param, date_param, token
from hms_app.models.emr import Condition
from hms_app.services.emr.problems import add_condition, set_condition_status

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
# ``condition.code_system`` -> the FHIR system URI (imported problems without an ICD-10-CM
# equivalent keep their SNOMED CT code).
SYSTEMS = {"icd-10-cm": ICD10CM, "snomed": SNOMED}
STATUSES = ("active", "inactive", "resolved")
PATHS = {
    "code": "code",
    "clinical_status": "clinicalStatus",
    "onset_date": "onsetDateTime",
    "abatement_date": "abatementDateTime",
}


def _no_abatement_while_active(status: str, abatement: object) -> None:
    if status == "active" and abatement is not None:
        raise fail(
            422,
            "An active Condition has no abatementDateTime.",
            code="business-rule",
            expression="Condition.abatementDateTime",
        )


def _code_param() -> Param:
    """``code=system|code`` over both systems the table holds; a bare code matches either."""
    by_system = {uri: token(Condition.code, system=uri) for uri in SYSTEMS.values()}

    def build(raw: str, modifier: str | None, name: str):
        return or_(
            *(
                and_(Condition.code_system == stored, by_system[uri].build(raw, modifier, name))
                for stored, uri in SYSTEMS.items()
            )
        )

    return Param("token", build)


class ConditionMapper(Mapper):
    resource_type = "Condition"
    plain_rows = True
    table = Condition
    documentation = (
        "The problem list: ICD-10-CM codes (http://hl7.org/fhir/sid/icd-10-cm); clinicalStatus "
        "active, inactive or resolved; a PUT changes the clinical status and abatement."
    )
    read_permission = "patient.read"
    write_permission = "emr.write"
    owned = frozenset(
        {"clinicalStatus", "code", "subject", "onsetDateTime", "abatementDateTime", "recordedDate"}
    )
    sorts = {"recorded-date": Condition.recorded_at, "onset-date": Condition.onset_date}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "code": _code_param(),
            "clinical-status": token(Condition.clinical_status, system=CLINICAL),
            "onset-date": date_param(Condition.onset_date, is_date=True),
            "abatement-date": date_param(Condition.abatement_date, is_date=True),
            "recorded-date": date_param(Condition.recorded_at),
        }

    def to_fhir(self, row: Condition) -> dict:
        return {
            "clinicalStatus": concept(CLINICAL, row.clinical_status, row.clinical_status.capitalize()),
            "code": concept(SYSTEMS.get(row.code_system, ICD10CM), row.code, row.display),
            "subject": ref("Patient", row.patient_id),
            "onsetDateTime": day(row.onset_date),
            "abatementDateTime": day(row.abatement_date),
            "recordedDate": instant(row.recorded_at),
        }

    def patient_of_resource(self, session: Session, resource: dict) -> int | None:
        return reference_to(resource, "subject", "Patient")

    def _code(self, resource: dict) -> str:
        _system, code, _display = pick_code(resource, "code", (ICD10CM,))
        if not code:
            raise fail(
                422,
                "Condition.code needs an ICD-10-CM coding (system http://hl7.org/fhir/sid/icd-10-cm).",
                code="required" if not resource.get("code") else "value",
                expression="Condition.code",
            )
        return code.strip().upper()

    def _status(self, resource: dict) -> str:
        if not resource.get("clinicalStatus"):
            return "active"
        _system, status, _display = pick_code(resource, "clinicalStatus", (CLINICAL,))
        if status not in STATUSES:
            raise fail(
                422,
                f"Condition.clinicalStatus must be active, inactive or resolved ({CLINICAL}).",
                code="value",
                expression="Condition.clinicalStatus",
            )
        return status

    def create(self, session: Session, *, actor, resource: dict) -> int:
        status = self._status(resource)
        abatement = plain_date(resource.get("abatementDateTime"), "Condition.abatementDateTime")
        _no_abatement_while_active(status, abatement)
        server_sets(resource, "recordedDate")
        with service_paths("Condition", PATHS):
            row = add_condition(
                session,
                actor=actor,
                patient_id=reference_to(resource, "subject", "Patient"),
                code=self._code(resource),
                onset_date=plain_date(resource.get("onsetDateTime"), "Condition.onsetDateTime"),
                clinical_status=status,
            )
            if status != "active":  # added as given, then dated as a status change would be
                set_condition_status(
                    session,
                    actor=actor,
                    condition_id=row.id,
                    clinical_status=status,
                    abatement_date=abatement,
                )
        if status == "resolved" and abatement is None:
            # The service dates the resolution today: the table's date is the one to show.
            server_sets(resource, "abatementDateTime")
        return row.id

    def update(self, session: Session, *, actor, row: Condition, resource: dict) -> None:
        code = self._code(resource)
        unchanged(
            "Condition", "code", code.replace(".", ""), row.code.replace(".", ""), "record a new Condition"
        )
        onset = plain_date(resource.get("onsetDateTime"), "Condition.onsetDateTime")
        unchanged("Condition", "onsetDateTime", onset, row.onset_date, "record a new Condition")
        server_sets(resource, "recordedDate")
        status = self._status(resource)
        abatement = plain_date(resource.get("abatementDateTime"), "Condition.abatementDateTime")
        if status == row.clinical_status and abatement == row.abatement_date:
            return
        _no_abatement_while_active(status, abatement)
        with service_paths("Condition", PATHS):
            set_condition_status(
                session, actor=actor, condition_id=row.id, clinical_status=status, abatement_date=abatement
            )
        if status == "resolved" and abatement is None:
            server_sets(resource, "abatementDateTime")


MAPPER = ConditionMapper()
