"""Live board propagation: how long after a nurse changes a bed every open bed board shows it.

Figures (``BENCH board_propagation_<mode>_<n>_p50|p95 <ms> ms``, n = 1 and 100 boards open):

- ``board_propagation_inprocess``: one ``hms serve`` on SQLite (the embedded mode: one backend
  worker, notices delivered in process);
- ``board_propagation_redis``: ``hms serve`` on PostgreSQL with ``REDIS_URL`` and
  ``GRANIAN_WORKERS`` (default 3) backend workers: the boards are spread over the workers by the
  kernel, so most notices cross from the nurse's worker to another through Redis pub/sub.

A "board" is a lightweight client that speaks Reflex's own websocket protocol exactly as a
browser tab does (socket.io on ``/_event``, opened with the HttpOnly session cookie in its upgrade
request, the ``hydrate_and_load`` boot event, then the page's on_load events: the bed board loads and starts its watcher). It
has its own tab token and state on the server; it just does not draw. All the boards share one
asyncio loop in the benchmark's process (``TabLoop``). The nurse is one more
such tab that sends the board's own events (take a bed out of service, return it, mark it
clean), so each change goes through the real handler, service, commit and publish. The latency
of one board is from the moment the nurse's event is sent until that board receives the state
delta showing the bed's new status; browser rendering (a few ms) is not included.

Environment: ``HMS_BENCH_BOARDS_CHANGES`` (changes per size, default 20), ``HMS_BENCH_BOARDS_WORKERS``
(3), ``HMS_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``), ``HMS_BENCH_BOARDS_DB`` (the
scratch PostgreSQL database, default ``hms_bench_boards``, created and dropped here, on
``HMS_BENCH_POSTGRES_SERVER``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

SIZES = (1, 100)
CHANGE_TIMEOUT_S = 15.0
CONNECT_TIMEOUT_S = 60.0
PAUSE_BETWEEN_CHANGES_S = 0.3
STATE = "reflex___state____state"
SESSION = f"{STATE}.hms_app___state___session____session_state"
BOARD = f"{SESSION}.hms_app___state___boards___bed_board____bed_board_state"
DEMO_PATIENTS = 200
SESSION_COOKIE = "hms_session"
BOARD_USERS = ("dr.grey", "nurse.joy", "reception", "lab.tech")  # a few sign-ins shared by the tabs


def _changes() -> int:
    return max(3, int(os.environ.get("HMS_BENCH_BOARDS_CHANGES", "20")))


class TabLoop:
    """One asyncio loop, in its own thread, that runs every tab's socket.

    Real boards are separate browsers on separate machines; here all of them share one client
    process. A thread per tab (the synchronous socket.io client also starts a thread per message)
    makes the tabs queue for the interpreter lock, and that queueing would be measured as board
    latency. One loop receives each update as soon as it arrives.
    """

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-tabs", daemon=True)
        self.thread.start()

    def run(self, coroutine, timeout: float = CONNECT_TIMEOUT_S):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Tab:
    """One browser tab on /wards, speaking Reflex's websocket protocol."""

    def __init__(self, tabs: TabLoop, url: str, session_token: str, ward_id: int, bed_id: int) -> None:
        import socketio

        self.tabs, self.url, self.ward_id, self.bed_id = tabs, url, ward_id, bed_id
        self.session_token = session_token
        self.token = str(uuid.uuid4())
        self.client = socketio.AsyncClient(reconnection=False)
        self.loaded = threading.Event()
        self.status: str | None = None
        self.version = 0
        self.waiting_for: tuple[str, threading.Event] | None = None
        self.seen_at = 0.0
        self.lock = threading.Lock()
        self.client.on("event", self._on_event, namespace="/_event")

    def router_data(self) -> dict:
        return {
            "pathname": "/wards",
            "asPath": f"/wards?ward={self.ward_id}",
            "query": {"ward": str(self.ward_id)},
        }

    def open(self) -> None:
        auth = {
            "event": {
                "name": f"{STATE}.hydrate_and_load",
                "payload": {"vars": {}},
                "router_data": self.router_data(),
            }
        }
        self.tabs.run(
            self.client.connect(
                f"{self.url}?token={self.token}",
                socketio_path="/_event",
                transports=["websocket"],
                namespaces=["/_event"],
                # As a browser sends it: the state reads the session from the upgrade request.
                headers={"Cookie": f"{SESSION_COOKIE}={self.session_token}"},
                auth=auth,
                wait_timeout=30,
            )
        )

    def _on_event(self, update: dict) -> None:
        now = time.perf_counter()
        board = (update.get("delta") or {}).get(BOARD)
        if not board:
            return
        beds = board.get("beds_rx_state_")
        with self.lock:
            self.version = board.get("version_rx_state_", self.version)
            if beds is not None:
                for bed in beds:
                    if bed.get("id") == self.bed_id:
                        self.status = bed.get("status")
                if self.version:
                    self.loaded.set()
            if self.waiting_for and self.status == self.waiting_for[0]:
                self.seen_at = now
                self.waiting_for[1].set()
                self.waiting_for = None

    def expect(self, status: str) -> threading.Event:
        done = threading.Event()
        with self.lock:
            self.seen_at = 0.0
            if self.status == status:
                self.seen_at = time.perf_counter()
                done.set()
            else:
                self.waiting_for = (status, done)
        return done

    def send(self, handler: str, **payload) -> None:
        self.tabs.run(
            self.client.emit(
                "event",
                {"name": f"{BOARD}.{handler}", "payload": payload, "router_data": self.router_data()},
                namespace="/_event",
            )
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.tabs.run(self.client.disconnect(), timeout=10)


def _sign_ins(database_url: str) -> list[str]:
    from hms_app.db import session_scope
    from hms_app.seed.registry import DEMO_PASSWORD
    from hms_app.services import security

    tokens = []
    with session_scope(database_url) as session:
        for username in BOARD_USERS:
            tokens.append(security.sign_in(session, username=username, password=DEMO_PASSWORD).token)
    return tokens


def _ward_and_bed(database_url: str) -> tuple[int, int, str]:
    """A free bed (the one the nurse keeps changing) on the largest ward that has one.

    A demo hospital may have no free bed at all: then a bed being cleaned is marked clean first
    (before any board is open, so that change is not measured).
    """
    from sqlalchemy import func, select

    from hms_app.db import session_scope
    from hms_app.models.wards import Bed
    from hms_app.services import wards
    from hms_app.services.permissions import SYSTEM_ACTOR

    sizes = select(Bed.ward_id, func.count().label("beds")).group_by(Bed.ward_id).subquery()
    with session_scope(database_url) as session:
        for status in ("free", "cleaning"):
            row = session.execute(
                select(Bed.ward_id, Bed.id, Bed.label)
                .join(sizes, sizes.c.ward_id == Bed.ward_id)
                .where(Bed.status == status)
                .order_by(sizes.c.beds.desc(), Bed.label)
                .limit(1)
            ).first()
            if row is not None:
                if status == "cleaning":
                    wards.mark_bed_clean(session, actor=SYSTEM_ACTOR, bed_id=row[1])
                return row[0], row[1], row[2]
    raise RuntimeError("no bed is free or being cleaned in the benchmark's hospital")


def process_group_cpu_ms(pgid: int) -> float:
    """CPU time (user + system) used so far by every process of a process group (Linux /proc)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total * 1000 / os.sysconf("SC_CLK_TCK")


def _workers_of(redis_url: str, tokens: list[str]) -> list[str | None]:
    """The backend worker (Reflex instance id) holding each tab's socket, from Redis."""
    import pickle

    import redis

    client = redis.Redis.from_url(redis_url)
    found = []
    for token in tokens:
        record = client.get(f"token_manager_socket_record_{token}")
        found.append(pickle.loads(record).instance_id if record else None)  # noqa: S301 - Reflex's own record
    return found


def _measure(
    url: str, database_url: str, boards: int, changes: int, cpu_probe=None, redis_url: str | None = None
) -> tuple[list[float], float | None]:
    """Open ``boards`` boards and a nurse's tab; make ``changes`` changes.

    Returns the latencies in ms, and the server's CPU time per board update (ms) when
    ``cpu_probe`` (the server's CPU time so far) is given: the cost that grows with the boards.
    """
    from bench.run import say

    ward_id, bed_id, label = _ward_and_bed(database_url)
    tokens = _sign_ins(database_url)
    nurse_token = tokens[1]
    loop = TabLoop()
    tabs: list[Tab] = []
    nurse = Tab(loop, url, nurse_token, ward_id, bed_id)
    try:
        started = time.perf_counter()
        nurse.open()
        for index in range(boards):
            tab = Tab(loop, url, tokens[index % len(tokens)], ward_id, bed_id)
            tab.open()
            tabs.append(tab)
        for tab in [nurse, *tabs]:
            if not tab.loaded.wait(CONNECT_TIMEOUT_S):
                raise RuntimeError("a board did not load within a minute")
        say(
            f"  {boards} board(s) open on ward {ward_id} in {time.perf_counter() - started:.1f} s; bed {label}"
        )
        if redis_url:
            nurse_worker, *board_workers = _workers_of(redis_url, [nurse.token, *(t.token for t in tabs)])
            elsewhere = sum(1 for worker in board_workers if worker != nurse_worker)
            say(
                f"  the boards' sockets are on {len(set(board_workers))} backend worker(s); "
                f"{elsewhere} of {boards} on another worker than the nurse's"
            )
        time.sleep(1.0)  # every board's watcher has subscribed (they start right after the load)
        # The bed's cycle: free -> out of service -> cleaning -> free, each step one change.
        steps = [
            (
                "out_of_service",
                [
                    ("open_out_of_service", {"bed_id": str(bed_id)}),
                    ("submit_out_of_service", {"form": {"reason": "Benchmark"}}),
                ],
            ),
            ("cleaning", [("return_to_service", {"bed_id": str(bed_id)})]),
            ("free", [("mark_clean", {"bed_id": str(bed_id)})]),
        ]
        samples: list[float] = []
        missed = 0
        cpu_before = cpu_probe() if cpu_probe else 0.0
        for number in range(changes):
            status, events = steps[number % len(steps)]
            waits = [(tab, tab.expect(status)) for tab in tabs]
            for handler, payload in events[:-1]:
                nurse.send(handler, **payload)
            time.sleep(0.05)  # the dialog opens before its form is sent, as a person would
            sent = time.perf_counter()
            nurse.send(events[-1][0], **events[-1][1])
            deadline = sent + CHANGE_TIMEOUT_S
            for tab, done in waits:
                if done.wait(max(0.0, deadline - time.perf_counter())) and tab.seen_at:
                    samples.append((tab.seen_at - sent) * 1000)
                else:
                    missed += 1
            time.sleep(PAUSE_BETWEEN_CHANGES_S)
        cpu_per_update = None
        if cpu_probe:
            idle = PAUSE_BETWEEN_CHANGES_S * changes  # the server is idle then, near enough
            cpu_per_update = max(0.0, cpu_probe() - cpu_before) / max(1, changes * (boards + 1))
            say(
                f"  server CPU per board update {cpu_per_update:.2f} ms (includes {idle:.0f} s of idle pauses)"
            )
        if missed:
            say(f"  {missed} board update(s) did not arrive within {CHANGE_TIMEOUT_S:.0f} s")
        if not samples:
            raise RuntimeError("no board ever showed a change")
        return samples, cpu_per_update
    finally:
        for tab in [nurse, *tabs]:
            tab.close()
        loop.close()


def _report(mode: str, boards: int, samples: list[float], cpu_per_update: float | None) -> None:
    from bench.run import percentiles, report, say

    p50, p95 = percentiles(samples)
    say(f"  {mode}, {boards} board(s): {len(samples)} board updates, max {max(samples):.0f} ms")
    report(f"board_propagation_{mode}_{boards}_p50", p50, "ms")
    report(f"board_propagation_{mode}_{boards}_p95", p95, "ms")
    if cpu_per_update is not None:
        report(f"board_refresh_server_cpu_{mode}_{boards}", cpu_per_update, "ms/board")


def _start(stack: contextlib.ExitStack, data_dir: Path, label: str, extra_env: dict[str, str]):
    """`hms serve --no-seed` like bench.run.start_server, with the mode's settings added."""
    import subprocess
    import sys

    from bench.run import START_TIMEOUT_S, Server, _answers_200, _free_port, _server_env, _tail, say
    from hms_app.settings import PROJECT_ROOT

    port = int(os.environ.get("HMS_BENCH_PORT") or _free_port())
    url = f"http://127.0.0.1:{port}"
    log = data_dir.parent / f"server-{label}.log"
    env = {**_server_env(data_dir), **extra_env}
    say(f"starting `hms serve --port {port} --no-seed` ({label}) ...")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "hms"), "serve", "--port", str(port), "--no-seed"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(url=url, process=process, log=log)
    stack.callback(server.stop)
    deadline = time.perf_counter() + START_TIMEOUT_S
    while not _answers_200(f"{url}/login"):
        if process.poll() is not None:
            raise RuntimeError(f"hms serve exited with {process.returncode}:\n{_tail(log)}")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"hms serve did not serve /login within {START_TIMEOUT_S} s:\n{_tail(log)}")
        time.sleep(0.2)
    return server


