"""The clinic's scheduling policy, who may book or read, and the conflicts a booking can meet.

Portal users (an actor with a ``patient_id``) act on their own record under ``portal.self``;
staff need ``appointment.book`` to change and ``appointment.read`` to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from hms_app.clock import format_local
from hms_app.errors import Conflict
from hms_app.services.patients.demographics import age_years
from hms_app.services.permissions import Actor, authorize, authorize_owner
from hms_app.services.scheduling.parsing import as_int
from hms_app.settings import get_settings

SLOT_TAKEN_MESSAGE = "That time was just taken by someone else. Here are the free times now."


class SlotTaken(Conflict):
    """Someone else booked (part of) this time first: reload the free slots."""

    def __init__(self, message: str = SLOT_TAKEN_MESSAGE):
        super().__init__(message, field="start_at")


class RecurrenceConflict(Conflict):
    """Some occurrences of a recurring booking are not free; nothing was booked."""

    def __init__(self, moments: list[datetime]):
        self.moments = moments
        days = ", ".join(format_local(m, "%a %d %b %H:%M") for m in moments[:6])
        more = f" and {len(moments) - 6} more" if len(moments) > 6 else ""
        super().__init__(
            f"Not free on {days}{more}. Nothing was booked; choose another time or fewer visits."
        )


@dataclass(frozen=True)
class SchedulingPolicy:
    cancel_cutoff_hours: int = 2  # patients may not cancel or move a visit closer to its start
    offer_minutes: int = 30  # how long a waitlist offer holds a freed time
    reminder_lead_hours: tuple[int, ...] = (24, 2)
    slot_step_minutes: int = 15  # offered start times: every 15 minutes (shorter visits: their length)


def policy() -> SchedulingPolicy:
    """The clinic's scheduling policy (settings when the operator set them, else the defaults)."""
    settings = get_settings()
    return SchedulingPolicy(
        cancel_cutoff_hours=settings.cancel_cutoff_hours,
        offer_minutes=settings.waitlist_offer_minutes,
        reminder_lead_hours=settings.reminder_lead_hours,
        slot_step_minutes=SchedulingPolicy().slot_step_minutes,
    )


def is_portal(actor: Actor | None) -> bool:
    """Whether the actor is a patient on the portal."""
    return actor is not None and actor.patient_id is not None


# What anyone is told about an appointment id that is not theirs to see, as about one that is not there.
APPOINTMENT_MISSING = "That appointment does not exist."


def authorize_change(actor: Actor | None, patient_id: int | None = None, *, missing: str = "") -> Actor:
    """Portal users change their own bookings; staff need appointment.book. With ``missing``, a
    portal user's appointment of someone else is answered as one that does not exist."""
    permission = "portal.self" if is_portal(actor) else "appointment.book"
    if missing and patient_id is not None:
        return authorize_owner(actor, permission, patient_id=patient_id, missing=missing)
    return authorize(actor, permission, patient_id=patient_id)


def authorize_read(actor: Actor | None, patient_id: int | None = None, *, missing: str = "") -> Actor:
    """Portal users read their own bookings; staff need appointment.read (``missing``: as above)."""
    permission = "portal.self" if is_portal(actor) else "appointment.read"
    if missing and patient_id is not None:
        return authorize_owner(actor, permission, patient_id=patient_id, missing=missing)
    return authorize(actor, permission, patient_id=patient_id)


def booking_patient_id(actor: Actor, patient_id) -> int:
    """Whom a booking is for: a portal user's own record, whatever the browser sent; staff choose."""
    if is_portal(actor):
        authorize(
            actor,
            "portal.self",
            patient_id=None
            if patient_id in (None, "")
            else as_int(patient_id, field="patient_id", label="patient"),
        )
        return actor.patient_id  # the portal user's own record, whatever the browser sent
    authorize(actor, "appointment.book")
    return as_int(patient_id, field="patient_id", label="patient")


SEX_WORDS = {"female": "women and girls", "male": "men and boys"}
MAX_ELIGIBLE_AGE = 130


def eligibility_label(min_age: int | None, max_age: int | None, for_sex: str | None) -> str:
    """Who a service is for, in words ("" for anyone): "aged 40 to 74, women and girls"."""
    parts = []
    if min_age is not None and max_age is not None:
        parts.append(f"aged {min_age} to {max_age}")
    elif min_age is not None:
        parts.append(f"aged {min_age} and over")
    elif max_age is not None:
        parts.append(f"aged up to {max_age}")
    if for_sex in SEX_WORDS:
        parts.append(SEX_WORDS[for_sex])
    return ", ".join(parts)


def eligibility_refusal(
    min_age: int | None, max_age: int | None, for_sex: str | None, *, sex: str, birth_date: date, on: date
) -> str | None:
    """Why a patient cannot book a service online, or None when it fits them (age on the visit's
    day, or today for what is offered)."""
    age = age_years(birth_date, on)
    fits = (min_age is None or age >= min_age) and (max_age is None or age <= max_age)
    if not fits or (for_sex in SEX_WORDS and sex != for_sex):
        return (
            f"This service is for patients {eligibility_label(min_age, max_age, for_sex)}. "
            "Please call the clinic if you think it is right for you."
        )
    return None
