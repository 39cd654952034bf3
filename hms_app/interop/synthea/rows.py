"""Bulk writing and the id map, shared by the loader and the visits it books (``visits``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select
from sqlmodel import Session

from hms_app.models.imports import ImportedRecord

SOURCE = "synthea"


def mapped(session: Session, resource_type: str, external_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Synthea id -> HMS row id of what an earlier batch or run already wrote."""
    query = select(ImportedRecord.external_id, ImportedRecord.row_id).where(
        ImportedRecord.source == SOURCE, ImportedRecord.resource_type == resource_type
    )
    if external_ids is not None:
        query = query.where(ImportedRecord.external_id.in_(list(external_ids)))
    return dict(session.execute(query).all())


def insert_ids(session: Session, table, rows: list[dict]) -> list[int]:
    """Insert ``rows`` in one statement and return their ids in the order given."""
    if not rows:
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.execute(statement, rows).scalars())


def insert_rows(session: Session, table, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(table), rows)


def map_rows(resource_type: str, pairs: list[tuple[str, int, int | None]], now) -> list[dict]:
    """The id map's rows: (Synthea id, HMS row id, HMS patient id) each."""
    return [
        {
            "source": SOURCE,
            "resource_type": resource_type,
            "external_id": external_id[:120],
            "row_id": row_id,
            "patient_id": patient_id,
            "imported_at": now,
        }
        for external_id, row_id, patient_id in pairs
    ]
