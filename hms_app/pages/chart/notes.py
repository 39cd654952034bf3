"""The chosen encounter's SOAP notes: a card per note, the editor, and the sign dialog."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.chart.common import icon_text, muted, status_badge, write_only
from hms_app.pages.chart.dialogs import general_error
from hms_app.state.chart.encounters import MAX_NOTE_TEXT, ChartEncountersState, NoteLine
from hms_app.state.chart.page import ChartState

SOAP_LABELS = (
    ("subjective", "Subjective", "What the patient reports"),
    ("objective", "Objective", "Examination and measurements"),
    ("assessment", "Assessment", "Diagnosis or impression"),
    ("plan", "Plan", "Treatment, orders, follow-up"),
)


def soap_section(label: str, text: rx.Var) -> rx.Component:
    return rx.cond(
        text != "",
        rx.vstack(
            rx.text(label, size="1", weight="bold", color_scheme="gray", text_transform="uppercase"),
            rx.text(text, size="2", white_space="pre-wrap"),
            spacing="0",
            width="100%",
            align="start",
        ),
    )


def note_card(n: NoteLine) -> rx.Component:
    amended = n.amended_by_id > 0
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("Note #", n.id.to_string(), weight="bold", size="2"),
                status_badge(n.status),
                rx.cond(
                    n.amends_id > 0,
                    rx.badge(
                        "Amends note #",
                        n.amends_id.to_string(),
                        color_scheme="violet",
                        variant="soft",
                        data_testid="amends-badge",
                    ),
                ),
                rx.cond(
                    amended,
                    rx.badge(
                        "Amended by note #",
                        n.amended_by_id.to_string(),
                        color_scheme="orange",
                        variant="soft",
                        data_testid="amended-by-badge",
                    ),
                ),
                rx.spacer(),
                muted(n.author, " · ", n.created),
                align="center",
                spacing="2",
                wrap="wrap",
                width="100%",
            ),
            *[soap_section(label, getattr(n, key)) for key, label, _hint in SOAP_LABELS],
            rx.cond(
                n.status == "signed",
                icon_text(
                    "lock",
                    "Signed by ",
                    n.signed_by,
                    " on ",
                    n.signed_at,
                    color=rx.color("green", 11),
                    data_testid="signed-line",
                ),
            ),
            write_only(
                rx.hstack(
                    rx.cond(
                        n.status == "draft",
                        rx.fragment(
                            rx.button(
                                rx.icon("pencil", size=14),
                                "Edit",
                                size="1",
                                variant="soft",
                                on_click=ChartEncountersState.edit_note(n.id),
                                data_testid="edit-note-" + n.id.to_string(),
                            ),
                            rx.button(
                                rx.icon("pen-line", size=14),
                                "Sign",
                                size="1",
                                on_click=ChartEncountersState.ask_sign(n.id),
                                data_testid="sign-note-" + n.id.to_string(),
                            ),
                        ),
                    ),
                    rx.cond(
                        (n.status == "signed") & ~amended,
                        rx.button(
                            rx.icon("file-pen", size=14),
                            "Amend",
                            size="1",
                            variant="soft",
                            color_scheme="orange",
                            on_click=ChartEncountersState.amend(n.id),
                            data_testid="amend-note-" + n.id.to_string(),
                        ),
                    ),
                    spacing="2",
                )
            ),
            spacing="2",
            width="100%",
            align="start",
        ),
        width="100%",
        # An amended original is kept and shown, greyed a little: the amendment is what stands.
        opacity=rx.cond(amended, "0.75", "1"),
        data_testid="note-" + n.id.to_string(),
    )


def note_editor() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.hstack(
                    rx.heading(
                        rx.cond(
                            ChartEncountersState.editor_note_id > 0,
                            "Draft note #" + ChartEncountersState.editor_note_id.to_string(),
                            "New note",
                        ),
                        size="3",
                    ),
                    rx.cond(
                        ChartEncountersState.editor_amends > 0,
                        rx.badge(
                            "Amends note #",
                            ChartEncountersState.editor_amends.to_string(),
                            color_scheme="violet",
                            variant="soft",
                        ),
                    ),
                    align="center",
                    spacing="2",
                ),
                rx.grid(
                    *[
                        rx.vstack(
                            rx.text(label, size="2", weight="medium", as_="label", html_for="soap-" + key),
                            rx.text_area(
                                name=key,
                                id="soap-" + key,
                                default_value=ChartEncountersState.editor_texts[key],
                                placeholder=hint,
                                rows="4",
                                resize="vertical",
                                width="100%",
                                max_length=MAX_NOTE_TEXT,
                                data_testid="soap-" + key,
                            ),
                            spacing="1",
                            width="100%",
                        )
                        for key, label, hint in SOAP_LABELS
                    ],
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="3",
                    width="100%",
                ),
                rx.hstack(
                    muted("Saving keeps a draft you can still change. Signing locks the note."),
                    rx.spacer(),
                    rx.button(
                        "Cancel",
                        type="button",
                        variant="soft",
                        color_scheme="gray",
                        on_click=ChartEncountersState.close_editor,
                    ),
                    rx.button(rx.icon("save", size=14), "Save draft", type="submit", data_testid="save-note"),
                    align="center",
                    width="100%",
                    wrap="wrap",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=ChartEncountersState.save_note,
            reset_on_submit=False,
            key=ChartEncountersState.editor_key,
            width="100%",
        ),
        width="100%",
        border=f"1px solid {rx.color('accent', 7)}",
        data_testid="note-editor",
    )


def sign_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Sign ", ChartEncountersState.dialog_subject, "?"),
            rx.alert_dialog.description(
                "A signed note is locked: nobody can change it. Corrections are made as an amendment, and the "
                "original stays visible.",
                size="2",
            ),
            rx.box(general_error(ChartEncountersState), padding_top="0.75rem"),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    rx.icon("pen-line", size=14),
                    "Sign and lock",
                    loading=ChartEncountersState.saving,
                    on_click=ChartEncountersState.confirm_sign,
                    data_testid="confirm-sign",
                ),
                spacing="3",
                justify="end",
                padding_top="1rem",
            ),
            max_width="30rem",
        ),
        open=ChartEncountersState.dialog == "sign",
        on_open_change=ChartState.on_dialog_change,
    )
