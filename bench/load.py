"""Load: many signed-in tabs searching as they type and opening charts, for a fixed time.

Figures (``n`` = 10 and 50 tabs):

- ``load_<n>_tabs_search_p95_ms``, ``load_<n>_tabs_chart_p95_ms``, ``load_<n>_tabs_errors``: one
  ``hms serve`` on SQLite (the embedded mode ``make run`` gives: one backend worker, state in
  process); ``--only load_inprocess``;
- ``load_<n>_tabs_search_p95_ms_scaled``, ``load_<n>_tabs_chart_p95_ms_scaled``,
  ``load_<n>_tabs_errors_scaled``: ``hms serve`` on PostgreSQL (a scratch database created and
  dropped here) with ``REDIS_URL`` (Redis database 13 by default) and ``GRANIAN_WORKERS=2``, as the
  README's "Scaling out" section sets it up; ``--only load_scaled``.

Each tab is a client speaking Reflex's websocket protocol as a browser tab does (socket.io on
``/_event``, the HttpOnly session cookie and the public Origin on its upgrade request, the
``hydrate_and_load`` boot event), each with its own signed-in session (demo staff accounts
signed in through ``security.sign_in``, one session per tab). Every tab loops:

1. types a search in three keystrokes: ``set_query`` with two, three and four letters of a demo
   patient's family name, each sent once the previous one was answered (the browser's event
   queue sends one event at a time); each keystroke is one search sample;
2. opens the chart of a patient in the answer (the page-load event a navigation sends, which
   runs the chart's on_load chain): one chart sample;
3. every ``BOARD_EVERY``-th time, opens the bed board (reported on stderr only).

A latency runs from sending the event until the delta that shows its result arrives (the
search state's ``query``, the chart's ``shown_path``; rendering is not included). Errors are
error toasts, a redirect to the sign-in page, a chart that shows a problem, a disconnect, and
operations not answered within ``OP_TIMEOUT_S``. All tabs share one asyncio loop in this process;
its CPU use and loop lag are said on stderr, with a warning when the client itself was
saturated (then the figures measure the client, not the server).

Environment: ``HMS_BENCH_LOAD_SECONDS`` (each run's duration, default 60; 5 for a smoke run),
``HMS_BENCH_LOAD_TABS`` (the sizes, default ``10,50``), ``HMS_BENCH_LOAD_WORKERS`` (2),
``HMS_BENCH_LOAD_REDIS_URL`` (``redis://127.0.0.1:6379/13``), ``HMS_BENCH_LOAD_DB`` (the scratch
PostgreSQL database, default ``hms_bench_load``, on ``HMS_BENCH_POSTGRES_SERVER``).
Diagnosis: ``HMS_BENCH_LOAD_PROFILE=<dir>`` samples the server's threads (``bench/sampler``) and
prints where they spent their time; ``HMS_BENCH_LOAD_TRACE=1`` prints what arrived during each
operation slower than 3 s; ``HMS_BENCH_LOAD_BOARD_PAUSE_MS`` waits between a chart and the board
opened after it. The figures measured on this machine, and what the profile found, are in the
README's Benchmarks section.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

STATE = "reflex___state____state"
SESSION = f"{STATE}.hms_app___state___session____session_state"
SEARCH = f"{SESSION}.hms_app___state___patients___search____patient_search_state"
CHART = f"{SESSION}.hms_app___state___chart___page____chart_state"
BOARD = f"{SESSION}.hms_app___state___boards___bed_board____bed_board_state"
ON_LOAD = f"{STATE}.reflex___state____on_load_internal_state.on_load_internal"
SESSION_COOKIE = "hms_session"
TAB_USERS = ("dr.grey", "nurse.joy", "reception", "lab.tech")  # demo staff who may read patients
DEMO_PATIENTS = 3000  # the demo hospital `hms serve` seeds on a first start
SIZES = (10, 50)
KEYSTROKES = (2, 3, 4)  # letters typed before each search is sent
BOARD_EVERY = 5
OP_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 60.0
TRACE_SLOW_MS = 3000.0
# HMS_BENCH_LOAD_BOARD_PAUSE_MS: a pause between a chart opening and the board opening after it
# (0 by default: a board opens straight after a chart, as a quick user navigates on).
BOARD_PAUSE_S = float(os.environ.get("HMS_BENCH_LOAD_BOARD_PAUSE_MS", "0")) / 1000


def _seconds() -> float:
    return max(1.0, float(os.environ.get("HMS_BENCH_LOAD_SECONDS", "60")))


def _sizes() -> tuple[int, ...]:
    raw = os.environ.get("HMS_BENCH_LOAD_TABS", "")
    return tuple(int(part) for part in raw.split(",") if part.strip()) if raw else SIZES


# --------------------------------------------------------------------------- pure helpers


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.95 for p95) of ``samples``; nan when empty.

    Nearest rank: the smallest sample that at least ``fraction`` of the samples do not exceed,
    so a p95 is always one of the measured latencies, never an interpolation between two.
    """
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    p50: float
    p95: float
    max: float

    def text(self) -> str:
        if not self.count:
            return "no samples"
        return f"{self.count} samples, p50 {self.p50:.0f} ms, p95 {self.p95:.0f} ms, max {self.max:.0f} ms"


