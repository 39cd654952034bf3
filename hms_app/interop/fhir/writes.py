"""The FHIR write interactions: create (and conditional create) and update.

A write is one database transaction: the domain service's own commit only releases a savepoint
of it, so the row, the kept version, the client's identifiers and the audit rows land together
or not at all (a transaction Bundle runs many writes in one such transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl

import pydantic
from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.db import get_engine, session_scope
from hms_app.errors import DomainError
from hms_app.interop.fhir import engine, store
from hms_app.interop.fhir.access import Access
from hms_app.interop.fhir.elements import instant
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail, from_domain_error, from_model_errors
from hms_app.interop.fhir.registry import mapper_for
from hms_app.interop.fhir.render import projection, render
from hms_app.services.audit import record_audit


@dataclass(frozen=True)
class Written:
    status: int  # 201 created, 200 updated or found by If-None-Exist
    resource: dict

    @property
    def location(self) -> str:
        return f"{self.resource['resourceType']}/{self.resource['id']}/_history/{self.resource['meta']['versionId']}"


@contextmanager
def write_transaction() -> Iterator[Session]:
    """One transaction for a whole write; services' commits inside it release savepoints."""
    with get_engine().connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
            session.flush()
            outer.commit()
        except BaseException:
            outer.rollback()
            raise
        finally:
            session.close()


def validate(resource_type: str, body: object) -> dict:
    """The resource as sent, checked against FHIR's R4B model of its type (400 naming the element)."""
    if not isinstance(body, dict):
        raise fail(400, "The body must be a JSON object: a FHIR resource.", code="structure")
    sent_type = body.get("resourceType")
    if sent_type != resource_type:
        raise fail(
            400,
            f"The body is a {str(sent_type)[:40]!r} resource; this URL takes {resource_type}.",
            code="structure",
            expression="resourceType",
        )
    try:
        get_fhir_model_class(resource_type).model_validate(body)
    except pydantic.ValidationError as error:
        raise from_model_errors(resource_type, error) from error
    except (TypeError, ValueError) as error:
        raise fail(400, f"{resource_type} could not be read: {str(error)[:200]}", code="structure") from error
    return body


def create(access: Access, resource_type: str, body: object, *, if_none_exist: str | None = None) -> Written:
    mapper = mapper_for(resource_type)
    engine.check(access, mapper, "write")
    resource = validate(resource_type, body)
    if if_none_exist is not None:
        found = find_existing(access, mapper, if_none_exist)
        if found is not None:
            return Written(200, found)
    with write_transaction() as session:
        written = create_in(session, access, mapper, resource)
    return written


def find_existing(access: Access, mapper: Mapper, if_none_exist: str) -> dict | None:
    """The one resource matching a conditional create's criteria; 412 when several do."""
    query = parse_qsl(if_none_exist.lstrip("?").split("?", 1)[-1], keep_blank_values=True)
    if not query:
        raise fail(400, "If-None-Exist needs search criteria, such as identifier=system|value.")
    criteria = engine.criteria_for(mapper, query)
    with session_scope(read_only=True) as session:
        found = engine.matching(mapper, access, criteria).subquery()
        ids = session.execute(select(found.c.id).limit(2)).scalars().all()
    if len(ids) > 1:
        raise fail(
            412,
            f"If-None-Exist matches more than one {mapper.resource_type}: make the criteria narrower.",
            code="multiple-matches",
        )
    return engine.read(access, mapper.resource_type, str(ids[0])) if ids else None


def create_in(session: Session, access: Access, mapper: Mapper, resource: dict) -> Written:
    """Create within the caller's transaction (a Bundle's, or ``create``'s own)."""
    resource = {k: v for k, v in resource.items() if k not in ("id", "meta")} | _client_meta(resource)
    patient_id = mapper.patient_of_resource(session, resource)
    _in_compartment(access, mapper, patient_id)
    try:
        row_id = mapper.create(session, actor=access.actor, resource=resource)
    except DomainError as error:
        raise from_domain_error(mapper.resource_type, error) from error
    fhir_id = f"{mapper.id_prefix}{row_id}"
    session.flush()
    row = engine.load_row(session, access, mapper, fhir_id)
    patient_id = mapper.patient_of_row(row)
    kept = {
        **resource,
        "id": fhir_id,
        "meta": {**resource.get("meta", {}), "versionId": "1", "lastUpdated": instant(utcnow())},
    }
    now = projection(mapper, row)
    store.keep(
        session,
        resource=kept,
        projection=now,
        version_id=1,
        patient_id=patient_id,
        user_id=access.actor.user_id,
    )
    store.set_identifiers(session, mapper.identity_key, row_id, resource)
    record_audit(
        session,
        access.actor,
        "fhir.create",
        patient_id=patient_id,
        target_type=mapper.resource_type,
        target_id=fhir_id,
        detail=f"POST {mapper.resource_type} -> {mapper.resource_type}/{fhir_id}",
    )
    return Written(201, render(mapper, row, store.KeptVersion(1, kept, now)))


