"""What the laboratory screens share: the permissions, the words for priorities, statuses and
flags, and how moments and durations are written on a board."""

from __future__ import annotations

from datetime import datetime

from hms_app.clock import format_local, local_today, to_local
from hms_app.services.laboratory.common import CATALOGUE, READ, VERIFY, WORK
from hms_app.services.laboratory.views import PRIORITIES, REJECTION_REASONS

__all__ = ["CATALOGUE", "READ", "VERIFY", "WORK"]

LIVE_LAB = "lab"
LIVE_CRITICAL = "critical"
PRIORITY_LABELS: dict[str, str] = dict(PRIORITIES)
REASON_LABELS: dict[str, str] = dict(REJECTION_REASONS)
# Critical flags are red, the others amber; a normal result shows no badge.
FLAG_LABELS = {
    "LL": "Critically low",
    "L": "Low",
    "N": "Normal",
    "H": "High",
    "HH": "Critically high",
    "A": "Abnormal",
}
ORDER_STATUS_LABELS = {
    "ordered": "To collect",
    "collected": "On its way",
    "received": "In the lab",
    "resulted": "To verify",
    "released": "Released",
    "cancelled": "Cancelled",
}
SPECIMEN_STATUS_LABELS = {
    "pending": "To collect",
    "collected": "Waiting for reception",
    "received": "Received",
    "rejected": "Rejected",
}


def moment_label(moment: datetime | None) -> str:
    """ "14:05" today, "3 Dec 14:05" another day, "" for none (in the hospital's time zone)."""
    local = to_local(moment)
    if local is None:
        return ""
    if local.date() == local_today():
        return local.strftime("%H:%M")
    return f"{local.day} {local.strftime('%b %H:%M')}"


def long_moment(moment: datetime | None) -> str:
    return format_local(moment, "%Y-%m-%d %H:%M")


def duration_label(minutes: int) -> str:
    """ "4 min", "1 h 05 min", "2 d 3 h": how long something has waited, to the minute."""
    minutes = max(0, int(minutes))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {rest:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"