def summarize(samples: list[float]) -> Summary:
    """Count, p50, p95 and max of latencies (ms)."""
    if not samples:
        return Summary(0, math.nan, math.nan, math.nan)
    return Summary(len(samples), percentile(samples, 0.5), percentile(samples, 0.95), max(samples))


def typed(name: str) -> list[str]:
    """What a clerk's three keystrokes send for ``name``: its first two, three and four letters."""
    letters = "".join(ch for ch in name.lower() if ch.isalpha())
    return [letters[:n] for n in KEYSTROKES if len(letters) >= n] or [letters]


def is_error_event(event: dict) -> bool:
    """A frontend event that shows the user something went wrong: an error toast or a sign-in redirect."""
    text = json.dumps(event)
    if "toast" in text and "error" in text:
        return True
    return event.get("name") == "_redirect" and "/login" in text


# --------------------------------------------------------------------------- the tabs


@dataclass
class Results:
    search: list[float] = field(default_factory=list)
    chart: list[float] = field(default_factory=list)
    board: list[float] = field(default_factory=list)
    errors: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def error(self, reason: str) -> None:
        self.errors += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


class Tab:
    """One browser tab: its socket, what its states last showed, and the one event it waits on."""

    def __init__(self, url: str, session_token: str, results: Results) -> None:
        import socketio

        self.url, self.session_token, self.results = url, session_token, results
        self.token = str(uuid.uuid4())
        self.client = socketio.AsyncClient(reconnection=False)
        self.client.on("event", self._on_event, namespace="/_event")
        self.client.on("disconnect", self._on_disconnect, namespace="/_event")
        self.hydrated = asyncio.Event()
        self.rows: list[int] = []
        self.waiter: tuple[object, asyncio.Future] | None = None
        self.closing = False
        # HMS_BENCH_LOAD_TRACE=1: what arrived during an operation slower than TRACE_SLOW_MS, on stderr.
        self.trace: list | None = [] if os.environ.get("HMS_BENCH_LOAD_TRACE") else None

    @staticmethod
    def router(path: str, query: dict | None = None) -> dict:
        search = "?" + "&".join(f"{k}={v}" for k, v in (query or {}).items()) if query else ""
        return {"pathname": path, "asPath": path + search, "query": query or {}}

    async def open(self) -> None:
        boot = {
            "event": {
                "name": f"{STATE}.hydrate_and_load",
                "payload": {"vars": {}},
                "router_data": self.router("/patients"),
            }
        }
        await self.client.connect(
            f"{self.url}?token={self.token}",
            socketio_path="/_event",
            transports=["websocket"],
            namespaces=["/_event"],
            # As a browser sends them: the session cookie and the page's own origin.
            headers={"Cookie": f"{SESSION_COOKIE}={self.session_token}", "Origin": self.url},
            auth=boot,
            wait_timeout=30,
        )
        await asyncio.wait_for(self.hydrated.wait(), CONNECT_TIMEOUT_S)

    async def _on_event(self, update: dict) -> None:
        now = time.perf_counter()
        delta = update.get("delta") or {}
        if self.trace is not None:
            names = [event.get("name", "") for event in update.get("events") or []]
            self.trace.append((now, [name.rsplit("___", 1)[-1] for name in delta], names))
        if SEARCH in delta:
            self.hydrated.set()
            rows = delta[SEARCH].get("rows_rx_state_")
            if rows is not None:
                self.rows = [row["id"] for row in rows if isinstance(row, dict) and row.get("id")]
        for event in update.get("events") or []:
            if is_error_event(event):
                self._finish(now, error="error toast or sign-in redirect")
        if self.waiter is not None:
            match, _future = self.waiter
            verdict = match(delta)
            if verdict:
                self._finish(now, error=verdict if isinstance(verdict, str) else None)

    def _finish(self, now: float, error: str | None = None) -> None:
        if self.waiter is None:
            if error:
                self.results.error(error)  # an error toast outside any operation still counts
            return
        _match, future = self.waiter
        self.waiter = None
        if not future.done():
            future.set_result((now, error))

    async def _on_disconnect(self, *_args) -> None:
        if not self.closing:
            self.results.error("disconnected")
            self._finish(time.perf_counter(), error="disconnected")

    async def call(self, name: str, payload: dict, router_data: dict, match) -> float | None:
        """Send one event; the ms until ``match(delta)`` holds, or None (an error, counted)."""
        future = asyncio.get_running_loop().create_future()
        self.waiter = (match, future)
        if self.trace is not None:
            self.trace.clear()
        sent = time.perf_counter()
        await self.client.emit(
            "event", {"name": name, "payload": payload, "router_data": router_data}, namespace="/_event"
        )
        try:
            done, error = await asyncio.wait_for(future, OP_TIMEOUT_S)
        except TimeoutError:
            self.waiter = None
            self.results.error(f"no answer within {OP_TIMEOUT_S:.0f} s")
            return None
        if self.trace is not None:
            took = (done - sent) * 1000
            if took > TRACE_SLOW_MS:
                from bench.run import say

                steps = [
                    f"+{(at - sent) * 1000:.0f} ms {states} {events}" for at, states, events in self.trace
                ]
                say(
                    f"    slow {name.rsplit('.', 1)[-1]} {router_data['asPath']} {took:.0f} ms: "
                    + "; ".join(steps)
                )
            self.trace.clear()
        if error:
            self.results.error(error)
            return None
        return (done - sent) * 1000

    async def search(self, text: str) -> float | None:
        def answered(delta: dict):
            return delta.get(SEARCH, {}).get("query_rx_state_") == text

        return await self.call(f"{SEARCH}.set_query", {"value": text}, self.router("/patients"), answered)

    async def open_chart(self, patient_id: int) -> float | None:
        path = f"/patients/{patient_id}"

        def shown(delta: dict):
            chart = delta.get(CHART, {})
            if chart.get("shown_path_rx_state_") != path:
                return False
            return f"chart problem: {chart['problem_rx_state_']}" if chart.get("problem_rx_state_") else True

        return await self.call(ON_LOAD, {}, self.router(path, {"patient_id": str(patient_id)}), shown)

    async def open_board(self, ward_id: int) -> float | None:
        def shown(delta: dict):
            return "beds_rx_state_" in delta.get(BOARD, {})

        return await self.call(ON_LOAD, {}, self.router("/wards", {"ward": str(ward_id)}), shown)

    async def close(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.disconnect(), 10)


