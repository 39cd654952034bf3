"""Probes of the running production build as an attacker makes them: raw HTTP with forged
origins, socket clients, oversized bodies. The server is tests/production_server.py's, shared
with the browser tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def base_url(app_server: str) -> str:
    return app_server
