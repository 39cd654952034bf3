"""Time helpers: moments are stored as aware UTC and shown in the hospital's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hms_app.settings import get_settings


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (what every DateTime column stores and returns)."""
    return datetime.now(UTC)


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
