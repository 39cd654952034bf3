"""Invitations to book, sent in a thread: a staff member turns a message into an invitation to
book one of the services patients may book online. The patient sees it in the thread and on the
portal's messages page, follows it into the booking page with the visit already chosen, and the
invitation is marked booked with the appointment it led to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.messaging import BookingInvitation, MessageThread, SecureMessage
from hms_app.models.scheduling import Appointment, AppointmentType, HealthcareService
from hms_app.services.audit import record_audit
from hms_app.services.messaging.common import (
    PORTAL,
    STAFF,
    announce,
    require_open,
    thread_for,
)
from hms_app.services.messaging.threads import InvitationView
from hms_app.services.permissions import Actor, authorize, authorize_owner

INVITATION_MISSING = "That invitation does not exist."
NOTE_MAX = 1000


@dataclass(frozen=True)
class VisitOption:
    service_id: int
    appointment_type_id: int
    label: str  # "Travel clinic · Vaccination advice (15 min)"


def invitation_options(session: Session, *, actor: Actor) -> list[VisitOption]:
    """What a patient can be invited to book: the active visit types of services bookable online."""
    authorize(actor, STAFF)
    rows = session.execute(
        select(HealthcareService.id, HealthcareService.name, AppointmentType)
        .join(AppointmentType, AppointmentType.service_id == HealthcareService.id)
        .where(
            HealthcareService.active.is_(True),
            HealthcareService.self_bookable.is_(True),
            AppointmentType.active.is_(True),
        )
        .order_by(HealthcareService.name, AppointmentType.name)
        .limit(500)
    ).all()
    return [VisitOption(sid, t.id, f"{name} · {t.name} ({t.duration_minutes} min)") for sid, name, t in rows]


def invite_to_book(
    session: Session,
    *,
    actor: Actor,
    thread_id: int,
    service_id: int,
    appointment_type_id: int,
    note: str = "",
    from_message_id: int | None = None,
) -> int:
    """Send an invitation to book in a thread (optionally in answer to one of its messages).
    Returns the invitation's id."""
    authorize(actor, STAFF)
    thread = thread_for(session, actor, thread_id, lock=True)
    require_open(thread, actor)
    choice = {(o.service_id, o.appointment_type_id): o for o in invitation_options(session, actor=actor)}
    option = choice.get((service_id, appointment_type_id))
    if option is None:
        raise ValidationError("Choose a visit patients can book online.", field="visit")
    if not isinstance(note, str) or len(note.strip()) > NOTE_MAX:
        raise ValidationError(f"Keep the note under {NOTE_MAX:,} characters.", field="note")
    if from_message_id is not None:
        source = session.get(SecureMessage, from_message_id)
        if source is None or source.thread_id != thread.id:
            raise ValidationError("Choose a message of this conversation.", field="message")
    label = option.label.rsplit(" (", 1)[0]
    body = f"You are invited to book: {label}." + (f"\n{note.strip()}" if note.strip() else "")
    now = utcnow()
    message = SecureMessage(
        thread_id=thread.id, author_id=actor.user_id, from_patient=False, body=body, created_at=now
    )
    session.add(message)
    session.flush()
    invitation = BookingInvitation(
        thread_id=thread.id,
        message_id=message.id,
        service_id=service_id,
        appointment_type_id=appointment_type_id,
        created_by_id=actor.user_id,
    )
    session.add(invitation)
    thread.last_message_at, thread.last_from_patient = now, False
    if thread.assigned_to_id is None:
        thread.assigned_to_id = actor.user_id
    session.add(thread)
    session.flush()
    record_audit(
        session,
        actor,
        "message.invite",
        patient_id=thread.patient_id,
        target_type="booking_invitation",
        target_id=invitation.id,
        detail=f"thread {thread.id}: {label}"
        + (f" (from message {from_message_id})" if from_message_id is not None else ""),
    )
    session.commit()
    announce(thread.patient_id)
    return invitation.id


