"""What the calendar's side panel shows of one appointment: its details, the visits of its series,
and free times as lines to choose from (also the booking dialog's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hms_app.clock import format_local, to_local
from hms_app.services.scheduling.lists import AppointmentRow
from hms_app.services.scheduling.slots import FreeSlot
from hms_app.state.scheduling.common import STATUS_COLORS, STATUS_LABELS
from hms_app.state.scheduling.layout import minutes_of


@dataclass
class Detail:
    """The appointment in the side panel."""

    id: int = 0
    reference: str = ""
    patient_id: int = 0
    patient: str = ""
    mrn: str = ""
    service_id: int = 0
    type_id: int = 0
    service: str = ""
    visit: str = ""
    virtual: bool = False
    day: str = ""  # ISO
    day_label: str = ""
    time: str = ""
    status: str = ""
    status_label: str = ""
    color: str = "gray"
    token: str = ""
    resources: str = ""
    primary_id: int = 0
    series: str = ""
    cancel_reason: str = ""
    booked_via: str = ""
    started: bool = False  # its start has passed (a no-show can be recorded)
    is_today: bool = False


@dataclass
class SeriesLine:
    reference: str = ""
    when: str = ""
    status: str = ""
    status_label: str = ""
    color: str = "gray"
    current: bool = False


@dataclass
class SlotLine:
    key: str = ""
    time: str = ""  # "09:15"
    label: str = ""  # "Wed 25 Nov 09:15"
    resources: str = ""
    start_iso: str = ""
    resource_id: int = 0
    preferred: bool = False  # at (or just after) the time the clerk clicked


def slot_lines(slots: list[FreeSlot], prefer_minute: int = -1) -> list[SlotLine]:
    lines = [
        SlotLine(
            str(i),
            format_local(s.start_at, "%H:%M"),
            s.label,
            ", ".join(s.resource_names),
            s.start_at.isoformat(),
            s.resource_ids[0],
        )
        for i, s in enumerate(slots)
    ]
    if prefer_minute >= 0:
        for line, slot in zip(lines, slots, strict=True):
            if minutes_of(to_local(slot.start_at)) >= prefer_minute:
                line.preferred = True
                break
    return lines


def detail_of(row: AppointmentRow, now: datetime) -> Detail:
    local_start = to_local(row.start_at)
    return Detail(
        id=row.id,
        reference=row.reference,
        patient_id=row.patient_id,
        patient=row.patient_name,
        mrn=row.mrn,
        service_id=row.service_id,
        type_id=row.appointment_type_id,
        service=row.service_name,
        visit=row.visit_type,
        virtual=row.mode == "virtual",
        day=local_start.date().isoformat(),
        day_label=row.day_label,
        time=f"{row.start_label}–{format_local(row.end_at, '%H:%M')}",
        status=row.status,
        status_label=STATUS_LABELS.get(row.status, row.status),
        color=STATUS_COLORS.get(row.status, "gray"),
        token=row.queue_token or "",
        resources=", ".join(row.resource_names),
        primary_id=row.resource_ids[0] if row.resource_ids else 0,
        series=row.series_id or "",
        cancel_reason=row.cancel_reason or "",
        booked_via=row.booked_via,
        started=row.start_at <= now,
        is_today=local_start.date() == to_local(now).date(),
    )
