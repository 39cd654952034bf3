"""FHIR clients and their tokens, as an administrator, a client and an attacker would see them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hms_app.clock import held_at, utcnow
from hms_app.errors import Conflict, DomainError, Forbidden, InvalidFields, ValidationError
from hms_app.models.fhir_access import FhirAccessToken, FhirClient
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services import accounts, fhir_clients, patients, security
from hms_app.services.fhir_clients import TokenRefused, issue_token, resolve_bearer, token_url
from hms_app.services.permissions import SYSTEM_ACTOR
from tests.services.fhir_keys import assertion, ec_key, public_jwks, rsa_key

SCOPES = "system/Patient.read system/Observation.rs"


@pytest.fixture
def client(session):
    """A client registered by an administrator with an RSA and an EC public key."""
    accounts.ensure_roles(session)
    fhir_clients.register_client(
        session,
        actor=SYSTEM_ACTOR,
        name="lab-sync",
        description="The regional lab's results feed",
        allowed_scopes=SCOPES,
        jwks=public_jwks(rsa_key(), ec_key()),
    )
    return "lab-sync"


def _issue(session, key, *, scope=SCOPES, **claims):
    return issue_token(
        session,
        client_assertion=assertion(key, client="lab-sync", **claims),
        scope=scope,
        audience=token_url(),
    )


def _last_audit(session) -> AuditEvent:
    return session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()


def _refused(session, code: str, says: str, call) -> AuditEvent:
    with pytest.raises(TokenRefused, match=says) as raised:
        call()
    assert raised.value.code == code
    row = _last_audit(session)
    assert (row.action, row.outcome) == ("fhir.token.issue", "failure")
    assert row.detail.startswith(f"{code}: ")
    return row


@pytest.mark.parametrize("key", [rsa_key, ec_key], ids=["RS384", "ES384"])
def test_a_signed_assertion_gets_a_token_that_resolves_to_the_clients_account(session, client, key):
    grant = _issue(session, key())
    assert grant.scope == SCOPES and grant.expires_in == 300
    stored = session.execute(select(FhirAccessToken)).scalar_one()
    assert stored.token_hash != grant.access_token and grant.access_token not in stored.token_hash
    access = resolve_bearer(session, token=grant.access_token, screen="GET /fhir/Patient/1")
    assert access.client_name == "lab-sync" and access.patient_id is None
    assert access.scopes == frozenset(SCOPES.split())
    assert access.actor.username == "fhir:lab-sync" and access.actor.roles == {"integration"}
    assert {"patient.read", "lab.read"} <= access.actor.permissions
    assert "patient.write" not in access.actor.permissions and "user.manage" not in access.actor.permissions
    assert access.actor.screen == "GET /fhir/Patient/1"
    assert access.allows("Patient", "read") and not access.allows("Patient", "write")
    row = _last_audit(session)
    assert (row.action, row.outcome, row.username, row.screen) == (
        "fhir.token.issue",
        "success",
        "fhir:lab-sync",
        "/fhir/auth/token",
    )


def test_only_the_allowed_part_of_the_requested_scopes_is_granted(session, client):
    grant = _issue(session, rsa_key(), scope="system/Patient.read system/Patient.write system/Condition.read")
    assert grant.scope == "system/Patient.read"
    _refused(
        session,
        "invalid_scope",
        "None of the requested scopes",
        lambda: _issue(session, rsa_key(), scope="system/Patient.write"),
    )
    _refused(
        session, "invalid_scope", "not a SMART scope", lambda: _issue(session, rsa_key(), scope="openid")
    )


def test_refusals_of_bad_assertions_are_audited_and_say_why(session, client):
    other = rsa_key("stranger")
    _refused(session, "invalid_client", "does not match a key", lambda: _issue(session, other))
    _refused(
        session,
        "invalid_client",
        "aud must be",
        lambda: _issue(session, rsa_key(), aud="https://elsewhere/token"),
    )
    _refused(session, "invalid_client", "has expired", lambda: _issue(session, rsa_key(), exp_in=-120))
    _refused(
        session, "invalid_client", "at most five minutes", lambda: _issue(session, rsa_key(), exp_in=3600)
    )
    _refused(session, "invalid_client", "jti", lambda: _issue(session, rsa_key(), jti=""))
    row = _refused(
        session,
        "invalid_client",
        "Unknown client",
        lambda: issue_token(
            session,
            client_assertion=assertion(rsa_key(), client="nobody"),
            scope=SCOPES,
            audience=token_url(),
        ),
    )
    assert row.username == "fhir:nobody"
    _refused(
        session,
        "invalid_client",
        "iss and sub",
        lambda: issue_token(
            session,
            client_assertion=assertion(rsa_key(), client="lab-sync", sub="someone-else"),
            scope=SCOPES,
            audience=token_url(),
        ),
    )
    for garbage in ("", "not-a-jwt", "a.b.c", "x" * 9000):
        _refused(
            session,
            "invalid_client",
            "not a signed JWT",
            lambda g=garbage: issue_token(session, client_assertion=g, scope=SCOPES, audience=token_url()),
        )
    assert session.execute(select(FhirAccessToken)).first() is None


def test_a_replayed_assertion_is_refused(session, client):
    signed = assertion(rsa_key(), client="lab-sync", jti="once-only")
    issue_token(session, client_assertion=signed, scope=SCOPES, audience=token_url())
    _refused(
        session,
        "invalid_client",
        "used already",
        lambda: issue_token(session, client_assertion=signed, scope=SCOPES, audience=token_url()),
    )


def _unsigned(header: dict, claims: dict) -> str:
    def part(data) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def test_an_attacker_cannot_sign_with_alg_none_or_with_the_public_key_as_an_hmac_secret(session, client):
    claims = {"iss": "lab-sync", "sub": "lab-sync", "aud": token_url(), "exp": int(utcnow().timestamp()) + 60}
    _refused(
        session,
        "invalid_client",
        "must be signed with RS384 or ES384",
        lambda: issue_token(
            session,
            client_assertion=_unsigned({"alg": "none"}, {**claims, "jti": "n"}),
            scope=SCOPES,
            audience=token_url(),
        ),
    )
    # The registered public key, used as an HMAC secret: the classic algorithm-confusion attack.
    # joserfc itself refuses to use a public key as an HMAC secret, so the attacker signs by hand.
    pem = rsa_key().as_pem(private=False)
    signing_input = _unsigned({"alg": "HS256", "kid": "rsa-a"}, {**claims, "jti": "h"}).rstrip(".")
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    _refused(
        session,
        "invalid_client",
        "must be signed with RS384 or ES384",
        lambda: issue_token(session, client_assertion=forged, scope=SCOPES, audience=token_url()),
    )
    # Claiming RS384 over an HMAC signature does not help either.
    header, body, signature = forged.split(".")
    relabelled = (
        _unsigned({"alg": "RS384", "kid": "rsa-a"}, {**claims, "jti": "r"}).rstrip(".") + "." + signature
    )
    _refused(
        session,
        "invalid_client",
        "does not match a key",
        lambda: issue_token(session, client_assertion=relabelled, scope=SCOPES, audience=token_url()),
    )


def test_a_disabled_client_gets_no_token_and_its_live_tokens_stop_at_once(session, client):
    grant = _issue(session, rsa_key())
    client_id = session.execute(select(FhirClient.id)).scalar_one()
    fhir_clients.set_client_enabled(session, actor=SYSTEM_ACTOR, client_id=client_id, enabled=False)
    assert resolve_bearer(session, token=grant.access_token, screen="x") is None
    _refused(session, "invalid_client", "disabled", lambda: _issue(session, rsa_key()))
    fhir_clients.set_client_enabled(session, actor=SYSTEM_ACTOR, client_id=client_id, enabled=True)
    # Disabling revoked it: enabling the client again does not bring an old token back.
    assert resolve_bearer(session, token=grant.access_token, screen="x") is None
    assert resolve_bearer(session, token=_issue(session, rsa_key()).access_token, screen="x") is not None


def test_expired_revoked_and_unknown_tokens_resolve_to_nobody(session, client):
    grant = _issue(session, ec_key())
    assert resolve_bearer(session, token=grant.access_token + "x", screen="x") is None
    assert resolve_bearer(session, token="", screen="x") is None
    with held_at(utcnow() + timedelta(minutes=5, seconds=1)):
        assert resolve_bearer(session, token=grant.access_token, screen="x") is None
    client_id = session.execute(select(FhirClient.id)).scalar_one()
    assert fhir_clients.revoke_client_tokens(session, actor=SYSTEM_ACTOR, client_id=client_id) == 1
    assert resolve_bearer(session, token=grant.access_token, screen="x") is None
    assert _last_audit(session).detail == "lab-sync: 1 live tokens revoked"


def test_narrowing_a_clients_scopes_narrows_its_live_tokens(session, client):
    grant = _issue(session, rsa_key())
    client_id = session.execute(select(FhirClient.id)).scalar_one()
    fhir_clients.update_client(
        session, actor=SYSTEM_ACTOR, client_id=client_id, allowed_scopes="system/Patient.read"
    )
    access = resolve_bearer(session, token=grant.access_token, screen="x")
    assert access.scopes == {"system/Patient.read"}


def test_registration_validates_every_field_and_refuses_private_keys(session):
    accounts.ensure_roles(session)
    with pytest.raises(InvalidFields) as raised:
        fhir_clients.register_client(
            session, actor=SYSTEM_ACTOR, name="x!", role="admin", allowed_scopes="user/*.read", jwks="{"
        )
    assert set(raised.value.errors) == {"name", "role", "scope", "jwks"}
    private = json.dumps({"keys": [rsa_key().as_dict(private=True)]})
    with pytest.raises(ValidationError, match="private key material"):
        fhir_clients.register_client(
            session, actor=SYSTEM_ACTOR, name="leaky", allowed_scopes=SCOPES, jwks=private
        )
    with pytest.raises(ValidationError, match="private key"):
        fhir_clients.register_client(
            session,
            actor=SYSTEM_ACTOR,
            name="leaky",
            allowed_scopes=SCOPES,
            jwks=rsa_key().as_pem(private=True).decode(),
        )
    secret = json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})
    with pytest.raises(ValidationError, match="private key material|only RSA and EC"):
        fhir_clients.register_client(
            session, actor=SYSTEM_ACTOR, name="leaky", allowed_scopes=SCOPES, jwks=secret
        )
    p256 = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]})
    with pytest.raises(ValidationError, match="P-384"):
        fhir_clients.register_client(
            session, actor=SYSTEM_ACTOR, name="leaky", allowed_scopes=SCOPES, jwks=p256
        )
    assert session.execute(select(FhirClient)).first() is None
    fhir_clients.register_client(session, actor=SYSTEM_ACTOR, name="Lab-Sync", allowed_scopes=SCOPES)
    with pytest.raises(Conflict):
        fhir_clients.register_client(session, actor=SYSTEM_ACTOR, name="lab-sync", allowed_scopes=SCOPES)


def _staff(session, username: str, roles: list[str]):
    accounts.ensure_roles(session)
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username=username,
        display_name=username,
        password="Ward-round-42",
        roles=roles,
    )
    token = security.sign_in(session, username=username, password="Ward-round-42").token
    return security.resolve_session(session, token=token, screen="/admin/fhir-clients")


def test_only_a_holder_of_fhir_client_manage_manages_clients(session, client):
    nurse = _staff(session, "nina", ["nurse"])
    client_id = session.execute(select(FhirClient.id)).scalar_one()
    for call in (
        lambda: fhir_clients.list_clients(session, actor=nurse),
        lambda: fhir_clients.register_client(session, actor=nurse, name="mine", allowed_scopes=SCOPES),
        lambda: fhir_clients.set_client_enabled(session, actor=nurse, client_id=client_id, enabled=False),
        lambda: fhir_clients.revoke_client_tokens(session, actor=nurse, client_id=client_id),
        lambda: fhir_clients.update_client(
            session, actor=nurse, client_id=client_id, allowed_scopes="system/*.*"
        ),
    ):
        with pytest.raises(Forbidden):
            call()
    admin = _staff(session, "ada", ["admin"])
    [row] = fhir_clients.list_clients(session, actor=admin)
    assert (row.name, row.role, row.keys, row.enabled, row.live_tokens) == (
        "lab-sync",
        "integration",
        2,
        True,
        0,
    )


def test_a_clients_account_can_never_sign_in_on_the_screens(session, client):
    for guess in (security.NO_PASSWORD, "anything-at-all-1"):
        with pytest.raises(DomainError, match="Wrong username or password"):
            security.sign_in(session, username="fhir:lab-sync", password=guess)
    user_id = session.execute(select(AppUser.id).where(AppUser.username == "fhir:lab-sync")).scalar_one()
    # Even a real password hash written behind the services' back does not open the screens.
    session.execute(
        update(AppUser)
        .where(AppUser.id == user_id)
        .values(password_hash=security.hash_password("Ward-round-42"))
    )
    session.commit()
    with pytest.raises(DomainError, match="Wrong username or password"):
        security.sign_in(session, username="fhir:lab-sync", password="Ward-round-42")
    # Nor can an administrator give it a password (or another role) on the users screen.
    with pytest.raises(Forbidden, match="FHIR clients screen"):
        accounts.reset_password(session, actor=SYSTEM_ACTOR, user_id=user_id, new_password="Ward-round-42")
    with pytest.raises(Forbidden, match="FHIR clients screen"):
        accounts.set_user_roles(session, actor=SYSTEM_ACTOR, user_id=user_id, roles=["admin"])


def test_the_operator_gets_a_token_registering_the_client_and_may_bind_it_to_a_patient(session):
    accounts.ensure_roles(session)
    grant = fhir_clients.issue_token_for_operator(session, client_name="ops-test", scope="system/*.read")
    access = resolve_bearer(session, token=grant.access_token, screen="x")
    assert access.actor.roles == {"integration"} and access.allows("Condition", "read")
    row = _last_audit(session)
    assert (row.action, row.username, row.screen) == ("fhir.token.issue", "system", "hms fhir token")
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Pat", "family_name": "Own", "sex": "female", "birth_date": "1980-01-02"},
    )
    bound = fhir_clients.issue_token_for_operator(
        session, client_name="portal-app", scope="patient/*.read", patient_mrn=patient.mrn
    )
    access = resolve_bearer(session, token=bound.access_token, screen="x")
    assert access.patient_id == patient.id and access.actor.patient_id == patient.id
    assert access.allows("Observation", "read") and not access.allows("Observation", "write")
    assert _last_audit(session).patient_id == patient.id
    with pytest.raises(ValidationError, match="--patient"):
        fhir_clients.issue_token_for_operator(session, client_name="portal-app", scope="patient/*.read")
    with pytest.raises(ValidationError, match="patient/ scopes only"):
        fhir_clients.issue_token_for_operator(
            session, client_name="portal-app", scope="system/*.read", patient_mrn=patient.mrn
        )
    with pytest.raises(ValidationError, match="Not among the scopes"):
        fhir_clients.issue_token_for_operator(session, client_name="ops-test", scope="system/*.write")


def test_the_purge_forgets_long_expired_tokens_and_spent_assertions(session, client):
    _issue(session, rsa_key())
    with held_at(utcnow() + timedelta(hours=2)):
        assert fhir_clients.purge_expired(session, actor=SYSTEM_ACTOR) == {"tokens": 1, "assertions": 1}
    [row] = fhir_clients.list_clients(session, actor=SYSTEM_ACTOR)
    assert row.last_token_at is not None  # the screen still says when it last had one