def _invitation(session: Session, actor: Actor, invitation_id) -> tuple[BookingInvitation, MessageThread]:
    authorize(actor, PORTAL if actor is not None and actor.patient_id is not None else STAFF)
    if isinstance(invitation_id, bool) or not isinstance(invitation_id, int) or invitation_id < 1:
        raise NotFound(INVITATION_MISSING)
    invitation = session.get(BookingInvitation, invitation_id)
    if invitation is None:
        raise NotFound(INVITATION_MISSING)
    thread = session.get(MessageThread, invitation.thread_id)
    authorize_owner(
        actor,
        PORTAL if actor.patient_id is not None else STAFF,
        patient_id=thread.patient_id,
        missing=INVITATION_MISSING,
    )
    return invitation, thread


def _view(session: Session, invitation: BookingInvitation) -> InvitationView:
    service = session.get(HealthcareService, invitation.service_id)
    vtype = session.get(AppointmentType, invitation.appointment_type_id)
    return InvitationView(
        invitation.id,
        invitation.service_id,
        invitation.appointment_type_id,
        service.name,
        vtype.name,
        vtype.duration_minutes,
        invitation.status,
        invitation.appointment_id,
    )


def portal_invitation(session: Session, *, actor: Actor, invitation_id: int) -> InvitationView:
    """One of the patient's own invitations (for the booking page to start from); audited."""
    authorize(actor, PORTAL)
    invitation, thread = _invitation(session, actor, invitation_id)
    record_audit(
        session,
        actor,
        "message.invitation_read",
        patient_id=thread.patient_id,
        target_type="booking_invitation",
        target_id=invitation.id,
    )
    session.commit()
    return _view(session, invitation)


def open_invitations(session: Session, *, actor: Actor) -> list[InvitationView]:
    """The patient's invitations still to be booked, newest first."""
    authorize(actor, PORTAL)
    if actor.patient_id is None:
        return []
    rows = (
        session.execute(
            select(BookingInvitation)
            .join(MessageThread, MessageThread.id == BookingInvitation.thread_id)
            .where(MessageThread.patient_id == actor.patient_id, BookingInvitation.status == "open")
            .order_by(BookingInvitation.id.desc())
            .limit(20)
        )
        .scalars()
        .all()
    )
    return [_view(session, row) for row in rows]


def invitation_booked(session: Session, *, actor: Actor, invitation_id: int, appointment_id: int) -> None:
    """The patient booked what they were invited to: the invitation is marked booked (audited),
    and the care team sees it in the thread."""
    authorize(actor, PORTAL)
    invitation, thread = _invitation(session, actor, invitation_id)
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.patient_id != thread.patient_id:
        raise NotFound("That appointment does not exist.")
    if (appointment.service_id, appointment.appointment_type_id) != (
        invitation.service_id,
        invitation.appointment_type_id,
    ):
        raise ValidationError("That appointment is not the visit you were invited to book.")
    if invitation.status != "open":
        raise Conflict("That invitation has already been used.")
    invitation.status, invitation.appointment_id, invitation.booked_at = "booked", appointment.id, utcnow()
    session.add(invitation)
    record_audit(
        session,
        actor,
        "message.invitation_booked",
        patient_id=thread.patient_id,
        target_type="booking_invitation",
        target_id=invitation.id,
        detail=f"appointment {appointment.reference}",
    )
    session.commit()
    announce(thread.patient_id)


def withdraw_invitation(session: Session, *, actor: Actor, invitation_id: int) -> None:
    """Withdraw an invitation not yet used (staff)."""
    authorize(actor, STAFF)
    invitation, thread = _invitation(session, actor, invitation_id)
    if invitation.status != "open":
        raise Conflict("Only an invitation not yet used can be withdrawn.")
    invitation.status = "withdrawn"
    session.add(invitation)
    record_audit(
        session,
        actor,
        "message.invitation_withdraw",
        patient_id=thread.patient_id,
        target_type="booking_invitation",
        target_id=invitation.id,
    )
    session.commit()
    announce(thread.patient_id)
