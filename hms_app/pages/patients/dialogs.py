"""The details page's dialogs: shared frame, reason field and buttons, and the status dialog."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.patients.common import error_line, form_label
from hms_app.state.patients.details import PatientDetailsState


def dialog_error(name: str = "") -> rx.Component:
    """A dialog's error next to its field (``name``), or above the buttons when it names none."""
    condition = (PatientDetailsState.dialog_error != "") & (PatientDetailsState.dialog_error_field == name)
    return rx.cond(
        condition, error_line(PatientDetailsState.dialog_error, "dialog-error" + ("-" + name if name else ""))
    )


def reason_field(placeholder: str) -> rx.Component:
    return rx.vstack(
        form_label("Reason", "dialog-reason"),
        rx.text_area(
            name="reason",
            id="dialog-reason",
            required=True,
            max_length=300,
            width="100%",
            placeholder=placeholder,
            data_testid="dialog-reason",
        ),
        dialog_error("reason"),
        spacing="1",
        width="100%",
    )


def dialog_buttons(label: str, color=None) -> rx.Component:
    return rx.flex(
        rx.button(
            "Cancel",
            type="button",
            variant="soft",
            color_scheme="gray",
            on_click=PatientDetailsState.close_dialog,
        ),
        rx.button(
            label,
            type="submit",
            loading=PatientDetailsState.saving,
            data_testid="dialog-submit",
            **({"color_scheme": color} if color is not None else {}),
        ),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def details_dialog(
    name: str, title, description, body: rx.Component, max_width: str = "32rem"
) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            body,
            max_width=max_width,
            data_testid="dialog-" + name,
        ),
        open=PatientDetailsState.dialog == name,
        on_open_change=PatientDetailsState.on_dialog_change,
    )


def status_dialog() -> rx.Component:
    return details_dialog(
        "status",
        rx.match(
            PatientDetailsState.status_choice,
            ("deceased", "Record a death"),
            ("active", "Mark the record active"),
            "Mark the record inactive",
        ),
        rx.text("The change and its reason are kept in the record's history and the audit trail."),
        rx.form(
            rx.vstack(
                rx.cond(
                    PatientDetailsState.status_choice == "deceased",
                    rx.vstack(
                        form_label("Date of death", "deceased_on"),
                        rx.input(
                            type="date", name="deceased_on", id="deceased_on", required=True, width="100%"
                        ),
                        dialog_error("deceased_on"),
                        spacing="1",
                        width="100%",
                    ),
                ),
                reason_field("e.g. death certificate received, moved abroad"),
                dialog_error(),
                dialog_buttons(
                    "Save status", rx.cond(PatientDetailsState.status_choice == "deceased", "red", "teal")
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=PatientDetailsState.submit_status,
            reset_on_submit=False,
        ),
    )
