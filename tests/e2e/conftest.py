"""Browser tests against the production build, started once per test run.

The server is `hms serve` exactly as `make run` starts it (migrations, demo seed,
`reflex run --env prod --single-port`), on a fresh SQLite database in a temporary data
directory, so the tests see what a new user on a fresh machine sees.
"""

from __future__ import annotations

import os
import re
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
from playwright.sync_api import Page, expect

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SCREENS_DIR = PROJECT_ROOT / "artifacts" / "screens"
DEMO_PASSWORD = "HmsDemo2026!"
START_TIMEOUT_SECONDS = 300

# The first page load of a fresh context fetches the bundle and opens the websocket;
# give assertions room for that instead of sleeping.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ],
    }


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


@pytest.fixture(scope="session")
def base_url(app_server: str) -> str:
    return app_server


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


def screenshot(page: Page, name: str) -> Path:
    """Save what the user sees now to artifacts/screens/<name>.png."""
    SCREENS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENS_DIR / f"{name}.png"
    # Finished transitions: a toast is captured as the user reads it, not mid-slide.
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def wait_interactive(page: Page, selector: str) -> None:
    """Wait until React has hydrated ``selector``.

    The production build serves pre-rendered HTML: a click before hydration would
    submit the form natively (a GET with the password in the URL) instead of sending
    the event over the websocket.
    """
    page.wait_for_function(
        """(selector) => {
            const el = document.querySelector(selector);
            return !!el && Object.keys(el).some((key) => key.startsWith("__reactProps"));
        }""",
        arg=selector,
        timeout=30_000,
    )


def open_sign_in(page: Page) -> None:
    page.goto("/login")
    expect(page.locator("input[name=username]")).to_be_visible()
    wait_interactive(page, "form")


def submit_credentials(page: Page, username: str, password: str) -> None:
    """Fill the sign-in form on the current page and submit it; do not wait for the outcome."""
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form button[type=submit]").click()


def sign_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the sign-in page and wait until the app has moved away from it."""
    open_sign_in(page)
    submit_credentials(page, username, password)
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)


def expect_staff_home(page: Page, name: str) -> None:
    """The staff home screen of ``name``, with its figures loaded (not the loading skeleton)."""
    page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("[data-testid=user-name]")).to_have_text(name)
    expect(page.locator("[data-testid^=figure-]").first).to_be_visible()


def submit_code(page: Page, code: str) -> None:
    field = page.locator("input[name=code]")
    expect(field).to_be_visible()
    field.fill(code)
    page.get_by_role("button", name="Verify").click()


def server_db(server: Server):
    """A database session on the running server's database (for set-up the UI cannot do)."""
    from hms_app.db import session_scope

    return session_scope(server.database_url)


MIDNIGHT_MARGIN_SECONDS = 5 * 60


@pytest.fixture
def clear_of_midnight() -> None:
    """Tests that work with "today" (the calendar, check-in, today's board) must not straddle the
    hospital's midnight: a few minutes before it, wait until the new day has begun."""
    from datetime import datetime, timedelta
    from datetime import time as clock_time

    from hms_app.clock import to_local, utcnow

    now = to_local(utcnow())
    midnight = datetime.combine(now.date() + timedelta(days=1), clock_time(0), tzinfo=now.tzinfo)
    left = (midnight - now).total_seconds()
    if left < MIDNIGHT_MARGIN_SECONDS:
        time.sleep(left + 5)
