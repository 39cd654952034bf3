"""/messages: the care team's inbox of patients' secure messages, and one conversation beside it."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.messages import (
    FILE_HINT,
    attach_and_send,
    body_box,
    body_value,
    message_bubble,
    send_button,
    thread_subject,
    unread_badge,
)
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows
from hms_app.state.messaging.common import SUBJECT_MAX, MessageLine
from hms_app.state.messaging.inbox import NEW_UPLOAD_ID, UPLOAD_ID, InboxRow, InboxState

S = InboxState
STAFF = "message.staff"


def view_tab(value: str, label: str, count) -> rx.Component:
    return rx.button(
        label,
        rx.badge(
            count.to_string(),
            variant="solid",
            radius="full",
            color_scheme=rx.cond(S.view == value, "teal", "gray"),
        ),
        variant=rx.cond(S.view == value, "solid", "soft"),
        size="2",
        on_click=S.set_view(value),
        data_testid=f"inbox-view-{value}",
    )


def filters() -> rx.Component:
    return rx.vstack(
        rx.flex(
            view_tab("unassigned", "Unassigned", S.count_unassigned),
            view_tab("mine", "Assigned to me", S.count_mine),
            view_tab("open", "All open", S.count_open),
            rx.button(
                "Closed",
                variant=rx.cond(S.view == "closed", "solid", "soft"),
                size="2",
                on_click=S.set_view("closed"),
                data_testid="inbox-view-closed",
            ),
            spacing="2",
            wrap="wrap",
        ),
        rx.flex(
            rx.form(
                rx.hstack(
                    rx.input(
                        name="query",
                        placeholder="Patient, MRN or subject",
                        max_length=80,
                        default_value=S.query,
                        width="16rem",
                        data_testid="inbox-search",
                    ),
                    rx.button(rx.icon("search", size=14), "Search", variant="soft", type="submit"),
                    spacing="2",
                ),
                on_submit=S.search,
            ),
            rx.hstack(
                rx.switch(
                    checked=S.unread_only, on_change=S.set_unread_only, data_testid="inbox-unread-only"
                ),
                rx.text("Unread only", size="2"),
                align="center",
                spacing="2",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("pencil", size=14),
                "New message",
                size="2",
                on_click=S.compose,
                data_testid="inbox-compose",
            ),
            rx.badge(
                rx.icon("mail", size=12),
                S.count_unread.to_string(),
                " unread",
                color_scheme="red",
                variant="soft",
                size="2",
            ),
            spacing="3",
            align="center",
            wrap="wrap",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def inbox_row(r: InboxRow) -> rx.Component:
    selected = S.thread_id == r.id
    return rx.box(
        rx.vstack(
            rx.hstack(
                thread_subject(r.subject, r.unread, "2"),
                rx.spacer(),
                rx.text(r.when, size="1", color_scheme="gray", white_space="nowrap"),
                width="100%",
                align="baseline",
            ),
            rx.hstack(
                rx.text(r.patient, size="2"),
                rx.text(r.mrn, size="1", color_scheme="gray"),
                rx.spacer(),
                unread_badge(r.unread, "inbox-unread"),
                rx.cond(
                    r.assigned != "",
                    rx.badge(
                        rx.icon("user", size=10), r.assigned, variant="soft", data_testid="inbox-assigned"
                    ),
                    rx.badge("Unassigned", color_scheme="amber", variant="soft"),
                ),
                width="100%",
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            spacing="1",
            width="100%",
        ),
        padding="0.6rem 0.75rem",
        border_radius="var(--radius-3)",
        border=rx.cond(selected, f"2px solid {rx.color('accent', 8)}", f"1px solid {rx.color('gray', 5)}"),
        background=rx.cond(r.waiting & (r.status == "open"), rx.color("amber", 2), rx.color("gray", 1)),
        cursor="pointer",
        on_click=S.open(r.id),
        width="100%",
        data_testid="inbox-row",
        custom_attrs={"data-thread-id": r.id},
    )


def thread_list() -> rx.Component:
    return rx.vstack(
        rx.cond(
            S.loaded,
            rx.cond(
                S.rows.length() > 0,
                rx.vstack(rx.foreach(S.rows, inbox_row), spacing="2", width="100%"),
                empty_state("No conversations here.", "inbox"),
            ),
            skeleton_rows(),
        ),
        pager(S.page, S.page_count, S.total, S.move(-1), S.move(1), noun="conversations"),
        spacing="3",
        width="100%",
    )


def invite_button(m: MessageLine) -> rx.Component:
    return rx.cond(
        m.from_patient & (S.status == "open"),
        rx.button(
            rx.icon("calendar-plus", size=12),
            "Invite to book",
            size="1",
            variant="ghost",
            on_click=S.start_invite(m.id),
            data_testid="message-invite",
        ),
    )


def withdraw_button(m: MessageLine) -> rx.Component:
    return rx.cond(
        m.invitation_status == "open",
        rx.button(
            "Withdraw",
            size="1",
            variant="soft",
            color_scheme="gray",
            on_click=S.withdraw(m.invitation_id),
            data_testid="invitation-withdraw",
        ),
    )


def invite_form() -> rx.Component:
    return rx.cond(
        S.invite_open,
        rx.card(
            rx.form(
                rx.vstack(
                    rx.text("Invite the patient to book", weight="bold", size="2"),
                    rx.select.root(
                        rx.select.trigger(placeholder="Visit", width="100%", data_testid="invite-visit"),
                        rx.select.content(rx.foreach(S.visits, lambda v: rx.select.item(v[1], value=v[0]))),
                        value=S.invite_visit,
                        on_change=S.set_invite_visit,
                    ),
                    rx.text_area(
                        name="note",
                        placeholder="A note for the patient (optional)",
                        max_length=1000,
                        rows="2",
                        width="100%",
                        data_testid="invite-note",
                    ),
                    rx.hstack(
                        rx.button(
                            "Cancel",
                            variant="soft",
                            color_scheme="gray",
                            type="button",
                            on_click=S.cancel_invite,
                        ),
                        rx.button(
                            rx.icon("send", size=14),
                            "Send invitation",
                            type="submit",
                            data_testid="invite-send",
                        ),
                        justify="end",
                        width="100%",
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=S.invite,
                reset_on_submit=False,
            ),
            width="100%",
            data_testid="invite-form",
        ),
    )


def thread_action(icon: str, label: str, on_click, test_id: str, **props) -> rx.Component:
    """A button of the open conversation's toolbar (take, invite, close, reopen)."""
    return rx.button(
        rx.icon(icon, size=14),
        label,
        variant="soft",
        size="2",
        on_click=on_click,
        data_testid=test_id,
        **props,
    )


