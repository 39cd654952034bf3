"""What every domain's services do with what a screen sends: an id that must be a positive whole
number, and the name a row records for who did something. One copy, shared by the laboratory and
the pharmacy (and whatever domain comes next)."""

from __future__ import annotations

from hms_app.errors import ValidationError
from hms_app.services.permissions import Actor


def actor_name(actor: Actor) -> str:
    """The name a row keeps for who acted (``collected_by``, ``dispensed_by`` ...)."""
    return (actor.username or actor.display_name or "unknown")[:60]


def as_id(value, *, field: str, label: str) -> int:
    """An id sent by a screen: a positive whole number, or a message."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"Choose a {label}.", field=field)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationError(f"Choose a {label}.", field=field) from None
    if number < 1:
        raise ValidationError(f"Choose a {label}.", field=field)
    return number
