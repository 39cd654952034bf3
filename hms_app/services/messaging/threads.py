"""Threads and their messages: a patient or the team starts one, either side replies (a file may
go with a message), opening a thread marks the other side's messages read (the read receipt).

Every read of a thread and every write is audited; the screens learn of changes live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, func, select, update
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import NotFound, ValidationError
from hms_app.models.messaging import BookingInvitation, MessageAttachment, MessageThread, SecureMessage
from hms_app.models.patients import Patient
from hms_app.models.scheduling import AppointmentType, HealthcareService
from hms_app.models.security import AppUser
from hms_app.services.audit import record_audit
from hms_app.services.messaging.attachments import NewFile, attach
from hms_app.services.messaging.common import (
    PORTAL,
    STAFF,
    announce,
    authorize_side,
    clean_body,
    clean_subject,
    is_patient,
    require_open,
    thread_for,
)
from hms_app.services.permissions import Actor, authorize

MAX_THREAD_MESSAGES = 200  # one thread's screen shows at most its latest 200 messages
# A patient starts at most this many conversations a day: enough for any real need, and a stuck
# script or a flood never buries the team inbox.
PATIENT_THREADS_PER_DAY = 10


@dataclass(frozen=True)
class AttachmentView:
    id: int
    filename: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class InvitationView:
    id: int
    service_id: int
    appointment_type_id: int
    service_name: str
    visit_type: str
    minutes: int
    status: str  # open | booked | withdrawn
    appointment_id: int | None


@dataclass(frozen=True)
class MessageView:
    id: int
    body: str
    from_patient: bool
    author_name: str
    created_at: datetime
    read_at: datetime | None
    attachments: tuple[AttachmentView, ...] = ()
    invitation: InvitationView | None = None


@dataclass(frozen=True)
class ThreadView:
    id: int
    subject: str
    status: str
    patient_id: int
    patient_name: str
    mrn: str
    assigned_to_id: int | None
    assigned_name: str
    created_at: datetime
    messages: tuple[MessageView, ...]
    marked_read: int  # messages of the other side this opening marked read


def _new_thread_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None or patient.merged_into_id is not None or patient.deceased_at is not None:
        raise NotFound("That patient cannot receive messages.")
    return patient


def _patient_by_mrn(session: Session, mrn) -> int:
    text = "".join(str(mrn or "").split()).upper()
    if not text:
        raise ValidationError("Enter the patient's MRN.", field="mrn")
    if len(text) > 20:
        raise ValidationError("An MRN has at most 20 characters.", field="mrn")
    found = session.execute(select(Patient.id).where(Patient.mrn == text)).scalar_one_or_none()
    if found is None:
        raise ValidationError(f"No patient has the MRN {text}.", field="mrn")
    return found


def _add_message(
    session: Session, actor: Actor, thread: MessageThread, body: str, upload: NewFile | None
) -> tuple[SecureMessage, list[Path]]:
    now = utcnow()
    message = SecureMessage(
        thread_id=thread.id,
        author_id=actor.user_id,
        from_patient=is_patient(actor),
        body=body,
        created_at=now,
    )
    session.add(message)
    session.flush()
    written = [attach(session, message=message, upload=upload)] if upload is not None else []
    thread.last_message_at, thread.last_from_patient = now, is_patient(actor)
    session.add(thread)
    return message, written


def _audit_and_commit(session: Session, actor: Actor, written: list[Path], action: str, **audit) -> None:
    """Record the audit row and commit; should either fail, the files just written are removed."""
    try:
        record_audit(session, actor, action, **audit)
        session.commit()
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)  # nothing half-written: no file without its record
        raise


def start_thread(
    session: Session,
    *,
    actor: Actor,
    subject: str,
    body: str,
    patient_id: int | None = None,
    patient_mrn: str | None = None,
    upload: NewFile | None = None,
) -> int:
    """Start a conversation: a patient writes to the care team, or a staff member to a patient
    (chosen by id, or by the MRN read off a wristband or letter). Returns the new thread's id."""
    if is_patient(actor):
        authorize(actor, PORTAL)
        patient_id = actor.patient_id  # a patient writes only as themselves, whatever was sent
    else:
        authorize(actor, STAFF)
        if patient_id is None and patient_mrn is not None:
            patient_id = _patient_by_mrn(session, patient_mrn)
        if isinstance(patient_id, bool) or not isinstance(patient_id, int) or patient_id < 1:
            raise ValidationError("Choose a patient.", field="patient")
    subject = clean_subject(subject)
    body = clean_body(body, attachment=upload is not None)
    _new_thread_patient(session, patient_id)
    if is_patient(actor):
        started = session.execute(
            select(func.count(MessageThread.id)).where(
                MessageThread.patient_id == patient_id,
                MessageThread.started_by_patient.is_(True),
                MessageThread.created_at >= utcnow() - timedelta(days=1),
            )
        ).scalar_one()
        if started >= PATIENT_THREADS_PER_DAY:
            raise ValidationError(
                f"You have started {PATIENT_THREADS_PER_DAY} conversations today. Please reply in one of "
                "them, or call us if it is urgent."
            )
    thread = MessageThread(
        patient_id=patient_id,
        subject=subject,
        started_by_id=actor.user_id,
        started_by_patient=is_patient(actor),
        # A staff member who writes first owns the conversation.
        assigned_to_id=None if is_patient(actor) else actor.user_id,
    )
    session.add(thread)
    session.flush()
    message, written = _add_message(session, actor, thread, body, upload)
    _audit_and_commit(
        session,
        actor,
        written,
        "message.thread_start",
        patient_id=patient_id,
        target_type="message_thread",
        target_id=thread.id,
        detail=f"{subject} (message {message.id}{', with a file' if written else ''})",
    )
    announce(patient_id)
    return thread.id


