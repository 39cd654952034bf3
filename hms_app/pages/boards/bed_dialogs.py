"""The bed board's dialogs: admit, transfer, discharge, out of service."""

from __future__ import annotations

import reflex as rx

from hms_app.state.boards.bed_board import BedBoardState


def error_line(message: rx.Var, test_id: str) -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=12, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="1"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id,
    )


def dialog_error(name: str = "") -> rx.Component:
    condition = (BedBoardState.dialog_error != "") & (BedBoardState.dialog_error_field == name)
    return rx.cond(
        condition, error_line(BedBoardState.dialog_error, "dialog-error" + ("-" + name if name else ""))
    )


def dialog_buttons(label: str, color: str | None = None) -> rx.Component:
    return rx.flex(
        rx.button(
            "Cancel", type="button", variant="soft", color_scheme="gray", on_click=BedBoardState.close_dialog
        ),
        rx.button(
            label,
            type="submit",
            loading=BedBoardState.saving,
            data_testid="dialog-submit",
            **({"color_scheme": color} if color else {}),
        ),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def text_box(name: str, label: str, placeholder: str, required: bool = True) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.text_area(
            name=name,
            required=required,
            max_length=300,
            placeholder=placeholder,
            width="100%",
            data_testid="dialog-" + name,
        ),
        dialog_error(name),
        spacing="1",
        width="100%",
    )


def bed_dialog(name: str, title, description, *body: rx.Component, on_submit) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="0.75rem"),
            rx.form(
                rx.vstack(*body, dialog_error(), spacing="3", width="100%"),
                on_submit=on_submit,
                reset_on_submit=False,
            ),
            max_width="30rem",
            data_testid="dialog-" + name,
        ),
        open=BedBoardState.dialog == name,
        on_open_change=BedBoardState.on_dialog_change,
    )


def admit_dialog() -> rx.Component:
    return bed_dialog(
        "admit",
        "Admit a patient",
        rx.text("To ", rx.text.strong(BedBoardState.dialog_bed), ". The bed is held the moment you admit."),
        rx.vstack(
            rx.text("Patient", size="2", weight="medium"),
            rx.cond(
                BedBoardState.chosen_patient != "",
                rx.hstack(
                    rx.badge(
                        rx.icon("user-round", size=12),
                        BedBoardState.chosen_patient,
                        size="2",
                        data_testid="admit-chosen",
                    ),
                    rx.button(
                        "Change",
                        type="button",
                        size="1",
                        variant="ghost",
                        on_click=BedBoardState.clear_chosen_patient,
                    ),
                    align="center",
                ),
                rx.vstack(
                    rx.input(
                        rx.input.slot(rx.icon("search", size=14)),
                        placeholder="Name, MRN, phone or date of birth",
                        on_change=BedBoardState.search_admit_patient,
                        debounce_timeout=300,
                        max_length=100,
                        width="100%",
                        data_testid="admit-search",
                    ),
                    rx.foreach(
                        BedBoardState.patient_options,
                        lambda o: rx.button(
                            rx.text(o.name, weight="medium"),
                            rx.text(o.mrn + " · born " + o.birth_date, size="1", color_scheme="gray"),
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            width="100%",
                            justify_content="flex-start",
                            on_click=BedBoardState.choose_patient(o.id),
                            data_testid="admit-option",
                        ),
                    ),
                    rx.cond(
                        (BedBoardState.patient_query.length() >= 2)
                        & (BedBoardState.patient_options.length() == 0),
                        rx.text("No patient found.", size="1", color_scheme="gray"),
                    ),
                    spacing="1",
                    width="100%",
                ),
            ),
            dialog_error("patient"),
            spacing="1",
            width="100%",
        ),
        text_box("reason", "Reason for admission", "e.g. Community-acquired pneumonia"),
        dialog_buttons("Admit"),
        on_submit=BedBoardState.submit_admit,
    )


def transfer_dialog() -> rx.Component:
    return bed_dialog(
        "transfer",
        "Transfer a patient",
        rx.text(
            rx.text.strong(BedBoardState.dialog_patient),
            " from ",
            BedBoardState.dialog_bed,
            ". The old bed goes to cleaning.",
        ),
        rx.vstack(
            rx.text("To bed", size="2", weight="medium"),
            rx.cond(
                BedBoardState.bed_options.length() > 0,
                rx.select.root(
                    rx.select.trigger(
                        placeholder="Choose a free bed", width="100%", data_testid="transfer-bed"
                    ),
                    rx.select.content(
                        rx.foreach(BedBoardState.bed_options, lambda o: rx.select.item(o.label, value=o.id)),
                    ),
                    name="bed_id",
                ),
                rx.text("No bed is free on any ward.", size="2", color_scheme="red"),
            ),
            dialog_error("bed_id"),
            spacing="1",
            width="100%",
        ),
        text_box("reason", "Reason (optional)", "e.g. Stepped down from intensive care", required=False),
        dialog_buttons("Transfer"),
        on_submit=BedBoardState.submit_transfer,
    )


def discharge_dialog() -> rx.Component:
    return bed_dialog(
        "discharge",
        "Discharge a patient",
        rx.text(
            rx.text.strong(BedBoardState.dialog_patient),
            " from ",
            BedBoardState.dialog_bed,
            ". The bed goes to cleaning.",
        ),
        rx.vstack(
            rx.text("Discharged to", size="2", weight="medium"),
            rx.select.root(
                rx.select.trigger(width="100%", data_testid="discharge-disposition"),
                rx.select.content(
                    rx.foreach(
                        BedBoardState.disposition_options, lambda o: rx.select.item(o.label, value=o.code)
                    ),
                ),
                name="disposition",
                default_value="home",
            ),
            dialog_error("disposition"),
            spacing="1",
            width="100%",
        ),
        text_box("note", "Note (optional)", "e.g. Follow-up in clinic in two weeks", required=False),
        dialog_buttons("Discharge", "orange"),
        on_submit=BedBoardState.submit_discharge,
    )


def out_of_service_dialog() -> rx.Component:
    return bed_dialog(
        "out_of_service",
        "Take a bed out of service",
        rx.text(
            rx.text.strong(BedBoardState.dialog_bed), " will not be offered for admissions until it is back."
        ),
        text_box("reason", "Why", "e.g. Broken bed motor, engineer booked"),
        dialog_buttons("Take out of service", "gray"),
        on_submit=BedBoardState.submit_out_of_service,
    )
