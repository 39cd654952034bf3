"""What the FHIR API tests share: the API under test, and bearer tokens standing for a client's
access (scopes, role and patient compartment) without the token endpoint in the way.

``tokens.issue(scopes=..., permissions=..., patient_id=...)`` returns a bearer string that the
API resolves to exactly that access; the SMART token endpoint's own tests check real tokens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pytest
from starlette.testclient import TestClient

from hms_app.api import fhir_auth
from hms_app.api.routes import build_api
from hms_app.services import accounts
from hms_app.services.permissions import PERMISSIONS, SYSTEM_ACTOR, Actor

FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class TestAccess:
    actor: Actor
    scopes: frozenset[str]
    patient_id: int | None = None

    def allows(self, resource_type: str, interaction: str) -> bool:
        wanted = {"read": ("read", "*"), "write": ("write", "*")}[interaction]
        for scope in self.scopes:
            _context, _, rest = scope.partition("/")
            scope_type, _, action = rest.partition(".")
            if scope_type in (resource_type, "*") and action in wanted:
                return True
        return False


@dataclass
class Tokens:
    session: object
    issued: dict[str, TestAccess] = field(default_factory=dict)
    users: int = 0

    def issue(
        self,
        *,
        scopes: str = "system/*.*",
        permissions: frozenset[str] | None = None,
        patient_id: int | None = None,
    ) -> str:
        """A bearer token for a client acting as a user of its own (a real ``app_user``, so that
        the audit trail can name it) holding ``permissions`` (all but the portal's by default)."""
        self.users += 1
        accounts.ensure_roles(self.session)
        user = accounts.create_user(
            self.session,
            actor=SYSTEM_ACTOR,
            username=f"fhir-test-{self.users}",
            display_name=f"FHIR test client {self.users}",
            password=secrets.token_urlsafe(16) + "a1",
            roles=["admin"],
        )
        held = frozenset(PERMISSIONS) - {"portal.self"} if permissions is None else permissions
        actor = Actor(
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            roles=frozenset({"integration"}),
            permissions=held,
            patient_id=patient_id,
            screen="/fhir",
        )
        token = secrets.token_urlsafe(24)
        self.issued[token] = TestAccess(actor, frozenset(scopes.split()), patient_id)
        return token


@pytest.fixture
def tokens(session, monkeypatch) -> Tokens:
    registry = Tokens(session)

    async def bearer_access(request):
        header = request.headers.get("authorization", "")
        return registry.issued.get(header.removeprefix("Bearer ").strip())

    monkeypatch.setattr(fhir_auth, "bearer_access", bearer_access)
    return registry


@pytest.fixture
def api(configured_db):
    with TestClient(build_api(), base_url="http://testserver") as client:
        yield client


def headers(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON, "Accept": FHIR_JSON, **extra}