async def _tab_loop(tab: Tab, names: list[str], patients: list[int], ward_id: int, until: float, seed: int):
    rng = random.Random(seed)
    results, iteration = tab.results, 0
    await asyncio.sleep(rng.random() * 0.5)  # the tabs do not all type in step
    while time.perf_counter() < until:
        iteration += 1
        for text in typed(rng.choice(names)):
            latency = await tab.search(text)
            if latency is not None:
                results.search.append(latency)
        if time.perf_counter() >= until:
            break
        latency = await tab.open_chart(rng.choice(tab.rows or patients))
        if latency is not None:
            results.chart.append(latency)
        if iteration % BOARD_EVERY == 0 and time.perf_counter() < until:
            if BOARD_PAUSE_S:  # diagnosis: let the chart's on_load chain finish before navigating on
                await asyncio.sleep(BOARD_PAUSE_S)
            latency = await tab.open_board(ward_id)
            if latency is not None:
                results.board.append(latency)


async def _loop_lag(until: float, lags: list[float]) -> None:
    """How late this loop wakes up: a saturated client shows as lag, not as server latency."""
    while time.perf_counter() < until:
        before = time.perf_counter()
        await asyncio.sleep(0.05)
        lags.append((time.perf_counter() - before - 0.05) * 1000)


