"""What every staff scheduling screen shares: status labels and colours, the choice of a list,
today's date, and reading what the browser sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hms_app import words
from hms_app.clock import local_today
from hms_app.errors import ValidationError
from hms_app.state.forms import form_text

STATUS_LABELS = words.APPOINTMENT_STATUS
STATUS_COLORS = {
    "offered": "cyan",
    "booked": "blue",
    "arrived": "amber",
    "in_room": "violet",
    "completed": "green",
    "cancelled": "gray",
    "no_show": "red",
}
KIND_LABELS = words.RESOURCE_KIND
MAX_TEXT = 300
MAX_QUERY = 100
ANY = "any"  # a select item cannot have the empty value: "any resource"


def parse_day(value) -> date:
    """A day the browser sent (YYYY-MM-DD), within five years of today."""
    if not isinstance(value, str) or len(value) > 10:
        raise ValidationError("Choose a day.", field="day")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError("Choose a day.", field="day") from None
    if abs((day - local_today()).days) > 5 * 366:
        raise ValidationError("Choose a day within five years of today.", field="day")
    return day


def form_value(form, key: str) -> str:
    """A field of a submitted form as text without surrounding spaces (at most ``MAX_TEXT`` long)."""
    return form_text(form, key, limit=MAX_TEXT).strip()


@dataclass
class Option:
    id: str = ""
    label: str = ""
    kind: str = ""
