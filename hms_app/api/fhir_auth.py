"""The FHIR API's authorization server: SMART Backend Services' token endpoint and discovery.

``ROUTES`` are relative to the ``/fhir`` mount. A client posts a JWT signed with its registered key
(``private_key_jwt``) and gets a short-lived bearer token; ``bearer_access`` turns the token on a
FHIR request back into who is acting and with which scopes. Every answer is JSON with an OAuth
error code (RFC 6749 section 5.2) when refused: never a traceback, never a 500.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hms_app.db import session_scope
from hms_app.services import fhir_clients
from hms_app.services.fhir_clients import FhirAccess, TokenRefused

MAX_FORM_BYTES = 16 * 1024  # an assertion is about 1 KB; anything far larger is not a token request
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# RFC 6749 5.2: a client that failed to authenticate is told 401, every other refusal 400.
STATUS = {"invalid_client": 401}
SUPPORTED_SCOPES = ["system/*.read", "system/*.rs", "system/*.write", "system/*.cud", "system/*.*"]


def _error(code: str, description: str) -> JSONResponse:
    headers = dict(NO_STORE)
    if code == "invalid_client":
        headers["WWW-Authenticate"] = 'Bearer error="invalid_client"'
    return JSONResponse(
        {"error": code, "error_description": description}, status_code=STATUS.get(code, 400), headers=headers
    )


async def _read_form(request: Request) -> dict[str, str] | JSONResponse:
    """The form's fields (each given once), or the refusal to answer with."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return _error("invalid_request", "Send the token request as application/x-www-form-urlencoded.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return _error("invalid_request", f"The request body is larger than {MAX_FORM_BYTES} bytes.")
    body = bytearray()
    try:
        async for chunk in request.stream():  # counted as it arrives: a missing length is no way round
            body.extend(chunk)
            if len(body) > MAX_FORM_BYTES:
                return _error("invalid_request", f"The request body is larger than {MAX_FORM_BYTES} bytes.")
    except ClientDisconnect:
        return _error("invalid_request", "The request body was cut off.")
    try:
        fields = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), max_num_fields=20
        )
    except (UnicodeDecodeError, ValueError):
        return _error("invalid_request", "The request body is not a valid form.")
    repeated = sorted(name for name, values in fields.items() if len(values) > 1)
    if repeated:
        return _error("invalid_request", f"Each parameter may be sent once ({', '.join(repeated)[:80]}).")
    return {name: values[0] for name, values in fields.items()}


async def token_endpoint(request: Request) -> Response:
    form = await _read_form(request)
    if isinstance(form, Response):
        return form
    grant_type = form.get("grant_type", "")
    if not grant_type:
        return _error("invalid_request", "grant_type is missing.")
    if grant_type != "client_credentials":
        return _error("unsupported_grant_type", "Only grant_type=client_credentials is supported.")
    if form.get("client_assertion_type") != fhir_clients.CLIENT_ASSERTION_TYPE:
        return _error(
            "invalid_request", f"client_assertion_type must be {fhir_clients.CLIENT_ASSERTION_TYPE}."
        )
    if not form.get("client_assertion"):
        return _error("invalid_request", "client_assertion is missing.")
    if not form.get("scope", "").strip():
        return _error("invalid_scope", "Ask for at least one scope, like system/Patient.read.")

    def issue():
        with session_scope() as session:
            return fhir_clients.issue_token(
                session,
                client_assertion=form["client_assertion"],
                scope=form["scope"],
                audience=fhir_clients.token_url(),
            )

    try:
        grant = await asyncio.to_thread(issue)
    except TokenRefused as refused:
        return _error(refused.code, str(refused))
    return JSONResponse(
        {
            "access_token": grant.access_token,
            "token_type": "bearer",
            "expires_in": grant.expires_in,
            "scope": grant.scope,
        },
        headers=NO_STORE,
    )


async def smart_configuration(_request: Request) -> Response:
    """SMART App Launch discovery: where and how a backend service gets a token."""
    return JSONResponse(
        {
            "token_endpoint": fhir_clients.token_url(),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(fhir_clients.ALGORITHMS),
            "scopes_supported": SUPPORTED_SCOPES,
            "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
        }
    )


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def bearer_access(request: Request) -> FhirAccess | None:
    """Who the request's ``Authorization: Bearer`` token lets act; None without a live token."""
    token = _bearer_token(request)
    if not token:
        return None
    screen = f"{request.method} {request.url.path}"[:120]

    def resolve():
        with session_scope() as session:
            return fhir_clients.resolve_bearer(session, token=token, screen=screen)

    return await asyncio.to_thread(resolve)


ROUTES = [
    Route("/auth/token", token_endpoint, methods=["POST"]),
    Route("/.well-known/smart-configuration", smart_configuration, methods=["GET"]),
]