async def _drive(
    url: str, tokens: list[str], names, patients, ward_id: int, seconds: float
) -> tuple[Results, dict]:
    results = Results()
    tabs = [Tab(url, token, results) for token in tokens]
    try:
        started = time.perf_counter()
        for chunk in range(0, len(tabs), 10):  # ten at a time, as tabs opened over a few seconds
            await asyncio.gather(*(tab.open() for tab in tabs[chunk : chunk + 10]))
        opened = time.perf_counter() - started
        results.errors, results.reasons = 0, {}  # only the timed run counts
        cpu, wall = time.process_time(), time.perf_counter()
        until = wall + seconds
        lags: list[float] = []
        await asyncio.gather(
            _loop_lag(until, lags),
            *(_tab_loop(tab, names, patients, ward_id, until, seed) for seed, tab in enumerate(tabs)),
        )
        elapsed = time.perf_counter() - wall
        client = {
            "opened_s": opened,
            "cpu_share": (time.process_time() - cpu) / elapsed,
            "lag_p95_ms": percentile(lags, 0.95),
            "elapsed_s": elapsed,
        }
        return results, client
    finally:
        await asyncio.gather(*(tab.close() for tab in tabs))


# --------------------------------------------------------------------------- the hospital


def _fixtures(database_url: str, tabs: int) -> tuple[list[str], list[str], list[int], int]:
    """One fresh session per tab, the family names the tabs type, some patient ids and a ward."""
    from sqlalchemy import func, select

    from hms_app.db import session_scope
    from hms_app.models.patients import Patient
    from hms_app.models.wards import Bed
    from hms_app.seed.registry import DEMO_PASSWORD
    from hms_app.services import security

    with session_scope(database_url) as session:
        tokens = [
            security.sign_in(session, username=TAB_USERS[i % len(TAB_USERS)], password=DEMO_PASSWORD).token
            for i in range(tabs)
        ]
        names = sorted(
            {row for row in session.execute(select(Patient.family_name).limit(500)).scalars() if row}
        )
        patients = list(session.execute(select(Patient.id).order_by(Patient.id).limit(200)).scalars())
        ward_id = session.execute(
            select(Bed.ward_id).group_by(Bed.ward_id).order_by(func.count().desc()).limit(1)
        ).scalar_one()
    return tokens, names, patients, ward_id


