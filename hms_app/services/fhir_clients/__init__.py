"""FHIR system clients and their access: registration, keys and scopes (``clients``), the check of
a client's signed assertion (``keys``), SMART scopes (``scopes``) and bearer tokens (``tokens``)."""

from hms_app.services.fhir_clients.clients import (
    ClientRow,
    client_roles,
    list_clients,
    register_client,
    revoke_client_tokens,
    set_client_enabled,
    update_client,
)
from hms_app.services.fhir_clients.keys import ALGORITHMS, parse_jwks
from hms_app.services.fhir_clients.scopes import FhirAccess, Scope, parse_scope, parse_scopes
from hms_app.services.fhir_clients.tokens import (
    CLIENT_ASSERTION_TYPE,
    TOKEN_PATH,
    TokenGrant,
    TokenRefused,
    issue_token,
    issue_token_for_operator,
    live_token_count,
    purge_expired,
    resolve_bearer,
    token_url,
)

__all__ = [
    "ALGORITHMS",
    "CLIENT_ASSERTION_TYPE",
    "TOKEN_PATH",
    "ClientRow",
    "FhirAccess",
    "Scope",
    "TokenGrant",
    "TokenRefused",
    "client_roles",
    "issue_token",
    "issue_token_for_operator",
    "list_clients",
    "live_token_count",
    "parse_jwks",
    "parse_scope",
    "parse_scopes",
    "purge_expired",
    "register_client",
    "resolve_bearer",
    "revoke_client_tokens",
    "set_client_enabled",
    "token_url",
    "update_client",
]
