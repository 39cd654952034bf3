"""Secrets the server must read back (TOTP secrets), encrypted at rest with Fernet.

The key is ``HMS_SECRET_KEY`` or ``data/secret.key`` (created 0600 on first use, hms_app/keys.py),
never the database: a copy of the database or of a backup holds only ciphertext. Keep the key
with the audit key, away from the backups, and restore it with them on a new machine.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from hms_app.keys import KEY_BYTES, KeyProblem, load_key
from hms_app.settings import get_settings

KEY_ENV, KEY_FILE = "HMS_SECRET_KEY", "secret.key"


@lru_cache(maxsize=4)
def _box_for(data_dir: str, env_value: str) -> Fernet:
    # Cached per data directory and environment value, so tests that switch either get theirs.
    key = load_key(KEY_ENV, KEY_FILE)
    return Fernet(base64.urlsafe_b64encode(key[:KEY_BYTES]))


def secret_box() -> Fernet:
    return _box_for(str(get_settings().data_dir), os.environ.get(KEY_ENV, ""))


def seal_secret(plain: str) -> str:
    """The ciphertext to store for ``plain``."""
    return secret_box().encrypt(plain.encode()).decode()


def open_secret(stored: str) -> str:
    """The plain secret behind ``stored``; a key that does not fit is the operator's problem."""
    try:
        return secret_box().decrypt(stored.encode()).decode()
    except InvalidToken as error:
        raise KeyProblem(
            f"A stored secret does not open with the key from {KEY_ENV} or data/{KEY_FILE}: "
            "restore the key this database was written with."
        ) from error