def _report(suffix: str, tabs: int, results: Results, client: dict, server_cpu_share: float | None) -> None:
    from bench.run import report, say

    search, chart, board = summarize(results.search), summarize(results.chart), summarize(results.board)
    seconds = client["elapsed_s"]
    say(f"  {tabs} tabs for {seconds:.0f} s (opened in {client['opened_s']:.1f} s):")
    say(f"    search {search.text()} ({search.count / seconds:.1f}/s)")
    say(f"    chart  {chart.text()} ({chart.count / seconds:.1f}/s)")
    say(f"    board  {board.text()}")
    if results.errors:
        say(f"    errors: {', '.join(f'{n} x {why}' for why, n in sorted(results.reasons.items()))}")
    operations = search.count + chart.count + board.count
    server = ""
    if server_cpu_share is not None and operations:
        per_op = server_cpu_share * seconds * 1000 / operations
        server = f"; server {server_cpu_share * 100:.0f} % of one core, {per_op:.1f} ms of CPU per operation"
    say(
        f"    client used {client['cpu_share'] * 100:.0f} % of one core, loop lag p95 "
        f"{client['lag_p95_ms']:.1f} ms{server}"
    )
    if client["cpu_share"] > 0.8:
        say("    WARNING: the client was saturated; these latencies include its own queueing")
    elif client["lag_p95_ms"] > 20:
        say("    note: the client's loop woke late (the machine's cores were busy, not the client itself)")
    report(f"load_{tabs}_tabs_search_p95_ms{suffix}", search.p95 if search.count else float("nan"), "ms")
    report(f"load_{tabs}_tabs_chart_p95_ms{suffix}", chart.p95 if chart.count else float("nan"), "ms")
    report(f"load_{tabs}_tabs_errors{suffix}", results.errors, "")


def _run_sizes(suffix: str, server, database_url: str, figures: set[str]) -> None:
    from bench.boards import process_group_cpu_ms
    from bench.run import say

    for tabs in _sizes():
        tokens, names, patients, ward_id = _fixtures(database_url, tabs)
        say(f"  {tabs} tabs, {len(tokens)} sessions; {_seconds():.0f} s of searching and chart opening ...")
        cpu_before, wall_before = process_group_cpu_ms(server.process.pid), time.perf_counter()
        results, client = asyncio.run(_drive(server.url, tokens, names, patients, ward_id, _seconds()))
        server_cpu = (process_group_cpu_ms(server.process.pid) - cpu_before) / 1000
        server_share = server_cpu / (time.perf_counter() - wall_before)
        _report(suffix, tabs, results, client, server_share)
    profile = os.environ.get("HMS_BENCH_LOAD_PROFILE", "")
    if profile:
        label = "load-scaled" if suffix else "load-inprocess"
        say(summarize_profile(Path(profile) / label))
        with contextlib.suppress(OSError):  # the server's log, kept with the samples
            (Path(profile) / f"{label}.log").write_bytes(server.log.read_bytes())


IDLE_LEAVES = (
    "selectors.py:select",
    "threading.py:wait",
    "queue.py:get",
    "thread.py:_worker",
    "socket.py:accept",
)


def summarize_profile(directory: Path, top: int = 25) -> str:
    """What the sampler (bench/sampler) saw in the busiest process: per thread, how often it was
    busy, and the busy stacks' most frequent lines in HMS, Reflex and the libraries."""
    runs = []
    for path in directory.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            runs.append(json.loads(path.read_text()))
    if not runs:
        return "no samples"

    def busy(stacks: dict) -> int:
        return sum(
            n
            for key, n in stacks.items()
            if not key.rsplit(";", 1)[-1].rsplit(":", 1)[0].endswith(IDLE_LEAVES)
        )

    run = max(runs, key=lambda r: busy(r["stacks"]))
    samples = run["samples"]
    lines = [f"busiest process: {' '.join(run['argv'])[:120]} ({samples} samples)"]
    threads: dict[str, list[int]] = {}
    inclusive: dict[str, int] = {}
    leaves: dict[str, int] = {}
    for key, count in run["stacks"].items():
        thread, _, stack = key.partition("|")
        frames = stack.split(";")
        idle = frames[-1].rsplit(":", 1)[0].endswith(IDLE_LEAVES)
        kind = "asyncio.to_thread workers" if thread.startswith("asyncio_") else thread
        totals = threads.setdefault(kind, [0, 0])
        totals[0] += count
        if idle:
            continue
        totals[1] += count
        leaves[frames[-1]] = leaves.get(frames[-1], 0) + count
        for frame in set(frames):
            if "/hms_app/" in frame or "/reflex" in frame or "sqlalchemy" in frame or "socketio" in frame:
                inclusive[frame] = inclusive.get(frame, 0) + count
    for kind, (_seen, active) in sorted(threads.items(), key=lambda item: -item[1][1]):
        lines.append(f"  thread {kind}: busy in {active / samples * 100:.0f} % of samples")
    lines.append("  busy lines (inclusive, % of samples):")
    for frame, count in sorted(inclusive.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"    {count / samples * 100:5.1f} %  {frame.split('site-packages/')[-1]}")
    lines.append("  busy leaves (% of samples):")
    for frame, count in sorted(leaves.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"    {count / samples * 100:5.1f} %  {frame.split('site-packages/')[-1]}")
    return "\n".join(lines)


