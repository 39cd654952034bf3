"""/portal/messages: the patient's secure messages with their care team. Phone-first: the list of
conversations, or one conversation with its reply box; a new message with a subject and a file;
invitations to book at the top, each a link into the booking page with the visit chosen."""

from __future__ import annotations

import reflex as rx

from hms_app.components.messages import (
    FILE_HINT,
    attach_and_send,
    body_box,
    body_value,
    file_picker,
    message_bubble,
    send_button,
    thread_subject,
    unread_badge,
)
from hms_app.components.portal_shell import portal_page
from hms_app.pages.portal.parts import loading_list
from hms_app.state.messaging.common import SUBJECT_MAX, MessageLine
from hms_app.state.portal.messages import (
    NEW_UPLOAD_ID,
    REPLY_UPLOAD_ID,
    InvitationCard,
    PortalMessagesState,
    PortalThread,
)

S = PortalMessagesState


def invitation_card(i: InvitationCard) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("calendar-plus")),
        rx.flex(
            rx.vstack(
                rx.text("Your care team invites you to book", size="2", weight="bold"),
                rx.text(i.label, size="2"),
                spacing="0",
            ),
            rx.spacer(),
            rx.link(rx.button("Book now", size="2"), href=i.href, data_testid="invitation-book"),
            width="100%",
            align="center",
            wrap="wrap",
            spacing="2",
        ),
        color_scheme="teal",
        width="100%",
        data_testid="portal-invitation",
    )


def thread_row(t: PortalThread) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.icon("message-square", size=18, color=rx.color("accent", 10)),
            rx.vstack(
                thread_subject(t.subject, t.unread, "3"),
                rx.hstack(
                    rx.text(t.when, size="1", color_scheme="gray"),
                    rx.cond(
                        t.closed,
                        rx.badge("Closed", color_scheme="gray", size="1"),
                        rx.text(
                            rx.cond(
                                t.waiting, "Waiting for your care team", "Last message from your care team"
                            ),
                            size="1",
                            color_scheme="gray",
                        ),
                    ),
                    spacing="2",
                ),
                spacing="0",
                min_width="0",
                flex="1",
            ),
            unread_badge(t.unread, "thread-unread"),
            align="center",
            spacing="3",
            width="100%",
        ),
        on_click=S.open(t.id),
        cursor="pointer",
        width="100%",
        data_testid="portal-thread",
    )


def new_message_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("New message to your care team", size="4"),
            rx.input(
                id="portal-new-subject",
                placeholder="Subject",
                max_length=SUBJECT_MAX,
                size="3",
                width="100%",
                data_testid="portal-new-subject",
            ),
            body_box("portal-new-body", "Your message", rows="5"),
            file_picker(NEW_UPLOAD_ID, "portal-new-file"),
            rx.text(FILE_HINT, size="1", color_scheme="gray"),
            rx.callout(
                "For an emergency, call your local emergency number. Messages are read during opening hours.",
                icon="triangle-alert",
                color_scheme="amber",
                size="1",
            ),
            rx.hstack(
                rx.button(
                    "Cancel", variant="soft", color_scheme="gray", on_click=S.cancel_compose, type="button"
                ),
                send_button(
                    S.start(
                        rx.upload_files(upload_id=NEW_UPLOAD_ID),
                        body_value("portal-new-subject"),
                        body_value("portal-new-body"),
                    ),
                    loading=S.sending,
                    test_id="portal-new-send",
                ),
                justify="end",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="portal-new-message",
    )


def book_link(m: MessageLine) -> rx.Component:
    return rx.cond(
        m.invitation_status == "open",
        rx.link(
            rx.button("Book now", size="1"), href=m.invitation_href, data_testid="message-invitation-book"
        ),
    )


def conversation() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.icon_button(
                rx.icon("arrow-left", size=16), variant="ghost", on_click=S.back, aria_label="Back"
            ),
            rx.heading(S.subject, size="4", data_testid="portal-thread-subject"),
            align="center",
            spacing="2",
        ),
        rx.vstack(
            rx.foreach(S.messages, lambda m: message_bubble(m, invitation_action=book_link)),
            spacing="3",
            width="100%",
            data_testid="portal-thread-messages",
        ),
        rx.cond(
            S.status == "open",
            rx.card(
                rx.vstack(
                    body_box("portal-reply-body", "Write a reply"),
                    attach_and_send(
                        REPLY_UPLOAD_ID,
                        "portal-reply-file",
                        send_button(
                            S.send(
                                rx.upload_files(upload_id=REPLY_UPLOAD_ID), body_value("portal-reply-body")
                            ),
                            loading=S.sending,
                            test_id="portal-reply-send",
                        ),
                    ),
                    spacing="2",
                    width="100%",
                ),
                width="100%",
            ),
            rx.callout(
                "Your care team closed this conversation. Write a new message if you need anything else.",
                icon="archive",
                color_scheme="gray",
            ),
        ),
        spacing="3",
        width="100%",
    )


def thread_list() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Messages", size="5"),
            rx.spacer(),
            rx.button(
                rx.icon("pencil", size=14), "New message", on_click=S.compose, data_testid="portal-compose"
            ),
            width="100%",
            align="center",
        ),
        rx.text(
            "Write to your care team about anything that is not urgent. You will see here when they have read your message.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(S.composing, new_message_form()),
        rx.cond(
            S.loaded,
            rx.cond(
                S.threads.length() > 0,
                rx.vstack(rx.foreach(S.threads, thread_row), spacing="2", width="100%"),
                rx.card(
                    rx.center(rx.text("You have no messages yet.", color_scheme="gray"), padding="2rem"),
                    width="100%",
                    data_testid="portal-messages-empty",
                ),
            ),
            loading_list(),
        ),
        spacing="3",
        width="100%",
    )


@portal_page(route="/portal/messages", title="Messages", on_load=[S.load, S.watch], max_width="44rem")
def messages_page() -> rx.Component:
    return rx.vstack(
        rx.cond(
            S.thread_id > 0,
            conversation(),
            rx.vstack(rx.foreach(S.invitations, invitation_card), thread_list(), spacing="4", width="100%"),
        ),
        spacing="4",
        width="100%",
        data_testid="portal-messages",
        custom_attrs={"data-version": S.version},
    )
