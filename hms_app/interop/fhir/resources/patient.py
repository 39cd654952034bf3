"""Patient: the patient record (``patient`` table), registered and edited through the patients
service exactly as the registration desk does (the same checks, duplicates refused, history kept)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from hms_app.errors import InvalidFields
from hms_app.interop.fhir.elements import MRN_SYSTEM, day, instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import FhirError, Issue
from hms_app.interop.fhir.search import Param, boolean, date_param, identifier, string, token
from hms_app.models.patients import Patient
from hms_app.services.patients.duplicates import DuplicateSuspected
from hms_app.services.patients.records import register_patient, update_patient

# Where each field of the registration form is in a FHIR Patient, to name it in a refusal.
FIELD_PATHS = {
    "given_name": "Patient.name[0].given[0]",
    "middle_name": "Patient.name[0].given[1]",
    "family_name": "Patient.name[0].family",
    "sex": "Patient.gender",
    "birth_date": "Patient.birthDate",
    "phone": "Patient.telecom",
    "email": "Patient.telecom",
    "address_line": "Patient.address[0].line",
    "city": "Patient.address[0].city",
    "postal_code": "Patient.address[0].postalCode",
    "country": "Patient.address[0].country",
    "preferred_language": "Patient.communication[0].language",
    "emergency_contact_name": "Patient.contact[0].name",
    "emergency_contact_phone": "Patient.contact[0].telecom",
    "emergency_contact_relation": "Patient.contact[0].relationship",
}
MRN_TYPE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
            "code": "MR",
            "display": "Medical record number",
        }
    ]
}


class PatientMapper(Mapper):
    resource_type = "Patient"
    plain_rows = True
    table = Patient
    documentation = "Patients; the medical record number is the identifier of system urn:hms:mrn."
    read_permission = "patient.read"
    write_permission = "patient.write"
    patient_column = "id"
    patient_params = ()
    owned = frozenset(
        {
            "identifier",
            "active",
            "name",
            "telecom",
            "gender",
            "birthDate",
            "deceasedBoolean",
            "deceasedDateTime",
            "address",
            "communication",
            "contact",
            "link",
        }
    )
    sorts = {
        "family": Patient.family_name,
        "birthdate": Patient.birth_date,
        "_lastUpdated": Patient.updated_at,
    }

    def search_params(self) -> dict[str, Param]:
        return {
            "identifier": identifier("Patient", Patient.id, {MRN_SYSTEM: Patient.mrn}),
            "name": string(Patient.family_key, Patient.given_key),
            "family": string(Patient.family_key),
            "given": string(Patient.given_key),
            "birthdate": date_param(Patient.birth_date, is_date=True),
            "gender": token(Patient.sex, system="http://hl7.org/fhir/administrative-gender"),
            "active": boolean(Patient.active),
            "phone": string(Patient.phone_digits),
            "email": string(Patient.email),
        }

    def select(self):
        return super().select().where(Patient.merged_into_id.is_(None))

    def to_fhir(self, row: Patient) -> dict:
        given = [row.given_name] + ([row.middle_name] if row.middle_name else [])
        telecom = []
        if row.phone:
            telecom.append({"system": "phone", "value": row.phone, "use": "home"})
        if row.email:
            telecom.append({"system": "email", "value": row.email})
        address = {
            "line": [row.address_line] if row.address_line else None,
            "city": row.city,
            "postalCode": row.postal_code,
            "country": row.country,
        }
        address = {k: v for k, v in address.items() if v}
        contact = None
        if row.emergency_contact_name or row.emergency_contact_phone:
            contact = [
                {
                    "relationship": [{"text": row.emergency_contact_relation}]
                    if row.emergency_contact_relation
                    else None,
                    "name": {"text": row.emergency_contact_name} if row.emergency_contact_name else None,
                    "telecom": [{"system": "phone", "value": row.emergency_contact_phone}]
                    if row.emergency_contact_phone
                    else None,
                }
            ]
            contact = [{k: v for k, v in contact[0].items() if v}]
        return {
            "identifier": [{"use": "usual", "type": MRN_TYPE, "system": MRN_SYSTEM, "value": row.mrn}],
            "active": row.active and row.merged_into_id is None,
            "name": [{"use": "official", "family": row.family_name, "given": given}],
            "telecom": telecom,
            "gender": row.sex,
            "birthDate": day(row.birth_date),
            "deceasedDateTime": instant(row.deceased_at),
            "address": [address] if address else None,
            "communication": [{"language": {"text": row.preferred_language}}]
            if row.preferred_language
            else None,
            "contact": contact,
            "link": [{"other": ref("Patient", row.merged_into_id), "type": "replaced-by"}]
            if row.merged_into_id
            else None,
        }

    def patient_of_row(self, row: Patient) -> int | None:
        return row.id

    def patient_of_resource(self, session: Session, resource: dict) -> int | None:
        return int(resource["id"]) if str(resource.get("id", "")).isdigit() else None

    def create(self, session: Session, *, actor, resource: dict) -> int:
        try:
            patient = register_patient(session, actor=actor, data=demographics(resource))
        except DuplicateSuspected as error:
            raise FhirError(409, [Issue(_duplicate_message(error), code="duplicate")]) from error
        except InvalidFields as error:
            raise _field_errors(error) from error
        return patient.id

    def update(self, session: Session, *, actor, row: Patient, resource: dict) -> None:
        data = demographics(resource)
        for key in ("consent_data_sharing", "consent_sms", "consent_research"):
            data[key] = getattr(row, key)  # consents are not Patient elements: a FHIR update leaves them
        try:
            update_patient(session, actor=actor, patient_id=row.id, data=data, reason="FHIR update")
        except InvalidFields as error:
            raise _field_errors(error) from error


def demographics(resource: dict) -> dict[str, Any]:
    """The registration form's fields from a FHIR Patient (the official name, or the first)."""
    names = resource.get("name") or [{}]
    name = next((n for n in names if n.get("use") == "official"), names[0])
    given = name.get("given") or []
    telecom = resource.get("telecom") or []
    phone = next((t.get("value") for t in telecom if t.get("system") == "phone"), None)
    email = next((t.get("value") for t in telecom if t.get("system") == "email"), None)
    address = (resource.get("address") or [{}])[0]
    language = (resource.get("communication") or [{}])[0].get("language") or {}
    contact = (resource.get("contact") or [{}])[0]
    contact_phone = next(
        (t.get("value") for t in contact.get("telecom") or [] if t.get("system") == "phone"), None
    )
    relation = (contact.get("relationship") or [{}])[0]
    return {
        "given_name": given[0] if given else "",
        "middle_name": " ".join(given[1:]) or None,
        "family_name": name.get("family") or "",
        "sex": resource.get("gender") or "",
        "birth_date": resource.get("birthDate") or "",
        "phone": phone,
        "email": email,
        "address_line": ", ".join(address.get("line") or []) or None,
        "city": address.get("city"),
        "postal_code": address.get("postalCode"),
        "country": address.get("country"),
        "preferred_language": language.get("text")
        or next((c.get("display") or c.get("code") for c in language.get("coding") or []), None),
        "emergency_contact_name": (contact.get("name") or {}).get("text")
        or " ".join(
            [*(contact.get("name") or {}).get("given", []), (contact.get("name") or {}).get("family", "")]
        ).strip()
        or None,
        "emergency_contact_phone": contact_phone,
        "emergency_contact_relation": relation.get("text")
        or next((c.get("display") or c.get("code") for c in relation.get("coding") or []), None),
    }


def _field_errors(error: InvalidFields) -> FhirError:
    return FhirError(
        422,
        [
            Issue(message, code="value", expression=(FIELD_PATHS.get(field, "Patient"),))
            for field, message in error.errors.items()
        ],
    )


def _duplicate_message(error: DuplicateSuspected) -> str:
    mrns = (
        ", ".join(candidate.mrn for candidate in error.candidates[:5]) if hasattr(error, "candidates") else ""
    )
    return (
        "A patient with the same name and birth date is already registered"
        + (f" (MRN {mrns})" if mrns else "")
        + ": read it, or create with If-None-Exist to find it instead of registering it twice."
    )


MAPPER = PatientMapper()
