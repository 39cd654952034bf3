"""SMART on FHIR scopes: what a token lets a client do, in SMART's own words.

``system/Patient.read`` (v1) or ``system/Patient.rs`` (v2) let a backend service read patients;
``patient/Observation.read`` reaches one patient's compartment only, so it is valid only on a
token bound to a patient. v2's letters map onto HMS's two interactions: r and s are reads,
c, u and d are writes. The scopes say what a token may ask for; the client account's roles
still decide, service by service, what HMS permits (a scope never adds a permission).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from hms_app.errors import ValidationError
from hms_app.services.permissions import Actor

CONTEXTS = ("system", "patient")
INTERACTIONS = ("read", "write")
MAX_SCOPES = 40
MAX_SCOPE_TEXT = 2000

_SCOPE_RE = re.compile(r"(?P<context>[a-z]+)/(?P<type>\*|[A-Z][A-Za-z]{1,63})\.(?P<access>[a-z]+|\*)")
_V1 = {"read": frozenset({"read"}), "write": frozenset({"write"}), "*": frozenset(INTERACTIONS)}
_V2 = re.compile(r"c?r?u?d?s?")  # SMART v2: the letters in this order, each at most once


@dataclass(frozen=True)
class Scope:
    context: str  # "system" or "patient"
    resource_type: str  # a FHIR resource type, or "*"
    interactions: frozenset[str]  # "read" and/or "write"
    text: str

    def covers(self, other: Scope) -> bool:
        """Whether a client allowed this scope may be granted ``other``."""
        return (
            self.context == other.context
            and self.resource_type in ("*", other.resource_type)
            and other.interactions <= self.interactions
        )


def parse_scope(text: str) -> Scope:
    """One scope, or a ValidationError saying what is wrong with it."""
    shown = text[:80]
    if "?" in text:
        raise ValidationError(
            f"Scope {shown!r}: search parameters in scopes are not supported.", field="scope"
        )
    match = _SCOPE_RE.fullmatch(text)
    if match is None:
        raise ValidationError(
            f"Scope {shown!r} is not a SMART scope like system/Patient.read or system/*.rs.", field="scope"
        )
    context, resource_type, access = match["context"], match["type"], match["access"]
    if context == "user":
        raise ValidationError(
            f"Scope {shown!r}: user/ scopes belong to people signing in; a system client asks for "
            "system/ (or patient/) scopes.",
            field="scope",
        )
    if context not in CONTEXTS:
        raise ValidationError(f"Scope {shown!r} must start with system/ or patient/.", field="scope")
    if access in _V1:
        interactions = _V1[access]
    elif access and _V2.fullmatch(access):
        interactions = frozenset(
            ({"read"} if set(access) & {"r", "s"} else set())
            | ({"write"} if set(access) & {"c", "u", "d"} else set())
        )
    else:
        raise ValidationError(
            f"Scope {shown!r}: the access must be read, write or * (SMART v1), or letters of cruds "
            "in that order (SMART v2).",
            field="scope",
        )
    return Scope(context, resource_type, interactions, text)


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """A space-separated list of scopes, each parsed once (repeats are dropped)."""
    text = (text or "").strip()
    if len(text) > MAX_SCOPE_TEXT:
        raise ValidationError(
            f"The scopes are too long (at most {MAX_SCOPE_TEXT} characters).", field="scope"
        )
    words = list(dict.fromkeys(text.split()))
    if not words:
        raise ValidationError("Name at least one scope, like system/Patient.read.", field="scope")
    if len(words) > MAX_SCOPES:
        raise ValidationError(f"At most {MAX_SCOPES} scopes.", field="scope")
    return tuple(parse_scope(word) for word in words)


def grantable(requested: tuple[Scope, ...], allowed: tuple[Scope, ...]) -> tuple[Scope, ...]:
    """The requested scopes some allowed scope covers (the intersection, wildcards understood)."""
    return tuple(scope for scope in requested if any(a.covers(scope) for a in allowed))


@lru_cache(maxsize=1024)
def _parsed(text: str) -> Scope | None:
    try:
        return parse_scope(text)
    except ValidationError:
        return None


@dataclass(frozen=True)
class FhirAccess:
    """What one bearer token lets its holder do: act as ``actor`` within ``scopes``.

    ``actor`` is the client's own account (its roles' permissions); on a patient-bound token its
    ``patient_id`` is set, so every service's compartment check confines it to that patient.
    """

    actor: Actor
    client_name: str
    scopes: frozenset[str]
    patient_id: int | None = None

    def allows(self, resource_type: str, interaction: str) -> bool:
        """Whether a scope of this token covers ``interaction`` ("read" or "write") on the type."""
        if interaction not in INTERACTIONS:
            raise ValueError(f"interaction must be read or write, not {interaction!r}")
        # A patient-bound token reaches its compartment only: its system/ scopes (it has none when
        # issued here) would not count. A token without a patient has no compartment to reach.
        context = "patient" if self.patient_id is not None else "system"
        for text in self.scopes:
            scope = _parsed(text)
            if (
                scope is not None
                and scope.context == context
                and scope.resource_type in ("*", resource_type)
                and interaction in scope.interactions
            ):
                return True
        return False
