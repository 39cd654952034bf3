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
    moment_label,
    open_conversation,
    send_reply,
    start_conversation,
    thread_in_url,
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

    async def _show_thread(self, thread_id: int):
        thread, problem = await open_conversation(self, thread_id, patient_side=True, file_route=FILE_ROUTE)
        if thread is None:
            return problem
        self.composing = False
        return None

    async def _reload_list(self):
        return await self._reload()

    @rx.event
    @requires(PORTAL)
    async def load(self):
        self.thread_id, self.messages, self.composing, self.sending = 0, [], False, False
        problem = await self._reload()
        wanted = thread_in_url(self)
        if problem is None and wanted:
            return await self._show_thread(wanted)
        return problem

    @rx.event
    @requires(PORTAL)
    async def refresh(self):
        if not self._opened:
            return None
        if self.thread_id:
            await self._show_thread(self.thread_id)  # a reply on screen is read as it arrives
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
        problem = await self._show_thread(wanted)
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
        async for event in start_conversation(
            self,
            files,
            upload_id=NEW_UPLOAD_ID,
            sent="Your message was sent to your care team.",
            subject=subject,
            body=body,
        ):
            yield event

    @rx.event
    @requires(PORTAL)
    async def send(self, files: list[rx.UploadFile], body: str = ""):
        async for event in send_reply(
            self, files, body, upload_id=REPLY_UPLOAD_ID, body_box="portal-reply-body"
        ):
            yield event
