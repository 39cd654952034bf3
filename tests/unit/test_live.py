"""Live notices: who is woken by what, and the board watcher's life cycle (in process)."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest

from hms_app.services import live
from hms_app.state import live as live_state


@pytest.fixture
def local_transport(monkeypatch, tmp_path):
    monkeypatch.setenv("HMS_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    live.get_settings.cache_clear()
    yield
    live.get_settings.cache_clear()


def test_a_notice_wakes_the_boards_of_its_topic_and_key_only(local_transport):
    async def scenario():
        hub = live.Hub()
        async with (
            hub.subscribe(live.BEDS, frozenset({"3"})) as ward_3,
            hub.subscribe(live.BEDS) as all_wards,
            hub.subscribe(live.QUEUE) as queue,
        ):
            hub.deliver("beds|4")
            assert not ward_3.changed.is_set() and all_wards.changed.is_set() and not queue.changed.is_set()
            hub.deliver("beds|3")
            assert await ward_3.wait(0.1)
            assert not await ward_3.wait(0.01), "one notice wakes a board once"
            hub.deliver("beds")  # no key: every board of the topic
            assert await ward_3.wait(0.1) and await all_wards.wait(0.1)
        assert hub.subscriptions == set(), "a closed board leaves no subscription behind"

    asyncio.run(scenario())


def test_publish_from_a_service_thread_reaches_a_waiting_board(local_transport, monkeypatch):
    hub = live.Hub()
    monkeypatch.setattr(live, "_hub", hub)

    async def scenario():
        async with hub.subscribe(live.APPOINTMENTS, frozenset({"7"})) as board:
            worker = threading.Thread(target=live.publish, args=(live.APPOINTMENTS, 7))
            worker.start()
            woke = await board.wait(2.0)
            worker.join()
            return woke

    assert asyncio.run(scenario())


def test_unknown_topics_are_refused():
    with pytest.raises(ValueError):
        live.publish("appointment")  # a typo must not silently notify nobody


class FakeBoardState:
    """What live_changes needs of a Reflex state: the tab's token, the route, the state lock."""

    def __init__(
        self, token: str, route: str = "/wards", permissions: frozenset = frozenset({"patient.read"})
    ):
        self.router = SimpleNamespace(
            session=SimpleNamespace(client_token=token), url=SimpleNamespace(path=route)
        )
        self.actor = (
            None if permissions is None else SimpleNamespace(can=lambda permission: permission in permissions)
        )

    async def _current_actor(self):
        return self.actor

    @classmethod
    def get_full_name(cls) -> str:
        return "fake_board_state"

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


def test_the_watcher_runs_once_per_tab_and_ends_when_the_tab_leaves(local_transport, monkeypatch):
    hub = live.Hub()
    monkeypatch.setattr(live, "_hub", hub)
    monkeypatch.setattr(live_state, "CONNECTED_CHECK_SECONDS", 0.05)
    connected = {"tab-1": True}

    async def scenario():
        state = FakeBoardState("tab-1")
        seen: list[None] = []

        async def watch():
            async for item in live_state.live_changes(
                state, live.BEDS, permission="patient.read", connected=lambda t: connected[t]
            ):
                seen.append(item)

        first = asyncio.create_task(watch())
        await asyncio.sleep(0.02)
        second = asyncio.create_task(watch())
        await asyncio.wait_for(second, 1.0)  # returns at once: this tab already has a watcher
        hub.deliver("beds|1")
        await asyncio.sleep(0.02)
        assert len(seen) == 1
        state.router.url.path = "/patients"  # navigated away: the board is gone
        await asyncio.wait_for(first, 1.0)
        assert hub.subscriptions == set()
        assert ("tab-1", "fake_board_state") not in live_state._running

        state.router.url.path = "/wards"
        third = asyncio.create_task(watch())
        await asyncio.sleep(0.02)
        connected["tab-1"] = False  # the tab closed
        await asyncio.wait_for(third, 1.0)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "permissions",
    [None, frozenset(), frozenset({"billing.read"})],
    ids=["anonymous", "no-role", "other-role"],
)
def test_a_watch_without_the_boards_permission_never_subscribes(local_transport, monkeypatch, permissions):
    """Issue 11, item 15: a client calling a board's public watch handler by name gets nothing."""
    hub = live.Hub()
    monkeypatch.setattr(live, "_hub", hub)
    subscribed = []
    real_subscribe = hub.subscribe
    monkeypatch.setattr(hub, "subscribe", lambda *a, **k: subscribed.append(a) or real_subscribe(*a, **k))
    denials = []

    async def record(fn, /, **kwargs):
        denials.append((fn.__name__, kwargs["permission"], kwargs["handler"]))

    monkeypatch.setattr(live_state, "call_service", record)

    async def scenario():
        state = FakeBoardState("tab-x", permissions=permissions)
        seen = [
            item
            async for item in live_state.live_changes(
                state, live.BEDS, permission="patient.read", connected=lambda t: True
            )
        ]
        return seen

    assert asyncio.run(asyncio.wait_for(scenario(), 2.0)) == []
    assert subscribed == [] and hub.subscriptions == set()
    # A signed-in user of another role is on the audit trail; an anonymous client has no one to name.
    assert denials == (
        [] if permissions is None else [("_record_denial", "patient.read", "FakeBoardState.watch")]
    )
