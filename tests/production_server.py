"""The production build, started once per test run and shared by every suite that needs it.

The server is `hms serve --demo` exactly as `make run` starts it (migrations, demo seed,
`reflex run --env prod --single-port`), on a fresh SQLite database in a temporary data
directory, so the tests see what a new user on a fresh machine sees; with HMS_E2E_SCALED_OUT=1,
on a fresh PostgreSQL database and Redis with three workers, as a hospital scales it out. The demo
administrator must choose a new password at the first sign-in; the suites sign in as a returning
administrator, so the fixture notes that the flag was set (``Server.admin_had_to_change``,
checked by tests/security/test_sign_in_probes.py) and then clears it. Registered with
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

# HMS_E2E_SCALED_OUT=1 (``make test`` sets it for its second browser run): the server runs as a
# hospital scales it out, on PostgreSQL and Redis with three workers, so that a tab's events may
# land on any worker. Its own database and Redis database, emptied before it starts.
SCALED_OUT = os.environ.get("HMS_E2E_SCALED_OUT") == "1"
SCALED_OUT_SERVER = os.environ.get("HMS_E2E_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432")
SCALED_OUT_DB = os.environ.get("HMS_E2E_POSTGRES_DB", "hms_e2e_pg")
SCALED_OUT_REDIS = os.environ.get("HMS_E2E_REDIS_URL", "redis://127.0.0.1:6379/14")
SCALED_OUT_WORKERS = "3"


@dataclass(frozen=True)
class Server:
    url: str
    data_dir: Path
    log: Path
    scaled_out: bool = False
    admin_had_to_change: bool = False  # the demo admin was flagged on the fresh build
    dicom_port: int = 0  # the app's in-process DICOM listener

    @property
    def database_url(self) -> str:
        if self.scaled_out:
            return f"{SCALED_OUT_SERVER.replace('postgresql://', 'postgresql+psycopg://', 1)}/{SCALED_OUT_DB}"
        return f"sqlite:///{self.data_dir / 'hms.db'}"

    def env(self) -> dict[str, str]:
        """The server's environment: its data directory and database, tools on PATH."""
        env = dict(os.environ)
        env.pop("HMS_DATABASE_URL", None)
        env["HMS_DATA_DIR"] = str(self.data_dir)
        if self.scaled_out:
            env["HMS_DATABASE_URL"] = self.database_url
        return env


def _fresh_scaled_out_stores() -> None:
    """An empty PostgreSQL database and Redis database for the scaled-out server; both must be
    there (CI has them): a missing one fails the run, it never falls back to SQLite."""
    import psycopg
    import redis
    from psycopg import sql

    try:
        with psycopg.connect(f"{SCALED_OUT_SERVER}/postgres", autocommit=True, connect_timeout=5) as admin:
            name = sql.Identifier(SCALED_OUT_DB)
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
        redis.Redis.from_url(SCALED_OUT_REDIS).flushdb()
    except Exception as error:  # noqa: BLE001
        pytest.fail(f"the scaled-out browser run needs PostgreSQL and Redis: {error}")


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
    command = [str(VENV_BIN / "hms"), "serve", "--demo", "--port", str(port), "--demo-patients", "200"]
    env = _server_env(data_dir)
    # The app's own DICOM listener: the radiology journey's "scanner" sends its images there.
    dicom_port = _free_port()
    env["HMS_DICOM_PORT"] = str(dicom_port)
    if SCALED_OUT:
        _fresh_scaled_out_stores()
        env["HMS_DATABASE_URL"] = Server(url, data_dir, log_path, scaled_out=True).database_url
        env["REDIS_URL"] = SCALED_OUT_REDIS
        env["GRANIAN_WORKERS"] = SCALED_OUT_WORKERS
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
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
        server = Server(url=url, data_dir=data_dir, log=log_path, scaled_out=SCALED_OUT)
        yield Server(
            url=url,
            data_dir=data_dir,
            log=log_path,
            scaled_out=SCALED_OUT,
            admin_had_to_change=_returning_admin(server),
            dicom_port=dicom_port,
        )
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


def _returning_admin(server: Server) -> bool:
    """Clear the demo admin's must-change-password flag; whether it was set."""
    from sqlalchemy import update

    from hms_app.models.security import AppUser

    with server_db(server) as session:
        changed = session.execute(
            update(AppUser)
            .where(AppUser.username == "admin", AppUser.must_change_password.is_(True))
            .values(must_change_password=False)
        ).rowcount
        session.commit()
    return bool(changed)


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