def thread_header() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading(S.subject, size="4", data_testid="thread-subject"),
            rx.spacer(),
            rx.icon_button(rx.icon("x", size=16), variant="ghost", on_click=S.close_view, aria_label="Close"),
            width="100%",
            align="start",
        ),
        rx.hstack(
            rx.link(S.patient, href="/patients/" + S.patient_id.to_string(), size="2"),
            rx.text(S.mrn, size="1", color_scheme="gray"),
            rx.badge(
                rx.cond(S.status == "open", "Open", "Closed"),
                color_scheme=rx.cond(S.status == "open", "teal", "gray"),
            ),
            align="center",
            spacing="2",
        ),
        rx.flex(
            rx.select.root(
                rx.select.trigger(placeholder="Assign to", data_testid="thread-assign"),
                rx.select.content(
                    rx.select.item("The team (unassigned)", value="team"),
                    rx.foreach(S.staff, lambda p: rx.select.item(p[1], value=p[0])),
                ),
                value=rx.cond(S.assigned_id == "", "team", S.assigned_id),
                on_change=S.assign,
                disabled=S.status != "open",
            ),
            rx.cond(
                ~S.assigned_to_me & (S.status == "open"),
                thread_action("hand", "Take it", S.take, "thread-take"),
            ),
            thread_action(
                "calendar-plus",
                "Invite to book",
                S.start_invite(0),
                "thread-invite",
                disabled=S.status != "open",
            ),
            rx.cond(
                S.status == "open",
                thread_action("archive", "Close", S.close_thread, "thread-close", color_scheme="gray"),
                thread_action("archive-restore", "Reopen", S.reopen_thread, "thread-reopen"),
            ),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        spacing="2",
        width="100%",
    )


