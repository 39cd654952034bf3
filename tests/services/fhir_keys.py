"""Keys and signed assertions of a FHIR client, made as a real client would make them (joserfc)."""

from __future__ import annotations

import json
import secrets
import time
from functools import cache

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from hms_app.services.fhir_clients import token_url


@cache
def rsa_key(label: str = "a") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": f"rsa-{label}"})


@cache
def ec_key(label: str = "a") -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": f"ec-{label}"})


def public_jwks(*keys) -> str:
    return json.dumps({"keys": [key.as_dict(private=False) for key in keys]})


def assertion(
    key,
    *,
    client: str,
    alg: str | None = None,
    aud: str | None = None,
    exp_in: float = 240,
    jti: str | None = None,
    **claims,
) -> str:
    """A client assertion signed with ``key`` (RS384 for an RSA key, ES384 for an EC key)."""
    alg = alg or ("RS384" if isinstance(key, RSAKey) else "ES384")
    now = int(time.time())
    body = {
        "iss": client,
        "sub": client,
        "aud": aud or token_url(),
        "exp": now + int(exp_in),
        "jti": secrets.token_hex(12) if jti is None else jti,
        **claims,
    }
    header = {"alg": alg, "typ": "JWT"}
    if key.kid:
        header["kid"] = key.kid
    return jwt.encode(header, body, key, algorithms=[alg])
