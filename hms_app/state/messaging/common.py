"""What both sides of a conversation show: a message line with its read receipt, its files and
its invitation to book, and the upload rules the screens check before sending."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import reflex as rx

from hms_app.clock import local_today, to_local
from hms_app.errors import DomainError
from hms_app.services import messaging
from hms_app.services.file_store import DOCUMENT_TYPES, MAX_DOCUMENT_BYTES
from hms_app.services.messaging import BODY_MAX, SUBJECT_MAX, MessageView, NewFile  # noqa: F401  (the limits, for the pages)

WATCH_REASON = "only waits for change notices and reads no data; the refresh it triggers is guarded"
MAX_FILE_MB = MAX_DOCUMENT_BYTES // (1024 * 1024)
ACCEPT = {"application/pdf": [".pdf"], "image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"]}
# What a browser may call a JPEG; the service checks the bytes whatever the name says.
CONTENT_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
EXTENSION_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
INVITATION_WORDS = {"open": "Invitation to book", "booked": "Booked", "withdrawn": "Withdrawn"}


@dataclass(frozen=True)
class FileLine:
    id: int = 0
    name: str = ""
    size: str = ""
    href: str = ""


@dataclass(frozen=True)
class MessageLine:
    id: int = 0
    body: str = ""
    mine: bool = False  # written by this side (the patient in the portal, the team in the inbox)
    from_patient: bool = False
    author: str = ""
    when: str = ""
    receipt: str = ""  # on this side's own messages: "Read 14:32" or "Delivered"
    read: bool = False
    files: list[FileLine] = field(default_factory=list)
    invitation_id: int = 0
    invitation_label: str = ""
    invitation_status: str = ""  # open | booked | withdrawn
    invitation_words: str = ""
    invitation_href: str = ""


def size_label(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def moment_label(moment: datetime | None) -> str:
    """ "14:32" today, "3 Dec 14:32" on another day, in the hospital's time."""
    local = to_local(moment)
    if local is None:
        return ""
    if local.date() == local_today():
        return local.strftime("%H:%M")
    return f"{local.day} {local.strftime('%b %H:%M')}"


def message_line(m: MessageView, *, patient_side: bool, file_route: str) -> MessageLine:
    mine = m.from_patient == patient_side
    receipt = ""
    if mine:
        receipt = f"Read {moment_label(m.read_at)}" if m.read_at else "Delivered"
    invitation = m.invitation
    return MessageLine(
        id=m.id,
        body=m.body,
        mine=mine,
        from_patient=m.from_patient,
        author=m.author_name,
        when=moment_label(m.created_at),
        receipt=receipt,
        read=m.read_at is not None,
        files=[
            FileLine(a.id, a.filename, size_label(a.size_bytes), f"{file_route}/{a.id}")
            for a in m.attachments
        ],
        invitation_id=invitation.id if invitation else 0,
        invitation_label=f"{invitation.service_name} · {invitation.visit_type} ({invitation.minutes} min)"
        if invitation
        else "",
        invitation_status=invitation.status if invitation else "",
        invitation_words=INVITATION_WORDS.get(invitation.status, "") if invitation else "",
        invitation_href=f"/portal/book?invite={invitation.id}" if invitation else "",
    )


async def read_upload(files) -> NewFile | None:
    """The one file sent with a message (None without one); the service checks its type and bytes.
    Refused here already: several files, or one larger than the limit (without reading it all)."""
    if not files:
        return None
    if len(files) > 1:
        raise ValueError("Attach one file at a time.")
    upload = files[0]
    if upload.size is not None and upload.size > MAX_DOCUMENT_BYTES:
        raise ValueError(f"The file is larger than {MAX_FILE_MB} MB.")
    filename = upload.filename or "attachment"
    declared = CONTENT_TYPE_ALIASES.get(upload.content_type or "", upload.content_type or "")
    if declared not in DOCUMENT_TYPES:
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        declared = EXTENSION_TYPES.get(suffix, declared)
    # Read one byte past the limit: enough for the service to refuse a larger file.
    content = await upload.read(MAX_DOCUMENT_BYTES + 1)
    return NewFile(filename, declared, content)


def form_value(value, limit: int) -> str:
    """A text the browser sent along with an upload: a string, cut at ``limit`` (the service
    refuses what is too long with its own message, so keep one character more)."""
    return value[: limit + 1] if isinstance(value, str) else ""


def thread_in_url(state) -> int:
    """The conversation a link opens (``?thread=12``), or 0."""
    wanted = state.router.url.query_parameters.get("thread", "") if state.router else ""
    return int(wanted) if isinstance(wanted, str) and wanted.isdigit() and len(wanted) < 10 else 0


async def open_conversation(state, thread_id: int, *, patient_side: bool, file_route: str):
    """Open a conversation (the service marks the other side's messages read) and show its
    subject, status and messages. Returns ``(thread, None)``, or ``(None, error toast)`` with
    ``state.thread_id`` cleared."""
    try:
        thread = await state._run(messaging.open_thread, thread_id=thread_id)
    except DomainError as error:
        state.thread_id = 0
        return None, rx.toast.error(str(error))
    state.thread_id, state.subject, state.status = thread.id, thread.subject, thread.status
    state.messages = [
        message_line(m, patient_side=patient_side, file_route=file_route) for m in thread.messages
    ]
    return thread, None


async def send_with_file(state, files, service, *, cleared: list, close_compose: bool = False, **fields):
    """The send flow both sides share, as events to yield: the one file read and checked, the
    ``sending`` flag on while ``service`` (start_thread or post_message) runs, its refusal as a
    toast; once sent, the ``cleared`` events (file picker, text box, toast), the conversation shown
    again (the new one for start_thread) and the list reloaded. The state brings
    ``_show_thread(thread_id)`` and ``_reload_list()``; ``close_compose`` closes its new-message
    form as soon as the message is sent."""
    if state.sending:
        return
    try:
        upload = await read_upload(files)
    except ValueError as error:
        yield rx.toast.error(str(error))
        return
    state.sending = True
    yield
    try:
        result = await state._run(service, upload=upload, **fields)
    except DomainError as error:
        state.sending = False
        yield rx.toast.error(str(error))
        return
    state.sending = False
    if close_compose:
        state.composing = False
    yield cleared
    yield await state._show_thread(fields.get("thread_id") or result)
    yield await state._reload_list()


async def start_conversation(state, files, *, upload_id: str, sent: str, subject: str, body: str, **fields):
    """A new conversation with its first message (and the file chosen in ``upload_id``); ``sent``
    is the toast once it is sent."""
    async for event in send_with_file(
        state,
        files,
        messaging.start_thread,
        cleared=[rx.clear_selected_files(upload_id), rx.toast.success(sent)],
        subject=form_value(subject, messaging.SUBJECT_MAX),
        body=form_value(body, messaging.BODY_MAX),
        **fields,
    ):
        yield event


async def send_reply(state, files, body: str, *, upload_id: str, body_box: str):
    """A reply (and the file chosen in ``upload_id``) in the open conversation; the reply box
    ``body_box`` is emptied once it is sent."""
    if not state.thread_id:
        return
    async for event in send_with_file(
        state,
        files,
        messaging.post_message,
        cleared=[rx.clear_selected_files(upload_id), rx.set_value(body_box, "")],
        thread_id=state.thread_id,
        body=form_value(body, messaging.BODY_MAX),
    ):
        yield event
