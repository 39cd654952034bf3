"""What the clinical mappers (Encounter, Condition, AllergyIntolerance, MedicationStatement,
Immunization) share. No ``MAPPER`` here: the registry passes this module by."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from hms_app.errors import DomainError
from hms_app.interop.fhir.outcome import fail, from_domain_error


@contextmanager
def service_paths(resource_type: str, paths: Mapping[str, str]) -> Iterator[None]:
    """A service's refusal naming one of its form fields (``onset_date``), re-said with the FHIR
    element it came from (``Condition.onsetDateTime``) so the client knows what to fix."""
    try:
        yield
    except DomainError as error:
        if error.field in paths:
            error.field = paths[error.field]
        raise from_domain_error(resource_type, error) from error


def server_sets(resource: dict, *elements: str) -> None:
    """Drop elements whose value the service decides (when a record was made, who made it).

    The core keeps the resource as the client sent it and shows a kept element for as long as the
    table's value has not changed since, so a client's own value would otherwise be shown in
    place of the one the hospital recorded. The dict is the one the core keeps (a workaround: the
    mapper interface has no way to say "this element is the server's")."""
    for element in elements:
        resource.pop(element, None)


def unchanged(resource_type: str, element: str, sent: object, stored: object, how: str) -> None:
    """Refuse an update that changes an element HMS does not let change after the fact."""
    if sent != stored:
        raise fail(
            422,
            f"{resource_type}.{element} cannot change once recorded ({how}).",
            code="business-rule",
            expression=f"{resource_type}.{element}",
        )


def first_text(resource: dict, element: str) -> str | None:
    """The text of the first CodeableConcept in a list element (``reasonCode``, ``statusReason``)."""
    items = resource.get(element) or []
    if not items:
        return None
    item = items[0]
    if item.get("text"):
        return item["text"]
    for coding in item.get("coding") or []:
        if coding.get("display") or coding.get("code"):
            return coding.get("display") or coding.get("code")
    return None
