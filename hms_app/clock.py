"""Time helpers: moments are stored as aware UTC and shown in the hospital's time zone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime

from hms_app.settings import get_settings

# A moment the clock is held at: only the demo seeders set it, to write a year of history through
# the same services that staff use (each row then carries the moment it stands for).
_held: ContextVar[datetime | None] = ContextVar("hms_clock_held", default=None)


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (what every DateTime column stores and returns)."""
    return _held.get() or datetime.now(UTC)


@contextmanager
def held_at(moment: datetime) -> Iterator[None]:
    """Hold ``utcnow`` and ``local_today`` at ``moment`` inside the block (this thread or task only)."""
    if moment.tzinfo is None:
        raise ValueError("hold the clock at an aware moment")
    token = _held.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _held.reset(token)


def local_today() -> date:
    """Today in the hospital's time zone: the day schedules, ages, boards and periods count on."""
    return to_local(utcnow()).date()


def to_local(moment: datetime | None) -> datetime | None:
    """A stored UTC moment in the hospital's time zone."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(get_settings().tz)


def format_local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    local = to_local(moment)
    return local.strftime(fmt) if local else ""
