"""Change notices for live boards: services publish after commit, boards reload.

``publish(topic, key)`` is called by a service after its transaction commits. Each backend
worker runs one watcher that hears every notice and wakes the boards open on that worker that
follow the topic; each board then reloads its own page of rows. No browser polls the database.

How a notice travels depends on how the hospital runs, without a code change:

- ``REDIS_URL`` set (several workers): Redis pub/sub on one channel; every worker's watcher
  subscribes, so a change made through any worker reaches the boards on all of them.
- PostgreSQL without Redis (one worker): ``NOTIFY`` on one channel, so changes made by another
  process (the ``hms`` command line, a second server) reach the boards too.
- SQLite (the embedded mode: one process): delivered in process.

A notice carries only a topic and a key (a department or ward id), never patient data. Losing
one (a Redis restart) costs a board one refresh: boards also reload when they reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from hms_app import modules
from hms_app.settings import get_settings

log = logging.getLogger("hms.live")

# Topics: one per kind of board-visible change. The key narrows it (a department id, a ward id).
APPOINTMENTS = "appointments"
QUEUE = "queue"
BEDS = "beds"
BILLING = "billing"
TOPICS = frozenset(modules.collect("live_topics"))  # what the modules declare

CHANNEL = "hms_live"  # the Redis channel and the PostgreSQL NOTIFY channel
RECONNECT_SECONDS = 1.0


def _encode(topic: str, key: str | None) -> str:
    return topic if key is None else f"{topic}|{key}"


def _decode(message: str) -> tuple[str, str | None]:
    topic, _, key = message.partition("|")
    return topic, key or None


def transport() -> str:
    """Which way notices travel with the current settings: redis, postgresql or local."""
    settings = get_settings()
    if settings.redis_url:
        return "redis"
    if settings.database_url.startswith("postgresql"):
        return "postgresql"
    return "local"


def publish(topic: str, key: str | int | None = None) -> None:
    """Tell every open board that follows ``topic`` (and ``key``, or every key) that it changed.

    Call it after the commit: a board that reloads before the commit would not see the change.
    A failure to notify never undoes the committed change; it is logged and the boards catch up
    on their next refresh.
    """
    if topic not in TOPICS:
        raise ValueError(f"unknown live topic {topic!r}")
    message = _encode(topic, None if key is None else str(key))
    try:
        kind = transport()
        if kind == "redis":
            _redis_client().publish(CHANNEL, message)
        elif kind == "postgresql":
            _notify_postgres(message)
        else:
            hub().deliver_threadsafe(message)
    except Exception:  # noqa: BLE001 - the change is committed; a missed notice must not undo it
        log.exception("could not publish live notice %s", message)


_redis_lock = threading.Lock()
_redis_clients: dict[str, object] = {}


def _redis_client():
    import redis

    url = get_settings().redis_url
    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None:
            client = _redis_clients[url] = redis.Redis.from_url(url)
        return client


def _notify_postgres(message: str) -> None:
    from sqlalchemy import func, select

    from hms_app.db import get_engine

    with get_engine().connect() as conn:
        conn.execute(select(func.pg_notify(CHANNEL, message)))
        conn.commit()


@dataclass(eq=False)
class Subscription:
    """One open board's interest: a topic and the keys it shows (empty: every key)."""

    topic: str
    keys: frozenset[str]
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, topic: str, key: str | None) -> bool:
        return topic == self.topic and (key is None or not self.keys or key in self.keys)

    async def wait(self, timeout: float) -> bool:
        """True when a change arrived (several changes in a row wake the board once)."""
        try:
            await asyncio.wait_for(self.changed.wait(), timeout)
        except TimeoutError:
            return False
        self.changed.clear()
        return True


class Hub:
    """The per-worker watcher: one upstream listener, fanned out to the boards on this worker."""

    def __init__(self) -> None:
        self.subscriptions: set[Subscription] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.listener: asyncio.Task | None = None
        self.listener_kind: str | None = None
        self.delivered = 0  # notices received, for tests and the benchmark

    def deliver(self, message: str) -> None:
        """Wake the subscriptions the notice concerns (on the hub's event loop)."""
        topic, key = _decode(message)
        self.delivered += 1
        for subscription in list(self.subscriptions):
            if subscription.matches(topic, key):
                subscription.changed.set()

    def deliver_threadsafe(self, message: str) -> None:
        """Deliver from any thread (services run in worker threads); nothing listens without a loop."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self.deliver, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str, keys: frozenset[str] = frozenset()) -> AsyncIterator[Subscription]:
        if topic not in TOPICS:
            raise ValueError(f"unknown live topic {topic!r}")
        self._ensure_listener()
        subscription = Subscription(topic, keys)
        self.subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self.subscriptions.discard(subscription)

    def _ensure_listener(self) -> None:
        loop = asyncio.get_running_loop()
        kind = transport()
        if self.loop is not loop:
            self.loop, self.listener = loop, None
        if self.listener is not None and not self.listener.done() and self.listener_kind == kind:
            return
        if self.listener is not None and not self.listener.done():
            self.listener.cancel()
        self.listener_kind = kind
        if kind == "redis":
            self.listener = loop.create_task(self._listen_redis(), name="hms-live-redis")
        elif kind == "postgresql":
            self.listener = loop.create_task(self._listen_postgres(), name="hms-live-postgresql")
        else:
            self.listener = None  # local notices are delivered straight to the loop

    async def _listen_redis(self) -> None:
        import redis.asyncio as aioredis

        while True:
            client = aioredis.Redis.from_url(get_settings().redis_url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for item in pubsub.listen():
                        if item.get("type") == "message":
                            data = item["data"]
                            self.deliver(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep listening through a Redis restart
                log.warning("live notices: Redis listener lost its connection; reconnecting", exc_info=True)
                self._wake_everyone()
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def _listen_postgres(self) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(get_settings().database_url).set(drivername="postgresql")
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    url.render_as_string(hide_password=False), autocommit=True
                )
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    async for notice in conn.notifies():
                        self.deliver(notice.payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep listening through a database restart
                log.warning(
                    "live notices: PostgreSQL listener lost its connection; reconnecting", exc_info=True
                )
                self._wake_everyone()
                await asyncio.sleep(RECONNECT_SECONDS)

    def _wake_everyone(self) -> None:
        # Notices may have been missed while disconnected: every board reloads once.
        for subscription in list(self.subscriptions):
            subscription.changed.set()


_hub = Hub()


def hub() -> Hub:
    return _hub
