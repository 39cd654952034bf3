"""Writing one appointment: its reference, the resources and 5-minute blocks it holds, its
reminders, its audit row and the change notice. Booking, the visit flow and the waitlist
share these steps.

How a double booking is made impossible: every appointment that holds time (offered, booked,
arrived, in room, completed) owns one ``resource_block`` row per 5 minutes per resource it
uses, inserted in the same transaction as the appointment. UNIQUE(resource_id, starts_at)
lets exactly one of two overlapping bookings commit, whatever their lengths; the loser gets
``SlotTaken`` and reloads the free times. Cancelling and no-shows delete the blocks.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import NotFound, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    HealthcareService,
    Resource,
    ResourceBlock,
)
from hms_app.services import live, reminders
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor
from hms_app.services.scheduling.parsing import as_int
from hms_app.services.scheduling.policy import SlotTaken, policy
from hms_app.services.scheduling.slots import block_starts

REFERENCE_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY34679"  # no look-alikes (0/O, 1/I, 5/S, 8/B, 2/Z)


def make_reference(prefix: str = "AP", rng=None) -> str:
    """A short readable code such as AP-7K3QX9 (``rng``: a random.Random for seeders)."""
    choice = rng.choice if rng is not None else secrets.choice
    return f"{prefix}-" + "".join(choice(REFERENCE_ALPHABET) for _ in range(6))


def hold_blocks(session: Session, appointment: Appointment, resources: Sequence[Resource]) -> None:
    """Participants and blocks for an appointment; raises SlotTaken if any block is taken."""
    rows = [
        {"resource_id": r.id, "starts_at": s, "appointment_id": appointment.id}
        for r in resources
        for s in block_starts(appointment.start_at, appointment.end_at)
    ]
    # One order for every writer, so that two bookings can never wait on each other in a cycle.
    rows.sort(key=lambda row: (row["resource_id"], row["starts_at"]))
    try:
        # Multi-row VALUES statements: one round trip each (at most 96 blocks per resource).
        session.execute(
            insert(AppointmentParticipant.__table__).values(
                [{"appointment_id": appointment.id, "resource_id": r.id} for r in resources]
            )
        )
        session.execute(insert(ResourceBlock.__table__).values(rows))
    except (IntegrityError, OperationalError) as error:
        if isinstance(error, OperationalError) and "deadlock" not in str(error).lower():
            raise
        session.rollback()
        raise SlotTaken() from None


def release_blocks(session: Session, appointment_id: int) -> None:
    """Free the time an appointment held (its participants stay, for the record)."""
    session.execute(delete(ResourceBlock).where(ResourceBlock.appointment_id == appointment_id))


def _new_reference(session: Session) -> str:
    while True:
        reference = make_reference()
        if not session.execute(select(Appointment.id).where(Appointment.reference == reference)).first():
            return reference


def bookable_patient(session: Session, patient_id) -> Patient:
    """The patient to book for: an active record that was not merged into another."""
    patient = session.get(Patient, as_int(patient_id, field="patient_id", label="patient"))
    if patient is None or not patient.active or patient.merged_into_id is not None:
        raise ValidationError("Choose the patient.", field="patient_id")
    return patient


def patient_overlaps(
    session: Session, patient_id: int, start: datetime, end: datetime, ignore: int | None
) -> bool:
    """Whether the patient already has a visit in [start, end) (``ignore``: the one being moved)."""
    query = select(Appointment.id).where(
        Appointment.patient_id == patient_id,
        Appointment.status.in_(("booked", "arrived", "in_room")),
        Appointment.start_at < end,
        Appointment.end_at > start,
    )
    if ignore is not None:
        query = query.where(Appointment.id != ignore)
    return session.execute(query.limit(1)).first() is not None


def enqueue_reminders(
    session: Session, appointment: Appointment, patient: Patient, service: HealthcareService, now: datetime
) -> None:
    """Queue the booked visit's reminders at the policy's lead times."""
    reminders.enqueue_reminders(
        session,
        appointment,
        patient,
        service_name=service.name,
        lead_hours=policy().reminder_lead_hours,
        now=now,
    )


def audit_appointment(
    session: Session, actor: Actor, action: str, appointment: Appointment, detail: str
) -> None:
    """The audit row of a change to an appointment (committed with the change)."""
    record_audit(
        session,
        actor,
        action,
        patient_id=appointment.patient_id,
        target_type="appointment",
        target_id=appointment.id,
        detail=detail,
    )


def insert_appointment(
    session: Session,
    actor: Actor,
    *,
    patient: Patient,
    service: HealthcareService,
    vtype: AppointmentType,
    start: datetime,
    resources: Sequence[Resource],
    status: str = "booked",
    booked_via: str = "staff",
    series_id: str | None = None,
    note: str | None = None,
    offer_expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Write an appointment and hold its resources' blocks; raises SlotTaken when one is taken."""
    now = now or utcnow()
    appointment = Appointment(
        reference=_new_reference(session),
        patient_id=patient.id,
        service_id=service.id,
        appointment_type_id=vtype.id,
        department_id=service.department_id,
        start_at=start,
        end_at=start + timedelta(minutes=vtype.duration_minutes),
        status=status,
        booked_via=booked_via,
        series_id=series_id,
        note=note,
        offer_expires_at=offer_expires_at,
        created_at=now,
        created_by=actor.username,
        updated_at=now,
    )
    session.add(appointment)
    session.flush()
    hold_blocks(session, appointment, resources)
    if status == "booked":
        enqueue_reminders(session, appointment, patient, service, now)
    return appointment


def publish_change(*department_ids: int, queue: bool = False) -> None:
    """After commit: the calendars (and with ``queue`` the waiting rooms) of the departments refresh."""
    for department_id in sorted(set(department_ids)):
        live.publish(live.APPOINTMENTS, department_id)
        if queue:
            live.publish(live.QUEUE, department_id)


def locked_appointment(session: Session, appointment_id) -> Appointment:
    """The appointment, locked for this transaction's change."""
    appointment_id = as_int(appointment_id, field="appointment_id", label="appointment")
    appointment = session.execute(
        select(Appointment).where(Appointment.id == appointment_id).with_for_update()
    ).scalar_one_or_none()
    if appointment is None:
        raise NotFound("That appointment does not exist.")
    return appointment


def participant_ids(session: Session, appointment_id: int) -> list[int]:
    """The resources an appointment uses."""
    return list(
        session.execute(
            select(AppointmentParticipant.resource_id).where(
                AppointmentParticipant.appointment_id == appointment_id
            )
        ).scalars()
    )
