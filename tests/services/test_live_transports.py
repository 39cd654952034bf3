"""Live notices cross processes through PostgreSQL NOTIFY and Redis pub/sub.

Both services are required: when either cannot be reached these tests fail, they never skip.
A notice is published from a worker thread, as a service does after its commit, and must wake
a board subscribed in this process through the real server.
"""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from hms_app.services import live

REDIS_URL = os.environ.get("HMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _woken_by_publishing(hub: live.Hub, topic: str, key: int) -> bool:
    """Subscribe, then publish until the notice arrives (the listener connects asynchronously)."""

    async def scenario() -> bool:
        async with hub.subscribe(topic, frozenset({str(key)})) as board:
            for _ in range(50):
                worker = threading.Thread(target=live.publish, args=(topic, key))
                worker.start()
                worker.join()
                if await board.wait(0.1):
                    return True
                if hub.listener is not None and hub.listener.done():
                    hub.listener.result()  # the listener died: show why
            return False

    return asyncio.run(scenario())


@pytest.fixture
def fresh_hub(monkeypatch):
    hub = live.Hub()
    monkeypatch.setattr(live, "_hub", hub)
    return hub


def test_postgresql_notify_reaches_the_boards(configured_db, backend, fresh_hub, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    live.get_settings.cache_clear()
    assert live.transport() == ("postgresql" if backend == "postgresql" else "local")
    assert _woken_by_publishing(fresh_hub, live.BEDS, 5)


def test_redis_pubsub_reaches_the_boards(configured_db, fresh_hub, monkeypatch):
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {REDIS_URL} is required for this test and could not be reached: {error}")
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    live.get_settings.cache_clear()
    assert live.transport() == "redis"
    assert _woken_by_publishing(fresh_hub, live.APPOINTMENTS, 9)
    assert fresh_hub.delivered >= 1
    monkeypatch.delenv("REDIS_URL")
    live.get_settings.cache_clear()  # later tests must not inherit the Redis transport
