"""Small builders and readers of FHIR data types shared by the mappers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from hms_app.interop.fhir.outcome import fail

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
# Identifier system of HMS's medical record numbers. A URN, not a web address: it must mean the
# same wherever the hospital serves HMS from.
MRN_SYSTEM = "urn:hms:mrn"


def instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not UTC:  # the database's moments are UTC already
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def coding(system: str | None, code: str | None, display: str | None = None) -> dict:
    result = {}
    if system:
        result["system"] = system
    if code:
        result["code"] = code
    if display:
        result["display"] = display
    return result


def concept(
    system: str | None, code: str | None, display: str | None = None, text: str | None = None
) -> dict:
    result: dict[str, Any] = {}
    if code:
        result["coding"] = [coding(system, code, display)]
    if text or display:
        result["text"] = text or display
    return result


def ref(resource_type: str, row_id: int | str | None, display: str | None = None) -> dict | None:
    if row_id is None:
        return None
    result = {"reference": f"{resource_type}/{row_id}"}
    if display:
        result["display"] = display
    return result


def compact(resource: dict) -> dict:
    """Drop empty elements: FHIR forbids empty strings, lists and objects."""
    return {k: v for k, v in resource.items() if v not in (None, "", [], {})}


# --- reading what a client sent (already checked against the R4B model) ---------------------


def reference_to(resource: dict, element: str, target: str, *, required: bool = True) -> int | None:
    """The row id of ``element``'s reference to a ``target`` (``Patient/12``)."""
    value = resource.get(element)
    where = f"{resource.get('resourceType', '')}.{element}"
    if not value:
        if required:
            raise fail(
                422, f"{where} is required: a reference to the {target}.", code="required", expression=where
            )
        return None
    text = value.get("reference", "") if isinstance(value, dict) else ""
    match = re.fullmatch(rf"(?:.*/)?{target}/([0-9]{{1,18}})", text or "")
    if match is None:
        raise fail(
            422,
            f"{where} must reference a {target} of this server ({target}/<id>), not {text[:80]!r}.",
            code="value",
            expression=f"{where}.reference",
        )
    return int(match.group(1))


def pick_code(
    resource: dict, element: str, systems: tuple[str, ...]
) -> tuple[str | None, str | None, str | None]:
    """(system, code, display) of the first coding of ``element`` in one of ``systems``
    (or the first coding at all when ``systems`` is empty); the concept's text as display."""
    concept_value = resource.get(element) or {}
    text = concept_value.get("text")
    for item in concept_value.get("coding") or []:
        if not systems or item.get("system") in systems:
            return item.get("system"), item.get("code"), item.get("display") or text
    return None, None, text


def moment(value: str | None, where: str) -> datetime | None:
    """A FHIR dateTime or instant as an aware UTC moment (a bare date is its midnight UTC)."""
    if not value:
        return None
    try:
        if len(value) == 4:
            parsed = datetime(int(value), 1, 1, tzinfo=UTC)
        elif len(value) == 7:
            parsed = datetime(int(value[:4]), int(value[5:7]), 1, tzinfo=UTC)
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
    except ValueError as error:
        raise fail(
            422, f"{where} is not a date-time: {value[:40]!r}.", code="value", expression=where
        ) from error
    return parsed.astimezone(UTC)


def plain_date(value: str | None, where: str) -> date | None:
    if not value:
        return None
    try:
        return (
            date.fromisoformat(value[:10])
            if len(value) >= 10
            else date(int(value[:4]), int(value[5:7] or 1), 1)
        )
    except ValueError as error:
        raise fail(422, f"{where} is not a date: {value[:40]!r}.", code="value", expression=where) from error
