"""One module per FHIR resource type, each defining ``MAPPER`` (see ``mapper.Mapper``)."""
