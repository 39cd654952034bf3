"""The production build, started once per test run and shared by every suite that needs it.

The server is `hms serve` exactly as `make run` starts it (migrations, demo seed,
`reflex run --env prod --single-port`), on a fresh SQLite database in a temporary data
directory, so the tests see what a new user on a fresh machine sees. Registered with
`pytest_plugins` in tests/conftest.py: tests/e2e (the browser) and tests/security (an
attacker's raw HTTP and socket clients) talk to the same server, which starts only when a
test asks for `hms_server`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DEMO_PASSWORD = "HmsDemo2026!"
START_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path
    log: Path

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'hms.db'}"

    def env(self) -> dict[str, str]:
        """The server's environment: its data directory, SQLite inside it, tools on PATH."""
        env = dict(os.environ)
        env.pop("HMS_DATABASE_URL", None)
        env["HMS_DATA_DIR"] = str(self.data_dir)
        return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(data_dir: Path) -> dict[str, str]:
    """Pass the caller's environment through; fill in only what a bare `pytest` lacks."""
    env = dict(os.environ)
    env.pop("HMS_DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env["HMS_DATA_DIR"] = str(data_dir)
    # The probes play one reverse proxy in front of HMS (tests/security/test_enumeration_probes.py):
    # a request without X-Forwarded-For (the browser tests) still counts its peer's address.
    env.setdefault("HMS_TRUSTED_PROXY_HOPS", "1")
    bun_bin = PROJECT_ROOT / ".tools" / "bun" / "node_modules" / ".bin"
    path = [str(VENV_BIN)] + ([str(bun_bin)] if bun_bin.is_dir() else []) + [env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    env.setdefault("REFLEX_CHECK_LATEST_VERSION", "0")
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    if not env.get("NPM_CONFIG_REGISTRY"):
        # Without it Reflex probes public registries for latency; use the configured one.
        try:
            registry = subprocess.run(
                ["npm", "config", "get", "registry"], capture_output=True, text=True, timeout=30, env=env
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            registry = ""
        if registry:
            env["NPM_CONFIG_REGISTRY"] = registry
    return env


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # follows /login -> /login/
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def hms_server(tmp_path_factory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("hms-e2e") / "data"
    data_dir.mkdir()
    log_path = data_dir.parent / "server.log"
    port = int(os.environ.get("HMS_E2E_PORT") or _free_port())
    url = f"http://127.0.0.1:{port}"
    command = [str(VENV_BIN / "hms"), "serve", "--port", str(port), "--demo-patients", "200"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=_server_env(data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not (_answers_200(f"{url}/api/health") and _answers_200(f"{url}/login")):
            if process.poll() is not None:
                pytest.fail(f"hms serve exited with {process.returncode} before serving:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"hms serve did not answer within {START_TIMEOUT_SECONDS} s:\n{_tail(log_path)}")
            time.sleep(1)
        yield Server(url=url, data_dir=data_dir, log=log_path)
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def app_server(hms_server: Server) -> str:
    return hms_server.url


def hms_cli(server: Server, *args: str) -> str:
    """Run the operator's `hms` command against the running server's database."""
    result = subprocess.run(
        [str(VENV_BIN / "hms"), *args],
        cwd=PROJECT_ROOT,
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"hms {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def server_db(server: Server):
    """A database session on the running server's database (for set-up the UI cannot do)."""
    from hms_app.db import session_scope

    return session_scope(server.database_url)
