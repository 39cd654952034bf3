"""What every messaging service shares: who is acting (the patient or the care team), finding a
thread the actor may see, checking a message's text, and telling the open screens after a commit."""

from __future__ import annotations

from sqlmodel import Session

from hms_app.errors import Conflict, ValidationError
from hms_app.models.messaging import BODY_MAX, SUBJECT_MAX, MessageThread
from hms_app.services import live
from hms_app.services.permissions import Actor, authorize, authorize_owner
from hms_app.services.rows import get_row

STAFF = "message.staff"
PORTAL = "portal.self"
TOPIC = "messages"
TEAM_KEY = "team"  # the staff inbox follows this key; each patient's portal follows their own
THREAD_MISSING = "That conversation does not exist."
CLOSED = "This conversation is closed. Start a new message instead."
CLOSED_STAFF = "This conversation is closed. Reopen it first."


def is_patient(actor: Actor | None) -> bool:
    return actor is not None and actor.patient_id is not None


def side_permission(actor: Actor | None) -> str:
    """Portal users act on their own threads with ``portal.self``; staff need ``message.staff``."""
    return PORTAL if is_patient(actor) else STAFF


def patient_key(patient_id: int) -> str:
    return f"patient-{patient_id}"


def authorize_side(actor: Actor | None) -> Actor:
    """Before any lookup: a refused role learns nothing about the ids it sent."""
    return authorize(actor, side_permission(actor))


def thread_for(session: Session, actor: Actor, thread_id, *, lock: bool = False) -> MessageThread:
    """The thread with this id, if the actor may see it: a patient only their own (someone else's is
    answered exactly as a missing one), staff any."""
    authorize_side(actor)
    if isinstance(thread_id, bool) or not isinstance(thread_id, int) or thread_id < 1:
        raise ValidationError("Choose a conversation from the list.", field="thread")
    thread = get_row(session, MessageThread, thread_id, THREAD_MISSING, lock=lock)
    authorize_owner(actor, side_permission(actor), patient_id=thread.patient_id, missing=THREAD_MISSING)
    return thread


def require_open(thread: MessageThread, actor: Actor) -> None:
    if thread.status != "open":
        raise Conflict(CLOSED if is_patient(actor) else CLOSED_STAFF)


def clean_subject(value) -> str:
    if not isinstance(value, str):
        raise ValidationError("Write a subject.", field="subject")
    text = " ".join(value.split())
    if not text:
        raise ValidationError("Write a subject.", field="subject")
    if len(text) > SUBJECT_MAX:
        raise ValidationError(f"Keep the subject under {SUBJECT_MAX} characters.", field="subject")
    return text


def clean_body(value, *, attachment: bool = False) -> str:
    """A message's text, trimmed. An attachment may go with a short line or none at all."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError("Write a message.", field="body")
    text = value.strip().replace("\r\n", "\n")
    if not text and not attachment:
        raise ValidationError("Write a message.", field="body")
    if len(text) > BODY_MAX:
        raise ValidationError(
            f"The message is {len(text):,} characters long; keep it under {BODY_MAX:,}.", field="body"
        )
    return text


def announce(patient_id: int) -> None:
    """After the commit: the team inbox and the patient's portal refresh."""
    live.publish(TOPIC, TEAM_KEY)
    live.publish(TOPIC, patient_key(patient_id))
