"""Reading what a browser submitted. Any client can send any value under any name, so a form
field is read as text or refused with a message the person can act on, the same way on every
screen."""

from __future__ import annotations

from datetime import date

from hms_app.errors import ValidationError

FORM_LIMIT = 2_000  # longer than any field of any form; a longer value is not typed by a person
# The days a filter may name. Beyond them nothing is recorded, and a day near the calendar's
# end (9999-12-31) overflows the moment a filter adds the day after it or a time zone.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def value_text(value, field: str, *, limit: int = FORM_LIMIT, label: str = "") -> str:
    """One value the browser sent for ``field`` (a form's field, or an input's change), as
    ``form_text`` reads it: text, "" for nothing, "on"/"" for a checkbox, refused if too long."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if not isinstance(value, str):
        raise ValidationError("This value could not be read; enter it again.", field=field)
    if len(value) > limit:
        if label:
            raise ValidationError(f"The {label} can be at most {limit:,} characters long.", field=field)
        raise ValidationError(f"Keep this under {limit:,} characters.", field=field)
    return value


def form_text(form, key: str, *, limit: int = FORM_LIMIT, label: str = "") -> str:
    """The field ``key`` as text ("" when absent; a checkbox reads "on" or ""), unstripped.

    ``label`` names the field in the message about its length ("The username can be ...").
    """
    return value_text(form.get(key, "") if isinstance(form, dict) else "", key, limit=limit, label=label)


def form_fields(form, names: tuple[str, ...], *, limit: int = FORM_LIMIT) -> dict[str, str]:
    """Several fields at once, each read as ``form_text`` reads it."""
    return {name: form_text(form, name, limit=limit) for name in names}


def day_in_range(day: date | None, field: str | None, label: str) -> date | None:
    """``day`` if a filter can use it; a date outside 1900-2199 is refused at its field."""
    if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValidationError(
            f"The {label.lower()} date must fall between {EARLIEST_DAY.year} and {LATEST_DAY.year}.",
            field=field,
        )
    return day
