"""SMART scopes as a FHIR client writes them, and what a token holding them may do."""

from __future__ import annotations

import pytest

from hms_app.errors import ValidationError
from hms_app.services.fhir_clients import FhirAccess, parse_scope, parse_scopes
from hms_app.services.fhir_clients.scopes import grantable
from hms_app.services.permissions import Actor

ACTOR = Actor(user_id=7, username="fhir:lab-sync")


def access(*scopes: str, patient_id: int | None = None) -> FhirAccess:
    return FhirAccess(actor=ACTOR, client_name="lab-sync", scopes=frozenset(scopes), patient_id=patient_id)


@pytest.mark.parametrize(
    ("text", "context", "resource_type", "interactions"),
    [
        ("system/Patient.read", "system", "Patient", {"read"}),
        ("system/Observation.write", "system", "Observation", {"write"}),
        ("system/*.read", "system", "*", {"read"}),
        ("system/Patient.*", "system", "Patient", {"read", "write"}),
        ("system/*.*", "system", "*", {"read", "write"}),
        ("patient/Observation.read", "patient", "Observation", {"read"}),
        ("system/Patient.rs", "system", "Patient", {"read"}),
        ("system/Patient.s", "system", "Patient", {"read"}),
        ("system/Patient.cud", "system", "Patient", {"write"}),
        ("system/Patient.c", "system", "Patient", {"write"}),
        ("system/*.cruds", "system", "*", {"read", "write"}),
    ],
)
def test_v1_and_v2_scopes_parse_to_reads_and_writes(text, context, resource_type, interactions):
    scope = parse_scope(text)
    assert (scope.context, scope.resource_type, scope.interactions) == (context, resource_type, interactions)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("user/Patient.read", "user/ scopes belong to people"),
        ("launch/patient", "not a SMART scope"),
        ("openid", "not a SMART scope"),
        ("system/patient.read", "not a SMART scope"),  # resource types are capitalised
        ("system/Patient.sr", "letters of cruds in that order"),
        ("system/Patient.rr", "letters of cruds in that order"),
        ("system/Patient.readwrite", "letters of cruds in that order"),
        ("system/Patient.x", "letters of cruds in that order"),
        ("admin/Patient.read", "must start with system/ or patient/"),
        ("system/Observation.rs?category=laboratory", "search parameters"),
        ("system/Patient.read'; DROP TABLE patient;--", "not a SMART scope"),
    ],
)
def test_garbage_scopes_are_refused_with_a_reason(text, says):
    with pytest.raises(ValidationError, match=says):
        parse_scope(text)


def test_a_scope_list_needs_a_scope_drops_repeats_and_is_bounded():
    with pytest.raises(ValidationError, match="at least one scope"):
        parse_scopes("   ")
    assert [s.text for s in parse_scopes("system/Patient.read  system/Patient.read\tsystem/*.rs")] == [
        "system/Patient.read",
        "system/*.rs",
    ]
    with pytest.raises(ValidationError, match="At most 40"):
        parse_scopes(" ".join(f"system/Type{chr(65 + i // 26)}{chr(65 + i % 26)}.read" for i in range(41)))


def test_granted_scopes_are_those_an_allowed_scope_covers():
    allowed = parse_scopes("system/*.read system/Observation.cruds")
    requested = parse_scopes(
        "system/Patient.read system/Patient.write system/Observation.cud patient/Patient.read"
    )
    assert [s.text for s in grantable(requested, allowed)] == [
        "system/Patient.read",
        "system/Observation.cud",
    ]


def test_a_system_token_reads_and_writes_only_what_its_scopes_say():
    token = access("system/Patient.read", "system/Observation.cruds")
    assert token.allows("Patient", "read")
    assert not token.allows("Patient", "write")
    assert token.allows("Observation", "write") and token.allows("Observation", "read")
    assert not token.allows("Condition", "read")
    assert access("system/*.rs").allows("Condition", "read")
    assert not access("system/*.rs").allows("Condition", "write")
    with pytest.raises(ValueError):
        token.allows("Patient", "delete")


def test_patient_scopes_count_only_on_a_token_bound_to_a_patient_and_system_scopes_never_do_there():
    assert not access("patient/Observation.read").allows("Observation", "read")
    bound = access("patient/Observation.read", "system/*.read", patient_id=12)
    assert bound.allows("Observation", "read")
    assert not bound.allows("Patient", "read")  # its system/ scope does not reach past the compartment
    assert not access("garbage", "system/", patient_id=None).allows("Patient", "read")
