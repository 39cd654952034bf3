"""Registering FHIR system clients, their keys and scopes; disabling them; revoking their tokens.

Each client acts as an account of its own (``fhir:<name>``, no password), whose role decides which
HMS permissions its tokens carry. The account is made, enabled and disabled with its client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, FieldErrors, NotFound, ValidationError
from hms_app.models.fhir_access import FhirAccessToken, FhirClient
from hms_app.models.security import AppUser, Role, UserRole
from hms_app.services.audit import record_audit
from hms_app.services.fhir_clients.keys import key_count, parse_jwks
from hms_app.services.fhir_clients.scopes import parse_scopes
from hms_app.services.permissions import PORTAL_ROLES, ROLES, Actor, authorize
from hms_app.services.security import NO_PASSWORD, SERVICE_ACCOUNT_PREFIX

# "fhir:" and the name fit the 60 characters of a username.
NAME_RE = re.compile(r"[A-Za-z0-9._-]{3,55}")
DEFAULT_ROLE = "integration"
# Never a client's: the administrator's would let a token manage accounts; a patient's needs a person.
FORBIDDEN_ROLES = frozenset({"admin"}) | PORTAL_ROLES


@dataclass(frozen=True)
class ClientRow:
    id: int
    name: str
    description: str
    role: str
    allowed_scopes: str
    enabled: bool
    keys: int
    live_tokens: int
    last_token_at: datetime | None
    created_at: datetime


def client_roles() -> dict[str, str]:
    """The roles a client may be registered with: id -> label."""
    return {name: label for name, label in ROLES.items() if name not in FORBIDDEN_ROLES}


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.fullmatch(name):
        raise ValidationError(
            "The client name must be 3 to 55 characters: letters, digits, dots, dashes or underscores.",
            field="name",
        )
    return name


def check_role(role: str) -> str:
    role = (role or DEFAULT_ROLE).strip()
    if role in FORBIDDEN_ROLES:
        raise ValidationError(
            "A FHIR client cannot hold the administrator or patient role; choose a staff role.", field="role"
        )
    if role not in ROLES:
        raise ValidationError(f"There is no role called {role[:40]!r}.", field="role")
    return role


def check_allowed_scopes(text: str) -> str:
    return " ".join(scope.text for scope in parse_scopes(text))


def check_description(text: str) -> str:
    text = (text or "").strip()
    if len(text) > 300:
        raise ValidationError("The description must be at most 300 characters.", field="description")
    return text


def require_client(session: Session, client_id: int, *, lock: bool = False) -> FhirClient:
    query = select(FhirClient).where(FhirClient.id == client_id)
    if lock:
        query = query.with_for_update()
    client = session.execute(query).scalar_one_or_none()
    if client is None:
        raise NotFound("That FHIR client does not exist.")
    return client


def _set_role(session: Session, user_id: int, role: str) -> None:
    role_id = session.execute(select(Role.id).where(Role.name == role)).scalar_one_or_none()
    if role_id is None:
        raise ValidationError(f"The role {role!r} has not been created in this database.", field="role")
    session.execute(delete(UserRole).where(UserRole.user_id == user_id))
    session.add(UserRole(user_id=user_id, role_id=role_id))


def create_client(
    session: Session,
    *,
    actor: Actor,
    name: str,
    description: str = "",
    role: str = DEFAULT_ROLE,
    allowed_scopes: str,
    jwks: str = "",
) -> FhirClient:
    """Validate and add a client with its account, audited; the caller commits."""
    authorize(actor, "fhir.client.manage")
    errors = FieldErrors()  # every field's message at once
    name = errors.check(check_name, name)
    description = errors.check(check_description, description)
    role = errors.check(check_role, role)
    allowed = errors.check(check_allowed_scopes, allowed_scopes)
    keys = errors.check(parse_jwks, jwks)
    errors.raise_any()
    username = SERVICE_ACCOUNT_PREFIX + name.lower()
    taken = (
        session.execute(select(FhirClient.id).where(func.lower(FhirClient.name) == name.lower())).first()
        or session.execute(select(AppUser.id).where(AppUser.username == username)).first()
    )
    if taken:
        raise Conflict(f"There is already a FHIR client called {name!r}.", field="name")
    user = AppUser(username=username, display_name=f"FHIR client {name}"[:120], password_hash=NO_PASSWORD)
    session.add(user)
    session.flush()
    _set_role(session, user.id, role)
    client = FhirClient(
        name=name,
        description=description,
        service_user_id=user.id,
        jwks=keys,
        allowed_scopes=allowed,
        created_by=actor.user_id or None,  # the command line's system actor has no account
    )
    session.add(client)
    session.flush()
    record_audit(
        session,
        actor,
        "fhir.client.register",
        target_type="fhir_client",
        target_id=client.id,
        detail=f"{name} role={role} scopes={allowed} keys={key_count(keys)}",
    )
    return client


def register_client(
    session: Session,
    *,
    actor: Actor,
    name: str,
    description: str = "",
    role: str = DEFAULT_ROLE,
    allowed_scopes: str,
    jwks: str = "",
) -> int:
    """Register a system client (its name is its OAuth client_id); its id."""
    client = create_client(
        session,
        actor=actor,
        name=name,
        description=description,
        role=role,
        allowed_scopes=allowed_scopes,
        jwks=jwks,
    )
    session.commit()
    return client.id


def update_client(
    session: Session,
    *,
    actor: Actor,
    client_id: int,
    description: str | None = None,
    role: str | None = None,
    allowed_scopes: str | None = None,
    jwks: str | None = None,
) -> None:
    """Change a client's description, role, allowed scopes or keys (None leaves one as it is)."""
    authorize(actor, "fhir.client.manage")
    client = require_client(session, client_id, lock=True)
    errors = FieldErrors()
    changes = []
    if description is not None:
        client.description = errors.check(check_description, description) or ""
        changes.append("description")
    if role is not None:
        role = errors.check(check_role, role)
        changes.append(f"role={role}")
    if allowed_scopes is not None:
        client.allowed_scopes = errors.check(check_allowed_scopes, allowed_scopes) or ""
        changes.append(f"scopes={client.allowed_scopes}")
    if jwks is not None:
        client.jwks = errors.check(parse_jwks, jwks) or ""
        changes.append(f"keys={key_count(client.jwks)}")
    errors.raise_any()
    if not changes:
        return
    if role is not None:
        _set_role(session, client.service_user_id, role)
    session.add(client)
    record_audit(
        session,
        actor,
        "fhir.client.update",
        target_type="fhir_client",
        target_id=client.id,
        detail=f"{client.name}: {' '.join(changes)}",
    )
    session.commit()


