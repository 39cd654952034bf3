"""The CapabilityStatement at /fhir/metadata: exactly what the mappers support, built from them."""

from __future__ import annotations

from hms_app.interop.fhir import FHIR_JSON, FHIR_VERSION
from hms_app.interop.fhir.engine import search_params
from hms_app.interop.fhir.registry import sources
from hms_app.settings import get_settings


def capability_statement() -> dict:
    base = get_settings().public_url + "/fhir"
    resources = []
    for resource_type, listed in sources().items():
        mapper = listed[0]
        params = {}
        for each in listed:  # a type kept in several tables: every parameter one of them answers
            params.update(search_params(each))
        interactions = ["read", "vread", "history-instance", "search-type"]
        if mapper.writable:
            interactions += ["create", "update"]
        entry = {
            "type": resource_type,
            "documentation": mapper.documentation or None,
            "interaction": [{"code": code} for code in interactions],
            "versioning": "versioned",
            "readHistory": True,
            "updateCreate": False,
            "conditionalCreate": mapper.writable,
            "searchParam": [{"name": name, "type": param.kind} for name, param in sorted(params.items())],
        }
        if resource_type == "Patient":
            entry["operation"] = [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                }
            ]
        resources.append({k: v for k, v in entry.items() if v is not None})
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-06",
        "kind": "instance",
        "software": {"name": "HMS"},
        "implementation": {"description": "HMS hospital management system", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "SMART Backend Services: client-credentials tokens from "
                    f"{base}/auth/token with a signed JWT assertion (see {base}/.well-known/smart-configuration).",
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}],
            }
        ],
    }