def _start(stack: contextlib.ExitStack, data_dir: Path, label: str, extra_env: dict[str, str]):
    from bench.boards import _start as start_server

    profile = os.environ.get("HMS_BENCH_LOAD_PROFILE", "")
    if profile:
        out = Path(profile) / label
        out.mkdir(parents=True, exist_ok=True)
        sampler = str(Path(__file__).resolve().parent / "sampler")
        path = os.pathsep.join(p for p in (sampler, os.environ.get("PYTHONPATH", "")) if p)
        extra_env = {**extra_env, "PYTHONPATH": path, "HMS_SAMPLER_OUT": str(out)}
    return start_server(stack, data_dir, label, extra_env)


def bench_inprocess(stack: contextlib.ExitStack, figures: set[str]) -> None:
    from bench.run import fresh_database, say

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-load-")))
    data_dir = workdir / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'hms.db'}"
    say(f"preparing the demo hospital on SQLite ({DEMO_PATIENTS:,} patients) ...")
    fresh_database(url, data_dir, DEMO_PATIENTS)
    server = _start(stack, data_dir, "load-inprocess", {})
    say("  in process: SQLite, one backend worker, tab state in memory")
    try:
        _run_sizes("", server, url, figures)
    finally:
        server.stop()


def bench_scaled(stack: contextlib.ExitStack, figures: set[str]) -> None:
    import redis

    from bench.run import Skip, fresh_database, say, scratch_postgres

    redis_url = os.environ.get("HMS_BENCH_LOAD_REDIS_URL", "redis://127.0.0.1:6379/13")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        raise Skip(f"Redis is not reachable at {redis_url}: {error}") from error
    name = os.environ.get("HMS_BENCH_LOAD_DB", "hms_bench_load")
    url = scratch_postgres(stack, name)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-load-scaled-")))
    data_dir = workdir / "data"
    data_dir.mkdir()
    say(
        f"preparing the demo hospital in the scratch PostgreSQL database {name!r} ({DEMO_PATIENTS:,} patients) ..."
    )
    fresh_database(url, data_dir, DEMO_PATIENTS)
    workers = os.environ.get("HMS_BENCH_LOAD_WORKERS", "2")
    env = {"HMS_DATABASE_URL": url, "REDIS_URL": redis_url, "GRANIAN_WORKERS": workers}
    served = _start(stack, data_dir, "load-scaled", env)
    say(f"  scaled out: PostgreSQL, Redis at {redis_url}, {workers} backend workers")
    try:
        _run_sizes("_scaled", served, url, figures)
    finally:
        served.stop()
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(redis_url).flushdb()  # the tabs' states, in the benchmark's own database


BENCHMARKS = [
    (("load_inprocess",), bench_inprocess),
    (("load_scaled",), bench_scaled),
]
GROUPS: dict[str, list[str]] = {"load": ["load_inprocess", "load_scaled"]}
