"""Secret keys that must not live in the database.

A key comes from the environment when the operator sets one (several workers or machines must
share it), otherwise from a file in the data directory, created on first use and readable by
the server's user only. Whoever can write the database but not this file cannot forge what the
key seals (the audit chain) or read what it encrypts.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from hms_app.settings import get_settings

KEY_BYTES = 32


class KeyProblem(RuntimeError):
    """A configured key that cannot be used: the server must not start on it."""


def _decode(raw: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw.strip().encode())
    except (binascii.Error, ValueError) as error:
        raise KeyProblem(f"{source} is not a base64 key: {error}") from error
    if len(key) < KEY_BYTES:
        raise KeyProblem(f"{source} holds {len(key)} bytes; a key needs at least {KEY_BYTES}.")
    return key


def new_key_text() -> str:
    """A fresh key as the environment or a key file holds it (url-safe base64)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_path(file_name: str) -> Path:
    return get_settings().data_dir / file_name


def load_key(env_name: str, file_name: str) -> bytes:
    """The key from ``env_name`` if set, else from ``data/<file_name>``, created 0600 if absent."""
    raw = os.environ.get(env_name, "").strip()
    if raw:
        return _decode(raw, env_name)
    path = key_path(file_name)
    if not path.exists():
        _create(path)
    text = path.read_text().strip()
    if not text:
        raise KeyProblem(f"{path} is empty; restore it from your backup of the keys.")
    return _decode(text, str(path))


def _create(path: Path) -> None:
    """Write a new key file whole before it appears under its name: two workers starting
    together link it once, and neither ever reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(new_key_text() + "\n")
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another worker's key won; use it
    finally:
        temporary.unlink()
