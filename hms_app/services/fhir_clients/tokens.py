"""Bearer tokens for FHIR clients: issued for a signed assertion (SMART Backend Services,
``private_key_jwt``) or by the operator's command line, and resolved back to who is acting.

A token is 32 random bytes shown once; only its SHA-256 is stored. Every issuance and every
refusal is audited, under the client's account when the client is known.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import DomainError, NotFound, ValidationError
from hms_app.models.fhir_access import FhirAccessToken, FhirClient, FhirUsedAssertion
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser
from hms_app.services.audit import record_audit
from hms_app.services.fhir_clients.clients import create_client
from hms_app.services.fhir_clients.keys import (
    ALGORITHMS,
    AssertionUnreadable,
    read_unverified,
    signature_verifies,
)
from hms_app.services.fhir_clients.scopes import FhirAccess, Scope, grantable, parse_scopes
from hms_app.services.permissions import SYSTEM_ACTOR, Actor, authorize
from hms_app.services.security import SERVICE_ACCOUNT_PREFIX, _permissions_of, _roles_of
from hms_app.settings import get_settings

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_PATH = "/fhir/auth/token"
MAX_ASSERTION_LIFETIME = timedelta(minutes=5)  # SMART: exp no more than five minutes ahead
CLOCK_SKEW = timedelta(seconds=30)
MAX_TOKEN_CHARS = 200


class TokenRefused(DomainError):
    """A token request refused; ``code`` is the OAuth 2.0 error (RFC 6749 section 5.2)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_at: datetime
    expires_in: int  # seconds
    scope: str  # the granted scopes, space-separated
    client_name: str
    patient_id: int | None = None


def token_url() -> str:
    """Where clients ask for tokens; their assertions must name it as their audience."""
    return get_settings().public_url + TOKEN_PATH


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_actor(
    session: Session, client: FhirClient, *, patient_id: int | None, screen: str | None
) -> Actor:
    """The client's own account as an actor: its roles' permissions, as the database says now."""
    user = session.get(AppUser, client.service_user_id)
    roles = _roles_of(session, user.id)
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=frozenset(r.name for r in roles),
        permissions=_permissions_of(session, [r.id for r in roles]),
        patient_id=patient_id,
        screen=screen,
    )


def _new_token(
    session: Session, client: FhirClient, scopes: tuple[Scope, ...], patient_id: int | None
) -> TokenGrant:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = timedelta(minutes=get_settings().fhir_token_minutes)
    scope_text = " ".join(scope.text for scope in scopes)
    session.add(
        FhirAccessToken(
            token_hash=_hash(token),
            client_id=client.id,
            scopes=scope_text,
            patient_id=patient_id,
            issued_at=now,
            expires_at=now + lifetime,
        )
    )
    client.last_token_at = now
    session.add(client)
    return TokenGrant(
        token, now + lifetime, int(lifetime.total_seconds()), scope_text, client.name, patient_id
    )


def _refuse(
    session: Session, code: str, message: str, *, actor: Actor | None = None, claimed: str = ""
) -> TokenRefused:
    """Audit a refused token request (and keep what was written with it), then the error to raise."""
    record_audit(
        session,
        actor,
        "fhir.token.issue",
        target_type="fhir_client",
        target_id=claimed[:80] or None,
        outcome="failure",
        detail=f"{code}: {message}",
        username=(SERVICE_ACCOUNT_PREFIX + claimed)[:60] if claimed else "anonymous",
    )
    session.commit()
    return TokenRefused(code, message)


