"""The resource types this server supports: every ``resources/<type>.py`` with a ``MAPPER``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from hms_app.interop.fhir import resources
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail


@cache
def sources() -> dict[str, tuple[Mapper, ...]]:
    """Each type's mappers: the unprefixed one first, then the prefixed ones (one per table)."""
    found: dict[str, list[Mapper]] = {}
    for info in sorted(pkgutil.iter_modules(resources.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{resources.__name__}.{info.name}")
        for name in ("MAPPER", "MAPPERS"):
            value = getattr(module, name, None)
            for mapper in value if isinstance(value, list | tuple) else [value]:
                if isinstance(mapper, Mapper):
                    found.setdefault(mapper.resource_type, []).append(mapper)
    result = {}
    for resource_type, listed in sorted(found.items()):
        listed.sort(key=lambda m: m.id_prefix)
        prefixes = [m.id_prefix for m in listed]
        if prefixes[0] != "" or len(set(prefixes)) != len(prefixes):
            raise RuntimeError(
                f"{resource_type} needs one unprefixed mapper and distinct prefixes: {prefixes}"
            )
        result[resource_type] = tuple(listed)
    return result


def mappers() -> dict[str, Mapper]:
    """Each type's primary mapper (the unprefixed one)."""
    return {resource_type: listed[0] for resource_type, listed in sources().items()}


def sources_for(resource_type: str) -> tuple[Mapper, ...]:
    mapper_for(resource_type)
    return sources()[resource_type]


def mapper_for_id(resource_type: str, fhir_id: str) -> Mapper | None:
    """The mapper whose ids look like ``fhir_id`` (None: no table of the type gives such an id)."""
    for mapper in reversed(sources_for(resource_type)):  # prefixed ones first
        if mapper.row_id(fhir_id) is not None:
            return mapper
    return None


def mapper_for(resource_type: str) -> Mapper:
    listed = sources().get(resource_type)
    mapper = listed[0] if listed else None
    if mapper is None:
        raise fail(
            404,
            f"This server has no resource type {resource_type[:60]!r} (see /fhir/metadata for the supported ones).",
            code="not-supported",
        )
    return mapper