def update(
    access: Access, resource_type: str, fhir_id: str, body: object, *, if_match: str | None = None
) -> Written:
    mapper = mapper_for(resource_type)
    engine.check(access, mapper, "write")
    resource = validate(resource_type, body)
    with write_transaction() as session:
        written = update_in(session, access, mapper, fhir_id, resource, if_match=if_match)
    return written


def update_in(
    session: Session,
    access: Access,
    mapper: Mapper,
    fhir_id: str,
    resource: dict,
    *,
    if_match: str | None = None,
) -> Written:
    if resource.get("id") != fhir_id:
        raise fail(
            400,
            f"The resource's id ({str(resource.get('id'))[:40]!r}) must be the id in the URL ({fhir_id[:40]!r}).",
            expression=f"{mapper.resource_type}.id",
        )
    if mapper.row_id(fhir_id) is None:
        raise fail(
            422,
            "This server assigns ids: create the resource with POST, then update it.",
            code="not-supported",
        )
    row = engine.load_row(session, access, mapper, fhir_id, lock=True)
    kept = store.latest(session, mapper.resource_type, fhir_id)
    current = kept.version_id if kept else 1
    if if_match is not None and if_match.strip().removeprefix("W/").strip('"') != str(current):
        raise fail(
            412,
            f"{mapper.resource_type}/{fhir_id} is at version {current}; it changed since it was read.",
            code="conflict",
        )
    patient_id = mapper.patient_of_row(row)
    if kept is None:
        # Never written over FHIR: keep what it was as version 1 before the change, so vread of 1 answers it.
        store.keep(
            session,
            resource=render(mapper, row, None),
            projection=projection(mapper, row),
            version_id=1,
            patient_id=patient_id,
            user_id=None,
        )
    sent_patient = mapper.patient_of_resource(session, resource)
    if mapper.patient_column and mapper.patient_column != "id" and sent_patient != patient_id:
        raise fail(
            422,
            f"A {mapper.resource_type} cannot move to another patient; merge the records instead.",
            code="business-rule",
        )
    try:
        mapper.update(session, actor=access.actor, row=row, resource=resource)
    except DomainError as error:
        raise from_domain_error(mapper.resource_type, error) from error
    version_id = current + 1
    body = {k: v for k, v in resource.items() if k != "meta"}
    body["meta"] = {
        **_client_meta(resource).get("meta", {}),
        "versionId": str(version_id),
        "lastUpdated": instant(utcnow()),
    }
    session.flush()
    session.expire(row)
    row = engine.load_row(session, access, mapper, fhir_id)
    now = projection(mapper, row)
    store.keep(
        session,
        resource=body,
        projection=now,
        version_id=version_id,
        patient_id=patient_id,
        user_id=access.actor.user_id,
    )
    store.set_identifiers(session, mapper.identity_key, row.id, resource)
    record_audit(
        session,
        access.actor,
        "fhir.update",
        patient_id=patient_id,
        target_type=mapper.resource_type,
        target_id=fhir_id,
        detail=f"PUT {mapper.resource_type}/{fhir_id} -> version {version_id}",
    )
    return Written(200, render(mapper, row, store.KeptVersion(version_id, body, now)))


def _client_meta(resource: dict) -> dict:
    """The parts of ``meta`` a client may set (profiles, tags, security labels); the server sets the rest."""
    meta = {
        k: v for k, v in (resource.get("meta") or {}).items() if k in ("profile", "tag", "security", "source")
    }
    return {"meta": meta} if meta else {}


def _in_compartment(access: Access, mapper: Mapper, patient_id: int | None) -> None:
    if access.patient_id is not None and mapper.patient_column and patient_id != access.patient_id:
        raise fail(
            403,
            "This token may only write the data of its own patient.",
            code="forbidden",
            denial=(
                f"FHIR write {mapper.resource_type}: outside the token's patient compartment",
                patient_id,
            ),
        )
