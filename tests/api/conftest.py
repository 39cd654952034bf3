"""Fixtures of the API tests (the FHIR API's are in fhir_support)."""

from tests.api.fhir_support import api, tokens  # noqa: F401  (fixtures)
