"""Lists of threads: the staff team inbox (filtered and paged in SQL, with its counts) and the
patient's own conversations in the portal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from hms_app.errors import ValidationError
from hms_app.models.messaging import MessageThread, SecureMessage
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser
from hms_app.services.audit import record_audit
from hms_app.services.messaging.common import PORTAL, STAFF
from hms_app.services.permissions import Actor, authorize

VIEWS = {
    "unassigned": "Unassigned",
    "mine": "Assigned to me",
    "open": "All open",
    "closed": "Closed",
}
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_QUERY = 80
PORTAL_LIMIT = 100


@dataclass(frozen=True)
class ThreadRow:
    id: int
    subject: str
    status: str
    patient_id: int
    patient_name: str
    mrn: str
    assigned_to_id: int | None
    assigned_name: str
    last_message_at: datetime
    last_from_patient: bool
    unread: int  # messages of the other side not yet read by this side


@dataclass(frozen=True)
class InboxCounts:
    unassigned: int
    mine: int
    open: int
    unread: int  # patients' messages in open threads nobody has read yet


@dataclass(frozen=True)
class InboxPage:
    rows: tuple[ThreadRow, ...]
    total: int
    counts: InboxCounts


def _unread(from_patient: bool):
    """Per thread: how many messages of one side are still unread (a correlated count)."""
    return (
        select(func.count(SecureMessage.id))
        .where(
            SecureMessage.thread_id == MessageThread.id,
            SecureMessage.from_patient.is_(from_patient),
            SecureMessage.read_at.is_(None),
        )
        .scalar_subquery()
    )


def inbox_counts(session: Session, *, actor: Actor) -> InboxCounts:
    """The figures on the inbox's tabs, in one query each."""
    authorize(actor, STAFF)
    is_open = MessageThread.status == "open"
    unassigned, mine, total = session.execute(
        select(
            func.coalesce(func.sum(case((MessageThread.assigned_to_id.is_(None), 1), else_=0)), 0),
            func.coalesce(func.sum(case((MessageThread.assigned_to_id == actor.user_id, 1), else_=0)), 0),
            func.count(MessageThread.id),
        ).where(is_open)
    ).one()
    unread = session.execute(
        select(func.count(SecureMessage.id))
        .join(MessageThread, MessageThread.id == SecureMessage.thread_id)
        .where(is_open, SecureMessage.from_patient.is_(True), SecureMessage.read_at.is_(None))
    ).scalar_one()
    return InboxCounts(int(unassigned), int(mine), int(total), int(unread))


def team_inbox(
    session: Session,
    *,
    actor: Actor,
    view: str = "unassigned",
    query: str = "",
    unread_only: bool = False,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    audit: bool = True,
) -> InboxPage:
    """One page of the team's threads, newest activity first: unassigned, assigned to me, all open
    or closed; optionally only those with unread messages, or matching a patient's name, MRN or
    the subject. Audited (the list names patients)."""
    authorize(actor, STAFF)
    if view not in VIEWS:
        raise ValidationError("Choose a list: unassigned, assigned to me, all open or closed.", field="view")
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        raise ValidationError(f"Search with at most {MAX_QUERY} characters.", field="query")
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValidationError("Choose a page.", field="page")
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    assignee = aliased(AppUser)
    unread = _unread(True).label("unread")
    conditions = [MessageThread.status == ("closed" if view == "closed" else "open")]
    if view == "unassigned":
        conditions.append(MessageThread.assigned_to_id.is_(None))
    elif view == "mine":
        conditions.append(MessageThread.assigned_to_id == actor.user_id)
    words = query.strip()
    if words:
        like = f"%{words.lower()}%"
        conditions.append(
            or_(
                func.lower(MessageThread.subject).like(like),
                func.lower(Patient.family_name).like(like),
                func.lower(Patient.given_name).like(like),
                func.lower(Patient.mrn).like(like),
            )
        )
    if unread_only:
        conditions.append(
            select(SecureMessage.id)
            .where(
                SecureMessage.thread_id == MessageThread.id,
                SecureMessage.from_patient.is_(True),
                SecureMessage.read_at.is_(None),
            )
            .exists()
        )
    base = (
        select(MessageThread.id)
        .join(Patient, Patient.id == MessageThread.patient_id)
        .where(and_(*conditions))
    )
    total = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = session.execute(
        select(
            MessageThread,
            Patient.given_name,
            Patient.family_name,
            Patient.mrn,
            assignee.display_name,
            unread,
        )
        .join(Patient, Patient.id == MessageThread.patient_id)
        .outerjoin(assignee, assignee.id == MessageThread.assigned_to_id)
        .where(and_(*conditions))
        .order_by(MessageThread.last_message_at.desc(), MessageThread.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    result = tuple(
        ThreadRow(
            t.id,
            t.subject,
            t.status,
            t.patient_id,
            f"{given} {family}",
            mrn,
            t.assigned_to_id,
            assigned or "",
            t.last_message_at,
            t.last_from_patient,
            int(n or 0),
        )
        for t, given, family, mrn, assigned, n in rows
    )
    if audit:
        record_audit(
            session,
            actor,
            "message.inbox_read",
            target_type="message_thread",
            detail=f"{VIEWS[view]}, page {page}: {len(result)} of {total} threads"
            + (f", search {words!r}" if words else ""),
        )
        session.commit()
    return InboxPage(result, int(total), inbox_counts(session, actor=actor))


def portal_threads(session: Session, *, actor: Actor) -> list[ThreadRow]:
    """The signed-in patient's own conversations, newest activity first, with how many of the
    team's messages they have not read yet. Audited."""
    authorize(actor, PORTAL)
    if actor.patient_id is None:
        raise ValidationError("Only patients have conversations in the portal.")
    unread = _unread(False).label("unread")
    rows = session.execute(
        select(MessageThread, unread)
        .where(MessageThread.patient_id == actor.patient_id)
        .order_by(MessageThread.last_message_at.desc(), MessageThread.id.desc())
        .limit(PORTAL_LIMIT)
    ).all()
    record_audit(
        session,
        actor,
        "message.list_read",
        patient_id=actor.patient_id,
        target_type="message_thread",
        detail=f"{len(rows)} conversations",
    )
    session.commit()
    return [
        ThreadRow(
            t.id,
            t.subject,
            t.status,
            t.patient_id,
            "",
            "",
            None,
            "",
            t.last_message_at,
            t.last_from_patient,
            int(n or 0),
        )
        for t, n in rows
    ]
