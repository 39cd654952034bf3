"""The portal's messages page (/portal/messages): the signed-in patient's conversations with the
care team, one open at a time (opening it marks the team's messages read: their read receipt),
writing a new message or a reply with a file, and the invitations to book they were sent.

The patient is the one on the server-side session: no handler takes a patient id, and a thread
id the browser sends is checked by the service (another patient's is answered as a missing one).
The page follows the ``messages`` topic for this patient only: a reply appears without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError
from hms_app.services import messaging
from hms_app.state.live import live_changes
from hms_app.state.messaging.common import (
    WATCH_REASON,
    MessageLine,
    form_value,
    message_line,
    moment_label,
    read_upload,
)
from hms_app.state.session import SessionState, browser_id, public, requires

PORTAL = "portal.self"
REPLY_UPLOAD_ID = "portal_reply_file"
NEW_UPLOAD_ID = "portal_new_file"
FILE_ROUTE = "/api/portal/messages/attachments"


@dataclass(frozen=True)
class PortalThread:
    id: int = 0
    subject: str = ""
    when: str = ""
    unread: int = 0
    closed: bool = False
    waiting: bool = False  # the patient wrote last: the team has not answered yet


@dataclass(frozen=True)
class InvitationCard:
    id: int = 0
    label: str = ""
    href: str = ""


class PortalMessagesState(SessionState):
    loaded: bool = False
    threads: list[PortalThread] = []
    invitations: list[InvitationCard] = []
    thread_id: int = 0
    subject: str = ""
    status: str = ""
    messages: list[MessageLine] = []
    composing: bool = False
    sending: bool = False
    version: int = 0

    _opened: bool = False

    async def _reload(self):
        try:
            rows = await self._run(messaging.portal_threads)
            invitations = await self._run(messaging.open_invitations)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.threads = [
            PortalThread(
                r.id,
                r.subject,
                moment_label(r.last_message_at),
                r.unread,
                r.status == "closed",
                r.last_from_patient,
            )
            for r in rows
        ]
        self.invitations = [
            InvitationCard(
                i.id, f"{i.service_name} · {i.visit_type} ({i.minutes} min)", f"/portal/book?invite={i.id}"
            )
            for i in invitations
        ]
        self.loaded, self._opened = True, True
        self.version += 1
        return None

    async def _show(self, thread_id: int):
        try:
            thread = await self._run(messaging.open_thread, thread_id=thread_id)
        except DomainError as error:
            self.thread_id = 0
            return rx.toast.error(str(error))
        self.thread_id, self.subject, self.status = thread.id, thread.subject, thread.status
        self.messages = [message_line(m, patient_side=True, file_route=FILE_ROUTE) for m in thread.messages]
        self.composing = False
        return None

    @rx.event
    @requires(PORTAL)
    async def load(self):
        self.thread_id, self.messages, self.composing, self.sending = 0, [], False, False
        problem = await self._reload()
        wanted = self.router.url.query_parameters.get("thread", "") if self.router else ""
        if problem is None and isinstance(wanted, str) and wanted.isdigit() and len(wanted) < 10:
            return await self._show(int(wanted))
        return problem

    @rx.event
    @requires(PORTAL)
    async def refresh(self):
        if not self._opened:
            return None
        if self.thread_id:
            await self._show(self.thread_id)  # a reply on screen is read as it arrives
        return await self._reload()

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async with self:
            actor = await self._current_actor()
        if actor is None or actor.patient_id is None:
            return
        key = messaging.patient_key(actor.patient_id)
        async for _ in live_changes(self, messaging.TOPIC, (key,), permission=PORTAL):
            yield PortalMessagesState.refresh

    @rx.event
    @requires(PORTAL)
    async def open(self, thread_id: int | str):
        try:
            wanted = browser_id(thread_id, "conversation")
        except DomainError as error:
            return rx.toast.error(str(error))
        problem = await self._show(wanted)
        return problem or await self._reload()

    @rx.event
    @requires(PORTAL)
    def back(self):
        self.thread_id, self.messages = 0, []

    @rx.event
    @requires(PORTAL)
    def compose(self):
        self.composing, self.thread_id, self.messages = True, 0, []

    @rx.event
    @requires(PORTAL)
    def cancel_compose(self):
        self.composing = False

    @rx.event
    @requires(PORTAL)
    async def start(self, files: list[rx.UploadFile], subject: str = "", body: str = ""):
        if self.sending:
            return
        try:
            upload = await read_upload(files)
        except ValueError as error:
            yield rx.toast.error(str(error))
            return
        self.sending = True
        yield
        try:
            thread_id = await self._run(
                messaging.start_thread,
                subject=form_value(subject, messaging.SUBJECT_MAX),
                body=form_value(body, messaging.BODY_MAX),
                upload=upload,
            )
        except DomainError as error:
            self.sending = False
            yield rx.toast.error(str(error))
            return
        self.sending = False
        yield [
            rx.clear_selected_files(NEW_UPLOAD_ID),
            rx.toast.success("Your message was sent to your care team."),
        ]
        yield await self._show(thread_id)
        yield await self._reload()

    @rx.event
    @requires(PORTAL)
    async def send(self, files: list[rx.UploadFile], body: str = ""):
        if not self.thread_id or self.sending:
            return
        try:
            upload = await read_upload(files)
        except ValueError as error:
            yield rx.toast.error(str(error))
            return
        self.sending = True
        yield
        try:
            await self._run(
                messaging.post_message,
                thread_id=self.thread_id,
                body=form_value(body, messaging.BODY_MAX),
                upload=upload,
            )
        except DomainError as error:
            self.sending = False
            yield rx.toast.error(str(error))
            return
        self.sending = False
        yield [rx.clear_selected_files(REPLY_UPLOAD_ID), rx.set_value("portal-reply-body", "")]
        yield await self._show(self.thread_id)
        yield await self._reload()