def _run_sizes(mode: str, server, database_url: str, redis_url: str | None = None) -> None:
    pgid = server.process.pid  # `hms serve` leads its own process group: reflex and its workers

    def probe() -> float:
        return process_group_cpu_ms(pgid)

    for boards in SIZES:
        samples, cpu_per_update = _measure(server.url, database_url, boards, _changes(), probe, redis_url)
        _report(mode, boards, samples, cpu_per_update)


def bench_inprocess(stack: contextlib.ExitStack, figures: set[str]) -> None:
    from bench.run import fresh_database, say

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-boards-")))
    data_dir = workdir / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'hms.db'}"
    say(f"preparing a SQLite hospital ({DEMO_PATIENTS} patients, wards and beds) ...")
    fresh_database(url, data_dir, DEMO_PATIENTS)
    server = _start(stack, data_dir, "boards-inprocess", {})
    try:
        _run_sizes("inprocess", server, url)
    finally:
        server.stop()


def bench_redis(stack: contextlib.ExitStack, figures: set[str]) -> None:
    import redis

    from bench.run import Skip, fresh_database, say, scratch_postgres

    redis_url = os.environ.get("HMS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        raise Skip(f"Redis is not reachable at {redis_url}: {error}") from error
    name = os.environ.get("HMS_BENCH_BOARDS_DB", "hms_bench_boards")
    url = scratch_postgres(stack, name)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-boards-redis-")))
    data_dir = workdir / "data"
    data_dir.mkdir()
    say(f"preparing a PostgreSQL hospital in {name!r} ({DEMO_PATIENTS} patients, wards and beds) ...")
    fresh_database(url, data_dir, DEMO_PATIENTS)
    workers = os.environ.get("HMS_BENCH_BOARDS_WORKERS", "3")
    env = {"HMS_DATABASE_URL": url, "REDIS_URL": redis_url, "GRANIAN_WORKERS": workers}
    served = _start(stack, data_dir, "boards-redis", env)
    say(f"  {workers} backend workers, Redis at {redis_url}")
    try:
        _run_sizes("redis", served, url, redis_url)
    finally:
        served.stop()


BENCHMARKS = [
    (("board_propagation_inprocess",), bench_inprocess),
    (("board_propagation_redis",), bench_redis),
]
GROUPS: dict[str, list[str]] = {"boards": ["board_propagation_inprocess", "board_propagation_redis"]}
