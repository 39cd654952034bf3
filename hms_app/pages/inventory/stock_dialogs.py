"""The store screen's dialogs: transfer to another store, adjust a lot with the reason, write off an
expired lot. Each message shows under the field it concerns, or above the buttons."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.inventory.stock_ui import (
    choice_select,
    dialog,
    dialog_buttons,
    field_error,
    form_error,
    labelled,
)
from hms_app.state.inventory.stock_moves import StockMovesState as S


def _error(name: str) -> rx.Component:
    return field_error(S.error_field, S.error_text, name)


def _general_error() -> rx.Component:
    return form_error(rx.cond(S.error_field == "", S.error_text, ""))


def _reason(placeholder: str, required: bool) -> rx.Component:
    return labelled(
        "Reason" if required else "Reason (optional)",
        rx.text_area(
            name="reason",
            required=required,
            max_length=300,
            placeholder=placeholder,
            width="100%",
            data_testid="reason",
        ),
        _error("reason"),
    )


def _quantity(name: str, label: str, hint: str = "", minimum: int | None = 1) -> rx.Component:
    return labelled(
        label,
        rx.input(
            name=name,
            required=True,
            inputmode="numeric",
            max_length=9,
            width="10rem",
            data_testid="dialog-" + name,
            **({"type": "number", "min": minimum} if minimum is not None else {}),
        ),
        _error(name),
        hint=hint,
    )


def transfer_dialog() -> rx.Component:
    return dialog(
        "Transfer to another store",
        rx.text(
            rx.text.strong(S.dialog_item),
            " leaves ",
            S.store_name,
            " and arrives at once in the store you choose.",
        ),
        rx.form(
            rx.vstack(
                labelled(
                    "To store",
                    choice_select("to_location_id", S.store_choices, "", "transfer-store", "Choose a store"),
                    _error("to_location_id"),
                ),
                labelled(
                    "Lot", choice_select("lot_id", S.lot_choices, "fifo", "transfer-lot"), _error("lot_id")
                ),
                _quantity("quantity", "Quantity", hint="In " + S.dialog_unit),
                _reason("e.g. Ward 3 ran short overnight", required=False),
                _general_error(),
                dialog_buttons("Transfer", S.close_dialog, S.saving),
                spacing="3",
                width="100%",
            ),
            on_submit=S.submit_transfer,
            reset_on_submit=False,
        ),
        S.dialog == "transfer",
        S.on_dialog_change,
        "transfer",
    )


def adjust_dialog() -> rx.Component:
    return dialog(
        "Adjust the stock",
        rx.text(
            rx.text.strong(S.dialog_item),
            " at ",
            S.store_name,
            ": a plus for stock found, a minus for stock broken, lost or miscounted.",
        ),
        rx.form(
            rx.vstack(
                labelled(
                    "Lot",
                    choice_select("lot_id", S.lot_choices, S.default_lot, "adjust-lot", "Choose the lot"),
                    _error("lot_id"),
                ),
                _quantity("change", "Change", hint="e.g. -2 or 5, in " + S.dialog_unit, minimum=None),
                _reason("e.g. Two vials broken in transport", required=True),
                _general_error(),
                dialog_buttons("Record adjustment", S.close_dialog, S.saving),
                spacing="3",
                width="100%",
            ),
            on_submit=S.submit_adjust,
            reset_on_submit=False,
        ),
        S.dialog == "adjust",
        S.on_dialog_change,
        "adjust",
    )


def write_off_dialog() -> rx.Component:
    return dialog(
        "Write off an expired lot",
        rx.text(
            "All of ",
            rx.text.strong(S.write_off_lot),
            " of ",
            S.dialog_item,
            " leaves ",
            S.store_name,
            " for disposal.",
        ),
        rx.form(
            rx.vstack(
                _reason("e.g. Sent for pharmaceutical waste", required=False),
                _general_error(),
                dialog_buttons("Write off", S.close_dialog, S.saving, color="red"),
                spacing="3",
                width="100%",
            ),
            on_submit=S.submit_write_off,
            reset_on_submit=False,
        ),
        S.dialog == "write_off",
        S.on_dialog_change,
        "write-off",
    )
