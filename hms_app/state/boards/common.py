"""What the live boards share: the read a change notice makes, shared by the boards that show
the same thing, the clock labels, and the department choice of the clinic boards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hms_app.clock import format_local, utcnow
from hms_app.services import live
from hms_app.state.session import call_service_read, shared_task

WATCH_REASON = "only waits for change notices and reads no data; the refresh it triggers is guarded"


def clock_label(moment: datetime | None) -> str:
    return format_local(moment, "%H:%M") if moment else ""


def now_label() -> str:
    return format_local(utcnow(), "%H:%M:%S")


# One read per change per worker. When a notice wakes the boards open on a worker, every board
# that shows the same thing (a ward, a department) shares one read instead of each querying the
# database: the read is keyed by what it shows and by how many notices this worker had heard when
# it started, so a later notice makes the next refresh read again. Only live refreshes share;
# opening a board (audited) and a writer's own reload after its change always read fresh. The
# guard has already checked each tab's permission before it asks; the rows are the same for all.
# The read runs on a read-only session: on SQLite it never takes the write lock, so a hundred
# refreshes never queue behind (or ahead of) a nurse's admission.
SHARED_READ_MAX_AGE_S = 5.0
_shared_reads: dict[tuple, tuple[float, int, asyncio.Task]] = {}


async def shared_read(
    key: tuple, fn: Callable[..., Any], /, *, build: Callable[[Any], Any] | None = None, **kwargs
):
    """The service ``fn(session, **kwargs)`` on a read-only session, turned into what the screen shows
    by ``build`` (if given), shared with the other refreshes of ``key`` since this worker's last notice."""

    async def read() -> Any:
        answer = await call_service_read(fn, **kwargs)
        return answer if build is None else build(answer)

    _, result = await shared_task(
        _shared_reads,
        key,
        read,
        max_age=SHARED_READ_MAX_AGE_S,
        tag=live.hub().delivered,
    )
    return result


@dataclass(frozen=True)
class DepartmentChoice:
    id: str = ""
    label: str = ""
