"""The staff team inbox (/messages): patients' conversations (unassigned, assigned to me, all
open, closed), searched, filtered and paged in SQL, with unread counts; one conversation open
beside the list, to read (which marks the patient's messages read), answer with a file, assign,
close or reopen, or to invite the patient to book a visit.

The list and the open conversation follow the ``messages`` topic: a patient's new message
appears without a reload. Ids the browser sends back are checked by the services again.
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
    moment_label,
    open_conversation,
    send_reply,
    start_conversation,
    thread_in_url,
)
from hms_app.state.session import SessionState, browser_id, pages_for, public, requires, turn_page

STAFF = "message.staff"
UPLOAD_ID = "inbox_reply_file"
NEW_UPLOAD_ID = "inbox_new_file"
FILE_ROUTE = "/api/messages/attachments"
MAX_QUERY = 80


@dataclass(frozen=True)
class InboxRow:
    id: int = 0
    subject: str = ""
    patient: str = ""
    mrn: str = ""
    assigned: str = ""
    when: str = ""
    unread: int = 0
    waiting: bool = False  # the patient wrote last: the team owes an answer
    status: str = ""


class InboxState(SessionState):
    view: str = "unassigned"
    query: str = ""
    unread_only: bool = False
    page: int = 1
    page_count: int = 1
    total: int = 0
    rows: list[InboxRow] = []
    loaded: bool = False
    count_unassigned: int = 0
    count_mine: int = 0
    count_open: int = 0
    count_unread: int = 0
    version: int = 0  # counts reloads; the page shows it as data-version for tests
    # The open conversation.
    thread_id: int = 0
    subject: str = ""
    patient: str = ""
    mrn: str = ""
    patient_id: int = 0
    status: str = ""
    assigned_id: str = ""  # "" for the team
    assigned: str = ""
    assigned_to_me: bool = False
    messages: list[MessageLine] = []
    sending: bool = False
    staff: list[list[str]] = []  # [id, name]
    visits: list[list[str]] = []  # ["service:type", label]
    invite_open: bool = False
    invite_visit: str = ""
    invite_from: int = 0
    composing: bool = False

    _opened: bool = False

    async def _reload(self, *, audit: bool):
        try:
            found = await self._run(
                messaging.team_inbox,
                view=self.view,
                query=self.query,
                unread_only=self.unread_only,
                page=self.page,
                audit=audit,
            )
        except DomainError as error:
            return rx.toast.error(str(error))
        self.page_count = pages_for(found.total, messaging.PAGE_SIZE)
        if self.page > self.page_count:
            self.page = self.page_count
        self.total = found.total
        self.rows = [
            InboxRow(
                r.id,
                r.subject,
                r.patient_name,
                r.mrn,
                r.assigned_name,
                moment_label(r.last_message_at),
                r.unread,
                r.last_from_patient,
                r.status,
            )
            for r in found.rows
        ]
        counts = found.counts
        self.count_unassigned, self.count_mine = counts.unassigned, counts.mine
        self.count_open, self.count_unread = counts.open, counts.unread
        self.loaded, self._opened = True, True
        self.version += 1
        return None

    async def _show_thread(self, thread_id: int):
        self.composing = False
        thread, problem = await open_conversation(self, thread_id, patient_side=False, file_route=FILE_ROUTE)
        if thread is None:
            return problem
        self.patient, self.mrn, self.patient_id = thread.patient_name, thread.mrn, thread.patient_id
        self.assigned_id = str(thread.assigned_to_id or "")
        self.assigned = thread.assigned_name
        self.assigned_to_me = thread.assigned_to_id == self.acting().user_id
        return None

    async def _reload_list(self):
        return await self._reload(audit=False)

    @rx.event
    @requires(STAFF)
    async def load(self):
        self.thread_id, self.messages, self.invite_open = 0, [], False
        try:
            self.staff = [[str(i), n] for i, n in await self._run(messaging.staff_members)]
            self.visits = [
                [f"{v.service_id}:{v.appointment_type_id}", v.label]
                for v in await self._run(messaging.invitation_options)
            ]
        except DomainError as error:
            return rx.toast.error(str(error))
        problem = await self._reload(audit=True)
        wanted = thread_in_url(self)
        if problem is None and wanted:
            return await self._show_thread(wanted)
        return problem

    @rx.event
    @requires(STAFF)
    async def refresh(self):
        if not self._opened:
            return None
        problem = await self._reload(audit=False)
        if problem is None and self.thread_id:
            # The open conversation is on screen: what arrives in it is read as it arrives.
            return await self._show_thread(self.thread_id)
        return problem

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, messaging.TOPIC, (messaging.TEAM_KEY,), permission=STAFF):
            yield InboxState.refresh

    @rx.event
    @requires(STAFF)
    async def set_view(self, view: str):
        if view not in messaging.VIEWS:
            return rx.toast.error("Choose a list.")
        self.view, self.page = view, 1
        return await self._reload(audit=True)

    @rx.event
    @requires(STAFF)
    async def search(self, form: dict):
        query = form.get("query", "") if isinstance(form, dict) else ""
        if not isinstance(query, str) or len(query) > MAX_QUERY:
            return rx.toast.error(f"Search with at most {MAX_QUERY} characters.")
        self.query, self.page = query.strip(), 1
        return await self._reload(audit=True)

    @rx.event
    @requires(STAFF)
    async def set_unread_only(self, value: bool):
        self.unread_only, self.page = value is True, 1
        return await self._reload(audit=True)

    @rx.event
    @requires(STAFF)
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, lambda: self._reload(audit=True))

    @rx.event
    @requires(STAFF)
    async def open(self, thread_id: int | str):
        try:
            wanted = browser_id(thread_id, "conversation")
        except DomainError as error:
            return rx.toast.error(str(error))
        self.invite_open = False
        problem = await self._show_thread(wanted)
        return problem or await self._reload(audit=False)

    @rx.event
    @requires(STAFF)
    def close_view(self):
        self.thread_id, self.messages, self.invite_open = 0, [], False

    @rx.event
    @requires(STAFF)
    def compose(self):
        """A new conversation with a patient, who is named by their MRN."""
        self.composing, self.thread_id, self.messages, self.invite_open = True, 0, [], False

    @rx.event
    @requires(STAFF)
    def cancel_compose(self):
        self.composing = False

    @rx.event
    @requires(STAFF)
    async def start(self, files: list[rx.UploadFile], mrn: str = "", subject: str = "", body: str = ""):
        async for event in start_conversation(
            self,
            files,
            upload_id=NEW_UPLOAD_ID,
            sent="Message sent to the patient.",
            close_compose=True,
            patient_mrn=form_value(mrn, 20),
            subject=subject,
            body=body,
        ):
            yield event

    @rx.event
    @requires(STAFF)
    async def send(self, files: list[rx.UploadFile], body: str = ""):
        async for event in send_reply(self, files, body, upload_id=UPLOAD_ID, body_box="reply-body"):
            yield event

    async def _change(self, fn, done: str, **kwargs):
        if not self.thread_id:
            return rx.toast.error("Open a conversation first.")
        try:
            await self._run(fn, thread_id=self.thread_id, **kwargs)
        except DomainError as error:
            return rx.toast.error(str(error))
        await self._show_thread(self.thread_id)
        await self._reload(audit=False)
        return rx.toast.success(done)

    @rx.event
    @requires(STAFF)
    async def assign(self, user_id: str):
        if user_id in ("", "team"):
            return await self._change(messaging.assign_thread, "Back with the team.", user_id=None)
        try:
            chosen = browser_id(user_id, "staff member")
        except DomainError as error:
            return rx.toast.error(str(error))
        name = next((n for i, n in self.staff if i == str(chosen)), "")
        return await self._change(messaging.assign_thread, f"Assigned to {name}.", user_id=chosen)

    @rx.event
    @requires(STAFF)
    async def take(self):
        return await self._change(messaging.assign_thread, "Assigned to you.", user_id=self.acting().user_id)

    @rx.event
    @requires(STAFF)
    async def close_thread(self):
        return await self._change(messaging.close_thread, "Conversation closed.")

    @rx.event
    @requires(STAFF)
    async def reopen_thread(self):
        return await self._change(messaging.reopen_thread, "Conversation reopened.")

    @rx.event
    @requires(STAFF)
    def start_invite(self, message_id: int | str = 0):
        """Open the invitation form, in answer to one of the conversation's messages (or none)."""
        if not self.thread_id:
            return rx.toast.error("Open a conversation first.")
        wanted = 0
        if message_id not in (0, "0", "", None):
            try:
                wanted = browser_id(message_id, "message")
            except DomainError as error:
                return rx.toast.error(str(error))
            if wanted not in {m.id for m in self.messages}:
                return rx.toast.error("Choose a message of this conversation.")
        if not self.visits:
            return rx.toast.error("No service can be booked online yet: mark one bookable online first.")
        self.invite_open, self.invite_from = True, wanted
        self.invite_visit = self.invite_visit or self.visits[0][0]
        return None

    @rx.event
    @requires(STAFF)
    async def withdraw(self, invitation_id: int | str):
        """Withdraw an invitation of the open conversation that has not been used yet."""
        refused = "Choose an invitation of this conversation that is not used yet."
        try:
            wanted = browser_id(invitation_id, "invitation")
        except DomainError:
            return rx.toast.error(refused)
        if wanted not in {m.invitation_id for m in self.messages if m.invitation_status == "open"}:
            return rx.toast.error(refused)
        try:
            await self._run(messaging.withdraw_invitation, invitation_id=wanted)
        except DomainError as error:
            return rx.toast.error(str(error))
        await self._show_thread(self.thread_id)
        return rx.toast.success("Invitation withdrawn.")

    @rx.event
    @requires(STAFF)
    def cancel_invite(self):
        self.invite_open, self.invite_from = False, 0

    @rx.event
    @requires(STAFF)
    def set_invite_visit(self, key: str):
        if key not in {k for k, _ in self.visits}:
            return rx.toast.error("Choose a visit from the list.")
        self.invite_visit = key
        return None

    @rx.event
    @requires(STAFF)
    async def invite(self, form: dict):
        key = self.invite_visit
        note = form.get("note", "") if isinstance(form, dict) else ""
        if key not in {k for k, _ in self.visits}:
            return rx.toast.error("Choose a visit from the list.")
        service_id, type_id = (int(part) for part in key.split(":"))
        result = await self._change(
            messaging.invite_to_book,
            "Invitation sent.",
            service_id=service_id,
            appointment_type_id=type_id,
            note=form_value(note, 1000),
            from_message_id=self.invite_from or None,
        )
        if self.thread_id:
            self.invite_open, self.invite_from = False, 0
        return result
