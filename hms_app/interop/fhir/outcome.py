"""FHIR's way of saying no: an OperationOutcome with the HTTP status that goes with it.

Every refusal the API gives is a ``FhirError``; the HTTP layer turns it into its status and
OperationOutcome body, so that a client always learns which element was wrong and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pydantic

from hms_app.errors import Conflict, DomainError, Forbidden, NotFound, ValidationError


@dataclass(frozen=True)
class Issue:
    diagnostics: str
    code: str = "invalid"  # FHIR issue-type: invalid, structure, required, value, not-found, ...
    severity: str = "error"
    expression: tuple[str, ...] = ()

    def as_fhir(self) -> dict:
        issue = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


@dataclass
class FhirError(Exception):
    status: int
    issues: list[Issue] = field(default_factory=list)
    # A refusal the audit trail must show (detail, patient id): written by whoever answers the
    # request once its transaction is closed (on SQLite a second writer would wait on the first).
    denial: tuple[str, int | None] | None = None

    def __str__(self) -> str:
        return "; ".join(issue.diagnostics for issue in self.issues)

    def outcome(self) -> dict:
        return operation_outcome(self.issues)


def fail(
    status: int,
    message: str,
    *,
    code: str = "invalid",
    expression: str | None = None,
    denial: tuple[str, int | None] | None = None,
) -> FhirError:
    """A one-issue refusal to raise: ``raise fail(400, "...", expression="Patient.birthDate")``."""
    return FhirError(
        status, [Issue(message, code=code, expression=(expression,) if expression else ())], denial
    )


def operation_outcome(issues: list[Issue]) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [issue.as_fhir() for issue in issues]}


def information(message: str) -> dict:
    return operation_outcome([Issue(message, code="informational", severity="information")])


def element_path(resource_type: str, location: tuple) -> str:
    """pydantic's error location as a FHIRPath-like expression: ``Patient.name[0].given``."""
    path = resource_type
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "__root__":
            path += f".{part}"
    return path


def from_model_errors(resource_type: str, error: pydantic.ValidationError) -> FhirError:
    """A resource that fhir.resources' model refused: one issue per element, named."""
    issues = []
    for problem in error.errors()[:20]:
        where = element_path(resource_type, tuple(problem.get("loc", ())))
        if problem.get("type") == "extra_forbidden":
            message = f"{where} is not an element of {resource_type} in FHIR R4."
            code = "structure"
        elif problem.get("type") == "missing":
            message = f"{where} is required."
            code = "required"
        else:
            message = f"{where}: {problem.get('msg', 'invalid value').removeprefix('Value error, ')}"
            code = "value"
        issues.append(Issue(message, code=code, expression=(where,)))
    return FhirError(400, issues)


def from_domain_error(resource_type: str, error: DomainError) -> FhirError:
    """A service's refusal (a rule of the hospital's) as FHIR: the message is already plain."""
    where = (f"{resource_type}.{error.field}",) if error.field else ()
    if isinstance(error, NotFound):  # includes Withheld: someone else's record looks missing
        return FhirError(404, [Issue(str(error), code="not-found", expression=where)])
    if isinstance(error, Forbidden):
        return FhirError(403, [Issue(str(error), code="forbidden", expression=where)])
    if isinstance(error, Conflict):
        return FhirError(409, [Issue(str(error), code="conflict", expression=where)])
    if isinstance(error, ValidationError):
        return FhirError(422, [Issue(str(error), code="business-rule", expression=where)])
    return FhirError(422, [Issue(str(error), code="processing", expression=where)])