def _claim_jti(session: Session, client: FhirClient, jti: str, expires_at: datetime) -> bool:
    """Record the assertion as spent; False if it already was (a replay). Never fails the
    transaction, so the refusal can still be audited in it."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = session.execute(
        insert(FhirUsedAssertion)
        .values(client_id=client.id, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["client_id", "jti"])
        .returning(FhirUsedAssertion.id)
    ).first()
    return inserted is not None


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def issue_token(session: Session, *, client_assertion: str, scope: str, audience: str) -> TokenGrant:
    """Exchange a client's signed assertion for a bearer token with the scopes it may have."""
    try:
        header, claims = read_unverified(client_assertion or "")
    except AssertionUnreadable:
        raise _refuse(session, "invalid_client", "The client assertion is not a signed JWT.") from None
    iss, sub = claims.get("iss"), claims.get("sub")
    claimed = iss if isinstance(iss, str) else ""
    if header.get("alg") not in ALGORITHMS:
        raise _refuse(
            session,
            "invalid_client",
            f"The assertion must be signed with {' or '.join(ALGORITHMS)}, not {str(header.get('alg'))[:20]!r}.",
            claimed=claimed,
        )
    if not claimed or iss != sub:
        raise _refuse(
            session, "invalid_client", "The assertion's iss and sub must both be the client's name."
        )
    client = session.execute(select(FhirClient).where(FhirClient.name == claimed)).scalar_one_or_none()
    if client is None:
        raise _refuse(session, "invalid_client", "Unknown client.", claimed=claimed)
    actor = client_actor(session, client, patient_id=None, screen=TOKEN_PATH)
    if not client.enabled:
        raise _refuse(session, "invalid_client", "This client is disabled.", actor=actor, claimed=claimed)
    if not signature_verifies(client_assertion, header, client.jwks):
        raise _refuse(
            session,
            "invalid_client",
            "The assertion's signature does not match a key registered for this client.",
            actor=actor,
            claimed=claimed,
        )
    aud = claims.get("aud")
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise _refuse(
            session,
            "invalid_client",
            f"The assertion's aud must be {audience}.",
            actor=actor,
            claimed=claimed,
        )
    now = utcnow()
    exp = _number(claims.get("exp"))
    if exp is None:
        raise _refuse(session, "invalid_client", "The assertion has no exp.", actor=actor, claimed=claimed)
    expires = datetime.fromtimestamp(min(exp, 32503680000), UTC)
    if expires <= now - CLOCK_SKEW:
        raise _refuse(session, "invalid_client", "The assertion has expired.", actor=actor, claimed=claimed)
    if expires > now + MAX_ASSERTION_LIFETIME + CLOCK_SKEW:
        raise _refuse(
            session,
            "invalid_client",
            "The assertion's exp must be at most five minutes ahead.",
            actor=actor,
            claimed=claimed,
        )
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 1 <= len(jti) <= 255:
        raise _refuse(
            session,
            "invalid_client",
            "The assertion needs a jti of 1 to 255 characters.",
            actor=actor,
            claimed=claimed,
        )
    if not _claim_jti(session, client, jti, expires):
        raise _refuse(
            session,
            "invalid_client",
            "This assertion was used already (its jti).",
            actor=actor,
            claimed=claimed,
        )
    try:
        requested = parse_scopes(scope)
    except ValidationError as error:
        raise _refuse(session, "invalid_scope", str(error), actor=actor, claimed=claimed) from None
    granted = tuple(
        s for s in grantable(requested, parse_scopes(client.allowed_scopes)) if s.context == "system"
    )
    if not granted:
        raise _refuse(
            session,
            "invalid_scope",
            "None of the requested scopes is allowed for this client (patient/ scopes need a patient "
            "and are issued by an operator).",
            actor=actor,
            claimed=claimed,
        )
    grant = _new_token(session, client, granted, None)
    record_audit(
        session,
        actor,
        "fhir.token.issue",
        target_type="fhir_client",
        target_id=client.id,
        detail=f"scopes={grant.scope} expires={grant.expires_at.isoformat(timespec='seconds')}",
    )
    session.commit()
    return grant


