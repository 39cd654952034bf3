"""The chart's dialogs, each bound to the state of the tab it writes for (its open dialog, its refusal)."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.chart.common import icon_text, muted
from hms_app.state.chart.dialogs import ChartDialogs
from hms_app.state.chart.page import ChartState

Dialogs = type[ChartDialogs]  # the state of a tab with dialogs


def field_error(state: Dialogs, name: str) -> rx.Component:
    return rx.cond(
        state.error_field == name,
        icon_text(
            "circle-alert",
            state.error_text,
            color=rx.color("red", 11),
            align="start",
            data_testid="error-" + name,
        ),
    )


def general_error(state: Dialogs) -> rx.Component:
    return rx.cond(
        (state.error_text != "") & (state.error_field == ""),
        rx.callout(
            state.error_text,
            icon="triangle-alert",
            color_scheme="red",
            size="1",
            width="100%",
            data_testid="dialog-error",
        ),
    )


def labelled(state: Dialogs, label: str, control: rx.Component, name: str, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label"),
        control,
        muted(hint) if hint else rx.fragment(),
        field_error(state, name),
        spacing="1",
        width="100%",
        align="start",
    )


def buttons(state: Dialogs, label: str) -> rx.Component:
    return rx.flex(
        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
        rx.button(label, type="submit", loading=state.saving, data_testid="dialog-submit"),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def form_dialog(
    state: Dialogs, name: str, title: str, description, submit, label: str, *fields, max_width: str = "32rem"
) -> rx.Component:
    """``state``'s dialog ``name``: a form of ``fields`` sent to ``submit``, its refusal above the buttons."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            rx.form(
                rx.vstack(*fields, general_error(state), buttons(state, label), spacing="3", width="100%"),
                on_submit=submit,
                reset_on_submit=False,
            ),
            max_width=max_width,
            data_testid="dialog-" + name,
        ),
        open=state.dialog == name,
        on_open_change=ChartState.on_dialog_change,
    )


def date_input(name: str, **props) -> rx.Component:
    return rx.input(name=name, type="date", width="100%", **props)


def simple_select(name: str, options, default: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%"),
        rx.select.content(*[rx.select.item(label, value=value) for value, label in options]),
        name=name,
        default_value=default,
    )
