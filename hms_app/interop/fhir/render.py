"""A row as the resource a client reads: the kept version's elements with the table's over them."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hms_app.interop.fhir.elements import compact, instant
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.store import KeptVersion

SERVER_ELEMENTS = ("resourceType", "id", "meta")
_pauses = threading.Lock()
_pausing = 0


@contextmanager
def without_gc_pauses() -> Iterator[None]:
    """Rendering tens of thousands of small dicts makes Python's cycle collector walk the whole
    growing heap again and again (half the time of a large $everything); rendered resources hold
    no cycles, so the collector is held off until the last renderer of this process is done."""
    global _pausing
    with _pauses:
        _pausing += 1
        if _pausing == 1:
            gc.disable()
    try:
        yield
    finally:
        with _pauses:
            _pausing -= 1
            if _pausing == 0:
                gc.enable()


def projection(mapper: Mapper, row: Any) -> dict:
    """The elements HMS's tables hold of the resource now."""
    return compact(mapper.to_fhir(row))


def render(mapper: Mapper, row: Any, kept: KeptVersion | None) -> dict:
    """An element a client wrote and nobody changed on a screen since comes back exactly as it
    was written (a name's prefix, a second telecom); one changed since comes from the table; an
    element HMS does not model comes back from the kept version."""
    now = projection(mapper, row)
    if kept is None:
        # Never written over FHIR (most rows): the table is the whole resource.
        meta = {"versionId": "1"}
        if mapper.last_updated_element is not None and now.get(mapper.last_updated_element):
            meta["lastUpdated"] = now[mapper.last_updated_element]
        elif (updated := mapper.last_updated(row)) is not None:
            meta["lastUpdated"] = instant(updated)
        return {"resourceType": mapper.resource_type, "id": mapper.fhir_id(row), "meta": meta, **now}
    body, then = kept.body, kept.projection
    meta = {k: v for k, v in (body.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    meta["versionId"] = str(kept.version_id)
    updated = mapper.last_updated(row)
    if updated is not None:
        meta["lastUpdated"] = instant(updated)
    resource: dict = {"resourceType": mapper.resource_type, "id": mapper.fhir_id(row), "meta": meta}
    for element, value in body.items():
        if element not in SERVER_ELEMENTS and element not in mapper.owned:
            resource[element] = value
    for element in sorted(mapper.owned):
        if element == "identifier":
            continue
        if (
            element in body
            and element not in mapper.server_elements
            and then.get(element) == now.get(element)
        ):
            resource[element] = body[element]
        elif element in now:
            resource[element] = now[element]
    for element, value in now.items():
        if element not in mapper.owned:  # held by the table though not declared owned
            resource[element] = value
    if "identifier" in mapper.owned:
        identifiers = list(now.get("identifier") or [])
        ours = {(item.get("system"), item.get("value")) for item in identifiers}
        identifiers += [
            i for i in body.get("identifier") or [] if (i.get("system"), i.get("value")) not in ours
        ]
        if identifiers:
            resource["identifier"] = identifiers
    return resource