def issue_token_for_operator(
    session: Session, *, client_name: str, scope: str, patient_mrn: str | None = None
) -> TokenGrant:
    """For the command line: a token for ``client_name`` (registered now if it is new, allowed
    exactly the scopes asked for); with ``patient_mrn``, a token bound to that patient."""
    actor = replace(SYSTEM_ACTOR, screen="hms fhir token")
    authorize(actor, "fhir.client.manage")
    requested = parse_scopes(scope)
    patient_id = None
    if patient_mrn is not None:
        patient = session.execute(
            select(Patient).where(Patient.mrn == (patient_mrn or "").strip().upper())
        ).scalar_one_or_none()
        if patient is None:
            raise NotFound(f"There is no patient with MRN {patient_mrn[:20]!r}.")
        patient_id = patient.merged_into_id or patient.id  # a merged record's survivor
        if any(s.context != "patient" for s in requested):
            raise ValidationError("A token for one patient takes patient/ scopes only.", field="scope")
    elif any(s.context != "system" for s in requested):
        raise ValidationError("patient/ scopes need a patient: add --patient MRN.", field="scope")
    client = session.execute(select(FhirClient).where(FhirClient.name == client_name)).scalar_one_or_none()
    if client is None:
        client = create_client(session, actor=actor, name=client_name, allowed_scopes=scope)
    if not client.enabled:
        raise DomainError(f"The FHIR client {client.name!r} is disabled.")
    missing = [s.text for s in requested if s not in grantable((s,), parse_scopes(client.allowed_scopes))]
    if missing:
        raise ValidationError(
            f"Not among the scopes {client.name!r} is allowed: {' '.join(missing)}. "
            "Change its allowed scopes on the FHIR clients screen.",
            field="scope",
        )
    grant = _new_token(session, client, requested, patient_id)
    record_audit(
        session,
        actor,
        "fhir.token.issue",
        patient_id=patient_id,
        target_type="fhir_client",
        target_id=client.id,
        detail=f"{client.name} scopes={grant.scope} by the operator",
    )
    session.commit()
    return grant


def resolve_bearer(session: Session, *, token: str, screen: str) -> FhirAccess | None:
    """Who a bearer token lets act, and within which scopes; None for a token that is unknown,
    expired or revoked, or whose client is disabled. Scopes the client is no longer allowed
    (an administrator narrowed them) stop counting at once, and so do withdrawn permissions."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    row = session.execute(
        select(FhirAccessToken).where(FhirAccessToken.token_hash == _hash(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    client = session.get(FhirClient, row.client_id)
    if client is None or not client.enabled:
        return None
    user = session.get(AppUser, client.service_user_id)
    if user is None or not user.is_active:
        return None
    allowed = parse_scopes(client.allowed_scopes) if client.allowed_scopes.strip() else ()
    scopes = grantable(parse_scopes(row.scopes), allowed) if row.scopes.strip() else ()
    actor = client_actor(session, client, patient_id=row.patient_id, screen=screen[:120])
    return FhirAccess(
        actor=actor,
        client_name=client.name,
        scopes=frozenset(s.text for s in scopes),
        patient_id=row.patient_id,
    )


def purge_expired(session: Session, *, actor: Actor) -> dict[str, int]:
    """A periodic job: forget tokens an hour after they expired and spent assertions once expired."""
    authorize(actor, "fhir.client.manage")
    now = utcnow()
    tokens = session.execute(
        delete(FhirAccessToken).where(FhirAccessToken.expires_at < now - timedelta(hours=1))
    )
    spent = session.execute(delete(FhirUsedAssertion).where(FhirUsedAssertion.expires_at < now - CLOCK_SKEW))
    session.commit()
    return {"tokens": tokens.rowcount or 0, "assertions": spent.rowcount or 0}


def live_token_count(session: Session, client_id: int) -> int:
    return session.execute(
        select(func.count())
        .select_from(FhirAccessToken)
        .where(
            FhirAccessToken.client_id == client_id,
            FhirAccessToken.revoked_at.is_(None),
            FhirAccessToken.expires_at > utcnow(),
        )
    ).scalar_one()
