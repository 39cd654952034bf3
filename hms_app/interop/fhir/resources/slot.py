"""Slot: the busy times of a Schedule, read-only.

HMS stores no free slots: they are computed from the weekly templates, the time off and the
bookings each time someone looks (services/scheduling/slots.py), so they have no row, and the
FHIR core names a resource by a row's numeric id. What is stored is each 5-minute step a booking
holds of a resource (``resource_block``, the double-booking guard): those are the Slots here,
all busy. A search for free slots is refused with a message rather than answered empty, which a
client would read as "fully booked"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import false, or_, true

from hms_app.interop.fhir.elements import instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.search import Param, date_param, reference, split_values
from hms_app.models.scheduling import BLOCK_MINUTES, ResourceBlock

SLOT_STATUSES = ("busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error")


def status_param() -> Param:
    def build(raw: str, modifier: str | None, name: str):
        if modifier is not None:
            raise fail(400, f"The modifier :{modifier} is not supported on {name}.", code="not-supported")
        clauses = []
        for value in split_values(raw, name):
            code = value.rpartition("|")[2]
            if code not in SLOT_STATUSES:
                raise fail(
                    400,
                    f"Search parameter status takes one of {', '.join(SLOT_STATUSES)}, not {code[:40]!r}.",
                )
            if code == "free":
                raise fail(
                    400,
                    "Free slots are not kept as resources here: they are worked out when a visit is booked. "
                    "This server's Slots are the busy times.",
                    code="not-supported",
                )
            clauses.append(true() if code == "busy" else false())
        return or_(*clauses)

    return Param("token", build)


class SlotMapper(Mapper):
    resource_type = "Slot"
    table = ResourceBlock
    documentation = "Busy 5-minute steps of a Schedule held by bookings; free times are not stored (status=free is refused)."
    read_permission = "appointment.read"
    # A busy time names no patient (the Slot carries no appointment): not compartment data.
    patient_column = None
    in_everything = False
    owned = frozenset({"schedule", "status", "start", "end"})
    sorts = {"start": ResourceBlock.starts_at}

    def search_params(self) -> dict[str, Param]:
        return {
            "schedule": reference(ResourceBlock.resource_id, "Schedule"),
            "start": date_param(ResourceBlock.starts_at),
            "status": status_param(),
        }

    def last_updated(self, row: ResourceBlock):
        return None

    def to_fhir(self, row: ResourceBlock) -> dict:
        return {
            "schedule": ref("Schedule", row.resource_id),
            "status": "busy",
            "start": instant(row.starts_at),
            "end": instant(row.starts_at + timedelta(minutes=BLOCK_MINUTES)),
        }


MAPPER = SlotMapper()