def _revoke_tokens(session: Session, client_id: int) -> int:
    now = utcnow()
    result = session.execute(
        update(FhirAccessToken)
        .where(
            FhirAccessToken.client_id == client_id,
            FhirAccessToken.revoked_at.is_(None),
            FhirAccessToken.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return result.rowcount or 0


def set_client_enabled(session: Session, *, actor: Actor, client_id: int, enabled: bool) -> None:
    """Enable or disable a client; disabling ends its live tokens at once."""
    authorize(actor, "fhir.client.manage")
    client = require_client(session, client_id, lock=True)
    if client.enabled == enabled:
        return
    client.enabled = enabled
    client.revoked_at = None if enabled else utcnow()
    session.execute(update(AppUser).where(AppUser.id == client.service_user_id).values(is_active=enabled))
    ended = 0 if enabled else _revoke_tokens(session, client.id)
    session.add(client)
    record_audit(
        session,
        actor,
        "fhir.client.enable" if enabled else "fhir.client.disable",
        target_type="fhir_client",
        target_id=client.id,
        detail=client.name if enabled else f"{client.name}: {ended} live tokens revoked",
    )
    session.commit()


def revoke_client_tokens(session: Session, *, actor: Actor, client_id: int) -> int:
    """End every live token of a client at once; how many were live."""
    authorize(actor, "fhir.client.manage")
    client = require_client(session, client_id)
    ended = _revoke_tokens(session, client.id)
    record_audit(
        session,
        actor,
        "fhir.token.revoke",
        target_type="fhir_client",
        target_id=client.id,
        detail=f"{client.name}: {ended} live tokens revoked",
    )
    session.commit()
    return ended


def list_clients(session: Session, *, actor: Actor) -> list[ClientRow]:
    """Every registered client with its role, key count and tokens, by name."""
    authorize(actor, "fhir.client.manage")
    now = utcnow()
    live = (
        select(FhirAccessToken.client_id, func.count().label("live"))
        .where(FhirAccessToken.revoked_at.is_(None), FhirAccessToken.expires_at > now)
        .group_by(FhirAccessToken.client_id)
        .subquery()
    )
    role = (
        select(UserRole.user_id, func.min(Role.name).label("role"))
        .join(Role, Role.id == UserRole.role_id)
        .group_by(UserRole.user_id)
        .subquery()
    )
    rows = session.execute(
        select(FhirClient, role.c.role, live.c.live)
        .outerjoin(role, role.c.user_id == FhirClient.service_user_id)
        .outerjoin(live, live.c.client_id == FhirClient.id)
        .order_by(FhirClient.name)
    ).all()
    return [
        ClientRow(
            id=client.id,
            name=client.name,
            description=client.description,
            role=role_name or "",
            allowed_scopes=client.allowed_scopes,
            enabled=client.enabled,
            keys=key_count(client.jwks),
            live_tokens=live_count or 0,
            last_token_at=client.last_token_at,
            created_at=client.created_at,
        )
        for client, role_name, live_count in rows
    ]
