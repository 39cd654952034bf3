"""Secure messaging (telehealth): patient <-> care team threads with read receipts, attachments,
a staff team inbox with assignment, and invitations to book sent in a thread.

Patients act with ``portal.self`` on their own threads only (the patient is the session's, never
an id the browser sent); staff need ``message.staff``. Every read and write is audited and the
open screens learn of changes live (topic ``messages``: key ``team`` for the inbox,
``patient-<id>`` for a patient's portal).
"""

from hms_app.models.messaging import BODY_MAX, SUBJECT_MAX
from hms_app.services.messaging.attachments import (
    ATTACHMENT_MISSING,
    AttachmentFile,
    NewFile,
    open_attachment,
)
from hms_app.services.messaging.common import TEAM_KEY, THREAD_MISSING, TOPIC, patient_key
from hms_app.services.messaging.invitations import (
    INVITATION_MISSING,
    VisitOption,
    invitation_booked,
    invitation_options,
    invite_to_book,
    open_invitations,
    portal_invitation,
    withdraw_invitation,
)
from hms_app.services.messaging.lists import (
    PAGE_SIZE,
    VIEWS,
    InboxCounts,
    InboxPage,
    ThreadRow,
    inbox_counts,
    portal_threads,
    team_inbox,
)
from hms_app.services.messaging.threads import (
    AttachmentView,
    InvitationView,
    MessageView,
    ThreadView,
    assign_thread,
    close_thread,
    open_thread,
    post_message,
    reopen_thread,
    staff_members,
    start_thread,
)

__all__ = [
    "BODY_MAX",
    "SUBJECT_MAX",
    "ATTACHMENT_MISSING",
    "INVITATION_MISSING",
    "PAGE_SIZE",
    "TEAM_KEY",
    "THREAD_MISSING",
    "TOPIC",
    "VIEWS",
    "AttachmentFile",
    "AttachmentView",
    "InboxCounts",
    "InboxPage",
    "InvitationView",
    "MessageView",
    "NewFile",
    "ThreadRow",
    "ThreadView",
    "VisitOption",
    "assign_thread",
    "close_thread",
    "inbox_counts",
    "invitation_booked",
    "invitation_options",
    "invite_to_book",
    "open_attachment",
    "open_invitations",
    "open_thread",
    "patient_key",
    "portal_invitation",
    "portal_threads",
    "post_message",
    "reopen_thread",
    "staff_members",
    "start_thread",
    "team_inbox",
    "withdraw_invitation",
]