def post_message(
    session: Session, *, actor: Actor, thread_id: int, body: str, upload: NewFile | None = None
) -> int:
    """Reply in an open thread (the patient in their own, staff in any). Returns the message id."""
    thread = thread_for(session, actor, thread_id, lock=True)
    require_open(thread, actor)
    body = clean_body(body, attachment=upload is not None)
    message, written = _add_message(session, actor, thread, body, upload)
    if not is_patient(actor) and thread.assigned_to_id is None:
        thread.assigned_to_id = actor.user_id  # who answers an unassigned thread takes it
    _audit_and_commit(
        session,
        actor,
        written,
        "message.send",
        patient_id=thread.patient_id,
        target_type="secure_message",
        target_id=message.id,
        detail=f"thread {thread.id}{', with a file' if written else ''}",
    )
    announce(thread.patient_id)
    return message.id


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = session.execute(select(AppUser.id, AppUser.display_name).where(AppUser.id.in_(ids))).all()
    return dict(rows)


def _messages(session: Session, thread: MessageThread) -> tuple[MessageView, ...]:
    rows = (
        session.execute(
            select(SecureMessage)
            .where(SecureMessage.thread_id == thread.id)
            .order_by(SecureMessage.id.desc())
            .limit(MAX_THREAD_MESSAGES)
        )
        .scalars()
        .all()
    )[::-1]
    ids = [m.id for m in rows]
    files: dict[int, list[AttachmentView]] = {}
    invitations: dict[int, InvitationView] = {}
    if ids:
        for a in session.execute(
            select(MessageAttachment)
            .where(MessageAttachment.message_id.in_(ids))
            .order_by(MessageAttachment.id)
        ).scalars():
            files.setdefault(a.message_id, []).append(
                AttachmentView(a.id, a.filename, a.content_type, a.size_bytes)
            )
        for inv, service, vtype in session.execute(
            select(BookingInvitation, HealthcareService.name, AppointmentType)
            .join(HealthcareService, HealthcareService.id == BookingInvitation.service_id)
            .join(AppointmentType, AppointmentType.id == BookingInvitation.appointment_type_id)
            .where(BookingInvitation.message_id.in_(ids))
        ).all():
            invitations[inv.message_id] = InvitationView(
                inv.id,
                inv.service_id,
                inv.appointment_type_id,
                service,
                vtype.name,
                vtype.duration_minutes,
                inv.status,
                inv.appointment_id,
            )
    names = _names(session, {m.author_id for m in rows})
    return tuple(
        MessageView(
            m.id,
            m.body,
            m.from_patient,
            names.get(m.author_id, ""),
            m.created_at,
            m.read_at,
            tuple(files.get(m.id, ())),
            invitations.get(m.id),
        )
        for m in rows
    )


