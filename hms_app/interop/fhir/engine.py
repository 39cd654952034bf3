"""The FHIR read interactions: read, vread, history, search and Patient/$everything.

Each checks, in this order, that the resource type exists, that the token's scopes allow the
interaction, that the actor's role holds the hospital's permission for it, and (for a token
bound to one patient) that the data is in that patient's compartment; someone else's record is
answered exactly as a missing one. Every answer that carries patient data is audited, one row
per patient, like a chart opened on a screen.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlmodel import Session

from hms_app.db import session_scope
from hms_app.interop.fhir import store
from hms_app.interop.fhir.access import Access
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import FhirError, fail
from hms_app.interop.fhir.registry import mapper_for, mapper_for_id, sources, sources_for
from hms_app.interop.fhir.render import render, without_gc_pauses
from hms_app.interop.fhir.search import Criteria, Param, identifier, parse_criteria
from hms_app.services.audit import audit_row, record_audit, record_audits
from hms_app.services.permissions import PERMISSIONS

EVERYTHING_LIMIT = 50_000  # resources in one $everything answer; a bigger record is refused, not cut


def check(access: Access, mapper: Mapper, interaction: str) -> None:
    """Refuse (403, audited) unless scopes and role allow ``interaction`` on the type."""
    permission = mapper.read_permission if interaction == "read" else mapper.write_permission
    if permission is None:
        raise fail(405, f"{mapper.resource_type} is read-only over FHIR here.", code="not-supported")
    if not access.allows(mapper.resource_type, interaction):
        raise fail(
            403,
            f"The access token's scopes do not allow {interaction} of {mapper.resource_type}.",
            code="forbidden",
            denial=(f"FHIR {interaction} {mapper.resource_type}: outside the token's scopes", None),
        )
    if not access.actor.can(permission):
        raise fail(
            403,
            f"Your role does not allow this ({PERMISSIONS[permission].lower()}).",
            code="forbidden",
            denial=(f"FHIR {interaction} {mapper.resource_type}: needs {permission}", None),
        )


def record_denial(access: Access, error: FhirError) -> None:
    """Audit a refusal once the request's transaction is over."""
    if error.denial is None:
        return
    detail, patient_id = error.denial
    with session_scope() as session:
        record_audit(
            session, access.actor, "access.denied", patient_id=patient_id, outcome="denied", detail=detail
        )
        session.commit()


def not_known(resource_type: str, fhir_id: str) -> FhirError:
    return fail(404, f"{resource_type}/{fhir_id[:64]} is not known to this server.", code="not-found")


