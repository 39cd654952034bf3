"""The shape every resource type's mapper has: which table, who may read and write it, which of
the resource's elements the table holds, how it is searched, and how a resource is written
through the domain's services.

A mapper lives in ``resources/<type>.py`` and is found there by the registry; adding a type is
adding one file. A mapper maps and nothing more: the engine checks the client's scopes and
permissions, keeps the versions, audits, and runs the write in one transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Select, select
from sqlmodel import Session

from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.search import Param, reference, resource_id
from hms_app.services.permissions import Actor


class Mapper(ABC):
    resource_type: ClassVar[str]
    table: ClassVar[Any]  # the SQLModel table whose rows are this type's resources
    # A type kept in more than one table (vital signs and laboratory results are both Observations)
    # has one mapper per table: the first without a prefix (plain numeric ids; it takes creates),
    # the others with a prefix of their own before the row id ("lab-12").
    id_prefix: ClassVar[str] = ""
    documentation: ClassVar[str] = ""
    read_permission: ClassVar[str]
    write_permission: ClassVar[str | None] = None  # None: read-only over FHIR
    # The column naming the patient whose compartment a row is in; None for data about no patient
    # (Practitioner, Location ...). Patient's own mapper names its id.
    patient_column: ClassVar[str | None] = "patient_id"
    # The search parameter naming the patient ("patient", "subject" ...): set for compartment types.
    patient_params: ClassVar[tuple[str, ...]] = ("patient", "subject")
    # Top-level elements the table holds: on read they come from the table (a change made on a
    # screen wins); every other element a client wrote is kept and returned as written.
    owned: ClassVar[frozenset[str]] = frozenset()
    # Sort parameters -> column; the default order is the first entry, then the id.
    sorts: ClassVar[Mapping[str, Any]] = {}
    default_descending: ClassVar[bool] = False
    # Elements the server sets from its tables whatever a client sent (recordedDate, an
    # encounter's period): never answered from a kept version.
    server_elements: ClassVar[frozenset[str]] = frozenset()
    # Included in Patient/$everything.
    in_everything: ClassVar[bool] = True
    # ``to_fhir`` reads only the row's own columns: searches, $everything and exports load plain
    # rows instead of ORM objects (several times faster for thousands of rows). A mapper that
    # reaches related rows through the row's session keeps ORM objects.
    plain_rows: ClassVar[bool] = False
    # The element of ``to_fhir``'s answer that already holds ``last_updated`` as an instant (saves
    # formatting the same moment twice per resource).
    last_updated_element: ClassVar[str | None] = None
    # The name of the column ``last_updated`` reads, when it is one (``_since`` in SQL for exports).
    updated_column: ClassVar[str | None] = None

    # --- reading -------------------------------------------------------------------------------
    def params(self) -> dict[str, Param]:
        """The type's search parameters; ``_id`` and the patient link come for free."""
        params = {"_id": resource_id(self.table.id, self.id_prefix)}
        if self.patient_column and self.patient_column != "id":
            column = getattr(self.table, self.patient_column)
            for name in self.patient_params:
                params[name] = reference(column, "Patient")
        params.update(self.search_params())
        return params

    def search_params(self) -> dict[str, Param]:
        return {}

    def select(self) -> Select:
        """Every row that is a resource of this type (a mapper may narrow it)."""
        return select(self.table)

    def rows(self, statement: Select) -> Select:
        """``statement`` (a narrowing of ``select()``) as what bulk reads execute: plain rows of
        the table's columns when ``plain_rows``, ORM objects otherwise (``.scalars()`` then)."""
        if self.plain_rows:
            return statement.with_only_columns(*self.table.__table__.columns)
        return statement

    @abstractmethod
    def to_fhir(self, row: Any) -> dict:
        """The owned elements of the resource ``row`` stands for (without id and meta)."""

    def prefetch(self, session: Session, rows: list[Any]) -> None:
        """Load what ``to_fhir`` needs of related tables for a whole page at once (a hook: a
        mapper whose resources name related rows fills a cache here instead of a query per row)."""
        return None

    def fhir_id(self, row: Any) -> str:
        return f"{self.id_prefix}{row.id}"

    @property
    def identity_key(self) -> str:
        """How the identifiers table names this mapper's rows (a prefixed source apart)."""
        return f"{self.resource_type}:{self.id_prefix}" if self.id_prefix else self.resource_type

    def last_updated(self, row: Any) -> datetime | None:
        for name in ("updated_at", "recorded_at", "created_at"):
            value = getattr(row, name, None)
            if value is not None:
                return value
        return None

    def patient_of_row(self, row: Any) -> int | None:
        return getattr(row, self.patient_column) if self.patient_column else None

    # --- writing -------------------------------------------------------------------------------
    def create(self, session: Session, *, actor: Actor, resource: dict) -> int:
        """Write a new resource through the domain's services; the new row's id."""
        raise fail(405, f"{self.resource_type} cannot be created over FHIR here.", code="not-supported")

    def update(self, session: Session, *, actor: Actor, row: Any, resource: dict) -> None:
        """Apply a client's new version of the resource to ``row`` through the services."""
        raise fail(405, f"{self.resource_type} cannot be updated over FHIR here.", code="not-supported")

    def patient_of_resource(self, session: Session, resource: dict) -> int | None:
        """The patient a resource a client sent is about (its compartment), before it is written."""
        return None

    @property
    def writable(self) -> bool:
        return self.write_permission is not None and (
            type(self).create is not Mapper.create or type(self).update is not Mapper.update
        )

    def row_id(self, fhir_id: str) -> int | None:
        """The row an id names, or None when it is not one this server gives."""
        if not fhir_id.startswith(self.id_prefix):
            return None
        digits = fhir_id[len(self.id_prefix) :]
        if digits.isdigit() and len(digits) <= 18:
            return int(digits)
        return None
