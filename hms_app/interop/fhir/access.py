"""Who is asking: the acting user behind a request and what their token's scopes allow.

A SMART token (``services/fhir_clients``) and a signed-in staff browser both become an
``Access``; the engine asks it whether a type may be read or written, and its actor's role
whether the hospital's permission is held, and keeps a patient-bound token to its compartment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hms_app.services.permissions import Actor


class Access(Protocol):
    @property
    def actor(self) -> Actor: ...

    @property
    def patient_id(self) -> int | None: ...

    def allows(self, resource_type: str, interaction: str) -> bool: ...


@dataclass(frozen=True)
class BrowserAccess:
    """A signed-in staff member's browser: reads only, as far as their role goes (a cookie can be
    sent by a page of another site, so writes need a bearer token)."""

    actor: Actor

    @property
    def patient_id(self) -> int | None:
        return self.actor.patient_id

    def allows(self, resource_type: str, interaction: str) -> bool:
        return interaction == "read"
