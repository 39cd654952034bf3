"""Interoperability: FHIR R4 mapping of the clinical tables, imports and exports."""
