"""Probes of the running production build as an attacker makes them: raw HTTP with forged
origins, socket clients, oversized bodies. The server is tests/production_server.py's, shared
with the browser tests, and so are the browser's settings."""

from tests.e2e.conftest import base_url, browser_type_launch_args  # noqa: F401  (the same browser, same server)
