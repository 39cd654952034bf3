"""The versions of resources written over FHIR, and the identifiers clients gave them.

What a client writes is kept whole (``fhir_resource_version``): reading a resource starts from
the latest kept version and puts what the tables say now over the elements HMS models, so an
extension or an element HMS has no column for comes back exactly as it was sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.models.fhir import FhirIdentifier, FhirResourceVersion


@dataclass(frozen=True)
class KeptVersion:
    version_id: int
    body: dict
    # The elements HMS's tables held right after this version was written: an element still the
    # same now was not changed on a screen since, and is answered as the client wrote it.
    projection: dict = field(default_factory=dict)


def _kept(version_id: int, body: str, projection: str | None) -> KeptVersion:
    return KeptVersion(version_id, json.loads(body), json.loads(projection) if projection else {})


def latest(session: Session, resource_type: str, resource_id: str) -> KeptVersion | None:
    row = session.execute(
        select(FhirResourceVersion.version_id, FhirResourceVersion.body, FhirResourceVersion.projection)
        .where(
            FhirResourceVersion.resource_type == resource_type, FhirResourceVersion.resource_id == resource_id
        )
        .order_by(FhirResourceVersion.version_id.desc())
        .limit(1)
    ).first()
    return _kept(row.version_id, row.body, row.projection) if row else None


def latest_many(session: Session, resource_type: str, resource_ids: list[str]) -> dict[str, KeptVersion]:
    """The latest kept version of each of ``resource_ids`` that has one (one query)."""
    if not resource_ids:
        return {}
    newest = (
        select(FhirResourceVersion.resource_id, func.max(FhirResourceVersion.version_id).label("v"))
        .where(
            FhirResourceVersion.resource_type == resource_type,
            FhirResourceVersion.resource_id.in_(resource_ids),
        )
        .group_by(FhirResourceVersion.resource_id)
        .subquery()
    )
    rows = session.execute(
        select(
            FhirResourceVersion.resource_id,
            FhirResourceVersion.version_id,
            FhirResourceVersion.body,
            FhirResourceVersion.projection,
        )
        .join(
            newest,
            (FhirResourceVersion.resource_id == newest.c.resource_id)
            & (FhirResourceVersion.version_id == newest.c.v),
        )
        .where(FhirResourceVersion.resource_type == resource_type)
    ).all()
    return {row.resource_id: _kept(row.version_id, row.body, row.projection) for row in rows}


def version(session: Session, resource_type: str, resource_id: str, version_id: int) -> dict | None:
    body = session.execute(
        select(FhirResourceVersion.body).where(
            FhirResourceVersion.resource_type == resource_type,
            FhirResourceVersion.resource_id == resource_id,
            FhirResourceVersion.version_id == version_id,
        )
    ).scalar_one_or_none()
    return json.loads(body) if body is not None else None


def history(session: Session, resource_type: str, resource_id: str, limit: int) -> list[dict]:
    bodies = session.execute(
        select(FhirResourceVersion.body)
        .where(
            FhirResourceVersion.resource_type == resource_type, FhirResourceVersion.resource_id == resource_id
        )
        .order_by(FhirResourceVersion.version_id.desc())
        .limit(limit)
    ).scalars()
    return [json.loads(body) for body in bodies]


def keep(
    session: Session,
    *,
    resource: dict,
    projection: dict,
    version_id: int,
    patient_id: int | None,
    user_id: int | None,
) -> None:
    """Keep one version and what the tables held once it was written (the caller commits)."""
    session.execute(
        insert(FhirResourceVersion).values(
            resource_type=resource["resourceType"],
            resource_id=resource["id"],
            version_id=version_id,
            patient_id=patient_id,
            body=json.dumps(resource, separators=(",", ":"), ensure_ascii=False),
            projection=json.dumps(projection, separators=(",", ":"), ensure_ascii=False),
            written_at=utcnow(),
            written_by=user_id or None,
        )
    )


def set_identifiers(session: Session, resource_type: str, row_id: int, resource: dict) -> None:
    session.execute(
        delete(FhirIdentifier).where(
            FhirIdentifier.resource_type == resource_type, FhirIdentifier.row_id == row_id
        )
    )
    rows = [
        {
            "resource_type": resource_type,
            "row_id": row_id,
            "system": str(item.get("system") or "")[:200],
            "value": str(item["value"])[:200],
        }
        for item in resource.get("identifier") or []
        if isinstance(item, dict) and item.get("value")
    ]
    if rows:
        session.execute(insert(FhirIdentifier), rows)


def identifier_rows(resource_type: str, system: str | None, value: str):
    """A subquery of the rows of ``resource_type`` that carry the identifier ``system|value``
    (``system`` None: any system)."""
    query = select(FhirIdentifier.row_id).where(
        FhirIdentifier.resource_type == resource_type, FhirIdentifier.value == value
    )
    if system is not None:
        query = query.where(FhirIdentifier.system == system)
    return query


def kept_for_patient(session: Session, patient_id: int) -> dict[tuple[str, str], KeptVersion]:
    """The latest kept version of every resource in a patient's compartment (one query)."""
    rows = session.execute(
        select(
            FhirResourceVersion.resource_type,
            FhirResourceVersion.resource_id,
            FhirResourceVersion.version_id,
            FhirResourceVersion.body,
            FhirResourceVersion.projection,
        )
        .where(FhirResourceVersion.patient_id == patient_id)
        .order_by(FhirResourceVersion.version_id)
    ).all()
    return {(r.resource_type, r.resource_id): _kept(r.version_id, r.body, r.projection) for r in rows}