def load_row(session: Session, access: Access, mapper: Mapper, fhir_id: str, *, lock: bool = False):
    """The row behind ``Type/id`` that the access may see (404 otherwise, audited when withheld)."""
    row_id = mapper.row_id(fhir_id)
    if row_id is None:
        raise not_known(mapper.resource_type, fhir_id)
    query = mapper.select().where(mapper.table.id == row_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise not_known(mapper.resource_type, fhir_id)
    patient_id = mapper.patient_of_row(row)
    if access.patient_id is not None and mapper.patient_column and patient_id != access.patient_id:
        error = not_known(mapper.resource_type, fhir_id)
        error.denial = (
            f"FHIR {mapper.resource_type}/{fhir_id}: outside the token's patient compartment",
            patient_id,
        )
        raise error
    return row


def source(resource_type: str, fhir_id: str) -> Mapper:
    """The mapper of the table an id belongs to (404 for an id no table of the type gives)."""
    mapper = mapper_for_id(resource_type, fhir_id)
    if mapper is None:
        raise not_known(resource_type, fhir_id)
    return mapper


def read(access: Access, resource_type: str, fhir_id: str) -> dict:
    mapper = source(resource_type, fhir_id)
    check(access, mapper, "read")
    with session_scope(read_only=True) as session:
        row = load_row(session, access, mapper, fhir_id)
        resource = render(mapper, row, store.latest(session, resource_type, fhir_id))
        _audit_reads(session, access, "fhir.read", resource_type, [(mapper.patient_of_row(row), fhir_id)])
    return resource


def vread(access: Access, resource_type: str, fhir_id: str, version_id: str) -> dict:
    mapper = source(resource_type, fhir_id)
    check(access, mapper, "read")
    with session_scope(read_only=True) as session:
        row = load_row(session, access, mapper, fhir_id)
        kept = (
            store.version(session, resource_type, fhir_id, int(version_id)) if version_id.isdigit() else None
        )
        if kept is None:
            latest = store.latest(session, resource_type, fhir_id)
            if latest is None and version_id == "1":
                kept = render(mapper, row, None)  # never written over FHIR: its first version is now
            else:
                raise fail(
                    404, f"{resource_type}/{fhir_id} has no version {version_id[:20]!r}.", code="not-found"
                )
        _audit_reads(session, access, "fhir.vread", resource_type, [(mapper.patient_of_row(row), fhir_id)])
    return kept


def history(access: Access, resource_type: str, fhir_id: str, base: str) -> dict:
    mapper = source(resource_type, fhir_id)
    check(access, mapper, "read")
    with session_scope(read_only=True) as session:
        row = load_row(session, access, mapper, fhir_id)
        versions = store.history(session, resource_type, fhir_id, limit=100) or [render(mapper, row, None)]
        _audit_reads(session, access, "fhir.history", resource_type, [(mapper.patient_of_row(row), fhir_id)])
    return {
        "resourceType": "Bundle",
        "type": "history",
        "total": len(versions),
        "entry": [
            {
                "fullUrl": f"{base}/{resource_type}/{fhir_id}",
                "resource": body,
                "request": {"method": "PUT", "url": f"{resource_type}/{fhir_id}"},
                "response": {"status": "200"},
            }
            for body in versions
        ],
    }


def search_params(mapper: Mapper) -> dict[str, Param]:
    params = mapper.params()
    params.setdefault("identifier", identifier(mapper.identity_key, mapper.table.id))
    return params


def criteria_for(mapper: Mapper, query: list[tuple[str, str]]) -> Criteria:
    return parse_criteria(mapper.resource_type, query, search_params(mapper), mapper.sorts)


def matching(mapper: Mapper, access: Access, criteria: Criteria):
    statement = mapper.select().where(*criteria.conditions)
    if access.patient_id is not None and mapper.patient_column:
        statement = statement.where(getattr(mapper.table, mapper.patient_column) == access.patient_id)
    return statement


MULTI_SOURCE_WINDOW = 10_000  # rows a search over several tables may page through


def search(access: Access, resource_type: str, query: list[tuple[str, str]], base: str) -> dict:
    primary = mapper_for(resource_type)
    # A type kept in several tables is searchable by a role that reads any one of them.
    listed = [m for m in sources_for(resource_type) if access.actor.can(m.read_permission)]
    check(access, listed[0] if listed else primary, "read")
    plans = _plans(listed, query, access)
    criteria = plans[0][1] if plans else criteria_for(primary, query)
    with session_scope(read_only=True) as session:
        if len(plans) == 1:
            mapper, criteria, statement = plans[0]
            total = _count(session, statement)
            rows = [
                (mapper, row)
                for row in _page(session, mapper, criteria, statement, criteria.count, criteria.offset)
            ]
        else:
            total, rows = _merged_page(session, plans, criteria)
        for mapper in {m for m, _row in rows}:
            mapper.prefetch(session, [row for m, row in rows if m is mapper])
        kept = store.latest_many(session, resource_type, [m.fhir_id(row) for m, row in rows])
        entries = [render(m, row, kept.get(m.fhir_id(row))) for m, row in rows]
        _audit_reads(
            session,
            access,
            "fhir.search",
            resource_type,
            [(m.patient_of_row(row), m.fhir_id(row)) for m, row in rows],
            detail=f"GET {resource_type}?{urlencode(criteria.echo)[:300]}",
        )
    return searchset(base, resource_type, entries, total, criteria)


def _plans(listed: list[Mapper], query: list[tuple[str, str]], access: Access):
    """Each table's checked criteria and statement. A parameter one table does not have excludes
    that table (none of its rows can match); a parameter no table has is refused."""
    plans, refusals = [], []
    for mapper in listed:
        try:
            criteria = criteria_for(mapper, query)
        except FhirError as error:
            if error.status != 400 or not any(issue.code == "not-supported" for issue in error.issues):
                raise
            refusals.append(error)
            continue
        plans.append((mapper, criteria, None))
    if not plans and refusals:
        raise refusals[0]
    return [(mapper, criteria, matching(mapper, access, criteria)) for mapper, criteria, _ in plans]


def _order(mapper: Mapper, criteria: Criteria) -> list:
    sort = criteria.sort
    if not sort and mapper.sorts:
        sort = ((next(iter(mapper.sorts)), mapper.default_descending),)
    order = [
        mapper.sorts[name].desc() if descending else mapper.sorts[name].asc() for name, descending in sort
    ]
    order.append(
        mapper.table.id.desc() if mapper.default_descending and not criteria.sort else mapper.table.id.asc()
    )
    return order


def _count(session: Session, statement) -> int:
    return session.execute(select(func.count()).select_from(statement.order_by(None).subquery())).scalar_one()


def _page(session: Session, mapper: Mapper, criteria: Criteria, statement, limit: int, offset: int) -> list:
    if not limit:
        return []
    ordered = statement.order_by(*_order(mapper, criteria)).limit(limit).offset(offset)
    return fetch(session, mapper, ordered)


def fetch(session: Session, mapper: Mapper, statement) -> list:
    """The rows a bulk read renders (plain rows for a ``plain_rows`` mapper)."""
    result = session.execute(mapper.rows(statement))
    return list(result.all() if mapper.plain_rows else result.scalars())


def _merged_page(session: Session, plans, criteria: Criteria) -> tuple[int, list]:
    """One page over several tables: each table's first ``offset + count`` rows in the search's
    order, merged, then cut to the page (refused past a window, where $export is the way)."""
    if criteria.offset + criteria.count > MULTI_SOURCE_WINDOW:
        raise fail(
            400,
            f"Searches of this type page through at most {MULTI_SOURCE_WINDOW} results: narrow the search "
            "(by patient, date or code) or use $export.",
            code="too-costly",
        )
    total = 0
    merged = []
    for mapper, mapper_criteria, statement in plans:
        total += _count(session, statement)
        for row in _page(session, mapper, mapper_criteria, statement, criteria.offset + criteria.count, 0):
            merged.append((mapper, row))
    sort = criteria.sort or ()
    if not sort:
        first = plans[0][0]
        sort = ((next(iter(first.sorts)), first.default_descending),) if first.sorts else ()
    for name, descending in reversed(sort):
        merged.sort(key=lambda pair, name=name: _sort_value(pair, name), reverse=descending)
    return total, merged[criteria.offset : criteria.offset + criteria.count]


def _sort_value(pair, name: str):
    mapper, row = pair
    column = mapper.sorts.get(name)
    value = getattr(row, column.key) if column is not None else None
    return (value is not None, value if value is not None else 0)


def searchset(base: str, resource_type: str, entries: list[dict], total: int, criteria: Criteria) -> dict:
    def page_link(relation: str, offset: int) -> dict:
        params = [*criteria.echo, ("_count", str(criteria.count)), ("_offset", str(offset))]
        return {"relation": relation, "url": f"{base}/{resource_type}?{urlencode(params)}"}

    links = [page_link("self", criteria.offset)]
    if criteria.count:
        links.append(page_link("first", 0))
        if criteria.offset + criteria.count < total:
            links.append(page_link("next", criteria.offset + criteria.count))
        if criteria.offset > 0:
            links.append(page_link("previous", max(criteria.offset - criteria.count, 0)))
        links.append(page_link("last", max((total - 1) // criteria.count * criteria.count, 0)))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/{entry['resourceType']}/{entry['id']}",
                "resource": entry,
                "search": {"mode": "match"},
            }
            for entry in entries
        ],
    }


def everything(access: Access, fhir_id: str, base: str) -> dict:
    """The patient and every resource in their compartment, of each type this server maps."""
    patient_mapper = mapper_for("Patient")
    check(access, patient_mapper, "read")
    compartment = [
        m
        for listed in sources().values()
        for m in listed
        if m.patient_column and m.in_everything and m is not patient_mapper
    ]
    readable = [
        m
        for m in compartment
        if access.allows(m.resource_type, "read") and access.actor.can(m.read_permission)
    ]
    entries: list[dict] = []
    with session_scope(read_only=True) as session, without_gc_pauses():
        patient = load_row(session, access, patient_mapper, fhir_id)
        kept_by_type: dict[tuple[str, str], store.KeptVersion] = store.kept_for_patient(session, patient.id)
        entries.append(render(patient_mapper, patient, kept_by_type.get(("Patient", fhir_id))))
        for mapper in readable:
            column = getattr(mapper.table, mapper.patient_column)
            rows = fetch(
                session,
                mapper,
                mapper.select()
                .where(column == patient.id)
                .order_by(mapper.table.id)
                .limit(EVERYTHING_LIMIT + 1),
            )
            mapper.prefetch(session, rows)
            for row in rows:
                kept = kept_by_type.get((mapper.resource_type, mapper.fhir_id(row)))
                entries.append(render(mapper, row, kept))
            if len(entries) > EVERYTHING_LIMIT:
                raise fail(
                    400,
                    f"This record has more than {EVERYTHING_LIMIT} resources: use the searches or the bulk export.",
                    code="too-costly",
                )
        _audit_reads(
            session,
            access,
            "fhir.everything",
            "Patient",
            [(patient.id, fhir_id)],
            detail=f"Patient/{fhir_id}/$everything: {len(entries)} resources from {len(readable) + 1} tables",
        )
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "entry": [
            {"fullUrl": f"{base}/{e['resourceType']}/{e['id']}", "resource": e, "search": {"mode": "match"}}
            for e in entries
        ],
    }


def _audit_reads(
    session: Session,
    access: Access,
    action: str,
    resource_type: str,
    seen: Iterable[tuple[int | None, str]],
    *,
    detail: str | None = None,
) -> None:
    """One audit row per patient whose data was answered (and one for data about no patient)."""
    by_patient: dict[int | None, list[str]] = {}
    for patient_id, fhir_id in seen:
        by_patient.setdefault(patient_id, []).append(fhir_id)
    if not by_patient:
        by_patient[None] = []
    rows = [
        audit_row(
            access.actor,
            action,
            patient_id=patient_id,
            target_type=resource_type,
            target_id=ids[0] if len(ids) == 1 else None,
            detail=(detail or f"{resource_type}/{ids[0] if ids else ''}")
            + (f" ({len(ids)} resources)" if len(ids) > 1 else ""),
        )
        for patient_id, ids in by_patient.items()
    ]
    if len(rows) == 1:
        record_audit(session, access.actor, **_arguments(rows[0]))
        return
    with session_scope() as writer:
        record_audits(writer, rows)
        writer.commit()


def _arguments(row: dict) -> dict:
    return {
        "action": row["action"],
        "patient_id": row["patient_id"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "detail": row["detail"],
    }
