"""A client's registered keys (a JWKS of public keys) and the check of its signed assertion.

Only RSA (2048 bits or more, for RS384) and EC P-384 (for ES384) public keys are accepted: private
key material pasted by mistake is refused rather than stored, and no shared-secret (``oct``) key
can be registered, so an assertion "signed" with HS256 using the public key as its secret, or
with alg ``none``, has no key that could ever verify it.
"""

from __future__ import annotations

import json
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from hms_app.errors import ValidationError

ALGORITHMS = ("RS384", "ES384")
_KEY_TYPE_OF = {"RS384": "RSA", "ES384": "EC"}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MAX_JWKS_CHARS = 50_000
MAX_KEYS = 10
MIN_RSA_BITS = 2048
MAX_ASSERTION_CHARS = 8_000
EMPTY_JWKS = '{"keys": []}'


def _refuse(message: str) -> ValidationError:
    return ValidationError(message, field="jwks")


def _check_key(index: int, jwk: Any) -> dict:
    where = f"Key {index + 1}"
    if not isinstance(jwk, dict):
        raise _refuse(f"{where} is not a JSON object.")
    if _PRIVATE_MEMBERS & jwk.keys():
        raise _refuse(
            f"{where} holds private key material ({', '.join(sorted(_PRIVATE_MEMBERS & jwk.keys()))}). "
            "Paste only the public keys: the private key stays with the client."
        )
    kty = jwk.get("kty")
    if kty not in ("RSA", "EC"):
        raise _refuse(f"{where}: only RSA and EC (P-384) public keys are accepted, not {str(kty)[:20]!r}.")
    if jwk.get("use", "sig") != "sig":
        raise _refuse(f"{where} is not a signing key (use must be sig).")
    if "alg" in jwk and jwk["alg"] not in ALGORITHMS:
        raise _refuse(f"{where}: alg must be RS384 or ES384, not {str(jwk['alg'])[:20]!r}.")
    if kty == "EC" and jwk.get("crv") != "P-384":
        raise _refuse(f"{where}: an EC key must be on the P-384 curve (ES384).")
    try:
        key = (RSAKey if kty == "RSA" else ECKey).import_key(jwk)
    except (JoseError, ValueError, TypeError) as error:
        raise _refuse(f"{where} is not a valid {kty} public key.") from error
    if key.is_private:
        raise _refuse(f"{where} is a private key. Paste only the public keys.")
    if kty == "RSA" and key.raw_value.key_size < MIN_RSA_BITS:
        raise _refuse(f"{where}: an RSA key must have at least {MIN_RSA_BITS} bits.")
    return {name: value for name, value in jwk.items() if isinstance(name, str)}


def parse_jwks(text: str | None) -> str:
    """The client's public keys as JSON to store, checked; empty text means no keys yet."""
    text = (text or "").strip()
    if not text:
        return EMPTY_JWKS
    if len(text) > MAX_JWKS_CHARS:
        raise _refuse(f"The key set is too long (at most {MAX_JWKS_CHARS} characters).")
    if "PRIVATE KEY" in text:
        raise _refuse("That is a private key. Paste the client's public keys as a JWKS (JSON) instead.")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise _refuse('The keys must be a JWKS in JSON, like {"keys": [{"kty": "RSA", ...}]}.') from error
    if isinstance(data, dict) and "kty" in data:
        data = {"keys": [data]}  # one key pasted on its own
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise _refuse('The keys must be a JWKS in JSON, like {"keys": [{"kty": "RSA", ...}]}.')
    if len(data["keys"]) > MAX_KEYS:
        raise _refuse(f"At most {MAX_KEYS} keys.")
    keys = [_check_key(index, jwk) for index, jwk in enumerate(data["keys"])]
    kids = [key["kid"] for key in keys if "kid" in key]
    if len(kids) != len(set(map(str, kids))):
        raise _refuse("Two keys have the same kid.")
    return json.dumps({"keys": keys}, sort_keys=True)


def key_count(jwks: str) -> int:
    try:
        return len(json.loads(jwks or EMPTY_JWKS).get("keys", []))
    except (ValueError, AttributeError):
        return 0


class AssertionUnreadable(Exception):
    """The assertion is not a compact JWS with a JSON object as its payload."""


def read_unverified(assertion: str) -> tuple[dict, dict]:
    """Header and claims of an assertion, NOT verified: only to find whose keys to verify it with."""
    if not assertion or len(assertion) > MAX_ASSERTION_CHARS or assertion.count(".") != 2:
        raise AssertionUnreadable
    try:
        token = jws.extract_compact(assertion.encode("ascii"))
        claims = json.loads(token.payload)
        header = dict(token.headers())
    except (JoseError, ValueError, UnicodeError, TypeError) as error:
        raise AssertionUnreadable from error
    if not isinstance(claims, dict):
        raise AssertionUnreadable
    return header, claims


def signature_verifies(assertion: str, header: dict, jwks: str) -> bool:
    """Whether one of the client's registered keys (the one named by ``kid``, if named) signed it
    with RS384 or ES384."""
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        return False
    kid = header.get("kid")
    for jwk in json.loads(jwks or EMPTY_JWKS).get("keys", []):
        if jwk.get("kty") != _KEY_TYPE_OF[alg] or (kid is not None and jwk.get("kid") != kid):
            continue
        if jwk.get("alg", alg) != alg:
            continue
        try:
            key = (RSAKey if jwk["kty"] == "RSA" else ECKey).import_key(jwk)
            jws.deserialize_compact(assertion, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError):
            continue
        return True
    return False
