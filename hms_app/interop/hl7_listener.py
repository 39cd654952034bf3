"""The MLLP listener analysers connect to (`hms lab listen`): python-hl7's asyncio MLLP server.

One connection's messages are handled in order, each stored and committed in its own database
session on a worker thread before its ACK is written back; connections are served side by side.
A connection that closes in the middle of a message has that message dropped unanswered, and a
fault while storing (the database away) closes the connection without an answer: in both cases
the analyser sends the message again, and the message's control id keeps it from being stored
twice. One log line per message, without patient data (logs are read by more people).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hl7.mllp import InvalidBlockError, start_hl7_server
from sqlalchemy import Engine
from sqlmodel import Session

from hms_app.db import make_engine, session_scope
from hms_app.errors import DomainError
from hms_app.interop.hl7_lab import Hl7Outcome, receive_hl7
from hms_app.services import live
from hms_app.settings import get_settings

log = logging.getLogger("hms.hl7")

MAX_MESSAGE_BYTES = 1 << 20
LOG_FORMAT = "%(asctime)s %(processName)s %(message)s"  # an ORU of a full panel is a few kilobytes


NOTICE_DELAY_S = 0.25


class GatheredNotices:
    """Live notices for a burst of messages: the first commit of a burst schedules one notice a
    moment later, which every commit until then shares. A board hears of each stored message at
    most ``delay`` after its commit, and reloads once per burst instead of once per message."""

    def __init__(self, delay: float = NOTICE_DELAY_S, publish: Callable[[str], None] | None = None) -> None:
        self.delay = delay
        self._publish = publish
        self._lock = threading.Lock()
        self._pending: set[str] = set()

    def __call__(self, topic: str) -> None:
        with self._lock:
            if topic in self._pending:
                return
            self._pending.add(topic)
        timer = threading.Timer(self.delay, self._send, args=(topic,))
        timer.daemon = True
        timer.start()

    def _send(self, topic: str) -> None:
        with self._lock:
            self._pending.discard(topic)  # a commit from now on schedules the next notice
        (self._publish or live.publish)(topic)


# SQLite has one writer at a time, and a writer that finds the database locked sleeps in steps
# before it tries again: the listener's own connections queue here instead, and the next message
# starts the moment the last one commits.
_SQLITE_WRITER = threading.Lock()


@functools.cache
def _server_engine(url: str) -> Engine:
    """The listener's engine for a database server, without the pool's test query before each
    message (a round trip per message): a pooled connection the server dropped fails the message's
    first statement, which leaves the message unanswered and the pool reconnecting, and the
    analyser sends the message again."""
    return make_engine(url, pre_ping=False)


def receive_in_own_session(
    raw: bytes, database_url: str | None = None, notify: Callable[[str], None] | None = None
) -> Hl7Outcome:
    url = database_url or get_settings().database_url
    if url.startswith("sqlite"):
        with _SQLITE_WRITER, session_scope(url) as session:
            return receive_hl7(session, raw, notify=notify)
    with Session(_server_engine(url), expire_on_commit=False) as session:  # closing rolls back
        return receive_hl7(session, raw, notify=notify)


def _log_line(peer: str, outcome: Hl7Outcome, milliseconds: float) -> str:
    what = (
        f"{outcome.results} result{'s' if outcome.results != 1 else ''}" if outcome.ack_code == "AA" else ""
    )
    parts = [
        f"{peer}",
        f"{outcome.sender}",
        f"#{outcome.control_id}",
        outcome.message_type or "?",
        outcome.ack_code,
        what or outcome.reason,
        "(again: same answer)" if outcome.duplicate else "",
        f"{milliseconds:.0f} ms",
    ]
    return " ".join(part for part in parts if part)


async def serve(
    host: str,
    port: int,
    *,
    database_url: str | None = None,
    receive: Callable[..., Hl7Outcome] = receive_in_own_session,
    reuse_port: bool = False,
    notices: GatheredNotices | None = None,
) -> asyncio.AbstractServer:
    """Start listening on ``host``:``port`` (0: any free port); the server object."""
    notices = notices or GatheredNotices()
    # SQLite stores one message at a time whatever the number of threads: one thread does it
    # (the same connection, no thread waking only to queue for the writer's lock behind the
    # others, which costs the interpreter lock more than the wait). PostgreSQL stores messages
    # side by side, a thread each.
    url = database_url or get_settings().database_url
    storer = ThreadPoolExecutor(1, thread_name_prefix="hms-hl7-store") if url.startswith("sqlite") else None
    loop = asyncio.get_running_loop()

    async def connection(reader, writer) -> None:
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        try:
            while True:
                try:
                    block = await reader.readblock()
                except asyncio.IncompleteReadError as cut:
                    if cut.partial.strip():
                        log.warning("%s closed in the middle of a message: dropped unanswered", peer)
                    return
                except InvalidBlockError:
                    # Bytes outside an MLLP frame: answered as a message that cannot be read.
                    block = b"\x00"
                except ValueError:
                    log.warning("%s sent a message over %s bytes: closing", peer, MAX_MESSAGE_BYTES)
                    return
                started = time.perf_counter()
                outcome = await loop.run_in_executor(storer, receive, block, database_url, notices)
                writer.writeblock(outcome.ack.encode("utf-8"))
                await writer.drain()
                log.info(_log_line(peer, outcome, (time.perf_counter() - started) * 1000))
        except (ConnectionError, asyncio.CancelledError):
            return
        except Exception:  # noqa: BLE001 - no answer: the analyser sends it again
            log.exception("%s: storing a message failed; closing without an answer", peer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    return await start_hl7_server(
        connection, host, port, limit=MAX_MESSAGE_BYTES, reuse_port=reuse_port or None
    )


async def listen(host: str, port: int, *, reuse_port: bool = False) -> None:
    """Serve until SIGINT or SIGTERM (`hms lab listen`)."""
    server = await serve(host, port, reuse_port=reuse_port)
    bound = ", ".join(f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in server.sockets)
    log.info("listening for HL7 v2 ORU^R01 over MLLP on %s", bound)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()
    log.info("stopped listening")


def _worker(host: str, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stdout)
    asyncio.run(listen(host, port, reuse_port=True))


def run_listener(host: str, port: int, *, workers: int = 1) -> None:
    """`hms lab listen`: serve in this process, or in ``workers`` processes that share the port
    (the kernel hands each new connection to one of them). Storing a message is Python work under
    one interpreter lock, so on PostgreSQL more processes use more cores; SQLite has one writer at
    a time, so its listener is one process."""
    if workers < 1 or (workers > 1 and port == 0):
        raise ValueError("several listener processes need one fixed port")
    if workers > 1 and get_settings().is_sqlite:
        raise DomainError("SQLite takes one writer at a time: run one listener process (--workers 1).")
    if workers == 1:
        asyncio.run(listen(host, port))
        return
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_worker, args=(host, port), name=f"hms-hl7-{n + 1}") for n in range(workers)
    ]
    for child in children:
        child.start()
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.is_set() and any(child.is_alive() for child in children):
            stop.wait(0.5)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: each finishes the message it is storing, then stops
        for child in children:
            child.join(30)
