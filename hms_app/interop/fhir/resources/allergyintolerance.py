"""AllergyIntolerance: the allergy list (``allergy_intolerance`` table): the substance as text,
one reaction with its severity; added and re-statused through the allergies service."""

from __future__ import annotations

from sqlmodel import Session

from hms_app.interop.fhir.elements import concept, instant, pick_code, ref, reference_to
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.resources._clinical import server_sets, service_paths, unchanged
from hms_app.interop.fhir.search import Param, token
from hms_app.models.emr import AllergyIntolerance
from hms_app.services.emr.allergies import add_allergy, set_allergy_status

CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
STATUSES = ("active", "inactive", "resolved")
PATHS = {
    "substance": "code",
    "reaction": "reaction[0].manifestation",
    "severity": "reaction[0].severity",
    "status": "clinicalStatus",
}


def _substance(resource: dict) -> str:
    code = resource.get("code") or {}
    displays = [c.get("display") for c in code.get("coding") or [] if c.get("display")]
    text = (code.get("text") or next(iter(displays), "")).strip()
    if not text:
        raise fail(
            422,
            "AllergyIntolerance.code is required: the substance, as text or a coding with a display.",
            code="required",
            expression="AllergyIntolerance.code",
        )
    return text


def _reaction(resource: dict) -> tuple[str, str]:
    """(what the reaction was, its severity) from the first reaction (moderate when not said)."""
    reactions = resource.get("reaction") or []
    if not reactions:
        return "", "moderate"
    first = reactions[0]
    manifestations = [
        m.get("text") or next((c.get("display") for c in m.get("coding") or [] if c.get("display")), None)
        for m in first.get("manifestation") or []
    ]
    return ", ".join(m for m in manifestations if m), first.get("severity") or "moderate"


class AllergyIntoleranceMapper(Mapper):
    resource_type = "AllergyIntolerance"
    plain_rows = True
    table = AllergyIntolerance
    documentation = (
        "Allergies: the substance is code.text, one reaction with severity mild, moderate or severe; "
        "clinicalStatus active, inactive or resolved (a PUT changes it)."
    )
    read_permission = "patient.read"
    write_permission = "emr.write"
    patient_params = ("patient",)
    owned = frozenset({"clinicalStatus", "code", "patient", "reaction", "recordedDate"})
    sorts = {"date": AllergyIntolerance.recorded_at}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "clinical-status": token(AllergyIntolerance.status, system=CLINICAL),
            "severity": token(AllergyIntolerance.severity),
        }

    def to_fhir(self, row: AllergyIntolerance) -> dict:
        return {
            "clinicalStatus": concept(CLINICAL, row.status, row.status.capitalize()),
            "code": {"text": row.substance},
            "patient": ref("Patient", row.patient_id),
            # FHIR's reaction needs a manifestation: a row without the reaction's description
            # cannot say its severity over FHIR.
            "reaction": (
                [{"manifestation": [{"text": row.reaction}], "severity": row.severity}]
                if row.reaction
                else None
            ),
            "recordedDate": instant(row.recorded_at),
        }

    def patient_of_resource(self, session: Session, resource: dict) -> int | None:
        return reference_to(resource, "patient", "Patient")

    def _status(self, resource: dict) -> str:
        if not resource.get("clinicalStatus"):
            return "active"
        _system, status, _display = pick_code(resource, "clinicalStatus", (CLINICAL,))
        if status not in STATUSES:
            raise fail(
                422,
                f"AllergyIntolerance.clinicalStatus must be active, inactive or resolved ({CLINICAL}).",
                code="value",
                expression="AllergyIntolerance.clinicalStatus",
            )
        return status

    def create(self, session: Session, *, actor, resource: dict) -> int:
        status = self._status(resource)
        reaction, severity = _reaction(resource)
        server_sets(resource, "recordedDate")
        with service_paths("AllergyIntolerance", PATHS):
            row = add_allergy(
                session,
                actor=actor,
                patient_id=reference_to(resource, "patient", "Patient"),
                substance=_substance(resource),
                reaction=reaction,
                severity=severity,
            )
            if status != "active":
                set_allergy_status(session, actor=actor, allergy_id=row.id, status=status)
        return row.id

    def update(self, session: Session, *, actor, row: AllergyIntolerance, resource: dict) -> None:
        how = "record a new AllergyIntolerance"
        unchanged("AllergyIntolerance", "code", _substance(resource), row.substance, how)
        reaction, severity = _reaction(resource)
        unchanged("AllergyIntolerance", "reaction", reaction, row.reaction or "", how)
        if row.reaction:
            unchanged("AllergyIntolerance", "reaction", severity, row.severity, how)
        server_sets(resource, "recordedDate")
        status = self._status(resource)
        if status != row.status:
            with service_paths("AllergyIntolerance", PATHS):
                set_allergy_status(session, actor=actor, allergy_id=row.id, status=status)


MAPPER = AllergyIntoleranceMapper()
