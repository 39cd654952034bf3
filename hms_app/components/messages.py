"""A conversation's pieces, shared by the staff inbox and the patient portal: a message bubble
(its text, files, invitation to book and read receipt) and the reply box with its file picker."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from hms_app.components.ui import upload_rejected
from hms_app.state.messaging.common import ACCEPT, BODY_MAX, MAX_DOCUMENT_BYTES, MAX_FILE_MB, MessageLine


def file_chip(f) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("paperclip", size=14),
            rx.text(f.name, size="2", overflow_wrap="anywhere"),
            rx.text(f.size, size="1", color_scheme="gray", white_space="nowrap"),
            spacing="1",
            align="center",
        ),
        href=f.href,
        is_external=True,
        data_testid="message-file",
    )


def invitation_box(m: MessageLine, action: rx.Component | None) -> rx.Component:
    return rx.cond(
        m.invitation_id > 0,
        rx.vstack(
            rx.hstack(
                rx.icon("calendar-plus", size=14, color=rx.color("teal", 10)),
                rx.text(m.invitation_words, size="1", weight="bold", color_scheme="teal"),
                align="center",
                spacing="1",
            ),
            rx.text(m.invitation_label, size="2"),
            action if action is not None else rx.fragment(),
            spacing="1",
            padding="0.5rem 0.75rem",
            border=f"1px solid {rx.color('teal', 6)}",
            border_radius="var(--radius-3)",
            background=rx.color("teal", 2),
            width="100%",
            data_testid="message-invitation",
            custom_attrs={"data-status": m.invitation_status},
        ),
    )


def message_bubble(
    m: MessageLine, *, invitation_action: Callable[[MessageLine], rx.Component] | None = None, extra=None
) -> rx.Component:
    """One message: this side's own on the right (with "Delivered" or "Read 14:32" under it), the
    other side's on the left."""
    return rx.flex(
        rx.box(
            rx.vstack(
                rx.hstack(
                    rx.text(m.author, size="1", weight="bold"),
                    rx.text(m.when, size="1", color_scheme="gray"),
                    spacing="2",
                    align="baseline",
                ),
                rx.cond(
                    m.body != "", rx.text(m.body, size="2", white_space="pre-wrap", overflow_wrap="anywhere")
                ),
                rx.foreach(m.files, file_chip),
                invitation_box(m, invitation_action(m) if invitation_action else None),
                rx.hstack(
                    rx.cond(
                        m.receipt != "",
                        rx.hstack(
                            rx.icon(rx.cond(m.read, "check-check", "check"), size=12),
                            rx.text(m.receipt, size="1"),
                            spacing="1",
                            align="center",
                            color=rx.cond(m.read, rx.color("teal", 11), rx.color("gray", 10)),
                            data_testid="message-receipt",
                        ),
                    ),
                    rx.spacer(),
                    extra(m) if extra else rx.fragment(),
                    width="100%",
                    align="center",
                ),
                spacing="1",
                width="100%",
            ),
            padding="0.6rem 0.8rem",
            border_radius="var(--radius-4)",
            background=rx.cond(m.mine, rx.color("accent", 3), rx.color("gray", 3)),
            max_width="85%",
            min_width="12rem",
        ),
        justify=rx.cond(m.mine, "end", "start"),
        width="100%",
        data_testid="message",
        custom_attrs={"data-mine": rx.cond(m.mine, "yes", "no"), "data-message-id": m.id},
    )


def thread_subject(subject, unread, size: str) -> rx.Component:
    """A conversation's subject in a list: bold while it has unread messages."""
    return rx.text(subject, weight=rx.cond(unread > 0, "bold", "medium"), size=size, overflow_wrap="anywhere")


def unread_badge(unread, test_id: str) -> rx.Component:
    """ "3 new" beside a conversation with unread messages."""
    return rx.cond(unread > 0, rx.badge(unread.to_string(), " new", color_scheme="red", data_testid=test_id))


def body_value(element_id: str) -> rx.Var:
    """The text of a text box as it is when the button is pressed, sent with the upload (a file
    upload does not wait for earlier events, so the text travels with it)."""
    return rx.Var(_js_expr=f"(document.getElementById('{element_id}')?.value ?? '')", _var_type=str)


def file_picker(upload_id: str, test_id: str) -> rx.Component:
    return rx.hstack(
        rx.upload(
            rx.button(
                rx.icon("paperclip", size=14), "Attach a file", variant="soft", size="2", type="button"
            ),
            id=upload_id,
            accept=ACCEPT,
            max_files=1,
            multiple=False,
            max_size=MAX_DOCUMENT_BYTES,
            on_drop_rejected=upload_rejected(
                f"The file is larger than {MAX_FILE_MB} MB.", "Attach one PDF, PNG or JPEG file."
            ),
            no_drag=False,
            border="none",
            padding="0",
            data_testid=test_id,
        ),
        rx.foreach(
            rx.selected_files(upload_id),
            lambda f: rx.badge(rx.icon("file", size=12), f, variant="soft", data_testid="selected-file"),
        ),
        align="center",
        spacing="2",
        wrap="wrap",
    )


def body_box(element_id: str, placeholder: str, rows: str = "3") -> rx.Component:
    return rx.text_area(
        id=element_id,
        placeholder=placeholder,
        max_length=BODY_MAX,
        rows=rows,
        width="100%",
        data_testid=element_id,
    )


FILE_HINT = f"PDF, PNG or JPEG, at most {MAX_FILE_MB} MB."


def send_button(on_click, *, loading, test_id: str) -> rx.Component:
    """The Send button: ``on_click`` sends the chosen file with the texts (see ``body_value``)."""
    return rx.button(
        rx.icon("send", size=14),
        "Send",
        type="button",
        loading=loading,
        on_click=on_click,
        data_testid=test_id,
    )


def attach_and_send(upload_id: str, file_test_id: str, send: rx.Component) -> rx.Component:
    """The file picker on the left, the Send button on the right."""
    return rx.flex(
        file_picker(upload_id, file_test_id),
        rx.spacer(),
        send,
        width="100%",
        align="center",
        wrap="wrap",
        spacing="2",
    )