def reply_box() -> rx.Component:
    return rx.cond(
        S.status == "open",
        rx.vstack(
            body_box("reply-body", "Write a reply to the patient"),
            attach_and_send(
                UPLOAD_ID,
                "reply-file",
                send_button(
                    S.send(rx.upload_files(upload_id=UPLOAD_ID), body_value("reply-body")),
                    loading=S.sending,
                    test_id="reply-send",
                ),
            ),
            rx.text(FILE_HINT, size="1", color_scheme="gray"),
            spacing="2",
            width="100%",
        ),
        rx.callout("This conversation is closed. Reopen it to reply.", icon="archive", color_scheme="gray"),
    )


def new_message() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("New message to a patient", size="4"),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("x", size=16), variant="ghost", on_click=S.cancel_compose, aria_label="Close"
                ),
                width="100%",
            ),
            rx.input(
                id="inbox-new-mrn",
                placeholder="Patient's MRN (H0001234-4)",
                max_length=20,
                width="14rem",
                data_testid="inbox-new-mrn",
            ),
            rx.input(
                id="inbox-new-subject",
                placeholder="Subject",
                max_length=SUBJECT_MAX,
                width="100%",
                data_testid="inbox-new-subject",
            ),
            body_box("inbox-new-body", "Your message to the patient", rows="5"),
            attach_and_send(
                NEW_UPLOAD_ID,
                "inbox-new-file",
                send_button(
                    S.start(
                        rx.upload_files(upload_id=NEW_UPLOAD_ID),
                        body_value("inbox-new-mrn"),
                        body_value("inbox-new-subject"),
                        body_value("inbox-new-body"),
                    ),
                    loading=S.sending,
                    test_id="inbox-new-send",
                ),
            ),
            rx.text("The conversation is assigned to you. " + FILE_HINT, size="1", color_scheme="gray"),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="inbox-new-message",
    )


def thread_panel() -> rx.Component:
    return rx.cond(
        S.composing,
        new_message(),
        thread_view(),
    )


def thread_view() -> rx.Component:
    return rx.cond(
        S.thread_id > 0,
        rx.card(
            rx.vstack(
                thread_header(),
                rx.separator(),
                rx.vstack(
                    rx.foreach(
                        S.messages,
                        lambda m: message_bubble(m, invitation_action=withdraw_button, extra=invite_button),
                    ),
                    spacing="3",
                    width="100%",
                    data_testid="thread-messages",
                ),
                invite_form(),
                reply_box(),
                spacing="3",
                width="100%",
            ),
            width="100%",
            data_testid="thread-panel",
        ),
        rx.card(empty_state("Choose a conversation to read it.", "messages-square"), width="100%"),
    )


@staff_page("/messages", "Messages", on_load=[S.load, S.watch])
def inbox() -> rx.Component:
    return rx.vstack(
        refused(STAFF, "Your role does not give access to patients' messages."),
        rx.cond(
            can(STAFF),
            rx.vstack(
                filters(),
                rx.flex(
                    rx.box(thread_list(), flex="1 1 22rem", min_width="0", max_width="34rem"),
                    rx.box(thread_panel(), flex="2 1 26rem", min_width="0"),
                    spacing="4",
                    width="100%",
                    wrap="wrap",
                    align="start",
                ),
                spacing="4",
                width="100%",
                data_testid="messages-inbox",
                custom_attrs={"data-version": S.version},
            ),
        ),
        width="100%",
    )
