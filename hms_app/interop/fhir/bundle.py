"""Transaction Bundles: every entry written in one database transaction, or none of them.

Entries are processed in the order FHIR prescribes (creates before updates) and, among creates,
after the entries whose ``urn:uuid`` they reference, so that each reference can be rewritten to
the id the referenced resource was given. A refusal of any entry rolls back every entry and
names the entry it came from.
"""

from __future__ import annotations

import re
from typing import Any

from hms_app.interop.fhir import writes
from hms_app.interop.fhir.access import Access
from hms_app.interop.fhir.engine import check
from hms_app.interop.fhir.outcome import FhirError, Issue, fail
from hms_app.interop.fhir.registry import mapper_for

MAX_ENTRIES = 5000
URN = re.compile(r"^urn:uuid:[0-9a-fA-F-]{36}$")


def transaction(access: Access, body: object, base: str) -> dict:
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise fail(
            400, "POST /fhir takes a Bundle of type transaction.", code="structure", expression="Bundle"
        )
    if body.get("type") != "transaction":
        raise fail(
            400,
            f"Bundle.type must be transaction here, not {str(body.get('type'))[:30]!r}.",
            code="not-supported",
            expression="Bundle.type",
        )
    entries = body.get("entry") or []
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise fail(
            400, f"Bundle.entry must be a list of at most {MAX_ENTRIES} entries.", expression="Bundle.entry"
        )
    planned = [_plan(index, entry) for index, entry in enumerate(entries)]
    for step in planned:
        check(access, mapper_for(step["type"]), "write")
        step["resource"] = _validated(step)
        # Looked up before the write transaction opens: the lookup is audited, and on SQLite that
        # audit row would wait for this very transaction's write lock.
        step["found"] = None
        if step["method"] == "POST" and step["if_none_exist"]:
            try:
                step["found"] = writes.find_existing(access, mapper_for(step["type"]), step["if_none_exist"])
            except FhirError as error:
                raise _at(error, f"Bundle.entry[{step['index']}].request.ifNoneExist") from error
    results: dict[int, dict] = {}
    resolved: dict[str, str] = {}
    with writes.write_transaction() as session:
        for step in _ordered(planned):
            where = f"Bundle.entry[{step['index']}]"
            resource = _rewrite(step["resource"], resolved, where)
            try:
                if step["method"] == "POST":
                    found = step["found"]
                    written = (
                        writes.Written(200, found)
                        if found
                        else writes.create_in(session, access, mapper_for(step["type"]), resource)
                    )
                else:
                    written = writes.update_in(
                        session, access, mapper_for(step["type"]), step["id"], resource
                    )
            except FhirError as error:
                raise _at(error, where) from error
            if step["full_url"]:
                resolved[step["full_url"]] = f"{step['type']}/{written.resource['id']}"
            results[step["index"]] = {
                "fullUrl": f"{base}/{step['type']}/{written.resource['id']}",
                "resource": written.resource,
                "response": {
                    "status": "201 Created" if written.status == 201 else "200 OK",
                    "location": written.location,
                    "etag": f'W/"{written.resource["meta"]["versionId"]}"',
                },
            }
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [results[index] for index in sorted(results)],
    }


def _plan(index: int, entry: Any) -> dict:
    where = f"Bundle.entry[{index}]"
    if not isinstance(entry, dict):
        raise fail(400, f"{where} must be an object.", expression=where)
    request = entry.get("request") or {}
    method = str(request.get("method", "")).upper()
    url = str(request.get("url", ""))
    resource = entry.get("resource")
    if method not in ("POST", "PUT"):
        raise fail(
            400,
            f"{where}.request.method {method or 'missing'}: a transaction here creates (POST) and updates (PUT).",
            code="not-supported",
            expression=f"{where}.request.method",
        )
    if not isinstance(resource, dict):
        raise fail(400, f"{where}.resource is required.", code="required", expression=f"{where}.resource")
    path = url.split("?", 1)[0].strip("/")
    parts = path.split("/")
    resource_type = parts[0]
    if method == "POST" and len(parts) != 1 or method == "PUT" and len(parts) != 2:
        raise fail(
            400, f"{where}.request.url {url[:80]!r} does not fit {method}.", expression=f"{where}.request.url"
        )
    if resource.get("resourceType") != resource_type:
        raise fail(
            400,
            f"{where}.resource is a {str(resource.get('resourceType'))[:30]} but its request.url names {resource_type[:30]}.",
            expression=f"{where}.resource.resourceType",
        )
    full_url = entry.get("fullUrl")
    return {
        "index": index,
        "method": method,
        "type": resource_type,
        "id": parts[1] if method == "PUT" else None,
        "resource": resource,
        "full_url": full_url if isinstance(full_url, str) and URN.match(full_url) else None,
        "if_none_exist": request.get("ifNoneExist"),
    }


def _validated(step: dict) -> dict:
    try:
        return writes.validate(step["type"], step["resource"])  # urn:uuid references are valid as they are
    except FhirError as error:
        raise _at(error, f"Bundle.entry[{step['index']}].resource") from error


def _ordered(planned: list[dict]) -> list[dict]:
    """Creates first, each after the creates whose urn:uuid it references; then updates."""
    creates = [step for step in planned if step["method"] == "POST"]
    by_urn = {step["full_url"]: step for step in creates if step["full_url"]}
    order: list[dict] = []
    state: dict[int, str] = {}

    def visit(step: dict, chain: tuple[int, ...]) -> None:
        if state.get(step["index"]) == "done":
            return
        if state.get(step["index"]) == "visiting":
            raise fail(
                400,
                f"Bundle entries {list(chain)} reference each other in a circle.",
                expression="Bundle.entry",
            )
        state[step["index"]] = "visiting"
        for urn in _urns(step["resource"]):
            if urn in by_urn:
                visit(by_urn[urn], (*chain, step["index"]))
        state[step["index"]] = "done"
        order.append(step)

    for step in creates:
        visit(step, (step["index"],))
    return order + [step for step in planned if step["method"] == "PUT"]


def _urns(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item.startswith("urn:uuid:"):
                found.append(item)
            else:
                found.extend(_urns(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_urns(item))
    return found


def _rewrite(value: Any, resolved: dict[str, str], where: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "reference" and isinstance(item, str) and item.startswith("urn:uuid:"):
                if item not in resolved:
                    raise fail(
                        400,
                        f"{where} references {item}, which no entry of this Bundle creates.",
                        code="not-found",
                        expression=where,
                    )
                out[key] = resolved[item]
            else:
                out[key] = _rewrite(item, resolved, where)
        return out
    if isinstance(value, list):
        return [_rewrite(item, resolved, where) for item in value]
    return value


def _at(error: FhirError, where: str) -> FhirError:
    issues = [
        Issue(
            f"{where}: {issue.diagnostics}",
            code=issue.code,
            severity=issue.severity,
            expression=tuple(_within(where, e) for e in issue.expression) or (where,),
        )
        for issue in error.issues
    ]
    return FhirError(error.status, issues, error.denial)


def _within(where: str, expression: str) -> str:
    """``Observation.valueQuantity`` of entry 3 is ``Bundle.entry[3].resource.valueQuantity``."""
    if expression.startswith("Bundle"):
        return expression
    head, dot, rest = expression.partition(".")
    return (
        f"{where}.resource{dot}{rest}"
        if where.endswith("]") and head[:1].isupper()
        else f"{where}.{expression}"
    )
