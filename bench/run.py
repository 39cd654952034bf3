"""`hms bench`: print one line per figure as ``BENCH <name> <value> <unit>`` on stdout.

Human-readable context (progress, what was measured, skips) goes to stderr, so
``hms bench | grep ^BENCH`` is the machine-readable result.

Figures (``--only`` takes the names in the first column; the seconds figures come with the rate):

=========================  ==============================================================
seed_rate_sqlite           100,000 patients through ``run_seeders`` into a fresh SQLite
                           file (target: under 30 s); also ``seed_100k_sqlite_seconds``
seed_rate_postgresql       the same on PostgreSQL, in a scratch database that is created
                           and dropped (``HMS_BENCH_POSTGRES_DB``, default ``hms_bench``, on
                           ``HMS_BENCH_POSTGRES_SERVER``, default postgres@127.0.0.1:5432);
                           also ``seed_100k_postgresql_seconds`` and, the seed's last step,
                           ``population_refresh_100k_postgresql_s``
sign_in_service_ms         ``security.sign_in`` p50/p95 over 30 sign-ins (argon2 dominates)
session_resolve_ms         ``security.resolve_session`` p50/p95 (every guarded event does one)
first_page_served_s        from launching ``hms serve --no-seed`` (fresh data directory, warm
                           packages) until ``GET /login`` answers 200
sign_in_round_trip_ms      a real browser sign-in on that server: from clicking "Sign in"
                           until the home page shows the user's name; median of 5
patient_search_<db>        ``search_patients`` p50/p95 over a fixed mix of 225 queries among
                           1,000,000 patients (target: p95 under 50 ms); ``<db>`` is
                           ``sqlite`` or ``postgresql``
duplicate_check_<db>       ``find_duplicates`` p50/p95 on 60 near-duplicate registrations
chart_open_<db>            ``open_chart`` p50/p95 for a patient with 2,000 encounters and
                           20,000 observations (target: under 300 ms); ``vital_series`` p50/p95
=========================  ==============================================================

``--only patients_1m`` runs the last six. They use cached databases of a million patients
(``/tmp/hms-bench-1m.db`` and ``hms_bench_1m``), built on first use and reused while they are
at the current Alembic head; see ``bench/patients.py``.

"Warm packages" means the bun cache and the front end's work directory already exist from
an earlier run. The work directory is ``/tmp/hms-bench-web`` (``HMS_BENCH_WEB_WORKDIR``),
kept between runs on purpose and outside the checkout. When it does not exist yet, the
benchmark first starts the server once cold, reports that as ``first_page_served_cold_s``,
and then measures the warm start. ``HMS_BENCH_PORT`` picks the server's port (default: a
free one).

Everything the benchmark creates (temporary directories, the scratch database, the server's
process group) is removed on the way out, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hms_app import modules
from hms_app.settings import PROJECT_ROOT, get_settings

SEED_PATIENTS = 100_000
SIGN_INS = 30
RESOLVES = 200
BROWSER_RUNS = 5
START_TIMEOUT_S = 900  # a cold first build downloads and bundles every front-end package
CHROMIUM = Path("/usr/bin/chromium")
WEB_WORKDIR = Path(os.environ.get("HMS_BENCH_WEB_WORKDIR", "/tmp/hms-bench-web"))
DEMO_USER, DEMO_NAME = "dr.grey", "Dr Meredith Grey"


class Skip(Exception):
    """A figure that cannot be measured on this machine (said why on stderr, not an error)."""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report(name: str, value: float, unit: str) -> None:
    if isinstance(value, int):  # a count or a yes/no figure: printed as the whole number it is
        text = str(value)
    elif value >= 1000:
        text = f"{value:.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    print(f"BENCH {name} {text} {unit}".rstrip(), flush=True)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return statistics.median(ordered), p95


@contextlib.contextmanager
def hms_environment(database_url: str, data_dir: Path) -> Iterator[None]:
    """Point HMS settings at a benchmark database for the duration (restored afterwards)."""
    saved = {key: os.environ.get(key) for key in ("HMS_DATABASE_URL", "HMS_DATA_DIR")}
    os.environ["HMS_DATABASE_URL"] = database_url
    os.environ["HMS_DATA_DIR"] = str(data_dir)
    get_settings.cache_clear()
    try:
        yield
    finally:
        from hms_app.db import dispose_engines

        dispose_engines()  # close the files/connections before their directory or database goes
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def fresh_database(url: str, data_dir: Path, patients: int, *, seed: int = 42, progress=None) -> float:
    """Migrate ``url`` and seed it; return the seconds spent in ``run_seeders`` alone."""
    from hms_app import migrations
    from hms_app.db import session_scope
    from hms_app.seed.registry import run_seeders

    with hms_environment(url, data_dir):
        started = time.perf_counter()
        migrations.upgrade(url)
        say(f"  migrated in {time.perf_counter() - started:.1f} s")
        with session_scope(url) as session:
            started = time.perf_counter()
            run_seeders(session, patients=patients, seed=seed, progress=progress)
            return time.perf_counter() - started


# --------------------------------------------------------------------------- seeding


def bench_seed_sqlite(stack: contextlib.ExitStack) -> None:
    from hms_app.seed.registry import ConsoleProgress

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-sqlite-")))
    url = f"sqlite:///{workdir / 'hms.db'}"
    say(f"seeding {SEED_PATIENTS:,} patients into a fresh SQLite file ({url}) ...")
    seconds = fresh_database(url, workdir, SEED_PATIENTS, progress=ConsoleProgress())
    report("seed_rate_sqlite", SEED_PATIENTS / seconds, "patients/s")
    report("seed_100k_sqlite_seconds", seconds, "s")


def _postgres_server() -> str:
    return os.environ.get("HMS_BENCH_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432").rstrip("/")


def scratch_postgres(stack: contextlib.ExitStack, name: str) -> str:
    """A new, empty PostgreSQL database ``name`` (an old one of that name is dropped first),
    dropped again when ``stack`` closes; its SQLAlchemy URL. Skip when PostgreSQL is down."""
    import psycopg
    from psycopg import sql

    server = _postgres_server()
    try:
        admin = psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise Skip(f"PostgreSQL is not reachable at {server}: {error}".strip()) from error
    stack.callback(admin.close)

    def drop() -> None:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    drop()
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    stack.callback(drop)
    return f"{server.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def bench_seed_postgresql(stack: contextlib.ExitStack) -> None:
    import psycopg

    from hms_app.seed.registry import ConsoleProgress

    name = os.environ.get("HMS_BENCH_POSTGRES_DB", "hms_bench")
    url = scratch_postgres(stack, name)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-pg-")))
    say(f"seeding {SEED_PATIENTS:,} patients into the scratch PostgreSQL database {name!r} ...")
    seconds = fresh_database(url, workdir, SEED_PATIENTS, progress=ConsoleProgress())
    report("seed_rate_postgresql", SEED_PATIENTS / seconds, "patients/s")
    report("seed_100k_postgresql_seconds", seconds, "s")
    # The seed's last step is the first population refresh, on the database it just loaded.
    with psycopg.connect(f"{_postgres_server()}/{name}") as conn:
        refreshed = conn.execute("SELECT seconds FROM population_refresh ORDER BY id DESC LIMIT 1").fetchone()
    if refreshed is None:
        raise RuntimeError("the seed left no population refresh behind")
    say("  the population refresh inside that seed, on the freshly loaded database:")
    report("population_refresh_100k_postgresql_s", refreshed[0], "s")


# --------------------------------------------------------------------------- sign-in service


def bench_sign_in_service(stack: contextlib.ExitStack, figures: set[str]) -> None:
    from hms_app.db import session_scope
    from hms_app.seed.registry import DEMO_PASSWORD
    from hms_app.services import security

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-signin-")))
    url = f"sqlite:///{workdir / 'hms.db'}"
    say("preparing a SQLite hospital with 2,000 patients for the sign-in figures ...")
    fresh_database(url, workdir, 2000)
    with hms_environment(url, workdir):
        sign_ins: list[float] = []
        token = ""
        for _ in range(SIGN_INS):
            with session_scope(url) as session:
                started = time.perf_counter()
                result = security.sign_in(
                    session, username=DEMO_USER, password=DEMO_PASSWORD, client_ip="127.0.0.1"
                )
                sign_ins.append((time.perf_counter() - started) * 1000)
                token = result.token
        resolves: list[float] = []
        for _ in range(RESOLVES):
            with session_scope(url) as session:
                started = time.perf_counter()
                actor = security.resolve_session(session, token=token, screen="/bench")
                resolves.append((time.perf_counter() - started) * 1000)
                if actor is None:
                    raise RuntimeError("the benchmark's session did not resolve")
    if "sign_in_service_ms" in figures:
        p50, p95 = percentiles(sign_ins)
        say(f"  security.sign_in over {SIGN_INS} sign-ins on SQLite (argon2 verify + session + audit row)")
        report("sign_in_service_ms_p50", p50, "ms")
        report("sign_in_service_ms_p95", p95, "ms")
    if "session_resolve_ms" in figures:
        p50, p95 = percentiles(resolves)
        say(f"  security.resolve_session over {RESOLVES} resolutions on SQLite")
        report("session_resolve_ms_p50", p50, "ms")
        report("session_resolve_ms_p95", p95, "ms")


# --------------------------------------------------------------------------- the served app


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _server_env(data_dir: Path) -> dict[str, str]:
    """What `make run` exports, so that `hms bench` run by hand behaves like `make bench`."""
    env = dict(os.environ)
    for key in ("HMS_DATABASE_URL", "REDIS_URL"):
        env.pop(key, None)
    bun_bin = PROJECT_ROOT / ".tools" / "bun" / "node_modules" / ".bin"
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(bun_bin), env.get("PATH", "")])
    env["HMS_DATA_DIR"] = str(data_dir)
    env["REFLEX_WEB_WORKDIR"] = str(WEB_WORKDIR)
    env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    env.setdefault("REFLEX_CHECK_LATEST_VERSION", "0")
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    if not env.get("NPM_CONFIG_REGISTRY"):
        # Without it Reflex probes public registries for latency before installing.
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            registry = subprocess.run(
                ["npm", "config", "get", "registry"], capture_output=True, text=True, timeout=30, env=env
            ).stdout.strip()
            if registry:
                env["NPM_CONFIG_REGISTRY"] = registry
    return env


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    seconds_to_first_page: float = 0.0
    stopped: bool = field(default=False)

    def stop(self) -> None:
        """Stop the whole process group (hms serve execs reflex, which starts granian workers)."""
        if self.stopped:
            return
        self.stopped = True
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Granian workers may outlive their parent for a moment; the group goes with them.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_server(stack: contextlib.ExitStack, data_dir: Path, label: str) -> Server:
    port = int(os.environ.get("HMS_BENCH_PORT") or _free_port())
    url = f"http://127.0.0.1:{port}"
    log = data_dir.parent / f"server-{label}.log"
    say(f"starting `hms serve --port {port} --no-seed` ({label}; front end in {WEB_WORKDIR}) ...")
    with open(log, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "hms"), "serve", "--port", str(port), "--no-seed"],
            cwd=PROJECT_ROOT,
            env=_server_env(data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: one signal stops reflex and its workers
        )
    server = Server(url=url, process=process, log=log)
    stack.callback(server.stop)
    deadline = started + START_TIMEOUT_S
    while not _answers_200(f"{url}/login"):
        if process.poll() is not None:
            raise RuntimeError(f"hms serve exited with {process.returncode} before serving:\n{_tail(log)}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"hms serve did not serve /login within {START_TIMEOUT_S} s:\n{_tail(log)}")
        time.sleep(0.1)
    server.seconds_to_first_page = time.perf_counter() - started
    return server


def _warm(path: Path) -> bool:
    return (path / "node_modules").is_dir()


def bench_served_app(stack: contextlib.ExitStack, figures: set[str]) -> None:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-serve-")))
    data_dir = workdir / "data"
    data_dir.mkdir()
    # The server starts with --no-seed; a few users must exist to sign in with. Seeded
    # before the clock starts: first-start seeding happens once, not on every start.
    say("preparing the server's fresh SQLite database (demo staff, 200 patients) ...")
    fresh_database(f"sqlite:///{data_dir / 'hms.db'}", data_dir, 200)

    if not _warm(WEB_WORKDIR):
        say(f"{WEB_WORKDIR} does not exist yet: a cold start first, to warm the packages")
        cold = start_server(stack, data_dir, "cold")
        cold.stop()
        report("first_page_served_cold_s", cold.seconds_to_first_page, "s")
    server = start_server(stack, data_dir, "warm")
    if "first_page_served_s" in figures:
        report("first_page_served_s", server.seconds_to_first_page, "s")
    if "sign_in_round_trip_ms" in figures:
        bench_browser_sign_in(server.url)
    server.stop()


def bench_browser_sign_in(url: str) -> None:
    if not CHROMIUM.exists():
        say(
            f"skipping sign_in_round_trip_ms: no Chromium at {CHROMIUM} (install it with `make setup-browser`)"
        )
        return
    from playwright.sync_api import sync_playwright

    from hms_app.seed.registry import DEMO_PASSWORD

    samples: list[float] = []
    home = re.compile(rf"^{re.escape(url)}/?(\?.*)?$")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            for run in range(BROWSER_RUNS):
                context = browser.new_context()
                try:
                    page = context.new_page()
                    page.goto(f"{url}/login")
                    # Wait until React has hydrated the form: a click before that would
                    # submit it natively instead of sending the event over the websocket.
                    page.wait_for_function(
                        """() => { const b = [...document.querySelectorAll('button')]
                                     .find((el) => el.textContent.trim() === 'Sign in');
                                   return !!b && Object.keys(b).some((k) => k.startsWith('__reactProps')); }""",
                        timeout=60_000,
                    )
                    page.fill("input[name=username]", DEMO_USER)
                    page.fill("input[name=password]", DEMO_PASSWORD)
                    started = time.perf_counter()
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_url(home, timeout=30_000)
                    page.locator("[data-testid=user-name]", has_text=DEMO_NAME).first.wait_for(timeout=30_000)
                    samples.append((time.perf_counter() - started) * 1000)
                    say(f"  browser sign-in {run + 1}/{BROWSER_RUNS}: {samples[-1]:.0f} ms")
                finally:
                    context.close()
        finally:
            browser.close()
    report("sign_in_round_trip_ms", statistics.median(samples), "ms")


# --------------------------------------------------------------------------- entry point


@dataclass(frozen=True)
class Benchmark:
    figures: tuple[str, ...]
    run: Callable[[contextlib.ExitStack, set[str]], None]


# The platform's own figures; every module's live in the ``bench`` modules it lists in the
# registry, as ``BENCHMARKS`` (figure names and a ``run(stack, figures)``) and ``GROUPS``.
PLATFORM_BENCHMARKS = (
    Benchmark(("seed_rate_sqlite",), lambda stack, _: bench_seed_sqlite(stack)),
    Benchmark(("seed_rate_postgresql",), lambda stack, _: bench_seed_postgresql(stack)),
    Benchmark(("sign_in_service_ms", "session_resolve_ms"), bench_sign_in_service),
    Benchmark(("first_page_served_s", "sign_in_round_trip_ms"), bench_served_app),
)


def catalogue() -> tuple[list[Benchmark], dict[str, list[str]]]:
    """Every benchmark, and the group names that stand for several figures.

    Loaded when asked for, not at import: the modules' benchmarks import this module.
    """
    benchmarks, groups = list(PLATFORM_BENCHMARKS), {}
    for module in modules.load("benchmarks"):  # they import anything heavy only when run
        benchmarks.extend(Benchmark(tuple(figures), run) for figures, run in module.BENCHMARKS)
        groups.update(module.GROUPS)
    return benchmarks, groups


def _terminate(signum, _frame):
    # SIGTERM (e.g. from CI) unwinds like Ctrl-C, so every cleanup below still runs.
    raise KeyboardInterrupt(f"signal {signum}")


def main(only: list[str] | None = None) -> int:
    """Run the benchmarks (or ``only`` these figures); 0 if every figure asked for was measured or skipped."""
    benchmarks, groups = catalogue()
    names = [name for bench in benchmarks for name in bench.figures]
    wanted = {figure for name in (only or names) for figure in groups.get(name, [name])}
    unknown = sorted(wanted - set(names))
    if unknown:
        say(f"unknown benchmark {', '.join(unknown)}; choose from: {', '.join([*names, *groups])}")
        return 2
    previous = signal.signal(signal.SIGTERM, _terminate)
    failures = 0
    started = time.perf_counter()
    try:
        for bench in benchmarks:
            figures = wanted & set(bench.figures)
            if not figures:
                continue
            say(f"--- {', '.join(sorted(figures))}")
            with contextlib.ExitStack() as stack:
                try:
                    bench.run(stack, figures)
                except Skip as reason:
                    say(f"skipping {', '.join(sorted(figures))}: {reason}")
                except Exception:  # noqa: BLE001 - report it and go on with the other figures
                    failures += 1
                    say(f"FAILED {', '.join(sorted(figures))}:\n{traceback.format_exc()}")
    except KeyboardInterrupt:
        say("interrupted; everything the benchmark started has been cleaned up")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    say(f"benchmarks finished in {time.perf_counter() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or None))
