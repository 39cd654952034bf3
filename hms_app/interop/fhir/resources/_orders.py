"""What the order-side mappers (MedicationRequest, Procedure, ImagingStudy, Specimen,
DocumentReference) share. No ``MAPPER`` here: the registry passes this module by."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import false, true
from sqlalchemy.orm import object_session

from hms_app.interop.fhir.search import Clause, Param, _any, _no_modifier, split_values


def related(row: Any, table: Any, row_id: int | None) -> Any:
    """A row another row points at, read through the session the row came from.

    ``to_fhir`` is given the row alone; the session's identity map answers a second reference to
    the same row (the same product on fifty orders) without another query."""
    if row_id is None:
        return None
    session = object_session(row)
    return session.get(table, row_id) if session is not None else None


def coded(column: Any, codes: Mapping[str, tuple[str, ...]], *, system: str | None = None) -> Param:
    """A token over a column whose stored values differ from FHIR's codes and where one FHIR code
    stands for several stored values (``stopped`` is HMS's stopped and changed orders)."""

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name, ("not",))
        clauses = []
        for value in split_values(raw, name):
            wanted_system, bar, code = value.rpartition("|") if "|" in value else ("", "", value)
            if bar and wanted_system and wanted_system != system:
                clauses.append(false())
            elif not code:
                clauses.append(true())
            else:
                stored = codes.get(code)
                clauses.append(column.in_(stored) if stored else false())
        clause = _any(clauses)
        return ~clause if modifier == "not" else clause

    return Param("token", build)


def custom(build: Callable[[str, str | None, str], Clause], kind: str = "token") -> Param:
    """A parameter whose SQL the mapper writes itself, one value at a time (OR-ed)."""

    def each(raw: str, modifier: str | None, name: str) -> Clause:
        _no_modifier(modifier, name)
        return _any([build(value, modifier, name) for value in split_values(raw, name)])

    return Param(kind, each)