def open_thread(session: Session, *, actor: Actor, thread_id: int) -> ThreadView:
    """A thread with its messages, oldest first; the other side's unread messages are marked read
    now (the read receipt they see). Audited."""
    thread = thread_for(session, actor, thread_id)
    now = utcnow()
    # A conditional update: two people opening the thread at once record the first reading only.
    marked = session.execute(
        update(SecureMessage)
        .where(
            and_(
                SecureMessage.thread_id == thread.id,
                SecureMessage.from_patient.is_(not is_patient(actor)),
                SecureMessage.read_at.is_(None),
            )
        )
        .values(read_at=now, read_by_id=actor.user_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    patient = session.get(Patient, thread.patient_id)
    record_audit(
        session,
        actor,
        "message.thread_read",
        patient_id=thread.patient_id,
        target_type="message_thread",
        target_id=thread.id,
        detail=f"{marked} message(s) marked read" if marked else None,
    )
    view = ThreadView(
        thread.id,
        thread.subject,
        thread.status,
        thread.patient_id,
        f"{patient.given_name} {patient.family_name}" if patient else "",
        patient.mrn if patient else "",
        thread.assigned_to_id,
        _names(session, {thread.assigned_to_id or 0}).get(thread.assigned_to_id or 0, ""),
        thread.created_at,
        _messages(session, thread),
        marked or 0,
    )
    session.commit()
    if marked:
        announce(thread.patient_id)  # the other side's "Delivered" turns into "Read"
    return view


def _set_thread(
    session: Session, *, actor: Actor, thread_id: int, action: str, detail: str, **values
) -> MessageThread:
    authorize(actor, STAFF)  # staff only, before anything is looked up
    thread = thread_for(session, actor, thread_id, lock=True)
    for name, value in values.items():
        setattr(thread, name, value)
    session.add(thread)
    record_audit(
        session,
        actor,
        action,
        patient_id=thread.patient_id,
        target_type="message_thread",
        target_id=thread.id,
        detail=detail,
    )
    session.commit()
    announce(thread.patient_id)
    return thread


def staff_members(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """Active staff who may answer messages (hold ``message.staff`` by a role): whom a thread can go to."""
    authorize(actor, STAFF)
    from hms_app.models.security import Role, RolePermission, UserRole

    rows = session.execute(
        select(AppUser.id, AppUser.display_name)
        .join(UserRole, UserRole.user_id == AppUser.id)
        .join(Role, Role.id == UserRole.role_id)
        .join(RolePermission, RolePermission.role_id == Role.id)
        .where(RolePermission.permission == STAFF, AppUser.is_active.is_(True), AppUser.patient_id.is_(None))
        .distinct()
        .order_by(AppUser.display_name)
        .limit(500)
    ).all()
    return [(user_id, name) for user_id, name in rows]


def assign_thread(session: Session, *, actor: Actor, thread_id: int, user_id: int | None) -> None:
    """Give a thread to a staff member who answers messages (or back to the team with ``None``)."""
    authorize(actor, STAFF)
    if user_id is not None:
        if isinstance(user_id, bool) or not isinstance(user_id, int):
            raise ValidationError("Choose a staff member from the list.", field="assignee")
        if user_id not in dict(staff_members(session, actor=actor)):
            raise ValidationError("That person does not answer patients' messages.", field="assignee")
    thread = thread_for(session, actor, thread_id)
    require_open(thread, actor)
    name = _names(session, {user_id or 0}).get(user_id or 0, "the team")
    _set_thread(
        session,
        actor=actor,
        thread_id=thread_id,
        action="message.assign",
        detail=f"assigned to {name}",
        assigned_to_id=user_id,
    )


def _set_status(session: Session, *, actor: Actor, thread_id: int, status: str) -> None:
    """Close (``"closed"``) or reopen (``"open"``) a conversation; refused if it already is."""
    authorize(actor, STAFF)
    thread = thread_for(session, actor, thread_id)
    if thread.status == status:
        raise ValidationError(f"This conversation is already {status}.")
    closing = status == "closed"
    _set_thread(
        session,
        actor=actor,
        thread_id=thread_id,
        action="message.close" if closing else "message.reopen",
        detail="closed" if closing else "reopened",
        status=status,
        closed_at=utcnow() if closing else None,
        closed_by_id=actor.user_id if closing else None,
    )


def close_thread(session: Session, *, actor: Actor, thread_id: int) -> None:
    """Close a conversation: the patient can read it but no longer reply."""
    _set_status(session, actor=actor, thread_id=thread_id, status="closed")


def reopen_thread(session: Session, *, actor: Actor, thread_id: int) -> None:
    """Reopen a closed conversation."""
    _set_status(session, actor=actor, thread_id=thread_id, status="open")


__all__ = [
    "AttachmentView",
    "InvitationView",
    "MessageView",
    "ThreadView",
    "assign_thread",
    "authorize_side",
    "close_thread",
    "open_thread",
    "post_message",
    "reopen_thread",
    "staff_members",
    "start_thread",
]
