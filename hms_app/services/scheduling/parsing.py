"""Reading what callers send: browsers send strings, the seeders and tests send typed values.

Each parser turns a bad value into a ``ValidationError`` naming the form field, so that the
screen can show the message beside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from hms_app.errors import ValidationError
from hms_app.settings import get_settings


def as_int(value, *, field: str, label: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError(f"Choose the {label}.", field=field) from None


def as_date(value, *, field: str, label: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError(f"Enter the {label} as a date (YYYY-MM-DD).", field=field) from None


def as_time(value, *, field: str, label: str) -> time:
    if isinstance(value, time):
        return value
    try:
        parsed = time.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError(f"Enter the {label} as a time such as 08:30.", field=field) from None
    return parsed


def as_moment(value, *, field: str = "start_at", label: str = "start time") -> datetime:
    """An aware UTC moment; a naive one (or text) is read as hospital local time."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value or "").strip())
        except ValueError:
            raise ValidationError(f"Enter the {label} as a date and time.", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=get_settings().tz)
    return moment.astimezone(UTC)


def optional_resource_id(resource_id) -> int | None:
    """The chosen resource, or None when the caller left the choice open."""
    if resource_id in (None, "", 0, "0"):
        return None
    return as_int(resource_id, field="resource_id", label="resource")
