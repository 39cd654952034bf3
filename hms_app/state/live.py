"""The board side of live notices: a background event that waits for changes.

A board's state starts one watcher per tab from its page's ``on_load``::

    @rx.event(background=True)
    @public("subscribes only after live_changes has checked the board's permission; reads no data")
    async def watch(self):
        async for _ in live_changes(self, live.BEDS, permission="patient.read"):
            yield BedBoardState.refresh

Each notice makes the watcher queue the board's own guarded refresh handler on the server (no
round trip through the browser), so the permission check and the query run exactly as when the
user opens the page. The watcher holds no state lock while it waits, runs at most once per tab
and board, and ends when the tab goes away or leaves the board's page.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterable

from reflex.config import get_config

from hms_app.services import live
from hms_app.state.session import _record_denial, call_service

# How often a waiting watcher checks that its tab is still connected.
CONNECTED_CHECK_SECONDS = 5.0

# (tab token, state name) of the watchers running on this worker.
_running: set[tuple[str, str]] = set()


def _connected(token: str) -> bool:
    # The running app is looked up, not imported: the app module imports every page and state.
    app = getattr(sys.modules.get(get_config().module), "app", None)
    namespace = getattr(app, "event_namespace", None)
    return namespace is None or token in namespace.token_to_sid


async def _still_on(state, route: str) -> bool:
    async with state:  # a background task sees fresh router data only under the state lock
        return state.router.url.path == route


async def _may_watch(state, permission: str) -> bool:
    """Whether the tab's signed-in user holds ``permission``: checked before subscribing, so that an
    anonymous client or another role calling a board's watch by name gets no subscription at all."""
    async with state:  # the session check records the actor on the state
        actor = await state._current_actor()
    if actor is None:
        return False
    if not actor.can(permission):
        # Audited like any refused handler: an auditor sees a role probing another role's boards.
        handler = f"{state.__class__.__name__}.watch"  # a proxy of a background task forwards __class__
        await call_service(_record_denial, actor=actor, permission=permission, handler=handler)
        return False
    return True


async def _still_allowed(state, permission: str) -> bool:
    async with state:
        actor = await state._current_actor()
    return actor is not None and actor.can(permission)


async def live_changes(
    state,
    topic: str,
    keys: Iterable[str | int | None] = (),
    *,
    permission: str,
    connected=_connected,
    any_page: bool = False,
    every: float | None = None,
) -> AsyncIterator[None]:
    """Yield once per change notice on ``topic`` (for ``keys``, or any key) while the tab is open,
    for a user who holds ``permission``; for anyone else, nothing (no subscription).

    A board's watcher ends when its tab leaves the board's page. ``any_page`` keeps it for as long
    as the tab is open (a part of the layout shell, shown on every page); it ends instead once the
    tab's session no longer holds ``permission`` (signed out), checked when a notice arrives.

    ``every`` also yields when that many seconds pass without a notice: for a board whose rows
    change with the clock alone (a dose turning late)."""
    if not await _may_watch(state, permission):
        return
    token = state.router.session.client_token
    route = state.router.url.path
    marker = (token, state.get_full_name())  # a background task gets a StateProxy, which forwards this
    if not token or marker in _running:
        return  # a second on_load (navigating back) must not start a second watcher
    _running.add(marker)
    try:
        wanted = frozenset(str(key) for key in keys if key is not None)
        async with live.hub().subscribe(topic, wanted) as subscription:
            last = time.monotonic()
            while connected(token):
                if await subscription.wait(CONNECTED_CHECK_SECONDS):
                    if any_page and not await _still_allowed(state, permission):
                        break  # signed out (or the role changed): nothing more to show this tab
                    last = time.monotonic()
                    yield None
                elif not any_page and not await _still_on(state, route):
                    break  # the tab moved to another page: its board is gone
                elif every is not None and time.monotonic() - last >= every:
                    last = time.monotonic()
                    yield None
    finally:
        _running.discard(marker)
