"""HMS's tables as FHIR R4 resources: one mapper per resource type (``resources/``), the REST
interactions over them (``engine``), transaction Bundles (``bundle``) and the server's
CapabilityStatement (``capability``). Resources are validated with fhir.resources' R4B models;
``docs/fhir.md`` lists the R4/R4B differences this handles."""

FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"
