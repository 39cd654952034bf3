"""The modality work list: imaging orders by modality and status, STAT first, then by the time they
are booked for, one SQL page at a time; and the radiographer's steps on it, arrived and started
(``radiology.work``). Images received, preliminary and final are set by the storage and report
services; cancelling is ``orders.cancel_order``.

The scanner's appointment follows the order: arrived marks it arrived, started marks it in the room,
so that the clinic's boards and the scanner's day agree with the work list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.radiology import MODALITIES, ORDER_STATUSES, PRIORITIES, ImagingOrder, ImagingProcedure
from hms_app.models.scheduling import Appointment, AppointmentParticipant, Resource
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.inputs import actor_name
from hms_app.services.permissions import Actor, authorize
from hms_app.services.radiology.common import TOPIC, WORK
from hms_app.services.radiology.orders import get_order, safety_flags
from hms_app.services.scheduling.appointments import publish_change

# What the list shows unless one status is chosen: everything not yet final and not cancelled.
OPEN_STATUSES = ("requested", "scheduled", "arrived", "in_progress", "images_received", "preliminary")
STATUS_LABELS = {
    "requested": "Requested",
    "scheduled": "Scheduled",
    "arrived": "Arrived",
    "in_progress": "In progress",
    "images_received": "Images received",
    "preliminary": "Preliminary",
    "final": "Final",
    "cancelled": "Cancelled",
}
PRIORITY_RANK = {"stat": 0, "urgent": 1, "routine": 2}
MAX_PAGE = 100
# The radiographer's steps: from -> (to, the appointment's status then, the audit action).
STEPS = {
    "arrive": ("scheduled", "arrived", "arrived", "imaging.arrived"),
    "start": ("arrived", "in_progress", "in_room", "imaging.started"),
}


@dataclass(frozen=True)
class WorkRow:
    id: int
    accession: str
    patient_id: int
    patient_name: str  # "OKAFOR, Ada"
    mrn: str
    procedure: str
    procedure_code: str
    modality: str
    contrast: bool
    priority: str
    status: str
    clinical_question: str
    ordered_at: datetime
    ordered_by: str
    scheduled_at: datetime | None
    scanner: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class WorkPage:
    rows: list[WorkRow]
    total: int
    counts: dict[str, int]  # open orders by status (the chosen modality; no search)


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filters(modality, status) -> tuple[str, str]:
    modality = str(modality or "").strip().upper()
    if modality and modality not in MODALITIES:
        raise ValidationError("Choose a modality from the list.", field="modality")
    status = str(status or "").strip().lower()
    if status and status not in ORDER_STATUSES:
        raise ValidationError("Choose a status from the list.", field="status")
    return modality, status


def _scanners(session: Session, appointment_ids: list[int]) -> dict[int, str]:
    if not appointment_ids:
        return {}
    rows = session.execute(
        select(AppointmentParticipant.appointment_id, Resource.name)
        .join(Resource, Resource.id == AppointmentParticipant.resource_id)
        .where(AppointmentParticipant.appointment_id.in_(appointment_ids), Resource.kind == "equipment")
        .order_by(AppointmentParticipant.appointment_id, Resource.name)
    ).all()
    found: dict[int, str] = {}
    for appointment_id, name in rows:
        found.setdefault(appointment_id, name)
    return found


def worklist(
    session: Session,
    *,
    actor: Actor,
    modality: str = "",
    status: str = "",
    query: str = "",
    page: int = 0,
    page_size: int = 50,
) -> WorkPage:
    """One page of the modality work list (``radiology.work``): ``modality`` one of MODALITIES or ""
    for all, ``status`` one of ORDER_STATUSES or "" for every open order; ``query`` matches the
    accession, the patient's MRN or name, or the examination. STAT first, then by booked time
    (unbooked last), then by when ordered. A work board: not audited on every refresh."""
    authorize(actor, WORK)
    modality, status = _filters(modality, status)
    page = max(0, page if isinstance(page, int) and not isinstance(page, bool) else 0)
    size = page_size if isinstance(page_size, int) and not isinstance(page_size, bool) else 50
    size = max(1, min(size, MAX_PAGE))
    base = [ImagingOrder.status == status] if status else [ImagingOrder.status.in_(OPEN_STATUSES)]
    scope = []
    if modality:
        scope.append(ImagingProcedure.modality == modality)
    text = " ".join(str(query or "").split())[:60]
    search = []
    if text:
        pattern = _like(text)
        search.append(
            or_(
                func.lower(ImagingOrder.accession).like(pattern, escape="\\"),
                func.lower(Patient.mrn).like(pattern, escape="\\"),
                func.lower(Patient.family_name).like(pattern, escape="\\"),
                func.lower(Patient.given_name).like(pattern, escape="\\"),
                func.lower(ImagingProcedure.name).like(pattern, escape="\\"),
                func.lower(ImagingProcedure.code).like(pattern, escape="\\"),
            )
        )
    joined = (
        select(ImagingOrder.id)
        .join(ImagingProcedure, ImagingProcedure.id == ImagingOrder.procedure_id)
        .join(Patient, Patient.id == ImagingOrder.patient_id)
        .where(*base, *scope, *search)
    )
    total = session.execute(select(func.count()).select_from(joined.subquery())).scalar_one()
    rank = case(*[(ImagingOrder.priority == p, r) for p, r in PRIORITY_RANK.items()], else_=3)
    ids = list(
        session.execute(
            joined.order_by(
                rank,
                ImagingOrder.scheduled_at.is_(None),
                ImagingOrder.scheduled_at,
                ImagingOrder.ordered_at,
                ImagingOrder.id,
            )
            .offset(page * size)
            .limit(size)
        ).scalars()
    )
    counted = session.execute(
        select(ImagingOrder.status, func.count(ImagingOrder.id))
        .join(ImagingProcedure, ImagingProcedure.id == ImagingOrder.procedure_id)
        .where(ImagingOrder.status.in_(OPEN_STATUSES), *scope)
        .group_by(ImagingOrder.status)
    ).all()
    counts = {s: 0 for s in OPEN_STATUSES} | {s: int(n) for s, n in counted}
    if not ids:
        return WorkPage([], int(total), counts)
    details = {
        order.id: (order, procedure, patient)
        for order, procedure, patient in session.execute(
            select(ImagingOrder, ImagingProcedure, Patient)
            .join(ImagingProcedure, ImagingProcedure.id == ImagingOrder.procedure_id)
            .join(Patient, Patient.id == ImagingOrder.patient_id)
            .where(ImagingOrder.id.in_(ids))
        ).all()
    }
    scanners = _scanners(session, [o.appointment_id for o, _p, _q in details.values() if o.appointment_id])
    rows = []
    for order_id in ids:
        order, procedure, patient = details[order_id]
        rows.append(
            WorkRow(
                id=order.id,
                accession=order.accession,
                patient_id=patient.id,
                patient_name=f"{(patient.family_name or '').upper()}, {patient.given_name or ''}".strip(", "),
                mrn=patient.mrn,
                procedure=procedure.name,
                procedure_code=procedure.code,
                modality=procedure.modality,
                contrast=bool(procedure.contrast),
                priority=order.priority,
                status=order.status,
                clinical_question=order.clinical_question,
                ordered_at=order.ordered_at,
                ordered_by=order.ordered_by,
                scheduled_at=order.scheduled_at,
                scanner=scanners.get(order.appointment_id, "") if order.appointment_id else "",
                flags=safety_flags(order),
            )
        )
    return WorkPage(rows, int(total), counts)


def _step(session: Session, *, actor: Actor, order_id, step: str) -> str:
    before, after, appointment_status, action = STEPS[step]
    authorize(actor, WORK)
    order = get_order(session, order_id, lock=True)
    authorize(actor, WORK, patient_id=order.patient_id)
    if order.status != before:
        now_label = STATUS_LABELS.get(order.status, order.status).lower()
        raise Conflict(
            f"{order.accession} is {now_label}: it cannot be marked {STATUS_LABELS[after].lower()}."
        )
    now = utcnow()
    order.status, order.status_changed_at, order.status_changed_by = after, now, actor_name(actor)
    session.add(order)
    department_id = None
    if order.appointment_id is not None:
        appointment = session.execute(
            select(Appointment).where(Appointment.id == order.appointment_id).with_for_update()
        ).scalar_one_or_none()
        if appointment is not None and appointment.status in ("booked", "arrived"):
            appointment.status, appointment.updated_at = appointment_status, now
            if appointment_status == "arrived":
                appointment.arrived_at = appointment.arrived_at or now
            else:
                appointment.in_room_at = now
            session.add(appointment)
            department_id = appointment.department_id
    record_audit(
        session,
        actor,
        action,
        patient_id=order.patient_id,
        target_type="imaging_order",
        target_id=order.id,
        detail=f"{order.accession} {before} -> {after}",
    )
    session.commit()
    live.publish(TOPIC, order.id)
    if department_id is not None:
        publish_change(department_id, queue=True)
    return after


def mark_arrived(session: Session, *, actor: Actor, order_id) -> str:
    """The patient of a scheduled order is in the department (``radiology.work``)."""
    return _step(session, actor=actor, order_id=order_id, step="arrive")


def start_exam(session: Session, *, actor: Actor, order_id) -> str:
    """The arrived patient is on the scanner (``radiology.work``)."""
    return _step(session, actor=actor, order_id=order_id, step="start")


__all__ = [
    "MODALITIES",
    "PRIORITIES",
    "STATUS_LABELS",
    "WorkPage",
    "WorkRow",
    "mark_arrived",
    "start_exam",
    "worklist",
]
