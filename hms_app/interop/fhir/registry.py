"""The resource types this server supports: every ``resources/<type>.py`` with a ``MAPPER``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from hms_app.interop.fhir import resources
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail


@cache
def mappers() -> dict[str, Mapper]:
    found: dict[str, Mapper] = {}
    for info in sorted(pkgutil.iter_modules(resources.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{resources.__name__}.{info.name}")
        mapper = getattr(module, "MAPPER", None)
        if isinstance(mapper, Mapper):
            if mapper.resource_type in found:
                raise RuntimeError(f"two mappers for {mapper.resource_type}")
            found[mapper.resource_type] = mapper
    return dict(sorted(found.items()))


def mapper_for(resource_type: str) -> Mapper:
    mapper = mappers().get(resource_type)
    if mapper is None:
        raise fail(
            404,
            f"This server has no resource type {resource_type[:60]!r} (see /fhir/metadata for the supported ones).",
            code="not-supported",
        )
    return mapper
